/* comm.c - the parts of a partitioned job (comm.h): the hash split, the
 * collective helpers over any oq_comm, and the comm of threads in one
 * process (what `offerq run --shards N` runs on). */
#include "offerq/core/comm.h"
#include "offerq/core/tables.h"
#include "util/num.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

unsigned oq_shard_of(int64_t u, int n)
{
    if (n <= 1) return 0;
    uint64_t z = (uint64_t)u + 0x9e3779b97f4a7c15ULL; /* splitmix64 finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (unsigned)((z ^ (z >> 31)) % (uint64_t)n);
}

unsigned oq_shard_of_id(const char *s, int n)
{
    if (n <= 1) return 0;
    size_t len = strlen(s);
    int64_t v;
    char back[32];
    if (!oq_parse_i64(s, len, &v)) {
        snprintf(back, sizeof back, "%lld", (long long)v);
        if (!strcmp(back, s)) return oq_shard_of(v, n);
    }
    return (unsigned)(oq_user_hash(s, 0) % (uint64_t)n);
}

oq_part oq_comm_part(const oq_comm *c)
{
    oq_part p = {oq_comm_rank(c), oq_comm_size(c)};
    return p;
}

int oq_part_indices(const oq_part *p, size_t n, size_t **idx, size_t *m, oq_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)oq_part_keeps(p, (int64_t)i + 1);
    if (!(*idx = malloc((k ? k : 1) * sizeof **idx))) return oq_error_oom(err, NULL, NULL);
    *m = k;
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (oq_part_keeps(p, (int64_t)i + 1)) (*idx)[k++] = i;
    return 0;
}

long oq_index_find(const size_t *idx, size_t m, size_t v)
{
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m && idx[lo] == v ? (long)lo : -1;
}

/* ---- helpers over any comm --------------------------------------------------------- */

static int gather(oq_comm *c, const void *in, size_t n, void *out, oq_error *err)
{
    c->bytes_sent += n;
    c->calls++;
    return c->allgather(c, in, n, out, err);
}

int oq_comm_gatherv(oq_comm *c, int root, const void *in, size_t n, void **out, size_t *counts,
                    oq_error *err)
{
    *out = NULL;
    if (oq_comm_size(c) <= 1) {
        void *p = malloc(n ? n : 1);
        if (!p) return oq_error_oom(err, NULL, NULL);
        if (n) memcpy(p, in, n);
        if (counts) counts[0] = n;
        *out = p;
        return 0;
    }
    size_t cnt[OQ_COMM_MAX];
    c->bytes_sent += n;
    c->calls++;
    return c->gatherv(c, root, in, n, out, counts ? counts : cnt, err);
}

int oq_comm_sum(oq_comm *c, double *buf, size_t n, oq_error *err)
{
    if (oq_comm_size(c) <= 1 || n == 0) return 0;
    double *all = malloc((size_t)c->size * n * sizeof *all);
    if (!all) return oq_error_oom(err, NULL, "a sum over parts");
    int rc = gather(c, buf, n * sizeof *buf, all, err);
    if (!rc)
        for (size_t i = 0; i < n; i++) {
            double s = all[i];
            for (int r = 1; r < c->size; r++)
                s += all[(size_t)r * n + i];
            buf[i] = s;
        }
    free(all);
    return rc;
}

int oq_comm_sum_u64(oq_comm *c, uint64_t *buf, size_t n, oq_error *err)
{
    if (oq_comm_size(c) <= 1 || n == 0) return 0;
    uint64_t *all = malloc((size_t)c->size * n * sizeof *all);
    if (!all) return oq_error_oom(err, NULL, "a sum over parts");
    int rc = gather(c, buf, n * sizeof *buf, all, err);
    if (!rc)
        for (size_t i = 0; i < n; i++) {
            uint64_t s = 0;
            for (int r = 0; r < c->size; r++)
                s += all[(size_t)r * n + i];
            buf[i] = s;
        }
    free(all);
    return rc;
}

int oq_comm_max_i64(oq_comm *c, int64_t *buf, size_t n, oq_error *err)
{
    if (oq_comm_size(c) <= 1 || n == 0) return 0;
    int64_t *all = malloc((size_t)c->size * n * sizeof *all);
    if (!all) return oq_error_oom(err, NULL, "a maximum over parts");
    int rc = gather(c, buf, n * sizeof *buf, all, err);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            for (int r = 0; r < c->size; r++)
                if (all[(size_t)r * n + i] > buf[i]) buf[i] = all[(size_t)r * n + i];
    free(all);
    return rc;
}

int oq_comm_max(oq_comm *c, double *buf, size_t n, oq_error *err)
{
    if (oq_comm_size(c) <= 1 || n == 0) return 0;
    double *all = malloc((size_t)c->size * n * sizeof *all);
    if (!all) return oq_error_oom(err, NULL, "a maximum over parts");
    int rc = gather(c, buf, n * sizeof *buf, all, err);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            for (int r = 0; r < c->size; r++)
                if (all[(size_t)r * n + i] > buf[i]) buf[i] = all[(size_t)r * n + i];
    free(all);
    return rc;
}

int oq_comm_bcast(oq_comm *c, int root, void *buf, size_t n, oq_error *err)
{
    if (oq_comm_size(c) <= 1 || n == 0) return 0;
    void *all = NULL;
    size_t counts[OQ_COMM_MAX];
    int rc = oq_comm_gatherv(c, -1, buf, c->rank == root ? n : 0, &all, counts, err);
    if (!rc && counts[root] != n)
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "broadcast: part %d gave %zu bytes, not %zu",
                          root, counts[root], n);
    if (!rc && c->rank != root) {
        size_t off = 0;
        for (int r = 0; r < root; r++)
            off += counts[r];
        memcpy(buf, (char *)all + off, n);
    }
    free(all);
    return rc;
}

