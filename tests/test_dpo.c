// test_dpo.c - the DPO loss (nn/dpo): hand-computed values in 1-d and 2-d, the general form
// against the Gaussian one, gradients against central differences, θ = ref gives log 2 and a
// gradient toward z_w, β/σ scaling, stability at huge margins, accumulation, bad input dying.
#include <check.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "nn/dpo.h"

#define FD_H 1e-2     /* the step TOL_FD_REL is calibrated for */
#define TOL_HAND 1e-6 /* double loss vs a closed form from float32 inputs like 0.1 */
#define TOL_GRAD 1e-6 /* float32 gradients vs closed forms of order 1 */

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

// 1-d, β = 1, σ = 1: μθ = 0.5, μref = 0, z_w = 1, z_l = −1.
//   log πθ(z_w) = −0.5²/2 = −0.125, log πref(z_w) = −1/2 = −0.5   → +0.375
//   log πθ(z_l) = −1.5²/2 = −1.125, log πref(z_l) = −1/2 = −0.5   → −0.625
//   m = 1·(0.375 + 0.625) = 1 (= β·(μθ − μref)(z_w − z_l)/σ² = 0.5·2), L = log(1 + e^{−1})
//   ∂L/∂μ = −β σ(−1)(z_w − z_l)/σ² = −2 σ(−1) = −0.5378828...
START_TEST(test_dpo_gauss_1d_matches_hand_values) {
    const float mu = 0.5f, ref = 0, zw = 1, zl = -1;
    float margin, dmu = 0;
    double loss = dpo_gauss_forward(&margin, &mu, &ref, &zw, &zl, 1.0f, 1.0f, 1, 1);
    ck_assert_double_le(fabs(margin - 1.0), TOL_HAND);
    ck_assert_double_le(fabs(loss - log1p(exp(-1.0))), TOL_HAND);
    dpo_gauss_backward(&dmu, &margin, &zw, &zl, 1.0f, 1.0f, 1, 1, 1.0);
    ck_assert_double_le(fabs(dmu - (-2 * sigm(-1.0))), TOL_GRAD);
    // The general form on the same four log-likelihoods gives the same margin and loss.
    const float lw = -0.125f, ll = -1.125f, rw = -0.5f, rl = -0.5f;
    float m2;
    double loss2 = dpo_forward(&m2, &lw, &ll, &rw, &rl, 1.0f, 1);
    ck_assert_double_le(fabs(loss2 - loss), TOL_HAND);
    float dw = 0, dl = 0, drw = 0, drl = 0;
    dpo_backward(&dw, &dl, &drw, &drl, &m2, 1.0f, 1, 1.0);
    ck_assert_double_le(fabs(dw + sigm(-1.0)), TOL_GRAD); // ∂L/∂log πθ(w) = −β σ(−m)
    ck_assert_double_le(fabs(dl - sigm(-1.0)), TOL_GRAD);
    ck_assert_double_le(fabs(drw - sigm(-1.0)), TOL_GRAD);
    ck_assert_double_le(fabs(drl + sigm(-1.0)), TOL_GRAD);
}
END_TEST

