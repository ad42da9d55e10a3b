// test_runfile.c - the metric log and the append-only run files:
//   - the log holds the current round's row only: its heap (measured by glibc) does not grow with
//     rounds;
//   - what is appended reads back bit for bit (NaN included) from extendible chunked datasets,
//     config attributes keep their types, /defaults holds each option's default text, metrics.csv
//     mirrors the scalar series, the digest beside run.h5 is written at close and matches;
//   - truncate to the checkpoint: a process killed (fork + _exit, files open) after appending
//     rounds past the checkpoint, plus junk lines in metrics.csv, resumes to files identical to
//     the uninterrupted ones;
//   - a garbage, truncated, or other-layout run.h5 is set aside as run.h5.damaged and rebuilt:
//     scalar series from metrics.csv exact, per-party NaN for the rounds before the resume; a bad
//     metrics.csv is rewritten from run.h5;
//   - a reader holding run.h5 (with HDF5's file lock) at a resume does not make it look damaged.
#include <check.h>
#include <hdf5.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
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

#define P 3

// Three series: loss, per-party accuracy (P parties), round time (varying).
static void declare(MetricLog *log) {
    metriclog_init(log);
    metriclog_add(log, "loss", 1, 0);
    metriclog_add(log, "party_acc", P, 0);
    metriclog_add(log, "round_ms", 1, 1);
}

// Round r's row (1-based), a function of r alone: one NaN per per-party row, 1/3 (not exact in
// decimal) in the loss.
static void set_row(MetricLog *log, int r) {
    metriclog_set(log, 0, 0, 1.0 / (3.0 * r));
    for (int p = 0; p < P; p++)
        if (p != r % P) metriclog_set(log, 1, p, 0.1 * p + 0.01 * r);
    metriclog_set(log, 2, 0, 100 + r);
}

