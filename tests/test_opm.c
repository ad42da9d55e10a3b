// test_opm.c - Fed-CMP's orthogonality-preserved momentum (agg/opm.h): Procrustes alignment maps
// a rotated and sign-flipped copy of a basis back and keeps U·C; the tangent projection lands in
// the Stiefel tangent space; the QR retraction keeps UᵀU = I with diag(R) > 0; a zero step returns
// the aligned basis bit for bit; the momentum recursion over three rounds; the ablations; bad
// options die naming their keys.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg/opm.h"
#include "helpers.h"
#include "tensor/linalg.h"

#define TOL_ROUND 1e-12 /* a few double products and a QR of an 8×3 matrix: rounding ~1e-15 */
#define TOL_UC 1e-10    /* U·C before and after the alignment, through an r×r SVD */

enum { D = 8, R = 3, CC = 5 };

static void rand_fill(double *x, size_t n, uint32_t stream) {
    float f[D * D];
    ck_assert_uint_le(n, D * D);
    fill_uniform(f, n, -1, 1, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = f[i];
}

// u (d, r) with orthonormal columns from a random matrix.
static void rand_basis(double *u, int d, int r, uint32_t stream) {
    double a[D * D], rr[D * D];
    rand_fill(a, (size_t)d * r, stream);
    linalg_qr_thin(u, rr, a, d, r);
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
    return m;
}

// out (m, n) = a (m, k) · b (k, n), or aᵀ · b with a (k, m) when ta: loops, independent of BLAS.
static void matmul(double *out, const double *a, const double *b, int m, int k, int n, int ta) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int l = 0; l < k; l++)
                s += (ta ? a[(size_t)l * m + i] : a[(size_t)i * k + l]) * b[(size_t)l * n + j];
            out[(size_t)i * n + j] = s;
        }
}

// max |sym(uᵀz)|: zero exactly when z is in the tangent space of St(d, r) at u.
static double sym_utz(const double *u, const double *z) {
    double a[R * R], m = 0;
    matmul(a, u, z, R, D, R, 1);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++)
            if (fabs(a[i * R + j] + a[j * R + i]) / 2 > m)
                m = fabs(a[i * R + j] + a[j * R + i]) / 2;
    return m;
}

// u1 = u0 · Q · diag(1, −1, 1) for a random orthogonal Q: the same subspace, another frame.
static void rotated_copy(double *u1, const double *u0, uint32_t stream) {
    double q[R * R];
    rand_basis(q, R, R, stream);
    for (int j = 0; j < R; j++) // flip the sign of column 1
        q[j * R + 1] = -q[j * R + 1];
    matmul(u1, u0, q, D, R, R, 0);
}

START_TEST(test_first_step_keeps_the_basis) {
    double u0[D * R], u[D * R], c[R * CC], c0[R * CC];
    rand_basis(u0, D, R, 1);
    rand_fill(c0, R * CC, 2);
    memcpy(u, u0, sizeof u), memcpy(c, c0, sizeof c);
    OpmState st;
    opm_init(&st, D, R);
    OpmOpts o = {.beta = 0.9, .gamma = 1, .align = 1, .retract = 1};
    OpmStepInfo info;
    const double err = opm_step(&st, &o, u, D, R, c, CC, &info);
    ck_assert(memcmp(u, u0, sizeof u) == 0 && memcmp(c, c0, sizeof c) == 0);
    ck_assert(memcmp(st.u_prev, u0, sizeof u0) == 0);
    for (int i = 0; i < D * R; i++)
        ck_assert(st.mom[i] == 0);
    ck_assert_int_eq(st.rounds, 1);
    ck_assert_double_le(err, TOL_ROUND);
    ck_assert(info.orth_err == err && info.mom_norm == 0);
    opm_free(&st);
    ck_assert(st.u_prev == NULL && st.mom == NULL && st.rounds == 0);
}
END_TEST

