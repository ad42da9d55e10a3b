// test_linear.c - linear layer: sgemm path against its naive twin, backward against central finite
// differences, NULL gradients skipped, accumulation, bad arguments die naming the function.
#include <check.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/linear.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 48

// {N, C, OC}: batch 1, odd sizes, a degenerate 1x1x1, and one wider than a SIMD register.
static const int lin_shapes[][3] = {{1, 1, 1}, {1, 5, 3}, {3, 7, 4}, {5, 2, 9}, {4, 33, 17}};

typedef struct LinCtx {
    float *out, *inp, *w, *b, *g;
    int N, C, OC;
} LinCtx;

static void lin_alloc(LinCtx *c, int N, int C, int OC) {
    c->N = N, c->C = C, c->OC = OC;
    c->out = xmalloc((size_t)N * OC * sizeof(float));
    c->inp = xmalloc((size_t)N * C * sizeof(float));
    c->w = xmalloc((size_t)OC * C * sizeof(float));
    c->b = xmalloc((size_t)OC * sizeof(float));
    c->g = xmalloc((size_t)N * OC * sizeof(float));
    fill_uniform(c->inp, (size_t)N * C, -1, 1, 10);
    fill_uniform(c->w, (size_t)OC * C, -1, 1, 11);
    fill_uniform(c->b, (size_t)OC, -1, 1, 12);
    fill_uniform(c->g, (size_t)N * OC, -1, 1, 13);
}

static void lin_free(LinCtx *c) {
    xfree(c->out), xfree(c->inp), xfree(c->w), xfree(c->b), xfree(c->g);
}

// loss = <linear(inp), g>: its gradient with respect to out is g.
static double lin_loss(void *ctx) {
    LinCtx *c = ctx;
    linear_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
    return dot_double(c->out, c->g, (size_t)c->N * c->OC);
}

START_TEST(test_linear_forward_matches_naive_twin) {
    const int N = lin_shapes[_i][0], C = lin_shapes[_i][1], OC = lin_shapes[_i][2];
    LinCtx c;
    lin_alloc(&c, N, C, OC);
    float *ref = xmalloc((size_t)N * OC * sizeof(float));
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *b = with_bias ? c.b : NULL;
        linear_forward(c.out, c.inp, c.w, b, N, C, OC);
        linear_forward_ref(ref, c.inp, c.w, b, N, C, OC);
        ck_assert_floats_near(c.out, ref, (size_t)N * OC, TOL_BLAS_REF, TOL_BLAS_REF);
    }
    xfree(ref);
    lin_free(&c);
}
END_TEST

START_TEST(test_linear_backward_accumulates_like_naive_twin) {
    const int N = lin_shapes[_i][0], C = lin_shapes[_i][1], OC = lin_shapes[_i][2];
    LinCtx c;
    lin_alloc(&c, N, C, OC);
    size_t ni = (size_t)N * C, nw = (size_t)OC * C;
    const size_t len[3] = {ni, nw, (size_t)OC};
    float *d[6];
    // Start from the same non-zero gradients: backward must add, not overwrite.
    for (int k = 0; k < 6; k++) {
        d[k] = xmalloc(len[k % 3] * sizeof(float));
        fill_uniform(d[k], len[k % 3], -1, 1, 20 + k % 3);
    }
    linear_backward(d[0], d[1], d[2], c.g, c.inp, c.w, N, C, OC);
    linear_backward_ref(d[3], d[4], d[5], c.g, c.inp, c.w, N, C, OC);
    ck_assert_floats_near(d[0], d[3], ni, TOL_BLAS_REF, TOL_BLAS_REF);
    ck_assert_floats_near(d[1], d[4], nw, TOL_BLAS_REF, TOL_BLAS_REF);
    ck_assert_floats_near(d[2], d[5], (size_t)OC, TOL_BLAS_REF, TOL_BLAS_REF);
    for (int k = 0; k < 6; k++)
        xfree(d[k]);
    lin_free(&c);
}
END_TEST

