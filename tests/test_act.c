// test_act.c - ReLU, GELU (tanh form) and the residual add: GELU against the tanh formula in
// double over a wide range, backward against central finite differences, accumulation, aliasing,
// NaN propagation, and bad arguments that die naming the function.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/act.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 200
// exp by polynomial (Cephes, ~1e-7 relative) against tanh in double: a few float ulps.
#define TOL_GELU_ABS 1e-6
#define TOL_GELU_REL 1e-5

static const size_t act_sizes[] = {1, 7, 33, 1000};

typedef struct ActCtx {
    float *inp, *out, *g;
    size_t n;
    int which; // 0 relu, 1 gelu
} ActCtx;

static double act_loss(void *ctx) {
    ActCtx *c = ctx;
    if (c->which == 0)
        relu_forward(c->out, c->inp, c->n);
    else
        gelu_forward(c->out, c->inp, c->n);
    return dot_double(c->out, c->g, c->n);
}

static double gelu_tanh_double(double x) {
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

START_TEST(test_gelu_forward_matches_tanh_formula) {
    const size_t n = 4001;
    float *x = xmalloc(n * sizeof(float)), *y = xmalloc(n * sizeof(float));
    float *want = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);
    x[0] = -100.0f, x[1] = 100.0f, x[2] = -1e30f, x[3] = 1e30f; // exp clamping at both ends
    for (size_t i = 0; i < n; i++)
        want[i] = (float)gelu_tanh_double(x[i]);
    gelu_forward(y, x, n);
    ck_assert_floats_near(y, want, n, TOL_GELU_ABS, TOL_GELU_REL);
    xfree(x), xfree(y), xfree(want);
}
END_TEST

// The vector bodies (exp_vecv, VEC_F lanes) against the scalar tail: every element computed alone
// (n = 1 runs only the tail) must match the whole-array call bit for bit, clamped ends included.
START_TEST(test_gelu_vector_body_is_bit_identical_to_scalar_tail) {
    const size_t n = 1003;
    float *x = xmalloc(n * sizeof(float)), *dout = xmalloc(n * sizeof(float));
    float *y = xmalloc(n * sizeof(float)), *y1 = xmalloc(n * sizeof(float));
    float *d = xcalloc(n, sizeof(float)), *d1 = xcalloc(n, sizeof(float));
    fill_uniform(x, n, -12, 12, 61);
    fill_uniform(dout, n, -1, 1, 62);
    x[0] = -100.0f, x[9] = 100.0f, x[17] = -1e30f, x[18] = 1e30f, x[19] = 0.0f, x[20] = -0.0f;
    gelu_forward(y, x, n);
    gelu_backward(d, x, dout, n);
    for (size_t i = 0; i < n; i++) {
        gelu_forward(y1 + i, x + i, 1);
        gelu_backward(d1 + i, x + i, dout + i, 1);
    }
    ck_assert_mem_eq(y, y1, n * sizeof(float));
    ck_assert_mem_eq(d, d1, n * sizeof(float));
    xfree(x), xfree(dout), xfree(y), xfree(y1), xfree(d), xfree(d1);
}
END_TEST

START_TEST(test_act_backward_matches_finite_differences) {
    const size_t n = act_sizes[_i];
    for (int which = 0; which < 2; which++) {
        ActCtx c = {xmalloc(n * sizeof(float)), xmalloc(n * sizeof(float)),
                    xmalloc(n * sizeof(float)), n, which};
        fill_uniform(c.inp, n, -4, 4, 60);
        // ReLU has a kink at 0: keep inputs farther from it than the step.
        if (which == 0)
            for (size_t i = 0; i < n; i++)
                if (fabsf(c.inp[i]) < 0.05f) c.inp[i] = c.inp[i] < 0 ? -0.05f : 0.05f;
        fill_uniform(c.g, n, -1, 1, 61);
        float *dinp = xcalloc(n, sizeof(float));
        act_loss(&c);
        if (which == 0)
            relu_backward(dinp, c.out, c.g, n);
        else
            gelu_backward(dinp, c.inp, c.g, n);
        Rng r;
        rng_init(&r, 11, 0, 0, RNG_TEST);
        fd_check(act_loss, &c, c.inp, dinp, n, FD_H, FD_PROBES, &r);
        xfree(c.inp), xfree(c.out), xfree(c.g), xfree(dinp);
    }
}
END_TEST