static void make_tmpdir(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/mmc_runfile_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static const int64_t rss[2] = {51234, 7000000000LL}; // the second does not fit 32 bits
static const uint64_t mpi[4] = {1, 2, 30000000000ULL, 4};
static Cfg cfg;
static OptSet set;

static RunInfo test_info(void) {
    char err[256];
    ck_assert_int_eq(opts_set_defaults(opts, 3, &cfg, err, sizeof err), OPT_OK);
    memset(&set, 0, sizeof set);
    optset_add(&set, opts, 3, &cfg);
    return (RunInfo){.program = "mmcollab",
                     .method = "fedavg",
                     .git = "v0-test",
                     .slurm_job_id = "",
                     .hosts = "vm,vm",
                     .started = "2026-12-01T00:00:00Z",
                     .world_size = 2,
                     .peak_rss_kib = rss,
                     .blas_core = "Zen",
                     .blas_threads = 1};
}

// Rounds from+1..to appended to dir's run files (opened at from: new, or resumed), then closed
// unless crash, in which case the process ends (_exit) with the files open, as a kill would.
static void write_rounds(const char *dir, int from, int to, int crash) {
    RunInfo info = test_info();
    MetricLog log;
    declare(&log);
    metriclog_resume(&log, from);
    RunFile *rf = runfile_open(dir, &info, &set, &log);
    for (int r = from + 1; r <= to; r++) {
        metriclog_next_round(&log);
        set_row(&log, r);
        runfile_append(rf, &log, &info);
    }
    if (crash) _exit(0);
    info.mpi_bytes = mpi;
    runfile_close(rf, &info);
    metriclog_free(&log);
}

// write_rounds in a child process (a crash there leaves this one clean).
static void write_rounds_child(const char *dir, int from, int to, int crash) {
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        write_rounds(dir, from, to, crash);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// All of series name (rows × width doubles) from dir/run.h5 into v (cap values); returns rows.
static int read_all(const char *dir, const char *name, double *v, size_t cap, int *width) {
    char path[160];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_int_ge(ds, 0);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 1}, max[2] = {0, 0};
    int nd = H5Sget_simple_extent_dims(sp, dims, max);
    ck_assert(max[0] == H5S_UNLIMITED); // extendible
    hid_t dcpl = H5Dget_create_plist(ds);
    ck_assert_int_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    H5Pclose(dcpl);
    ck_assert_uint_le(dims[0] * (nd == 2 ? dims[1] : 1), cap);
    if (dims[0])
        ck_assert_int_ge(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    *width = nd == 2 ? (int)dims[1] : 1;
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    return (int)dims[0];
}

// The series of dir equal the rows set_row makes for rounds 1..rounds, bit for bit, except the
// per-party series' rounds 1..nan_to, which must be NaN (lost in a rebuild).
static void assert_rows(const char *dir, int rounds, int nan_to) {
    double v[400], want[400];
    int w;
    MetricLog log;
    declare(&log);
    for (int i = 0; i < 3; i++) {
        int n = read_all(dir,
                         i == 0   ? "metrics/loss"
                         : i == 1 ? "metrics/party_acc"
                                  : "metrics/round_ms",
                         v, 400, &w);
        ck_assert_int_eq(n, rounds);
        ck_assert_int_eq(w, log.s[i].width);
        for (int r = 1; r <= rounds; r++) {
            metriclog_next_round(&log);
            set_row(&log, r);
            memcpy(want + (size_t)(r - 1) * w, log.s[i].v, (size_t)w * sizeof *want);
            if (i == 1 && r <= nan_to)
                for (int c = 0; c < w; c++)
                    want[(size_t)(r - 1) * w + c] = NAN;
        }
        metriclog_resume(&log, 0);
        for (int k = 0; k < rounds * w; k++)
            ck_assert_msg(memcmp(&v[k], &want[k], sizeof *v) == 0 ||
                              (isnan(v[k]) && isnan(want[k])),
                          "series %d value %d: %.17g, expected %.17g", i, k, v[k], want[k]);
    }
    metriclog_free(&log);
}

// stderr of the calls between begin and end, into a buffer (for the warnings).
static char captured[8192];
static int saved_fd = -1;
static FILE *cap_file;
static void capture_begin(void) {
    fflush(stderr);
    cap_file = tmpfile();
    ck_assert_ptr_nonnull(cap_file);
    saved_fd = dup(2);
    dup2(fileno(cap_file), 2);
}
static void capture_end(void) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    rewind(cap_file);
    size_t n = fread(captured, 1, sizeof captured - 1, cap_file);
    captured[n] = 0;
    fclose(cap_file);
}

START_TEST(test_metric_log_holds_one_row_and_does_not_grow_with_rounds) {
    MetricLog log;
    metriclog_init(&log);
    metriclog_add(&log, "loss", 1, 0);
    int wide = metriclog_add(&log, "party_acc", 1000, 0);
    metriclog_next_round(&log);
    ck_assert(isnan(metriclog_last(&log, 0, 0)) && isnan(metriclog_last(&log, wide, 999)));
    metriclog_set(&log, wide, 7, 0.5);
    ck_assert(metriclog_last(&log, wide, 7) == 0.5);
    size_t bytes = metriclog_heap_bytes(&log);
    ck_assert_uint_eq(bytes, 1001 * sizeof(double));
    // The heap in use, as glibc counts it, after 1 and after 5001 rounds of 1001 values: a
    // whole-history log would hold 40 MB more.
    struct mallinfo2 before = mallinfo2();
    for (int r = 0; r < 5000; r++) {
        metriclog_next_round(&log);
        for (int c = 0; c < 1000; c++)
            metriclog_set(&log, wide, c, r + c);
        metriclog_set(&log, 0, 0, r);
    }
    struct mallinfo2 after = mallinfo2();
    ck_assert_int_eq(log.rounds, 5001);
    ck_assert_uint_eq(metriclog_heap_bytes(&log), bytes);
    ck_assert_msg(after.uordblks <= before.uordblks + 4096,
                  "heap grew by %zu bytes over 5000 rounds", after.uordblks - before.uordblks);
    // A new round forgets the last one's values: they start NaN again.
    metriclog_next_round(&log);
    ck_assert(isnan(metriclog_last(&log, wide, 7)));
    // Resume: the count continues, no current row until the next round.
    metriclog_resume(&log, 12);
    ck_assert_int_eq(log.rounds, 12);
    ck_assert_int_eq(log.has_row, 0);
    metriclog_next_round(&log);
    ck_assert_int_eq(log.rounds, 13);
    ck_assert_int_eq(metriclog_find(&log, "party_acc"), wide);
    ck_assert_int_eq(metriclog_find(&log, "nope"), -1);
    metriclog_free(&log);
}
END_TEST

START_TEST(test_run_file_appends_read_back_with_types_and_csv_matches) {
    char dir[64], path[128], out[1024];
    make_tmpdir(dir, sizeof dir);
    write_rounds(dir, 0, 20, 0);

    snprintf(path, sizeof path, "%s/run.h5.tmp", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    assert_rows(dir, 20, 0);
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
    a = H5Aopen_by_name(f, "metrics", "rounds", H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_LLONG, &rounds), 0);
    H5Aclose(a);
    ck_assert_int_eq(rounds, 20);
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
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rss_back), 0);
    H5Dclose(d);
    ck_assert(rss_back[0] == rss[0] && rss_back[1] == rss[1]);
    // The MPI byte totals per rank, (ranks, 2), 64-bit, written at close.
    d = H5Dopen2(f, "meta/mpi_bytes", H5P_DEFAULT);
    uint64_t mpi_back[4] = {0};
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, mpi_back), 0);
    ck_assert_mem_eq(mpi_back, mpi, sizeof mpi);
    H5Dclose(d);
    H5Fclose(f);

    // The HDF5 tools read it, and the digest written at close matches it.
    ck_assert_int_eq(
        run_command(out, sizeof out, "h5dump -a /meta/method %s/run.h5 | grep -q fedavg", dir), 0);
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s && sha256sum -c run.h5.sha256 2>&1", dir),
                     0);

    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *csv = fopen(path, "r");
    ck_assert_ptr_nonnull(csv);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, csv));
    ck_assert_str_eq(line, "round,loss,round_ms\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, csv));
    ck_assert_str_eq(line, "1,0.33333333333333331,101\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, csv));
    ck_assert_str_eq(line, "2,0.16666666666666666,102\n");
    int lines = 3;
    while (fgets(line, sizeof line, csv))
        lines++;
    fclose(csv);
    ck_assert_int_eq(lines, 21);

    // Without the figures (a serial tool) there is no dataset rather than zeros.
    RunInfo info = test_info();
    info.peak_rss_kib = NULL;
    MetricLog log;
    declare(&log);
    RunFile *rf = runfile_open(dir, &info, &set, &log);
    runfile_close(rf, &info);
    metriclog_free(&log);
    snprintf(path, sizeof path, "%s/run.h5", dir);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    ck_assert_int_eq(H5Lexists(f, "meta/peak_rss_kib", H5P_DEFAULT), 0);
    ck_assert_int_eq(H5Lexists(f, "meta/mpi_bytes", H5P_DEFAULT), 0);
    H5Fclose(f);
    run_command(out, sizeof out, "rm -rf %s", dir);
}
END_TEST

// The uninterrupted run's files (10 rounds) in ref; the one that crashed in dir.
static void reference(char *ref, size_t cap) {
    make_tmpdir(ref, cap);
    write_rounds_child(ref, 0, 10, 0);
}

START_TEST(test_rows_past_the_checkpoint_are_cut_and_the_resume_matches_the_straight_run) {
    char ref[64], dir[64], out[4096];
    reference(ref, sizeof ref);
    make_tmpdir(dir, sizeof dir);
    // Killed after appending round 7, with the checkpoint at round 5; a torn line in metrics.csv.
    write_rounds_child(dir, 0, 7, 1);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cd %s && printf '8,0.5' >> metrics.csv && ls", dir), 0);
    ck_assert_msg(!strstr(out, "run.h5.sha256"), "a digest beside a file still open: %s", out);
    write_rounds_child(dir, 5, 10, 0);
    assert_rows(dir, 10, 0);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cmp %s/metrics.csv %s/metrics.csv 2>&1", ref, dir), 0);
    ck_assert_msg(run_command(out, sizeof out, "h5diff %s/run.h5 %s/run.h5 /metrics /metrics 2>&1",
                              ref, dir) == 0,
                  "%s", out);
    // A run stopped cleanly (digest written) and resumed at an earlier checkpoint: the stale
    // digest goes as the file reopens, the new one comes at close.
    write_rounds_child(dir, 4, 6, 0);
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s && sha256sum -c run.h5.sha256 2>&1", dir),
                     0);
    write_rounds_child(dir, 6, 10, 0);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cmp %s/metrics.csv %s/metrics.csv 2>&1", ref, dir), 0);
    assert_rows(dir, 10, 0);
    run_command(out, sizeof out, "rm -rf %s %s", ref, dir);
}
END_TEST

