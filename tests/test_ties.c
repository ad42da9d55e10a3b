// test_ties.c - TIES-merging (agg/ties.h): the keep count, trimming with ties at the boundary, and
// a 3-party 6-entry merge worked by hand (a sign elected against the majority of signs, entries
// where no party agrees, a disjoint mean over two parties); every order of the parties gives the
// same bits, also where summation order would matter; bad options die naming their keys.
#include <check.h>
#include <math.h>
#include <string.h>

#include "agg/ties.h"
#include "helpers.h"

#define TOL_HAND 1e-6 /* float32 results of a few operations on numbers of order 1 */

// k = 50 % of 6 entries: each party keeps 3.
static const float HAND[3][6] = {
    {3, -1, 2, -2, 0.5f, -4}, // A: |2| at indices 2 and 3 tie for the third place: index 2 kept
    {-7, 1, -5, 1, 0, -2},    // B: no tie: −7, −5, −2 kept
    {1, -1, 3, 1, 0, 0.5f},   // C: |1| at indices 0, 1, 3 tie for two places: 0 and 1 kept
};
static const float HAND_TRIM[3][6] = {
    {3, 0, 2, 0, 0, -4},
    {-7, 0, -5, 0, 0, -2},
    {1, -1, 3, 0, 0, 0},
};
// Per entry, trimmed values, sum, elected sign, agreeing parties, merged:
//   0: 3, −7, 1   sum −3 → −  (two of three values are positive: the mass decides)  B      → −7
//   1: 0, 0, −1   sum −1 → −                                                       C      → −1
//   2: 2, −5, 3   sum  0 → none agrees (the reference code would elect the overall −: −5)  → 0
//   3: 0, 0, 0    every value trimmed                                                     → 0
//   4: 0, 0, 0                                                                            → 0
//   5: −4, −2, 0  sum −6 → −                                                       A, B   → −3
static const float HAND_MERGED[6] = {-7, -1, 0, 0, 0, -3};

START_TEST(test_keep_count) {
    ck_assert_uint_eq(ties_keep_count(50, 6), 3);
    ck_assert_uint_eq(ties_keep_count(20, 6), 2);   // ⌈1.2⌉
    ck_assert_uint_eq(ties_keep_count(20, 5), 1);   // exactly 1, not rounded up
    ck_assert_uint_eq(ties_keep_count(30, 10), 3);  // 0.3·10 is 3 up to rounding
    ck_assert_uint_eq(ties_keep_count(0.01, 6), 1); // at least one entry
    ck_assert_uint_eq(ties_keep_count(100, 6), 6);
    ck_assert_uint_eq(ties_keep_count(TIES_K_DEFAULT, 1000), 200);
}
END_TEST

START_TEST(test_trim_by_hand) {
    float out[6];
    for (int t = 0; t < 3; t++) {
        ck_assert_uint_eq(ties_trim(out, HAND[t], 6, 50), 3);
        ck_assert(memcmp(out, HAND_TRIM[t], sizeof out) == 0);
    }
    // In place, and every entry tied: the lowest indices win.
    float same[5] = {-2, 2, -2, 2, 2};
    ties_trim(same, same, 5, 40);
    const float want[5] = {-2, 2, 0, 0, 0};
    ck_assert(memcmp(same, want, sizeof want) == 0);
    // k = 100 keeps everything.
    ties_trim(out, HAND[0], 6, 100);
    ck_assert(memcmp(out, HAND[0], sizeof out) == 0);
}
END_TEST

START_TEST(test_merge_by_hand) {
    float out[6];
    TiesOpts o = {.k = 50, .lambda = 1};
    ties_merge(out, &HAND[0][0], 3, 6, &o);
    ck_assert_floats_near(out, HAND_MERGED, 6, TOL_HAND, 0);
    // λ scales the merged update.
    o.lambda = 0.5;
    ties_merge(out, &HAND[0][0], 3, 6, &o);
    const float half[6] = {-3.5f, -0.5f, 0, 0, 0, -1.5f};
    ck_assert_floats_near(out, half, 6, TOL_HAND, 0);
    // No trimming (k = 100): entry 0 is 3 − 7 + 1 → −7 again; entry 1 is −1 + 1 − 1 → − (A and C,
    // −1); entry 2 → 0; entry 3 is −2 + 1 + 1 = 0 → 0; entry 4 is 0.5 → 0.5; entry 5 is
    // −4 − 2 + 0.5 → − (A, B: −3).
    o = (TiesOpts){.k = 100, .lambda = 1};
    ties_merge(out, &HAND[0][0], 3, 6, &o);
    const float full[6] = {-7, -1, 0, 0, 0.5f, -3};
    ck_assert_floats_near(out, full, 6, TOL_HAND, 0);
    // One party: the merge is its trimmed update.
    o.k = 50;
    ties_merge(out, &HAND[1][0], 1, 6, &o);
    ck_assert(memcmp(out, HAND_TRIM[1], sizeof out) == 0);
}
END_TEST

