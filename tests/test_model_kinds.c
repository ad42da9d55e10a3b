// test_model_kinds.c - a second model kind under existing protocols, end to end (build/bin/mmcollab
// under mpirun on a small SynMM file): the multimodal transformer classifier (--model=transformer)
// trains under fedavg and fedadam with only its trainable selection (--trainable: the transformer
// blocks, the final norm and the head; the modality encoders stay as initialised):
//   - -np 2 and -np 3 write identical checkpoints;
//   - the frozen tensors of the global model never move, the selected ones do;
//   - each party downloads and uploads exactly the selection (payload series), and FedAdam keeps
//     server state for the selected tensors only;
//   - a --trainable prefix that names no tensor ends every rank with the prefix named.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 300
#define TFM                                                                                        \
    "--model=transformer --width=16 --transformer.layers=1 --transformer.heads=2 "                 \
    "--transformer.tokens=2 --trainable=blocks,lnf,head"

static char work[64];

static void setup(void) { mmc_workdir(work, sizeof work, "mmc_kinds"); }

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(
        out, cap,
        "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=syn.h5 "
        "--out=%s --parties=4 --rounds=3 --batch-size=16 %s 2>&1",
        work, RUN_TIMEOUT_S, np, mmc_bin(), out_dir, extra);
}

// h5diff of an object of two checkpoints of one run: 0 equal, 1 different (2: an error).
static int diff_rounds(const char *dir, int a, int b, const char *obj) {
    return run_command(NULL, 0,
                       "cd %s && h5diff -q %s/ckpt/round_%06d.h5 %s/ckpt/round_%06d.h5 %s %s", work,
                       dir, a, dir, b, obj, obj);
}

START_TEST(test_transformer_trains_its_selection_under_fedavg_and_fedadam) {
    const char *methods[] = {"fedavg", "fedadam"};
    for (int k = 0; k < 2; k++) {
        char out[16384], dir[64], ref[64], extra[256];
        snprintf(extra, sizeof extra, "--method=%s " TFM, methods[k]);
        snprintf(ref, sizeof ref, "%s_np2", methods[k]);
        int rc = mmc(2, ref, extra, out, sizeof out);
        ck_assert_msg(rc == 0, "%s -np 2: exit %d\n%.3000s", methods[k], rc, out);
        const char *sel = strstr(out, "trained and exchanged: ");
        ck_assert_msg(sel && strstr(out, "transformer model"), "no selection line:\n%.2000s", out);
        long n_sel = atol(sel + strlen("trained and exchanged: "));
        long n_all = atol(strstr(sel, " of ") + 4);
        ck_assert_msg(n_sel > 0 && n_sel < n_all, "selection %ld of %ld", n_sel, n_all);
        snprintf(dir, sizeof dir, "%s_np3", methods[k]);
        rc = mmc(3, dir, extra, out, sizeof out);
        ck_assert_msg(rc == 0, "%s -np 3: exit %d\n%.3000s", methods[k], rc, out);
        assert_same_checkpoint(work, ref, dir, 3, NULL);
        assert_same_metrics(work, ref, dir, 3);
        // Frozen encoders never move; the trained parts do.
        ck_assert_int_eq(diff_rounds(ref, 1, 3, "/cloud/global/enc_m0"), 0);
        ck_assert_int_eq(diff_rounds(ref, 1, 3, "/cloud/global/enc_text"), 0);
        ck_assert_int_eq(diff_rounds(ref, 1, 3, "/cloud/global/head"), 1);
        ck_assert_int_eq(diff_rounds(ref, 1, 3, "/cloud/global/blocks"), 1);
        // Every party: the selection down, the selection and its sample count up, every round.
        ck_assert_int_eq(run_command(out, sizeof out,
                                     "cd %s && awk -F, 'NR==1{for(i=1;i<=NF;i++) c[$i]=i; next} "
                                     "{print $c[\"payload_up\"], $c[\"payload_down\"]}' "
                                     "%s/metrics.csv",
                                     work, ref),
                         0);
        char want[128];
        snprintf(want, sizeof want, "%ld %ld\n", 4 * (n_sel * 4 + 8), 4 * n_sel * 4);
        ck_assert_msg(!strncmp(out, want, strlen(want)), "payload per round: %s, expected %s", out,
                      want);
        // FedAdam's moments exist for the selected tensors only.
        run_command(out, sizeof out, "cd %s && h5ls -r %s/ckpt/round_000003.h5 | grep cloud/server",
                    work, ref);
        if (k == 1)
            ck_assert_msg(strstr(out, "cloud/server/m/head/w") &&
                              strstr(out, "cloud/server/v/blocks/qkvw") && !strstr(out, "enc_"),
                          "server state:\n%s", out);
        else
            ck_assert_msg(!strstr(out, "cloud/server"), "fedavg keeps no server state:\n%s", out);
    }
}
END_TEST

START_TEST(test_a_trainable_prefix_naming_nothing_is_refused_by_every_rank) {
    char out[16384];
    int rc =
        mmc(3, "bad", "--method=fedavg --model=transformer --trainable=head,lora", out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d (124 = hang)\n%.2000s", rc, out);
    ck_assert_msg(strstr(out, "--trainable=head,lora") && strstr(out, "'lora'"), "%.2000s", out);
}
END_TEST

Suite *model_kinds_suite(void) {
    Suite *s = suite_create("model_kinds");
    TCase *tc = tcase_create("transformer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_transformer_trains_its_selection_under_fedavg_and_fedadam);
    tcase_add_test(tc, test_a_trainable_prefix_naming_nothing_is_refused_by_every_rank);
    suite_add_tcase(s, tc);
    return s;
}
