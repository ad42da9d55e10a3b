// mmcollab.c - the pipeline's main: parse on rank 0, broadcast the config, run the rounds.
//
//   mpirun -np 3 build/bin/mmcollab --method=fedavg --rounds=6 --out=runs/x
//
// Exit codes: 0 done; 1 an error (every rank, via MPI_Abort); 2 bad options (every rank, after
// rank 0 printed the message); 3 (EXIT_REQUEUE) stopped by SIGUSR1/SIGTERM or --stop-after after
// writing a checkpoint: requeue and run again with --resume=auto.
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cli/config.h"
#include "core/die.h"
#include "core/log.h"
#include "fl/driver.h"
#include "fl/signals.h"

enum { EXIT_USAGE = 2 };

int main(int argc, char **argv) {
    signals_install(); // before MPI_Init: a signal during start-up is held, not fatal
    MPI_CHECK(MPI_Init(&argc, &argv));
    int rank;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    log_init(rank, LOG_INFO);
    Config cfg;
    char err[1024] = "";
    int rc = OPT_OK;
    if (rank == 0) {
        rc = config_parse(&cfg, argc, argv, err, sizeof err);
        if (rc == OPT_HELP) config_print_help(stdout);
        if (rc < 0) fprintf(stderr, "mmcollab: %s\n", err);
        fflush(NULL);
    }
    MPI_CHECK(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (rc != OPT_OK) {
        MPI_Finalize();
        return rc == OPT_HELP ? 0 : EXIT_USAGE;
    }
    MPI_CHECK(MPI_Bcast(&cfg, (int)sizeof cfg, MPI_BYTE, 0, MPI_COMM_WORLD));
    log_init(rank, (LogLevel)log_level_parse(cfg.log_level));
    int code = fl_run(&cfg, MPI_COMM_WORLD);
    MPI_CHECK(MPI_Finalize());
    return code;
}