// 2-d, β = 0.1, σ = 0.5 (2σ² = 0.5), two pairs.
// Row 0: μθ = (1, 0), μref = (0, 0), z_w = (1, 1), z_l = (0, −1).
//   log πθ(z_w) = −‖(0, 1)‖²/0.5 = −2,  log πref(z_w) = −‖(1, 1)‖²/0.5 = −4   → +2
//   log πθ(z_l) = −‖(−1, −1)‖²/0.5 = −4, log πref(z_l) = −‖(0, −1)‖²/0.5 = −2 → −2
//   m0 = 0.1·(2 + 2) = 0.4 (= 0.1·⟨(1, 0), (1, 2)⟩/0.25), term log(1 + e^{−0.4})
// Row 1: μθ = μref = (0.3, −0.2), z_w = (2, 0), z_l = (0, 1): m1 = 0, term log 2.
// L = (log(1 + e^{−0.4}) + log 2)/2.
// ∂L/∂μ_0 = −0.1 σ(−0.4)/(2·0.25)·(1, 2);  ∂L/∂μ_1 = −0.1·0.5/(2·0.25)·(2, −1) = (−0.2, 0.1).
START_TEST(test_dpo_gauss_2d_batch_matches_hand_values) {
    const float mu[4] = {1, 0, 0.3f, -0.2f}, ref[4] = {0, 0, 0.3f, -0.2f};
    const float zw[4] = {1, 1, 2, 0}, zl[4] = {0, -1, 0, 1};
    float margin[2], dmu[4] = {0};
    double loss = dpo_gauss_forward(margin, mu, ref, zw, zl, 0.1f, 0.5f, 2, 2);
    ck_assert_double_le(fabs(margin[0] - 0.4), TOL_HAND);
    ck_assert_double_le(fabs(margin[1]), TOL_HAND);
    ck_assert_double_le(fabs(loss - (log1p(exp(-0.4)) + log(2.0)) / 2), TOL_HAND);
    dpo_gauss_backward(dmu, margin, zw, zl, 0.1f, 0.5f, 2, 2, 1.0);
    double g0 = -0.1 * sigm(-0.4) / 0.5;
    const float want[4] = {(float)g0, (float)(2 * g0), -0.2f, 0.1f};
    ck_assert_floats_near(dmu, want, 4, TOL_GRAD, 0);
}
END_TEST

enum { N = 5, D = 7 };

typedef struct {
    float mu[N * D], ref[N * D], zw[N * D], zl[N * D], margin[N];
    float lw[N], ll[N], rw[N], rl[N];
    float beta, sigma;
} Ctx;

static void ctx_init(Ctx *c) {
    fill_uniform(c->mu, N * D, -1, 1, 40);
    fill_uniform(c->ref, N * D, -1, 1, 41);
    fill_uniform(c->zw, N * D, -1.5f, 1.5f, 42);
    fill_uniform(c->zl, N * D, -1.5f, 1.5f, 43);
    fill_uniform(c->lw, N, -6, 0, 44);
    fill_uniform(c->ll, N, -6, 0, 45);
    fill_uniform(c->rw, N, -6, 0, 46);
    fill_uniform(c->rl, N, -6, 0, 47);
    c->beta = 0.3f, c->sigma = 0.7f;
}

static double gauss_loss(void *ctx) {
    Ctx *c = ctx;
    return dpo_gauss_forward(c->margin, c->mu, c->ref, c->zw, c->zl, c->beta, c->sigma, N, D);
}

static double general_loss(void *ctx) {
    Ctx *c = ctx;
    return dpo_forward(c->margin, c->lw, c->ll, c->rw, c->rl, c->beta, N);
}

START_TEST(test_dpo_gauss_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    float dmu[N * D] = {0};
    gauss_loss(&c);
    dpo_gauss_backward(dmu, c.margin, c.zw, c.zl, c.beta, c.sigma, N, D, 1.0);
    fd_check(gauss_loss, &c, c.mu, dmu, N * D, FD_H, N * D, NULL);
}
END_TEST

START_TEST(test_dpo_backward_matches_finite_differences_for_all_four_inputs) {
    Ctx c;
    ctx_init(&c);
    c.beta = 0.8f; // margins of order 1: the sigmoid is curved where the differences probe it
    float dw[N] = {0}, dl[N] = {0}, drw[N] = {0}, drl[N] = {0};
    general_loss(&c);
    dpo_backward(dw, dl, drw, drl, c.margin, c.beta, N, 1.0);
    fd_check(general_loss, &c, c.lw, dw, N, FD_H, N, NULL);
    fd_check(general_loss, &c, c.ll, dl, N, FD_H, N, NULL);
    fd_check(general_loss, &c, c.rw, drw, N, FD_H, N, NULL);
    fd_check(general_loss, &c, c.rl, drl, N, FD_H, N, NULL);
}
END_TEST

