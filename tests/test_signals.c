// test_signals.c - stop signals against build/bin/mmcollab under a real mpirun -np 3
// (docs/signals.md), with rounds longer than mpirun's kill delay (fedavg on the CI
// AV-FashionMNIST file, local epochs calibrated so that a round outlasts mpirun's kill delay):
//   - `timeout -s TERM T mpirun` firing mid-round: every rank is gone within mpirun's relay plus
//     --term-grace, round 1's checkpoint is the newest, and --resume=auto ends identical to an
//     uninterrupted run (h5diff of the final checkpoints, metrics.csv);
//   - SIGUSR1 to mpirun: a checkpoint of the current round, exit 3, the resume identical;
//   - SIGTERM to one rank only: the job still ends (every rank, no hang) within a bound, the resume
//     identical;
//   - the grace timer firing inside a checkpoint write: the previous checkpoint stays the newest,
//     the half-written one is never published, the resume identical;
//   - with rounds shorter than the grace: SIGTERM through `timeout --foreground mpirun` or to
//     every rank, and SIGUSR1 through `timeout mpirun`, give a checkpoint of the current round
//     (equal to a --stop-after run's);
//   - --term-grace out of range or not a number: exit 2 naming the key.
// Runs from the repository root (where `make test` runs); binaries from MMC_BIN_DIR, data from
// MMC_DATA_DIR.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

// Open MPI 4.1's mpirun on SIGTERM/SIGINT/SIGHUP: SIGCONT to the ranks at once, SIGTERM 1 s
// later, SIGKILL 1 s after that (odls_base_sigkill_timeout = 1; measured, docs/signals.md).
#define MPIRUN_RELAY_S 1.0
// Start-up and teardown of 3 ranks, and the 50 ms polling, on a loaded 2-core machine.
#define SLACK_S 1.5
// --term-grace's default (cli/config.c), which these runs use.
#define GRACE_S 0.5
// A round must outlast mpirun's TERM-to-KILL delay (2 s), or the runs here test nothing. Measured
// with 16 local epochs: 2.4 s a round on an idle machine, 5.4 s under a load of 5 on 2 cores;
// reference() raises the epochs on a faster machine.
#define MIN_ROUND_MS 2000
#define RUN_TIMEOUT_S 300
// `timeout` fires at a fixed time; the load moves the rounds (see the test).
#define TIMEOUT_ATTEMPTS 3

static char work[64];
static char data[1200]; // absolute path of avfmnist_ci.h5

// Once for the test case (the reference run is shared through the file system; each test runs
// in its own fork). No ck_assert here: the tests find a missing directory themselves.
static void setup_once(void) {
    snprintf(work, sizeof work, "/tmp/mmc_signals.XXXXXX");
    if (!mkdtemp(work)) work[0] = 0;
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    static char abs_bin[1200];
    if (mmc_bin()[0] != '/') {
        snprintf(abs_bin, sizeof abs_bin, "%s/%s", cwd, mmc_bin());
        setenv("MMC_BIN_DIR", abs_bin, 1);
    }
    const char *d = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    snprintf(data, sizeof data, "%s%s%s/avfmnist_ci.h5", d[0] == '/' ? "" : cwd,
             d[0] == '/' ? "" : "/", d);
}

static void teardown_once(void) {
    if (work[0]) run_command(NULL, 0, "rm -rf %s", work);
}

