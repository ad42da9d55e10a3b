// test_method_contract.c - every registered method, end to end on one tiny fixed config (SynMM
// 800/200, 4 parties, bomm-hybrid, 2 rounds), under mpirun:
//   - its final parameters have the digest the build before the model/protocol redesign wrote
//     (tests/ref/digests.txt, per OpenBLAS core type: results are bit-reproducible per core type);
//   - -np 2 and -np 3 write h5diff-identical checkpoints;
//   - stopped after round 1 and resumed at another -np, it ends identical to the straight run.
// A method added later runs the same checks (with no reference digest until one is recorded).
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "methods/method.h"

#define RUN_TIMEOUT_S 300

char *openblas_get_corename(void); // OpenBLAS: the kernels' core type ("Zen", "Haswell", ...)

static char work[64], root[1024];

static void setup(void) {
    ck_assert_ptr_nonnull(getcwd(root, sizeof root));
    mmc_workdir(work, sizeof work, "mmc_contract");
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

// Options that keep a method's cloud-side models tiny: the protocol, not the accuracy, is tested.
static const char *method_extra(const char *name) {
    static const struct {
        const char *method, *extra;
    } extras[] = {
        {"bomm", "--bomm.mm-width=32 --bomm.mm-layers=1 --bomm.upload=64 --bomm.warmup=1"},
        {"fedmkt", "--fedmkt.upload=64"},
    };
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++)
        if (!strcmp(extras[i].method, name)) return extras[i].extra;
    return "";
}

static int mmc(int np, const char *method, const char *out_dir, const char *more, char *out,
               size_t cap) {
    return run_command(
        out, cap,
        "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=syn.h5 "
        "--out=%s --parties=4 --rounds=2 --width=16 --batch-size=16 "
        "--scenario=bomm-hybrid --method=%s %s %s 2>&1",
        work, RUN_TIMEOUT_S, np, mmc_bin(), out_dir, method, method_extra(method), more);
}

// The reference digest of method on this core type from tests/ref/digests.txt into want; 0 when
// there is none.
static int reference_digest(const char *core, const char *method, char *want, size_t cap) {
    FILE *f = fopen("tests/ref/digests.txt", "r");
    ck_assert_msg(f != NULL, "tests/ref/digests.txt is missing (run from the repository root)");
    char line[256], c[64], m[64], d[64];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%63s %63s %63s", c, m, d) == 3 && !strcmp(c, core) &&
            !strcmp(m, method))
            found = 1, snprintf(want, cap, "%s", d);
    fclose(f);
    return found;
}

START_TEST(test_method_keeps_its_numbers_across_np_and_resume) {
    const char *m = fl_methods[_i]->name;
    char out[16384], dir[64], got[128];
    snprintf(dir, sizeof dir, "%s_np2", m);
    int rc = mmc(2, m, dir, "", out, sizeof out);
    ck_assert_msg(rc == 0, "%s -np 2: exit %d\n%.3000s", m, rc, out);

    // The final parameters, against the build before the redesign.
    rc = run_command(got, sizeof got,
                     "cd %s && /usr/bin/python3 %s/tests/params_digest.py %s/ckpt/round_000002.h5 "
                     "| sed -n 's/^digest //p'",
                     work, root, dir);
    ck_assert_msg(rc == 0 && strlen(got) >= 32, "%s: params_digest.py: exit %d: %s", m, rc, got);
    got[strcspn(got, "\n")] = 0;
    const char *core = openblas_get_corename();
    char want[64];
    if (reference_digest(core, m, want, sizeof want))
        ck_assert_msg(!strcmp(got, want),
                      "%s: final parameters changed: digest %s, the reference for core type %s is "
                      "%s (tests/ref/digests.txt)",
                      m, got, core, want);
    else
        fprintf(stderr,
                "method_contract: no reference digest for %s on core type %s: %s not "
                "compared with the old build\n",
                m, core, m);

    // -np 3 writes the same checkpoint.
    snprintf(dir, sizeof dir, "%s_np3", m);
    rc = mmc(3, m, dir, "", out, sizeof out);
    ck_assert_msg(rc == 0, "%s -np 3: exit %d\n%.3000s", m, rc, out);
    char ref[64];
    snprintf(ref, sizeof ref, "%s_np2", m);
    assert_same_checkpoint(work, ref, dir, 2, NULL);

    // Stopped after round 1 at -np 3, resumed at -np 2: the straight run's files.
    snprintf(dir, sizeof dir, "%s_stop", m);
    rc = mmc(3, m, dir, "--stop-after=1", out, sizeof out);
    ck_assert_msg(rc == 3, "%s --stop-after=1: exit %d (3 = requeue)\n%.3000s", m, rc, out);
    rc = mmc(2, m, dir, "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from"), "%s resume: exit %d\n%.3000s", m, rc,
                  out);
    assert_same_checkpoint(work, ref, dir, 2, NULL);
    assert_same_metrics(work, ref, dir, 2);
}
END_TEST

Suite *method_contract_suite(void) {
    Suite *s = suite_create("method_contract");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, test_method_keeps_its_numbers_across_np_and_resume, 0, fl_n_methods);
    suite_add_tcase(s, tc);
    return s;
}
