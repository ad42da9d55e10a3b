// test_preflight.c - the run's start-up memory rule (fl/preflight.h): the lower bound per rank is
// the documented sum, the verdict sums the ranks of each host against that host's memory and names
// the host, the ranks and the options, and the available memory honours MMC_MEM_AVAILABLE. The
// run-time refusals themselves (exit 2 on every rank) are in test_pipeline.c.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl/preflight.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

START_TEST(test_rank_bytes_is_the_documented_lower_bound) {
    // 1000 parameters, a batch of 8 rows of 100 inputs, 10 classes, a representation of 16:
    // hosting parties: (2 + 3) * 1000 + 8 * (100 + 3 * 10 + 2 * 16) = 6296 floats.
    ck_assert_double_eq(preflight_rank_bytes(1000, 1, 8, 100, 10, 16), 6296.0 * 4);
    // The cloud without parties: 2 * 1000 + 1296 = 3296 floats.
    ck_assert_double_eq(preflight_rank_bytes(1000, 0, 8, 100, 10, 16), 3296.0 * 4);
    // Sizes whose product overflows 32 bits stay exact in double.
    ck_assert_double_eq(preflight_rank_bytes((size_t)3e9, 1, 65536, 4096, 0, 0),
                        (5 * 3e9 + 65536.0 * 4096) * 4);
}
END_TEST

START_TEST(test_memory_verdict_sums_the_ranks_of_each_host) {
    char err[1024] = "";
    PreflightMem r[3] = {
        {6 * GIB, 10 * GIB, "a"}, {6 * GIB, 10 * GIB, "a"}, {6 * GIB, 10 * GIB, "b"}};
    ck_assert_int_eq(preflight_memory_verdict(r, 3, "--width=4096", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "--width=4096") && strstr(err, "2 rank(s) on host a") &&
                      strstr(err, "12.00 GiB") && strstr(err, "10.00 GiB"),
                  "%s", err);
    snprintf(r[1].host, sizeof r[1].host, "c"); // one rank per host: each fits
    ck_assert_int_eq(preflight_memory_verdict(r, 3, "x", err, sizeof err), 0);
    // A host's least reading counts; a host whose memory is unknown passes.
    r[0].need = r[1].need = r[2].need = 4 * GIB;
    snprintf(r[1].host, sizeof r[1].host, "a");
    r[1].avail = 7 * GIB;
    ck_assert_int_eq(preflight_memory_verdict(r, 3, "x", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "host a") && strstr(err, "7.00 GiB"), "%s", err);
    r[0].avail = r[1].avail = -1;
    ck_assert_int_eq(preflight_memory_verdict(r, 3, "x", err, sizeof err), 0);
}
END_TEST

START_TEST(test_mem_available_honours_the_environment) {
    setenv("MMC_MEM_AVAILABLE", "123456789", 1);
    ck_assert_double_eq(preflight_mem_available(), 123456789.0);
    // Not a number: ignored (with a warning) for the machine's own figure, at most its memory.
    setenv("MMC_MEM_AVAILABLE", "lots", 1);
    double machine = preflight_mem_available();
    double physical = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    ck_assert_msg(machine > 0 && machine <= physical, "%g of %g", machine, physical);
    unsetenv("MMC_MEM_AVAILABLE");
    ck_assert(preflight_mem_available() > 0);
}
END_TEST

Suite *preflight_suite(void) {
    Suite *s = suite_create("preflight");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, test_rank_bytes_is_the_documented_lower_bound);
    tcase_add_test(tc, test_memory_verdict_sums_the_ranks_of_each_host);
    tcase_add_test(tc, test_mem_available_honours_the_environment);
    suite_add_tcase(s, tc);
    return s;
}
