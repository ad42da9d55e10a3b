// test_cdcca.c - CD-CCA end to end (build/bin/mmcollab under mpirun, --method=cdcca on the tiny
// base model, its tiny teacher and AV-FashionMNIST's CI file; 4 devices, 2 stages of 2 rounds):
//   - -np 2 and -np 3 write identical checkpoints and metrics; stopped after round 3 (inside the
//     second stage, after the first stage's evaluation) and resumed at the other -np, the run ends
//     bit for bit as the straight one;
//   - what a device holds after the downlink is exactly the cloud's record of it (the one decoder
//   on
//     both sides), with DWC and with the float32 downlink (then it is the cloud's copy itself);
//   - UTS: without it every row goes up, with it the uncertain ones (a row with only its text has
//     nothing that may leave, and stays: at most a fifth here, with 30 % of each modality missing);
//     with a confidence threshold of 0 nothing goes up, nothing changes, and the downlink is one
//     "unchanged" byte per adapter tensor and device;
//   - the device baselines never upload, and adapt (TENT, CoTTA) or keep the source model (none);
//   - bad options end every rank with a message naming the key: r outside (0, 1), tau < 0, rho 0,
//     more stages than the stream has or than rounds, a teacher that is not the base model's,
//     another model.
// The per-stage accuracy matrix and forgetting are checked against their definitions on the run's
// own series.
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

static char work[64], data[PATH_MAX], base[PATH_MAX], teacher[PATH_MAX];

static void setup(void) {
    mmc_workdir(work, sizeof work, "mmc_cdcca");
    mmc_data_path(data, "avfmnist_ci.h5");
    mmc_data_path(base, "base/mllm_tiny.h5");
    mmc_data_path(teacher, "base/mllm_tiny-teacher.h5");
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(out, cap,
                       "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=%s "
                       "--model=mllm --mllm.base=%s --cdcca.teacher=%s --public-fraction=0.3 "
                       "--method=cdcca --out=%s --parties=%d --rounds=%d --cdcca.stages=2 "
                       "--cdcca.chunk=16 --batch-size=8 --max-train=200 --max-test=40 "
                       "--scenario=fedmllm-missing0.3 --cdcca.source-rows=32 "
                       "--cdcca.source-epochs=1 --eval-every=%d --ckpt-keep=%d %s 2>&1",
                       work, RUN_TIMEOUT_S, np, mmc_bin(), data, base, teacher, out_dir, P, ROUNDS,
                       ROUNDS, ROUNDS, extra);
}

static void run_ok(int np, const char *dir, const char *extra) {
    char out[32768];
    int rc = mmc(np, dir, extra, out, sizeof out);
    ck_assert_msg(rc == 0, "%s (%s): exit %d\n%.4000s", dir, extra, rc, out);
}

// Series name of run dir, ROUNDS values.
static void series(const char *dir, const char *name, double *v) {
    ck_assert_int_eq(read_series(work, dir, name, v, ROUNDS), ROUNDS);
}

// With half the rows asking for a caption: the multiple-choice and the free-form task together.
#define CAPTIONS "--cdcca.captions=0.5"

