// test_loss_pair.c - the losses over pairs of arrays: cosine similarity, InfoNCE and the Haar DWT
// with its high-band L1: hand-computed values, adjoint identity, backward against central
// differences, and bad input dying.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/loss.h"

#define FD_H 1e-2     /* the step TOL_FD_REL is calibrated for */
#define TOL_HAND 1e-6 /* float32 values against a closed form */
#define TOL_ADJ 1e-5  /* <Wx, y> vs <x, Wᵀy> over ~40 float32 products */

// ---- cosine ----

START_TEST(test_cosine_matches_hand_values) {
    const float a[6] = {1, 0, 0, 3, 4, 0}, b[6] = {1, 1, 0, -6, -8, 0};
    float cos[2];
    cosine_forward(cos, a, b, 2, 3);
    const float want[2] = {(float)M_SQRT1_2, -1.0f};
    ck_assert_floats_near(cos, want, 2, TOL_HAND, 0);
}
END_TEST

typedef struct PairCtx {
    float *a, *b, *out, *work;
    const float *g;
    float tau;
    int N, D;
} PairCtx;

static double cos_loss(void *p) {
    PairCtx *c = p;
    cosine_forward(c->out, c->a, c->b, c->N, c->D);
    return dot_double(c->out, c->g, c->N);
}

// {N, D}
static const int pair_shapes[][2] = {{1, 1}, {1, 3}, {3, 4}, {5, 17}};
#define N_PAIR_SHAPES (int)(sizeof pair_shapes / sizeof pair_shapes[0])

START_TEST(test_cosine_backward_matches_finite_differences) {
    const int N = pair_shapes[_i][0], D = pair_shapes[_i][1];
    const size_t n = (size_t)N * D;
    PairCtx c = {.N = N, .D = D};
    c.a = xmalloc(n * 4), c.b = xmalloc(n * 4), c.out = xmalloc(N * 4);
    float *g = xmalloc(N * 4), *da = xcalloc(n, 4), *db = xcalloc(n, 4);
    fill_uniform(c.a, n, -1, 1, 1);
    fill_uniform(c.b, n, -1, 1, 2);
    for (size_t i = 0; i < n; i++) c.a[i] += c.a[i] >= 0 ? 0.2f : -0.2f; // keep D=1 away from 0
    fill_uniform(g, N, -1, 1, 3);
    c.g = g;
    cosine_backward(da, db, g, c.a, c.b, N, D);
    Rng rng;
    rng_init(&rng, 5, 0, (uint32_t)_i, RNG_TEST);
    fd_check(cos_loss, &c, c.a, da, n, FD_H, 64, &rng);
    fd_check(cos_loss, &c, c.b, db, n, FD_H, 64, &rng);
    float db2[85] = {0};
    cosine_backward(NULL, db2, g, c.a, c.b, N, D); // da not needed
    ck_assert_floats_near(db2, db, n, 0, 0);
    xfree(c.a), xfree(c.b), xfree(c.out), xfree(g), xfree(da), xfree(db);
}
END_TEST

// ---- InfoNCE ----

START_TEST(test_infonce_matches_hand_computation_on_2x2) {
    float probs[4], work[64];
    ck_assert_uint_le(infonce_workspace_size(2, 2), 64);
    // Orthonormal pairs, tau = 1: logits = I, each row CE = log(1 + e^-1).
    const float a[4] = {1, 0, 0, 1}, b[4] = {1, 0, 0, 1};
    double loss = infonce_forward(probs, a, b, 1.0f, 2, 2, work);
    ck_assert_double_le(fabs(loss - log(1 + exp(-1.0))), TOL_HAND);
    // Non-unit b: b̂ = ((1,1)/√2, (0,1)); a = (2,0), (0,3) normalise to e1, e2; tau = 0.5:
    // logits row 0 = (√2, 0), row 1 = (√2, 2).
    const float a2[4] = {2, 0, 0, 3}, b2[4] = {1, 1, 0, 2};
    loss = infonce_forward(probs, a2, b2, 0.5f, 2, 2, work);
    const double r2 = sqrt(2.0);
    double want = 0.5 * ((log(exp(r2) + 1) - r2) + (log(exp(r2) + exp(2.0)) - 2));
    ck_assert_double_le(fabs(loss - want), TOL_HAND);
    const float want_p[4] = {(float)(exp(r2) / (exp(r2) + 1)), (float)(1 / (exp(r2) + 1)),
                             (float)(exp(r2) / (exp(r2) + exp(2.0))),
                             (float)(exp(2.0) / (exp(r2) + exp(2.0)))};
    ck_assert_floats_near(probs, want_p, 4, TOL_HAND, 0);
}
END_TEST

