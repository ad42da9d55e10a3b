// test_attack.c - the attack simulator (src/agg/attack.h): sign flip and scaling exactly as
// stated, the noise attack's mean and variance and its stream, NaN coordinates where stated (and
// caught by robust_screen), the attackers a fixed k-subset from the stated stream, names.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg/attack.h"
#include "agg/robust.h"
#include "core/rng.h"
#include "helpers.h"

// Noise moments over NOISE_N draws: 6 standard errors (deterministic stream, so never flaky).
#define NOISE_N 200000
#define TOL_SIGMAS 6.0

START_TEST(test_signflip_and_scale_are_exact) {
    enum { N = 1001 };
    float x[N], y[N];
    fill_uniform(x, N, -2.f, 2.f, 3);
    memcpy(y, x, sizeof x);
    attack_apply(ATTACK_SIGNFLIP, y, N, 1.0, 1, 1, 0);
    for (int i = 0; i < N; i++)
        ck_assert_msg(y[i] == -x[i], "signflip[%d]: %g vs %g", i, (double)y[i], (double)x[i]);
    memcpy(y, x, sizeof x);
    attack_apply(ATTACK_SIGNFLIP, y, N, 4.0, 1, 1, 0); // a power of two: exact
    for (int i = 0; i < N; i++)
        ck_assert(y[i] == -4 * x[i]);
    memcpy(y, x, sizeof x);
    attack_apply(ATTACK_SCALE, y, N, 10.0, 1, 1, 0); // the product in double, rounded once
    for (int i = 0; i < N; i++)
        ck_assert_msg(y[i] == (float)(10.0 * (double)x[i]), "scale[%d]: %.9g from %.9g", i,
                      (double)y[i], (double)x[i]);
    memcpy(y, x, sizeof x);
    attack_apply(ATTACK_NONE, y, N, 0, 1, 1, 0);
    ck_assert_mem_eq(x, y, sizeof x);
}
END_TEST

START_TEST(test_noise_has_the_stated_moments_and_stream) {
    float *x = malloc(NOISE_N * sizeof *x), *y = malloc(NOISE_N * sizeof *y);
    const double s = 0.5;
    fill_uniform(x, NOISE_N, 10.f, 11.f, 1); // the update's own values must vanish
    attack_apply(ATTACK_NOISE, x, NOISE_N, s, 77, 3, 5);
    double sum = 0, sq = 0;
    for (int i = 0; i < NOISE_N; i++)
        sum += x[i], sq += (double)x[i] * x[i];
    double mean = sum / NOISE_N, var = sq / NOISE_N - mean * mean;
    ck_assert_msg(fabs(mean) < TOL_SIGMAS * s / sqrt(NOISE_N), "noise mean %g", mean);
    ck_assert_msg(fabs(var - s * s) < TOL_SIGMAS * s * s * sqrt(2.0 / NOISE_N), "noise var %g",
                  var);
    // The stream (seed, round, party, RNG_ATTACK), read by rng_fill_normal.
    Rng r;
    rng_init(&r, 77, 3, 5, RNG_ATTACK);
    rng_fill_normal(&r, y, NOISE_N, 0.f, (float)s);
    ck_assert_mem_eq(x, y, NOISE_N * sizeof *x);
    attack_apply(ATTACK_NOISE, y, NOISE_N, s, 77, 3, 6); // another party: other numbers
    ck_assert(memcmp(x, y, NOISE_N * sizeof *x) != 0);
    free(y);
    free(x);
}
END_TEST

// n = 10: c = 3 coordinates j·10/3 = 0, 3, 6. n = 2: both. The screen rejects the result.
START_TEST(test_nan_sets_the_stated_coordinates) {
    float x[10], y[10];
    fill_uniform(x, 10, -1.f, 1.f, 2);
    memcpy(y, x, sizeof x);
    attack_apply(ATTACK_NAN, y, 10, 0, 1, 1, 0);
    for (int i = 0; i < 10; i++) {
        int want_nan = i == 0 || i == 3 || i == 6;
        ck_assert_msg(want_nan ? isnan(y[i]) : y[i] == x[i], "nan attack, coordinate %d: %g", i,
                      (double)y[i]);
    }
    ck_assert_int_eq(robust_screen(y, 10, 4096, 0, 0, NULL), VERDICT_NONFINITE);
    float z[2] = {1, 2};
    attack_apply(ATTACK_NAN, z, 2, 0, 1, 1, 0);
    ck_assert(isnan(z[0]) && isnan(z[1]));
}
END_TEST

