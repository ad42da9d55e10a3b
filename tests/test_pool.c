// test_pool.c - max and average pooling: the fast 2x2 path and the general loops against a naive
// window scan (first maximum on ties), backward against central finite differences, hand values,
// and bad arguments that die naming the function.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/pool.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 64

// {B, C, H, W, k, s}: the 2x2 fast path with H even (batch-wide, chunks crossing planes) and odd
// (per plane), W odd (general loops), overlapping windows, k = 3, batch 1.
static const int pool_shapes[][6] = {
    {2, 3, 28, 28, 2, 2}, {1, 1, 4, 4, 2, 2}, {2, 2, 7, 6, 2, 2}, {1, 3, 6, 7, 2, 2},
    {2, 2, 5, 5, 3, 2},   {1, 2, 5, 6, 2, 1}, {3, 1, 9, 8, 3, 3}, {4, 32, 14, 14, 2, 2},
};

typedef struct PoolCtx {
    int B, C, H, W, k, s, OH, OW;
    size_t ni, no;
    float *inp, *out, *g;
    int *argmax;
    int avg;
} PoolCtx;

static void pool_alloc(PoolCtx *c, const int *sh) {
    c->B = sh[0], c->C = sh[1], c->H = sh[2], c->W = sh[3], c->k = sh[4], c->s = sh[5];
    c->OH = (c->H - c->k) / c->s + 1, c->OW = (c->W - c->k) / c->s + 1;
    c->ni = (size_t)c->B * c->C * c->H * c->W;
    c->no = (size_t)c->B * c->C * c->OH * c->OW;
    c->inp = xmalloc(c->ni * sizeof(float));
    c->out = xmalloc(c->no * sizeof(float));
    c->g = xmalloc(c->no * sizeof(float));
    c->argmax = xmalloc(c->no * sizeof(int));
    // Distinct values 0.1 apart (a shuffled ramp), so that a finite-difference step of FD_H never
    // changes which element is the maximum.
    Rng r;
    rng_init(&r, 5, 0, 0, RNG_TEST);
    for (size_t i = 0; i < c->ni; i++)
        c->inp[i] = 0.1f * (float)i - 0.05f * (float)c->ni;
    for (size_t i = c->ni; i > 1; i--) {
        size_t j = rng_below(&r, (uint32_t)i);
        float t = c->inp[i - 1];
        c->inp[i - 1] = c->inp[j], c->inp[j] = t;
    }
    fill_uniform(c->g, c->no, -1, 1, 50);
    c->avg = 0;
}

static void pool_free(PoolCtx *c) { xfree(c->inp), xfree(c->out), xfree(c->g), xfree(c->argmax); }

// Naive window scan: first maximum in row-major window order.
static void maxpool_naive(float *out, int *argmax, const PoolCtx *c, const float *inp) {
    for (int p = 0; p < c->B * c->C; p++)
        for (int oh = 0; oh < c->OH; oh++)
            for (int ow = 0; ow < c->OW; ow++) {
                const float *pl = inp + (size_t)p * c->H * c->W;
                int best = -1;
                for (int kh = 0; kh < c->k; kh++)
                    for (int kw = 0; kw < c->k; kw++) {
                        int i = (oh * c->s + kh) * c->W + ow * c->s + kw;
                        if (best < 0 || pl[i] > pl[best]) best = i;
                    }
                size_t o = ((size_t)p * c->OH + oh) * c->OW + ow;
                out[o] = pl[best];
                argmax[o] = best;
            }
}

static double pool_loss(void *ctx) {
    PoolCtx *c = ctx;
    if (c->avg)
        avgpool2d_forward(c->out, c->inp, c->B, c->C, c->H, c->W, c->k, c->s);
    else
        maxpool2d_forward(c->out, c->argmax, c->inp, c->B, c->C, c->H, c->W, c->k, c->s);
    return dot_double(c->out, c->g, c->no);
}

START_TEST(test_maxpool_forward_matches_naive_window_scan) {
    PoolCtx c;
    pool_alloc(&c, pool_shapes[_i]);
    float *ref = xmalloc(c.no * sizeof(float));
    int *am_ref = xmalloc(c.no * sizeof(int));
    // Twice: distinct values, then heavy ties (values rounded to 3 levels) for the tie rule.
    for (int ties = 0; ties < 2; ties++) {
        if (ties)
            for (size_t i = 0; i < c.ni; i++)
                c.inp[i] = (float)((int)(fabsf(c.inp[i]) * 7) % 3);
        maxpool2d_forward(c.out, c.argmax, c.inp, c.B, c.C, c.H, c.W, c.k, c.s);
        maxpool_naive(ref, am_ref, &c, c.inp);
        ck_assert_floats_near(c.out, ref, c.no, 0, 0);
        size_t bad = 0;
        while (bad < c.no && c.argmax[bad] == am_ref[bad])
            bad++;
        ck_assert_msg(bad == c.no, "argmax[%zu] = %d, want %d (ties=%d)", bad, c.argmax[bad % c.no],
                      am_ref[bad % c.no], ties);
    }
    xfree(ref), xfree(am_ref);
    pool_free(&c);
}
END_TEST

