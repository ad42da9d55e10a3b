// test_eval_protocols.c - the two evaluation protocols every method is scored under, end to end
// (build/bin/mmcollab under mpirun on a small SynMM file):
//   - personal: a party's model as it left local training. After one round FedAvg's sampled
//     parties' are exactly `local`'s (same initial model, streams and optimizer): the personal
//     series agree bit for bit. The unsampled ones get the global model fine-tuned on their rows
//     at evaluation time: scored, and not the global model's score;
//   - global: `local` has no global model, so its global series are NaN; FedAvg's are set;
//   - every evaluation series carries macro-F1 and AUC in [0, 1] and names its rows (the split
//     attribute), which --eval-split=validation switches to the validation carve-out.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 120

static char work[64];

static void setup(void) { mmc_workdir(work, sizeof work, "mmc_eval"); }
static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static void mmc(const char *dir, const char *extra) {
    char out[8192];
    int rc = run_command(out, sizeof out,
                         "cd %s && timeout %d mpirun --oversubscribe -np 2 %s/mmcollab "
                         "--data=syn.h5 --out=%s --parties=4 --width=16 --batch-size=16 "
                         "--scenario=bomm-hybrid %s 2>&1",
                         work, RUN_TIMEOUT_S, mmc_bin(), dir, extra);
    ck_assert_msg(rc == 0, "%s: exit %d\n%.2000s", dir, rc, out);
}

// Runs a python expression over run.h5 of dir as f (h5py), its printed output into out.
static void py(const char *dir, const char *expr, char *out, size_t cap) {
    int rc = run_command(out, cap,
                         "cd %s && /usr/bin/python3 -c \"import h5py, numpy as np; "
                         "f = h5py.File('%s/run.h5', 'r'); m = f['metrics']; print(%s)\" 2>&1",
                         work, dir, expr);
    ck_assert_msg(rc == 0, "%s: %s", dir, out);
}

START_TEST(test_personal_models_after_one_round_are_local_training) {
    mmc("fedavg", "--method=fedavg --rounds=1 --sample=2");
    mmc("local", "--method=local --rounds=1");
    char a[4096];
    // The sampled parties, and the parties whose personal accuracy and AUC equal local's exactly.
    py("fedavg",
       "(lambda L: ([int(p) for p in np.flatnonzero(m['party_sampled'][-1])], [p for p in range(4) "
       "if all(m[k][-1][p] == L[k][-1][p] for k in ('personal_test_acc', 'personal_test_auc'))]))"
       "(h5py.File('local/run.h5', 'r')['metrics'])",
       a, sizeof a);
    ck_assert_msg(a[0] == '(' && strlen(a) > 12, "%s", a);
    int n = (int)(strchr(a, ']') - a); // "([s...], [m...])": the two lists are equal
    ck_assert_msg(!strncmp(a + 1, a + n + 3, (size_t)n) && strchr(a, ','),
                  "the sampled parties' personal scores are not local's: (sampled, equal) = %s", a);
    // The two unsampled parties: fine-tuned, so scored, and not as the global model.
    py("fedavg",
       "int(m['party_sampled'][-1].sum()), sum(1 for p, g, s in zip(m['personal_test_auc'][-1], "
       "m['party_test_auc'][-1], m['party_sampled'][-1]) if not s and p == p and p != g)",
       a, sizeof a);
    ck_assert_str_eq(a, "2 2\n");
    // local has no global model; FedAvg's global series are set.
    py("local", "np.isnan(m['test_acc'][-1]), np.isnan(m['party_test_acc'][-1]).all()", a,
       sizeof a);
    ck_assert_str_eq(a, "True True\n");
    py("fedavg", "np.isnan(m['test_acc'][-1]), np.isnan(m['party_test_acc'][-1]).any()", a,
       sizeof a);
    ck_assert_str_eq(a, "False False\n");
}
END_TEST

START_TEST(test_metrics_are_in_range_and_name_their_rows) {
    mmc("test", "--method=fedavg --rounds=2");
    mmc("val", "--method=fedavg --rounds=2 --eval-split=validation");
    const char *names[] = {"test_macro_f1",         "test_auc",
                           "test_auc_hard",         "party_test_macro_f1_mean",
                           "party_test_auc_mean",   "personal_test_macro_f1_mean",
                           "personal_test_auc_mean"};
    char expr[512], out[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(expr, sizeof expr, "0 < m['%s'][-1] <= 1", names[i]);
        py("test", expr, out, sizeof out);
        ck_assert_msg(!strcmp(out, "True\n"), "%s: %s", names[i], out);
    }
    py("test",
       "m['test_acc'].attrs['split'].decode(), m['train_loss'].attrs['split'].decode(), "
       "m['payload_up'].attrs['split'].decode() or '-'",
       out, sizeof out);
    ck_assert_str_eq(out, "test train -\n");
    py("val", "m['personal_test_acc'].attrs['split'].decode()", out, sizeof out);
    ck_assert_str_eq(out, "validation\n");
    // The same training rows, other evaluation rows.
    char t[256], v[256];
    py("test", "repr(m['train_loss'][:].tolist()), m['test_acc'][-1]", t, sizeof t);
    py("val", "repr(m['train_loss'][:].tolist()), m['test_acc'][-1]", v, sizeof v);
    ck_assert_msg(strcmp(t, v) != 0, "validation and test give the same accuracy: %s", t);
    ck_assert_int_eq(strcspn(t, "]"), strcspn(v, "]"));
    ck_assert_msg(!strncmp(t, v, strcspn(t, "]")), "training changed: %s vs %s", t, v);
}
END_TEST

Suite *eval_protocols_suite(void) {
    Suite *s = suite_create("eval_protocols");
    TCase *tc = tcase_create("runs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_personal_models_after_one_round_are_local_training);
    tcase_add_test(tc, test_metrics_are_in_range_and_name_their_rows);
    suite_add_tcase(s, tc);
    return s;
}
