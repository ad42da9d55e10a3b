// test_security.c - the federation's defences end to end (docs/security.md): build/bin/mmcollab
// under real mpirun on the SynMM test file, run files read back with h5dump.
//   - secure aggregation: the global model bit-identical to the plain run's at any -np; members
//     that vanish after sharing their keys are recovered (the same result at -np 2 and 3); below
//     the threshold every round fails cleanly and leaves the model unchanged;
//   - robust rules (median, trimmed mean, Krum) give the same bits at any -np;
//   - a party's non-finite or out-of-range update is left out, recorded, never fatal; reject and
//     clip follow the norm bound;
//   - DP: the epsilon in run.h5 is the accountant's for the run's rate, noise and rounds, and the
//     noisy run is the same at any -np;
//   - stragglers: late parties are dropped the same way at any -np;
//   - a run with every defence at once resumes identically;
//   - combinations that cannot work are refused with exit 2, naming the options.
// The module-level checks (Shamir, masks indistinguishable from uniform, the rules against hand
// values, the accountant against published values) are in test_shamir.c, mpi/test_mpi_secagg.c,
// test_robust.c, test_attack.c and test_rdp.c.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "privacy/rdp.h"

static char work[64];

#define BASE "--parties=6 --rounds=3 --width=16 --batch-size=16"
#define RUN_TIMEOUT_S 120

static void setup(void) { mmc_workdir(work, sizeof work, "mmc_security"); }
static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

// mpirun -np np mmcollab BASE opts --out=dir in work: the exit code, the output into out.
static int mmc(int np, const char *dir, const char *opts, char *out, size_t cap) {
    return run_command(
        out, cap,
        "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=syn.h5 "
        "--out=%s " BASE " %s 2>&1",
        work, RUN_TIMEOUT_S, np, mmc_bin(), dir, opts);
}

static void run_ok(int np, const char *dir, const char *opts) {
    char out[32768];
    int rc = mmc(np, dir, opts, out, sizeof out);
    ck_assert_msg(rc == 0, "%s (-np %d): exit %d\n%.3000s", opts, np, rc, out);
}

static int series(const char *dir, const char *name, double *v, int cap) {
    return read_series(work, dir, name, v, cap);
}

// The global model of dir's checkpoints of rounds a and b is the same (nothing was aggregated).
static void global_unchanged(const char *dir, int a, int b) {
    char out[4096];
    int rc =
        run_command(out, sizeof out,
                    "cd %s && h5diff %s/ckpt/round_%06d.h5 %s/ckpt/round_%06d.h5 /cloud/global",
                    work, dir, a, dir, b);
    ck_assert_msg(rc == 0, "%s: the global model changed from round %d to %d:\n%s", dir, a, b, out);
}

