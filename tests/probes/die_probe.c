// die_probe.c - a program that fails on purpose under mpirun, so that a serial test can check that
// the failure is reported with its location and that every rank ends, non-zero, without a hang.
//   die_probe check  : rank 1 fails a CHECK while rank 0 waits in a collective
//   die_probe mpi    : rank 0 makes an MPI call with an invalid rank (MPI_CHECK)
//   die_probe ok     : no failure (exit 0), the control case
#include <mpi.h>
#include <string.h>

#include "core/die.h"
#include "core/log.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    log_init(rank, LOG_INFO);
    const char *mode = argc > 1 ? argv[1] : "ok";
    if (strcmp(mode, "check") == 0 && rank == 1) {
        int channels = 63;
        CHECK(channels == 64, "probe: inp has C=%d, weight expects C=%d", channels, 64);
    }
    if (strcmp(mode, "mpi") == 0 && rank == 0) {
        int x = 0;
        MPI_CHECK(MPI_Send(&x, 1, MPI_INT, size + 5, 0, MPI_COMM_WORLD));
    }
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); // the other ranks wait here: the abort must end them
    log_info("probe %s: all ranks passed the barrier", mode);
    MPI_Finalize();
    return 0;
}
