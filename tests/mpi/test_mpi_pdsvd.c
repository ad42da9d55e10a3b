// test_mpi_pdsvd.c - ScaLAPACK pdgesvd through pdsvd against LAPACKE (linalg_svd_thin) on the root:
// the same singular values, the same singular vectors up to sign, A = UΣVᵀ with orthonormal U, for
// square, tall, wide and non-divisible shapes and block sizes, with the root not always rank 0;
// values-only calls; bit-identical results when repeated. Verdicts are agreed before asserting.
#include <check.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/xalloc.h"
#include "helpers.h"
#include "mpi_helpers.h"
#include "tensor/linalg.h"
#include "tensor/pdsvd.h"

#define TOL_SV 1e-10 /* double: two backward-stable SVDs of O(1) entries, sizes <= 70 */
#define TOL_VEC 1e-8 /* |⟨u_k, u_ref_k⟩| = 1 for well-separated σ_k of random matrices */

// {M, N, nb}: square, tall and wide with sizes not divisible by nb or by the grid, 1-wide.
static const int cases[][3] = {{8, 8, 4}, {37, 23, 8}, {23, 37, 5}, {70, 41, 16},
                               {9, 1, 2}, {1, 6, 4},   {33, 33, 64}};

static double frob_diff(const double *a, const double *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(d);
}

// On the root: everything pdsvd returned, against the LAPACKE reference. Returns 1 when it holds.
static int verify_on_root(const double *a, const double *s, const double *u, const double *vt,
                          int M, int N, char *why, size_t why_len) {
    const int K = MIN(M, N);
    double *sr = xmalloc((size_t)K * sizeof(double)), *ur = xmalloc((size_t)M * K * sizeof(double));
    double *vr = xmalloc((size_t)K * N * sizeof(double)),
           *rec = xcalloc((size_t)M * N, sizeof(double));
    linalg_svd_thin(ur, sr, vr, a, M, N);
    int ok = 1;
    double ds = frob_diff(s, sr, (size_t)K) / sr[0];
    for (int k = 1; k < K; k++)
        ok &= s[k] <= s[k - 1];
    if (!(ds < TOL_SV) || !ok) {
        snprintf(why, why_len, "(%d, %d): singular values differ by %g or not descending", M, N,
                 ds);
        ok = 0;
    }
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++)
                rec[(size_t)i * N + j] += u[(size_t)i * K + k] * s[k] * vt[(size_t)k * N + j];
    double nrm = 0;
    for (size_t i = 0; i < (size_t)M * N; i++)
        nrm += a[i] * a[i];
    double na = frob_diff(a, rec, (size_t)M * N) / sqrt(nrm);
    if (ok && !(na < TOL_SV)) {
        snprintf(why, why_len, "(%d, %d): ‖A − UΣVᵀ‖/‖A‖ = %g", M, N, na);
        ok = 0;
    }
    for (int k = 0; ok && k < K; k++) {
        double du = 0, dv = 0, nu = 0;
        for (int i = 0; i < M; i++)
            du += u[(size_t)i * K + k] * ur[(size_t)i * K + k];
        for (int j = 0; j < N; j++)
            dv += vt[(size_t)k * N + j] * vr[(size_t)k * N + j];
        for (int k2 = 0; k2 < K; k2++) { // UᵀU column k against column k2
            double d = 0;
            for (int i = 0; i < M; i++)
                d += u[(size_t)i * K + k] * u[(size_t)i * K + k2];
            nu = fmax(nu, fabs(d - (k == k2)));
        }
        if (!(fabs(fabs(du) - 1) < TOL_VEC && fabs(fabs(dv) - 1) < TOL_VEC && nu < TOL_VEC &&
              du * dv > 0)) {
            snprintf(why, why_len, "(%d, %d): vector %d: <u,u_ref>=%g <v,v_ref>=%g |UᵀU-I|=%g", M,
                     N, k, du, dv, nu);
            ok = 0;
        }
    }
    xfree(sr), xfree(ur), xfree(vr), xfree(rec);
    return ok;
}

START_TEST(test_pdsvd_matches_lapacke_on_root) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int M = cases[_i][0], N = cases[_i][1], nb = cases[_i][2], K = MIN(M, N);
    const int root = _i % size; // the root is not always rank 0
    PdsvdGrid *g = pdsvd_grid_create(MPI_COMM_WORLD);
    ck_assert_ptr_nonnull(g);
    double *a = NULL, *s = NULL, *u = NULL, *vt = NULL, *s2 = NULL, *u2 = NULL, *vt2 = NULL;
    if (rank == root) {
        float *f = xmalloc((size_t)M * N * sizeof(float));
        fill_uniform(f, (size_t)M * N, -1, 1, 100 + (uint32_t)_i);
        a = xmalloc((size_t)M * N * sizeof(double));
        for (size_t i = 0; i < (size_t)M * N; i++)
            a[i] = f[i];
        xfree(f);
        s = xmalloc((size_t)K * sizeof(double)), s2 = xmalloc((size_t)K * sizeof(double));
        u = xmalloc((size_t)M * K * sizeof(double)), u2 = xmalloc((size_t)M * K * sizeof(double));
        vt = xmalloc((size_t)K * N * sizeof(double)), vt2 = xmalloc((size_t)K * N * sizeof(double));
    }
    pdsvd(g, s, u, vt, a, M, N, nb, root);
    char why[256] = "";
    int ok = rank != root || verify_on_root(a, s, u, vt, M, N, why, sizeof why);
    // Only rank 0 prints: the message names the case and root, the detail is this rank's own.
    ck_assert_all_ranks(ok, "(%d, %d) nb=%d root=%d: pdsvd disagrees with LAPACKE [rank %d: %s]", M,
                        N, nb, root, rank, rank == root ? why : "see the root");

    // Repeatable: a second call gives the same bytes; values only gives the same values.
    pdsvd(g, s2, u2, vt2, a, M, N, nb, root);
    ok = rank != root || (memcmp(s, s2, (size_t)K * sizeof(double)) == 0 &&
                          memcmp(u, u2, (size_t)M * K * sizeof(double)) == 0 &&
                          memcmp(vt, vt2, (size_t)K * N * sizeof(double)) == 0);
    ck_assert_all_ranks(ok, "(%d, %d) nb=%d: a repeated pdsvd differs", M, N, nb);
    pdsvd(g, s2, NULL, NULL, a, M, N, nb, root);
    ok = 1;
    for (int k = 0; rank == root && k < K; k++)
        ok &= fabs(s2[k] - s[k]) <= TOL_SV * (1 + s[0]);
    ck_assert_all_ranks(ok, "(%d, %d) nb=%d: values-only pdsvd differs", M, N, nb);

    pdsvd_grid_destroy(g);
    xfree(a), xfree(s), xfree(u), xfree(vt), xfree(s2), xfree(u2), xfree(vt2);
}
END_TEST

START_TEST(test_pdsvd_reports_its_build) {
#ifdef HAVE_SCALAPACK
    ck_assert_int_eq(pdsvd_available(), 1);
#else
    ck_assert_int_eq(pdsvd_available(), 0);
#endif
}
END_TEST

Suite *mpi_pdsvd_suite(void) {
    Suite *s = suite_create("mpi_pdsvd");
    TCase *tc = tcase_create("pdgesvd");
    tcase_add_loop_test(tc, test_pdsvd_matches_lapacke_on_root, 0, (int)ARRAY_LEN(cases));
    tcase_add_test(tc, test_pdsvd_reports_its_build);
    suite_add_tcase(s, tc);
    return s;
}