START_TEST(test_secagg_gives_the_plain_model_bit_for_bit_at_any_np) {
    run_ok(3, "plain", "");
    run_ok(3, "sec3", "--secagg");
    run_ok(2, "sec2", "--secagg");
    assert_same_checkpoint(work, "plain", "sec3", 3, "/cloud/global");
    assert_same_checkpoint(work, "plain", "sec2", 3, "/cloud/global");
    double ok[8];
    ck_assert_int_eq(series("sec3", "secagg_ok", ok, 8), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(ok[i], 1);
    // The parties send masked 8-byte terms: twice the plain payload, and the cloud's view is not
    // the plain one (the masks are checked against uniform in mpi_secagg).
    double a[8], b[8];
    ck_assert_int_eq(series("plain", "payload_up", a, 8), 3);
    ck_assert_int_eq(series("sec3", "payload_up", b, 8), 3);
    ck_assert_msg(b[0] > 1.9 * a[0], "secagg payload %g vs plain %g", b[0], a[0]);
}
END_TEST

START_TEST(test_secagg_recovers_vanished_members_and_fails_cleanly_below_the_threshold) {
    // 6 members a round, each vanishing with probability 0.3 after sharing its keys; the default
    // threshold (a strict majority, 4) holds in most rounds.
    run_ok(3, "drop3", "--secagg --secagg.drop=0.3");
    run_ok(2, "drop2", "--secagg --secagg.drop=0.3");
    assert_same_checkpoint(work, "drop3", "drop2", 3, "/cloud/global");
    double v[32], ok[8];
    int n = series("drop3", "party_verdict", v, 32), vanished = 0;
    ck_assert_int_eq(n, 18);
    for (int i = 0; i < n; i++)
        vanished += v[i] == 7; // FED_VANISHED
    ck_assert_msg(vanished > 0, "no member vanished in 3 rounds of 6 at 0.3");
    ck_assert_int_eq(series("drop3", "secagg_ok", ok, 8), 3);
    int good = 0;
    for (int i = 0; i < 3; i++)
        good += ok[i] == 1;
    ck_assert_msg(good > 0, "no round recovered its vanished members");
    // Every member needed (threshold 6 of 6) and half of them vanish: every round fails, every
    // rank carries on, and the model stays the initial one.
    char out[32768];
    int rc = mmc(3, "fail", "--secagg --secagg.threshold=6 --secagg.drop=0.5", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "fewer than the threshold") && strstr(out, "unchanged"), "%.3000s",
                  out);
    ck_assert_int_eq(series("fail", "secagg_ok", ok, 8), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(ok[i], 0);
    global_unchanged("fail", 1, 3);
}
END_TEST

START_TEST(test_robust_rules_give_the_same_bits_at_any_np) {
    const char *rules[] = {"--robust=median", "--robust=trimmed-mean --robust.trim=0.2",
                           "--robust=krum --robust.f=1 --robust.m=2"};
    for (int i = 0; i < 3; i++) {
        char opts[256];
        snprintf(opts, sizeof opts, "%s --attack=signflip --attackers=1 --attack.strength=3",
                 rules[i]);
        run_ok(3, "r3", opts);
        run_ok(2, "r2", opts);
        assert_same_checkpoint(work, "r3", "r2", 3, NULL);
        run_command(NULL, 0, "rm -rf %s/r2 %s/r3", work, work);
    }
    // Two NaN attackers leave 4 updates, too few for f = 1 (K > 2f + 2): Krum assumes f = 0 and
    // the model still moves.
    char out[32768];
    int rc =
        mmc(2, "krum_nan", "--robust=krum --robust.f=1 --robust.m=2 --attack=nan --attackers=2",
            out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "it assumes f = 0 instead of --robust.f=1"),
                  "exit %d\n%.3000s", rc, out);
    ck_assert_int_ne(run_command(NULL, 0,
                                 "cd %s && h5diff -q krum_nan/ckpt/round_000001.h5 "
                                 "krum_nan/ckpt/round_000003.h5 /cloud/global",
                                 work),
                     0);
    // Krum's unselected updates are recorded (verdict 5: not selected), m = 2 kept a round.
    run_ok(2, "krum", "--robust=krum --robust.f=1 --robust.m=2");
    double v[32];
    ck_assert_int_eq(series("krum", "party_verdict", v, 32), 18);
    for (int round = 0; round < 3; round++) {
        int kept = 0, dropped = 0;
        for (int p = 0; p < 6; p++)
            kept += v[round * 6 + p] == 0, dropped += v[round * 6 + p] == 5;
        ck_assert_msg(kept == 2 && dropped == 4, "round %d: %d kept, %d not selected", round + 1,
                      kept, dropped);
    }
}
END_TEST