START_TEST(test_alignment_maps_a_rotated_copy_back_and_keeps_uc) {
    double u0[D * R], u1[D * R], c[R * CC], uc0[D * CC], uc1[D * CC], rot[R * R], rtr[R * R];
    rand_basis(u0, D, R, 3);
    rotated_copy(u1, u0, 4);
    rand_fill(c, R * CC, 5);
    matmul(uc0, u1, c, D, R, CC, 0);
    // The copy is far from u0 entrywise: without the alignment the check below would fail.
    ck_assert_double_gt(max_abs_diff(u1, u0, D * R), 0.1);
    opm_align(rot, u1, c, CC, u0, D, R);
    ck_assert_double_le(max_abs_diff(u1, u0, D * R), TOL_ROUND);
    matmul(uc1, u1, c, D, R, CC, 0);
    ck_assert_double_le(max_abs_diff(uc1, uc0, D * CC), TOL_UC);
    matmul(rtr, rot, rot, R, R, R, 1); // the rotation is orthogonal
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++)
            ck_assert_double_eq_tol(rtr[i * R + j], i == j, TOL_ROUND);

    // Through opm_step (β = 0, γ = 0: the returned basis is the aligned one): aligned, it is u0;
    // with the alignment switched off it stays the rotated copy.
    for (int align = 1; align >= 0; align--) {
        double u[D * R], uc[D * CC];
        OpmState st;
        opm_init(&st, D, R);
        OpmOpts o = {.beta = 0, .gamma = 0, .align = align, .retract = 1};
        memcpy(u, u0, sizeof u);
        opm_step(&st, &o, u, D, R, NULL, 0, NULL);
        rotated_copy(u, u0, 4);
        rand_fill(c, R * CC, 5);
        OpmStepInfo info;
        opm_step(&st, &o, u, D, R, c, CC, &info);
        matmul(uc, u, c, D, R, CC, 0);
        ck_assert_double_le(max_abs_diff(uc, uc0, D * CC), TOL_UC);
        if (align) {
            ck_assert_double_le(max_abs_diff(u, u0, D * R), TOL_ROUND);
            ck_assert_double_le(info.dist_after, TOL_ROUND);
        } else {
            ck_assert_double_gt(max_abs_diff(u, u0, D * R), 0.1);
            ck_assert_double_eq(info.dist_after, info.dist_before);
        }
        ck_assert_double_gt(info.dist_before, 0.1);
        opm_free(&st);
    }
}
END_TEST

START_TEST(test_tangent_projection_is_in_the_tangent_space) {
    double u[D * R], z[D * R], p[D * R], pp[D * R];
    rand_basis(u, D, R, 6);
    rand_fill(z, D * R, 7);
    ck_assert_double_gt(sym_utz(u, z), 0.01); // a raw z is not tangent: the check can fail
    opm_tangent_project(p, u, z, D, R);
    ck_assert_double_le(sym_utz(u, p), TOL_ROUND);
    opm_tangent_project(pp, u, p, D, R); // a projection: tangent vectors pass unchanged
    ck_assert_double_le(max_abs_diff(pp, p, D * R), TOL_ROUND);
    opm_tangent_project(z, u, z, D, R); // out may alias z
    ck_assert_double_le(max_abs_diff(z, p, D * R), TOL_ROUND);
    // u·A is tangent for a skew A and normal for a symmetric one: the projection keeps the first
    // and removes the second (a projection onto u's orthogonal complement alone would remove both).
    const double skew[R * R] = {0, 0.5, -1, -0.5, 0, 2, 1, -2, 0};
    const double sym[R * R] = {1, 0.5, -1, 0.5, 3, 2, -1, 2, -2};
    double ua[D * R], zero[D * R] = {0};
    matmul(ua, u, skew, D, R, R, 0);
    opm_tangent_project(p, u, ua, D, R);
    ck_assert_double_le(max_abs_diff(p, ua, D * R), TOL_ROUND);
    ck_assert_double_gt(max_abs_diff(ua, zero, D * R), 0.1);
    matmul(ua, u, sym, D, R, R, 0);
    opm_tangent_project(p, u, ua, D, R);
    ck_assert_double_le(max_abs_diff(p, zero, D * R), TOL_ROUND);
}
END_TEST

