// test_shamir.c - Shamir sharing over GF(2^61 - 1) (secagg/shamir.h): every t-subset of n = 6
// shares gives the secret back for every t, every (t - 1)-subset does not; the same key gives the
// same shares and another key other shares; party-sized x (up to 10^5 and the field's top) work;
// bad thresholds and repeated x end in a CHECK naming the value.
#include <check.h>
#include <string.h>

#include "core/rng.h"
#include "helpers.h"
#include "secagg/shamir.h"

enum { N = 6 };

static void fill_bytes(uint8_t *b, size_t n, uint32_t stream) {
    Rng r;
    rng_init(&r, 1234, 0, stream, RNG_TEST);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rng_u32(&r);
}

// Gathers the shares and xs of the members of subset (bit i = share i) in order; returns the count.
static int pick(uint64_t *sub, uint64_t *sub_xs, const uint64_t *shares, const uint64_t *xs,
                unsigned subset) {
    int k = 0;
    for (int i = 0; i < N; i++)
        if (subset >> i & 1) {
            memcpy(sub + (size_t)k * SHAMIR_LIMBS, shares + (size_t)i * SHAMIR_LIMBS,
                   SHAMIR_LIMBS * sizeof *sub);
            sub_xs[k++] = xs[i];
        }
    return k;
}

// Every subset of the n shares: exactly t gives the secret (more would too: degree t - 1), exactly
// t - 1 gives something else (or a limb out of a secret's range, reported as -1).
static void check_every_subset(const uint8_t *secret, const uint64_t *xs, uint32_t key_stream) {
    uint8_t key[32];
    fill_bytes(key, sizeof key, key_stream);
    uint64_t shares[N * SHAMIR_LIMBS], sub[N * SHAMIR_LIMBS], sub_xs[N];
    for (int t = 1; t <= N; t++) {
        shamir_split(shares, secret, xs, N, t, key);
        int exact = 0, short_ = 0;
        for (unsigned subset = 1; subset < (1u << N); subset++) {
            int k = pick(sub, sub_xs, shares, xs, subset);
            uint8_t got[SHAMIR_SECRET];
            int rc = shamir_combine(got, sub, sub_xs, k);
            if (k >= t) {
                ck_assert_msg(rc == 0 && !memcmp(got, secret, SHAMIR_SECRET),
                              "t = %d, subset 0x%x of %d shares: rc %d or a wrong secret", t,
                              subset, k, rc);
                exact += k == t;
            } else if (k == t - 1) {
                ck_assert_msg(rc == -1 || memcmp(got, secret, SHAMIR_SECRET),
                              "t = %d: %d shares (subset 0x%x) gave the secret", t, k, subset);
                short_++;
            }
        }
        // C(6, t) subsets of t and C(6, t - 1) of t - 1 (none at t = 1: no empty combine)
        static const int binom[N + 1] = {1, 6, 15, 20, 15, 6, 1};
        ck_assert_int_eq(exact, binom[t]);
        ck_assert_int_eq(short_, t >= 2 ? binom[t - 1] : 0);
    }
}

START_TEST(test_every_t_subset_reconstructs_and_fewer_do_not) {
    const uint64_t xs[N] = {1, 2, 3, 4, 5, 6};
    uint8_t secret[SHAMIR_SECRET];
    fill_bytes(secret, sizeof secret, 1);
    check_every_subset(secret, xs, 2);
    uint8_t ones[SHAMIR_SECRET], zeros[SHAMIR_SECRET] = {0}; // every limb at its range's ends
    memset(ones, 0xff, sizeof ones);
    check_every_subset(ones, xs, 3);
    check_every_subset(zeros, xs, 4);
}
END_TEST

START_TEST(test_party_sized_and_extreme_x) {
    // Party ids + 1 of a large federation, the field's largest x, and x = 1 together.
    const uint64_t xs[N] = {100000, 1, SHAMIR_MAX_X, 65536, 257, SHAMIR_MAX_X - 1};
    uint8_t secret[SHAMIR_SECRET];
    fill_bytes(secret, sizeof secret, 5);
    check_every_subset(secret, xs, 6);
}
END_TEST

