/* redis_int.h - what the single-node (publish.c) and the cluster (rcluster.c)
 * Redis clients share; not part of the public headers. */
#ifndef OQ_REDIS_INT_H
#define OQ_REDIS_INT_H

#include <stddef.h>

/* The userinfo of a Redis URL, h[0..at): "user:password", ":password" or
 * "user" (no password), each %XX-decoded (a password may hold ':' '@' '/'
 * written as %3A %40 %2F) into user / pass. -1 if a part does not fit or
 * an escape is malformed (or %00). */
int oq_redis_userinfo(const char *h, const char *at, char *user, size_t ulen, char *pass,
                      size_t plen);

#endif
