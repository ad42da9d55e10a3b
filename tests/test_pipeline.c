// test_pipeline.c - build/bin/mmcollab end to end under mpirun, on a small SynMM file:
//   - the same config at -np 2, 3 and 5 writes checkpoints h5diff finds identical, and identical
//     metrics except timings;
//   - a run stopped after round k (--stop-after, or SIGUSR1 to mpirun) and resumed with
//     --resume=auto (even at another -np) ends identical to the uninterrupted run, for several k
//     and for methods with cloud, party, server-optimizer and no persistent state;
//   - the same for FedProto and MOON (prototypes, previous local models), and with their weight at
//     0 they reduce to local training and FedAvg;
//   - a truncated newest checkpoint is skipped for the previous one with a warning;
//   - a changed config is refused naming the key; bad options end every rank non-zero quickly;
//   - options refused when parsed (config files, values, rules between options, files) or at the
//     run's start (sizes against the data and the memory) end every rank with exit 2, quickly,
//     naming the option, with nothing written.
//   - a damaged data file (its digest file beside it), one without a digest file, and a base model
//     without one are refused on every rank (exit 2) before anything is written, rank 0 naming the
//     file once; --data-unverified reads the unsealed one and records its digest.
// Runs from the repository root (where `make test` runs); binaries from MMC_BIN_DIR.
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 120 /* a healthy run takes 1-2 s; the timeout catches a hang */

static char work[64];

// mmcollab at -np np with the common small config plus extra options (later ones win); output
// into out. env prefixes the command (e.g. "env -u VAR").
static int mmc_env(const char *env, int np, const char *out_dir, const char *extra, char *out,
                   size_t cap) {
    return run_command(
        out, cap,
        "cd %s && %s timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=syn.h5 "
        "--out=%s --parties=4 --rounds=4 --width=16 --batch-size=16 %s 2>&1",
        work, env, RUN_TIMEOUT_S, np, mmc_bin(), out_dir, extra);
}

static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return mmc_env("", np, out_dir, extra, out, cap);
}

// h5diff of object obj of files a and b under work: 0 = identical, 1 = differ.
static int h5diff_obj(const char *a, const char *b, const char *obj) {
    char out[4096];
    int rc = run_command(out, sizeof out, "cd %s && h5diff -q %s %s %s %s", work, a, b, obj, obj);
    ck_assert_msg(rc == 0 || rc == 1, "h5diff %s %s %s: exit %d\n%s", a, b, obj, rc, out);
    return rc;
}

// The last part of a long output, for messages (Check caps them at a few KB).
static const char *tail(const char *out) {
    size_t n = strlen(out);
    return n > 1500 ? out + n - 1500 : out;
}

static void setup(void) { mmc_workdir(work, sizeof work, "mmc_pipeline"); }

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

START_TEST(test_np_2_3_5_write_identical_checkpoints_and_metrics) {
    char out[16384];
    const char *methods[] = {"fedavg", "local"};
    for (int m = 0; m < 2; m++) {
        for (int np = 2; np <= 5; np += (np == 3 ? 2 : 1)) {
            char dir[64], extra[64];
            snprintf(dir, sizeof dir, "%s_np%d", methods[m], np);
            snprintf(extra, sizeof extra, "--method=%s --scenario=bomm-hybrid", methods[m]);
            int rc = mmc(np, dir, extra, out, sizeof out);
            ck_assert_msg(rc == 0, "%s -np %d: exit %d\n%.1500s", methods[m], np, rc, out);
            ck_assert_msg(strstr(out, "round 4/4 | loss"), "no round line:\n%.1500s", out);
            if (np == 2) continue;
            char ref[64];
            snprintf(ref, sizeof ref, "%s_np2", methods[m]);
            assert_same_checkpoint(work, ref, dir, 4, NULL);
            assert_same_metrics(work, ref, dir, 4);
        }
    }
    // The run file records the layout, which checkpoints must not.
    ck_assert_int_eq(
        run_command(out, sizeof out, "cd %s && h5dump -a /meta/world_size fedavg_np5/run.h5", work),
        0);
    ck_assert_msg(strstr(out, "(0): 5"), "world_size in run.h5:\n%.1500s", out);
    // So does every rank's peak resident memory: 5 figures, each above 1 MiB.
    ck_assert_int_eq(
        run_command(out, sizeof out,
                    "cd %s && h5dump -y -w 0 -d /meta/peak_rss_kib fedavg_np5/run.h5 | "
                    "tr -s ' ,' '\\n\\n' | "
                    "awk '/^[0-9]+$/ && $1 > 1024 {n++} END {print \"big\", n}'",
                    work),
        0);
    ck_assert_msg(strstr(out, "big 5"), "peak_rss_kib in run.h5:\n%.1500s", out);
}
END_TEST

