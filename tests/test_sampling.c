// test_sampling.c - client sampling (--sample=K) and dropout (--party-dropout=p) in the driver,
// end to end (build/bin/mmcollab under mpirun on a small SynMM file):
//   - the round's K parties come from the round's own stream: -np 2 and -np 4 and a resume pick
//     the same sets and write identical checkpoints, for FedAvg and for BoMM (whose uploads,
//     personal models and generators follow the sampled parties);
//   - run.h5 records them: exactly K sampled per round, the sets change over the rounds, arrived ⊆
//     sampled; a party that was not sampled moves no payload, one that dropped out downloaded the
//     model but uploaded nothing;
//   - a --sample larger than --parties ends every rank with both keys named.
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 300

static char work[64], root[1024];

static void setup(void) {
    ck_assert_ptr_nonnull(getcwd(root, sizeof root));
    mmc_workdir(work, sizeof work, "mmc_sampling");
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static int mmc(int np, const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(
        out, cap,
        "cd %s && timeout %d mpirun --oversubscribe -np %d %s/mmcollab --data=syn.h5 "
        "--out=%s --parties=5 --rounds=4 --width=16 --batch-size=16 "
        "--scenario=bomm-hybrid %s 2>&1",
        work, RUN_TIMEOUT_S, np, mmc_bin(), out_dir, extra);
}

// Checks run.h5's sampling series with h5py: prints "ok" or what is wrong.
static void check_series(const char *dir, int k, int dropout) {
    char out[4096];
    int rc = run_command(
        out, sizeof out,
        "cd %s && /usr/bin/python3 - %s/run.h5 %d %d <<'EOF'\n"
        "import sys, h5py, numpy as np\n"
        "f = h5py.File(sys.argv[1], 'r'); k = int(sys.argv[2]); drop = int(sys.argv[3])\n"
        "m = f['metrics']; s = m['party_sampled'][()]; a = m['party_arrived'][()]\n"
        "up = m['party_payload_up'][()]; down = m['party_payload_down'][()]\n"
        "bad = []\n"
        "if not (s.sum(axis=1) == k).all(): bad.append('sampled per round %%s' %% s.sum(axis=1))\n"
        "if len({tuple(r) for r in s}) < 2: bad.append('the same set every round')\n"
        "if (a > s).any(): bad.append('arrived but not sampled')\n"
        "if ((s == 0) & ((up > 0) | (down > 0))).any(): bad.append('payload of an unsampled "
        "party')\n"
        "if ((s == 1) & (down <= 0)).any(): bad.append('a sampled party downloaded nothing')\n"
        "if ((s == 1) & (a == 0) & (up > 0)).any(): bad.append('a dropped party uploaded')\n"
        "if drop and not ((s == 1) & (a == 0)).any(): bad.append('nobody dropped out')\n"
        "if not drop and (a != s).any(): bad.append('a drop without --party-dropout')\n"
        "print('ok' if not bad else '; '.join(bad))\n"
        "EOF",
        work, dir, k, dropout);
    ck_assert_msg(rc == 0 && !strncmp(out, "ok", 2), "%s: %s", dir, out);
}

static void np_and_resume(const char *name, const char *extra) {
    char out[16384], ref[64], dir[64], more[256];
    snprintf(ref, sizeof ref, "%s_np2", name);
    int rc = mmc(2, ref, extra, out, sizeof out);
    ck_assert_msg(rc == 0, "%s -np 2: exit %d\n%.2000s", name, rc, out);
    snprintf(dir, sizeof dir, "%s_np4", name);
    rc = mmc(4, dir, extra, out, sizeof out);
    ck_assert_msg(rc == 0, "%s -np 4: exit %d\n%.2000s", name, rc, out);
    assert_same_checkpoint(work, ref, dir, 4, NULL);
    assert_same_metrics(work, ref, dir, 4);
    snprintf(dir, sizeof dir, "%s_stop", name);
    snprintf(more, sizeof more, "%s --stop-after=2", extra);
    ck_assert_int_eq(mmc(3, dir, more, out, sizeof out), 3);
    snprintf(more, sizeof more, "%s --resume=auto", extra);
    rc = mmc(2, dir, more, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from"), "%s resume: exit %d\n%.2000s", name, rc,
                  out);
    assert_same_checkpoint(work, ref, dir, 4, NULL);
    assert_same_metrics(work, ref, dir, 4);
}

START_TEST(test_sampled_sets_are_np_independent_and_survive_a_resume) {
    np_and_resume("avg", "--method=fedavg --sample=2");
    check_series("avg_np2", 2, 0);
    np_and_resume("drop", "--method=fedavg --sample=3 --party-dropout=0.5");
    check_series("drop_np2", 3, 1);
    np_and_resume("bomm", "--method=bomm --sample=3 --party-dropout=0.3 --bomm.mm-width=32 "
                          "--bomm.mm-layers=1 --bomm.upload=64 --bomm.warmup=1");
    check_series("bomm_np2", 3, 1);
}
END_TEST

START_TEST(test_a_sample_above_the_parties_is_refused_naming_both) {
    char out[8192];
    int rc = mmc(3, "bad", "--method=fedavg --sample=6", out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d\n%.2000s", rc, out);
    ck_assert_msg(strstr(out, "--sample=6") && strstr(out, "--parties=5"), "%.2000s", out);
}
END_TEST

Suite *sampling_suite(void) {
    Suite *s = suite_create("sampling");
    TCase *tc = tcase_create("driver");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_sampled_sets_are_np_independent_and_survive_a_resume);
    tcase_add_test(tc, test_a_sample_above_the_parties_is_refused_naming_both);
    suite_add_tcase(s, tc);
    return s;
}