static double nce_loss(void *p) {
    PairCtx *c = p;
    return infonce_forward(c->out, c->a, c->b, c->tau, c->N, c->D, c->work);
}

START_TEST(test_infonce_backward_matches_finite_differences) {
    const int N = pair_shapes[_i][0], D = pair_shapes[_i][1];
    const size_t n = (size_t)N * D;
    PairCtx c = {.N = N, .D = D, .tau = 0.3f};
    c.a = xmalloc(n * 4), c.b = xmalloc(n * 4), c.out = xmalloc((size_t)N * N * 4);
    c.work = xmalloc(infonce_workspace_size(N, D) * 4);
    float *da = xcalloc(n, 4), *db = xcalloc(n, 4);
    fill_uniform(c.a, n, -1, 1, 7);
    fill_uniform(c.b, n, -1, 1, 8);
    for (size_t i = 0; i < n; i++) c.b[i] += c.b[i] >= 0 ? 0.2f : -0.2f; // away from |x| = 0
    nce_loss(&c);
    infonce_backward(da, db, c.out, c.a, c.b, c.tau, N, D, 1.0, c.work);
    Rng rng;
    rng_init(&rng, 6, 0, (uint32_t)_i, RNG_TEST);
    fd_check(nce_loss, &c, c.a, da, n, FD_H, 64, &rng);
    fd_check(nce_loss, &c, c.b, db, n, FD_H, 64, &rng);
    xfree(c.a), xfree(c.b), xfree(c.out), xfree(c.work), xfree(da), xfree(db);
}
END_TEST

static void nce_bad_tau(void *arg) {
    float x[4] = {1, 0, 0, 1}, p[4], w[64];
    (void)arg;
    infonce_forward(p, x, x, -1.0f, 2, 2, w);
}
static void nce_null_work(void *arg) {
    float x[4] = {1, 0, 0, 1}, p[4] = {0}, d[4] = {0};
    (void)arg;
    infonce_backward(d, NULL, p, x, x, 1.0f, 2, 2, 1.0, NULL);
}

START_TEST(test_infonce_bad_input_dies) {
    expect_die(nce_bad_tau, NULL, "infonce_forward", "tau = -1");
    expect_die(nce_null_work, NULL, "infonce_backward", "work is NULL");
}
END_TEST

// ---- Haar DWT ----

START_TEST(test_haar_dwt_matches_hand_example_and_drops_odd_sample) {
    const float x[5] = {1, 3, 2, 2, 5};
    float lo[2], hi[2];
    haar_dwt_forward(lo, hi, x, 1, 5);
    const float r = (float)M_SQRT1_2;
    const float want_lo[2] = {4 * r, 4 * r}, want_hi[2] = {-2 * r, 0};
    ck_assert_floats_near(lo, want_lo, 2, TOL_HAND, 0);
    ck_assert_floats_near(hi, want_hi, 2, TOL_HAND, 0);
    // Backward of (dlo, dhi) = (1, 0), (0, 1): the synthesis of each pair; sample 4 gets nothing.
    const float dlo[2] = {1, 0}, dhi[2] = {0, 1};
    float dx[5] = {1, 1, 1, 1, 1};
    haar_dwt_backward(dx, dlo, dhi, 1, 5);
    const float want_dx[5] = {1 + r, 1 + r, 1 + r, 1 - r, 1};
    ck_assert_floats_near(dx, want_dx, 5, TOL_HAND, 0);
    haar_dwt_backward(dx, NULL, NULL, 1, 5); // nothing to propagate
    ck_assert_floats_near(dx, want_dx, 5, 0, 0);
}
END_TEST

START_TEST(test_haar_dwt_backward_is_the_adjoint) {
    const int N = 3, L = 13, h = L / 2;
    float x[39], lo[18], hi[18], glo[18], ghi[18], dx[39] = {0};
    fill_uniform(x, 39, -1, 1, 9);
    fill_uniform(glo, 18, -1, 1, 10);
    fill_uniform(ghi, 18, -1, 1, 11);
    haar_dwt_forward(lo, hi, x, N, L);
    haar_dwt_backward(dx, glo, ghi, N, L);
    double lhs = dot_double(lo, glo, (size_t)N * h) + dot_double(hi, ghi, (size_t)N * h);
    ck_assert_double_le(fabs(lhs - dot_double(x, dx, 39)), TOL_ADJ);
}
END_TEST