START_TEST(test_relu_in_place_hand_values_and_nan_passes) {
    float x[5] = {-2, -0.0f, 0.5f, 3, NAN};
    relu_forward(x, x, 5);
    ck_assert(x[0] == 0 && x[1] == 0 && x[2] == 0.5f && x[3] == 3);
    ck_assert_msg(isnan(x[4]), "relu must let NaN through for the NaN guard, got %g", (double)x[4]);
    // Backward accumulates dout where out > 0 (out, not inp: works after in-place forward).
    float d[4] = {1, 1, 1, 1};
    const float dout[4] = {10, 20, 30, 40};
    relu_backward(d, x, dout, 4);
    const float want[4] = {1, 1, 31, 41};
    ck_assert_floats_near(d, want, 4, 0, 0);
}
END_TEST

START_TEST(test_gelu_backward_accumulates) {
    const float x[3] = {-1, 0, 2}, dout[3] = {1, 1, 1};
    float d[3] = {0}, d2[3] = {5, 5, 5};
    gelu_backward(d, x, dout, 3);
    gelu_backward(d2, x, dout, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq_tol(d2[i], 5 + d[i], 1e-6);
    ck_assert_float_eq_tol(d[1], 0.5f, 1e-7); // gelu'(0) = 1/2
}
END_TEST

START_TEST(test_residual_forward_backward) {
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, out[3];
    residual_forward(out, a, b, 3);
    const float want[3] = {11, 22, 33};
    ck_assert_floats_near(out, want, 3, 0, 0);
    residual_forward(a, a, b, 3); // aliasing allowed
    ck_assert_floats_near(a, want, 3, 0, 0);
    float da[3] = {1, 1, 1}, db[3] = {0};
    const float dout[3] = {1, 2, 3};
    residual_backward(da, db, dout, 3);
    residual_backward(NULL, db, dout, 3);
    const float want_da[3] = {2, 3, 4}, want_db[3] = {2, 4, 6};
    ck_assert_floats_near(da, want_da, 3, 0, 0);
    ck_assert_floats_near(db, want_db, 3, 0, 0);
}
END_TEST

static void relu_null(void *arg) {
    float buf[4] = {0};
    (void)arg;
    relu_forward(buf, NULL, 4);
}
static void gelu_alias(void *arg) {
    float buf[4] = {0};
    (void)arg;
    gelu_forward(buf, buf, 4);
}
static void residual_null(void *arg) {
    float buf[4] = {0};
    (void)arg;
    residual_forward(buf, buf, NULL, 4);
}

START_TEST(test_act_bad_arguments_die_naming_the_function) {
    expect_die(relu_null, NULL, "relu_forward", "NULL buffer");
    expect_die(gelu_alias, NULL, "gelu_forward", "must not alias");
    expect_die(residual_null, NULL, "residual_forward", "NULL buffer");
}
END_TEST

Suite *act_suite(void) {
    Suite *s = suite_create("act");
    TCase *tc = tcase_create("act");
    tcase_add_test(tc, test_gelu_forward_matches_tanh_formula);
    tcase_add_test(tc, test_gelu_vector_body_is_bit_identical_to_scalar_tail);
    tcase_add_loop_test(tc, test_act_backward_matches_finite_differences, 0,
                        (int)(sizeof act_sizes / sizeof act_sizes[0]));
    tcase_add_test(tc, test_relu_in_place_hand_values_and_nan_passes);
    tcase_add_test(tc, test_gelu_backward_accumulates);
    tcase_add_test(tc, test_residual_forward_backward);
    tcase_add_test(tc, test_act_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
