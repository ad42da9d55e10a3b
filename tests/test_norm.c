// test_norm.c - LayerNorm: backward against central differences (inputs, weight, bias) on small odd
// shapes, the normalisation invariants, accumulation, NULL gradients, and bad arguments dying.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/norm.h"

#define TOL_LN_STATS 1e-4 /* output mean/variance: float32 rows, var/(var+eps) with var ~ 1/3 */
#define FD_H 1e-2         /* the step TOL_FD_REL is calibrated for */

// {N, C}: one row, one feature, odd and past-the-lane-block sizes.
static const int ln_shapes[][2] = {{1, 1}, {1, 5}, {3, 7}, {4, 32}, {2, 129}};

typedef struct LnCtx {
    float *out, *mean, *rstd, *inp, *w, *b;
    const float *g; // dloss/dout of the scalar loss Σ out·g
    int N, C;
} LnCtx;

static double ln_loss(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot_double(c->out, c->g, (size_t)c->N * c->C);
}

START_TEST(test_layernorm_backward_matches_finite_differences) {
    const int N = ln_shapes[_i][0], C = ln_shapes[_i][1];
    const size_t n = (size_t)N * C;
    LnCtx c = {.N = N, .C = C};
    c.out = xmalloc(n * 4), c.inp = xmalloc(n * 4), c.mean = xmalloc(N * 4), c.rstd = xmalloc(N * 4);
    c.w = xmalloc(C * 4), c.b = xmalloc(C * 4);
    float *g = xmalloc(n * 4), *dinp = xcalloc(n, 4), *dw = xcalloc(C, 4), *db = xcalloc(C, 4);
    fill_uniform(c.inp, n, -2, 2, 1);
    fill_uniform(c.w, C, 0.5f, 1.5f, 2);
    fill_uniform(c.b, C, -1, 1, 3);
    fill_uniform(g, n, -1, 1, 4);
    c.g = g;
    ln_loss(&c);
    layernorm_backward(dinp, dw, db, g, c.inp, c.w, c.mean, c.rstd, N, C);
    Rng rng;
    rng_init(&rng, 1, 0, 0, RNG_TEST);
    fd_check(ln_loss, &c, c.inp, dinp, n, FD_H, 64, &rng);
    fd_check(ln_loss, &c, c.w, dw, C, FD_H, 64, &rng);
    fd_check(ln_loss, &c, c.b, db, C, FD_H, 64, &rng);
    xfree(c.out), xfree(c.inp), xfree(c.mean), xfree(c.rstd), xfree(c.w), xfree(c.b);
    xfree(g), xfree(dinp), xfree(dw), xfree(db);
}
END_TEST

START_TEST(test_layernorm_output_has_zero_mean_and_unit_variance) {
    const int N = 5, C = 67;
    float x[5 * 67], out[5 * 67], w[67], b[67], mean[5], rstd[5];
    fill_uniform(x, (size_t)N * C, -1, 1, 5);
    for (int i = 0; i < N; i++) // rows with offsets and scales far from 0 and 1
        for (int j = 0; j < C; j++) x[i * C + j] = x[i * C + j] * (float)(i + 1) + 10.0f * i;
    for (int j = 0; j < C; j++) w[j] = 1, b[j] = 0;
    layernorm_forward(out, mean, rstd, x, w, b, N, C);
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < C; j++) m += out[i * C + j];
        m /= C;
        for (int j = 0; j < C; j++) v += (out[i * C + j] - m) * (out[i * C + j] - m);
        v /= C;
        ck_assert_double_le(fabs(m), TOL_LN_STATS);
        ck_assert_double_le(fabs(v - 1), TOL_LN_STATS);
        ck_assert_double_le(fabs(mean[i] - 10.0 * i), 0.5 * (i + 1)); // the cached mean is the row's
    }
}
END_TEST

START_TEST(test_layernorm_backward_accumulates_and_skips_null_gradients) {
    const int N = 3, C = 9;
    float x[27], out[27], g[27], w[9], b[9], mean[3], rstd[3];
    float d1[27] = {0}, d2[27] = {0}, dw1[9] = {0}, dw2[9] = {0};
    fill_uniform(x, 27, -1, 1, 6);
    fill_uniform(g, 27, -1, 1, 7);
    fill_uniform(w, 9, -1, 1, 8);
    fill_uniform(b, 9, -1, 1, 9);
    layernorm_forward(out, mean, rstd, x, w, b, N, C);
    layernorm_backward(d1, dw1, NULL, g, x, w, mean, rstd, N, C);
    layernorm_backward(d2, NULL, NULL, g, x, w, mean, rstd, N, C);
    layernorm_backward(d2, dw2, NULL, g, x, w, mean, rstd, N, C);
    layernorm_backward(NULL, dw2, NULL, g, x, w, mean, rstd, N, C);
    for (int i = 0; i < 27; i++) d1[i] *= 2;
    for (int i = 0; i < 9; i++) dw1[i] *= 2;
    ck_assert_floats_near(d2, d1, 27, 1e-6, 1e-6);
    ck_assert_floats_near(dw2, dw1, 9, 1e-6, 1e-6);
}
END_TEST

static void ln_zero_c(void *arg) {
    float buf[4] = {0};
    (void)arg;
    layernorm_forward(buf, buf, buf, buf, buf, buf, 1, 0);
}
static void ln_null_inp(void *arg) {
    float buf[4] = {0};
    (void)arg;
    layernorm_forward(buf, buf, buf, NULL, buf, buf, 1, 2);
}
static void ln_null_rstd(void *arg) {
    float buf[4] = {0};
    (void)arg;
    layernorm_backward(buf, buf, buf, buf, buf, buf, buf, NULL, 1, 2);
}

START_TEST(test_layernorm_bad_arguments_die_naming_the_function) {
    expect_die(ln_zero_c, NULL, "layernorm_forward", "N=1 C=0");
    expect_die(ln_null_inp, NULL, "layernorm_forward", "inp is NULL");
    expect_die(ln_null_rstd, NULL, "layernorm_backward", "rstd is NULL");
}
END_TEST

Suite *norm_suite(void) {
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("layernorm");
    tcase_add_loop_test(tc, test_layernorm_backward_matches_finite_differences, 0,
                        (int)(sizeof ln_shapes / sizeof ln_shapes[0]));
    tcase_add_test(tc, test_layernorm_output_has_zero_mean_and_unit_variance);
    tcase_add_test(tc, test_layernorm_backward_accumulates_and_skips_null_gradients);
    tcase_add_test(tc, test_layernorm_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