START_TEST(test_bad_updates_are_left_out_and_recorded_never_fatal) {
    char out[32768];
    // Two parties send NaN: the run goes on, their verdict is non-finite (1) every round.
    int rc = mmc(3, "nan", "--attack=nan --attackers=2", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "nonfinite"), "%.3000s", out);
    double v[32], norm[32];
    ck_assert_int_eq(series("nan", "party_verdict", v, 32), 18);
    int bad[6] = {0};
    for (int i = 0; i < 18; i++) {
        ck_assert_msg(v[i] == 0 || v[i] == 1, "cell %d: verdict %g", i, v[i]);
        bad[i % 6] += v[i] == 1;
    }
    int attackers = 0;
    for (int p = 0; p < 6; p++) {
        ck_assert_msg(bad[p] == 0 || bad[p] == 3, "party %d rejected in %d of 3 rounds", p, bad[p]);
        attackers += bad[p] == 3;
    }
    ck_assert_int_eq(attackers, 2);
    // Boosted beyond the parameter cap: out of range (2); the honest parties still train it.
    rc = mmc(2, "huge", "--attack=scale --attackers=1 --attack.strength=1e6", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%.3000s", rc, out);
    ck_assert_int_eq(series("huge", "party_verdict", v, 32), 18);
    int oor = 0;
    for (int i = 0; i < 18; i++)
        oor += v[i] == 2;
    ck_assert_int_eq(oor, 3);
    // reject: every update longer than the bound is left out (3); with none left the global model
    // stays as initialised.
    run_ok(2, "reject", "--robust=reject --robust.norm=1e-6");
    ck_assert_int_eq(series("reject", "party_verdict", v, 32), 18);
    for (int i = 0; i < 18; i++)
        ck_assert_double_eq(v[i], 3);
    global_unchanged("reject", 1, 3);
    // clip: the updates longer than the bound are clipped (4) and used; the recorded norm is the
    // one before clipping.
    run_ok(2, "clip", "--robust=clip --robust.norm=0.05");
    ck_assert_int_eq(series("clip", "party_verdict", v, 32), 18);
    ck_assert_int_eq(series("clip", "party_update_norm", norm, 32), 18);
    int clipped = 0;
    for (int i = 0; i < 18; i++) {
        ck_assert_msg(v[i] == (norm[i] > 0.05 ? 4 : 0), "cell %d: verdict %g, norm %g", i, v[i],
                      norm[i]);
        clipped += v[i] == 4;
    }
    ck_assert_int_gt(clipped, 0);
}
END_TEST

START_TEST(test_dp_epsilon_is_the_accountants_and_the_noisy_run_is_the_same_at_any_np) {
    const char *dp = "--sample=3 --sample-mode=poisson --dp.clip=0.5 --dp.noise=1.1 "
                     "--dp.delta=1e-5";
    run_ok(3, "dp3", dp);
    run_ok(2, "dp2", dp);
    assert_same_checkpoint(work, "dp3", "dp2", 3, NULL);
    double eps[8];
    ck_assert_int_eq(series("dp3", "dp_epsilon", eps, 8), 3);
    for (int t = 1; t <= 3; t++) {
        RdpAccountant a;
        rdp_init(&a);
        rdp_compose(&a, 3.0 / 6.0, 1.1, t);
        double order, want = rdp_epsilon(&a, 1e-5, &order);
        ck_assert_msg(fabs(eps[t - 1] - want) <= 1e-12 * want,
                      "round %d: epsilon %.17g, want %.17g", t, eps[t - 1], want);
        ck_assert(t == 1 || eps[t - 1] > eps[t - 2]);
    }
    // The noise moves the model: the same run without it differs.
    run_ok(2, "nodp", "--sample=3 --sample-mode=poisson");
    char out[4096];
    ck_assert_int_ne(run_command(out, sizeof out,
                                 "cd %s && h5diff -q dp2/ckpt/round_000003.h5 "
                                 "nodp/ckpt/round_000003.h5 /cloud/global",
                                 work),
                     0);
}
END_TEST

