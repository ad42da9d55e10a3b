// test_bomm.c - BoMM and its harness end to end (build/bin/mmcollab under mpirun, small SynMM):
//   - bomm at -np 2 and 3 writes h5diff-identical checkpoints and identical metrics; stopped in the
//     middle of its DPO phase and resumed at another -np it ends identical to the straight run;
//     the parties' own models (personal protocol) score differently from the averaged one;
//   - the harness with everything off (zerofill) trains exactly FedAvg's model;
//   - the generators reach exactly the parties that miss their target modality, and no other
//     (run.h5's per-party masks; with no modality missing, nobody receives one);
//   - the alignment finds pseudo-aligned pairs when parties hold one modality each;
//   - bad thresholds and an impossible scenario end every rank non-zero with a clear message.
// Runs from the repository root (where `make test` runs); binaries from MMC_BIN_DIR.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 300

static char work[64];

// A small large model and short runs: the protocol, not the accuracy, is under test.
static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(
        out, cap,
        "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=syn.h5 "
        "--out=%s --parties=4 --rounds=4 --width=16 --batch-size=16 %s 2>&1",
        work, RUN_TIMEOUT_S, np, mmc_bin(), out_dir, extra);
}

#define BOMM "--method=bomm --bomm.mm-width=32 --bomm.mm-layers=1 --bomm.upload=64 --bomm.warmup=1"

static void setup(void) { mmc_workdir(work, sizeof work, "mmc_bomm"); }

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

// metrics.csv columns named in `cols` (comma-separated), all rows, into out. Returns awk's exit.
static int columns(const char *dir, const char *cols, char *out, size_t cap) {
    return run_command(
        out, cap,
        "cd %s && awk -F, -v want=%s 'NR==1{n=split(want,w,\",\"); for(i=1;i<=NF;i++) "
        "for(j=1;j<=n;j++) if($i==w[j]) c[j]=i; next} {s=\"\"; for(j=1;j<=n;j++) "
        "s=s $c[j] \";\"; print s}' %s/metrics.csv",
        work, cols, dir);
}

START_TEST(test_bomm_is_np_independent_and_resumes_bit_exactly) {
    char out[16384];
    const char *opts = BOMM " --scenario=bomm-hybrid";
    char extra[512];
    ck_assert_int_eq(mmc(2, "np2", opts, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "large acc") && strstr(out, "reconstruction"), "%.1500s", out);
    ck_assert_int_eq(mmc(3, "np3", opts, out, sizeof out), 0);
    assert_same_checkpoint(work, "np2", "np3", 4, NULL);
    assert_same_metrics(work, "np2", "np3", 0);
    // Round 3 is past the warm-up: DPO, the reference policy and the schedules are live.
    snprintf(extra, sizeof extra, "%s --stop-after=3", opts);
    int rc = mmc(2, "stop", extra, out, sizeof out);
    ck_assert_msg(rc == 3, "exit %d (3 = requeue)\n%.1500s", rc, out);
    snprintf(extra, sizeof extra, "%s --resume=auto", opts);
    rc = mmc(3, "stop", extra, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from"), "exit %d\n%.1500s", rc, out);
    assert_same_checkpoint(work, "np2", "stop", 4, NULL);
    assert_same_metrics(work, "np2", "stop", 0);
    // Both protocols score every evaluation round: the averaged model (global) and the parties'
    // models as they left training (personal) are different models.
    char a[4096], b[4096];
    ck_assert_int_eq(columns("np2", "party_test_acc_mean", a, sizeof a), 0);
    ck_assert_int_eq(columns("np2", "personal_test_acc_mean", b, sizeof b), 0);
    ck_assert_msg(strcmp(a, b) != 0 && !strstr(b, "nan"), "the protocols score alike:\n%s\n%s", a,
                  b);
    // The DPO phase really ran: a loss and a pair accuracy in round 4.
    ck_assert_int_eq(columns("np2", "round,gen_dpo_loss,gen_lambda", out, sizeof out), 0);
    const char *r4 = strstr(out, "\n4;");
    ck_assert_msg(r4 && r4[3] != ';', "no DPO loss in round 4:\n%s", out);
}
END_TEST

START_TEST(test_zero_fill_harness_trains_exactly_fedavg) {
    char out[16384];
    ck_assert_int_eq(mmc(3, "zero", "--method=zerofill --scenario=bomm-random", out, sizeof out),
                     0);
    ck_assert_int_eq(mmc(3, "avg", "--method=fedavg --scenario=bomm-random", out, sizeof out), 0);
    assert_same_checkpoint(work, "zero", "avg", 4, "/cloud/global");
    char a[8192], b[8192];
    const char *cols = "train_loss,test_acc,party_test_acc_mean,payload_up";
    ck_assert_int_eq(columns("zero", cols, a, sizeof a), 0);
    ck_assert_int_eq(columns("avg", cols, b, sizeof b), 0);
    ck_assert_str_eq(a, b);
}
END_TEST

// Every (round, party) cell of a per-party series in run.h5 that holds a number, row-major, into
// v; returns the count.
static int party_series(const char *dir, const char *name, double *v, int cap) {
    int n = read_series(work, dir, name, v, cap), k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) v[k++] = v[i];
    return k;
}