// Starts `prefix mpirun -np 3 mmcollab opts --out=<work>/<dir>` in the background (prefix may be
// `timeout ...`), waits for its start-up line, then until the shell condition `ready` holds (it
// may read <dir>.log; polled every 10 ms), sleeps `delay` seconds, then runs `action` at once,
// where $MP is mpirun's pid and $RANKS the ranks' pids, and waits for the launched command, then
// for every rank to be gone (ranks mpirun left behind die on their own: at most GONE_WAIT_S). out
// gets the line
//   rc=R action_at=S returned_after=S gone_after=S alive=N
// (R the launched command's exit code; times in seconds: the action from the start, its return
// and the last rank's end from the action; N ranks still running GONE_WAIT_S after the return,
// which are then killed), then the log without the option table and the round lines of the
// short-round runs. Returns the shell's exit.
#define GONE_WAIT_S 10
static int launch(char *out, size_t cap, const char *dir, const char *prefix, const char *opts,
                  const char *ready, double delay, const char *action) {
    ck_assert_msg(work[0], "no work directory");
    char pause[32] = ""; // no sleep at all for 0: a fork is late for the commit test
    if (delay > 0) snprintf(pause, sizeof pause, "sleep %g;", delay);
    return run_command(
        out, cap,
        "cd %s || exit 9; now() { date +%%s.%%N; }; "
        "alive() { n=0; for p in $RANKS; do case \"$(ps -o stat= -p $p)\" in ''|Z*) ;; "
        "*) n=$((n+1));; esac; done; echo $n; }; "
        "%s mpirun --oversubscribe -np 3 %s/mmcollab --data=%s %s --out=%s/%s > %s.log 2>&1 & "
        "L=$!; t0=$(now); i=0; "
        "until grep -q '| method ' %s.log 2>/dev/null; do i=$((i+1)); [ $i -gt 6000 ] && break; "
        "sleep 0.01; "
        "done; MP=$(pgrep -x mpirun -P $L || echo $L); RANKS=$(pgrep -P $MP | tr '\\n' ' '); "
        "until %s; do i=$((i+1)); [ $i -gt 12000 ] && break; sleep 0.01; done; %s "
        "%s; t1=$(now); wait $L; rc=$?; tr=$(now); i=0; "
        "while [ $(alive) -gt 0 ] && [ $i -lt %d ]; do i=$((i+1)); sleep 0.05; done; "
        "t2=$(now); n=$(alive); for p in $RANKS; do case \"$(ps -o stat= -p $p)\" in ''|Z*) ;; "
        "*) kill -KILL $p;; esac; done; "
        "awk -v a=$t0 -v b=$t1 -v r=$tr -v c=$t2 -v rc=$rc -v n=$n 'BEGIN {printf \"rc=%%d "
        "action_at=%%.3f returned_after=%%.3f gone_after=%%.3f alive=%%d\\n\", rc, b-a, r-b, "
        "c-b, n}'; grep -v -e '^[|+]' -e '/1000000 |' %s.log",
        work, prefix, mmc_bin(), data, opts, work, dir, dir, dir, ready, pause, action,
        GONE_WAIT_S * 20, dir);
}

// A plain run (or a resume) in the foreground: its exit code, its output as launch's into out.
static int run_mmc(char *out, size_t cap, const char *dir, const char *opts) {
    return run_command(out, cap,
                       "cd %s && timeout %d mpirun --oversubscribe -np 3 %s/mmcollab --data=%s %s "
                       "--out=%s/%s > %s.out 2>&1; rc=$?; "
                       "grep -v -e '^[|+]' -e '/1000000 |' %s.out; exit $rc",
                       work, RUN_TIMEOUT_S, mmc_bin(), data, opts, work, dir, dir, dir);
}

// The last part of a long output, for messages (Check caps them at a few KB).
static const char *tail(const char *out) {
    size_t n = strlen(out);
    return n > 2500 ? out + n - 2500 : out;
}

// The uninterrupted reference run (once: later tests find it in ref.times), with as many local
// epochs as make a round outlast MIN_ROUND_MS on this machine (16 on the machine the test was
// written on; a faster one gets more, in up to 3 calibration runs); when its first checkpoint
// appeared (seconds from the start) and how long its second round took: what the timeout test
// aims at. A failed calibration is recorded (ref.failed), so that later tests report it instead
// of running into the directory it left behind.
#define REF_ATTEMPTS 3
static void reference(double *ck1_at, double *round2_s, int *epochs) {
    char out[65536], path[256], failed[256];
    snprintf(path, sizeof path, "%s/ref.times", work);
    snprintf(failed, sizeof failed, "%s/ref.failed", work);
    FILE *f = fopen(failed, "r");
    if (f) {
        char why[2048] = "";
        size_t n = fread(why, 1, sizeof why - 1, f);
        why[n] = 0;
        fclose(f);
        ck_abort_msg("the reference run failed in an earlier test: %s", why);
    }
    f = fopen(path, "r");
    int e = 16;
    for (int attempt = 0; !f && attempt < REF_ATTEMPTS; attempt++) {
        char opts[128], why[4096] = "";
        snprintf(opts, sizeof opts, "--rounds=2 --local-epochs=%d --ckpt-every=1", e);
        run_command(NULL, 0, "rm -rf %s/ref", work);
        int rc =
            launch(out, sizeof out, "ref", "", opts, "grep -q round_000001.h5 ref.log", 0, "true");
        double round_ms = 0;
        const char *r2 = strstr(out, "round 2/2");
        const char *unit = r2 ? strstr(r2, " ms |") : NULL;
        if (unit) {
            const char *num = unit;
            while (num > r2 && num[-1] != ' ')
                num--;
            round_ms = atof(num);
        }
        if (rc != 0 || value_after(out, "rc=") != 0 || round_ms <= 0)
            snprintf(why, sizeof why, "%s: %.3000s", opts, tail(out));
        else if (round_ms < MIN_ROUND_MS && attempt + 1 == REF_ATTEMPTS)
            snprintf(why, sizeof why,
                     "a round of %s took %.0f ms, below mpirun's kill delay: these runs would "
                     "not test a mid-round stop",
                     opts, round_ms);
        if (why[0]) {
            FILE *w = fopen(failed, "w");
            if (w) fputs(why, w), fclose(w);
            ck_abort_msg("reference run: %s", why);
        }
        if (round_ms < MIN_ROUND_MS) { // aim at 1.5x the bound: the load varies
            e = (int)(e * 1.5 * MIN_ROUND_MS / round_ms) + 1;
            continue;
        }
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%.3f %.3f %d\n", value_after(out, "action_at="), round_ms / 1e3, e);
        fclose(f);
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
    }
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lf %lf %d", ck1_at, round2_s, epochs), 3);
    fclose(f);
}