// run.h5 damaged by cmd (in its directory) before a resume at round 5: set aside, rebuilt, the
// warning names both files; the scalar series exact, the per-party ones NaN for rounds 1..5.
static void damaged_resume(const char *cmd) {
    char ref[64], dir[64], out[4096];
    reference(ref, sizeof ref);
    make_tmpdir(dir, sizeof dir);
    write_rounds_child(dir, 0, 7, 1);
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s && %s", dir, cmd), 0);
    capture_begin();
    write_rounds_child(dir, 5, 10, 0);
    capture_end();
    ck_assert_msg(strstr(captured, "run.h5.damaged") && strstr(captured, "party_acc") &&
                      strstr(captured, "rounds 1..5"),
                  "%s: %s", cmd, captured);
    assert_rows(dir, 10, 5);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cmp %s/metrics.csv %s/metrics.csv 2>&1", ref, dir), 0);
    ck_assert_msg(
        run_command(out, sizeof out,
                    "h5diff %s/run.h5 %s/run.h5 /metrics/loss /metrics/loss 2>&1 && "
                    "h5diff %s/run.h5 %s/run.h5 /metrics/round_ms /metrics/round_ms 2>&1 && "
                    "ls %s/run.h5.damaged",
                    ref, dir, ref, dir, dir) == 0,
        "%s", out);
    run_command(out, sizeof out, "rm -rf %s %s", ref, dir);
}