// OpenBLAS's default thread count follows the environment and Open MPI's binding (bound at -np 2,
// not at -np 3 on a small machine), and threaded sgemm sums in another order: the run sets its own
// count (--blas-threads, default 1), so -np 2 and 3 agree with the caller's thread variables unset.
// The party model at its default width on AV-FashionMNIST: matrices large enough to be threaded.
START_TEST(test_np_2_3_identical_with_the_blas_thread_environment_unset) {
    char out[16384], extra[1200];
    const char *env = "env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u GOTO_NUM_THREADS";
    const char *data = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(extra, sizeof extra,
             "--data=%s%s%s/avfmnist_ci.h5 --width=64 --batch-size=32 "
             "--rounds=2",
             data[0] == '/' ? "" : cwd, data[0] == '/' ? "" : "/", data);
    int one_thread[2];
    for (int np = 2; np <= 3; np++) {
        char dir[32];
        snprintf(dir, sizeof dir, "blas_np%d", np);
        int rc = mmc_env(env, np, dir, extra, out, sizeof out);
        ck_assert_msg(rc == 0, "-np %d: exit %d\n%s", np, rc, tail(out));
        one_thread[np - 2] = strstr(out, "BLAS") && strstr(out, ", 1 thread(s)");
    }
    assert_same_checkpoint(work, "blas_np2", "blas_np3", 2, NULL);
    assert_same_metrics(work, "blas_np2", "blas_np3", 2);
    ck_assert_msg(one_thread[0] && one_thread[1], "one BLAS thread at -np 2: %d, at -np 3: %d",
                  one_thread[0], one_thread[1]);
}
END_TEST

// Each random stream has its own seed: the training stream alone leaves the partition and changes
// the model; the split stream alone changes the partition; --seed=S is every --seed.<stream>=S.
// --sample and --party-dropout make the sampling stream matter too.
START_TEST(test_seed_streams_are_separate_and_default_to_seed) {
    char out[16384];
    const char *common = "--sample=3 --party-dropout=0.3 --ckpt-keep=1";
    struct {
        const char *dir, *seeds;
    } runs[] = {
        {"s1", "--seed=1"},
        {"train7", "--seed=1 --seed.train=7"},
        {"split7", "--seed=1 --seed.split=7"},
        {"all1", "--seed=9 --seed.split=1 --seed.init=1 --seed.train=1 --seed.sample=1"},
    };
    for (int i = 0; i < 4; i++) {
        char extra[256];
        snprintf(extra, sizeof extra, "%s %s", common, runs[i].seeds);
        int rc = mmc(3, runs[i].dir, extra, out, sizeof out);
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", runs[i].seeds, rc, tail(out));
    }
    ck_assert_int_eq(h5diff_obj("s1/run.h5", "train7/run.h5", "/meta/partition"), 0);
    ck_assert_int_eq(
        h5diff_obj("s1/ckpt/round_000004.h5", "train7/ckpt/round_000004.h5", "/cloud/global"), 1);
    ck_assert_int_eq(h5diff_obj("s1/run.h5", "split7/run.h5", "/meta/partition"), 1);
    ck_assert_int_eq(h5diff_obj("s1/run.h5", "all1/run.h5", "/meta/partition"), 0);
    assert_same_checkpoint(work, "s1", "all1", 4, "/cloud");
    assert_same_metrics(work, "s1", "all1", 4);
}
END_TEST