START_TEST(test_retraction_keeps_orthonormal_columns_with_a_positive_diagonal) {
    double u[D * R], z[D * R], a[D * R], q[D * R], rr[R * R], qr[D * R];
    rand_basis(u, D, R, 8);
    rand_fill(z, D * R, 9);
    opm_tangent_project(z, u, z, D, R);
    for (int i = 0; i < D * R; i++)
        a[i] = u[i] + 0.7 * z[i];
    ck_assert_double_gt(opm_orth_error(a, D, R), 0.01); // the step leaves the manifold
    opm_retract(q, a, D, R);
    ck_assert_double_le(opm_orth_error(q, D, R), TOL_ROUND);
    matmul(rr, q, a, R, D, R, 1); // R = qᵀ a: upper triangular, positive diagonal, q R = a
    for (int i = 0; i < R; i++) {
        ck_assert_double_gt(rr[i * R + i], 0);
        for (int j = 0; j < i; j++)
            ck_assert_double_le(fabs(rr[i * R + j]), TOL_ROUND);
    }
    matmul(qr, q, rr, D, R, R, 0);
    ck_assert_double_le(max_abs_diff(qr, a, D * R), TOL_ROUND);
}
END_TEST

// u (d, r) = qf(u0 rotated + noise): a nearby basis in another frame.
static void next_basis(double *u, const double *u0, uint32_t stream) {
    double a[D * R], z[D * R], rr[R * R];
    rotated_copy(a, u0, stream);
    rand_fill(z, D * R, stream + 100);
    for (int i = 0; i < D * R; i++)
        a[i] += 0.1 * z[i];
    linalg_qr_thin(u, rr, a, D, R);
}

START_TEST(test_a_zero_step_returns_the_aligned_basis_exactly) {
    double u0[D * R], u1[D * R], u[D * R], c[R * CC], ce[R * CC];
    rand_basis(u0, D, R, 10);
    next_basis(u1, u0, 11);
    rand_fill(c, R * CC, 12);
    memcpy(ce, c, sizeof c);
    double expect[D * R];
    memcpy(expect, u1, sizeof u1);
    opm_align(NULL, expect, ce, CC, u0, D, R);
    const double betas[2] = {0, 0.9};
    for (int b = 0; b < 2; b++) {
        OpmState st;
        opm_init(&st, D, R);
        OpmOpts o = {.beta = betas[b], .gamma = 0, .align = 1, .retract = 1};
        memcpy(u, u0, sizeof u);
        opm_step(&st, &o, u, D, R, NULL, 0, NULL);
        double cb[R * CC];
        memcpy(u, u1, sizeof u), memcpy(cb, c, sizeof c);
        opm_step(&st, &o, u, D, R, cb, CC, NULL);
        ck_assert(memcmp(u, expect, sizeof u) == 0);
        ck_assert(memcmp(cb, ce, sizeof cb) == 0);
        ck_assert(memcmp(st.u_prev, expect, sizeof u) == 0);
        opm_free(&st);
    }
}
END_TEST

// The reference step: a = the aligned basis, m = Proj_a(β m + (1 − β)(a − prev)), out = qf(a + γ m)
// (or a + γ m without the retraction).
static void ref_step(double *out, double *m, double *prev, const double *u, double beta,
                     double gamma, int retract) {
    double a[D * R], z[D * R];
    memcpy(a, u, sizeof a);
    opm_align(NULL, a, NULL, 0, prev, D, R);
    for (int i = 0; i < D * R; i++)
        z[i] = beta * m[i] + (1 - beta) * (a[i] - prev[i]);
    opm_tangent_project(m, a, z, D, R);
    for (int i = 0; i < D * R; i++)
        z[i] = a[i] + gamma * m[i];
    if (retract)
        opm_retract(out, z, D, R);
    else
        memcpy(out, z, sizeof z);
    memcpy(prev, a, sizeof a);
}