void oq_comm_fail(oq_comm *c, int rc, const oq_error *err)
{
    if (c && c->fail) c->fail(c, rc, err);
}

/* ---- the comm of threads ------------------------------------------------------------- */

/* What the parts of one process share. A collective is two barriers: the
 * parts post their buffers, wait for all, copy what they need, and wait
 * again so that no buffer is released while another part reads it. The
 * first barrier gives up when a part has failed (oq_comm_fail); the second
 * never does: every part that passed the first reaches it (only copies lie
 * between). */
typedef struct tshared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, arrived;
    uint64_t gen;
    int aborted, failed_rank, failed_rc;
    oq_error failed_err;
    const void *in[OQ_COMM_MAX];
    size_t len[OQ_COMM_MAX];
} tshared;

static int tbarrier(tshared *s, int may_abort)
{
    pthread_mutex_lock(&s->mu);
    if (may_abort && s->aborted) {
        pthread_mutex_unlock(&s->mu);
        return OQ_EABORT;
    }
    uint64_t g = s->gen;
    if (++s->arrived == s->n) {
        s->arrived = 0;
        s->gen++;
        pthread_cond_broadcast(&s->cv);
    } else {
        while (g == s->gen && !(may_abort && s->aborted))
            pthread_cond_wait(&s->cv, &s->mu);
    }
    int rc = g == s->gen ? OQ_EABORT : 0; /* released by a failure, not by the others */
    if (rc) s->arrived--;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int abort_err(oq_error *err)
{
    return oq_error_set(err, OQ_EABORT, NULL, 0, 0, "another part of the job failed");
}

static int t_allgather(oq_comm *c, const void *in, size_t n, void *out, oq_error *err)
{
    tshared *s = c->ctx;
    s->in[c->rank] = in;
    s->len[c->rank] = n;
    if (tbarrier(s, 1)) return abort_err(err);
    int bad = 0;
    for (int r = 0; r < s->n; r++) {
        if (s->len[r] != n) {
            bad = 1;
            continue;
        }
        if (n) memcpy((char *)out + (size_t)r * n, s->in[r], n);
    }
    (void)tbarrier(s, 0);
    return bad ? oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "parts gave different sizes to a gather")
               : 0;
}