START_TEST(test_dpo_backward_accumulates_scaled_by_dloss) {
    Ctx c;
    ctx_init(&c);
    float once[N * D] = {0}, acc[N * D] = {0};
    gauss_loss(&c);
    dpo_gauss_backward(once, c.margin, c.zw, c.zl, c.beta, c.sigma, N, D, 1.0);
    dpo_gauss_backward(acc, c.margin, c.zw, c.zl, c.beta, c.sigma, N, D, 0.5);
    dpo_gauss_backward(acc, c.margin, c.zw, c.zl, c.beta, c.sigma, N, D, 2.5);
    for (int i = 0; i < N * D; i++)
        once[i] *= 3.f;
    ck_assert_floats_near(acc, once, N * D, 1e-6, 1e-5);
}
END_TEST

START_TEST(test_dpo_at_reference_is_log2_and_pushes_toward_preferred) {
    Ctx c;
    ctx_init(&c);
    memcpy(c.ref, c.mu, sizeof c.mu); // θ = ref: every margin is 0
    for (float beta = 0.05f; beta < 2; beta *= 3) {
        for (float sigma = 0.2f; sigma < 5; sigma *= 2.5f) {
            c.beta = beta, c.sigma = sigma;
            double loss = gauss_loss(&c);
            ck_assert_double_le(fabs(loss - log(2.0)), TOL_HAND);
            float dmu[N * D] = {0};
            dpo_gauss_backward(dmu, c.margin, c.zw, c.zl, beta, sigma, N, D, 1.0);
            // −∂L/∂μ_n = β/(2Nσ²)·(z_w − z_l) exactly: toward z_w, away from z_l.
            for (int i = 0; i < N * D; i++) {
                double want = -beta / (2.0 * N * sigma * sigma) * ((double)c.zw[i] - c.zl[i]);
                ck_assert_double_le(fabs(dmu[i] - want), 1e-6 * (1 + fabs(want)));
            }
        }
    }
    // A small step against the gradient lowers the loss and makes every margin positive.
    c.beta = 0.3f, c.sigma = 0.7f;
    float dmu[N * D] = {0};
    gauss_loss(&c);
    dpo_gauss_backward(dmu, c.margin, c.zw, c.zl, c.beta, c.sigma, N, D, 1.0);
    for (int i = 0; i < N * D; i++)
        c.mu[i] -= 0.5f * dmu[i];
    ck_assert_double_lt(gauss_loss(&c), log(2.0));
    for (int n = 0; n < N; n++)
        ck_assert_float_gt(c.margin[n], 0);
}
END_TEST

START_TEST(test_dpo_margin_scales_with_beta_and_inverse_sigma_squared) {
    Ctx c;
    ctx_init(&c);
    float m1[N];
    gauss_loss(&c);
    memcpy(m1, c.margin, sizeof m1);
    c.beta *= 4; // m ∝ β
    gauss_loss(&c);
    for (int n = 0; n < N; n++)
        ck_assert_double_le(fabs(c.margin[n] - 4 * m1[n]), 1e-5);
    c.beta /= 4, c.sigma *= 2; // m ∝ 1/σ²
    gauss_loss(&c);
    for (int n = 0; n < N; n++)
        ck_assert_double_le(fabs(c.margin[n] - m1[n] / 4), 1e-5);
    // The closed form β⟨μθ − μref, z_w − z_l⟩/σ².
    c.sigma /= 2;
    gauss_loss(&c);
    for (int n = 0; n < N; n++) {
        double dot = 0;
        for (int d = 0; d < D; d++)
            dot += ((double)c.mu[n * D + d] - c.ref[n * D + d]) *
                   ((double)c.zw[n * D + d] - c.zl[n * D + d]);
        double want = c.beta * dot / ((double)c.sigma * c.sigma);
        ck_assert_double_le(fabs(c.margin[n] - want), 1e-5);
    }
}
END_TEST

