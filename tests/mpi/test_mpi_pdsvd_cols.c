// test_mpi_pdsvd_cols.c - pdsvd_cols, the SVD of a matrix whose column blocks live on their owner
// ranks (Fed-CMP's M = [Δ_1 | … | Δ_K]), on explicit P × Q grids, against LAPACKE
// (linalg_svd_thin) on the whole matrix at the root:
//   within tolerance  singular values (TOL_SV relative), U and Vt up to one sign per triplet
//                     (TOL_VEC), A = U diag(s) Vt (TOL_SV relative; the rank-r truncation equals
//                     LAPACKE's rank-r reconstruction), for uneven ownership (rank 0 owning
//                     nothing, ranks owning nothing, ranks in reverse order, ranks off the grid
//                     owning columns), party-major blocks and one slab, three grid shapes, the root
//                     on and off the grid;
//   bit-exact         a repeated call; and, for a fixed grid and nb, the result whatever the
//                     communicator's size (the world at this -np against a 2-rank
//                     sub-communicator), the column ownership and the root.
// The parse helper for --fedcmp.grid is checked here too (local). Verdicts are agreed before
// asserting.
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

#define TOL_SV 1e-10  /* double: two backward-stable SVDs of O(1) entries, sizes <= 60 */
#define TOL_VEC 1e-8  /* |⟨u_k, u_ref_k⟩| = 1 for well-separated σ_k of random matrices */
#define TOL_REC 1e-10 /* ‖A − UΣVᵀ‖ / ‖A‖ of a backward-stable SVD in double */

typedef enum { OWN_PARTIES, OWN_REVERSE } Ownership;

// {d_out = M, parties K, d_in, nb, P, Q, r (0: min(M, N)), ownership, root (-1: the last rank)}
typedef struct {
    int M, K, d_in, nb, P, Q, r;
    Ownership own;
    int root;
} Case;

static const Case cases[] = {
    {12, 5, 7, 4, 1, 2, 0, OWN_PARTIES, 0},   // wide (12 × 35) as in CRAA, 1 × 2
    {12, 5, 7, 4, 2, 1, 0, OWN_PARTIES, 0},   // the same matrix on 2 × 1
    {40, 4, 6, 8, 2, 1, 0, OWN_REVERSE, -1},  // tall (40 × 24), slabs in reverse rank order
    {33, 3, 11, 64, 1, 2, 0, OWN_PARTIES, 0}, // one block larger than the matrix
    {20, 6, 8, 3, 1, 2, 5, OWN_PARTIES, -1},  // truncated to r = 5, root the last rank
    {9, 3, 5, 2, 1, 1, 0, OWN_REVERSE, -1},   // 1 × 1 grid: every other rank off the grid
};

// A (M, N) row-major, the same on every rank.
static double *matrix(int M, int N, uint32_t seed) {
    float *f = xmalloc((size_t)M * N * sizeof(float));
    fill_uniform(f, (size_t)M * N, -1, 1, seed);
    double *a = xmalloc((size_t)M * N * sizeof(double));
    for (size_t i = 0; i < (size_t)M * N; i++)
        a[i] = f[i];
    xfree(f);
    return a;
}

// Rank q's share of K parties of d_in columns each. OWN_PARTIES: rank 0 (the cloud) hosts none when
// there are other ranks; ranks 1, 2, … host 1, 2, … parties in party order while any are left, the
// last rank the rest (some ranks may host none). OWN_REVERSE: slabs in reverse rank order, the
// last rank the first ⌈N/2⌉ columns, the others an even split of the rest (rank 0 the last).
static void share(Ownership own, int K, int d_in, int q, int size, int *col0, int *ncols) {
    const int N = K * d_in;
    if (own == OWN_PARTIES) {
        int first = 0, n = size == 1 ? K : 0;
        for (int p = 1; p < size; p++) {
            int left = K - first, take = p == size - 1 ? left : MIN(left, p);
            if (p == q) n = take;
            if (p < q) first += take;
        }
        if (q == 0) first = 0;
        *col0 = first * d_in, *ncols = n * d_in;
        return;
    }
    const int head = (N + 1) / 2, rest = N - head, others = size - 1;
    if (q == size - 1) {
        *col0 = 0, *ncols = others == 0 ? N : head;
        return;
    }
    // Others in order size − 2, …, 0 after the head.
    const int k = size - 2 - q, base = rest / others, extra = rest % others;
    *col0 = head + k * base + MIN(k, extra);
    *ncols = base + (k < extra);
}