START_TEST(test_maxpool_backward_matches_finite_differences) {
    PoolCtx c;
    pool_alloc(&c, pool_shapes[_i]);
    maxpool2d_forward(c.out, c.argmax, c.inp, c.B, c.C, c.H, c.W, c.k, c.s);
    float *dinp = xcalloc(c.ni, sizeof(float));
    maxpool2d_backward(dinp, c.g, c.argmax, c.B, c.C, c.H, c.W, c.k, c.s);
    Rng r;
    rng_init(&r, 9, 0, 0, RNG_TEST);
    fd_check(pool_loss, &c, c.inp, dinp, c.ni, FD_H, FD_PROBES, &r);
    xfree(dinp);
    pool_free(&c);
}
END_TEST

START_TEST(test_avgpool_backward_matches_finite_differences) {
    PoolCtx c;
    pool_alloc(&c, pool_shapes[_i]);
    c.avg = 1;
    float *dinp = xcalloc(c.ni, sizeof(float));
    avgpool2d_backward(dinp, c.g, c.B, c.C, c.H, c.W, c.k, c.s);
    Rng r;
    rng_init(&r, 10, 0, 0, RNG_TEST);
    fd_check(pool_loss, &c, c.inp, dinp, c.ni, FD_H, FD_PROBES, &r);
    xfree(dinp);
    pool_free(&c);
}
END_TEST

START_TEST(test_pool_hand_computed) {
    // One 4x4 plane, 2x2 windows: max and mean of each quadrant; ties go to the first element.
    const float inp[16] = {1,  5,  2, 2, //
                           3,  4,  2, 2, //
                           0,  -1, 7, 8, //
                           -2, 0,  9, 6};
    float out[4], dinp[16] = {0};
    int argmax[4];
    maxpool2d_forward(out, argmax, inp, 1, 1, 4, 4, 2, 2);
    const float want_max[4] = {5, 2, 0, 9};
    const int want_am[4] = {1, 2, 8, 14};
    ck_assert_floats_near(out, want_max, 4, 0, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(argmax[i], want_am[i]);
    const float dout[4] = {1, 2, 3, 4};
    maxpool2d_backward(dinp, dout, argmax, 1, 1, 4, 4, 2, 2);
    maxpool2d_backward(dinp, dout, argmax, 1, 1, 4, 4, 2, 2); // accumulates
    const float want_dinp[16] = {0, 2, 4, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 8, 0};
    ck_assert_floats_near(dinp, want_dinp, 16, 0, 0);
    avgpool2d_forward(out, inp, 1, 1, 4, 4, 2, 2);
    const float want_avg[4] = {3.25f, 2, -0.75f, 7.5f};
    ck_assert_floats_near(out, want_avg, 4, 1e-6, 1e-6);
}
END_TEST

static void pool_window_too_big(void *arg) {
    float buf[16] = {0};
    int am[16];
    (void)arg;
    maxpool2d_forward(buf, am, buf, 1, 1, 2, 4, 3, 1);
}
static void pool_null(void *arg) {
    float buf[16] = {0};
    (void)arg;
    avgpool2d_forward(NULL, buf, 1, 1, 4, 4, 2, 2);
}
static void pool_bad_argmax(void *arg) {
    float buf[16] = {0}, dout[4] = {0};
    int am[4] = {0, 1, 99, 2};
    (void)arg;
    maxpool2d_backward(buf, dout, am, 1, 1, 4, 4, 2, 2);
}
static void pool_count_over_int_max(void *arg) {
    float buf[4] = {0};
    int am[4];
    (void)arg;
    maxpool2d_forward(buf, am, buf, 1, 1, 50000, 50000, 2, 2);
}

START_TEST(test_pool_bad_arguments_die_naming_the_function) {
    expect_die(pool_window_too_big, NULL, "maxpool2d_forward", "window k=3 larger", "(2, 4)");
    expect_die(pool_null, NULL, "avgpool2d_forward", "NULL buffer");
    expect_die(pool_bad_argmax, NULL, "maxpool2d_backward", "argmax[2] = 99");
    expect_die(pool_count_over_int_max, NULL, "maxpool2d_forward", "exceeds INT_MAX");
}
END_TEST

Suite *pool_suite(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    const int n = (int)(sizeof pool_shapes / sizeof pool_shapes[0]);
    tcase_add_loop_test(tc, test_maxpool_forward_matches_naive_window_scan, 0, n);
    tcase_add_loop_test(tc, test_maxpool_backward_matches_finite_differences, 0, n);
    tcase_add_loop_test(tc, test_avgpool_backward_matches_finite_differences, 0, n);
    tcase_add_test(tc, test_pool_hand_computed);
    tcase_add_test(tc, test_pool_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