// k of P, the same for the same seed, from the stream (seed, 0, 0, RNG_ATTACK) by
// rng_sample_prefix; other seeds choose other subsets.
START_TEST(test_attackers_are_a_fixed_k_subset) {
    enum { P = 10 };
    uint8_t a[P], b[P];
    for (int k = 0; k <= P; k++) {
        attack_parties(a, P, k, 1234);
        attack_parties(b, P, k, 1234);
        ck_assert_mem_eq(a, b, sizeof a);
        int count = 0;
        for (int p = 0; p < P; p++)
            count += a[p];
        ck_assert_int_eq(count, k);
    }
    attack_parties(a, P, 3, 1234);
    int64_t idx[P];
    Rng r;
    rng_init(&r, 1234, 0, 0, RNG_ATTACK);
    rng_sample_prefix(&r, idx, P, 3);
    memset(b, 0, sizeof b);
    for (int j = 0; j < 3; j++)
        b[idx[j]] = 1;
    ck_assert_mem_eq(a, b, sizeof a);
    int differ = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        attack_parties(b, P, 3, seed);
        differ += memcmp(a, b, sizeof a) != 0;
    }
    ck_assert_int_ge(differ, 6); // 8 seeds, each the same 3-subset with chance 1/120
}
END_TEST

static void too_many_attackers(void *arg) {
    (void)arg;
    uint8_t a[4];
    attack_parties(a, 4, 5, 1);
}

static void zero_scale(void *arg) {
    (void)arg;
    float x[2] = {1, 2};
    attack_apply(ATTACK_SCALE, x, 2, 0, 1, 1, 0);
}

static void round_zero(void *arg) {
    (void)arg;
    float x[2] = {1, 2};
    attack_apply(ATTACK_NOISE, x, 2, 1, 1, 0, 0);
}

START_TEST(test_bad_arguments_are_named) {
    expect_die(too_many_attackers, NULL, "attackers k = 5", "P = 4");
    expect_die(zero_scale, NULL, "scale", "strength = 0");
    expect_die(round_zero, NULL, "round 0", "round must be >= 1");
}
END_TEST

START_TEST(test_names_round_trip) {
    for (int k = 0; k < ATTACK_KIND_COUNT; k++) {
        AttackKind got = ATTACK_NONE;
        ck_assert_int_eq(attack_kind_from_name(attack_kind_name((AttackKind)k), &got), 0);
        ck_assert_int_eq(got, k);
        ck_assert_ptr_nonnull(strstr(ATTACK_KIND_NAMES, attack_kind_name((AttackKind)k)));
    }
    AttackKind keep = ATTACK_NAN;
    ck_assert_int_eq(attack_kind_from_name("sign-flip", &keep), -1);
    ck_assert_int_eq(keep, ATTACK_NAN);
    ck_assert_ptr_null(attack_kind_name((AttackKind)ATTACK_KIND_COUNT));
    ck_assert(attack_default_strength(ATTACK_SIGNFLIP) == 1);
    ck_assert(attack_default_strength(ATTACK_SCALE) == 10);
}
END_TEST

Suite *attack_suite(void) {
    Suite *s = suite_create("attack");
    TCase *tc = tcase_create("simulator");
    tcase_add_test(tc, test_signflip_and_scale_are_exact);
    tcase_add_test(tc, test_noise_has_the_stated_moments_and_stream);
    tcase_add_test(tc, test_nan_sets_the_stated_coordinates);
    tcase_add_test(tc, test_attackers_are_a_fixed_k_subset);
    tcase_add_test(tc, test_bad_arguments_are_named);
    tcase_add_test(tc, test_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
