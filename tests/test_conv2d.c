// test_conv2d.c - im2col + sgemm convolution against the direct-convolution twin (strides 1-3,
// padding 0-2, pointwise, batch 1, odd sizes), backward against central finite differences,
// a hand-computed value, NULL gradients, and bad shapes that die naming the function.
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/conv2d.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 40

// {B, C, H, W, OC, KH, KW, stride, pad}
static const Conv2dShape conv_shapes[] = {
    {1, 1, 5, 5, 1, 3, 3, 1, 0},   // batch 1, valid
    {2, 3, 7, 6, 4, 3, 3, 2, 1},   // stride 2, pad 1, non-square
    {1, 2, 8, 8, 3, 3, 3, 2, 0},   // stride 2, pad 0
    {2, 2, 9, 9, 3, 3, 3, 2, 1},   // stride 2, pad 1, odd
    {3, 2, 5, 7, 2, 1, 1, 1, 0},   // pointwise: no workspace
    {2, 3, 6, 5, 2, 2, 3, 1, 1},   // rectangular kernel
    {1, 1, 3, 3, 2, 5, 5, 1, 2},   // kernel larger than the input, covered by padding
    {2, 2, 10, 11, 3, 3, 2, 3, 1}, // stride 3
    {1, 2, 6, 6, 2, 1, 1, 2, 1},   // 1x1 with stride and padding: not the pointwise shortcut
    {2, 3, 6, 7, 4, 3, 3, 1, 1},   // "same" 3x3: the shifted-plane path (stride 1, OW == W)
    {1, 2, 1, 4, 2, 3, 3, 1, 1},   // same, H = 1: two of three kernel rows see only padding
    {1, 1, 2, 1, 1, 3, 3, 1, 1},   // same, W = 1 <= pad: kernel columns that see only padding
};

typedef struct ConvCtx {
    Conv2dShape s;
    float *out, *inp, *w, *b, *g, *work;
    size_t ni, no, nw;
} ConvCtx;

static void conv_alloc(ConvCtx *c, const Conv2dShape *s) {
    c->s = *s;
    c->ni = (size_t)s->B * s->C * s->H * s->W;
    c->no = (size_t)s->B * s->OC * conv2d_out_h(s) * conv2d_out_w(s);
    c->nw = (size_t)s->OC * s->C * s->KH * s->KW;
    c->out = xmalloc(c->no * sizeof(float));
    c->g = xmalloc(c->no * sizeof(float));
    c->inp = xmalloc(c->ni * sizeof(float));
    c->w = xmalloc(c->nw * sizeof(float));
    c->b = xmalloc((size_t)s->OC * sizeof(float));
    size_t nwork = conv2d_workspace_size(s);
    c->work = nwork ? xmalloc(nwork * sizeof(float)) : NULL;
    for (size_t i = 0; i < nwork; i++) c->work[i] = NAN; // scratch must be written before read
    fill_uniform(c->inp, c->ni, -1, 1, 30);
    fill_uniform(c->w, c->nw, -1, 1, 31);
    fill_uniform(c->b, (size_t)s->OC, -1, 1, 32);
    fill_uniform(c->g, c->no, -1, 1, 33);
}

static void conv_free(ConvCtx *c) {
    xfree(c->out), xfree(c->g), xfree(c->inp), xfree(c->w), xfree(c->b), xfree(c->work);
}

static double conv_loss(void *ctx) {
    ConvCtx *c = ctx;
    conv2d_forward(c->out, c->inp, c->w, c->b, &c->s, c->work);
    return dot_double(c->out, c->g, c->no);
}

START_TEST(test_conv2d_forward_matches_direct_convolution) {
    ConvCtx c;
    conv_alloc(&c, &conv_shapes[_i]);
    float *ref = xmalloc(c.no * sizeof(float));
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *b = with_bias ? c.b : NULL;
        conv2d_forward(c.out, c.inp, c.w, b, &c.s, c.work);
        conv2d_forward_ref(ref, c.inp, c.w, b, &c.s);
        ck_assert_floats_near(c.out, ref, c.no, TOL_BLAS_REF, TOL_BLAS_REF);
    }
    xfree(ref);
    conv_free(&c);
}
END_TEST

