// test_die.c - CHECK and friends print file:line, the function and the values, then abort; the NaN
// guard names the op that produced a non-finite value.
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "helpers.h"

static void failing_check(void *arg) {
    int c = *(int *)arg;
    CHECK(c == 64, "inp has C=%d, weight expects C=%d", c, 64);
}

START_TEST(test_check_failure_names_file_function_and_values) {
    int c = 63;
    expect_die(failing_check, &c, "tests/test_die.c:", "failing_check", "inp has C=63",
               "expects C=64");
}
END_TEST

START_TEST(test_check_success_returns) {
    int c = 64;
    failing_check(&c); // must not die
}
END_TEST

static void big_count(void *arg) {
    size_t n = (size_t)INT_MAX + 1;
    (void)arg;
    CHECK_INT_COUNT(n);
}

START_TEST(test_count_over_int_max_is_refused) {
    expect_die(big_count, NULL, "n = 2147483648", "INT_MAX");
}
END_TEST

static void null_arg(void *arg) {
    const float *inp = arg;
    CHECK_PTR(inp);
}

START_TEST(test_null_pointer_is_named) { expect_die(null_arg, NULL, "inp is NULL"); }
END_TEST

static void nan_in_output(void *arg) {
    float *x = arg;
    nanguard_set(1);
    NANGUARD("gelu_forward", "out", x, 4);
}

START_TEST(test_nan_guard_names_the_op_and_index) {
    float x[4] = {1, 2, NAN, 4};
    expect_die(nan_in_output, x, "gelu_forward", "out[2]");
    nanguard_set(0);
    NANGUARD("gelu_forward", "out", x, 4); // disabled: no effect
}
END_TEST

static void lapack_fail(void *arg) {
    int info = *(int *)arg;
    LAPACK_CHECK(info);
}

START_TEST(test_lapack_info_is_explained) {
    int info = -3;
    expect_die(lapack_fail, &info, "info=-3", "illegal argument");
    info = 2;
    expect_die(lapack_fail, &info, "info=2", "did not converge");
}
END_TEST

static void open_missing_h5(void *arg) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // H5_CHECK prints the stack itself
    hid_t f = H5Fopen((const char *)arg, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5_CHECK(f);
}

START_TEST(test_h5_check_names_the_call_and_prints_the_hdf5_stack) {
    expect_die(open_missing_h5, "/nonexistent/run.h5", "HDF5 call failed: f", "open_missing_h5",
               "/nonexistent/run.h5");
}
END_TEST

// The fuzz harnesses' hook (die.h): called after the message, it may longjmp back; one that
// returns leaves the process to end as without a hook.
static jmp_buf hook_jmp;
static int hook_calls;
static void jump_back(void) {
    hook_calls++;
    longjmp(hook_jmp, 1);
}
static void count_only(void) { hook_calls++; }

static void check_with_returning_hook(void *arg) {
    die_set_hook(count_only);
    failing_check(arg);
}

START_TEST(test_die_hook_can_take_control_back) {
    int c = 63;
    hook_calls = 0;
    die_set_hook(jump_back);
    if (setjmp(hook_jmp) == 0) {
        failing_check(&c);
        die_set_hook(NULL);
        ck_abort_msg("the failed CHECK returned instead of calling the hook");
    }
    die_set_hook(NULL);
    ck_assert_int_eq(hook_calls, 1);
    // A hook that returns does not keep the process alive, and a cleared hook changes nothing.
    expect_die(check_with_returning_hook, &c, "inp has C=63");
    expect_die(failing_check, &c, "inp has C=63");
}
END_TEST

Suite *die_suite(void) {
    Suite *s = suite_create("die");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_check_failure_names_file_function_and_values);
    tcase_add_test(tc, test_check_success_returns);
    tcase_add_test(tc, test_count_over_int_max_is_refused);
    tcase_add_test(tc, test_null_pointer_is_named);
    tcase_add_test(tc, test_nan_guard_names_the_op_and_index);
    tcase_add_test(tc, test_lapack_info_is_explained);
    tcase_add_test(tc, test_h5_check_names_the_call_and_prints_the_hdf5_stack);
    tcase_add_test(tc, test_die_hook_can_take_control_back);
    suite_add_tcase(s, tc);
    return s;
}