START_TEST(test_dpo_is_stable_at_huge_margins) {
    // m = ±1000: exp(1000) would overflow; the loss must be 0 and 1000, gradients 0 and −β/N.
    const float lw[2] = {500, -500}, ll[2] = {-500, 500}, r[2] = {0, 0};
    float margin[2], dw[2] = {0};
    double loss = dpo_forward(margin, lw, ll, r, r, 1.0f, 2);
    ck_assert_double_le(fabs(loss - 1000.0 / 2), TOL_HAND);
    dpo_backward(dw, NULL, NULL, NULL, margin, 1.0f, 2, 1.0);
    ck_assert_double_le(fabs(dw[0]), TOL_GRAD);
    ck_assert_double_le(fabs(dw[1] + 0.5), TOL_GRAD);
    ck_assert_double_le(fabs(dpo_neg_log_sigmoid(40.0) - exp(-40.0)), 1e-30);
    ck_assert_double_le(fabs(dpo_neg_log_sigmoid(-1e6) - 1e6), TOL_HAND);
}
END_TEST

// ---- bad input ----

static void die_beta(void *arg) {
    (void)arg;
    float x = 0, m;
    dpo_forward(&m, &x, &x, &x, &x, 0.0f, 1);
}
static void die_sigma(void *arg) {
    (void)arg;
    float x = 0, m;
    dpo_gauss_forward(&m, &x, &x, &x, &x, 0.1f, -1.0f, 1, 1);
}
static void die_n(void *arg) {
    (void)arg;
    float x = 0, m;
    dpo_gauss_forward(&m, &x, &x, &x, &x, 0.1f, 1.0f, 0, 1);
}
static void die_inf_logp(void *arg) {
    (void)arg;
    float lw[2] = {-1, -INFINITY}, x[2] = {0, 0}, m[2];
    dpo_forward(m, lw, x, x, x, 0.1f, 2);
}
static void die_null(void *arg) {
    (void)arg;
    float x = 0, m;
    dpo_gauss_forward(&m, &x, NULL, &x, &x, 0.1f, 1.0f, 1, 1);
}
static void die_backward_d(void *arg) {
    (void)arg;
    float x = 0, m = 0;
    dpo_gauss_backward(&x, &m, &x, &x, 0.1f, 1.0f, 1, 0, 1.0);
}

START_TEST(test_dpo_bad_input_dies_with_a_clear_message) {
    expect_die(die_beta, NULL, "dpo_forward", "beta = 0");
    expect_die(die_sigma, NULL, "dpo_gauss_forward", "sigma = -1");
    expect_die(die_n, NULL, "dpo_gauss_forward", "N = 0");
    expect_die(die_inf_logp, NULL, "dpo_forward", "margin[1]", "not finite");
    expect_die(die_null, NULL, "dpo_gauss_forward", "mu_ref is NULL");
    expect_die(die_backward_d, NULL, "dpo_gauss_backward", "D = 0");
}
END_TEST

Suite *dpo_suite(void) {
    Suite *s = suite_create("dpo");
    TCase *tc = tcase_create("dpo");
    tcase_add_test(tc, test_dpo_gauss_1d_matches_hand_values);
    tcase_add_test(tc, test_dpo_gauss_2d_batch_matches_hand_values);
    tcase_add_test(tc, test_dpo_gauss_backward_matches_finite_differences);
    tcase_add_test(tc, test_dpo_backward_matches_finite_differences_for_all_four_inputs);
    tcase_add_test(tc, test_dpo_backward_accumulates_scaled_by_dloss);
    tcase_add_test(tc, test_dpo_at_reference_is_log2_and_pushes_toward_preferred);
    tcase_add_test(tc, test_dpo_margin_scales_with_beta_and_inverse_sigma_squared);
    tcase_add_test(tc, test_dpo_is_stable_at_huge_margins);
    tcase_add_test(tc, test_dpo_bad_input_dies_with_a_clear_message);
    suite_add_tcase(s, tc);
    return s;
}