// This rank's columns in its storage: party-major (M, d_in) blocks, or one (M, ncols) slab.
static double *local_cols(const double *a, int M, int N, int col0, int ncols, int blk) {
    double *l = xmalloc((size_t)MAX(1, M * ncols) * sizeof(double));
    for (int x = 0; x < ncols; x++)
        for (int i = 0; i < M; i++)
            l[(size_t)(x / blk) * M * blk + (size_t)i * blk + x % blk] =
                a[(size_t)i * N + col0 + x];
    return l;
}

typedef struct {
    double *s, *u, *vt;
} Svd;

static Svd svd_alloc(int M, int N, int r) {
    return (Svd){xmalloc((size_t)r * sizeof(double)), xmalloc((size_t)M * r * sizeof(double)),
                 xmalloc((size_t)r * N * sizeof(double))};
}
static void svd_free(Svd *x) { xfree(x->s), xfree(x->u), xfree(x->vt); }
static int svd_equal(const Svd *x, const Svd *y, int M, int N, int r) {
    return memcmp(x->s, y->s, (size_t)r * sizeof(double)) == 0 &&
           memcmp(x->u, y->u, (size_t)M * r * sizeof(double)) == 0 &&
           memcmp(x->vt, y->vt, (size_t)r * N * sizeof(double)) == 0;
}

// pdsvd_cols on comm with the given ownership and storage (party blocks or slab); out on root.
static void run_cols(MPI_Comm comm, int P, int Q, const double *a, const Case *c, Ownership own,
                     int r, int root, Svd *out) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int N = c->K * c->d_in;
    int col0, ncols;
    share(own, c->K, c->d_in, rank, size, &col0, &ncols);
    const int blk = own == OWN_PARTIES ? c->d_in : MAX(1, ncols);
    double *l = local_cols(a, c->M, N, col0, ncols, blk);
    PdsvdGrid *g = pdsvd_grid_create_shape(comm, P, Q);
    PdsvdCols mine = {l, col0, ncols, own == OWN_PARTIES ? c->d_in : 0};
    pdsvd_cols(g, out->s, out->u, out->vt, &mine, c->M, N, r, c->nb, root);
    pdsvd_grid_destroy(g);
    xfree(l);
}

// On the root: s, u (M, r), vt (r, N) against LAPACKE's first r triplets of a. 1 when it holds.
static int verify(const double *a, const Svd *x, int M, int N, int r, char *why, size_t cap) {
    const int K = MIN(M, N);
    double *sr = xmalloc((size_t)K * sizeof(double)), *ur = xmalloc((size_t)M * K * sizeof(double));
    double *vr = xmalloc((size_t)K * N * sizeof(double));
    linalg_svd_thin(ur, sr, vr, a, M, N);
    int ok = 1;
    double ds = 0;
    for (int k = 0; k < r; k++) {
        ds = fmax(ds, fabs(x->s[k] - sr[k]) / sr[0]);
        ok &= k == 0 || x->s[k] <= x->s[k - 1];
    }
    if (!(ds < TOL_SV) || !ok) {
        snprintf(why, cap, "singular values differ by %g (relative) or are not descending", ds);
        ok = 0;
    }
    // The rank-r reconstructions: ours against LAPACKE's (equal to A itself when r = K).
    double num = 0, den = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double mine = 0, ref = 0;
            for (int k = 0; k < r; k++) {
                mine += x->u[(size_t)i * r + k] * x->s[k] * x->vt[(size_t)k * N + j];
                ref += ur[(size_t)i * K + k] * sr[k] * vr[(size_t)k * N + j];
            }
            num += (mine - ref) * (mine - ref), den += a[(size_t)i * N + j] * a[(size_t)i * N + j];
        }
    if (ok && !(sqrt(num / den) < TOL_REC)) {
        snprintf(why, cap, "‖U_r Σ_r Vt_r − LAPACKE's‖ / ‖A‖ = %g", sqrt(num / den));
        ok = 0;
    }
    for (int k = 0; ok && k < r; k++) {
        double du = 0, dv = 0;
        for (int i = 0; i < M; i++)
            du += x->u[(size_t)i * r + k] * ur[(size_t)i * K + k];
        for (int j = 0; j < N; j++)
            dv += x->vt[(size_t)k * N + j] * vr[(size_t)k * N + j];
        if (!(fabs(fabs(du) - 1) < TOL_VEC && fabs(fabs(dv) - 1) < TOL_VEC && du * dv > 0)) {
            snprintf(why, cap, "triplet %d: <u,u_ref> = %.12g, <v,v_ref> = %.12g", k, du, dv);
            ok = 0;
        }
    }
    xfree(sr), xfree(ur), xfree(vr);
    return ok;
}

