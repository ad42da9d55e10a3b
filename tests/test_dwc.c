// test_dwc.c - one tensor's compressed weight downlink (nn/dwc.h): the threshold, the exact top-ρ
// choice, the device's reconstruction within the quantisation bound, the bytes by hand.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "nn/dwc.h"

enum { N_MAX = 4096 };

// Buffers of one message and the scratch, for n <= N_MAX.
typedef struct {
    uint32_t idx[N_MAX], uwork[2 * N_MAX];
    uint8_t codes[N_MAX];
    float scales[N_MAX], work[N_MAX];
    double key[N_MAX];
    DwcMsg m;
} Box;

static void box_init(Box *b) {
    b->m = (DwcMsg){.idx = b->idx, .codes = b->codes, .scales = b->scales};
}

START_TEST(test_the_threshold_decides_what_is_sent) {
    static Box b;
    box_init(&b);
    float theta[4] = {3, 0, 4, 0}, delta[4] = {0.3f, 0, 0.4f, 0}; // ratio 0.1
    DwcOpts o = {.tau_rel = 0.05, .rho = 1, .fmt = QUANT_NF4, .block = 64};
    dwc_encode(&b.m, &o, delta, theta, 4, b.key, b.work, b.uwork);
    ck_assert_double_eq_tol(b.m.ratio, 0.1, 1e-7);
    ck_assert(b.m.send && b.m.k == 4);
    o.tau_rel = 0.2;
    dwc_encode(&b.m, &o, delta, theta, 4, b.key, b.work, b.uwork);
    ck_assert(!b.m.send && b.m.k == 0);
    ck_assert_uint_eq(dwc_bytes(&o, 4, b.m.k, b.m.send), 0);
    // Nothing applied when nothing is sent.
    float before[4] = {3, 0, 4, 0};
    dwc_apply(theta, &b.m, &o, 4, b.work);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(theta[i], before[i]);
    // A zero tensor that changes is always sent (ratio Inf); an unchanged one never.
    float zero[4] = {0}, none[4] = {0};
    dwc_encode(&b.m, &o, delta, zero, 4, b.key, b.work, b.uwork);
    ck_assert(b.m.send && isinf(b.m.ratio));
    o.tau_rel = 0;
    dwc_encode(&b.m, &o, none, theta, 4, b.key, b.work, b.uwork);
    ck_assert(!b.m.send && b.m.ratio == 0);
}
END_TEST

START_TEST(test_top_rho_picks_exactly_the_largest_entries) {
    static Box b;
    box_init(&b);
    enum { n = 16 };
    float delta[n], theta[n];
    for (int i = 0; i < n; i++) // |delta| a permutation of 1..16 with alternating signs
        delta[i] = (float)(((i * 5 + 2) % n) + 1) * (i % 2 ? -1.0f : 1.0f), theta[i] = 1;
    DwcOpts o = {.tau_rel = 0, .rho = 0.25, .fmt = QUANT_INT8, .block = 64};
    dwc_encode(&b.m, &o, delta, theta, n, b.key, b.work, b.uwork);
    ck_assert_uint_eq(b.m.k, 4);
    for (size_t j = 0; j < b.m.k; j++) {
        ck_assert(fabsf(delta[b.m.idx[j]]) >= 13); // 13..16 are the four largest
        ck_assert(j == 0 || b.m.idx[j] > b.m.idx[j - 1]);
    }
    // Ties go to the lower index.
    float tie[6] = {1, -2, 2, 0.5f, -2, 2}, one[6] = {1, 1, 1, 1, 1, 1};
    o.rho = 2.0 / 6;
    dwc_encode(&b.m, &o, tie, one, 6, b.key, b.work, b.uwork);
    ck_assert_uint_eq(b.m.k, 2);
    ck_assert(b.m.idx[0] == 1 && b.m.idx[1] == 2);
}
END_TEST

