// test_loss.c - softmax, softmax cross-entropy (weights, ignore_index), MSE, L1 and distillation
// KL: hand-computed values, backward against central differences, accumulation, bad input dying.
// Cosine, InfoNCE and the Haar losses are in test_loss_pair.c.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/loss.h"

#define FD_H 1e-2     /* the step TOL_FD_REL is calibrated for */
#define TOL_HAND 1e-6 /* double loss vs a closed form from float32 inputs like ln 3 */
#define TOL_PROB 1e-6 /* float32 probabilities */

// ---- softmax ----

START_TEST(test_softmax_rows_sum_to_one_and_match_hand_values_in_place) {
    float x[6] = {0, logf(2), 0, 1000, 1000, -1000}; // row 2: huge logits, max subtraction needed
    softmax_forward(x, x, 2, 3);                     // aliasing allowed
    const float want[6] = {0.25f, 0.5f, 0.25f, 0.5f, 0.5f, 0.0f};
    ck_assert_floats_near(x, want, 6, TOL_PROB, 0);
    float y[5 * 11];
    fill_uniform(y, 55, -20, 20, 1);
    softmax_forward(y, y, 5, 11);
    for (int n = 0; n < 5; n++) {
        double s = 0;
        for (int v = 0; v < 11; v++)
            s += y[n * 11 + v];
        ck_assert_double_le(fabs(s - 1), TOL_PROB);
    }
}
END_TEST

// ---- cross-entropy ----

START_TEST(test_softmax_ce_weights_and_ignore_index_match_hand_values) {
    // Row 0: uniform logits, p[y] = 1/3. Row 1: logits (0, ln 3, 0), p = (1/5, 3/5, 1/5), y = 1.
    // Row 2: ignored (-100). Row 3: weight 0 (counts nothing, not even in Σ w).
    const float logits[12] = {0, 0, 0, 0, logf(3), 0, 5, -5, 2, 1, 2, 3};
    const int targets[4] = {2, 1, -100, 0};
    const float weights[4] = {0.5f, 2.0f, 7.0f, 0.0f};
    float probs[12];
    double loss = softmax_ce_forward(probs, logits, targets, weights, -100, 4, 3);
    double want = (0.5 * log(3.0) + 2.0 * log(5.0 / 3.0)) / 2.5;
    ck_assert_double_le(fabs(loss - want), TOL_HAND);
    const float want_p1[3] = {0.2f, 0.6f, 0.2f};
    ck_assert_floats_near(probs + 3, want_p1, 3, TOL_PROB, 0);
    double rs = 0; // the ignored row's probabilities are written too
    for (int v = 6; v < 9; v++)
        rs += probs[v];
    ck_assert_double_le(fabs(rs - 1), TOL_PROB);
    // Unweighted: mean over the three counted rows.
    loss = softmax_ce_forward(probs, logits, targets, NULL, -100, 4, 3);
    double l3 = -(1.0 - log(exp(1.0) + exp(2.0) + exp(3.0))); // row 3, y = 0
    want = (log(3.0) + log(5.0 / 3.0) + l3) / 3;
    ck_assert_double_le(fabs(loss - want), TOL_HAND);
    // Gradient by hand for row 1 with weights: dloss · w1 (p - onehot) / Σw.
    float dl[12] = {0};
    softmax_ce_forward(probs, logits, targets, weights, -100, 4, 3);
    softmax_ce_backward(dl, probs, targets, weights, -100, 4, 3, 1.0);
    const float want_d1[3] = {0.2f * 2 / 2.5f, (0.6f - 1) * 2 / 2.5f, 0.2f * 2 / 2.5f};
    ck_assert_floats_near(dl + 3, want_d1, 3, TOL_PROB, 0);
    const float zeros[6] = {0};
    ck_assert_floats_near(dl + 6, zeros, 6, 0, 0); // ignored and zero-weight rows
}
END_TEST

START_TEST(test_softmax_ce_with_nothing_counted_is_zero) {
    const float logits[4] = {1, 2, 3, 4};
    const int targets[2] = {-1, -1};
    const float weights[2] = {0, 0};
    const int t2[2] = {0, 1};
    float probs[4], d[4] = {0};
    ck_assert_double_eq(softmax_ce_forward(probs, logits, targets, NULL, -1, 2, 2), 0.0);
    ck_assert_double_eq(softmax_ce_forward(probs, logits, t2, weights, -1, 2, 2), 0.0);
    softmax_ce_backward(d, probs, t2, weights, -1, 2, 2, 1.0);
    const float zeros[4] = {0};
    ck_assert_floats_near(d, zeros, 4, 0, 0);
}
END_TEST

typedef struct CeCtx {
    float *probs, *logits;
    const int *targets;
    const float *weights;
    int N, V;
} CeCtx;