START_TEST(test_cols_match_lapacke) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const Case *c = &cases[_i];
    const int M = c->M, N = c->K * c->d_in, r = c->r ? c->r : MIN(M, N);
    const int root = c->root < 0 ? size - 1 : c->root;
    if (c->P * c->Q > size) return; // the grid does not fit (-np 1): every rank skips alike
    double *a = matrix(M, N, 300 + (uint32_t)_i);
    Svd x = svd_alloc(M, N, r), y = svd_alloc(M, N, r);
    run_cols(MPI_COMM_WORLD, c->P, c->Q, a, c, c->own, r, root, &x);
    char why[256] = "";
    int ok = rank != root || verify(a, &x, M, N, r, why, sizeof why);
    ck_assert_all_ranks(ok, "(%d, %d) r=%d nb=%d grid %dx%d root %d at -np %d: %s", M, N, r, c->nb,
                        c->P, c->Q, root, size, rank == root ? why : "see the root");
    // Bit-exact: a second call.
    run_cols(MPI_COMM_WORLD, c->P, c->Q, a, c, c->own, r, root, &y);
    ok = rank != root || svd_equal(&x, &y, M, N, r);
    ck_assert_all_ranks(ok, "(%d, %d) grid %dx%d: a repeated pdsvd_cols differs", M, N, c->P, c->Q);
    svd_free(&x), svd_free(&y), xfree(a);
}
END_TEST