START_TEST(test_conv2d_backward_accumulates_like_direct_convolution) {
    ConvCtx c;
    conv_alloc(&c, &conv_shapes[_i]);
    const size_t len[3] = {c.ni, c.nw, (size_t)c.s.OC};
    float *d[6];
    for (int k = 0; k < 6; k++) {
        d[k] = xmalloc(len[k % 3] * sizeof(float));
        fill_uniform(d[k], len[k % 3], -1, 1, 40 + k % 3); // same non-zero start in both
    }
    conv2d_backward(d[0], d[1], d[2], c.g, c.inp, c.w, &c.s, c.work);
    conv2d_backward_ref(d[3], d[4], d[5], c.g, c.inp, c.w, &c.s);
    ck_assert_floats_near(d[0], d[3], c.ni, TOL_BLAS_REF, TOL_BLAS_REF);
    ck_assert_floats_near(d[1], d[4], c.nw, TOL_BLAS_REF, TOL_BLAS_REF);
    ck_assert_floats_near(d[2], d[5], (size_t)c.s.OC, TOL_BLAS_REF, TOL_BLAS_REF);
    for (int k = 0; k < 6; k++)
        xfree(d[k]);
    conv_free(&c);
}
END_TEST

START_TEST(test_conv2d_backward_matches_finite_differences) {
    ConvCtx c;
    conv_alloc(&c, &conv_shapes[_i]);
    float *dinp = xcalloc(c.ni, sizeof(float)), *dw = xcalloc(c.nw, sizeof(float));
    float *db = xcalloc((size_t)c.s.OC, sizeof(float));
    conv2d_backward(dinp, dw, db, c.g, c.inp, c.w, &c.s, c.work);
    Rng r;
    rng_init(&r, 8, 0, 0, RNG_TEST);
    fd_check(conv_loss, &c, c.inp, dinp, c.ni, FD_H, FD_PROBES, &r);
    fd_check(conv_loss, &c, c.w, dw, c.nw, FD_H, FD_PROBES, &r);
    fd_check(conv_loss, &c, c.b, db, (size_t)c.s.OC, FD_H, FD_PROBES, &r);
    xfree(dinp), xfree(dw), xfree(db);
    conv_free(&c);
}
END_TEST