START_TEST(test_np_invariant_and_resume_inside_a_stage) {
    run_ok(2, "np2", CAPTIONS);
    run_ok(3, "np3", CAPTIONS);
    assert_same_checkpoint(work, "np2", "np3", ROUNDS, NULL);
    assert_same_metrics(work, "np2", "np3", ROUNDS);
    char out[32768];
    int rc = mmc(3, "resumed", CAPTIONS " --stop-after=3", out, sizeof out);
    ck_assert_msg(rc == 3, "stop-after: exit %d\n%.3000s", rc, out);
    run_ok(2, "resumed", CAPTIONS " --resume=auto");
    assert_same_checkpoint(work, "np2", "resumed", ROUNDS, NULL);
    assert_same_metrics(work, "np2", "resumed", ROUNDS);
    // the accuracy matrix: stage 1 tested after stages 1 and 2, stage 2 after stage 2
    double a1[ROUNDS], a2[ROUNDS], avg[ROUNDS], fg[ROUNDS], sa[ROUNDS];
    series("np2", "cd_acc_stage1", a1);
    series("np2", "cd_acc_stage2", a2);
    series("np2", "cd_avg_acc", avg);
    series("np2", "cd_forgetting", fg);
    series("np2", "cd_stage_acc", sa);
    ck_assert(isnan(a1[0]) && !isnan(a1[1]) && isnan(a1[2]) && !isnan(a1[3]));
    ck_assert(isnan(a2[1]) && !isnan(a2[3]));
    ck_assert_double_eq_tol(sa[1], a1[1], 1e-12);
    ck_assert_double_eq_tol(sa[3], a2[3], 1e-12);
    ck_assert_double_eq_tol(avg[3], (a1[1] + a2[3]) / 2, 1e-12);
    ck_assert_double_eq_tol(fg[3], a1[1] - a1[3], 1e-12);
    ck_assert(isnan(fg[1]));
    // the captions: asked on the stream, uploaded when uncertain, scored at each stage's end
    double cr[ROUNDS], cu[ROUNDS], up[ROUNDS], b1[ROUNDS], b4[ROUNDS], ab1[ROUNDS];
    series("np2", "cd_cap_rows", cr);
    series("np2", "cd_cap_up_rows", cu);
    series("np2", "cd_up_rows", up);
    series("np2", "cd_bleu1", b1);
    series("np2", "cd_bleu4", b4);
    series("np2", "cd_avg_bleu1", ab1);
    for (int r = 0; r < ROUNDS; r++) {
        ck_assert_msg(cr[r] > 0 && cr[r] < P * 16, "round %d: %g caption rows", r + 1, cr[r]);
        ck_assert(cu[r] <= cr[r] && cu[r] <= up[r]);
    }
    ck_assert(isnan(b1[0]) && isnan(b1[2]));
    for (int r = 1; r < ROUNDS; r += 2)
        ck_assert_msg(b1[r] >= 0 && b1[r] <= 1 && b4[r] >= 0 && b4[r] <= b1[r], // NaN: none
                      "round %d: BLEU-1 %g, BLEU-4 %g", r + 1, b1[r], b4[r]);
    ck_assert_double_eq_tol(ab1[3], (b1[1] + b1[3]) / 2, 1e-12);
}
END_TEST

// h5diff of two datasets of one checkpoint file: 0 = equal.
static int same_in_file(const char *dir, const char *a, const char *b) {
    return run_command(NULL, 0,
                       "cd %s && h5diff -q %s/ckpt/round_%06d.h5 %s/ckpt/round_%06d.h5 %s %s", work,
                       dir, ROUNDS, dir, ROUNDS, a, b);
}

START_TEST(test_devices_hold_what_the_cloud_sent) {
    run_ok(2, "dwc", "");
    ck_assert_int_eq(same_in_file("dwc", "/parties/cdcca/adapters", "/cloud/cdcca/mirror"), 0);
    ck_assert_int_eq(same_in_file("dwc", "/parties/cdcca/adapters", "/cloud/cdcca/copy"), 1);
    run_ok(2, "fp32", "--cdcca.dwc=false");
    ck_assert_int_eq(same_in_file("fp32", "/parties/cdcca/adapters", "/cloud/cdcca/copy"), 0);
    double d4[ROUNDS], d32[ROUNDS];
    series("dwc", "cd_down_bytes", d4);
    series("fp32", "cd_down_bytes", d32);
    for (int r = 0; r < ROUNDS; r++)
        ck_assert_msg(d4[r] < d32[r] / 4, "round %d: DWC sends %.0f bytes, float32 %.0f", r + 1,
                      d4[r], d32[r]);
}
END_TEST