// A resume refuses a checkpoint computed on another data file (same path, other content), naming
// both digests and the file; a resume under another BLAS thread count warns naming both counts.
START_TEST(test_resume_refuses_other_data_and_warns_about_other_blas_threads) {
    char out[16384];
    ck_assert_int_eq(mmc(2, "res", "--stop-after=1", out, sizeof out), 3);
    int rc = mmc(2, "res", "--resume=auto --stop-after=2 --blas-threads=2", out, sizeof out);
    ck_assert_msg(rc == 3, "exit %d\n%s", rc, tail(out));
    ck_assert_msg(strstr(out, "blas_threads 1, this run has blas_threads 2"), "%s", tail(out));
    char sum[256];
    ck_assert_int_eq(run_command(sum, sizeof sum,
                                 "cd %s && sha256sum syn.h5 | cut -c1-64 && "
                                 "%s/build_synmm --out syn.h5 --train 800 --test 200 --seed 2 "
                                 ">/dev/null && sha256sum syn.h5 | cut -c1-64",
                                 work, mmc_bin()),
                     0);
    ck_assert_int_eq((int)strlen(sum), 2 * 65);
    sum[64] = 0, sum[129] = 0;
    rc = mmc(2, "res", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d\n%s", rc, tail(out));
    ck_assert_msg(strstr(out, "refusing to continue on other data") && strstr(out, sum) &&
                      strstr(out, sum + 65) && strstr(out, "--data=syn.h5"),
                  "%s", tail(out));
}
END_TEST

START_TEST(test_stopped_and_resumed_runs_end_identical_to_straight_runs) {
    char out[16384];
    // No persistent state, party state, cloud optimizer state, server optimizer state.
    const char *methods[] = {"fedavg", "local", "centralized", "fedadam"};
    for (int m = 0; m < 4; m++) {
        char straight[64], extra[128];
        snprintf(straight, sizeof straight, "%s_straight", methods[m]);
        snprintf(extra, sizeof extra, "--method=%s", methods[m]);
        ck_assert_int_eq(mmc(3, straight, extra, out, sizeof out), 0);
        for (int k = 1; k <= 3; k++) {
            if (m > 0 && k != 2) continue; // every k for fedavg; the middle one for the others
            char dir[64];
            snprintf(dir, sizeof dir, "%s_stop%d", methods[m], k);
            snprintf(extra, sizeof extra, "--method=%s --stop-after=%d", methods[m], k);
            int rc = mmc(3, dir, extra, out, sizeof out);
            ck_assert_msg(rc == 3, "%s stop after %d: exit %d (3 = requeue)\n%.1500s", methods[m],
                          k, rc, out);
            snprintf(extra, sizeof extra, "--method=%s --resume=auto", methods[m]);
            rc = mmc(2 + k % 2, dir, extra, out, sizeof out); // resume at another -np too
            ck_assert_msg(rc == 0 && strstr(out, "resumed from"), "resume: exit %d\n%.1500s", rc,
                          out);
            assert_same_checkpoint(work, straight, dir, 4, NULL);
            assert_same_metrics(work, straight, dir, 4);
        }
    }
}
END_TEST

// The representation-level baselines: -np independent, and their persistent state (MOON's previous
// local models, FedProto's global prototypes and party models) survives a stop and resume, also
// right after round 1 (MOON's first round has no previous model). With their weight at 0 they are
// exactly FedAvg / local training, and with it on they are not.
START_TEST(test_fedproto_and_moon_are_np_independent_and_resume_identically) {
    char out[16384];
    const char *methods[] = {"fedproto", "moon"};
    for (int m = 0; m < 2; m++) {
        char dir[64], ref[64], extra[128];
        for (int np = 2; np <= 3; np++) {
            snprintf(dir, sizeof dir, "%s_np%d", methods[m], np);
            snprintf(extra, sizeof extra, "--method=%s --scenario=bomm-hybrid", methods[m]);
            int rc = mmc(np, dir, extra, out, sizeof out);
            ck_assert_msg(rc == 0 && strstr(out, "round 4/4 | loss"), "%s -np %d: exit %d\n%.1500s",
                          methods[m], np, rc, tail(out));
        }
        snprintf(ref, sizeof ref, "%s_np2", methods[m]);
        snprintf(dir, sizeof dir, "%s_np3", methods[m]);
        assert_same_checkpoint(work, ref, dir, 4, NULL);
        assert_same_metrics(work, ref, dir, 4);
        for (int k = 1; k <= 2; k++) {
            snprintf(dir, sizeof dir, "%s_stop%d", methods[m], k);
            snprintf(extra, sizeof extra, "--method=%s --scenario=bomm-hybrid --stop-after=%d",
                     methods[m], k);
            int rc = mmc(3, dir, extra, out, sizeof out);
            ck_assert_msg(rc == 3, "%s stop after %d: exit %d\n%.1500s", methods[m], k, rc,
                          tail(out));
            snprintf(extra, sizeof extra, "--method=%s --scenario=bomm-hybrid --resume=auto",
                     methods[m]);
            rc = mmc(2, dir, extra, out, sizeof out);
            ck_assert_msg(rc == 0 && strstr(out, "resumed from"), "resume: exit %d\n%.1500s", rc,
                          tail(out));
            assert_same_checkpoint(work, ref, dir, 4, NULL);
            assert_same_metrics(work, ref, dir, 4);
        }
    }
    // Weight 0: MOON is FedAvg (same metrics, bytes included); FedProto trains the local models.
    ck_assert_int_eq(mmc(2, "fedavg", "--method=fedavg --scenario=bomm-hybrid", out, sizeof out),
                     0);
    ck_assert_int_eq(
        mmc(2, "moon0", "--method=moon --scenario=bomm-hybrid --moon.mu=0", out, sizeof out), 0);
    assert_same_metrics(work, "fedavg", "moon0", 4);
    assert_same_checkpoint(work, "fedavg", "moon0", 4, "/cloud/global");
    ck_assert_int_eq(mmc(2, "local", "--method=local --scenario=bomm-hybrid", out, sizeof out), 0);
    ck_assert_int_eq(mmc(2, "proto0",
                         "--method=fedproto --scenario=bomm-hybrid --fedproto.lambda=0", out,
                         sizeof out),
                     0);
    assert_same_checkpoint(work, "local", "proto0", 4, "/parties/model");
    // Weight on: the models differ.
    // (h5diff exits 1 for a difference, 2 for an error such as a missing object.)
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && h5diff -q fedavg/ckpt/round_000004.h5 "
                                 "moon_np2/ckpt/round_000004.h5 /cloud/global /cloud/global",
                                 work),
                     1);
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && h5diff -q local/ckpt/round_000004.h5 "
                                 "fedproto_np2/ckpt/round_000004.h5 /parties/model /parties/model",
                                 work),
                     1);
}
END_TEST