START_TEST(test_conv2d_hand_computed_with_padding_and_stride) {
    // inp (1, 1, 3, 3) = 1..9, w = all-ones 2x2, b = 0.5, stride 2, pad 1: OH = OW = 2.
    // Windows (top-left at (-1,-1), (-1,1), (1,-1), (1,1)): {1}, {2,3}, {4,7}, {5,6,8,9}.
    const Conv2dShape s = {1, 1, 3, 3, 1, 2, 2, 2, 1};
    const float inp[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
    ck_assert_int_eq(conv2d_out_h(&s), 2);
    ck_assert_int_eq(conv2d_out_w(&s), 2);
    float work[64], out[4];
    ck_assert_uint_le(conv2d_workspace_size(&s), 64);
    conv2d_forward(out, inp, w, b, &s, work);
    const float want[4] = {1.5f, 5.5f, 11.5f, 28.5f};
    ck_assert_floats_near(out, want, 4, 0, 0);
}
END_TEST

START_TEST(test_conv2d_null_gradients_and_pointwise_without_workspace) {
    // Pointwise conv needs no workspace: work may be NULL.
    ConvCtx c;
    conv_alloc(&c, &conv_shapes[4]);
    ck_assert_uint_eq(conv2d_workspace_size(&c.s), 0);
    float *ref = xmalloc(c.no * sizeof(float));
    conv2d_forward(c.out, c.inp, c.w, c.b, &c.s, NULL);
    conv2d_forward_ref(ref, c.inp, c.w, c.b, &c.s);
    ck_assert_floats_near(c.out, ref, c.no, TOL_BLAS_REF, TOL_BLAS_REF);
    xfree(ref);
    conv_free(&c);
    // Only db wanted: neither inp, w nor work is touched.
    conv_alloc(&c, &conv_shapes[1]);
    float db[4] = {0}, db_ref[4] = {0};
    conv2d_backward(NULL, NULL, db, c.g, NULL, NULL, &c.s, NULL);
    conv2d_backward_ref(NULL, NULL, db_ref, c.g, c.inp, c.w, &c.s);
    ck_assert_floats_near(db, db_ref, 4, TOL_BLAS_REF, TOL_BLAS_REF);
    conv_free(&c);
}
END_TEST

static void conv_no_work(void *arg) {
    const Conv2dShape s = {1, 1, 4, 4, 1, 3, 3, 1, 0};
    float buf[16] = {0};
    (void)arg;
    conv2d_forward(buf, buf, buf, NULL, &s, NULL);
}
static void conv_kernel_too_big(void *arg) {
    const Conv2dShape s = {1, 1, 2, 2, 1, 3, 3, 1, 0};
    float buf[16] = {0};
    (void)arg;
    conv2d_forward(buf, buf, buf, NULL, &s, buf);
}
static void conv_count_over_int_max(void *arg) {
    // OH·OW = 50000² > INT_MAX: must die before any buffer is touched.
    const Conv2dShape s = {1, 1, 50000, 50000, 1, 1, 1, 1, 1};
    (void)arg;
    conv2d_workspace_size(&s);
}
static void conv_count_over_int_max_fwd(void *arg) {
    const Conv2dShape s = {1, 1, 50000, 50000, 1, 1, 1, 1, 1};
    float buf[4] = {0};
    (void)arg;
    conv2d_forward(buf, buf, buf, NULL, &s, buf);
}
static void conv_null_inp_for_dw(void *arg) {
    const Conv2dShape s = {1, 1, 4, 4, 1, 3, 3, 1, 0};
    float buf[64] = {0};
    (void)arg;
    conv2d_backward(NULL, buf, NULL, buf, NULL, buf, &s, buf);
}

static void conv_null_shape(void *arg) {
    (void)arg;
    conv2d_out_h(NULL);
}
static void conv_pad_overflow(void *arg) {
    const Conv2dShape s = {1, 1, 4, 4, 1, 3, 3, 1, INT_MAX / 2};
    (void)arg;
    conv2d_workspace_size(&s);
}

START_TEST(test_conv2d_bad_arguments_die_naming_the_function) {
    expect_die(conv_null_shape, NULL, "conv2d_out_h", "shape is NULL");
    expect_die(conv_pad_overflow, NULL, "conv2d_workspace_size", "exceed INT_MAX");
    expect_die(conv_no_work, NULL, "conv2d_forward", "work is NULL");
    expect_die(conv_kernel_too_big, NULL, "conv2d_forward", "kernel (3, 3) larger");
    expect_die(conv_count_over_int_max, NULL, "conv2d_workspace_size", "exceed INT_MAX");
    expect_die(conv_count_over_int_max_fwd, NULL, "conv2d_forward", "exceed INT_MAX");
    expect_die(conv_null_inp_for_dw, NULL, "conv2d_backward", "inp is NULL");
}
END_TEST

Suite *conv2d_suite(void) {
    Suite *s = suite_create("conv2d");
    TCase *tc = tcase_create("conv2d");
    const int n = (int)(sizeof conv_shapes / sizeof conv_shapes[0]);
    tcase_add_loop_test(tc, test_conv2d_forward_matches_direct_convolution, 0, n);
    tcase_add_loop_test(tc, test_conv2d_backward_accumulates_like_direct_convolution, 0, n);
    tcase_add_loop_test(tc, test_conv2d_backward_matches_finite_differences, 0, n);
    tcase_add_test(tc, test_conv2d_hand_computed_with_padding_and_stride);
    tcase_add_test(tc, test_conv2d_null_gradients_and_pointwise_without_workspace);
    tcase_add_test(tc, test_conv2d_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
