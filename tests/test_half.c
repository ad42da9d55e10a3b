// test_half.c - binary16 conversion (core/half.h): every half survives the round trip; a float
// goes to the nearest half (ties to the even one), checked against a search over the halves.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "core/rng.h"
#include "helpers.h"

START_TEST(test_every_half_round_trips) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = half_to_float((uint16_t)h);
        uint16_t back = half_from_float(f);
        if (isnan(f))
            bad += (back & 0x7c00u) != 0x7c00u || !(back & 0x3ffu);
        else
            bad += back != h;
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_hand_values) {
    ck_assert_float_eq(half_to_float(0x3c00), 1.0f);
    ck_assert_float_eq(half_to_float(0xc000), -2.0f);
    ck_assert_float_eq(half_to_float(0x7bff), 65504.0f);
    ck_assert_float_eq(half_to_float(0x0001), ldexpf(1.0f, -24)); // the smallest subnormal
    ck_assert_uint_eq(half_from_float(65520.0f), 0x7c00);         // rounds up to infinity
    ck_assert_uint_eq(half_from_float(65519.0f), 0x7bff);
    ck_assert_uint_eq(half_from_float(ldexpf(1.0f, -25)), 0x0000); // a tie: to even (zero)
    ck_assert_uint_eq(half_from_float(ldexpf(1.5f, -25)), 0x0001);
    ck_assert_uint_eq(half_from_float(1.0f + ldexpf(1.0f, -11)), 0x3c00); // tie to even
    ck_assert_uint_eq(half_from_float(1.0f + ldexpf(3.0f, -11)), 0x3c02); // tie to even (up)
    ck_assert_uint_eq(half_from_float(-0.0f), 0x8000);
    ck_assert_uint_eq(half_from_float(INFINITY), 0x7c00);
}
END_TEST

// The nearest of the two halves around x (ties: the even code), by search.
static uint16_t nearest(float x) {
    uint16_t best = 0;
    double bd = INFINITY;
    for (uint32_t h = 0; h < 0x7c00; h++) { // the finite non-negative halves, ascending
        double d = fabs((double)half_to_float((uint16_t)h) - fabs(x));
        if (d < bd || (d == bd && !(h & 1))) bd = d, best = (uint16_t)h;
        if ((double)half_to_float((uint16_t)h) > fabs(x)) break;
    }
    return (uint16_t)(best | (signbit(x) ? 0x8000 : 0));
}

START_TEST(test_floats_go_to_the_nearest_half) {
    Rng rng;
    rng_init(&rng, 11, 0, 0, RNG_TEST);
    int bad = 0;
    for (int i = 0; i < 3000; i++) {
        // magnitudes over the whole half range, subnormals included, and exact ties
        float x = ldexpf(rng_uniform(&rng) + 0.5f, (int)rng_below(&rng, 42) - 26);
        if (i % 3 == 0) x = half_to_float((uint16_t)rng_below(&rng, 0x7bff)) * (1.0f + 0x1p-11f);
        if (i % 2) x = -x;
        if (fabsf(x) >= 65504.0f) continue;
        bad += half_from_float(x) != nearest(x);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

Suite *half_suite(void) {
    Suite *s = suite_create("half");
    TCase *tc = tcase_create("half");
    tcase_add_test(tc, test_every_half_round_trips);
    tcase_add_test(tc, test_hand_values);
    tcase_add_test(tc, test_floats_go_to_the_nearest_half);
    suite_add_tcase(s, tc);
    return s;
}