START_TEST(test_stragglers_are_dropped_the_same_at_any_np) {
    run_ok(3, "slow3", "--straggler.deadline=1 --straggler.sigma=0.5");
    run_ok(2, "slow2", "--straggler.deadline=1 --straggler.sigma=0.5");
    assert_same_checkpoint(work, "slow3", "slow2", 3, NULL);
    double a[32];
    ck_assert_int_eq(series("slow3", "party_arrived", a, 32), 18);
    int late = 0;
    for (int i = 0; i < 18; i++)
        late += a[i] == 0;
    ck_assert_msg(late > 0 && late < 18, "%d of 18 updates late", late);
}
END_TEST

START_TEST(test_a_run_with_every_defence_resumes_identically) {
    const char *all = "--secagg --secagg.drop=0.2 --sample=5 --sample-mode=poisson --dp.clip=0.5 "
                      "--dp.noise=0.8 --attack=noise --attackers=1 --straggler.deadline=2";
    char opts[512], out[32768];
    run_ok(3, "straight", all);
    snprintf(opts, sizeof opts, "%s --stop-after=1", all);
    ck_assert_int_eq(mmc(3, "cut", opts, out, sizeof out), 3);
    snprintf(opts, sizeof opts, "%s --resume=auto", all);
    run_ok(2, "cut", opts);
    assert_same_checkpoint(work, "straight", "cut", 3, NULL);
    assert_same_metrics(work, "straight", "cut", 3);
}
END_TEST

START_TEST(test_impossible_combinations_exit_2_naming_the_options) {
    static const struct {
        const char *opts, *needle;
    } bad[] = {
        {"--secagg --robust=median", "--secagg with --robust=median"},
        {"--secagg --robust=krum", "each party's update"},
        {"--dp.clip=1 --sample=3", "--sample-mode=poisson"},
        {"--dp.clip=1 --dp.noise=0", "--dp.noise > 0"},
        {"--dp.clip=1 --robust=median", "--robust=none"},
        {"--robust=reject", "--robust.norm > 0"},
        {"--robust=krum --robust.f=2", "more than 6 updates"},
        {"--attack=signflip", "attackers >= 1"},
        {"--attackers=2", "attackers >= 1"},
        {"--attackers=7 --attack=nan", "exceeds --parties=6"},
        {"--secagg.drop=0.2", "without --secagg"},
        {"--secagg --secagg.threshold=7", "secagg.threshold"},
        {"--secagg --method=local", "aggregates no party models"},
        {"--dp.clip=1 --method=bomm", "covers the model updates only"},
        {"--sample-mode=poisson", "--sample > 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[32768];
        int rc = mmc(2, "bad", bad[i].opts, out, sizeof out);
        ck_assert_msg(rc == 2, "%s: exit %d (2 = bad options)\n%.3000s", bad[i].opts, rc, out);
        ck_assert_msg(strstr(out, bad[i].needle), "%s: the message lacks \"%s\":\n%.3000s",
                      bad[i].opts, bad[i].needle, out);
        ck_assert_int_ne(run_command(NULL, 0, "test -e %s/bad/run.h5", work), 0);
    }
}
END_TEST

Suite *security_suite(void) {
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("mpirun");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_secagg_gives_the_plain_model_bit_for_bit_at_any_np);
    tcase_add_test(tc, test_secagg_recovers_vanished_members_and_fails_cleanly_below_the_threshold);
    tcase_add_test(tc, test_robust_rules_give_the_same_bits_at_any_np);
    tcase_add_test(tc, test_bad_updates_are_left_out_and_recorded_never_fatal);
    tcase_add_test(tc, test_dp_epsilon_is_the_accountants_and_the_noisy_run_is_the_same_at_any_np);
    tcase_add_test(tc, test_stragglers_are_dropped_the_same_at_any_np);
    tcase_add_test(tc, test_a_run_with_every_defence_resumes_identically);
    tcase_add_test(tc, test_impossible_combinations_exit_2_naming_the_options);
    suite_add_tcase(s, tc);
    return s;
}
