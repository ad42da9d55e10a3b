// test_fedcmp.c - Fed-CMP on the Fed-MA task end to end (build/bin/mmcollab under mpirun,
// --method=fedcmp on the tiny base model and AV-FashionMNIST's CI file; 4 parties, 4 rounds):
//   - -np 2 and -np 3 write identical checkpoints and metrics (CRAA + OPM, the LAPACKE path);
//     stopped after round 2 and resumed at the other -np, the run ends bit for bit as the straight
//     one; OPM keeps every basis orthonormal (fm_orth_err <= 1e-5 each round);
//   - CRAA at full rank with plain weights and no momentum (knots, --fedcmp.full-rank) gives
//   FedAvg's
//     projector within float tolerance, and a rank-1 CRAA does not;
//   - the ScaLAPACK path (the matrix from the parties' ranks onto a 1x2 grid) gives the LAPACKE
//     path's projector within float tolerance (singular vectors differ at most in sign, which
//     U·C* does not see; the factorisations' rounding differs), and bit for bit the same at -np 3
//     and -np 4 (the grid is an option, not the run's ranks);
//   - every baseline runs and changes the projector; local keeps one per party;
//   - bad options end every rank with a message naming the key.
// The parties' local lr is large (the tiny LM is untrained, so its caption gradients are small):
// the updates must be far from zero for the comparisons to mean anything.
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 300
#define ROUNDS 4
#define P 4

static char work[64], data[PATH_MAX], base[PATH_MAX];

static void setup(void) {
    mmc_workdir(work, sizeof work, "mmc_fedcmp");
    mmc_data_path(data, "avfmnist_ci.h5");
    mmc_data_path(base, "base/mllm_tiny.h5");
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(out, cap,
                       "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=%s "
                       "--model=mllm --mllm.base=%s --public-fraction=0.3 --method=fedcmp "
                       "--out=%s --parties=%d --rounds=%d --batch-size=8 --max-train=200 "
                       "--max-test=40 --scenario=fedmllm-missing0.3 --fedcmp.chunk=16 "
                       "--fedcmp.lr=20 --fedcmp.tune-steps=4 --eval-every=2 --ckpt-keep=%d %s 2>&1",
                       work, RUN_TIMEOUT_S, np, mmc_bin(), data, base, out_dir, P, ROUNDS, ROUNDS,
                       extra);
}

static void run_ok(int np, const char *dir, const char *extra) {
    char out[32768];
    int rc = mmc(np, dir, extra, out, sizeof out);
    ck_assert_msg(rc == 0, "%s (%s): exit %d\n%.4000s", dir, extra, rc, out);
}

static void series(const char *dir, const char *name, double *v) {
    ck_assert_int_eq(read_series(work, dir, name, v, ROUNDS), ROUNDS);
}

// h5diff of /cloud/fedcmp/x between two runs' last checkpoints within absolute tolerance tol
// (0 = exact). Returns h5diff's exit code (0 = equal within it).
static int same_x(const char *a, const char *b, double tol) {
    char opt[64] = "";
    if (tol > 0) snprintf(opt, sizeof opt, "-d %g", tol);
    return run_command(NULL, 0,
                       "cd %s && h5diff -q %s %s/ckpt/round_%06d.h5 %s/ckpt/round_%06d.h5 "
                       "/cloud/fedcmp/x /cloud/fedcmp/x",
                       work, opt, a, ROUNDS, b, ROUNDS);
}

START_TEST(test_np_invariant_and_resume) {
    run_ok(2, "np2", "");
    run_ok(3, "np3", "");
    assert_same_checkpoint(work, "np2", "np3", ROUNDS, NULL);
    assert_same_metrics(work, "np2", "np3", ROUNDS);
    char out[32768];
    int rc = mmc(3, "resumed", "--stop-after=2", out, sizeof out);
    ck_assert_msg(rc == 3, "stop-after: exit %d\n%.3000s", rc, out);
    run_ok(2, "resumed", "--resume=auto");
    assert_same_checkpoint(work, "np2", "resumed", ROUNDS, NULL);
    assert_same_metrics(work, "np2", "resumed", ROUNDS);
    double orth[ROUNDS], conf[ROUNDS], ppl[ROUNDS], acc[ROUNDS];
    series("np2", "fm_orth_err", orth);
    series("np2", "fm_sign_conflict", conf);
    series("np2", "fm_caption_ppl", ppl);
    series("np2", "fm_item_acc", acc);
    for (int r = 0; r < ROUNDS; r++) {
        ck_assert_msg(orth[r] >= 0 && orth[r] <= 1e-5, "round %d: orthogonality error %g", r + 1,
                      orth[r]);
        ck_assert_msg(conf[r] >= 0 && conf[r] <= 1, "round %d: sign conflicts %g", r + 1, conf[r]);
    }
    ck_assert(isnan(ppl[0]) && ppl[1] > 1 && ppl[3] > 1);
    ck_assert(isnan(acc[1]) && acc[3] >= 0 && acc[3] <= 1);
}
END_TEST

