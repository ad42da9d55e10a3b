// test_tta.c - the test-time-adaptation pieces of nn/tta.h: TENT's entropy by hand (uniform rows
// give log V, a two-class value, huge logits stay finite) and its gradient by central differences
// (the PyTorch comparison is in test_distill.c's twin); CoTTA's EMA by hand and at its ends; the
// stochastic restore at p = 0 and p = 1, at p = 0.01 within a binomial bound, identical for one
// stream, different for another, drawing exactly n words whatever p; bad arguments dying.
#include <check.h>
#include <math.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/tta.h"

#define TOL_HAND 1e-6  /* double loss vs a closed form from exact float inputs */
#define FD_H 1e-3      /* O(1) logits; the loss is scaled to O(1) gradients */
#define BINOM_SIGMAS 6 /* restored count within 6 sd of n·p: a false failure ~1e-9 */

START_TEST(test_entropy_hand_values) {
    // Uniform rows (any constant): log V.
    float z[3 * 5];
    for (int i = 0; i < 15; i++)
        z[i] = (float)(i / 5) - 1.5f; // rows of -1.5, -0.5, 0.5
    ck_assert_double_le(fabs(entropy_forward(z, 3, 5) - log(5.0)), TOL_HAND);
    // Its gradient is zero there (a maximum).
    float dz[15] = {0}, zero[15] = {0};
    entropy_backward(dz, z, 3, 5, 1.0);
    ck_assert_floats_near(dz, zero, 15, TOL_HAND, 0);
    // Two classes, z = (0, ln 3): p = (1/4, 3/4).
    const float z2[2] = {0.0f, (float)log(3.0)};
    const double p0 = 1.0 / (1.0 + exp((double)z2[1])), p1 = 1 - p0;
    const double h = -(p0 * log(p0) + p1 * log(p1));
    ck_assert_double_le(fabs(entropy_forward(z2, 1, 2) - h), TOL_HAND);
    ck_assert_double_le(fabs(h - (-(0.25 * log(0.25) + 0.75 * log(0.75)))), 1e-7);
    // Mean over rows: the two-class row beside a uniform one.
    const float z3[4] = {0.0f, (float)log(3.0), 2.0f, 2.0f};
    ck_assert_double_le(fabs(entropy_forward(z3, 2, 2) - (h + log(2.0)) / 2), TOL_HAND);
    // One huge logit: entropy 0 and a finite zero gradient, no NaN from 0 · log 0.
    const float zb[3] = {2000.0f, -2000.0f, 0.0f};
    ck_assert_double_le(entropy_forward(zb, 1, 3), TOL_HAND);
    float db[3] = {0};
    entropy_backward(db, zb, 1, 3, 1.0);
    for (int v = 0; v < 3; v++)
        ck_assert_msg(isfinite(db[v]) && fabs(db[v]) <= TOL_HAND, "db[%d] = %g", v, (double)db[v]);
    // NULL gradient: nothing to do.
    entropy_backward(NULL, zb, 1, 3, 1.0);
}
END_TEST

typedef struct {
    float *z;
    int N, V;
} EntCtx;

static double ent_loss(void *a) {
    const EntCtx *c = a;
    return entropy_forward(c->z, c->N, c->V) * c->N;
}

START_TEST(test_entropy_backward_matches_finite_differences) {
    const int Ns[4] = {1, 2, 5, 3}, Vs[4] = {2, 3, 17, 40};
    const int N = Ns[_i], V = Vs[_i];
    const size_t n = (size_t)N * V;
    EntCtx c = {.N = N, .V = V};
    c.z = xmalloc(n * 4);
    fill_uniform(c.z, n, -3, 3, 30 + (uint32_t)_i);
    float *dz = xcalloc(n, 4), *dz2 = xcalloc(n, 4);
    entropy_backward(dz, c.z, N, V, (double)N); // scaled as ent_loss
    Rng rng;
    rng_init(&rng, 13, 0, (uint32_t)_i, RNG_TEST);
    fd_check(ent_loss, &c, c.z, dz, n, FD_H, 64, &rng);
    // Accumulates: twice with half the weight is the same.
    entropy_backward(dz2, c.z, N, V, N / 2.0);
    entropy_backward(dz2, c.z, N, V, N / 2.0);
    ck_assert_floats_near(dz2, dz, n, TOL_HAND, TOL_HAND);
    xfree(c.z), xfree(dz), xfree(dz2);
}
END_TEST

START_TEST(test_ema_hand_values_and_ends) {
    float t[4] = {1, -2, 0.5f, 3}, s[4] = {0, 2, 0.5f, -1};
    const float t0[4] = {1, -2, 0.5f, 3};
    ema_update(t, s, 4, 0.999);
    const float want[4] = {0.999f, -1.996f, 0.5f, 2.996f};
    ck_assert_floats_near(t, want, 4, TOL_HAND, 0);
    memcpy(t, t0, sizeof t);
    ema_update(t, s, 4, 1.0); // keeps the teacher bit for bit
    ck_assert_mem_eq(t, t0, sizeof t);
    ema_update(t, s, 4, 0.0); // copies the student
    ck_assert_mem_eq(t, s, sizeof t);
    ema_update(t, s, 0, 0.5); // n = 0: no-op
    ema_update(NULL, NULL, 0, 0.5);
    // Repeated steps converge geometrically: after k steps t - s = a^k (t0 - s).
    float t1[1] = {1}, s1[1] = {0};
    for (int k = 0; k < 1000; k++)
        ema_update(t1, s1, 1, 0.999);
    ck_assert_double_le(fabs(t1[0] - pow(0.999, 1000)), 1e-5);
}
END_TEST

