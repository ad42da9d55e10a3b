// test_runfile.c - the metric log and the run file: what is written reads back bit for bit (NaN
// rows included), config attributes keep their types, /defaults holds each option's default text,
// metrics.csv mirrors the scalar series, no temporary file is left, and reading into a program
// with other series is refused by name.
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/runfile.h"

typedef struct {
    int rounds;
    double lr;
    char method[OPT_STR_MAX];
} Cfg;

static const OptSpec opts[] = {
    {"rounds", OPT_INT, offsetof(Cfg, rounds), "40", OPT_LO, 1, 0, NULL, "rounds", 0},
    {"lr", OPT_DOUBLE, offsetof(Cfg, lr), "0.05", 0, 0, 0, NULL, "learning rate", 0},
    {"method", OPT_CHOICE, offsetof(Cfg, method), "fedavg", 0, 0, 0, "fedavg|local", "method", 0},
};

// Three series: loss, per-party accuracy (3 parties), round time (timing); 20 rounds (> first cap).
static void fill_log(MetricLog *log, int rounds) {
    metriclog_init(log);
    int loss = metriclog_add(log, "loss", 1, 0);
    int acc = metriclog_add(log, "party_acc", 3, 0);
    int ms = metriclog_add(log, "round_ms", 1, 1);
    for (int r = 0; r < rounds; r++) {
        metriclog_next_round(log);
        metriclog_set(log, loss, 0, 1.0 / (r + 1));
        for (int p = 0; p < 3; p++)
            if (p != r % 3) metriclog_set(log, acc, p, 0.1 * p + 0.01 * r); // one NaN per row
        metriclog_set(log, ms, 0, 100 + r);
    }
}

