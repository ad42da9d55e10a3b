// mmcollab.c - the pipeline's main: parse on rank 0, broadcast the configuration as text, run the
// rounds.
//
//   mpirun -np 3 build/bin/mmcollab --method=fedavg --rounds=6 --out=runs/x
//
// Exit codes: 0 done; 1 an error (every rank, via MPI_Abort); 2 bad options (every rank, after
// rank 0 printed the message: a value, a rule between options or a file found wrong when parsing,
// a size found too large for the data or the memory at the run's start, fl/run.h, or an input
// file refused before anything is written: --data or the base model damaged, without a digest
// file, invalid); 3 (EXIT_REQUEUE) stopped by SIGUSR1/SIGTERM or --stop-after after writing a
// checkpoint, or --term-grace seconds after a SIGTERM at the last checkpoint: requeue and run
// again with --resume=auto (docs/signals.md).
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "fl/run.h"
#include "fl/signals.h"

int main(int argc, char **argv) {
    signals_install(); // before MPI_Init: a signal during start-up is held, not fatal
    MPI_CHECK(MPI_Init(&argc, &argv));
    int rank;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    log_init(rank, LOG_INFO);
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig rc;
    char err[1024] = "", *text = NULL;
    int code = OPT_OK, len = 0;
    if (rank == 0) {
        code = config_parse(&rc, &methods, &models, argc, argv, err, sizeof err);
        // The files the options name, once, here: the other ranks take rank 0's verdict.
        if (code == OPT_OK && (code = config_check_files(&rc, err, sizeof err)) != OPT_OK)
            run_config_free(&rc);
        if (code == OPT_HELP) config_print_help(stdout, &methods, &models);
        if (code < 0) fprintf(stderr, "mmcollab: %s\n", err);
        if (code == OPT_OK) text = config_text(&rc), len = (int)strlen(text) + 1;
        fflush(NULL);
    }
    int head[2] = {code, len};
    MPI_CHECK(MPI_Bcast(head, 2, MPI_INT, 0, MPI_COMM_WORLD));
    if (head[0] != OPT_OK) {
        MPI_Finalize();
        return head[0] == OPT_HELP ? 0 : EXIT_USAGE;
    }
    // Every rank reads the same text back into its own typed structs: the same bits.
    if (rank != 0) text = xmalloc((size_t)head[1]);
    MPI_CHECK(MPI_Bcast(text, head[1], MPI_CHAR, 0, MPI_COMM_WORLD));
    if (rank != 0)
        CHECK(config_read_text(&rc, &methods, &models, text, "rank 0's configuration", err,
                               sizeof err) == OPT_OK,
              "%s", err);
    free(text);
    log_init(rank, (LogLevel)log_level_parse(rc.c.log_level));
    signals_set_term_grace(rc.c.term_grace, rank);
    int exit_code = fl_run(&rc, MPI_COMM_WORLD);
    run_config_free(&rc);
    MPI_CHECK(MPI_Finalize());
    return exit_code;
}
