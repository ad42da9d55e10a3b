// test_mllm_torch.c - the tiny multimodal LLM against an independent PyTorch twin (issue 12 item
// 1): build/bin/mllm_dump runs the kind on the tiny base model (MMC_DATA_DIR/base/mllm_tiny.h5)
// and test rows of avfmnist_ci.h5 with every modality mask, writes inputs, weights, logits, losses
// and gradients; tests/torch/mllm_torch.py rebuilds the model in PyTorch from the same weights and
// compares (logits and losses to 1e-5, gradients to 1e-4 of each tensor's scale; the script says
// why). The twin runs under Debian's /usr/bin/python3 (python3-torch, python3-h5py: scripts/deps.sh
// analysis). A twin broken on purpose (the exact-erf GELU instead of the tanh form) must fail:
// the comparison is sharp enough to tell the two GELUs apart. ~3 s each, most of it importing
// torch.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tmpdir.h"

#define OUT_CAP 16384

// Writes the probe's file into dir/dump.h5.
static void dump(const char *dir) {
    const char *data = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    char out[OUT_CAP];
    int rc = run_command(out, sizeof out,
                         "%s/mllm_dump --base=%s/base/mllm_tiny.h5 --data=%s/avfmnist_ci.h5 "
                         "--out=%s/dump.h5 --rows=7 2>&1",
                         mmc_bin(), data, data, dir);
    ck_assert_msg(rc == 0, "mllm_dump: exit %d:\n%s", rc, out);
}

static int twin(const char *dir, const char *extra, char *out, size_t cap) {
    char probe[256];
    int rc = run_command(probe, sizeof probe, "/usr/bin/python3 -c 'import torch, h5py' 2>&1");
    ck_assert_msg(rc == 0,
                  "/usr/bin/python3 has no torch or h5py (scripts/deps.sh analysis installs "
                  "python3-torch and python3-h5py): %s",
                  probe);
    return run_command(out, cap, "/usr/bin/python3 tests/torch/mllm_torch.py %s/dump.h5 %s 2>&1",
                       dir, extra);
}

START_TEST(test_mllm_torch_logits_losses_and_gradients_match) {
    char dir[64], out[OUT_CAP];
    tmpdir_make(dir, sizeof dir, "mllm_torch");
    dump(dir);
    int rc = twin(dir, "", out, sizeof out);
    tmpdir_remove(dir);
    ck_assert_msg(rc == 0 && strstr(out, "mllm_torch: all "), "mllm_torch.py: exit %d:\n%s", rc,
                  out);
}
END_TEST

START_TEST(test_mllm_torch_a_wrong_twin_fails) {
    char dir[64], out[OUT_CAP];
    tmpdir_make(dir, sizeof dir, "mllm_torch");
    dump(dir);
    int rc = twin(dir, "--break=gelu", out, sizeof out);
    tmpdir_remove(dir);
    ck_assert_msg(rc == 1 && strstr(out, "MISMATCH"),
                  "the exact-erf GELU twin should not match: exit %d:\n%s", rc, out);
}
END_TEST

Suite *mllm_torch_suite(void) {
    Suite *s = suite_create("mllm_torch");
    TCase *tc = tcase_create("mllm_torch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_mllm_torch_logits_losses_and_gradients_match);
    tcase_add_test(tc, test_mllm_torch_a_wrong_twin_fails);
    suite_add_tcase(s, tc);
    return s;
}
