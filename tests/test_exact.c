// test_exact.c - fixed-point sums give the same bits in any order and grouping, stay within the
// stated resolution of the double sum, and refuse what would overflow.
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "comm/exact.h"
#include "core/rng.h"
#include "helpers.h"

enum { PARTIES = 9, N = 257 };

// Party k: N values in [-3, 3] from its own stream, weight = its sample count 1..500.
static void party_data(int k, float *x, double *w) {
    Rng r;
    rng_init(&r, 77, 0, (uint32_t)k, RNG_TEST);
    rng_fill_uniform(&r, x, N, -3.f, 3.f);
    *w = 1 + rng_below(&r, 500);
}

START_TEST(test_sum_is_identical_in_any_order_and_grouping) {
    static float x[PARTIES][N];
    double w[PARTIES], total = 0;
    for (int k = 0; k < PARTIES; k++)
        party_data(k, x[k], &w[k]), total += w[k];
    int e = exact_exponent(3.0 * total);
    int64_t forward[N] = {0}, backward[N] = {0}, grouped[N] = {0}, part[N];
    for (int k = 0; k < PARTIES; k++)
        exact_add(forward, x[k], w[k], N, e);
    for (int k = PARTIES - 1; k >= 0; k--)
        exact_add(backward, x[k], w[k], N, e);
    // Two "ranks": parties {0,3,6,...} and the rest, summed separately, then combined.
    for (int g = 0; g < 2; g++) {
        memset(part, 0, sizeof part);
        for (int k = 0; k < PARTIES; k++)
            if ((k % 3 == 0) == (g == 0)) exact_add(part, x[k], w[k], N, e);
        for (int i = 0; i < N; i++)
            grouped[i] += part[i];
    }
    ck_assert_mem_eq(forward, backward, sizeof forward);
    ck_assert_mem_eq(forward, grouped, sizeof forward);

    // Close to the weighted mean in double: each term rounds by at most 2^-(e+1).
    float mean[N];
    exact_to_float(mean, forward, N, e, total);
    for (int i = 0; i < N; i++) {
        double ref = 0;
        for (int k = 0; k < PARTIES; k++)
            ref += w[k] * x[k][i];
        ref /= total;
        double tol = PARTIES * ldexp(1, -e) / total + 1e-7 * fabs(ref) + 1e-12;
        ck_assert_msg(fabs(mean[i] - ref) <= tol, "i=%d mean %.9g ref %.9g", i, mean[i], ref);
    }
}
END_TEST

START_TEST(test_exponent_keeps_the_bound_inside_int64) {
    ck_assert_int_eq(exact_exponent(0), EXACT_MAX_EXPONENT);
    for (double b = 1e-6; b < 1e15; b *= 7.3) {
        int e = exact_exponent(b);
        ck_assert_msg((ldexp(b, e) < 0x1p61 && ldexp(b, e + 1) >= 0x1p61) ||
                          e == EXACT_MAX_EXPONENT,
                      "bound %g exponent %d", b, e);
    }
    // The worst case the bound allows: many terms at the bound do not overflow.
    float big = 1000.f;
    int e = exact_exponent(1000.0 * 64);
    int64_t acc[1] = {0};
    for (int k = 0; k < 64; k++)
        exact_add(acc, &big, 1.0, 1, e);
    double back;
    exact_to_double(&back, acc, 1, e, 64);
    ck_assert(back == 1000.0);
}
END_TEST

static void add_too_big(void *arg) {
    (void)arg;
    float x = 1e30f;
    int64_t acc[1] = {0};
    exact_add(acc, &x, 1.0, 1, exact_exponent(1.0));
}

static void add_nan(void *arg) {
    (void)arg;
    float x[3] = {1, NAN, 2};
    int64_t acc[3] = {0};
    exact_add(acc, x, 1.0, 3, 10);
}