START_TEST(test_haar_hf_l1_matches_hand_value) {
    // x - y = (1, 3, 2, 6): hi_1 = (-2, -4)/√2, mean 3/√2; lo_1 = (4, 8)/√2; hi_2 = -2, mean 2.
    const float x[4] = {2, 4, 2, 7}, y[4] = {1, 1, 0, 1};
    float work[64];
    ck_assert_uint_le(haar_hf_l1_workspace_size(1, 4, 2), 64);
    double loss = haar_hf_l1_forward(x, y, 1, 4, 2, work);
    ck_assert_double_le(fabs(loss - (3 / sqrt(2.0) + 2)), TOL_HAND);
    ck_assert_double_le(fabs(haar_hf_l1_forward(x, y, 1, 4, 1, work) - 3 / sqrt(2.0)), TOL_HAND);
}
END_TEST

typedef struct HfCtx {
    float *x, *y, *work;
    int N, L, J;
} HfCtx;

static double hf_loss(void *p) {
    HfCtx *c = p;
    return haar_hf_l1_forward(c->x, c->y, c->N, c->L, c->J, c->work);
}

// {N, L, J}: one level, odd lengths dropping samples at several levels, the deepest level L = 2^J.
static const int hf_shapes[][3] = {{1, 2, 1}, {2, 11, 3}, {3, 16, 4}, {1, 37, 2}};

START_TEST(test_haar_hf_l1_backward_matches_finite_differences) {
    const int N = hf_shapes[_i][0], L = hf_shapes[_i][1], J = hf_shapes[_i][2];
    const size_t n = (size_t)N * L;
    HfCtx c = {.N = N, .L = L, .J = J};
    c.x = xmalloc(n * 4), c.y = xmalloc(n * 4);
    c.work = xmalloc(haar_hf_l1_workspace_size(N, L, J) * 4);
    float *dx = xcalloc(n, 4), *dy = xcalloc(n, 4), *dy2 = xcalloc(n, 4);
    fill_uniform(c.x, n, -1, 1, 12 + _i);
    fill_uniform(c.y, n, -1, 1, 20 + _i);
    haar_hf_l1_backward(dx, dy, c.x, c.y, N, L, J, 1.0, c.work);
    haar_hf_l1_backward(NULL, dy2, c.x, c.y, N, L, J, 1.0, c.work);
    ck_assert_floats_near(dy2, dy, n, 0, 0);
    // |.| has kinks: the probe step must not cross one, so the check uses a small h and only
    // looks at the gradient where it is defined (random data keeps all bands away from 0).
    Rng rng;
    rng_init(&rng, 7, 0, (uint32_t)_i, RNG_TEST);
    fd_check(hf_loss, &c, c.x, dx, n, 1e-3, 64, &rng);
    fd_check(hf_loss, &c, c.y, dy, n, 1e-3, 64, &rng);
    xfree(c.x), xfree(c.y), xfree(c.work), xfree(dx), xfree(dy), xfree(dy2);
}
END_TEST

static void hf_too_short(void *arg) {
    float x[3] = {0}, w[64];
    (void)arg;
    haar_hf_l1_forward(x, x, 1, 3, 2, w);
}
static void dwt_short(void *arg) {
    float x[1] = {0}, lo[1], hi[1];
    (void)arg;
    haar_dwt_forward(lo, hi, x, 1, 1);
}

START_TEST(test_haar_bad_input_dies) {
    expect_die(hf_too_short, NULL, "haar_hf_l1_forward", "L=3 < 2^J = 4");
    expect_die(dwt_short, NULL, "haar_dwt_forward", "L=1");
}
END_TEST

Suite *loss_pair_suite(void) {
    Suite *s = suite_create("loss_pair");
    TCase *tc = tcase_create("cosine_infonce_haar");
    tcase_add_test(tc, test_cosine_matches_hand_values);
    tcase_add_loop_test(tc, test_cosine_backward_matches_finite_differences, 0, N_PAIR_SHAPES);
    tcase_add_test(tc, test_infonce_matches_hand_computation_on_2x2);
    tcase_add_loop_test(tc, test_infonce_backward_matches_finite_differences, 0, N_PAIR_SHAPES);
    tcase_add_test(tc, test_infonce_bad_input_dies);
    tcase_add_test(tc, test_haar_dwt_matches_hand_example_and_drops_odd_sample);
    tcase_add_test(tc, test_haar_dwt_backward_is_the_adjoint);
    tcase_add_test(tc, test_haar_hf_l1_matches_hand_value);
    tcase_add_loop_test(tc, test_haar_hf_l1_backward_matches_finite_differences, 0,
                        (int)(sizeof hf_shapes / sizeof hf_shapes[0]));
    tcase_add_test(tc, test_haar_bad_input_dies);
    suite_add_tcase(s, tc);
    return s;
}