START_TEST(test_full_rank_uniform_craa_is_fedavg) {
    run_ok(2, "avg", "--fedcmp.agg=fedavg");
    run_ok(2, "knots", "--fedcmp.agg=knots --fedcmp.full-rank=true");
    run_ok(2, "rank1", "--fedcmp.agg=knots --fedcmp.rank=1");
    ck_assert_msg(same_x("avg", "knots", 1e-4) == 0, "full-rank KnOTS differs from FedAvg");
    ck_assert_msg(same_x("avg", "rank1", 1e-4) != 0, "rank-1 KnOTS equals FedAvg");
}
END_TEST

START_TEST(test_scalapack_path_agrees) {
    run_ok(2, "lapacke", "--fedcmp.svd=lapacke");
    char out[32768];
    int rc = mmc(3, "scalapack", "--fedcmp.svd=scalapack --fedcmp.grid=1x2", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "SVD on ScaLAPACK, grid 1x2"), "exit %d\n%.3000s", rc,
                  out);
    ck_assert_msg(same_x("lapacke", "scalapack", 1e-4) == 0,
                  "the ScaLAPACK path's projector differs from LAPACKE's");
    // the grid, not -np, decides: the same 1x2 grid at -np 4 (parties on three hosts) is exact
    run_ok(4, "scalapack4", "--fedcmp.svd=scalapack --fedcmp.grid=1x2");
    assert_same_checkpoint(work, "scalapack", "scalapack4", ROUNDS, NULL);
}
END_TEST

START_TEST(test_baselines_run_and_move) {
    static const char *const agg[] = {"ties",     "fedprox", "fedavgm", "fedadam", "fedyogi",
                                      "scaffold", "fednova", "local",   "central"};
    char dir[32], extra[64];
    run_ok(2, "zero", "--fedcmp.agg=fedavg --fedcmp.lr=1e-12");
    for (size_t i = 0; i < sizeof agg / sizeof *agg; i++) {
        snprintf(dir, sizeof dir, "b_%s", agg[i]);
        snprintf(extra, sizeof extra, "--fedcmp.agg=%s", agg[i]);
        run_ok(2, dir, extra);
        double loss[ROUNDS];
        series(dir, "fm_local_loss", loss);
        ck_assert_msg(isfinite(loss[ROUNDS - 1]), "%s: local loss %g", agg[i], loss[ROUNDS - 1]);
        if (strcmp(agg[i], "local")) // local keeps one projector per party, not x
            ck_assert_msg(same_x("zero", dir, 1e-4) != 0, "%s: the projector did not move", agg[i]);
    }
}
END_TEST

START_TEST(test_bad_options_name_the_key) {
    static const struct {
        const char *extra, *needle;
    } bad[] = {
        {"--fedcmp.rank=0", "fedcmp.rank"},
        {"--fedcmp.rank=100000", "fedcmp.rank"},
        {"--fedcmp.beta=1", "fedcmp.beta"},
        {"--fedcmp.temp=0", "fedcmp.temp"},
        {"--fedcmp.grid=2x3", "fedcmp.grid"},
        {"--fedcmp.grid=ab", "fedcmp.grid"},
        {"--fedcmp.agg=scaffold --fedcmp.local=adamw", "fedcmp.local"},
        {"--fedcmp.ties-k=0", "fedcmp.ties-k"},
        {"--model=party", "--model=mllm"},
    };
    char out[32768];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mmc(3, "bad", bad[i].extra, out, sizeof out);
        ck_assert_msg(rc != 0 && rc != 124 && strstr(out, bad[i].needle),
                      "%s: exit %d, expected a message naming %s:\n%.2000s", bad[i].extra, rc,
                      bad[i].needle, out);
    }
}
END_TEST

Suite *fedcmp_suite(void) {
    Suite *s = suite_create("fedcmp");
    TCase *tc = tcase_create("runs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 4 * RUN_TIMEOUT_S);
    tcase_add_test(tc, test_np_invariant_and_resume);
    tcase_add_test(tc, test_full_rank_uniform_craa_is_fedavg);
    tcase_add_test(tc, test_scalapack_path_agrees);
    tcase_add_test(tc, test_baselines_run_and_move);
    tcase_add_test(tc, test_bad_options_name_the_key);
    suite_add_tcase(s, tc);
    return s;
}