// delta (3, n) with its parties in the order perm.
static void permute3(float *dst, const float *src, const int *perm, size_t n) {
    for (int t = 0; t < 3; t++)
        memcpy(dst + (size_t)t * n, src + (size_t)perm[t] * n, n * sizeof *dst);
}

static const int PERMS[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

START_TEST(test_party_order_does_not_matter) {
    float d[18], out[6], ref[6];
    const TiesOpts o = {.k = 50, .lambda = 1};
    ties_merge(ref, &HAND[0][0], 3, 6, &o);
    for (int p = 0; p < 6; p++) {
        permute3(d, &HAND[0][0], PERMS[p], 6);
        ties_merge(out, d, 3, 6, &o);
        ck_assert(memcmp(out, ref, sizeof ref) == 0);
    }
    // Where summation order matters in double: 1e30 + 1 − 1e30 is 1, 0 or 1e30 depending on the
    // order. Every order must elect + (the true sum is 1) and merge the agreeing 1e30 and 1 to the
    // same float.
    const float big[3][2] = {{1e30f, 0.25f}, {1, 0.5f}, {-1e30f, -0.75f}};
    const TiesOpts all = {.k = 100, .lambda = 1};
    float out2[2], ref2[2], d2[6];
    ties_merge(ref2, &big[0][0], 3, 2, &all);
    ck_assert_float_eq(ref2[0], 5e29f);
    ck_assert_float_eq(ref2[1], 0); // 0.25 + 0.5 − 0.75 = 0 exactly: no sign, no agreement
    for (int p = 0; p < 6; p++) {
        permute3(d2, &big[0][0], PERMS[p], 2);
        ties_merge(out2, d2, 3, 2, &all);
        ck_assert(memcmp(out2, ref2, sizeof ref2) == 0);
    }
    // Random updates with many equal magnitudes (values on a grid of 0.25), k = 30.
    enum { N = 200 };
    float r[3 * N], rp[3 * N], o1[N], o2[N];
    fill_uniform(r, 3 * N, -2, 2, 5);
    for (int i = 0; i < 3 * N; i++)
        r[i] = roundf(r[i] * 4) / 4;
    const TiesOpts k30 = {.k = 30, .lambda = 1};
    ties_merge(o1, r, 3, N, &k30);
    for (int p = 1; p < 6; p++) {
        permute3(rp, r, PERMS[p], N);
        ties_merge(o2, rp, 3, N, &k30);
        ck_assert(memcmp(o1, o2, sizeof o1) == 0);
    }
}
END_TEST

static void bad_k(void *arg) {
    TiesOpts o = {.k = *(const double *)arg, .lambda = 1};
    float out[6];
    ties_merge(out, &HAND[0][0], 3, 6, &o);
}

static void bad_lambda(void *arg) {
    TiesOpts o = {.k = 20, .lambda = *(const double *)arg};
    float out[6];
    ties_merge(out, &HAND[0][0], 3, 6, &o);
}

static void no_parties(void *arg) {
    (void)arg;
    TiesOpts o = {.k = 20, .lambda = 1};
    float out[6];
    ties_merge(out, &HAND[0][0], 0, 6, &o);
}

static void nan_delta(void *arg) {
    (void)arg;
    float d[3] = {1, NAN, 2}, out[3];
    ties_trim(out, d, 3, 50);
}

START_TEST(test_bad_arguments_die_naming_the_key) {
    expect_die(bad_k, &(double){0}, "--fedcmp.ties-k = 0");
    expect_die(bad_k, &(double){-5}, "--fedcmp.ties-k = -5");
    expect_die(bad_k, &(double){100.5}, "--fedcmp.ties-k = 100.5");
    expect_die(bad_lambda, &(double){0}, "--fedcmp.ties-lambda = 0");
    expect_die(bad_lambda, &(double){INFINITY}, "--fedcmp.ties-lambda = inf");
    expect_die(no_parties, NULL, "K = 0 party updates");
    expect_die(nan_delta, NULL, "delta[1] = nan");
}
END_TEST

Suite *ties_suite(void) {
    Suite *s = suite_create("ties");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_keep_count);
    tcase_add_test(tc, test_trim_by_hand);
    tcase_add_test(tc, test_merge_by_hand);
    tcase_add_test(tc, test_party_order_does_not_matter);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_key);
    suite_add_tcase(s, tc);
    return s;
}