START_TEST(test_overflow_and_nan_are_refused_with_the_index) {
    expect_die(add_too_big, NULL, "x[0]", "does not fit");
    expect_die(add_nan, NULL, "x[1]", "nan");
}
END_TEST

// Each term lands on nearbyint(ldexp(w * x, e)), the definition, for exponents across the range
// (also where w * x * 2^e is subnormal, rounds to 0, or needs every bit of the int64).
START_TEST(test_terms_are_rounded_products_with_two_to_the_e) {
    const int es[] = {-1022, -300, -1, 0, 1, 10, 48, 80, 300, 1023};
    Rng r;
    rng_init(&r, 5, 0, 0, RNG_TEST);
    for (size_t t = 0; t < sizeof es / sizeof es[0]; t++) {
        int e = es[t];
        double x[N], w = 0.37;
        int64_t acc[N] = {0};
        for (int i = 0; i < N; i++) {
            // magnitudes up to 2^60 after scaling, down to far below one unit
            double m = ldexp(rng_uniform(&r) - 0.5, 61 - (int)rng_below(&r, 120));
            x[i] = ldexp(m, -e) / w;
            if (!isfinite(x[i])) x[i] = DBL_MAX / 4; // e = -1022: 2^-1022 * 2^1021 is far inside
        }
        x[0] = 0x1p-1074 / w; // the smallest subnormal
        exact_add_f64(acc, x, w, N, e);
        for (int i = 0; i < N; i++)
            ck_assert_msg(acc[i] == (int64_t)nearbyint(ldexp(w * x[i], e)),
                          "e=%d i=%d: %lld vs %.17g", e, i, (long long)acc[i],
                          nearbyint(ldexp(w * x[i], e)));
    }
}
END_TEST

// The float path (blocks of 256 with a vectorised fast path, a scalar path for the rest) lands on
// the definition acc + nearbyint(ldexp(w * x, e)) everywhere: ties to even, negative zero,
// terms beside 2^51 where the fast path hands a block to the scalar one, a tail shorter than a
// block, accumulators far from zero.
START_TEST(test_float_terms_match_the_definition_in_every_block) {
    enum { M = 3 * 256 + 37 };
    static float x[M];
    static int64_t acc[M], want[M], set[M], terms[M];
    Rng r;
    rng_init(&r, 6, 0, 0, RNG_TEST);
    const int es[] = {0, 1, 20, 48, 80, -3}; // e < 0: the scalar path throughout
    for (size_t t = 0; t < sizeof es / sizeof es[0]; t++) {
        int e = es[t];
        double w = t % 2 ? 1.0 : 0.3;
        rng_fill_uniform(&r, x, M, -4.f, 4.f);
        for (int i = 0; i < M; i++) // |terms| up to 2^42, every bit below the unit random
            x[i] = ldexpf(x[i], 40 - e);
        for (int i = 0; i < 16; i++) // ties: w x 2^e = k + 1/2 when w = 1
            x[i] = ldexpf((float)(i - 8) + 0.5f, -e);
        x[20] = -0.f, x[21] = ldexpf(0.25f, -e); // rounds to (negative) zero
        // Block 1: one term just below 2^51 (fast), block 2: one just above (scalar), and the
        // tail (fast, padded) once with one above (scalar).
        x[300] = (float)ldexp(0x1p51 * (1 - 0x1p-20) / w, -e);
        x[600] = (float)ldexp(0x1p51 * (1 + 0x1p-20) / w, -e);
        x[601] = -x[600];
        x[M - 3] = t == 2 ? x[600] : x[300];
        for (int i = 0; i < M; i++) {
            acc[i] = (int64_t)(rng_u32(&r) % 2000001) - 1000000 + (i % 3 - 1) * ((int64_t)1 << 60);
            set[i] = (int64_t)rng_u32(&r) << 20; // garbage for exact_set to overwrite
            terms[i] = (int64_t)nearbyint(ldexp(w * (double)x[i], e));
            want[i] = acc[i] + terms[i];
        }
        exact_add(acc, x, w, M, e);
        exact_set(set, x, w, M, e);
        for (int i = 0; i < M; i++) {
            ck_assert_msg(acc[i] == want[i], "e=%d i=%d: %lld vs %lld", e, i, (long long)acc[i],
                          (long long)want[i]);
            ck_assert_msg(set[i] == terms[i], "exact_set, e=%d i=%d: %lld vs %lld", e, i,
                          (long long)set[i], (long long)terms[i]);
        }
    }
}
END_TEST

