/* comm.h - the parts of a partitioned job and the few collectives they use.
 *
 * A job that runs in parts (`offerq run --shards N`, or `mpirun -np N
 * offerq run`, docs/readme/mpi.md) gives every part the customers of one
 * hash shard of user_id (oq_shard_of) and the same code; the parts agree on
 * global quantities through an oq_comm. Two implementations share this
 * interface: threads of one process (oq_comm_threads_run, here) and the
 * ranks of an MPI job (src/cli/mpi_comm.c, built with OQ_MPI=ON).
 *
 * Determinism: a sum over parts is formed by gathering every part's partial
 * and adding them in rank order (oq_comm_sum), never by a reduction whose
 * order the transport chooses, so the result is the same bit for bit with
 * threads or with ranks, for a given number of parts. With one part every
 * helper is the identity: the job is the one-process job, bit for bit.
 *
 * Failure: a part that fails calls oq_comm_fail. With threads the other
 * parts' collectives then return OQ_EABORT (and they unwind); with MPI the
 * implementation reports the error and aborts the job (MPI_Abort), so no
 * part waits for ever and the run fails with a non-zero exit.
 *
 * A NULL oq_comm * means one part: every helper accepts it.
 */
#ifndef OFFERQ_COMM_H
#define OFFERQ_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

typedef struct oq_comm oq_comm;

struct oq_comm {
    int rank, size; /* this part, and the number of parts (1..OQ_COMM_MAX) */
    /* Every part gives n bytes (the same n everywhere); out (size x n bytes)
     * receives them in rank order. Collective. 0 or a negative OQ_E*. */
    int (*allgather)(oq_comm *c, const void *in, size_t n, void *out, oq_error *err);
    /* Every part gives its own n bytes; on part root (every part when root
     * < 0) *out (malloc'ed, the caller frees) receives them all in rank
     * order and counts (size) their sizes; elsewhere *out is NULL. */
    int (*gatherv)(oq_comm *c, int root, const void *in, size_t n, void **out, size_t *counts,
                   oq_error *err);
    /* This part failed with rc (err says why): release the others. */
    void (*fail)(oq_comm *c, int rc, const oq_error *err);
    void *ctx;
    int solo_threads;    /* OpenMP threads one part may use while the others wait for it
                            (a fit on part 0): the process's with threads, whose waiting
                            parts sleep; 0 (MPI: each rank has its own) = unchanged */
    uint64_t bytes_sent; /* bytes this part gave to collectives (benchmarks) */
    uint64_t calls;      /* collectives this part took part in */
};

#define OQ_COMM_MAX 64

/* The part that owns customer u among n parts: splitmix64 of u modulo n
 * (the same split as oq_dynaq_train_sharded). n = 1: 0. */
unsigned oq_shard_of(int64_t u, int n);
/* The same for a user id given as text (a shop's raw tables, tables.h): an
 * id that is a canonical decimal integer ("42", "-7"; not "042", "+42")
 * is that integer's shard, so the seed's numeric ids land where
 * oq_shard_of puts them; any other id goes to oq_user_hash(s, 0) mod n. */
unsigned oq_shard_of_id(const char *s, int n);

/* Which rows a reader keeps: those of customers with oq_shard_of(u, size)
 * == rank. size <= 1 (or a NULL filter) keeps every row. */
typedef struct oq_part {
    int rank, size;
} oq_part;
static inline int oq_part_keeps(const oq_part *p, int64_t u)
{
    return !p || p->size <= 1 || oq_shard_of(u, p->size) == (unsigned)p->rank;
}
/* The filter of a comm's part (NULL comm: keep all). */
oq_part oq_comm_part(const oq_comm *c);
/* The customers a part keeps among n numbered 0..n-1 (user_id = index +
 * 1, as in a generated log): *idx (malloc'ed, the caller frees) their
 * indices, ascending, *m their number. OQ_ENOMEM. */
int oq_part_indices(const oq_part *p, size_t n, size_t **idx, size_t *m, oq_error *err) OQ_WUR;
/* The place of v in idx (m, ascending), or -1. */
long oq_index_find(const size_t *idx, size_t m, size_t v);

static inline int oq_comm_rank(const oq_comm *c)
{
    return c ? c->rank : 0;
}
static inline int oq_comm_size(const oq_comm *c)
{
    return c ? c->size : 1;
}

/* buf (n) <- the sum over parts of every part's buf, added in rank order
 * (part 0's value, + part 1's, ...). One part: unchanged. */
int oq_comm_sum(oq_comm *c, double *buf, size_t n, oq_error *err) OQ_WUR;
/* Exact sums of counts. */
int oq_comm_sum_u64(oq_comm *c, uint64_t *buf, size_t n, oq_error *err) OQ_WUR;
/* Maximum / minimum over parts, element-wise. */
int oq_comm_max_i64(oq_comm *c, int64_t *buf, size_t n, oq_error *err) OQ_WUR;
int oq_comm_max(oq_comm *c, double *buf, size_t n, oq_error *err) OQ_WUR;
/* The root part's n bytes into every part's buf. */
int oq_comm_bcast(oq_comm *c, int root, void *buf, size_t n, oq_error *err) OQ_WUR;
/* Every part's n bytes, in rank order, into *out (malloc'ed, the caller
 * frees; also with one part) and counts (size, may be NULL), on every part
 * (root < 0) or on part root only (elsewhere *out is NULL). */
int oq_comm_gatherv(oq_comm *c, int root, const void *in, size_t n, void **out, size_t *counts,
                    oq_error *err) OQ_WUR;
/* A part failed (rc, err): tell the others. No-op for a NULL comm. */
void oq_comm_fail(oq_comm *c, int rc, const oq_error *err);

/* Run fn(rank, comm, arg, err) on n threads (n in 1..OQ_COMM_MAX), one
 * part each, joined by a thread comm (a part that returns non-zero is
 * failed for the others, oq_comm_fail); rcs (n, may be NULL) receives each
 * part's return code. Returns 0 when every part returned 0, else the code
 * of the part that failed first, with its error in *err (a part that
 * returned OQ_EABORT only because another failed is never chosen over it).
 * OQ_EINVAL (n), OQ_ENOMEM, OQ_EIO when a thread cannot be started. */
typedef int (*oq_comm_part_fn)(int rank, oq_comm *c, void *arg, oq_error *err);
int oq_comm_threads_run(int n, oq_comm_part_fn fn, void *const *args, int *rcs,
                        oq_error *err) OQ_WUR;

#endif
