// test_scaffold.c - SCAFFOLD's arithmetic (agg/scaffold.h) on a toy problem worked by hand: two
// parties with quadratic losses f_i(y) = ½‖y − b_i‖² (gradient y − b_i), two local steps of the
// project's SGD (nn/optim.h) with the corrected direction; the parties' y, c_i⁺, Δy, Δc and the
// server's x and c after one round, with plain SGD (option II) and with momentum (the momentum-
// corrected step length); partial sampling and sample weights; with zero variates the round is
// FedAvg; bad arguments die naming their keys.
#include <check.h>
#include <math.h>
#include <string.h>

#include "agg/scaffold.h"
#include "helpers.h"
#include "nn/optim.h"

#define TOL_HAND 1e-6 /* float32 arithmetic on numbers of order 1: a few ulps (~1e-7) */

// The toy round. Two coordinates, x = (1, 1), η = 0.5, K = 2, server variate c = (0.1, −0.2), the
// mean of the parties' c_1 = (0.3, 0) and c_2 = (−0.1, −0.4).
static const float X0[2] = {1, 1}, C0[2] = {0.1f, -0.2f};
static const float CI0[2][2] = {{0.3f, 0}, {-0.1f, -0.4f}};
static const float B[2][2] = {{2, 0}, {-1, 3}};

// K local steps of sgd_step (lr, momentum) from x with the corrected gradient (y − b) + c − c_i;
// the momentum buffer starts at zero. y (2) is written.
static void local_steps(float *y, int party, const float *c, const float *ci, int K, float lr,
                        float rho) {
    float g[2], vel[2] = {0, 0};
    memcpy(y, X0, sizeof X0);
    const SgdConfig cfg = {.lr = lr, .momentum = rho};
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < 2; j++)
            g[j] = y[j] - B[party][j];
        scaffold_correct(g, c, ci, 2);
        sgd_step(y, g, vel, 2, NULL, 0, &cfg);
    }
}