START_TEST(test_truncated_newest_checkpoint_falls_back_with_a_warning) {
    char out[16384];
    ck_assert_int_eq(mmc(3, "straight", "", out, sizeof out), 0);
    ck_assert_int_eq(mmc(3, "cut", "--stop-after=3", out, sizeof out), 3);
    ck_assert_int_eq(
        run_command(NULL, 0, "cd %s && truncate -s 2000 cut/ckpt/round_000003.h5", work), 0);
    int rc = mmc(3, "cut", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%.1500s", rc, out);
    ck_assert_msg(strstr(out, "skipping checkpoint") && strstr(out, "round_000003.h5"), "%.1500s",
                  out);
    ck_assert_msg(strstr(out, "resumed from cut/ckpt/round_000002.h5"), "%.1500s", out);
    assert_same_checkpoint(work, "straight", "cut", 4, NULL);
    assert_same_metrics(work, "straight", "cut", 4);
}
END_TEST

START_TEST(test_resume_with_another_config_is_refused_naming_the_key) {
    char out[16384];
    ck_assert_int_eq(mmc(2, "cfg", "--stop-after=1", out, sizeof out), 3);
    int rc = mmc(3, "cfg", "--resume=auto --lr=0.01", out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d\n%.1500s", rc, out);
    ck_assert_msg(strstr(out, "different configuration") &&
                      strstr(out, "lr (checkpoint '0.001', now '0.01')"),
                  "%.1500s", out);
    // Without --resume=auto an earlier run's checkpoints are not overwritten.
    rc = mmc(2, "cfg", "", out, sizeof out);
    ck_assert_msg(rc != 0 && strstr(out, "--resume=auto"), "exit %d\n%.1500s", rc, out);
}
END_TEST

START_TEST(test_bad_options_end_every_rank_non_zero) {
    struct {
        int np;
        const char *extra, *needle;
    } cases[] = {
        {3, "--rounds=-1", "--rounds=-1"},
        {3, "--scenario.alpha=0", "alpha"},
        {3, "--scenario=bogus", "--scenario=bogus"},
        {5, "--parties=2", "2 parties cannot fill 4 host ranks"},
        {3, "--data=/nonexistent/x.h5", "/nonexistent/x.h5"},
        {3, "--method=fedavg --fedprox.mu=1", "belongs to --method=fedprox"},
        {3, "--out=", "--out=: the run directory is empty"}, // after --out=bad: the last wins
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16384];
        int rc = mmc(cases[i].np, "bad", cases[i].extra, out, sizeof out);
        ck_assert_msg(rc != 0 && rc != 124, "%s: exit %d (124 = hang)\n%.1500s", cases[i].extra, rc,
                      out);
        ck_assert_msg(strstr(out, cases[i].needle), "%s: message lacks '%s':\n%.1500s",
                      cases[i].extra, cases[i].needle, out);
    }
}
END_TEST

// A refused run ends quickly on every rank: a healthy run here takes 1-2 s, a refusal under 2.
#define REFUSAL_S 30

// Each rank's own exit code, printed by a shell around it: exit 2 must be every rank's, not only
// the one mpirun reports. Rounds 4, 4 parties, width 16 as the other tests; then the case's own.
START_TEST(test_bad_options_exit_2_on_every_rank_quickly_naming_the_option) {
    char config_dir[96];
    snprintf(config_dir, sizeof config_dir, "--config=%s", work);
    struct {
        const char *env, *extra, *needle;
    } cases[] = {
        // when parsed: the config file, a value, a rule between options, a file
        {"", config_dir, "config file is a directory"},
        {"", "--config=/dev/zero", "/dev/zero: config file is a character device"},
        {"", "--out=", "--out=: the run directory is empty"},
        {"", "--parties=1000000000", "--parties=1000000000: expected an integer in [1, 100000]"},
        {"", "--width=100000", "--width=100000: expected an integer in [2, 4096]"},
        {"", "--batch-size=1000000000", "--batch-size=1000000000: expected an integer"},
        {"", "--lr=1e308", "--lr=1e308: expected a finite number in (0, 10]"},
        {"", "--scenario.alpha=-1", "--scenario.alpha=-1: expected a finite number in (0, 10000]"},
        {"", "--scenario.cross=a:b:c", "--scenario.cross=a:b:c: expected colon-separated"},
        {"", "--scenario=bogus", "--scenario=bogus: unknown preset"},
        {"", "--data=/nonexistent/x.h5", "--data=/nonexistent/x.h5: No such file"},
        {"", "--method=bomm --bomm.mm-width=65", "--bomm.mm-width=65 is not a multiple of"},
        // at the run's start: against the data (800 training rows), the model and the memory
        {"", "--parties=5000", "--parties=5000: more parties than the 800 training rows"},
        {"", "--trainable=nope", "--trainable=nope: 'nope' names no tensor"},
        {"MMC_MEM_AVAILABLE=1000000", "--width=512", "--width=512) with --batch-size=16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16384], dir[32];
        snprintf(dir, sizeof dir, "refused%zu", i);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = run_command(
            out, sizeof out,
            "cd %s && env %s timeout %d mpirun --oversubscribe %s -np 3 sh -c '\"$0\" \"$@\"; "
            "echo \"rank $OMPI_COMM_WORLD_RANK exit $?\"' %s/mmcollab --data=syn.h5 --out=%s "
            "--parties=4 --rounds=4 --width=16 --batch-size=16 %s 2>&1; test -e %s && echo wrote "
            "%s",
            work, cases[i].env, RUN_TIMEOUT_S, cases[i].env[0] ? "-x MMC_MEM_AVAILABLE" : "",
            mmc_bin(), dir, cases[i].extra, dir, dir);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        ck_assert_msg(rc != 124, "%s: hang\n%s", cases[i].extra, tail(out));
        for (int r = 0; r < 3; r++) {
            char want[32];
            snprintf(want, sizeof want, "rank %d exit 2", r);
            ck_assert_msg(strstr(out, want), "%s: no '%s'\n%s", cases[i].extra, want, tail(out));
        }
        ck_assert_msg(strstr(out, cases[i].needle), "%s: message lacks '%s':\n%s", cases[i].extra,
                      cases[i].needle, tail(out));
        ck_assert_msg(!strstr(out, "wrote "), "%s: the run directory was created\n%s",
                      cases[i].extra, tail(out));
        ck_assert_msg(s < REFUSAL_S, "%s: %.1f s to refuse", cases[i].extra, s);
    }
}
END_TEST

static const char *data_dir(void) {
    return getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Occurrences of needle in hay.
static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

// One bit of byte off of work/name flipped.
static void flip_bit(const char *name, long off) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", work, name);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
    ck_assert_int_ne(fputc(c ^ 0x10, f), EOF);
    ck_assert_int_eq(fclose(f), 0);
}

// An input refused by the integrity gate at -np 3: exit 2 from every rank (each rank's own code,
// as above; a rank left in a collective would hang into the timeout), quickly, rank 0's message
// naming the file exactly once, and no run directory written.
static void assert_refused(const char *extra, const char *needle, const char *hint) {
    char out[16384];
    double t0 = now_s();
    int rc = run_command(
        out, sizeof out,
        "cd %s && timeout %d mpirun --oversubscribe -np 3 sh -c '\"$0\" \"$@\"; "
        "echo \"rank $OMPI_COMM_WORLD_RANK exit $?\"' %s/mmcollab --data=syn.h5 --out=refused "
        "--parties=4 --rounds=4 --width=16 --batch-size=16 %s 2>&1; test -e refused && echo "
        "wrote refused",
        work, RUN_TIMEOUT_S, mmc_bin(), extra);
    double took = now_s() - t0;
    ck_assert_msg(rc != 124, "%s: hang\n%s", extra, tail(out));
    for (int r = 0; r < 3; r++) {
        char want[32];
        snprintf(want, sizeof want, "rank %d exit 2", r);
        ck_assert_msg(strstr(out, want), "%s: no '%s'\n%s", extra, want, tail(out));
    }
    ck_assert_msg(took < REFUSAL_S, "%s: %.1f s to refuse", extra, took);
    ck_assert_msg(count_of(out, needle) == 1, "%s: '%s' appears %d times, not once:\n%s", extra,
                  needle, count_of(out, needle), tail(out));
    ck_assert_msg(strstr(out, hint), "%s: no hint '%s':\n%s", extra, hint, tail(out));
    ck_assert_msg(!strstr(out, "wrote "), "%s: the refused run wrote its directory\n%s", extra,
                  tail(out));
}

START_TEST(test_damaged_or_unsealed_inputs_are_refused_on_every_rank) {
    // A damaged copy of the data with the original's digest file: one bit in the middle (a chunk),
    // then one in the first KiB (the superblock and root object header).
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && cp syn.h5 dmg.h5 && sed s/syn.h5/dmg.h5/ syn.h5.sha256 "
                                 "> dmg.h5.sha256 && cp dmg.h5 dmg0.h5 && "
                                 "sed s/syn.h5/dmg0.h5/ syn.h5.sha256 > dmg0.h5.sha256",
                                 work),
                     0);
    struct stat st;
    char path[256];
    snprintf(path, sizeof path, "%s/syn.h5", work);
    ck_assert_int_eq(stat(path, &st), 0);
    flip_bit("dmg.h5", (long)st.st_size / 2);
    flip_bit("dmg0.h5", 700);
    assert_refused("--data=dmg.h5", "dmg.h5: sha256", "rebuild the file");
    assert_refused("--data=dmg0.h5", "dmg0.h5: sha256", "rebuild the file");
    // Damaged is damaged: --data-unverified does not bypass a digest that does not match.
    assert_refused("--data=dmg.h5 --data-unverified=true", "dmg.h5: sha256", "(damaged)");
    // No digest file: refused, saying how to proceed; --data-unverified reads it and records the
    // digest the gate computed, the one sha256sum computes.
    ck_assert_int_eq(run_command(NULL, 0, "cd %s && cp syn.h5 bare.h5", work), 0);
    assert_refused("--data=bare.h5", "bare.h5: no digest file", "--data-unverified=true");
    char out[16384], sum[128], meta[4096];
    int rc = mmc(3, "bare", "--data=bare.h5 --data-unverified=true --rounds=1", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%s", rc, tail(out));
    ck_assert_msg(strstr(out, "has no digest file: read unverified"), "%s", tail(out));
    ck_assert_int_eq(run_command(sum, sizeof sum, "cd %s && sha256sum bare.h5 | cut -c1-64", work),
                     0);
    sum[64] = '\0';
    ck_assert_int_eq(
        run_command(meta, sizeof meta, "cd %s && h5dump -a /meta/data_sha256 bare/run.h5", work),
        0);
    ck_assert_msg(strstr(meta, sum), "run.h5 records another digest than %s:\n%s", sum, meta);
    // A base model without its digest file (a copy of a sealed one), refused before any rank reads
    // it; the model's file is checked before the data is opened.
    char base[512];
    snprintf(base, sizeof base, "%s/base/mllm_tiny.h5", data_dir());
    ck_assert_int_eq(run_command(NULL, 0, "cp %s %s/base.h5", base, work), 0);
    assert_refused("--model=mllm --mllm.base=base.h5", "base.h5: no digest file",
                   "make base-model");
}
END_TEST

START_TEST(test_sigusr1_to_mpirun_checkpoints_exits_3_and_resumes_identically) {
    char out[16384];
    // A long run: the signal arrives mid-run; it stops at the end of the current round.
    // The absolute --out (this test's own temp dir) keeps the pkill pattern from matching the same
    // test running at the same time from another checkout on the machine.
    // 600 rounds of 2-3 ms on an idle machine leave over a second for the signal to arrive; under
    // load a round takes up to ~100 ms, hence the longer timeout (on expiry `timeout` sends
    // SIGTERM, which the ranks would also answer with a checkpoint and exit 3).
    const char *opts = "--rounds=600 --eval-every=200 --ckpt-every=200";
    const int timeout_s = 600;
    int rc = run_command(
        out, sizeof out,
        "cd %s || exit 9; (timeout %d mpirun --oversubscribe -np 3 %s/mmcollab --data=syn.h5 "
        "--out=%s/sig --parties=4 --width=16 --batch-size=16 %s > sig.log 2>&1; echo $? > "
        "sig.rc) & sleep 0.2; for i in $(seq 400); do grep -q 'round 2/' %s/sig.log "
        "2>/dev/null && break; sleep 0.05; done; pkill -USR1 -f '^mpirun .*--out=%s/sig ' ; "
        "wait; cat sig.rc; cat sig.log",
        work, timeout_s, mmc_bin(), work, opts, work, work);
    ck_assert_msg(rc == 0 && strncmp(out, "3\n", 2) == 0, "expected exit 3 first:\n%.1500s", out);
    ck_assert_msg(strstr(out, "stop requested (SIGUSR1)"), "%.1500s", out);
    int stopped_at = 0;
    const char *p = strstr(out, "checkpoint of round ");
    ck_assert_ptr_nonnull(p);
    stopped_at = atoi(p + strlen("checkpoint of round "));
    ck_assert_int_lt(stopped_at, 600);
    rc = run_command(out, sizeof out,
                     "cd %s && timeout %d mpirun --oversubscribe -np 2 %s/mmcollab --data=syn.h5 "
                     "--out=%s/sig --parties=4 --width=16 --batch-size=16 %s --resume=auto 2>&1 && "
                     "timeout %d mpirun --oversubscribe -np 3 %s/mmcollab --data=syn.h5 --out=ref "
                     "--parties=4 --width=16 --batch-size=16 %s 2>&1",
                     work, timeout_s, mmc_bin(), work, opts, timeout_s, mmc_bin(), opts);
    ck_assert_msg(rc == 0, "exit %d\n%s", rc, tail(out));
    assert_same_checkpoint(work, "ref", "sig", 600, NULL);
    assert_same_metrics(work, "ref", "sig", 600);
}
END_TEST

Suite *pipeline_suite(void) {
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("mmcollab");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_np_2_3_5_write_identical_checkpoints_and_metrics);
    tcase_add_test(tc, test_np_2_3_identical_with_the_blas_thread_environment_unset);
    tcase_add_test(tc, test_seed_streams_are_separate_and_default_to_seed);
    tcase_add_test(tc, test_resume_refuses_other_data_and_warns_about_other_blas_threads);
    tcase_add_test(tc, test_stopped_and_resumed_runs_end_identical_to_straight_runs);
    tcase_add_test(tc, test_fedproto_and_moon_are_np_independent_and_resume_identically);
    tcase_add_test(tc, test_truncated_newest_checkpoint_falls_back_with_a_warning);
    tcase_add_test(tc, test_resume_with_another_config_is_refused_naming_the_key);
    tcase_add_test(tc, test_bad_options_end_every_rank_non_zero);
    tcase_add_test(tc, test_sigusr1_to_mpirun_checkpoints_exits_3_and_resumes_identically);
    suite_add_tcase(s, tc);
    TCase *refused = tcase_create("refused");
    tcase_add_checked_fixture(refused, setup, teardown);
    tcase_set_timeout(refused, 600);
    tcase_add_test(refused, test_bad_options_exit_2_on_every_rank_quickly_naming_the_option);
    tcase_add_test(refused, test_damaged_or_unsealed_inputs_are_refused_on_every_rank);
    suite_add_tcase(s, refused);
    return s;
}
