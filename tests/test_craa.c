// test_craa.c - Fed-CMP's canonical reliability-aware aggregation (agg/craa.h): at full rank with
// uniform weights it is FedAvg; each reliability score and its weights against values worked out
// by hand on three 2×3 updates with an outlier; per-row fusion by hand; the sign-conflict rate by
// hand; bad options die naming their keys.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg/craa.h"
#include "helpers.h"

#define TOL_SVD 1e-10  /* through a double SVD and back: rounding of ~1e-16 times small sizes */
#define TOL_HAND 1e-12 /* hand values of a few double operations */

static void rand_fill(double *x, size_t n, uint32_t stream) {
    float *f = malloc(n * sizeof *f);
    fill_uniform(f, n, -1, 1, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = f[i];
    free(f);
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
    return m;
}

// FedAvg of the updates, weighted by n: the reference for the full-rank uniform rule.
static void fedavg(double *out, const double *delta, const double *n, int K, size_t len) {
    double tot = 0;
    for (int k = 0; k < K; k++)
        tot += n[k];
    memset(out, 0, len * sizeof *out);
    for (int k = 0; k < K; k++)
        for (size_t j = 0; j < len; j++)
            out[j] += n[k] / tot * delta[(size_t)k * len + j];
}

static double fedavg_gap(int K, int d_out, int d_in, int r, int per_row, uint32_t stream) {
    const size_t len = (size_t)d_out * d_in;
    double *delta = malloc((size_t)K * len * sizeof *delta), *dw = malloc(len * sizeof *dw),
           *ref = malloc(len * sizeof *ref), n[8];
    rand_fill(delta, (size_t)K * len, stream);
    for (int k = 0; k < K; k++)
        n[k] = 1 + 3 * k; // unequal counts: the weights must be n_k / Σn, not 1/K
    CraaSvd svd;
    craa_svd_init(&svd, delta, K, d_out, d_in);
    CraaOpts o = {.rel = CRAA_UNIFORM, .rank = r, .temp = 1, .eps = 1e-3, .per_row = per_row};
    craa_aggregate(dw, NULL, NULL, &svd, n, NULL, &o, K, d_in);
    fedavg(ref, delta, n, K, len);
    const double gap = max_abs_diff(dw, ref, len);
    craa_svd_free(&svd);
    free(delta), free(dw), free(ref);
    return gap;
}

START_TEST(test_full_rank_uniform_is_fedavg) {
    // K·d_in > d_out (a wide M, full rank = d_out) and K·d_in < d_out (a tall M, = K·d_in).
    ck_assert_double_le(fedavg_gap(3, 4, 3, 4, 0, 11), TOL_SVD);
    ck_assert_double_le(fedavg_gap(3, 4, 3, 4, 1, 11), TOL_SVD);
    ck_assert_double_le(fedavg_gap(2, 7, 3, 6, 0, 12), TOL_SVD);
    ck_assert_double_le(fedavg_gap(5, 6, 5, 6, 0, 13), TOL_SVD);
    // A truncation drops directions: the same comparison must then fail (the test can fail).
    ck_assert_double_gt(fedavg_gap(3, 4, 3, 2, 0, 11), 1e-3);
}
END_TEST

// Three 2×3 updates whose stacked rows are orthogonal with distinct norms (12 and 4), so the SVD's
// U is diagonal (±1): the coefficients are the updates' rows up to one sign per row, which the
// scores do not see. Party 3 points against the other two.
static const double HAND_DELTA[3 * 6] = {
    2,  0, 1,  0, 1,  0, // Δ_1
    2,  1, -1, 0, 1,  1, // Δ_2
    -1, 0, 0,  0, -1, 0  // Δ_3, the outlier
};
// By hand, C̄ = [[1, 1/3, 0], [0, 1/3, 1/3]], ‖C̄‖² = 4/3.
// agreement: ⟨C_k, C̄⟩ = 7/3, 3, −4/3; ‖C_k‖² = 6, 8, 2.
static const double HAND_COS[3] = {7.0 / 3 / 2.8284271247461903, 3 / 3.2659863237109041,
                                   -4.0 / 3 / 1.6329931618554521};
// distance: ‖C_k − C̄‖² = 8/3, 10/3, 6.
static const double HAND_DIST[3] = {1.6329931618554521, 1.8257418583505538, 2.4494897427831781};

static void hand_scores(double *rho, CraaReliability rel, int per_row, const double *reported) {
    double c[3 * 2 * 3];
    CraaSvd svd;
    craa_svd_init(&svd, HAND_DELTA, 3, 2, 3);
    craa_coefficients(c, &svd, 3, 3, 2);
    CraaOpts o = {.rel = rel, .rank = 2, .temp = 1, .eps = 1e-3, .per_row = per_row};
    craa_scores(rho, c, reported, &o, 3, 2, 3);
    craa_svd_free(&svd);
}

START_TEST(test_coefficients_reconstruct_the_updates) {
    CraaSvd svd;
    craa_svd_init(&svd, HAND_DELTA, 3, 2, 3);
    ck_assert_int_eq(svd.k, 2);
    ck_assert_double_eq_tol(svd.s[0], sqrt(12), TOL_HAND);
    ck_assert_double_eq_tol(svd.s[1], 2, TOL_HAND);
    double c[18], u[4], back[6];
    craa_coefficients(c, &svd, 3, 3, 2);
    craa_basis(u, &svd, 2);
    for (int k = 0; k < 3; k++) {
        craa_apply(back, u, c + 6 * k, 2, 2, 3); // U C_k = Δ_k at full rank
        ck_assert_double_le(max_abs_diff(back, HAND_DELTA + 6 * k, 6), TOL_SVD);
    }
    craa_svd_free(&svd);
}
END_TEST

START_TEST(test_agreement_by_hand) {
    double rho[6];
    hand_scores(rho, CRAA_AGREEMENT, 0, NULL);
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq_tol(rho[k], HAND_COS[k], TOL_SVD);
    // Per row: row 0 of C̄ is (1, 1/3, 0), ‖‖² = 10/9; row 1 is (0, 1/3, 1/3), ‖‖² = 2/9.
    hand_scores(rho, CRAA_AGREEMENT, 1, NULL);
    ck_assert_double_eq_tol(rho[0], 6 / sqrt(50), TOL_SVD);  // party 1, row 0: 2 / √(5·10/9)
    ck_assert_double_eq_tol(rho[1], 1 / sqrt(2), TOL_SVD);   // party 1, row 1: (1/3) / √(2/9)
    ck_assert_double_eq_tol(rho[4], -3 / sqrt(10), TOL_SVD); // party 3, row 0: −1 / √(10/9)
    ck_assert_double_eq_tol(rho[5], -1 / sqrt(2), TOL_SVD);  // party 3, row 1
}
END_TEST

START_TEST(test_sign_agreement_by_hand) {
    double rho[6];
    // Rows: party 1 (2, 1/3 > 0), party 2 (7/3, 2/3), party 3 (−1, −1/3).
    hand_scores(rho, CRAA_SIGN, 0, NULL);
    ck_assert_double_eq(rho[0], 1);
    ck_assert_double_eq(rho[1], 1);
    ck_assert_double_eq(rho[2], 0);
    hand_scores(rho, CRAA_SIGN, 1, NULL);
    const double per_row[6] = {1, 1, 1, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(rho[i], per_row[i]);
    // A fractional share: C_1 = [[1], [1]], C_2 = [[1], [−3]], C̄ = [[1], [−1]]: party 1 agrees
    // on row 0 only.
    const double c[4] = {1, 1, 1, -3};
    CraaOpts o = {.rel = CRAA_SIGN, .rank = 2, .temp = 1, .eps = 1e-3};
    craa_scores(rho, c, NULL, &o, 2, 2, 1);
    ck_assert_double_eq(rho[0], 0.5);
    ck_assert_double_eq(rho[1], 1);
}
END_TEST

START_TEST(test_distance_by_hand) {
    double rho[6];
    hand_scores(rho, CRAA_DISTANCE, 0, NULL);
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq_tol(rho[k], 1 / (1e-3 + HAND_DIST[k]), TOL_SVD);
}
END_TEST

START_TEST(test_reported_and_uniform_scores) {
    double rho[6];
    const double reported[3] = {0.5, 0.2, -0.1};
    hand_scores(rho, CRAA_REPORTED, 1, reported);
    for (int k = 0; k < 3; k++)
        ck_assert(rho[2 * k] == reported[k] && rho[2 * k + 1] == reported[k]);
    hand_scores(rho, CRAA_UNIFORM, 0, NULL);
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq(rho[k], 0);
}
END_TEST

// w_k = exp(ρ_k / T)·n_k / Σ_j exp(ρ_j / T)·n_j, written out.
static void softmax_n(double *w, const double *rho, const double *n, double T) {
    double s = 0;
    for (int k = 0; k < 3; k++)
        s += exp(rho[k] / T) * n[k];
    for (int k = 0; k < 3; k++)
        w[k] = exp(rho[k] / T) * n[k] / s;
}

START_TEST(test_weights_and_the_fused_update) {
    const double n[3] = {1, 1, 2}; // the outlier holds half the data
    CraaSvd svd;
    craa_svd_init(&svd, HAND_DELTA, 3, 2, 3);
    double w[3], ref[3], dw[6], mix[6];
    const CraaReliability rels[3] = {CRAA_AGREEMENT, CRAA_DISTANCE, CRAA_REPORTED};
    const double reported[3] = {0.5, 0.4, -0.5};
    for (int v = 0; v < 3; v++) {
        CraaOpts o = {.rel = rels[v], .rank = 2, .temp = 0.5, .eps = 1e-3};
        craa_aggregate(dw, NULL, w, &svd, n, reported, &o, 3, 3);
        double rho[3];
        for (int k = 0; k < 3; k++)
            rho[k] = v == 0 ? HAND_COS[k] : v == 1 ? 1 / (1e-3 + HAND_DIST[k]) : reported[k];
        softmax_n(ref, rho, n, 0.5);
        for (int k = 0; k < 3; k++)
            ck_assert_double_eq_tol(w[k], ref[k], TOL_SVD);
        // The outlier's weight falls below its data share (1/2), and its weight per sample below
        // each other party's.
        ck_assert_double_lt(w[2], 0.5);
        ck_assert_double_lt(w[2] / n[2], w[0] / n[0]);
        ck_assert_double_lt(w[2] / n[2], w[1] / n[1]);
        // At full rank the fused update is the weighted sum of the updates themselves.
        for (int j = 0; j < 6; j++)
            mix[j] = w[0] * HAND_DELTA[j] + w[1] * HAND_DELTA[6 + j] + w[2] * HAND_DELTA[12 + j];
        ck_assert_double_le(max_abs_diff(dw, mix, 6), TOL_SVD);
    }
    // Uniform: the data shares, whatever the scores.
    CraaOpts o = {.rel = CRAA_UNIFORM, .rank = 2, .temp = 0.5, .eps = 1e-3};
    craa_aggregate(dw, NULL, w, &svd, n, NULL, &o, 3, 3);
    ck_assert(w[0] == 0.25 && w[1] == 0.25 && w[2] == 0.5);
    // A huge score does not overflow the softmax.
    const double big[3] = {1e6, 0, 0};
    double wb[3];
    o.rel = CRAA_REPORTED;
    o.temp = 1e-3;
    craa_weights(wb, big, n, &o, 3, 2);
    ck_assert(wb[0] == 1 && wb[1] == 0 && wb[2] == 0);
    craa_svd_free(&svd);
}
END_TEST

START_TEST(test_per_row_fusion_by_hand) {
    // K = 2, r = 2, d_in = 2; row 0 weighted (0.75, 0.25), row 1 (0.5, 0.5).
    const double c[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const double w[4] = {0.75, 0.5, 0.25, 0.5}; // (K, r): w[k·r + i]
    double cs[4];
    craa_fuse(cs, c, w, 1, 2, 2, 2);
    const double ref[4] = {0.75 * 1 + 0.25 * 5, 0.75 * 2 + 0.25 * 6, 0.5 * 3 + 0.5 * 7,
                           0.5 * 4 + 0.5 * 8};
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(cs[i], ref[i], TOL_HAND);
    // Per-row softmax: each row's weights sum to 1, and rows are independent.
    const double rho[4] = {1, 0, 0, 0}, n[2] = {1, 1};
    double ww[4];
    CraaOpts o = {.rel = CRAA_REPORTED, .rank = 2, .temp = 1, .eps = 1e-3, .per_row = 1};
    craa_weights(ww, rho, n, &o, 2, 2);
    ck_assert_double_eq_tol(ww[0], exp(1) / (exp(1) + 1), TOL_HAND);
    ck_assert_double_eq_tol(ww[2], 1 / (exp(1) + 1), TOL_HAND);
    ck_assert_double_eq_tol(ww[1], 0.5, TOL_HAND);
    ck_assert_double_eq_tol(ww[3], 0.5, TOL_HAND);
}
END_TEST

START_TEST(test_sign_conflict_rate_by_hand) {
    // Entries: 0 all +; 1 one party against the sum; 2 all zero (inactive); 3 two against;
    // 4 one non-zero (zeros do not vote); 5 one against; 6 a zero sum of +1 and −1 (conflict).
    const double x[3 * 7] = {
        1, -1, 0, 2,  0, 1,  1,  //
        2, 1,  0, -1, 0, 1,  -1, //
        1, 1,  0, -3, 3, -1, 0,  //
    };
    ck_assert_double_eq_tol(craa_sign_conflict_rate(x, 3, 7), 4.0 / 6, TOL_HAND);
    ck_assert_double_eq(craa_sign_conflict_rate(x, 1, 7), 0); // one party never conflicts
    const double zero[4] = {0};
    ck_assert_double_eq(craa_sign_conflict_rate(zero, 2, 2), 0);
    // The hand updates: sums (3, 1, 0, 0, 1, 1); entry 3 is inactive; entries 0 and 4 (party 3
    // against the sum) and 2 (+1 and −1, a zero sum) conflict: 3 of 5.
    ck_assert_double_eq_tol(craa_sign_conflict_rate(HAND_DELTA, 3, 6), 3.0 / 5, TOL_HAND);
}
END_TEST

static void rank_zero(void *arg) {
    (void)arg;
    CraaSvd svd;
    craa_svd_init(&svd, HAND_DELTA, 3, 2, 3);
    double dw[6];
    CraaOpts o = {.rel = CRAA_AGREEMENT, .rank = 0, .temp = 1, .eps = 1e-3};
    craa_aggregate(dw, NULL, NULL, &svd, (const double[]){1, 1, 1}, NULL, &o, 3, 3);
}

static void rank_too_large(void *arg) {
    (void)arg;
    CraaSvd svd;
    craa_svd_init(&svd, HAND_DELTA, 3, 2, 3);
    double dw[6];
    CraaOpts o = {.rel = CRAA_AGREEMENT, .rank = 3, .temp = 1, .eps = 1e-3};
    craa_aggregate(dw, NULL, NULL, &svd, (const double[]){1, 1, 1}, NULL, &o, 3, 3);
}

static void temp_zero(void *arg) {
    CraaOpts o = {.rel = CRAA_AGREEMENT, .rank = 1, .temp = *(const double *)arg, .eps = 1e-3};
    craa_check_opts(&o, 2);
}

static void nan_update(void *arg) {
    (void)arg;
    double delta[6] = {1, 2, NAN, 4, 5, 6};
    CraaSvd svd;
    craa_svd_init(&svd, delta, 2, 1, 3);
}

static void zero_count(void *arg) {
    (void)arg;
    double w[2];
    CraaOpts o = {.rel = CRAA_UNIFORM, .rank = 1, .temp = 1, .eps = 1e-3};
    craa_weights(w, NULL, (const double[]){3, 0}, &o, 2, 1);
}

START_TEST(test_bad_inputs_die_naming_the_key) {
    expect_die(rank_zero, NULL, "--fedcmp.rank = 0");
    expect_die(rank_too_large, NULL, "--fedcmp.rank = 3", "2 singular triplets");
    expect_die(temp_zero, &(double){0}, "--fedcmp.temp = 0");
    expect_die(temp_zero, &(double){-1}, "--fedcmp.temp = -1");
    expect_die(nan_update, NULL, "delta[2] = nan");
    expect_die(zero_count, NULL, "n[1] = 0");
}
END_TEST

Suite *craa_suite(void) {
    Suite *s = suite_create("craa");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_rank_uniform_is_fedavg);
    tcase_add_test(tc, test_coefficients_reconstruct_the_updates);
    tcase_add_test(tc, test_agreement_by_hand);
    tcase_add_test(tc, test_sign_agreement_by_hand);
    tcase_add_test(tc, test_distance_by_hand);
    tcase_add_test(tc, test_reported_and_uniform_scores);
    tcase_add_test(tc, test_weights_and_the_fused_update);
    tcase_add_test(tc, test_per_row_fusion_by_hand);
    tcase_add_test(tc, test_sign_conflict_rate_by_hand);
    tcase_add_test(tc, test_bad_inputs_die_naming_the_key);
    suite_add_tcase(s, tc);
    return s;
}
