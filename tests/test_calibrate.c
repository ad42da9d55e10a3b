// test_calibrate.c - build/bin/calibrate on a SynMM file: every modality alone is well above chance
// and the fused model beats the best single modality (SynMM is built so that none solves the task).
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpdir.h"

START_TEST(test_each_modality_informs_and_fusion_helps_on_synmm) {
    const char *bin = getenv("MMC_BIN_DIR") ? getenv("MMC_BIN_DIR") : "build/bin";
    char dir[64], cmd[512], out[8192] = "";
    tmpdir_make(dir, sizeof dir, "mmc_calib");
    snprintf(cmd, sizeof cmd,
             "%s/build_synmm --out %s/s.h5 --train 2000 --test 500 >/dev/null && "
             "%s/calibrate --data=%s/s.h5 --epochs=5 2>&1",
             bin, dir, bin, dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = 0;
    ck_assert_int_eq(pclose(p), 0);
    const char *mods[] = {"m0", "m1", "text", "fused"};
    double acc[4];
    for (int i = 0; i < 4; i++) {
        char key[64];
        snprintf(key, sizeof key, "modalities=%s test_acc=", mods[i]);
        const char *at = strstr(out, key);
        ck_assert_msg(at != NULL, "no line for %s in:\n%.1500s", mods[i], out);
        acc[i] = atof(at + strlen(key));
        ck_assert_msg(acc[i] > 0.3, "%s alone: %.3f, chance 0.1", mods[i], acc[i]); // 3× chance
    }
    double best = acc[0] > acc[1] ? acc[0] : acc[1];
    best = best > acc[2] ? best : acc[2];
    ck_assert_msg(acc[3] > best + 0.03, "fused %.3f vs best single %.3f", acc[3], best);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *calibrate_suite(void) {
    Suite *s = suite_create("calibrate");
    TCase *tc = tcase_create("synmm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_each_modality_informs_and_fusion_helps_on_synmm);
    suite_add_tcase(s, tc);
    return s;
}
