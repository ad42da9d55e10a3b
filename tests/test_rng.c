// test_rng.c - Philox4x32-10 known answers (Random123 kat_vectors) and stream properties.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "helpers.h"

typedef struct Kat {
    uint32_t ctr[4], key[2], out[4];
} Kat;

static const Kat philox_kats[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

START_TEST(test_philox_matches_random123_known_answers) {
    const Kat *k = &philox_kats[_i];
    uint32_t out[4];
    philox4x32_10(out, k->ctr, k->key);
    for (int j = 0; j < 4; j++)
        ck_assert_msg(out[j] == k->out[j], "vector %d word %d: got %08x, want %08x", _i, j, out[j],
                      k->out[j]);
}
END_TEST

START_TEST(test_rng_stream_is_philox_of_its_counter) {
    // Word 4*b + j of stream (seed, round, party, purpose) is Philox((b, round, party, purpose), seed)[j].
    uint64_t seed = 0x0123456789abcdefULL;
    Rng r;
    rng_init(&r, seed, 7, 11, RNG_DROPOUT);
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (uint32_t b = 0; b < 5; b++) {
        uint32_t ctr[4] = {b, 7, 11, RNG_DROPOUT}, out[4];
        philox4x32_10(out, ctr, key);
        for (int j = 0; j < 4; j++) ck_assert_uint_eq(rng_u32(&r), out[j]);
    }
    ck_assert_uint_eq(rng_words_drawn(&r), 20);
}
END_TEST

START_TEST(test_rng_same_name_same_numbers_and_copy_resumes) {
    Rng a, b;
    rng_init(&a, 42, 3, 5, RNG_DATA);
    rng_init(&b, 42, 3, 5, RNG_DATA);
    for (int i = 0; i < 7; i++) ck_assert_uint_eq(rng_u32(&a), rng_u32(&b));
    Rng saved = a; // a checkpoint stores the struct: drawing on from the copy continues the stream
    for (int i = 0; i < 9; i++) ck_assert_uint_eq(rng_u32(&saved), rng_u32(&a));
}
END_TEST

// Streams that differ in one name component must not be correlated: compare the fraction of equal
// bits (expected 1/2) and the correlation of their uniforms (expected 0).
START_TEST(test_rng_streams_differing_in_one_component_are_independent) {
    enum { N = 20000 };
    const uint32_t names[5][3] = {{1, 2, 3}, {2, 2, 3}, {1, 3, 3}, {1, 2, 4}, {1, 2, 3}};
    const uint64_t seeds[5] = {9, 9, 9, 9, 10};
    Rng base;
    for (int s = 1; s < 5; s++) {
        Rng o;
        rng_init(&base, seeds[0], names[0][0], names[0][1], names[0][2]);
        rng_init(&o, seeds[s], names[s][0], names[s][1], names[s][2]);
        long same_bits = 0;
        double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < N; i++) {
            uint32_t x = rng_u32(&base), y = rng_u32(&o);
            same_bits += 32 - __builtin_popcount(x ^ y);
            double u = x / 4294967296.0, v = y / 4294967296.0;
            sx += u, sy += v, sxy += u * v, sxx += u * u, syy += v * v;
        }
        double frac = same_bits / (32.0 * N);
        double cov = sxy / N - (sx / N) * (sy / N);
        double corr = cov / sqrt((sxx / N - (sx / N) * (sx / N)) * (syy / N - (sy / N) * (sy / N)));
        // 5 sigma: bits sd = sqrt(0.25 / (32 N)) = 0.0006; corr sd = 1/sqrt(N) = 0.007.
        ck_assert_msg(fabs(frac - 0.5) < 0.003, "stream %d: equal-bit fraction %g", s, frac);
        ck_assert_msg(fabs(corr) < 0.035, "stream %d: correlation %g", s, corr);
    }
}
END_TEST

START_TEST(test_rng_uniform_and_normal_moments) {
    enum { N = 200000 };
    Rng r;
    rng_init(&r, 5, 0, 0, RNG_TEST);
    double su = 0, suu = 0, sn = 0, snn = 0, min_u = 1, max_u = 0;
    int n_bad = 0; // counted, asserted once: 400k ck_asserts (a pipe write each) hit the timeout
    for (int i = 0; i < N; i++) {
        double u = rng_uniform(&r), z = rng_normal(&r);
        n_bad += !(u >= 0 && u < 1) + !isfinite(z);
        su += u, suu += u * u, sn += z, snn += z * z;
        min_u = fmin(min_u, u), max_u = fmax(max_u, u);
    }
    ck_assert_int_eq(n_bad, 0);
    // 5 sigma: uniform mean sd = 0.289/sqrt(N) = 6.5e-4; normal mean sd = 2.2e-3, var sd ~ 3.2e-3.
    ck_assert_msg(fabs(su / N - 0.5) < 0.0033, "uniform mean %g", su / N);
    ck_assert_msg(fabs(suu / N - su / N * su / N - 1.0 / 12) < 0.002, "uniform var");
    ck_assert_msg(fabs(sn / N) < 0.011, "normal mean %g", sn / N);
    ck_assert_msg(fabs(snn / N - 1) < 0.016, "normal var %g", snn / N);
    ck_assert(min_u < 1e-4 && max_u > 1 - 1e-4);
}
END_TEST

START_TEST(test_rng_below_is_in_range_and_covers_it) {
    Rng r;
    rng_init(&r, 77, 0, 0, RNG_TEST);
    int counts[7] = {0};
    int n_bad = 0;
    for (int i = 0; i < 70000; i++) {
        uint32_t x = rng_below(&r, 7);
        if (x < 7)
            counts[x]++;
        else
            n_bad++;
    }
    ck_assert_int_eq(n_bad, 0);
    for (int k = 0; k < 7; k++) ck_assert_msg(abs(counts[k] - 10000) < 500, "bucket %d: %d", k, counts[k]);
}
END_TEST

static void draw_past_end(void *arg) {
    Rng *r = arg;
    r->block = (uint64_t)UINT32_MAX + 1; // as after 2^32 blocks
    r->pos = 4;
    rng_u32(r);
}

START_TEST(test_rng_exhausted_stream_dies_naming_it) {
    Rng r;
    rng_init(&r, 1, 12, 34, RNG_SHUFFLE);
    expect_die(draw_past_end, &r, "exhausted", "round 12", "party 34");
}
END_TEST

Suite *rng_suite(void) {
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_add_loop_test(tc, test_philox_matches_random123_known_answers, 0,
                        (int)(sizeof philox_kats / sizeof philox_kats[0]));
    tcase_add_test(tc, test_rng_stream_is_philox_of_its_counter);
    tcase_add_test(tc, test_rng_same_name_same_numbers_and_copy_resumes);
    tcase_add_test(tc, test_rng_streams_differing_in_one_component_are_independent);
    tcase_add_test(tc, test_rng_uniform_and_normal_moments);
    tcase_add_test(tc, test_rng_below_is_in_range_and_covers_it);
    tcase_add_test(tc, test_rng_exhausted_stream_dies_naming_it);
    suite_add_tcase(s, tc);
    return s;
}
