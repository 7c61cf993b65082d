/* mpi_comm.h - the comm (offerq/core/comm.h) of the ranks of an MPI job:
 * what `mpirun -np N offerq run ...` runs on (built with -DOQ_MPI=ON;
 * docs/readme/mpi.md). */
#ifndef OQ_CLI_MPI_COMM_H
#define OQ_CLI_MPI_COMM_H

#include "offerq/core/comm.h"

/* 1 when this process was started by an MPI launcher (mpirun sets
 * OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK), 0 otherwise; always 0 in a
 * build without MPI. */
int cli_mpi_launched(void);

/* MPI_Init and the comm of MPI_COMM_WORLD in *c. 0, or 1 (message printed)
 * when MPI cannot start. The comm's collectives gather in rank order
 * (MPI_Iallgather, MPI_Igatherv), waiting without spinning, so that a
 * rank waiting for rank 0's fit leaves its core to it (solo_threads: the
 * node's cores); its fail prints the part's error and calls MPI_Abort, so
 * every rank stops and mpirun exits non-zero.
 * OQ_MPI_TEST_DIE=RANK:CALL (tests only) makes rank RANK kill itself with
 * SIGKILL when it enters its CALL-th collective (1-based), to check that a
 * dead rank fails the run cleanly. */
int cli_mpi_start(int *argc, char ***argv, oq_comm *c);
/* MPI_Finalize. */
void cli_mpi_stop(void);

#endif