START_TEST(test_uts_uploads_the_uncertain_rows) {
    run_ok(2, "all", "--cdcca.uts=false");
    run_ok(2, "uts", "");
    run_ok(2, "none_up", "--cdcca.conf=0");
    double rows[ROUNDS], up[ROUNDS], unc[ROUNDS], bytes_all[ROUNDS], bytes_uts[ROUNDS];
    series("all", "cd_rows", rows);
    series("all", "cd_up_rows", up);
    series("all", "cd_up_bytes", bytes_all);
    for (int r = 0; r < ROUNDS; r++)
        ck_assert(up[r] <= rows[r] && up[r] >= rows[r] * 0.8); // rows with only text stay
    series("uts", "cd_uncertain", unc);
    series("uts", "cd_up_rows", up);
    series("uts", "cd_up_bytes", bytes_uts);
    for (int r = 0; r < ROUNDS; r++) {
        ck_assert(up[r] <= unc[r] && up[r] >= unc[r] * 0.8);
        // masked tokens do not travel: an uploaded row costs less than with every token
        if (up[r] > 0) ck_assert(bytes_uts[r] / up[r] < (bytes_all[r] - 4 * P) / rows[r]);
    }
    double down[ROUNDS];
    series("none_up", "cd_up_rows", up);
    series("none_up", "cd_down_bytes", down);
    for (int r = 0; r < ROUNDS; r++) {
        ck_assert_double_eq(up[r], 0);
        ck_assert_double_eq(down[r], P * 15); // 15 adapter tensors, one byte each: unchanged
    }
    // nothing came up, so nothing changed: the devices still hold the source model
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && h5diff -q none_up/ckpt/round_000001.h5 "
                                 "none_up/ckpt/round_%06d.h5 /parties/cdcca/adapters "
                                 "/parties/cdcca/adapters",
                                 work, ROUNDS),
                     0);
}
END_TEST

START_TEST(test_device_baselines_never_upload) {
    const char *adapt[] = {"none", "tent", "cotta"};
    for (int k = 0; k < 3; k++) {
        char dir[32], extra[64];
        snprintf(dir, sizeof dir, "b_%s", adapt[k]);
        snprintf(extra, sizeof extra, "--cdcca.adapt=%s", adapt[k]);
        run_ok(2, dir, extra);
        double up[ROUNDS], pu[ROUNDS], cr[ROUNDS], b1[ROUNDS];
        series(dir, "cd_up_bytes", up);
        series(dir, "payload_up", pu);
        series(dir, "cd_cap_rows", cr); // captions are off by default: no row asks for one
        series(dir, "cd_bleu1", b1);
        for (int r = 0; r < ROUNDS; r++)
            ck_assert(up[r] == 0 && pu[r] == 0 && cr[r] == 0 && isnan(b1[r]));
        int same = run_command(NULL, 0,
                               "cd %s && h5diff -q %s/ckpt/round_000001.h5 %s/ckpt/round_%06d.h5 "
                               "/parties/cdcca/adapters /parties/cdcca/adapters",
                               work, dir, dir, ROUNDS);
        ck_assert_msg(same == (k == 0 ? 0 : 1), "%s: adapters %s", adapt[k],
                      same ? "changed" : "unchanged");
    }
}
END_TEST

START_TEST(test_bad_options_name_the_key) {
    static const struct {
        const char *extra, *needle;
    } bad[] = {
        {"--cdcca.mask=1", "cdcca.mask"},           {"--cdcca.mask=0", "cdcca.mask"},
        {"--cdcca.tau=-0.1", "cdcca.tau"},          {"--cdcca.rho=0", "cdcca.rho"},
        {"--cdcca.stages=7", "cdcca.stages"},       {"--rounds=1", "cdcca.stages"},
        {"--cdcca.captions=1.5", "cdcca.captions"}, {"--cdcca.cap-len=0", "cdcca.cap-len"},
        {"--model=party", "--model=mllm"},
    };
    char out[32768];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mmc(3, "bad", bad[i].extra, out, sizeof out);
        ck_assert_msg(rc != 0 && rc != 124 && strstr(out, bad[i].needle),
                      "%s: exit %d, expected a message naming %s:\n%.2000s", bad[i].extra, rc,
                      bad[i].needle, out);
    }
    // the student itself is not its teacher
    char extra[PATH_MAX + 32];
    snprintf(extra, sizeof extra, "--cdcca.teacher=%s", base);
    int rc = mmc(3, "bad", extra, out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124 && strstr(out, "--cdcca.teacher"),
                  "a student as the teacher: exit %d\n%.2000s", rc, out);
}
END_TEST

Suite *cdcca_suite(void) {
    Suite *s = suite_create("cdcca");
    TCase *tc = tcase_create("runs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 4 * RUN_TIMEOUT_S);
    tcase_add_test(tc, test_np_invariant_and_resume_inside_a_stage);
    tcase_add_test(tc, test_devices_hold_what_the_cloud_sent);
    tcase_add_test(tc, test_uts_uploads_the_uncertain_rows);
    tcase_add_test(tc, test_device_baselines_never_upload);
    tcase_add_test(tc, test_bad_options_name_the_key);
    suite_add_tcase(s, tc);
    return s;
}