// The long-round options the reference run calibrated, followed by `more`.
static const char *long_opts(const char *more) {
    static char opts[256];
    double a, b;
    int e;
    reference(&a, &b, &e);
    snprintf(opts, sizeof opts, "--rounds=2 --local-epochs=%d --ckpt-every=1 %s", e, more);
    return opts;
}

// --resume=auto of dir completes and ends identical to the reference (the final checkpoint by
// h5diff, metrics.csv but for the wall-clock and layout columns). Returns the round it resumed
// from.
static int resume_identical(const char *dir) {
    char out[65536];
    int rc = run_mmc(out, sizeof out, dir, long_opts("--resume=auto"));
    ck_assert_msg(rc == 0, "%s --resume=auto: exit %d\n%s", dir, rc, tail(out));
    const char *p = strstr(out, "resumed from ");
    ck_assert_msg(p, "%s: no checkpoint to resume from:\n%s", dir, tail(out));
    assert_same_checkpoint(work, "ref", dir, 2, NULL);
    assert_same_metrics(work, "ref", dir, 2);
    p = strstr(p, "(round ");
    ck_assert_ptr_nonnull(p);
    return atoi(p + strlen("(round "));
}

// `timeout` sends TERM twice (to mpirun, then to its process group), and Open MPI 4.1's mpirun
// exits at once on a second TERM if it handled the first already: then the ranks, left without
// it, die on their own within ~2 s. Otherwise mpirun relays the TERM a second later and the
// ranks' grace runs out. Either way every rank is gone within the bound and round 1's checkpoint
// is the newest (docs/signals.md).
START_TEST(test_timeout_term_mid_round_exits_at_the_last_checkpoint_and_resumes_identically) {
    double ck1_at, round_s;
    int epochs;
    reference(&ck1_at, &round_s, &epochs);
    // Half way through round 2: round 1's checkpoint is published, round 2 has seconds to go.
    // The machine's load changes the timing from run to run: an attempt that lands before round
    // 1's checkpoint or after round 2's end is repeated half a round later or earlier.
    double t = ck1_at + 0.5 * round_s;
    char out[65536], latest[4096] = "";
    int attempt;
    for (attempt = 0; attempt < TIMEOUT_ATTEMPTS; attempt++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "timeout -s TERM %.2f", t);
        run_command(NULL, 0, "rm -rf %s/to", work);
        launch(out, sizeof out, "to", prefix, long_opts(""), "true", 0, "true");
        run_command(latest, sizeof latest, "cat %s/to/ckpt/latest 2>/dev/null", work);
        if (strstr(latest, "round_000001.h5")) break;
        t += (latest[0] ? -0.5 : 0.5) * round_s;
    }
    ck_assert_msg(attempt < TIMEOUT_ATTEMPTS,
                  "TERM never landed in round 2 (last at %.2f s; round 1's checkpoint at %.2f s "
                  "and rounds of %.2f s in the reference run):\n%s",
                  t, ck1_at, round_s, tail(out));
    ck_assert_msg(value_after(out, "rc=") == 124, "timeout's exit (124 = it fired):\n%s",
                  tail(out));
    ck_assert_msg(value_after(out, "alive=") == 0, "ranks left running:\n%s", tail(out));
    double late = value_after(out, "action_at=") + value_after(out, "gone_after=") - t;
    double bound = MPIRUN_RELAY_S + GRACE_S + SLACK_S;
    ck_assert_msg(late <= bound,
                  "the last rank ended %.2f s after timeout's TERM (bound %.1f s):\n%s", late,
                  bound, tail(out));
    // mpirun gone well before its relay delay: it left at once on the second TERM, and the
    // ranks died on their own. Else it relayed the TERM: the ranks left when their grace ran
    // out, saying so, not killed by mpirun a second later.
    double returned = value_after(out, "action_at=") + value_after(out, "returned_after=") - t;
    if (returned >= 0.5 * MPIRUN_RELAY_S)
        ck_assert_msg(strstr(out, "round 2 did not end within --term-grace=0.5 s: exit 3 without "
                                  "its checkpoint; --resume=auto continues from round 1"),
                      "mpirun relayed the TERM (it returned %.2f s after it), but no rank left "
                      "by its grace:\n%s",
                      returned, tail(out));
    ck_assert_int_eq(resume_identical("to"), 1);
}
END_TEST