START_TEST(test_same_key_same_shares_other_key_other_shares) {
    const uint64_t xs[N] = {3, 9, 27, 81, 243, 729};
    uint8_t secret[SHAMIR_SECRET], k1[32], k2[32];
    fill_bytes(secret, sizeof secret, 7), fill_bytes(k1, 32, 8), fill_bytes(k2, 32, 9);
    uint64_t a[N * SHAMIR_LIMBS], b[N * SHAMIR_LIMBS], c[N * SHAMIR_LIMBS];
    shamir_split(a, secret, xs, N, 4, k1);
    shamir_split(b, secret, xs, N, 4, k1);
    shamir_split(c, secret, xs, N, 4, k2);
    ck_assert_mem_eq(a, b, sizeof a);
    int same = 0;
    for (int i = 0; i < N * SHAMIR_LIMBS; i++) {
        same += a[i] == c[i];
        ck_assert_uint_lt(a[i], SHAMIR_P);
    }
    ck_assert_int_eq(same, 0);
    // A single share of a t >= 2 sharing is not the secret's limb (it is masked by the
    // coefficients).
    uint64_t limb0 = 0;
    for (int b8 = 0; b8 < 7; b8++)
        limb0 |= (uint64_t)secret[b8] << (8 * b8);
    for (int i = 0; i < N; i++)
        ck_assert_uint_ne(a[(size_t)i * SHAMIR_LIMBS], limb0);
}
END_TEST

START_TEST(test_threshold_one_shares_are_the_secret_limbs) {
    // Degree 0: every share is the secret's limbs, and any one share reconstructs.
    const uint64_t xs[3] = {4, 5, 6};
    uint8_t secret[SHAMIR_SECRET], key[32], got[SHAMIR_SECRET];
    fill_bytes(secret, sizeof secret, 10), fill_bytes(key, 32, 11);
    uint64_t sh[3 * SHAMIR_LIMBS];
    shamir_split(sh, secret, xs, 3, 1, key);
    for (int i = 0; i < 3; i++) {
        ck_assert_mem_eq(sh + i * SHAMIR_LIMBS, sh, SHAMIR_LIMBS * sizeof *sh);
        ck_assert_int_eq(shamir_combine(got, sh + i * SHAMIR_LIMBS, xs + i, 1), 0);
        ck_assert_mem_eq(got, secret, SHAMIR_SECRET);
    }
}
END_TEST

static void split_t_above_n(void *arg) {
    (void)arg;
    const uint64_t xs[3] = {1, 2, 3};
    uint8_t secret[SHAMIR_SECRET] = {0}, key[32] = {0};
    uint64_t sh[3 * SHAMIR_LIMBS];
    shamir_split(sh, secret, xs, 3, 4, key);
}

static void split_repeated_x(void *arg) {
    (void)arg;
    const uint64_t xs[3] = {1, 7, 7};
    uint8_t secret[SHAMIR_SECRET] = {0}, key[32] = {0};
    uint64_t sh[3 * SHAMIR_LIMBS];
    shamir_split(sh, secret, xs, 3, 2, key);
}

static void combine_zero_x(void *arg) {
    (void)arg;
    const uint64_t xs[2] = {0, 1};
    uint64_t sh[2 * SHAMIR_LIMBS] = {0};
    uint8_t got[SHAMIR_SECRET];
    shamir_combine(got, sh, xs, 2);
}

START_TEST(test_bad_arguments_die_naming_the_value) {
    expect_die(split_t_above_n, NULL, "threshold t = 4", "n = 3");
    expect_die(split_repeated_x, NULL, "x = 7 appears twice");
    expect_die(combine_zero_x, NULL, "x = 0 outside");
}
END_TEST

Suite *shamir_suite(void) {
    Suite *s = suite_create("shamir");
    TCase *tc = tcase_create("shamir");
    tcase_add_test(tc, test_every_t_subset_reconstructs_and_fewer_do_not);
    tcase_add_test(tc, test_party_sized_and_extreme_x);
    tcase_add_test(tc, test_same_key_same_shares_other_key_other_shares);
    tcase_add_test(tc, test_threshold_one_shares_are_the_secret_limbs);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_value);
    suite_add_tcase(s, tc);
    return s;
}