static double ce_loss(void *p) {
    CeCtx *c = p;
    return softmax_ce_forward(c->probs, c->logits, c->targets, c->weights, -1, c->N, c->V);
}

// {N, V}
static const int ce_shapes[][2] = {{1, 1}, {1, 4}, {5, 3}, {7, 33}};

START_TEST(test_softmax_ce_backward_matches_finite_differences) {
    const int N = ce_shapes[_i][0], V = ce_shapes[_i][1];
    const size_t n = (size_t)N * V;
    CeCtx c = {.N = N, .V = V};
    c.probs = xmalloc(n * 4), c.logits = xmalloc(n * 4);
    float *w = xmalloc(N * 4), *d = xmalloc(n * 4);
    int *y = xmalloc(N * sizeof(int));
    fill_uniform(c.logits, n, -3, 3, 2);
    fill_uniform(w, N, 0, 2, 3);
    fill_uniform(d, n, -1, 1, 4); // accumulate onto non-zero contents
    float *d0 = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++)
        d0[i] = d[i];
    for (int i = 0; i < N; i++)
        y[i] = (i % 3 == 2) ? -1 : (i * 5) % V; // every third row ignored
    c.targets = y, c.weights = w;
    ce_loss(&c);
    softmax_ce_backward(d, c.probs, y, w, -1, N, V, 0.75);
    for (size_t i = 0; i < n; i++)
        d[i] = (float)((d[i] - d0[i]) / 0.75);
    Rng rng;
    rng_init(&rng, 3, 0, 0, RNG_TEST);
    fd_check(ce_loss, &c, c.logits, d, n, FD_H, 64, &rng);
    xfree(c.probs), xfree(c.logits), xfree(w), xfree(d), xfree(d0), xfree(y);
}
END_TEST

static void ce_bad_label(void *arg) {
    float l[6] = {0}, p[6];
    int y[2] = {0, 7};
    (void)arg;
    softmax_ce_forward(p, l, y, NULL, -100, 2, 3);
}
static void ce_negative_weight(void *arg) {
    float l[6] = {0}, p[6], w[2] = {-1, 1};
    int y[2] = {0, 1};
    (void)arg;
    softmax_ce_forward(p, l, y, w, -100, 2, 3);
}
static void ce_nan_weight_backward(void *arg) {
    float p[6] = {0}, d[6] = {0}, w[2] = {1, NAN};
    int y[2] = {0, 1};
    (void)arg;
    softmax_ce_backward(d, p, y, w, -100, 2, 3, 1.0);
}
static void ce_null_targets(void *arg) {
    float l[6] = {0}, p[6];
    (void)arg;
    softmax_ce_forward(p, l, NULL, NULL, -100, 2, 3);
}

START_TEST(test_softmax_ce_bad_input_dies_naming_the_row) {
    expect_die(ce_bad_label, NULL, "softmax_ce_forward", "targets[1] = 7", "[0, 3)");
    expect_die(ce_negative_weight, NULL, "softmax_ce_forward", "weights[0] = -1");
    expect_die(ce_nan_weight_backward, NULL, "softmax_ce_backward", "weights[1] = nan");
    expect_die(ce_null_targets, NULL, "softmax_ce_forward", "targets is NULL");
}
END_TEST

// ---- MSE, L1 ----

START_TEST(test_mse_and_l1_match_hand_values_and_gradients) {
    const float p[4] = {1, 2, 3, 4}, t[4] = {0, 2, 5, 4.5f};
    ck_assert_double_le(fabs(mse_forward(p, t, 4) - (1 + 0 + 4 + 0.25) / 4), TOL_HAND);
    ck_assert_double_le(fabs(l1_forward(p, t, 4) - (1 + 0 + 2 + 0.5) / 4), TOL_HAND);
    float dm[4] = {1, 1, 1, 1}, dl[4] = {1, 1, 1, 1};
    mse_backward(dm, p, t, 4, 2.0);
    l1_backward(dl, p, t, 4, 2.0);
    const float want_m[4] = {1 + 2 * 2 * 1 / 4.0f, 1, 1 + 2 * 2 * -2 / 4.0f, 1 + 2 * 2 * -0.5f / 4};
    const float want_l[4] = {1 + 0.5f, 1, 1 - 0.5f, 1 - 0.5f}; // sign 0 at equality
    ck_assert_floats_near(dm, want_m, 4, TOL_PROB, 0);
    ck_assert_floats_near(dl, want_l, 4, TOL_PROB, 0);
    mse_backward(NULL, p, t, 4, 1.0); // not needed: no-op
}
END_TEST