START_TEST(test_sigusr1_to_mpirun_checkpoints_the_round_exits_3_and_resumes_identically) {
    char out[65536];
    // One second into round 1 (its log line comes seconds later).
    launch(out, sizeof out, "usr1", "", long_opts(""), "true", 1.0, "kill -USR1 $MP");
    ck_assert_msg(value_after(out, "rc=") == 3, "mpirun's exit (3 = requeue):\n%s", tail(out));
    ck_assert_msg(value_after(out, "alive=") == 0, "ranks left running:\n%s", tail(out));
    ck_assert_msg(strstr(out, "stop requested (SIGUSR1) in round 1: writing its checkpoint") &&
                      strstr(out, "stop requested (SIGUSR1): checkpoint of round 1 written"),
                  "%s", tail(out));
    ck_assert_int_eq(resume_identical("usr1"), 1);
}
END_TEST

START_TEST(test_sigterm_to_one_rank_ends_every_rank_and_resumes_identically) {
    char out[65536];
    // Rank 1 alone, half a second into round 2; ranks 0 and 2 get nothing from the test.
    launch(out, sizeof out, "one", "", long_opts(""), "grep -q round_000001.h5 one.log", 0.5,
           "for p in $RANKS; do tr '\\0' '\\n' < /proc/$p/environ | "
           "grep -qx OMPI_COMM_WORLD_RANK=1 && kill -TERM $p; done");
    ck_assert_msg(value_after(out, "rc=") == 3, "mpirun's exit (3: rank 1's):\n%s", tail(out));
    ck_assert_msg(value_after(out, "alive=") == 0, "ranks left running:\n%s", tail(out));
    // Rank 1's grace; then mpirun, seeing it gone, relays TERM to the others: their grace.
    double bound = GRACE_S + MPIRUN_RELAY_S + GRACE_S + SLACK_S;
    ck_assert_msg(value_after(out, "gone_after=") <= bound,
                  "the last rank ended %.2f s after the TERM (bound %.1f s):\n%s",
                  value_after(out, "gone_after="), bound, tail(out));
    ck_assert_msg(strstr(out, "round 2 did not end within --term-grace"), "%s", tail(out));
    ck_assert_int_eq(resume_identical("one"), 1);
}
END_TEST

START_TEST(test_grace_exit_inside_a_checkpoint_write_keeps_the_last_one_and_resumes_identically) {
    char out[65536];
    // TERM to every rank as soon as round 2's checkpoint file is being written (it lives 0.2 to
    // 0.6 s under its .tmp name here, measured); the timer fires 10 ms later, inside the
    // collective write.
    // Round 2 trains for seconds after round 1's checkpoint: then a busy wait, not to be late.
    launch(out, sizeof out, "commit", "", long_opts("--term-grace=0.01"),
           "grep -q round_000001.h5 commit.log && "
           "until [ -e commit/ckpt/round_000002.h5.tmp ]; do :; done",
           0, "kill -TERM $RANKS");
    ck_assert_msg(value_after(out, "rc=") == 3, "mpirun's exit:\n%s", tail(out));
    ck_assert_msg(value_after(out, "alive=") == 0, "ranks left running:\n%s", tail(out));
    ck_assert_msg(strstr(out, "exit 3 while writing the checkpoint of round 2"), "%s", tail(out));
    // Cut inside the write: the file never got its final name, round 1 is the newest.
    char ls[1024];
    ck_assert_int_eq(run_command(ls, sizeof ls, "cd %s/commit/ckpt && ls", work), 0);
    ck_assert_msg(strstr(ls, "round_000002.h5.tmp") && !strstr(ls, "round_000002.h5\n"),
                  "the exit was not inside the write of round 2's checkpoint: %s", ls);
    ck_assert_int_eq(resume_identical("commit"), 1);
}
END_TEST