START_TEST(test_linear_backward_matches_finite_differences) {
    const int N = lin_shapes[_i][0], C = lin_shapes[_i][1], OC = lin_shapes[_i][2];
    LinCtx c;
    lin_alloc(&c, N, C, OC);
    float *dinp = xcalloc((size_t)N * C, sizeof(float)),
          *dw = xcalloc((size_t)OC * C, sizeof(float));
    float *db = xcalloc((size_t)OC, sizeof(float));
    linear_backward(dinp, dw, db, c.g, c.inp, c.w, N, C, OC);
    Rng r;
    rng_init(&r, 7, 0, 0, RNG_TEST);
    fd_check(lin_loss, &c, c.inp, dinp, (size_t)N * C, FD_H, FD_PROBES, &r);
    fd_check(lin_loss, &c, c.w, dw, (size_t)OC * C, FD_H, FD_PROBES, &r);
    fd_check(lin_loss, &c, c.b, db, (size_t)OC, FD_H, FD_PROBES, &r);
    xfree(dinp), xfree(dw), xfree(db);
    lin_free(&c);
}
END_TEST

START_TEST(test_linear_backward_null_gradients_are_skipped) {
    LinCtx c;
    lin_alloc(&c, 3, 5, 4);
    float dw[20] = {0}, dw_ref[20] = {0}, db_ref[4] = {0};
    float dinp[15] = {0};
    linear_backward(NULL, dw, NULL, c.g, c.inp, c.w, 3, 5, 4);
    linear_backward_ref(NULL, dw_ref, db_ref, c.g, c.inp, c.w, 3, 5, 4);
    ck_assert_floats_near(dw, dw_ref, 20, TOL_BLAS_REF, TOL_BLAS_REF);
    // Without dw, inp is not needed at all.
    linear_backward(dinp, NULL, NULL, c.g, NULL, c.w, 3, 5, 4);
    float dinp_ref[15] = {0};
    linear_backward_ref(dinp_ref, NULL, NULL, c.g, c.inp, c.w, 3, 5, 4);
    ck_assert_floats_near(dinp, dinp_ref, 15, TOL_BLAS_REF, TOL_BLAS_REF);
    lin_free(&c);
}
END_TEST

START_TEST(test_linear_forward_hand_computed) {
    // out = inp · wᵀ + b with inp (1, 2) = [1, 2], w (2, 2) = [[1, 0], [3, -1]], b = [0.5, 1].
    const float inp[2] = {1, 2}, w[4] = {1, 0, 3, -1}, b[2] = {0.5f, 1};
    float out[2];
    linear_forward(out, inp, w, b, 1, 2, 2);
    const float want[2] = {1.5f, 2.0f};
    ck_assert_floats_near(out, want, 2, 0, 0);
}
END_TEST

static void lin_null_w(void *arg) {
    float buf[4] = {0};
    (void)arg;
    linear_forward(buf, buf, NULL, NULL, 1, 2, 2);
}
static void lin_bad_shape(void *arg) {
    float buf[4] = {0};
    (void)arg;
    linear_backward(buf, buf, buf, buf, buf, buf, 1, 0, 2);
}
static void lin_dw_without_inp(void *arg) {
    float buf[4] = {0};
    (void)arg;
    linear_backward(NULL, buf, NULL, buf, NULL, buf, 1, 2, 2);
}

START_TEST(test_linear_bad_arguments_die_naming_the_function) {
    expect_die(lin_null_w, NULL, "linear_forward", "NULL buffer");
    expect_die(lin_bad_shape, NULL, "linear_backward", "bad shape N=1 C=0 OC=2");
    expect_die(lin_dw_without_inp, NULL, "linear_backward", "inp is NULL");
}
END_TEST

Suite *linear_suite(void) {
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("linear");
    const int n = (int)(sizeof lin_shapes / sizeof lin_shapes[0]);
    tcase_add_loop_test(tc, test_linear_forward_matches_naive_twin, 0, n);
    tcase_add_loop_test(tc, test_linear_backward_accumulates_like_naive_twin, 0, n);
    tcase_add_loop_test(tc, test_linear_backward_matches_finite_differences, 0, n);
    tcase_add_test(tc, test_linear_backward_null_gradients_are_skipped);
    tcase_add_test(tc, test_linear_forward_hand_computed);
    tcase_add_test(tc, test_linear_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