// The device's theta after apply: the sent entries moved by their Δ within the format's bound
// (times the block's absmax), the others untouched.
static void check_reconstruction(QuantFormat fmt, double rho, uint32_t seed) {
    static Box b;
    box_init(&b);
    enum { n = 1000 };
    static float delta[n], theta[n], after[n];
    fill_uniform(delta, n, -0.01f, 0.01f, seed);
    fill_uniform(theta, n, -1, 1, seed + 1);
    memcpy(after, theta, sizeof theta);
    DwcOpts o = {.tau_rel = 0, .rho = rho, .fmt = fmt, .block = 64};
    dwc_encode(&b.m, &o, delta, theta, n, b.key, b.work, b.uwork);
    ck_assert_uint_eq(b.m.k, dwc_entries(n, rho));
    dwc_apply(after, &b.m, &o, n, b.work);
    static uint8_t sent[n];
    memset(sent, rho == 1, sizeof sent);
    for (size_t j = 0; rho < 1 && j < b.m.k; j++)
        sent[b.m.idx[j]] = 1;
    for (size_t j = 0; j < b.m.k; j++) {
        size_t i = rho < 1 ? b.m.idx[j] : j;
        double bound = quant_error_bound(fmt) * b.scales[j / 64] + 4e-7; // + rounding of theta
        ck_assert_msg(fabs((double)after[i] - theta[i] - delta[i]) <= bound,
                      "%s rho %g: entry %zu moved by %g, sent %g (bound %g)",
                      quant_format_name(fmt), rho, i, (double)(after[i] - theta[i]),
                      (double)delta[i], bound);
    }
    for (size_t i = 0; i < n; i++)
        if (!sent[i]) ck_assert_float_eq(after[i], theta[i]);
}

START_TEST(test_the_device_adds_the_sent_delta_within_the_quantisation_bound) {
    check_reconstruction(QUANT_NF4, 1, 31);
    check_reconstruction(QUANT_INT4, 1, 33);
    check_reconstruction(QUANT_NF4, 0.1, 35);
    check_reconstruction(QUANT_INT4, 0.05, 37);
    check_reconstruction(QUANT_INT8, 0.5, 39);
}
END_TEST

START_TEST(test_bytes_by_hand) {
    DwcOpts o = {.tau_rel = 0, .rho = 0.1, .fmt = QUANT_NF4, .block = 64};
    // 100 of 1000 entries: 400 bytes of indices, 50 of codes, 2 scales.
    ck_assert_uint_eq(dwc_entries(1000, 0.1), 100);
    ck_assert_uint_eq(dwc_bytes(&o, 1000, 100, 1), 400 + 50 + 8);
    o.rho = 1; // dense: 500 bytes of codes and 16 scales, against 4000 bytes of fp32
    ck_assert_uint_eq(dwc_bytes(&o, 1000, 1000, 1), 500 + 64);
    o.fmt = QUANT_INT8;
    ck_assert_uint_eq(dwc_bytes(&o, 1000, 1000, 1), 1000 + 64);
}
END_TEST

static void bad_rho(void *arg) {
    (void)arg;
    dwc_entries(10, 0);
}

static void bad_tau(void *arg) {
    (void)arg;
    DwcOpts o = {.tau_rel = -1, .rho = 1, .fmt = QUANT_NF4, .block = 64};
    dwc_bytes(&o, 10, 10, 1);
}

START_TEST(test_bad_options_die_naming_them) {
    expect_die(bad_rho, NULL, "rho = 0");
    expect_die(bad_tau, NULL, "tau_rel = -1");
}
END_TEST

Suite *dwc_suite(void) {
    Suite *s = suite_create("dwc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_the_threshold_decides_what_is_sent);
    tcase_add_test(tc, test_top_rho_picks_exactly_the_largest_entries);
    tcase_add_test(tc, test_the_device_adds_the_sent_delta_within_the_quantisation_bound);
    tcase_add_test(tc, test_bytes_by_hand);
    tcase_add_test(tc, test_bad_options_die_naming_them);
    suite_add_tcase(s, tc);
    return s;
}