static void make_tmpdir(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/mmc_runfile_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(test_metric_log_rows_start_nan_and_grow_past_capacity) {
    MetricLog log;
    fill_log(&log, 20);
    ck_assert_int_eq(log.rounds, 20);
    ck_assert(metriclog_last(&log, 0, 0) == 1.0 / 20);
    ck_assert(isnan(metriclog_last(&log, 1, 19 % 3)));
    ck_assert(log.s[1].v[0 * 3 + 1] == 0.1);
    metriclog_truncate(&log, 5);
    ck_assert(metriclog_last(&log, 0, 0) == 1.0 / 5);
    ck_assert_int_eq(metriclog_find(&log, "round_ms"), 2);
    ck_assert_int_eq(metriclog_find(&log, "nope"), -1);
    metriclog_free(&log);
}
END_TEST

START_TEST(test_run_file_reads_back_with_types_and_csv_matches) {
    char dir[64], path[128], err[256];
    make_tmpdir(dir, sizeof dir);
    Cfg cfg;
    ck_assert_int_eq(opts_set_defaults(opts, 3, &cfg, err, sizeof err), OPT_OK);
    MetricLog log;
    fill_log(&log, 20);
    const int64_t rss[2] = {51234, 7000000000LL}; // the second does not fit 32 bits
    const uint64_t mpi[4] = {1, 2, 30000000000ULL, 4};
    RunInfo info = {.program = "mmcollab",
                    .method = "fedavg",
                    .git = "v0-test",
                    .slurm_job_id = "",
                    .hosts = "vm,vm",
                    .started = "2026-12-01T00:00:00Z",
                    .world_size = 2,
                    .peak_rss_kib = rss,
                    .mpi_bytes = mpi,
                    .blas_core = "Zen",
                    .blas_threads = 1};
    OptSet set = {0};
    optset_add(&set, opts, 3, &cfg);
    runfile_write(dir, &info, &set, &log);

    snprintf(path, sizeof path, "%s/run.h5.tmp", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/run.h5", dir);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    long long rounds;
    double lr;
    hid_t a = H5Aopen_by_name(f, "config", "rounds", H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_LLONG, &rounds), 0);
    H5Aclose(a);
    a = H5Aopen_by_name(f, "config", "lr", H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_DOUBLE, &lr), 0);
    H5Aclose(a);
    ck_assert(rounds == 40 && lr == 0.05);
    char def[16] = "";
    a = H5Aopen_by_name(f, "defaults", "lr", H5P_DEFAULT, H5P_DEFAULT);
    hid_t st = H5Aget_type(a);
    ck_assert_int_eq(H5Tget_size(st), 5); // "0.05" and its NUL
    ck_assert_int_ge(H5Aread(a, st, def), 0);
    H5Tclose(st);
    H5Aclose(a);
    ck_assert_str_eq(def, "0.05");
    int64_t rss_back[2] = {0, 0};
    hid_t d = H5Dopen2(f, "meta/peak_rss_kib", H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    hid_t sp = H5Dget_space(d);
    ck_assert_int_eq(H5Sget_simple_extent_npoints(sp), 2);
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rss_back), 0);
    H5Sclose(sp);
    H5Dclose(d);
    ck_assert(rss_back[0] == rss[0] && rss_back[1] == rss[1]);

    MetricLog back;
    metriclog_init(&back);
    metriclog_add(&back, "loss", 1, 0);
    metriclog_add(&back, "party_acc", 3, 0);
    metriclog_add(&back, "round_ms", 1, 1);
    ck_assert_msg(metrics_h5_read(f, "metrics", &back, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(back.rounds, 20);
    for (int i = 0; i < 3; i++)
        ck_assert_mem_eq(back.s[i].v, log.s[i].v, 20 * (size_t)log.s[i].width * sizeof(double));
    metriclog_free(&back);

    // A program that records other series refuses the stored ones, naming the series.
    metriclog_init(&back);
    metriclog_add(&back, "loss", 1, 0);
    metriclog_add(&back, "party_acc", 4, 0);
    metriclog_add(&back, "round_ms", 1, 1);
    ck_assert_int_eq(metrics_h5_read(f, "metrics", &back, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "party_acc") && strstr(err, "width 3"), "%s", err);
    ck_assert_int_eq(back.rounds, 0);
    metriclog_free(&back);
    H5Fclose(f);

    // The HDF5 command-line tools read it too.
    char cmd[256];
    snprintf(cmd, sizeof cmd, "h5dump -a /meta/method %s/run.h5 | grep -q fedavg", dir);
    ck_assert_int_eq(system(cmd), 0);

    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *csv = fopen(path, "r");
    ck_assert_ptr_nonnull(csv);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, csv));
    ck_assert_str_eq(line, "round,loss,round_ms\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, csv));
    ck_assert_str_eq(line, "1,1,100\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, csv));
    ck_assert_str_eq(line, "2,0.5,101\n");
    fclose(csv);

    // The MPI byte totals per rank, (ranks, 2), 64-bit.
    snprintf(path, sizeof path, "%s/run.h5", dir);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "meta/mpi_bytes", H5P_DEFAULT);
    uint64_t mpi_back[4] = {0};
    ck_assert_int_ge(H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, mpi_back), 0);
    ck_assert_mem_eq(mpi_back, mpi, sizeof mpi);
    H5Dclose(ds);
    H5Fclose(f);

    // Without the figures (a serial tool) there is no dataset rather than zeros.
    info.peak_rss_kib = NULL, info.mpi_bytes = NULL;
    runfile_write(dir, &info, &set, &log);
    snprintf(path, sizeof path, "%s/run.h5", dir);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    ck_assert_int_eq(H5Lexists(f, "meta/peak_rss_kib", H5P_DEFAULT), 0);
    ck_assert_int_eq(H5Lexists(f, "meta/mpi_bytes", H5P_DEFAULT), 0);
    H5Fclose(f);
    metriclog_free(&log);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *runfile_suite(void) {
    Suite *s = suite_create("runfile");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_metric_log_rows_start_nan_and_grow_past_capacity);
    tcase_add_test(tc, test_run_file_reads_back_with_types_and_csv_matches);
    suite_add_tcase(s, tc);
    return s;
}