START_TEST(test_momentum_over_three_rounds) {
    double us[4][D * R];
    rand_basis(us[0], D, R, 13);
    for (int t = 1; t < 4; t++)
        next_basis(us[t], us[t - 1], 14 + t);
    for (int retract = 1; retract >= 0; retract--) {
        OpmState st;
        opm_init(&st, D, R);
        OpmOpts o = {.beta = 0.5, .gamma = 1, .align = 1, .retract = retract};
        double m[D * R] = {0}, prev[D * R], out[D * R], u[D * R];
        memcpy(prev, us[0], sizeof prev);
        memcpy(u, us[0], sizeof u);
        opm_step(&st, &o, u, D, R, NULL, 0, NULL);
        double worst = 0;
        for (int t = 1; t < 4; t++) {
            ref_step(out, m, prev, us[t], o.beta, o.gamma, retract);
            memcpy(u, us[t], sizeof u);
            OpmStepInfo info;
            const double err = opm_step(&st, &o, u, D, R, NULL, 0, &info);
            ck_assert_double_le(max_abs_diff(u, out, D * R), TOL_ROUND);
            ck_assert_double_le(max_abs_diff(st.mom, m, D * R), TOL_ROUND);
            ck_assert_double_le(max_abs_diff(st.u_prev, prev, D * R), TOL_ROUND);
            ck_assert_double_le(sym_utz(st.u_prev, st.mom), TOL_ROUND); // M_t tangent at U_t
            ck_assert_double_gt(info.mom_norm, 0.01);
            ck_assert_int_eq(st.rounds, t + 1);
            if (retract) ck_assert_double_le(err, TOL_ROUND);
            worst = err > worst ? err : worst;
        }
        // Without the retraction the basis leaves the manifold (what the ablation measures).
        if (!retract) ck_assert_double_gt(worst, 1e-4);
        opm_free(&st);
    }
}
END_TEST

static void bad_beta(void *arg) {
    OpmOpts o = {.beta = *(const double *)arg, .gamma = 1, .align = 1, .retract = 1};
    opm_check_opts(&o);
}

static void bad_gamma(void *arg) {
    (void)arg;
    OpmOpts o = {.beta = 0.9, .gamma = -1, .align = 1, .retract = 1};
    opm_check_opts(&o);
}

static void bad_rank(void *arg) {
    OpmState st;
    opm_init(&st, 4, *(const int *)arg);
}

static void rank_change(void *arg) {
    (void)arg;
    double u[D * R];
    rand_basis(u, D, R, 20);
    OpmState st;
    opm_init(&st, D, R);
    OpmOpts o = {.beta = 0.9, .gamma = 1, .align = 1, .retract = 1};
    opm_step(&st, &o, u, D, R, NULL, 0, NULL);
    opm_step(&st, &o, u, D, 2, NULL, 0, NULL);
}

START_TEST(test_bad_options_die_naming_the_key) {
    expect_die(bad_beta, &(double){1}, "--fedcmp.beta = 1", "[0, 1)");
    expect_die(bad_beta, &(double){-0.1}, "--fedcmp.beta = -0.1");
    expect_die(bad_gamma, NULL, "--fedcmp.gamma = -1");
    expect_die(bad_rank, &(int){0}, "--fedcmp.rank = 0");
    expect_die(bad_rank, &(int){5}, "--fedcmp.rank = 5 exceeds the basis's 4 rows");
    expect_die(rank_change, NULL, "--fedcmp.rank = 2 this round", "rank-3 basis");
}
END_TEST

Suite *opm_suite(void) {
    Suite *s = suite_create("opm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_first_step_keeps_the_basis);
    tcase_add_test(tc, test_alignment_maps_a_rotated_copy_back_and_keeps_uc);
    tcase_add_test(tc, test_tangent_projection_is_in_the_tangent_space);
    tcase_add_test(tc, test_retraction_keeps_orthonormal_columns_with_a_positive_diagonal);
    tcase_add_test(tc, test_a_zero_step_returns_the_aligned_basis_exactly);
    tcase_add_test(tc, test_momentum_over_three_rounds);
    tcase_add_test(tc, test_bad_options_die_naming_the_key);
    suite_add_tcase(s, tc);
    return s;
}