// Rounds of a few ms: every rank reaches the round's agreement within the grace, so a stop
// signal gives a checkpoint of the round it arrived in: SIGTERM through `timeout --foreground`
// (one TERM: mpirun relays it), SIGTERM to every rank, SIGUSR1 through `timeout` (mpirun
// forwards it). The first is checked against a run stopped there with --stop-after.
START_TEST(test_stop_signals_with_short_rounds_checkpoint_the_current_round) {
    char out[65536], opts[256];
    ck_assert_int_eq(run_command(out, sizeof out,
                                 "cd %s && %s/build_synmm --out syn.h5 --train 800 --test 200",
                                 work, mmc_bin()),
                     0);
    const char *shrt = "--data=syn.h5 --parties=4 --width=16 --batch-size=16 --rounds=1000000 "
                       "--eval-every=1000000 --ckpt-every=1000000";
    struct {
        const char *dir, *prefix, *action, *stop;
        int rc;
    } cases[] = {
        {"short_fg", "timeout --foreground -s TERM 3", "true", "SIGTERM", 124},
        {"short_all", "", "kill -TERM $RANKS", "SIGTERM", 3},
        {"short_usr1", "timeout -s USR1 3", "true", "SIGUSR1", 124},
    };
    for (int i = 0; i < 3; i++) {
        char stop[128];
        // shrt's --data comes after launch's: the later one wins.
        launch(out, sizeof out, cases[i].dir, cases[i].prefix, shrt, "true", 1.0, cases[i].action);
        ck_assert_msg(value_after(out, "rc=") == cases[i].rc, "%s: exit:\n%s", cases[i].dir,
                      tail(out));
        ck_assert_msg(value_after(out, "alive=") == 0, "ranks left running:\n%s", tail(out));
        snprintf(stop, sizeof stop, "stop requested (%s): checkpoint of round ", cases[i].stop);
        const char *p = strstr(out, stop);
        ck_assert_msg(p, "%s: no checkpoint of the current round:\n%s", cases[i].dir, tail(out));
        int k = atoi(p + strlen(stop));
        ck_assert_int_gt(k, 0);
        char latest[4096];
        ck_assert_int_eq(
            run_command(latest, sizeof latest, "cat %s/%s/ckpt/latest", work, cases[i].dir), 0);
        char want[32];
        snprintf(want, sizeof want, "round_%06d.h5", k);
        ck_assert_msg(strstr(latest, want), "%s: latest is %s, not %s", cases[i].dir, latest, want);
        if (i > 0) continue;
        snprintf(opts, sizeof opts, "%s --stop-after=%d", shrt, k);
        ck_assert_int_eq(run_mmc(out, sizeof out, "short_ref", opts), 3);
        assert_same_checkpoint(work, "short_ref", cases[i].dir, k, NULL);
    }
}
END_TEST

START_TEST(test_term_grace_is_validated_naming_the_key) {
    char out[16384];
    const char *bad[] = {"--term-grace=-1", "--term-grace=abc", "--term-grace=1e9"};
    for (int i = 0; i < 3; i++) {
        int rc =
            run_command(out, sizeof out, "cd %s && timeout 60 mpirun -np 1 %s/mmcollab %s 2>&1",
                        work, mmc_bin(), bad[i]);
        ck_assert_msg(rc == 2, "%s: exit %d (2 = bad option)\n%s", bad[i], rc, out);
        ck_assert_msg(strstr(out, "term-grace"), "%s: the message lacks the key:\n%s", bad[i], out);
    }
}
END_TEST

Suite *signals_suite(void) {
    Suite *s = suite_create("signals");
    TCase *tc = tcase_create("mpirun");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_term_grace_is_validated_naming_the_key);
    tcase_add_test(
        tc, test_timeout_term_mid_round_exits_at_the_last_checkpoint_and_resumes_identically);
    tcase_add_test(tc,
                   test_sigusr1_to_mpirun_checkpoints_the_round_exits_3_and_resumes_identically);
    tcase_add_test(tc, test_sigterm_to_one_rank_ends_every_rank_and_resumes_identically);
    tcase_add_test(
        tc, test_grace_exit_inside_a_checkpoint_write_keeps_the_last_one_and_resumes_identically);
    tcase_add_test(tc, test_stop_signals_with_short_rounds_checkpoint_the_current_round);
    suite_add_tcase(s, tc);
    return s;
}