static void mse_empty(void *arg) {
    float x[1] = {0};
    (void)arg;
    mse_forward(x, x, 0);
}
static void l1_null(void *arg) {
    float x[1] = {0};
    (void)arg;
    l1_backward(x, x, NULL, 1, 1.0);
}

START_TEST(test_mse_l1_bad_input_dies) {
    expect_die(mse_empty, NULL, "mse_forward", "n = 0");
    expect_die(l1_null, NULL, "l1_backward", "target is NULL");
}
END_TEST

// ---- KL with temperature ----

START_TEST(test_kl_div_matches_hand_value_with_temperature) {
    // Tt = 2: teacher (0, 2 ln 3) / 2 = (0, ln 3) -> p = (1/4, 3/4); student 0 -> q = (1/2, 1/2).
    const float teacher[2] = {0, 2 * logf(3)}, student[2] = {0, 0};
    float p[2], q[2], d[2] = {0};
    double loss = kl_div_forward(p, q, student, teacher, 2.0f, 1, 2);
    double want = 4 * (0.25 * log(0.5) + 0.75 * log(1.5));
    ck_assert_double_le(fabs(loss - want), TOL_HAND);
    kl_div_backward(d, p, q, 2.0f, 1, 2, 1.0);
    const float want_d[2] = {2 * (0.5f - 0.25f), 2 * (0.5f - 0.75f)}; // Tt (q - p) / N
    ck_assert_floats_near(d, want_d, 2, TOL_PROB, 0);
    // Identical logits: zero loss at any temperature.
    ck_assert_double_le(fabs(kl_div_forward(p, q, teacher, teacher, 0.3f, 1, 2)), TOL_HAND);
}
END_TEST

typedef struct KlCtx {
    float *p, *q, *s;
    const float *t;
    float Tt;
    int N, V;
} KlCtx;

static double kl_loss(void *c_) {
    KlCtx *c = c_;
    return kl_div_forward(c->p, c->q, c->s, c->t, c->Tt, c->N, c->V);
}

START_TEST(test_kl_div_backward_matches_finite_differences) {
    const int N = 3, V = 7;
    float p[21], q[21], s[21], t[21], d[21] = {0};
    fill_uniform(s, 21, -3, 3, 5);
    fill_uniform(t, 21, -3, 3, 6);
    const float temps[3] = {1.0f, 2.5f, 0.7f};
    for (int k = 0; k < 3; k++) {
        KlCtx c = {p, q, s, t, temps[k], N, V};
        for (int i = 0; i < 21; i++)
            d[i] = 0;
        kl_loss(&c);
        kl_div_backward(d, p, q, temps[k], N, V, 1.0);
        Rng rng;
        rng_init(&rng, 4, 0, (uint32_t)k, RNG_TEST);
        fd_check(kl_loss, &c, s, d, 21, FD_H, 64, &rng);
    }
}
END_TEST

static void kl_zero_temp(void *arg) {
    float x[2] = {0}, p[2], q[2];
    (void)arg;
    kl_div_forward(p, q, x, x, 0.0f, 1, 2);
}

START_TEST(test_kl_div_bad_temperature_dies) {
    expect_die(kl_zero_temp, NULL, "kl_div_forward", "Tt = 0");
}
END_TEST

START_TEST(test_argmax_hits_counts_first_maximum) {
    const float logits[3 * 3] = {1, 3, 2, 5, 5, 0, -1, -2, -0.5f};
    const int targets[3] = {1, 0, 0}; // hit, tie → first (hit), miss (argmax is 2)
    ck_assert_int_eq(argmax_hits(logits, targets, 3, 3), 2);
}
END_TEST

Suite *loss_suite(void) {
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("ce_mse_l1_kl");
    tcase_add_test(tc, test_softmax_rows_sum_to_one_and_match_hand_values_in_place);
    tcase_add_test(tc, test_argmax_hits_counts_first_maximum);
    tcase_add_test(tc, test_softmax_ce_weights_and_ignore_index_match_hand_values);
    tcase_add_test(tc, test_softmax_ce_with_nothing_counted_is_zero);
    tcase_add_loop_test(tc, test_softmax_ce_backward_matches_finite_differences, 0,
                        (int)(sizeof ce_shapes / sizeof ce_shapes[0]));
    tcase_add_test(tc, test_softmax_ce_bad_input_dies_naming_the_row);
    tcase_add_test(tc, test_mse_and_l1_match_hand_values_and_gradients);
    tcase_add_test(tc, test_mse_l1_bad_input_dies);
    tcase_add_test(tc, test_kl_div_matches_hand_value_with_temperature);
    tcase_add_test(tc, test_kl_div_backward_matches_finite_differences);
    tcase_add_test(tc, test_kl_div_bad_temperature_dies);
    suite_add_tcase(s, tc);
    return s;
}
