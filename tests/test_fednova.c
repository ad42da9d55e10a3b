// test_fednova.c - FedNova's arithmetic (agg/fednova.h) on a toy problem worked by hand: two
// parties with quadratic losses f_i(y) = ½‖y − b_i‖² taking 1 and 3 local steps of the project's
// SGD (nn/optim.h), plain (ρ = 0) and with momentum ρ = 0.9; the normalising norms, the normalised
// updates and the server step against hand values; with equal steps and ρ = 0 it is FedAvg; bad
// arguments die naming their keys.
#include <check.h>
#include <math.h>
#include <string.h>

#include "agg/fednova.h"
#include "helpers.h"
#include "nn/optim.h"

#define TOL_HAND 1e-6     /* float32 arithmetic on numbers of order 1: a few ulps */
#define TOL_HAND_REL 1e-6 /* numbers up to ~14 here, where float32's spacing is ~1e-6 */
#define TOL_NORM 1e-12    /* ‖a‖₁ in double against a closed form */

// x = (0, 0), η = 0.5; party 1 pulls towards b_1 = (4, 0) with n_1 = 1 sample, party 2 towards
// b_2 = (0, 8) with n_2 = 3 (p = 0.25, 0.75).
static const float X0[2] = {0, 0};
static const float B[2][2] = {{4, 0}, {0, 8}};
static const double NK[2] = {1, 3};

// tau local steps of sgd_step from X0 on party's loss; y (2) is written.
static void local_steps(float *y, int party, int tau, float rho) {
    float g[2], vel[2] = {0, 0};
    memcpy(y, X0, sizeof X0);
    const SgdConfig cfg = {.lr = 0.5f, .momentum = rho};
    for (int k = 0; k < tau; k++) {
        for (int j = 0; j < 2; j++)
            g[j] = y[j] - B[party][j];
        sgd_step(y, g, vel, 2, NULL, 0, &cfg);
    }
}

