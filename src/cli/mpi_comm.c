/* mpi_comm.c - the comm of an MPI job's ranks (mpi_comm.h). Without
 * OQ_MPI only cli_mpi_launched (0) is built. */
#include "cli/mpi_comm.h"
#include "cli/cli.h"

#include <stdlib.h>

#ifndef OQ_MPI

int cli_mpi_launched(void)
{
    return 0;
}

int cli_mpi_start(int *argc, char ***argv, oq_comm *c)
{
    (void)argc, (void)argv, (void)c;
    return 1;
}

void cli_mpi_stop(void) {}

#else

#include <limits.h>
#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

typedef struct mctx {
    int die_rank;
    uint64_t die_call; /* 0: never */
    int test;          /* OQ_MPI_TEST_DIE is set: say how many collectives ran */
    const oq_comm *c;
} mctx;

static mctx g_ctx; /* the CLI's one MPI job (not the library's) */

/* OQ_MPI_TEST_DIE: this rank dies here, as if killed (kill -9). */
static void maybe_die(oq_comm *c)
{
    mctx *m = c->ctx;
    if (m->die_call && c->rank == m->die_rank && c->calls == m->die_call) {
        fprintf(stderr, "offerq: rank %d: OQ_MPI_TEST_DIE: killing myself at collective %llu\n",
                c->rank, (unsigned long long)c->calls);
        fflush(stderr);
        raise(SIGKILL);
    }
}

static int too_big(oq_error *err, size_t n)
{
    return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0,
                        "%zu bytes in one collective: more than MPI's int counts (%d)", n, INT_MAX);
}

/* Wait for a started collective without spinning (then MPI_Wait on the
 * completed request, a no-op that closes it for the checkers): a rank that waits (for
 * the P(order) fit on rank 0, say) leaves its core to the ranks that work.
 * MPI progresses a non-blocking collective only inside MPI calls, so the
 * sleeps are short: 20 us, growing to 200 us. */
static void wait_for(MPI_Request *rq)
{
    long ns = 20000;
    for (int done = 0;;) {
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (done) break;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 200000) ns += 20000;
    }
}

static int m_allgather(oq_comm *c, const void *in, size_t n, void *out, oq_error *err)
{
    maybe_die(c);
    if (n > INT_MAX) return too_big(err, n);
    MPI_Request rq;
    MPI_Iallgather(in, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, MPI_COMM_WORLD, &rq);
    wait_for(&rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    return 0;
}

static int m_gatherv(oq_comm *c, int root, const void *in, size_t n, void **out, size_t *counts,
                     oq_error *err)
{
    maybe_die(c);
    *out = NULL;
    uint64_t mine = n, all[OQ_COMM_MAX] = {0};
    MPI_Request rq;
    if (root < 0)
        MPI_Iallgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD, &rq);
    else
        MPI_Igather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, root, MPI_COMM_WORLD, &rq);
    wait_for(&rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    int want = root < 0 || root == c->rank;
    int cnt[OQ_COMM_MAX], disp[OQ_COMM_MAX];
    uint64_t total = 0;
    for (int r = 0; r < c->size; r++) {
        counts[r] = want ? (size_t)all[r] : 0;
        disp[r] = (int)total;
        cnt[r] = (int)all[r];
        total += all[r];
    }
    /* every rank must take part in the collective even when it will fail */
    int bad = n > INT_MAX || (want && total > INT_MAX);
    char *p = want ? malloc(total ? total : 1) : NULL;
    if (bad || (want && !p)) {
        free(p);
        return bad ? too_big(err, want ? total : n) : oq_error_oom(err, NULL, "a gather");
    }
    if (root < 0)
        MPI_Iallgatherv(in, (int)n, MPI_BYTE, p, cnt, disp, MPI_BYTE, MPI_COMM_WORLD, &rq);
    else
        MPI_Igatherv(in, (int)n, MPI_BYTE, p, cnt, disp, MPI_BYTE, root, MPI_COMM_WORLD, &rq);
    wait_for(&rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    *out = p;
    return 0;
}

/* A rank failed: say why and stop the whole job (every rank, non-zero
 * exit); part 0 has switched nothing into place yet (pipeline.h). */
static void m_fail(oq_comm *c, int rc, const oq_error *err)
{
    char buf[1200] = "";
    if (err) oq_error_format(err, buf, sizeof buf);
    fprintf(stderr, "offerq: error: rank %d of %d: %s (%s); stopping every rank\n", c->rank,
            c->size, buf[0] ? buf : oq_strerror(rc), oq_strerror(rc));
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

int cli_mpi_start(int *argc, char ***argv, oq_comm *c)
{
    int rank = 0, size = 1;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "offerq: error: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > OQ_COMM_MAX) {
        if (rank == 0)
            fprintf(stderr, "offerq: error: %d ranks; offerq runs in at most %d parts\n", size,
                    OQ_COMM_MAX);
        MPI_Finalize();
        return 1;
    }
    memset(&g_ctx, 0, sizeof g_ctx);
    const char *die = getenv("OQ_MPI_TEST_DIE");
    unsigned long long call = 0;
    if (die && sscanf(die, "%d:%llu", &g_ctx.die_rank, &call) == 2) g_ctx.die_call = call;
    g_ctx.test = die != NULL;
    g_ctx.c = c;
    int solo = 0;
#ifdef _OPENMP
    /* While rank 0 fits P(order) the others sleep (wait_for): it may use
     * every core of its node. */
    solo = omp_get_num_procs();
#endif
    *c = (oq_comm){.rank = rank,
                   .size = size,
                   .allgather = m_allgather,
                   .gatherv = m_gatherv,
                   .fail = m_fail,
                   .solo_threads = solo,
                   .ctx = &g_ctx};
    return 0;
}

void cli_mpi_stop(void)
{
    if (g_ctx.test && g_ctx.c)
        fprintf(stderr, "offerq: rank %d: %llu collectives\n", g_ctx.c->rank,
                (unsigned long long)g_ctx.c->calls);
    MPI_Finalize();
}

#endif
