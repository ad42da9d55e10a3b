// run_mpi_tests.c - the MPI Check runner: every suite from tests/mpi/test_*.c, on every rank, in
// CK_NOFORK mode (a forked child cannot use MPI). Only rank 0 prints; the failure count is summed
// over ranks and sets every rank's exit code. Tests must not ck_assert between collectives: they
// agree on a flag with mpi_all_ok() first (see mpi_helpers.h).
#include <check.h>
#include <mpi.h>
#include <stdlib.h>

#include "core/die.h"
#include "core/log.h"

extern Suite *(*const MPI_TEST_SUITES[])(void);

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    log_init(rank, LOG_WARN);
    SRunner *sr = srunner_create(NULL);
    for (int i = 0; MPI_TEST_SUITES[i]; i++)
        srunner_add_suite(sr, MPI_TEST_SUITES[i]());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr), failed_all = 0;
    srunner_free(sr);
    MPI_CHECK(MPI_Allreduce(&failed, &failed_all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    MPI_Finalize();
    return failed_all == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