START_TEST(test_a_garbage_run_h5_is_set_aside_and_rebuilt_from_metrics_csv) {
    damaged_resume("head -c 5000 /dev/urandom > run.h5");
}
END_TEST

START_TEST(test_a_truncated_run_h5_is_set_aside_and_rebuilt_from_metrics_csv) {
    damaged_resume("truncate -s $(( $(stat -c %s run.h5) / 2 )) run.h5");
}
END_TEST

START_TEST(test_a_run_h5_of_another_layout_is_set_aside_and_rebuilt) {
    // party_acc of another width: a file from another configuration, not this run's (Debian's
    // python3-h5py, as tests/analysis uses).
    damaged_resume("/usr/bin/python3 -c \"import h5py; f = h5py.File('run.h5', 'r+'); "
                   "del f['metrics/party_acc']; f.create_dataset('metrics/party_acc', (7, 4), "
                   "maxshape=(None, 4), chunks=True)\"");
}
END_TEST

// A reader with HDF5's default file lock (h5py, in another process) holding run.h5 while the run
// resumes: the writer's open must not fail on the lock and take the file for damaged.
START_TEST(test_a_reader_holding_run_h5_at_a_resume_does_not_make_it_look_damaged) {
    char ref[64], dir[64], out[4096];
    reference(ref, sizeof ref);
    make_tmpdir(dir, sizeof dir);
    write_rounds_child(dir, 0, 7, 1);
    ck_assert_int_eq(run_command(out, sizeof out,
                                 "cd %s && (/usr/bin/python3 -c \"import h5py, time; "
                                 "f = h5py.File('run.h5', 'r'); open('ready', 'w').close(); "
                                 "time.sleep(30)\" > /dev/null 2>&1 & echo $! > reader.pid); "
                                 "for i in $(seq 300); do [ -e ready ] && break; sleep 0.05; done; "
                                 "test -e ready",
                                 dir),
                     0);
    capture_begin();
    write_rounds_child(dir, 5, 10, 0);
    capture_end();
    run_command(out, sizeof out, "kill $(cat %s/reader.pid)", dir);
    ck_assert_msg(!strstr(captured, "damaged"), "%s", captured);
    ck_assert_int_ne(run_command(out, sizeof out, "ls %s/run.h5.damaged 2>&1", dir), 0);
    assert_rows(dir, 10, 0);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cmp %s/metrics.csv %s/metrics.csv 2>&1", ref, dir), 0);
    run_command(out, sizeof out, "rm -rf %s %s", ref, dir);
}
END_TEST

START_TEST(test_a_damaged_metrics_csv_is_rewritten_from_run_h5) {
    char ref[64], dir[64], out[4096];
    reference(ref, sizeof ref);
    make_tmpdir(dir, sizeof dir);
    write_rounds_child(dir, 0, 7, 1);
    ck_assert_int_eq(run_command(out, sizeof out,
                                 "cd %s && head -c 60 metrics.csv > m && mv m metrics.csv", dir),
                     0);
    capture_begin();
    write_rounds_child(dir, 5, 10, 0);
    capture_end();
    ck_assert_msg(strstr(captured, "metrics.csv") && strstr(captured, "rewritten from"), "%s",
                  captured);
    assert_rows(dir, 10, 0);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cmp %s/metrics.csv %s/metrics.csv 2>&1", ref, dir), 0);
    run_command(out, sizeof out, "rm -rf %s %s", ref, dir);
}
END_TEST

Suite *runfile_suite(void) {
    Suite *s = suite_create("runfile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_metric_log_holds_one_row_and_does_not_grow_with_rounds);
    tcase_add_test(tc, test_run_file_appends_read_back_with_types_and_csv_matches);
    tcase_add_test(tc,
                   test_rows_past_the_checkpoint_are_cut_and_the_resume_matches_the_straight_run);
    tcase_add_test(tc, test_a_garbage_run_h5_is_set_aside_and_rebuilt_from_metrics_csv);
    tcase_add_test(tc, test_a_truncated_run_h5_is_set_aside_and_rebuilt_from_metrics_csv);
    tcase_add_test(tc, test_a_run_h5_of_another_layout_is_set_aside_and_rebuilt);
    tcase_add_test(tc, test_a_damaged_metrics_csv_is_rewritten_from_run_h5);
    tcase_add_test(tc, test_a_reader_holding_run_h5_at_a_resume_does_not_make_it_look_damaged);
    suite_add_tcase(s, tc);
    return s;
}