static int t_gatherv(oq_comm *c, int root, const void *in, size_t n, void **out, size_t *counts,
                     oq_error *err)
{
    tshared *s = c->ctx;
    *out = NULL;
    s->in[c->rank] = in;
    s->len[c->rank] = n;
    if (tbarrier(s, 1)) return abort_err(err);
    size_t total = 0;
    for (int r = 0; r < s->n; r++) {
        counts[r] = s->len[r];
        total += s->len[r];
    }
    int want = root < 0 || root == c->rank;
    char *p = want ? malloc(total ? total : 1) : NULL;
    if (p) {
        size_t off = 0;
        for (int r = 0; r < s->n; r++) {
            if (s->len[r]) memcpy(p + off, s->in[r], s->len[r]);
            off += s->len[r];
        }
    }
    (void)tbarrier(s, 0);
    if (want && !p) return oq_error_oom(err, NULL, "a gather");
    *out = p;
    return 0;
}

static void t_fail(oq_comm *c, int rc, const oq_error *err)
{
    tshared *s = c->ctx;
    pthread_mutex_lock(&s->mu);
    /* The first real failure is the one to report (OQ_EABORT only follows). */
    if (rc != OQ_EABORT && (!s->aborted || s->failed_rc == OQ_EABORT)) {
        s->failed_rank = c->rank;
        s->failed_rc = rc;
        if (err) s->failed_err = *err;
    } else if (!s->aborted) {
        s->failed_rank = c->rank;
        s->failed_rc = rc;
    }
    s->aborted = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

typedef struct tpart {
    oq_comm comm;
    oq_comm_part_fn fn;
    void *arg;
    int rc;
    oq_error err;
} tpart;

static void *tpart_main(void *p)
{
    tpart *t = p;
#ifdef _OPENMP
    /* The parts share the cores: each gets its share of OpenMP threads
     * (results do not depend on the thread count). */
    int th = omp_get_max_threads() / t->comm.size;
    omp_set_num_threads(th > 0 ? th : 1);
#endif
    t->rc = t->fn(t->comm.rank, &t->comm, t->arg, &t->err);
    if (t->rc) t_fail(&t->comm, t->rc, &t->err); /* release the others */
    return NULL;
}

int oq_comm_threads_run(int n, oq_comm_part_fn fn, void *const *args, int *rcs, oq_error *err)
{
    if (n < 1 || n > OQ_COMM_MAX)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "parts must be in 1..%d", OQ_COMM_MAX);
    tshared s = {.n = n, .failed_rank = -1};
    tpart *t = calloc((size_t)n, sizeof *t);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!t || !th) {
        free(t);
        free(th);
        return oq_error_oom(err, NULL, NULL);
    }
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    int started = 0, rc = 0, solo = 0;
#ifdef _OPENMP
    solo = omp_get_max_threads();
#endif
    for (int r = 0; r < n; r++) {
        t[r].comm = (oq_comm){.rank = r,
                              .size = n,
                              .allgather = t_allgather,
                              .gatherv = t_gatherv,
                              .fail = t_fail,
                              .solo_threads = solo,
                              .ctx = &s};
        t[r].fn = fn;
        t[r].arg = args[r];
    }
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, tpart_main, &t[started])) {
            rc = oq_error_set(err, OQ_EIO, NULL, 0, 0, "cannot start the thread of part %d",
                              started);
            oq_error e = {0};
            abort_err(&e);
            t_fail(&t[0].comm, OQ_EABORT, &e);
            break;
        }
    for (int r = 0; r < started; r++)
        pthread_join(th[r], NULL);
    for (int r = 0; r < n; r++) {
        if (rcs) rcs[r] = r < started ? t[r].rc : OQ_EABORT;
    }
    if (!rc && s.aborted) {
        rc = s.failed_rc ? s.failed_rc : OQ_EABORT;
        if (err) *err = s.failed_err;
        if (rc == OQ_EABORT) abort_err(err);
    }
    if (!rc)
        for (int r = 0; r < started && !rc; r++)
            if (t[r].rc) rc = t[r].rc; /* failed without telling (a bug): still a failure */
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    free(t);
    free(th);
    return rc;
}