// got (2 floats) against the hand values (a, b), failing at the caller's line.
#define near2(got, a, b)                                                                           \
    ck_assert_floats_near_at((got), (const float[2]){(float)(a), (float)(b)}, 2, TOL_HAND, 0,      \
                             #got, __FILE__, __LINE__)

// One party's round: y, then c_i⁺, Δy, Δc.
static void client_round(float *y, float *dy, float *dc, float *cip, int party, int K, float lr,
                         float rho) {
    local_steps(y, party, C0, CI0[party], K, lr, rho);
    scaffold_client_finish(dy, dc, cip, CI0[party], C0, X0, y, K, lr, rho, 2);
}

START_TEST(test_round_by_hand) {
    float y[2], dy[2][2], dc[2][2], cip[2][2];
    // Party 1, c − c_1 = (−0.2, −0.2):
    //   step 1: g = (1,1) − (2,0) = (−1, 1), h = (−1.2, 0.8), y = (1,1) − 0.5·h = (1.6, 0.6)
    //   step 2: g = (−0.4, 0.6), h = (−0.6, 0.4), y = (1.9, 0.4)
    //   Δy = (0.9, −0.6); (x − y)/(Kη) = (−0.9, 0.6); c_1⁺ = c_1 − c + that = (−0.7, 0.8), which is
    //   the mean of the two gradients, as option II intends; Δc = c_1⁺ − c_1 = (−1.0, 0.8).
    client_round(y, dy[0], dc[0], cip[0], 0, 2, 0.5f, 0);
    near2(y, 1.9, 0.4);
    near2(dy[0], 0.9, -0.6);
    near2(cip[0], -0.7, 0.8);
    near2(dc[0], -1.0, 0.8);
    // Party 2, c − c_2 = (0.2, 0.2):
    //   step 1: g = (2, −2), h = (2.2, −1.8), y = (−0.1, 1.9)
    //   step 2: g = (0.9, −1.1), h = (1.1, −0.9), y = (−0.65, 2.35)
    //   Δy = (−1.65, 1.35); c_2⁺ = (−0.2 + 1.65, −0.2 − 1.35) = (1.45, −1.55) (the mean gradient);
    //   Δc = (1.55, −1.15).
    client_round(y, dy[1], dc[1], cip[1], 1, 2, 0.5f, 0);
    near2(y, -0.65, 2.35);
    near2(dy[1], -1.65, 1.35);
    near2(cip[1], 1.45, -1.55);
    near2(dc[1], 1.55, -1.15);
    // Server, S = N = 2, uniform, η_g = 1: x = (1,1) + mean Δy = (1 − 0.375, 1 + 0.375);
    // c = c + (2/2)·mean Δc = (0.1 + 0.275, −0.2 − 0.175) = (0.375, −0.375) = mean(c_1⁺, c_2⁺).
    float x[2], c[2];
    memcpy(x, X0, sizeof x), memcpy(c, C0, sizeof c);
    scaffold_server_update(x, c, dy[0], dc[0], NULL, 0, 1, 2, 2, 2);
    near2(x, 0.625, 1.375);
    near2(c, 0.375, -0.375);
    near2(c, (cip[0][0] + cip[1][0]) / 2.0, (cip[0][1] + cip[1][1]) / 2.0);
    // η_g = 2 doubles the model step only: x = (1 − 0.75, 1 + 0.75), c as before.
    memcpy(x, X0, sizeof x), memcpy(c, C0, sizeof c);
    scaffold_server_update(x, c, dy[0], dc[0], NULL, 0, 2, 2, 2, 2);
    near2(x, 0.25, 1.75);
    near2(c, 0.375, -0.375);
}
END_TEST

START_TEST(test_momentum_step_length_by_hand) {
    // A(K, ρ) = Σ_{k=1..K} (1 − ρ^k)/(1 − ρ): A(2, 0.5) = 1 + 1.5 = 2.5, A(3, 0.9) = 1 + 1.9
    // + 2.71.
    ck_assert_double_eq_tol(scaffold_step_length(2, 0.5, 0), 1.0, 1e-15);
    ck_assert_double_eq_tol(scaffold_step_length(2, 0.5, 0.5), 1.25, 1e-15);
    ck_assert_double_eq_tol(scaffold_step_length(3, 0.1, 0.9), 0.561, 1e-15);
    // Party 1 with ρ = 0.5 (PyTorch: vel = ρ·vel + h, y −= η·vel):
    //   step 1: h = (−1.2, 0.8), vel = h, y = (1.6, 0.6)
    //   step 2: g = (−0.4, 0.6), h = (−0.6, 0.4), vel = 0.5·(−1.2, 0.8) + h = (−1.2, 0.8),
    //           y = (1.6, 0.6) + (0.6, −0.4) = (2.2, 0.2)
    //   Δy = (1.2, −0.8); L = η·A = 1.25; (x − y)/L = (−0.96, 0.64); c_1⁺ = (0.2 − 0.96,
    //   0.2 + 0.64) = (−0.76, 0.84): the mean of the gradients g_1 = (−1, 1), g_2 = (−0.4, 0.6)
    //   weighted (1 + ρ, 1)/A = (0.6, 0.4). With K·η = 1 instead it would be (−1.0, 1.0).
    float y[2], dy[2], dc[2], cip[2];
    client_round(y, dy, dc, cip, 0, 2, 0.5f, 0.5f);
    near2(y, 2.2, 0.2);
    near2(dy, 1.2, -0.8);
    near2(cip, -0.76, 0.84);
    near2(cip, 0.6 * -1 + 0.4 * -0.4, 0.6 * 1 + 0.4 * 0.6);
    near2(dc, -1.06, 0.84);
}
END_TEST

START_TEST(test_sampling_and_weights_by_hand) {
    float y[2], dy[2][2], dc[2][2], cip[2][2], x[2], c[2];
    client_round(y, dy[0], dc[0], cip[0], 0, 2, 0.5f, 0);
    client_round(y, dy[1], dc[1], cip[1], 1, 2, 0.5f, 0);
    // Only party 1 sampled (S = 1 of N = 2), η_g = 0.5: x = (1,1) + 0.5·(0.9, −0.6) = (1.45, 0.7);
    // c = c + (1/2)·Δc_1 = (0.1 − 0.5, −0.2 + 0.4) = (−0.4, 0.2) = mean(c_1⁺, c_2) (party 2's
    // variate is unchanged).
    memcpy(x, X0, sizeof x), memcpy(c, C0, sizeof c);
    scaffold_server_update(x, c, dy[0], dc[0], NULL, 0, 0.5, 1, 2, 2);
    near2(x, 1.45, 0.7);
    near2(c, -0.4, 0.2);
    near2(c, (cip[0][0] + CI0[1][0]) / 2.0, (cip[0][1] + CI0[1][1]) / 2.0);
    // Sample-weighted, n = (1, 3), n_all = 4, η_g = 1: x = (1,1) + 0.25·Δy_1 + 0.75·Δy_2 =
    // (1 + 0.225 − 1.2375, 1 − 0.15 + 1.0125) = (−0.0125, 1.8625); c = c + 0.25·Δc_1 + 0.75·Δc_2 =
    // (0.1 − 0.25 + 1.1625, −0.2 + 0.2 − 0.8625).
    memcpy(x, X0, sizeof x), memcpy(c, C0, sizeof c);
    scaffold_server_update(x, c, dy[0], dc[0], (const double[]){1, 3}, 4, 1, 2, 2, 2);
    near2(x, -0.0125, 1.8625);
    near2(c, 1.0125, -0.8625);
    // Weighted, only party 2 sampled of parties holding 4 samples: x moves by all of Δy_2 (its
    // weight among the sampled is 1), c by 3/4 of Δc_2: (0.1 + 1.1625, −0.2 − 0.8625).
    memcpy(x, X0, sizeof x), memcpy(c, C0, sizeof c);
    scaffold_server_update(x, c, dy[1], dc[1], (const double[]){3}, 4, 1, 1, 2, 2);
    near2(x, -0.65, 2.35);
    near2(c, 1.2625, -1.0625);
}
END_TEST

START_TEST(test_zero_variates_is_fedavg) {
    // c = c_i = 0: the corrected direction is the plain gradient, so each party's y is plain local
    // SGD's (bit for bit), and x + mean(Δy) is FedAvg's mean of the parties' models.
    enum { P = 3, N = 7, K = 3 };
    float x[N], b[P][N], zero[N] = {0}, y[P][N], plain[N], dy[P][N], dc[P][N], c[N] = {0}, g[N];
    fill_uniform(x, N, -1, 1, 1);
    fill_uniform(&b[0][0], P * N, -2, 2, 2);
    const SgdConfig cfg = {.lr = 0.3f, .momentum = 0.9f};
    for (int i = 0; i < P; i++) {
        float vel[N] = {0}, vel2[N] = {0};
        memcpy(y[i], x, sizeof x), memcpy(plain, x, sizeof x);
        for (int k = 0; k < K; k++) {
            for (int j = 0; j < N; j++)
                g[j] = y[i][j] - b[i][j];
            scaffold_correct(g, zero, zero, N);
            sgd_step(y[i], g, vel, N, NULL, 0, &cfg);
            for (int j = 0; j < N; j++)
                g[j] = plain[j] - b[i][j];
            sgd_step(plain, g, vel2, N, NULL, 0, &cfg);
        }
        ck_assert(memcmp(y[i], plain, sizeof plain) == 0);
        scaffold_client_finish(dy[i], dc[i], NULL, zero, zero, x, y[i], K, 0.3, 0.9, N);
    }
    float fedavg[N];
    for (int j = 0; j < N; j++)
        fedavg[j] = (float)(((double)y[0][j] + y[1][j] + y[2][j]) / 3);
    scaffold_server_update(x, c, &dy[0][0], &dc[0][0], NULL, 0, 1, P, P, N);
    ck_assert_floats_near(x, fedavg, N, TOL_HAND, 0);
}
END_TEST

START_TEST(test_variate_in_place) {
    // ci_new aliasing ci gives the same c_i⁺ as a separate buffer.
    float y[2], dy[2], dc[2], sep[2], ci[2];
    local_steps(y, 1, C0, CI0[1], 2, 0.5f, 0.5f);
    memcpy(ci, CI0[1], sizeof ci);
    scaffold_client_finish(dy, dc, sep, ci, C0, X0, y, 2, 0.5, 0.5, 2);
    scaffold_client_finish(dy, dc, ci, ci, C0, X0, y, 2, 0.5, 0.5, 2);
    ck_assert(memcmp(ci, sep, sizeof sep) == 0);
}
END_TEST

typedef struct {
    int K, S, N;
    double lr, rho, eta_g;
} Bad;

static void bad_client(void *arg) {
    const Bad *b = arg;
    float dy[2], dc[2];
    scaffold_client_finish(dy, dc, NULL, CI0[0], C0, X0, X0, b->K, b->lr, b->rho, 2);
}

static void bad_server(void *arg) {
    const Bad *b = arg;
    float x[2] = {0}, c[2] = {0};
    const float d[4] = {0};
    scaffold_server_update(x, c, d, d, NULL, 0, b->eta_g, b->S, b->N, 2);
}

static void nan_gradient(void *arg) {
    (void)arg;
    float g[2] = {1, NAN};
    scaffold_correct(g, C0, CI0[0], 2);
}

START_TEST(test_bad_arguments_die_naming_the_key) {
    // Declared apart: a compound literal's commas would split expect_die's arguments.
    static const Bad k0 = {.K = 0, .lr = 0.1}, lr0 = {.K = 2, .lr = 0},
                     lr_neg = {.K = 2, .lr = -0.5}, rho1 = {.K = 2, .lr = 0.1, .rho = 1},
                     rho_neg = {.K = 2, .lr = 0.1, .rho = -0.1}, eta0 = {.S = 2, .N = 2},
                     s_big = {.S = 3, .N = 2, .eta_g = 1}, s0 = {.S = 0, .N = 2, .eta_g = 1};
    expect_die(bad_client, (void *)&k0, "--fedcmp.local-steps = 0");
    expect_die(bad_client, (void *)&lr0, "--fedcmp.lr = 0");
    expect_die(bad_client, (void *)&lr_neg, "--fedcmp.lr = -0.5");
    expect_die(bad_client, (void *)&rho1, "--fedcmp.momentum = 1");
    expect_die(bad_client, (void *)&rho_neg, "--fedcmp.momentum = -0.1");
    expect_die(bad_server, (void *)&eta0, "--fedcmp.server-lr = 0");
    expect_die(bad_server, (void *)&s_big, "S = 3 sampled of N = 2");
    expect_die(bad_server, (void *)&s0, "S = 0 sampled");
    expect_die(nan_gradient, NULL, "g[1] = nan");
}
END_TEST

Suite *scaffold_suite(void) {
    Suite *s = suite_create("scaffold");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_by_hand);
    tcase_add_test(tc, test_momentum_step_length_by_hand);
    tcase_add_test(tc, test_sampling_and_weights_by_hand);
    tcase_add_test(tc, test_zero_variates_is_fedavg);
    tcase_add_test(tc, test_variate_in_place);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_key);
    suite_add_tcase(s, tc);
    return s;
}
