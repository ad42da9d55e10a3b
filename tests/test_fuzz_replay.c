// test_fuzz_replay.c - every fuzz harness (tests/fuzz/fuzz_<name>.c, docs/fuzzing.md) replays its
// corpus (tests/fuzz/corpus/<name>/) and every crash found and fixed (tests/fuzz/crashes/<name>/)
// through its plain main (replay_<name>, tests/fuzz/replay.c) without crashing, hanging, leaking
// or breaking a contract the harness checks; under make asan with ASan, LeakSanitizer and UBSan.
// Crashes found and not fixed yet wait in tests/fuzz/open/<name>/, which is not replayed.
//
// Run from the repository root (make test does): the corpus paths are relative.
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define REPLAY_TIMEOUT_S 300 // the whole corpus takes seconds; a hang must not stall make test

// Replays harness name's corpus and fixed crashes; fails with the tail of its output.
static void replay(const char *name) {
    char out[8192];
    int rc = run_command(out, sizeof out,
                         "log=$(mktemp) && ASAN_OPTIONS=detect_leaks=1 "
                         "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 timeout %d "
                         "%s/replay_%s tests/fuzz/corpus/%s tests/fuzz/crashes/%s >$log 2>&1; "
                         "rc=$?; tail -c 6000 $log; rm -f $log; exit $rc",
                         REPLAY_TIMEOUT_S, mmc_bin(), name, name, name);
    ck_assert_msg(rc == 0, "replay_%s failed (exit %d); the input it names last is the one:\n%s",
                  name, rc, out);
    const char *at = strstr(out, "replayed ");
    ck_assert_msg(at != NULL, "replay_%s printed no summary:\n%s", name, out);
    ck_assert_msg(atoi(at + strlen("replayed ")) >= 1,
                  "replay_%s replayed no input: tests/fuzz/corpus/%s/ is missing or empty", name,
                  name);
}

START_TEST(test_replay_config) { replay("config"); }
END_TEST

START_TEST(test_replay_options) { replay("options"); }
END_TEST

START_TEST(test_replay_dataset) { replay("dataset"); }
END_TEST

START_TEST(test_replay_ckpt) { replay("ckpt"); }
END_TEST

// A harness added without a corpus, or without a test above, is caught here.
START_TEST(test_every_harness_has_a_corpus_and_a_test) {
    static const char *const tested[] = {"config", "options", "dataset", "ckpt"};
    DIR *d = opendir("tests/fuzz");
    ck_assert_msg(d != NULL, "tests/fuzz/ not found: run from the repository root");
    struct dirent *e;
    int harnesses = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "fuzz_", 5) != 0 || len < 8 || strcmp(e->d_name + len - 2, ".c"))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), e->d_name + 5);
        int known = 0;
        for (size_t i = 0; i < sizeof tested / sizeof tested[0]; i++)
            known |= !strcmp(tested[i], name);
        ck_assert_msg(known, "tests/fuzz/%s has no replay test in tests/test_fuzz_replay.c",
                      e->d_name);
        char dir[128];
        snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
        DIR *c = opendir(dir);
        int files = 0;
        struct dirent *f;
        while (c && (f = readdir(c)) != NULL)
            files += f->d_name[0] != '.';
        if (c) closedir(c);
        ck_assert_msg(files > 0, "%s/ is missing or empty: seed it (docs/fuzzing.md)", dir);
        harnesses++;
    }
    closedir(d);
    ck_assert_int_eq(harnesses, (int)(sizeof tested / sizeof tested[0]));
}
END_TEST

Suite *fuzz_replay_suite(void) {
    Suite *s = suite_create("fuzz_replay");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, REPLAY_TIMEOUT_S + 60);
    tcase_add_test(tc, test_replay_config);
    tcase_add_test(tc, test_replay_options);
    tcase_add_test(tc, test_replay_dataset);
    tcase_add_test(tc, test_replay_ckpt);
    tcase_add_test(tc, test_every_harness_has_a_corpus_and_a_test);
    suite_add_tcase(s, tc);
    return s;
}
