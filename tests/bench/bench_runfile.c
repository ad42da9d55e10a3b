// bench_runfile.c - the run-file writer alone (io/runfile.h), no training, for `make bench`.
//
//   bench_runfile [parties=P] [rounds=R] [dir=D]
//   → `bench runfile parties=<P> rounds=<R> ms_first=<a> ms_last=<b>`
//
// The series of a FedAvg run as fl/record.c declares them (18 scalar series, 3 of them varying,
// and 15 per-party series of width P; no defence series), every value set each round, one
// runfile_append per round into D/run.h5 and D/metrics.csv (D: a new directory under $TMPDIR or
// /tmp, removed at the end; the files reach ~1.2 GB at the defaults). ms_first is the mean wall
// time of runfile_append over rounds 1..10, ms_last over the last 10: equal when a round's cost
// does not grow with the round number. A checkpoint's runfile_sync is not timed (one fsync per
// checkpoint, not per round).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_args.h"
#include "core/die.h"
#include "core/timer.h"
#include "io/runfile.h"

// fl/record.c's series, in its order: name, per party, varies.
static const struct {
    const char *name;
    int per_party, varies;
} series[] = {
    {"train_loss", 0, 0},
    {"train_acc", 0, 0},
    {"test_loss", 0, 0},
    {"test_acc", 0, 0},
    {"test_macro_f1", 0, 0},
    {"test_auc", 0, 0},
    {"test_auc_hard", 0, 0},
    {"party_test_acc_mean", 0, 0},
    {"party_test_macro_f1_mean", 0, 0},
    {"party_test_auc_mean", 0, 0},
    {"personal_test_acc_mean", 0, 0},
    {"personal_test_macro_f1_mean", 0, 0},
    {"personal_test_auc_mean", 0, 0},
    {"payload_up", 0, 0},
    {"payload_down", 0, 0},
    {"mpi_bytes_sent", 0, 1},
    {"mpi_bytes_recv", 0, 1},
    {"round_ms", 0, 1},
    {"party_train_loss", 1, 0},
    {"party_train_acc", 1, 0},
    {"party_test_acc", 1, 0},
    {"party_test_macro_f1", 1, 0},
    {"party_test_auc", 1, 0},
    {"personal_test_acc", 1, 0},
    {"personal_test_macro_f1", 1, 0},
    {"personal_test_auc", 1, 0},
    {"party_n_train", 1, 0},
    {"party_payload_up", 1, 0},
    {"party_payload_down", 1, 0},
    {"party_sampled", 1, 0},
    {"party_arrived", 1, 0},
    {"party_verdict", 1, 0},
    {"party_update_norm", 1, 0},
};
#define N_SERIES ((int)(sizeof series / sizeof series[0]))
#define WINDOW 10

int main(int argc, char **argv) {
    int parties = atoi(bench_arg(argc, argv, "parties", "10000"));
    int rounds = atoi(bench_arg(argc, argv, "rounds", "1000"));
    CHECK(parties >= 1 && rounds >= 2 * WINDOW, "parties=%d rounds=%d (at least %d rounds)",
          parties, rounds, 2 * WINDOW);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/mmc_bench_runfile_XXXXXX", bench_arg(argc, argv, "dir", base));
    CHECK(mkdtemp(dir), "cannot create %s", dir);

    MetricLog log;
    metriclog_init(&log);
    for (int i = 0; i < N_SERIES; i++)
        metriclog_add(&log, series[i].name, series[i].per_party ? parties : 1, series[i].varies);
    int64_t rss[2] = {123456, 654321};
    RunInfo info = {
        .program = "bench_runfile", .method = "fedavg", .world_size = 2, .peak_rss_kib = rss};
    OptSet opts = {0};
    RunFile *rf = runfile_open(dir, &info, &opts, &log);
    double first = 0, last = 0;
    for (int r = 1; r <= rounds; r++) {
        metriclog_next_round(&log);
        for (int i = 0; i < N_SERIES; i++)
            for (int c = 0; c < log.s[i].width; c++)
                log.s[i].v[c] = 1.0 / (r + i + c + 1); // distinct, inexact values
        rss[0] += r;
        double t0 = timer_now_ms();
        runfile_append(rf, &log, &info);
        double ms = timer_now_ms() - t0;
        if (r <= WINDOW) first += ms;
        if (r > rounds - WINDOW) last += ms;
    }
    runfile_close(rf, &info);
    metriclog_free(&log);
    printf("bench runfile parties=%d rounds=%d ms_first=%.3f ms_last=%.3f\n", parties, rounds,
           first / WINDOW, last / WINDOW);
    char path[4200];
    const char *files[] = {"run.h5", "run.h5.sha256", "metrics.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
