// test_mllm_runs.c - FedMLLM on the tiny multimodal LLM end to end (build/bin/mmcollab under mpirun
// with --model=mllm on the tiny base model and AV-FashionMNIST's CI file, 2 of 4 parties sampled
// per round, FedMLLM's schedule and optimiser settings):
//   - -np 2 and -np 3 write identical checkpoints and metrics (fedadam, prompt augmentation,
//     the layer-selective proximal term);
//   - stopped after round 1 and resumed, the run ends bit for bit as the straight one;
//   - only the adapters travel: each sampled party's payload is the LoRA floats down and up (plus
//     its sample count), the frozen base never moves, the adapters do;
//   - zeroshot changes nothing and its two protocols test the base model itself;
//   - a public fraction other than the base model's is refused with a message naming both.
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 300

static char work[64], data[PATH_MAX], base[PATH_MAX];

static void setup(void) {
    mmc_workdir(work, sizeof work, "mmc_mllm");
    mmc_data_path(data, "avfmnist_ci.h5");
    mmc_data_path(base, "base/mllm_tiny.h5");
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(out, cap,
                       "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=%s "
                       "--model=mllm --mllm.base=%s --public-fraction=0.3 --out=%s --parties=4 "
                       "--sample=2 --rounds=3 --batch-size=4 --max-train=160 --max-test=40 "
                       "--scenario=fedmllm-missing0.3 --lr=2e-3 --lr-schedule=cosine "
                       "--adam-beta2=0.95 --weight-decay=0.1 %s 2>&1",
                       work, RUN_TIMEOUT_S, np, mmc_bin(), data, base, out_dir, extra);
}

static long selected_floats(const char *out) {
    const char *sel = strstr(out, "trained and exchanged: ");
    ck_assert_msg(sel != NULL, "no selection line:\n%.2000s", out);
    return atol(sel + strlen("trained and exchanged: "));
}

START_TEST(test_fedmllm_runs_are_np_invariant_and_resume_bit_exact) {
    char out[32768];
    const char *extra = "--method=fedadam --mllm.prompt=augmented --prox=adaptive";
    int rc = mmc(2, "np2", extra, out, sizeof out);
    ck_assert_msg(rc == 0, "-np 2: exit %d\n%.3000s", rc, out);
    long n_sel = selected_floats(out);
    rc = mmc(3, "np3", extra, out, sizeof out);
    ck_assert_msg(rc == 0, "-np 3: exit %d\n%.3000s", rc, out);
    assert_same_checkpoint(work, "np2", "np3", 3, NULL);
    assert_same_metrics(work, "np2", "np3", 3);
    // stopped after round 1 (exit 3), resumed at the other -np
    char stop[256];
    snprintf(stop, sizeof stop, "%s --stop-after=1", extra);
    rc = mmc(2, "resumed", stop, out, sizeof out);
    ck_assert_msg(rc == 3, "stop-after: exit %d\n%.3000s", rc, out);
    snprintf(stop, sizeof stop, "%s --resume=auto", extra);
    rc = mmc(3, "resumed", stop, out, sizeof out);
    ck_assert_msg(rc == 0, "resume: exit %d\n%.3000s", rc, out);
    assert_same_checkpoint(work, "np2", "resumed", 3, NULL);
    assert_same_metrics(work, "np2", "resumed", 3);
    // only the adapters travel: 2 sampled parties, each the selection down and up (+ its count)
    rc = run_command(out, sizeof out,
                     "cd %s && awk -F, 'NR==1{for(i=1;i<=NF;i++) c[$i]=i; next} "
                     "{print $c[\"payload_up\"], $c[\"payload_down\"]}' np2/metrics.csv",
                     work);
    ck_assert_int_eq(rc, 0);
    char want[128];
    snprintf(want, sizeof want, "%ld %ld\n", 2 * (n_sel * 4 + 8), 2 * n_sel * 4);
    ck_assert_msg(!strncmp(out, want, strlen(want)), "payload per round: %s, expected %s", out,
                  want);
    // the base never moves, the adapters do
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && h5diff -q np2/ckpt/round_000001.h5 "
                                 "np2/ckpt/round_000003.h5 /cloud/global/lm/wq /cloud/global/lm/wq",
                                 work),
                     0);
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && h5diff -q np2/ckpt/round_000001.h5 "
                                 "np2/ckpt/round_000003.h5 /cloud/global/lm/lora_q_b "
                                 "/cloud/global/lm/lora_q_b",
                                 work),
                     1);
}
END_TEST

START_TEST(test_zeroshot_tests_the_base_model_itself) {
    char out[32768];
    int rc = mmc(2, "zs", "--method=zeroshot", out, sizeof out);
    ck_assert_msg(rc == 0, "zeroshot: exit %d\n%.3000s", rc, out);
    // nothing travels, the global and personal figures of the last round are the same model's
    rc = run_command(
        out, sizeof out,
        "cd %s && awk -F, 'NR==1{for(i=1;i<=NF;i++) c[$i]=i; next} "
        "END{print $c[\"payload_up\"]+$c[\"payload_down\"], "
        "$c[\"party_test_acc_mean\"] == $c[\"personal_test_acc_mean\"]}' zs/metrics.csv",
        work);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(!strcmp(out, "0 1\n"), "zeroshot payload / protocols: %s", out);
}
END_TEST

START_TEST(test_a_foreign_public_fraction_is_refused) {
    char out[32768];
    int rc = run_command(out, sizeof out,
                         "cd %s && timeout %d mpirun --oversubscribe -np 2 %s/mmcollab --data=%s "
                         "--model=mllm --mllm.base=%s --public-fraction=0.1 --out=bad "
                         "--parties=4 --rounds=1 2>&1",
                         work, RUN_TIMEOUT_S, mmc_bin(), data, base);
    ck_assert_msg(rc != 0, "accepted:\n%.2000s", out);
    ck_assert_msg(strstr(out, "--public-fraction=0.1") && strstr(out, "0.3"), "message:\n%.2000s",
                  out);
}
END_TEST

Suite *mllm_runs_suite(void) {
    Suite *s = suite_create("mllm_runs");
    TCase *tc = tcase_create("mllm_runs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fedmllm_runs_are_np_invariant_and_resume_bit_exact);
    tcase_add_test(tc, test_zeroshot_tests_the_base_model_itself);
    tcase_add_test(tc, test_a_foreign_public_fraction_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