#define RN 100000

// Fills src with 1..n and params with -(1..n): a restored float is recognisable.
static void restore_inputs(float *params, float *src, size_t n) {
    for (size_t i = 0; i < n; i++)
        src[i] = (float)(i + 1), params[i] = -(float)(i + 1);
}

static size_t count_restored(const float *params, const float *src, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += params[i] == src[i];
    return k;
}

START_TEST(test_restore_p0_p1_and_the_binomial_fraction) {
    float *params = xmalloc(RN * 4), *src = xmalloc(RN * 4), *before = xmalloc(RN * 4);
    Rng r;
    // p = 0: nothing changes, and still n words drawn.
    restore_inputs(params, src, RN);
    memcpy(before, params, RN * 4);
    rng_init(&r, 42, 0, 0, RNG_DROPOUT);
    ck_assert_uint_eq(stochastic_restore(params, src, RN, 0.0, &r), 0);
    ck_assert_mem_eq(params, before, RN * 4);
    ck_assert_uint_eq(rng_words_drawn(&r), RN);
    // p = 1: everything returns to its source.
    rng_init(&r, 42, 0, 0, RNG_DROPOUT);
    ck_assert_uint_eq(stochastic_restore(params, src, RN, 1.0, &r), RN);
    ck_assert_mem_eq(params, src, RN * 4);
    ck_assert_uint_eq(rng_words_drawn(&r), RN);
    // p = 0.01: the count is Binomial(n, p); the return value is what changed.
    restore_inputs(params, src, RN);
    rng_init(&r, 42, 0, 0, RNG_DROPOUT);
    const size_t k = stochastic_restore(params, src, RN, 0.01, &r);
    ck_assert_uint_eq(rng_words_drawn(&r), RN);
    ck_assert_uint_eq(count_restored(params, src, RN), k);
    const double mean = RN * 0.01, sd = sqrt(RN * 0.01 * 0.99);
    ck_assert_msg(fabs((double)k - mean) <= BINOM_SIGMAS * sd, "restored %zu of %d at p = 0.01", k,
                  RN);
    // The untouched floats kept their values.
    for (size_t i = 0; i < RN; i++)
        ck_assert(params[i] == src[i] || params[i] == -(float)(i + 1));
    xfree(params), xfree(src), xfree(before);
}
END_TEST

START_TEST(test_restore_depends_only_on_the_stream) {
    float *a = xmalloc(RN * 4), *b = xmalloc(RN * 4), *c = xmalloc(RN * 4), *src = xmalloc(RN * 4);
    restore_inputs(a, src, RN);
    memcpy(b, a, RN * 4);
    memcpy(c, a, RN * 4);
    Rng ra, rb, rc;
    rng_init(&ra, 7, 3, 1, RNG_DROPOUT);
    rng_init(&rb, 7, 3, 1, RNG_DROPOUT);
    rng_init(&rc, 7, 3, 2, RNG_DROPOUT); // another party's stream
    const size_t ka = stochastic_restore(a, src, RN, 0.01, &ra);
    ck_assert_uint_eq(stochastic_restore(b, src, RN, 0.01, &rb), ka);
    ck_assert_mem_eq(a, b, RN * 4);
    stochastic_restore(c, src, RN, 0.01, &rc);
    ck_assert_msg(memcmp(a, c, RN * 4) != 0, "two streams restored the same floats");
    // The draw is per index, not per restored float: at p = 0.02 the restored set contains p =
    // 0.01's (u < 0.01 implies u < 0.02) from the same stream.
    memcpy(b, src, RN * 4);
    for (size_t i = 0; i < RN; i++)
        b[i] = -src[i];
    rng_init(&rb, 7, 3, 1, RNG_DROPOUT);
    stochastic_restore(b, src, RN, 0.02, &rb);
    for (size_t i = 0; i < RN; i++)
        if (a[i] == src[i])
            ck_assert_msg(b[i] == src[i], "index %zu restored at 0.01, not 0.02", i);
    xfree(a), xfree(b), xfree(c), xfree(src);
}
END_TEST

static void die_ema_a(void *arg) {
    (void)arg;
    float t[1] = {0}, s[1] = {0};
    ema_update(t, s, 1, 1.5);
}

static void die_restore_p(void *arg) {
    (void)arg;
    float t[1] = {0}, s[1] = {0};
    Rng r;
    rng_init(&r, 1, 0, 0, RNG_TEST);
    stochastic_restore(t, s, 1, -0.01, &r);
}

static void die_entropy_shape(void *arg) {
    (void)arg;
    float z[1] = {0};
    entropy_forward(z, 1, 0);
}

START_TEST(test_bad_arguments_die_naming_the_values) {
    expect_die(die_ema_a, NULL, "ema_update", "a=1.5");
    expect_die(die_restore_p, NULL, "stochastic_restore", "p=-0.01");
    expect_die(die_entropy_shape, NULL, "entropy_forward", "V=0");
}
END_TEST

Suite *tta_suite(void) {
    Suite *s = suite_create("tta");
    TCase *tc = tcase_create("tta");
    tcase_add_test(tc, test_entropy_hand_values);
    tcase_add_loop_test(tc, test_entropy_backward_matches_finite_differences, 0, 4);
    tcase_add_test(tc, test_ema_hand_values_and_ends);
    tcase_add_test(tc, test_restore_p0_p1_and_the_binomial_fraction);
    tcase_add_test(tc, test_restore_depends_only_on_the_stream);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_values);
    suite_add_tcase(s, tc);
    return s;
}