START_TEST(test_generators_reach_exactly_the_parties_missing_their_target) {
    char out[16384];
    enum { CELLS = 4 * 4 };
    double missing[CELLS + 4], got[CELLS + 4];
    // Cross-modal parties miss different modalities: each receives exactly its own targets.
    ck_assert_int_eq(mmc(3, "cross", BOMM " --scenario=bomm-crossmodal", out, sizeof out), 0);
    ck_assert_int_eq(party_series("cross", "party_missing_mask", missing, CELLS + 4), CELLS);
    ck_assert_int_eq(party_series("cross", "party_gen_mask", got, CELLS + 4), CELLS);
    int differ = 0;
    for (int k = 0; k < CELLS; k++) {
        ck_assert_msg(missing[k] > 0, "cell %d: a cross-modal party misses nothing", k);
        ck_assert_msg(got[k] == missing[k], "round %d party %d: received %g, misses %g", k / 4 + 1,
                      k % 4, got[k], missing[k]);
        differ |= missing[k] != missing[0];
    }
    ck_assert_msg(differ, "every party misses the same modalities: the test shows nothing");
    // Nothing missing anywhere: no generator travels, and the download is the model alone.
    ck_assert_int_eq(mmc(2, "iid", BOMM " --scenario=iid", out, sizeof out), 0);
    ck_assert_int_eq(party_series("iid", "party_gen_mask", got, CELLS + 4), CELLS);
    for (int k = 0; k < CELLS; k++)
        ck_assert_msg(got[k] == 0, "round %d party %d received generators %g", k / 4 + 1, k % 4,
                      got[k]);
}
END_TEST

START_TEST(test_alignment_pairs_single_modality_parties) {
    char out[16384];
    ck_assert_int_eq(mmc(2, "gpa", BOMM " --scenario=bomm-crossmodal", out, sizeof out), 0);
    ck_assert_int_eq(columns("gpa", "aligned_rows,gpa_pairs,gpa_precision", out, sizeof out), 0);
    // No party has a row with two modalities; every pair the large model sees comes from GPA.
    int rows = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), rows++) {
        double aligned = atof(line), pairs = atof(strchr(line, ';') + 1);
        ck_assert_msg(aligned == 0, "aligned rows in a cross-modal scenario: %s", line);
        ck_assert_msg(pairs > 0, "no pseudo-aligned pair: %s", line);
    }
    ck_assert_int_eq(rows, 4);
}
END_TEST

START_TEST(test_bad_thresholds_and_impossible_scenarios_end_every_rank) {
    struct {
        const char *extra, *needle;
    } cases[] = {
        {BOMM " --bomm.delta=0.9", "bomm.delta"},
        {BOMM " --bomm.kappa=1.5", "bomm.kappa"},
        {BOMM " --bomm.tau=0", "bomm.tau"},
        {BOMM " --bomm.gamma0=0.9 --bomm.gamma1=0.5", "--bomm.gamma0=0.9 exceeds"},
        {BOMM " --bomm.mm-width=30 --bomm.mm-heads=4", "not a multiple of --bomm.mm-heads"},
        {BOMM " --bomm.gpa=false --bomm.mm-singles=false --scenario=bomm-crossmodal",
         "no training row of any party has two"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16384];
        int rc = mmc(3, "bad", cases[i].extra, out, sizeof out);
        ck_assert_msg(rc != 0 && rc != 124, "%s: exit %d (124 = hang)\n%.1500s", cases[i].extra, rc,
                      out);
        ck_assert_msg(strstr(out, cases[i].needle), "%s: message lacks '%s':\n%.1500s",
                      cases[i].extra, cases[i].needle, out);
        run_command(NULL, 0, "rm -rf %s/bad", work);
    }
}
END_TEST

Suite *bomm_suite(void) {
    Suite *s = suite_create("bomm");
    TCase *tc = tcase_create("mmcollab");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_bomm_is_np_independent_and_resumes_bit_exactly);
    tcase_add_test(tc, test_zero_fill_harness_trains_exactly_fedavg);
    tcase_add_test(tc, test_generators_reach_exactly_the_parties_missing_their_target);
    tcase_add_test(tc, test_alignment_pairs_single_modality_parties);
    tcase_add_test(tc, test_bad_thresholds_and_impossible_scenarios_end_every_rank);
    suite_add_tcase(s, tc);
    return s;
}