static void add_overflows_in_a_full_block(void *arg) {
    (void)arg;
    static float x[512];
    static int64_t acc[512];
    for (int i = 0; i < 512; i++)
        x[i] = 1.f;
    acc[300] = INT64_MAX - 1; // + 2
    exact_add(acc, x, 1.0, 512, 1);
}

static void convert_out_of_range(void *arg) {
    (void)arg;
    int64_t acc[1] = {1};
    float out[1];
    exact_to_float(out, acc, 1, 1023, 1.0); // 2^-1023 is subnormal: ldexp's bits need not hold
}

// exact_copy_fast copies and says whether every term takes the fast path; exact_add_scaled (set
// or add) then gives exact_add's bits, on whole blocks and a tail.
START_TEST(test_copy_fast_and_scaled_terms_match_exact_add) {
    enum { M = 2 * 256 + 77 };
    static float x[M], y[M];
    static int64_t want[M], got[M];
    Rng r;
    rng_init(&r, 8, 0, 0, RNG_TEST);
    rng_fill_uniform(&r, x, M, -4.f, 4.f);
    const double w = 0.3;
    const int e = 48; // |w x 2^e| < 2^51
    ck_assert(exact_copy_fast(y, x, w, M, e));
    ck_assert(!memcmp(x, y, sizeof x));
    for (int i = 0; i < M; i++)
        want[i] = got[i] = (int64_t)i * 1000003 - 5000000;
    exact_add(want, x, w, M, e);
    exact_add_scaled(got, x, ldexp(w, e), M, 0);
    ck_assert(!memcmp(want, got, sizeof want));
    memset(want, 0, sizeof want);
    exact_add(want, x, w, M, e);
    exact_add_scaled(got, x, ldexp(w, e), M, 1);
    ck_assert(!memcmp(want, got, sizeof want));
    float keep = x[M - 3]; // in the tail: past 2^51, NaN; and the scalar-only exponents
    x[M - 3] = 32.f;
    ck_assert(!exact_copy_fast(y, x, w, M, e));
    x[M - 3] = NAN;
    ck_assert(!exact_copy_fast(y, x, w, M, e));
    x[M - 3] = keep;
    ck_assert(!exact_copy_fast(y, x, w, M, -1));
    ck_assert(!exact_copy_fast(y, x, INFINITY, M, e));
    // At the edge, ulp by ulp: the verdict is the fast path's own test, |ws·x| < 2^51 in double.
    const double ws_weights[] = {0.3, 1.0, 1e-7, 12345.678, 1.0 / 3};
    const int ws_es[] = {0, 20, 48, 80};
    for (size_t a = 0; a < sizeof ws_weights / sizeof *ws_weights; a++)
        for (size_t b = 0; b < sizeof ws_es / sizeof *ws_es; b++) {
            double ws = ldexp(ws_weights[a], ws_es[b]);
            float f = (float)(0x1p51 / ws);
            for (int k = 0; k < 6; k++)
                f = nextafterf(f, 0);
            for (int k = 0; k < 12; k++, f = nextafterf(f, INFINITY))
                for (int sign = -1; sign <= 1; sign += 2) {
                    float one = (float)sign * f, copy;
                    int fast = fabs(ws * (double)one) < 0x1p51;
                    ck_assert_msg(exact_copy_fast(&copy, &one, ws_weights[a], 1, ws_es[b]) == fast,
                                  "w=%g e=%d x=%a: expected %d", ws_weights[a], ws_es[b],
                                  (double)one, fast);
                }
        }
}
END_TEST