// For a fixed 1 × 2 grid and nb: the world at this -np (parties on ranks 1.., root 0), the world
// with reverse slabs and the root the last rank, and a 2-rank sub-communicator holding ranks 0 and
// 1 only (rank 0 hosting none, rank 1 every party) give the same bytes.
START_TEST(test_cols_independent_of_np) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) return; // the 1 × 2 grid needs two ranks
    const Case c = {24, 6, 10, 4, 1, 2, 0, OWN_PARTIES, 0};
    const int M = c.M, N = c.K * c.d_in, r = MIN(M, N);
    double *a = matrix(M, N, 777);
    Svd ref = svd_alloc(M, N, r), other = svd_alloc(M, N, r);
    run_cols(MPI_COMM_WORLD, c.P, c.Q, a, &c, OWN_PARTIES, r, 0, &ref);
    // The reference from rank 0 to every rank, so that any root can compare.
    MPI_Bcast(ref.s, r, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(ref.u, M * r, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(ref.vt, r * N, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    run_cols(MPI_COMM_WORLD, c.P, c.Q, a, &c, OWN_REVERSE, r, size - 1, &other);
    int ok = rank != size - 1 || svd_equal(&ref, &other, M, N, r);
    ck_assert_all_ranks(ok, "grid 1x2: reverse slabs with root %d differ from parties with root 0",
                        size - 1);

    MPI_Comm two;
    MPI_Comm_split(MPI_COMM_WORLD, rank < 2 ? 0 : MPI_UNDEFINED, rank, &two);
    if (two != MPI_COMM_NULL) {
        run_cols(two, c.P, c.Q, a, &c, OWN_PARTIES, r, 0, &other);
        MPI_Comm_free(&two);
    }
    ok = rank != 0 || svd_equal(&ref, &other, M, N, r);
    ck_assert_all_ranks(ok, "grid 1x2: 2 ranks differ from %d ranks", size);
    svd_free(&ref), svd_free(&other), xfree(a);
}
END_TEST

// The redistribution's bytes: every rank's sent sum to the received sum, and on a 1 × 1 grid with
// rank 0 owning nothing rank 0 receives the whole matrix (alone, it owns it and receives none).
START_TEST(test_cols_redist_bytes) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int M = 16, K = 5, d_in = 3;
    int *col0 = xmalloc((size_t)size * sizeof(int)), *ncols = xmalloc((size_t)size * sizeof(int));
    for (int q = 0; q < size; q++)
        share(OWN_PARTIES, K, d_in, q, size, &col0[q], &ncols[q]);
    uint64_t tot[2] = {0, 0}, all[2] = {0, 0};
    PdsvdGrid *g = pdsvd_grid_create_shape(MPI_COMM_WORLD, 1, 1);
    pdsvd_cols_redist_bytes(g, M, col0, ncols, 4, 0, &tot[0], &tot[1]);
    const uint64_t whole = size > 1 ? (uint64_t)M * K * d_in * sizeof(double) : 0;
    int ok = rank != 0 || (tot[1] == whole && tot[0] == 0);
    MPI_Allreduce(tot, all, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    ok &= all[0] == all[1];
    ck_assert_all_ranks(ok,
                        "1x1 grid: rank 0 receives %llu bytes (expected %llu), sent %llu, total "
                        "sent %llu recv %llu",
                        (unsigned long long)tot[1], (unsigned long long)whole,
                        (unsigned long long)tot[0], (unsigned long long)all[0],
                        (unsigned long long)all[1]);
    pdsvd_grid_destroy(g);
    xfree(col0), xfree(ncols);
}
END_TEST

START_TEST(test_grid_parse) {
    int P = -1, Q = -1;
    char err[256] = "";
    ck_assert_int_eq(pdsvd_grid_parse("fedcmp.grid", "2x1", 2, &P, &Q, err, sizeof err), 0);
    ck_assert(P == 2 && Q == 1);
    ck_assert_int_eq(pdsvd_grid_parse("fedcmp.grid", "16x4", 0, &P, &Q, err, sizeof err), 0);
    ck_assert(P == 16 && Q == 4);
    const char *bad[] = {"",     "2",    "2x",   "x2",    "0x1",     "1x0",    "2X1", " 2x1",
                         "2x1 ", "-1x2", "+1x2", "2x1x1", "99999x1", "4097x1", "2*1", "1.5x2"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        P = Q = -7;
        err[0] = '\0';
        ck_assert_msg(pdsvd_grid_parse("fedcmp.grid", bad[i], 0, &P, &Q, err, sizeof err) == -1,
                      "'%s' parsed", bad[i]);
        char want[64];
        snprintf(want, sizeof want, "--fedcmp.grid=%s:", bad[i]);
        ck_assert_msg(strstr(err, want) && P == -7 && Q == -7, "'%s': %s", bad[i], err);
    }
    // Too many grid ranks for the run.
    ck_assert_int_eq(pdsvd_grid_parse("fedcmp.grid", "3x2", 4, &P, &Q, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "--fedcmp.grid=3x2:") && strstr(err, "6 ranks"), "%s", err);
    ck_assert_int_eq(pdsvd_grid_parse("fedcmp.grid", "2x2", 4, &P, &Q, err, sizeof err), 0);
}
END_TEST

Suite *mpi_pdsvd_cols_suite(void) {
    Suite *s = suite_create("mpi_pdsvd_cols");
    TCase *tc = tcase_create("pdsvd_cols");
    tcase_add_loop_test(tc, test_cols_match_lapacke, 0, (int)ARRAY_LEN(cases));
    tcase_add_test(tc, test_cols_independent_of_np);
    tcase_add_test(tc, test_cols_redist_bytes);
    tcase_add_test(tc, test_grid_parse);
    suite_add_tcase(s, tc);
    return s;
}
