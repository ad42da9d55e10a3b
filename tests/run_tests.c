// run_tests.c - the one serial Check runner: every suite from tests/test_*.c (listed by the
// Makefile in build/gen/suites.c), fork mode, one summary line. CK_RUN_SUITE / CK_RUN_CASE select a
// subset.
#include <check.h>
#include <stdlib.h>

#include "core/log.h"

extern Suite *(*const TEST_SUITES[])(void);

int main(void) {
    log_init(0, LOG_WARN); // tests print only failures
    SRunner *sr = srunner_create(NULL);
    for (int i = 0; TEST_SUITES[i]; i++)
        srunner_add_suite(sr, TEST_SUITES[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