START_TEST(test_accumulator_overflow_names_the_index) {
    expect_die(add_overflows_in_a_full_block, NULL, "accumulator[300]", "overflows");
    expect_die(convert_out_of_range, NULL, "exponent 1023", "[-1023, 1022]");
}
END_TEST

// The conversions equal ldexp(acc, -e) / divisor rounded once, for any int64 (the extremes, ties
// of the int64 -> double rounding at 2^53 + 1), exponents whose products overflow to inf or sit
// at the bottom of the normal range, and divisors that make the quotient inexact.
START_TEST(test_conversions_match_ldexp_then_divide) {
    enum { M = 2 * 256 + 5 };
    static int64_t acc[M];
    static float f[M];
    static double d[M];
    Rng r;
    rng_init(&r, 8, 0, 0, RNG_TEST);
    for (int i = 0; i < M; i++)
        acc[i] = (int64_t)((uint64_t)rng_u32(&r) << 32 | rng_u32(&r)) >> (i % 40);
    const int64_t special[] = {0,
                               1,
                               -1,
                               INT64_MAX,
                               INT64_MIN,
                               ((int64_t)1 << 53) + 1,
                               -((int64_t)1 << 53) - 1,
                               ((int64_t)1 << 53) + 3,
                               (int64_t)1 << 62};
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
        acc[k] = special[k], acc[300 + k] = special[k], acc[M - 1 - k] = special[k];
    const int es[] = {-1022, -10, 0, 48, 80, 1022};
    const double divisors[] = {1.0, 3.0, 0.1};
    // Pass 1: the middle block below 2^51 throughout, its edges included (the one-trick path).
    for (int pass = 0; pass < 2; pass++)
        for (size_t t = 0; t < sizeof es / sizeof es[0]; t++)
            for (size_t v = 0; v < 3; v++) {
                int e = es[t];
                double div = divisors[v];
                if (pass == 1 && t == 0 && v == 0) {
                    for (int i = 256; i < 512; i++)
                        acc[i] >>= 13;
                    acc[256] = ((int64_t)1 << 51) - 1, acc[257] = -acc[256], acc[511] = -1;
                }
                exact_to_float(f, acc, M, e, div);
                exact_to_double(d, acc, M, e, div);
                for (int i = 0; i < M; i++) {
                    double ref = ldexp((double)acc[i], -e) / div;
                    float fref = (float)ref;
                    ck_assert_msg(!memcmp(&d[i], &ref, sizeof ref) &&
                                      !memcmp(&f[i], &fref, sizeof fref),
                                  "e=%d div=%g i=%d acc=%lld: %.17g / %.9g vs %.17g", e, div, i,
                                  (long long)acc[i], d[i], f[i], ref);
                }
            }
}
END_TEST

Suite *exact_suite(void) {
    Suite *s = suite_create("exact");
    TCase *tc = tcase_create("sums");
    tcase_add_test(tc, test_sum_is_identical_in_any_order_and_grouping);
    tcase_add_test(tc, test_exponent_keeps_the_bound_inside_int64);
    tcase_add_test(tc, test_overflow_and_nan_are_refused_with_the_index);
    tcase_add_test(tc, test_terms_are_rounded_products_with_two_to_the_e);
    tcase_add_test(tc, test_float_terms_match_the_definition_in_every_block);
    tcase_add_test(tc, test_copy_fast_and_scaled_terms_match_exact_add);
    tcase_add_test(tc, test_accumulator_overflow_names_the_index);
    tcase_add_test(tc, test_conversions_match_ldexp_then_divide);
    suite_add_tcase(s, tc);
    return s;
}