// got (2 floats) against the hand values (a, b), failing at the caller's line.
#define near2(got, a, b)                                                                           \
    ck_assert_floats_near_at((got), (const float[2]){(float)(a), (float)(b)}, 2, TOL_HAND,         \
                             TOL_HAND_REL, #got, __FILE__, __LINE__)

START_TEST(test_norm_by_hand) {
    // ‖a‖₁ = Σ_{k=1..τ} (1 − ρ^k)/(1 − ρ): τ at ρ = 0; 1 for one step at any ρ;
    // τ = 3, ρ = 0.9: 1 + 1.9 + 2.71 = 5.61; τ = 2, ρ = 0.5: 1 + 1.5.
    ck_assert_double_eq(fednova_norm_a(1, 0), 1);
    ck_assert_double_eq(fednova_norm_a(5, 0), 5);
    ck_assert_double_eq_tol(fednova_norm_a(1, 0.9), 1, TOL_NORM);
    ck_assert_double_eq_tol(fednova_norm_a(3, 0.9), 5.61, TOL_NORM);
    ck_assert_double_eq_tol(fednova_norm_a(2, 0.5), 2.5, TOL_NORM);
    // The paper's closed form (τ − ρ(1 − ρ^τ)/(1 − ρ))/(1 − ρ).
    const double rho = 0.99;
    const int tau = 50;
    const double closed = (tau - rho * (1 - pow(rho, tau)) / (1 - rho)) / (1 - rho);
    ck_assert_double_eq_tol(fednova_norm_a(tau, rho), closed, 1e-9 * closed);
}
END_TEST

START_TEST(test_unequal_steps_plain_by_hand) {
    // ρ = 0. Party 1, τ = 1: y = 0 − 0.5·(0 − 4, 0) = (2, 0); ‖a‖ = 1; d_1 = x − y = (−2, 0).
    // Party 2, τ = 3: y_2 − 8 halves each step: −8 → −4 → −2 → −1, y = (0, 7); ‖a‖ = 3;
    // d_2 = (0, −7/3).
    float y[2][2], d[2][2];
    const double a[2] = {fednova_norm_a(1, 0), fednova_norm_a(3, 0)};
    local_steps(y[0], 0, 1, 0);
    local_steps(y[1], 1, 3, 0);
    near2(y[0], 2, 0);
    near2(y[1], 0, 7);
    fednova_normalise(d[0], X0, y[0], a[0], 2);
    fednova_normalise(d[1], X0, y[1], a[1], 2);
    near2(d[0], -2, 0);
    near2(d[1], 0, -7.0 / 3);
    // τ_eff = 0.25·1 + 0.75·3 = 2.5; Σ p d = (−0.5, −1.75); x = 0 − 2.5·(−0.5, −1.75) =
    // (1.25, 4.375). FedAvg would give 0.25·y_1 + 0.75·y_2 = (0.5, 5.25): party 2's three steps
    // would count three times.
    float x[2];
    memcpy(x, X0, sizeof x);
    ck_assert_double_eq_tol(fednova_server_update(x, &d[0][0], a, NK, 2, 2), 2.5, TOL_NORM);
    near2(x, 1.25, 4.375);
    // Equal weights (nk NULL): τ_eff = 2, Σ p d = (−1, −7/6), x = (2, 7/3).
    memcpy(x, X0, sizeof x);
    ck_assert_double_eq_tol(fednova_server_update(x, &d[0][0], a, NULL, 2, 2), 2, TOL_NORM);
    near2(x, 2, 7.0 / 3);
}
END_TEST

START_TEST(test_unequal_steps_momentum_by_hand) {
    // ρ = 0.9 (vel = ρ·vel + g, y −= η·vel). Party 1, τ = 1: the same single step, y = (2, 0),
    // ‖a‖ = 1, d_1 = (−2, 0). Party 2, τ = 3, second coordinate (the first stays 0):
    //   step 1: g = −8, vel = −8, y = 4
    //   step 2: g = −4, vel = −7.2 − 4 = −11.2, y = 9.6
    //   step 3: g = 1.6, vel = −10.08 + 1.6 = −8.48, y = 13.84
    // ‖a‖ = 5.61, d_2 = (0, −13.84/5.61).
    float y[2][2], d[2][2];
    const double a[2] = {fednova_norm_a(1, 0.9), fednova_norm_a(3, 0.9)};
    local_steps(y[0], 0, 1, 0.9f);
    local_steps(y[1], 1, 3, 0.9f);
    near2(y[0], 2, 0);
    near2(y[1], 0, 13.84);
    fednova_normalise(d[0], X0, y[0], a[0], 2);
    fednova_normalise(d[1], X0, y[1], a[1], 2);
    near2(d[0], -2, 0);
    near2(d[1], 0, -13.84 / 5.61);
    // τ_eff = 0.25·1 + 0.75·5.61 = 4.4575; Σ p d = (−0.5, −0.75·13.84/5.61 = −10.38/5.61);
    // x = (4.4575·0.5, 4.4575·10.38/5.61) = (2.22875, 8.2475668...).
    float x[2];
    memcpy(x, X0, sizeof x);
    ck_assert_double_eq_tol(fednova_server_update(x, &d[0][0], a, NK, 2, 2), 4.4575, TOL_NORM);
    near2(x, 2.22875, 4.4575 * 10.38 / 5.61);
}
END_TEST

START_TEST(test_equal_steps_plain_is_fedavg) {
    // Equal τ and ρ = 0: ‖a_i‖ = τ = τ_eff, x − τ·Σ p_i (x − y_i)/τ = Σ p_i y_i.
    enum { P = 3, N = 9, TAU = 4 };
    float x[N], y[P][N], d[P][N], b[P][N], g[N];
    const double nk[P] = {2, 5, 1};
    double a[P];
    fill_uniform(x, N, -1, 1, 3);
    fill_uniform(&b[0][0], P * N, -2, 2, 4);
    const SgdConfig cfg = {.lr = 0.2f};
    for (int i = 0; i < P; i++) {
        float vel[N] = {0};
        memcpy(y[i], x, sizeof x);
        for (int k = 0; k < TAU; k++) {
            for (int j = 0; j < N; j++)
                g[j] = y[i][j] - b[i][j];
            sgd_step(y[i], g, vel, N, NULL, 0, &cfg);
        }
        a[i] = fednova_norm_a(TAU, 0);
        fednova_normalise(d[i], x, y[i], a[i], N);
    }
    float fedavg[N];
    for (int j = 0; j < N; j++)
        fedavg[j] = (float)((2.0 * y[0][j] + 5.0 * y[1][j] + 1.0 * y[2][j]) / 8);
    ck_assert_double_eq(fednova_server_update(x, &d[0][0], a, nk, P, N), TAU);
    ck_assert_floats_near(x, fedavg, N, TOL_HAND, TOL_HAND_REL);
}
END_TEST

static void bad_norm(void *arg) {
    const double *p = arg; // {tau, rho}
    fednova_norm_a((int)p[0], p[1]);
}

static void bad_server(void *arg) {
    const double *a = arg;
    float x[2] = {0};
    const float d[2] = {0};
    fednova_server_update(x, d, a, NULL, a[0] > 0 ? 1 : 0, 2);
}

START_TEST(test_bad_arguments_die_naming_the_key) {
    static const double tau0[2] = {0, 0.5}, tau_neg[2] = {-3, 0.5}, rho1[2] = {2, 1},
                        rho_neg[2] = {2, -0.5};
    expect_die(bad_norm, (void *)tau0, "--fedcmp.local-steps = 0");
    expect_die(bad_norm, (void *)tau_neg, "--fedcmp.local-steps = -3");
    expect_die(bad_norm, (void *)rho1, "--fedcmp.momentum = 1");
    expect_die(bad_norm, (void *)rho_neg, "--fedcmp.momentum = -0.5");
    expect_die(bad_server, &(double){0.5}, "a_norm[0] = 0.5");
    expect_die(bad_server, &(double){-1}, "P = 0 parties");
}
END_TEST

Suite *fednova_suite(void) {
    Suite *s = suite_create("fednova");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_norm_by_hand);
    tcase_add_test(tc, test_unequal_steps_plain_by_hand);
    tcase_add_test(tc, test_unequal_steps_momentum_by_hand);
    tcase_add_test(tc, test_equal_steps_plain_is_fedavg);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_key);
    suite_add_tcase(s, tc);
    return s;
}
