// pdsvd.c - see pdsvd.h. A row-major A (M, N) is, byte for byte, the column-major B = Aᵀ (N, M)
// that ScaLAPACK expects, so pdgesvd factorises B = U' Σ V'ᵀ and nothing is transposed:
// A = V' Σ U'ᵀ, hence A's u (M, K) row-major is the column-major V'ᵀ (K, M) and A's vt (K, N)
// row-major is the column-major U' (N, K). A's columns are B's rows: a rank's column share is a
// band of B's rows, which cols_redistribute sends straight into the grid's block-cyclic layout with
// one MPI_Alltoallv on the grid's duplicate communicator. A tall B (N >= 11·M/6, Fed-CMP's wide
// A) is QR-factorised first, as LAPACK's dgesdd does (factor_qr_first); otherwise pdgesvd runs on
// B itself. The choice depends on M and N only. The result is gathered to the root by
// pdgemr2d into a 1×1 BLACS grid holding only the root (a context over every rank is the common
// one). Without a BLACS grid the same redistribution targets the root alone, which runs
// linalg_svd_thin.
#include "tensor/pdsvd.h"

#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/xalloc.h"
#include "tensor/linalg.h"

#ifdef HAVE_SCALAPACK
#include "tensor/scalapack_decl.h"
#endif

struct PdsvdGrid {
    MPI_Comm comm; // owned duplicate of the caller's communicator (pdsvd's own messages)
    int rank, size;
    int sys;                        // BLACS system handle of comm (-1 when unused)
    int ctxt;                       // BLACS grid context (-1 when unused or outside the grid)
    int all_ctxt;                   // 1 × size context over every rank: pdgemr2d's common one
    int nprow, npcol, myrow, mycol; // grid shape and this rank's place (-1, -1 outside the grid)
    int blacs;                      // 1 when a BLACS grid exists (ctxt may still be -1 here)
};

int pdsvd_available(void) {
#ifdef HAVE_SCALAPACK
    return 1;
#else
    return 0;
#endif
}

static PdsvdGrid *grid_new(MPI_Comm comm) {
    PdsvdGrid *g = xcalloc(1, sizeof *g);
    MPI_CHECK(MPI_Comm_dup(comm, &g->comm));
    g->sys = g->ctxt = g->all_ctxt = -1;
    MPI_CHECK(MPI_Comm_rank(g->comm, &g->rank));
    MPI_CHECK(MPI_Comm_size(g->comm, &g->size));
    g->nprow = g->npcol = 1;
    g->myrow = g->mycol = -1;
    return g;
}

#ifdef HAVE_SCALAPACK
// Collective: the BLACS grid P × Q on ranks 0 .. P·Q − 1 (row-major) and the all-ranks context.
static void grid_blacs(PdsvdGrid *g, int P, int Q) {
    g->nprow = P, g->npcol = Q, g->blacs = 1;
    int me, np;
    Cblacs_pinfo(&me, &np);
    g->sys = Csys2blacs_handle(g->comm);
    // usermap is column-major (ldumap = P): grid (i, j) is rank i·Q + j.
    int *map = xmalloc((size_t)P * (size_t)Q * sizeof(int));
    for (int i = 0; i < P; i++)
        for (int j = 0; j < Q; j++)
            map[i + j * P] = i * Q + j;
    g->ctxt = g->sys;
    Cblacs_gridmap(&g->ctxt, map, P, P, Q); // collective over the system handle's ranks
    xfree(map);
    g->all_ctxt = g->sys;
    Cblacs_gridinit(&g->all_ctxt, "Row", 1, g->size);
    if (g->rank < P * Q) {
        int nprow, npcol;
        Cblacs_gridinfo(g->ctxt, &nprow, &npcol, &g->myrow, &g->mycol);
        CHECK(nprow == P && npcol == Q && g->myrow == g->rank / Q && g->mycol == g->rank % Q,
              "pdsvd_grid_create: BLACS gave a %d x %d grid (place %d, %d) to rank %d, asked for "
              "%d x %d on %d ranks",
              nprow, npcol, g->myrow, g->mycol, g->rank, P, Q, g->size);
        // Combines in a fixed order and with the same result on every rank: pdgesvd's norms and
        // dot products are then repeatable from run to run.
        int one = 1;
        Cblacs_set(g->ctxt, BLACS_SET_TOPSREPEAT, &one);
        Cblacs_set(g->ctxt, BLACS_SET_TOPSCOHRNT, &one);
    } else {
        g->ctxt = -1, g->myrow = g->mycol = -1;
    }
}
#endif

PdsvdGrid *pdsvd_grid_create(MPI_Comm comm) {
    PdsvdGrid *g = grid_new(comm);
#ifdef HAVE_SCALAPACK
    if (g->size > 1) {
        // The squarest grid: rows = the largest divisor of size that is <= sqrt(size).
        int P = 1;
        for (int p = 1; p * p <= g->size; p++)
            if (g->size % p == 0) P = p;
        grid_blacs(g, P, g->size / P);
    }
#endif
    return g;
}

PdsvdGrid *pdsvd_grid_create_shape(MPI_Comm comm, int P, int Q) {
    int size;
    MPI_CHECK(MPI_Comm_size(comm, &size));
    CHECK(P >= 1 && Q >= 1 && (long)P * Q <= size,
          "pdsvd_grid_create_shape: a %d x %d grid on %d ranks: expected P, Q >= 1 and P·Q <= %d",
          P, Q, size, size);
    PdsvdGrid *g = grid_new(comm);
#ifdef HAVE_SCALAPACK
    grid_blacs(g, P, Q);
#endif
    return g;
}

void pdsvd_grid_destroy(PdsvdGrid *g) {
    if (!g) return;
#ifdef HAVE_SCALAPACK
    if (g->ctxt >= 0) Cblacs_gridexit(g->ctxt);
    if (g->all_ctxt >= 0) Cblacs_gridexit(g->all_ctxt);
    if (g->sys >= 0) Cfree_blacs_system_handle(g->sys);
#endif
    MPI_Comm_free(&g->comm);
    xfree(g);
}

void pdsvd_grid_shape(const PdsvdGrid *g, int *P, int *Q) {
    CHECK_PTR(g);
    *P = g->nprow, *Q = g->npcol;
}

int pdsvd_grid_parse(const char *key, const char *value, int size, int *P, int *Q, char *err,
                     size_t cap) {
    const char *k = key ? key : "grid", *v = value ? value : "";
    long n[2] = {0, 0};
    const char *p = v;
    int ok = 1;
    for (int part = 0; part < 2 && ok; part++) {
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
            n[part] = n[part] * 10 + (*p - '0');
        ok = digits >= 1 && digits <= 4 && n[part] >= 1 && n[part] <= 4096;
        if (ok && part == 0) ok = *p++ == 'x';
    }
    if (!ok || *p != '\0') {
        snprintf(err, cap,
                 "--%s=%s: expected PxQ, the BLACS grid's rows and columns as two integers in "
                 "[1, 4096] joined by 'x' (e.g. 2x1)",
                 k, v);
        return -1;
    }
    if (size >= 1 && n[0] * n[1] > size) {
        snprintf(err, cap,
                 "--%s=%s: a %ld x %ld grid needs %ld ranks, the run has %d (mpirun -np): expected "
                 "P·Q <= %d",
                 k, v, n[0], n[1], n[0] * n[1], size, size);
        return -1;
    }
    *P = (int)n[0], *Q = (int)n[1];
    return 0;
}

// ---- the column redistribution ----

// The target layout: B (N, M) column-major in nb × nb blocks on a P × Q grid whose process (i, j)
// is rank base + i·Q + j. B's row x (A's column) lives on grid row (x / nb) % P, its column y (A's
// row) on grid column (y / nb) % Q.
typedef struct {
    int P, Q, nb, base;
} Layout;

static int owner(int x, int nb, int nprocs) { return (x / nb) % nprocs; }
static int local_index(int x, int nb, int nprocs) { return (x / (nb * nprocs)) * nb + x % nb; }
// How many of [0, n) a process of index p holds (ScaLAPACK's numroc with source 0).
static int n_local(int n, int nb, int p, int nprocs) {
    int full = n / nb, extra = full % nprocs, c = (full / nprocs) * nb;
    if (p < extra)
        c += nb;
    else if (p == extra)
        c += n % nb;
    return c;
}

// Elements this rank sends to every rank (cnt, size) for its columns [col0, col0 + ncols).
static void send_counts(const Layout *L, int size, int M, int col0, int ncols, int *cnt) {
    memset(cnt, 0, (size_t)size * sizeof(int));
    for (int i = 0; i < L->P; i++) {
        long rows = 0;
        for (int x = col0; x < col0 + ncols; x++)
            rows += owner(x, L->nb, L->P) == i;
        for (int j = 0; j < L->Q; j++) {
            long c = rows * n_local(M, L->nb, j, L->Q);
            CHECK_INT_COUNT((size_t)c);
            cnt[L->base + i * L->Q + j] = (int)c;
        }
    }
}

static int *displs_of(const int *cnt, int size) {
    int *d = xmalloc((size_t)size * sizeof(int));
    size_t off = 0;
    for (int r = 0; r < size; r++) {
        CHECK_INT_COUNT(off);
        d[r] = (int)off;
        off += (size_t)cnt[r];
    }
    CHECK_INT_COUNT(off);
    return d;
}

// Collective on g->comm: b (lld, local columns) of the process (myrow, mycol) of L, filled from
// every rank's columns; shares[2r], shares[2r + 1] = rank r's col0, ncols. b is NULL off the grid.
// Order of the elements in a message: A's rows y ascending (those of the destination's grid
// column), within each A's columns x ascending (those of the destination's grid row).
static void cols_redistribute(const PdsvdGrid *g, const Layout *L, const PdsvdCols *mine,
                              const int *shares, int M, double *b, int lld, int myrow, int mycol) {
    const int size = g->size, col0 = mine->col0, ncols = mine->ncols;
    const int blk = mine->blk > 0 ? mine->blk : MAX(1, ncols);
    int *scnt = xmalloc((size_t)size * sizeof(int)), *rcnt = xcalloc((size_t)size, sizeof(int));
    send_counts(L, size, M, col0, ncols, scnt);
    int *sdsp = displs_of(scnt, size);
    size_t total = (size_t)sdsp[size - 1] + (size_t)scnt[size - 1];
    double *sbuf = xmalloc(MAX((size_t)1, total) * sizeof(double));
    int *pos = xmalloc((size_t)size * sizeof(int));
    memcpy(pos, sdsp, (size_t)size * sizeof(int));
    for (int y = 0; y < M; y++) {
        const int j = owner(y, L->nb, L->Q);
        for (int x = 0; x < ncols; x++) {
            const int dst = L->base + owner(col0 + x, L->nb, L->P) * L->Q + j;
            sbuf[pos[dst]++] = mine->a[(size_t)(x / blk) * M * blk + (size_t)y * blk + x % blk];
        }
    }
    // What each rank sends to this one: its rows on this grid row times this grid column's rows.
    if (myrow >= 0) {
        const int my_m = n_local(M, L->nb, mycol, L->Q);
        for (int r = 0; r < size; r++) {
            long rows = 0;
            for (int x = shares[2 * r]; x < shares[2 * r] + shares[2 * r + 1]; x++)
                rows += owner(x, L->nb, L->P) == myrow;
            rcnt[r] = (int)(rows * my_m); // < the sender's CHECKed count
        }
    }
    int *rdsp = displs_of(rcnt, size);
    size_t rtotal = (size_t)rdsp[size - 1] + (size_t)rcnt[size - 1];
    double *rbuf = xmalloc(MAX((size_t)1, rtotal) * sizeof(double));
    MPI_CHECK(MPI_Alltoallv(sbuf, scnt, sdsp, MPI_DOUBLE, rbuf, rcnt, rdsp, MPI_DOUBLE, g->comm));
    if (myrow >= 0) {
        for (int r = 0; r < size; r++) {
            const double *src = rbuf + rdsp[r];
            const int c0 = shares[2 * r], c1 = c0 + shares[2 * r + 1];
            for (int y = 0; y < M && rcnt[r] > 0; y++) {
                if (owner(y, L->nb, L->Q) != mycol) continue;
                double *col = b + (size_t)local_index(y, L->nb, L->Q) * lld;
                for (int x = c0; x < c1; x++)
                    if (owner(x, L->nb, L->P) == myrow) col[local_index(x, L->nb, L->P)] = *src++;
            }
        }
    }
    xfree(scnt), xfree(rcnt), xfree(sdsp), xfree(rdsp), xfree(pos), xfree(sbuf), xfree(rbuf);
}

void pdsvd_cols_redist_bytes(const PdsvdGrid *g, int M, const int *col0, const int *ncols, int nb,
                             int root, uint64_t *sent, uint64_t *recv) {
    CHECK_PTR(g);
    CHECK(M >= 1 && nb >= 1, "pdsvd_cols_redist_bytes: M = %d, nb = %d: expected positive", M, nb);
    Layout L = {g->nprow, g->npcol, nb, 0};
    if (!g->blacs) L = (Layout){1, 1, MAX(M, 1), root}; // the root gets every column
    int *cnt = xmalloc((size_t)g->size * sizeof(int));
    *sent = *recv = 0;
    for (int r = 0; r < g->size; r++) {
        send_counts(&L, g->size, M, col0[r], ncols[r], cnt);
        for (int d = 0; d < g->size; d++) {
            if (d == r) continue;
            if (r == g->rank) *sent += (uint64_t)cnt[d] * sizeof(double);
            if (d == g->rank) *recv += (uint64_t)cnt[d] * sizeof(double);
        }
    }
    xfree(cnt);
}

// Every rank's shares, agreed and checked: out (2 · size) = col0, ncols per rank.
static void shares_agree(const PdsvdGrid *g, const PdsvdCols *mine, int M, int N, int r, int nb,
                         int root, int *want_u, int *want_vt, int *out) {
    CHECK(root >= 0 && root < g->size, "pdsvd_cols: root = %d outside the communicator of size %d",
          root, g->size);
    int args[7] = {M, N, r, nb, root, *want_u, *want_vt};
    MPI_CHECK(MPI_Bcast(args, 7, MPI_INT, root, g->comm));
    CHECK(args[0] == M && args[1] == N && args[2] == r && args[3] == nb && args[4] == root,
          "pdsvd_cols: rank %d has (M, N, r, nb, root) = (%d, %d, %d, %d, %d), root %d has (%d, "
          "%d, %d, %d, %d)",
          g->rank, M, N, r, nb, root, root, args[0], args[1], args[2], args[3], args[4]);
    CHECK(M >= 1 && N >= 1 && nb >= 1 && r >= 1 && r <= MIN(M, N),
          "pdsvd_cols: shape (%d, %d), r = %d, block nb = %d: expected positive sizes and "
          "1 <= r <= min(M, N)",
          M, N, r, nb);
    *want_u = args[5], *want_vt = args[6];
    int me[2] = {mine->col0, mine->ncols};
    MPI_CHECK(MPI_Allgather(me, 2, MPI_INT, out, 2, MPI_INT, g->comm));
    // Every rank checks the same table: a bad share ends every rank with the same message.
    long covered = 0;
    for (int q = 0; q < g->size; q++) {
        const int c0 = out[2 * q], n = out[2 * q + 1];
        CHECK(n >= 0 && c0 >= 0 && (long)c0 + n <= N,
              "pdsvd_cols: rank %d's columns [%d, %ld) are outside [0, %d)", q, c0, (long)c0 + n,
              N);
        for (int q2 = 0; q2 < q; q2++) {
            const int d0 = out[2 * q2], m = out[2 * q2 + 1];
            CHECK(n == 0 || m == 0 || c0 + n <= d0 || d0 + m <= c0,
                  "pdsvd_cols: rank %d's columns [%d, %d) overlap rank %d's [%d, %d)", q, c0,
                  c0 + n, q2, d0, d0 + m);
        }
        covered += n;
    }
    CHECK(covered == N, "pdsvd_cols: the ranks' columns cover %ld of the %d columns", covered, N);
    const int blk = mine->blk > 0 ? mine->blk : MAX(1, mine->ncols);
    CHECK(mine->ncols == 0 || (mine->a && mine->ncols % blk == 0),
          "pdsvd_cols: rank %d: %d columns at %p in blocks of %d: expected a buffer and whole "
          "blocks",
          g->rank, mine->ncols, (const void *)mine->a, mine->blk);
    CHECK_INT_COUNT((size_t)M * (size_t)MAX(1, mine->ncols));
}

// Without a BLACS grid: the columns to the root (a 1 × 1 layout there), linalg_svd_thin, truncate.
static void cols_lapacke(PdsvdGrid *g, double *s, double *u, double *vt, const PdsvdCols *mine,
                         const int *shares, int M, int N, int r, int root, int want_u,
                         int want_vt) {
    const int K = MIN(M, N), on_root = g->rank == root;
    CHECK_INT_COUNT((size_t)M * (size_t)N);
    double *a = on_root ? xmalloc((size_t)M * N * sizeof(double)) : NULL;
    const Layout L = {1, 1, MAX(M, N), root};
    cols_redistribute(g, &L, mine, shares, M, a, N, on_root ? 0 : -1, on_root ? 0 : -1);
    if (!on_root) return;
    double *sk = xmalloc((size_t)K * sizeof(double));
    double *uk = want_u ? xmalloc((size_t)M * K * sizeof(double)) : NULL;
    double *vk = want_vt ? xmalloc((size_t)K * N * sizeof(double)) : NULL;
    linalg_svd_thin(uk, sk, vk, a, M, N);
    memcpy(s, sk, (size_t)r * sizeof(double));
    for (int i = 0; want_u && i < M; i++)
        memcpy(u + (size_t)i * r, uk + (size_t)i * K, (size_t)r * sizeof(double));
    if (want_vt) memcpy(vt, vk, (size_t)r * N * sizeof(double));
    xfree(a), xfree(sk), xfree(uk), xfree(vk);
}

#ifdef HAVE_SCALAPACK
// A descriptor for a (m, n) matrix in block-cyclic layout on ctxt (or marked absent with ctxt -1
// on ranks outside it). Returns the local leading dimension; *ncols_loc gets the local columns.
static int desc_make(int *desc, int m, int n, int mb, int nb, int ctxt, int *ncols_loc) {
    for (int i = 0; i < SCALAPACK_DESC_LEN; i++)
        desc[i] = 0;
    if (ctxt < 0) {
        desc[SCALAPACK_DESC_CTXT] = -1;
        *ncols_loc = 0;
        return 1;
    }
    int nprow, npcol, myrow, mycol, zero = 0, info = 0;
    Cblacs_gridinfo(ctxt, &nprow, &npcol, &myrow, &mycol);
    int mloc = numroc_(&m, &mb, &myrow, &zero, &nprow);
    *ncols_loc = numroc_(&n, &nb, &mycol, &zero, &npcol);
    int lld = MAX(1, mloc);
    descinit_(desc, &m, &n, &mb, &nb, &zero, &zero, &ctxt, &lld, &info);
    LAPACK_CHECK(info);
    return lld;
}

static double *local_alloc(int lld, int ncols) {
    return xcalloc((size_t)lld * (size_t)MAX(1, ncols), sizeof(double));
}

// lwork from a workspace query's answer, CHECKed to fit in int.
static int lwork_of(double wq) {
    CHECK(wq < (double)INT_MAX - 1, "pdsvd_cols: ScaLAPACK wants %.0f doubles of workspace", wq);
    return (int)wq + 1;
}

// LAPACK dgesdd's crossover (MNTHR = 11·min/6): B (N, M) this tall is QR-factorised first.
static int qr_first(int M, int N) { return (long)N * 6 >= (long)M * 11; }

// pdgesvd on B itself: B = U' Σ V'ᵀ, U' (N, K) into up when want_vt, V'ᵀ (K, M) into vtp when
// want_u. b is overwritten.
static void factor_direct(double *b, const int *d_b, double *sl, double *up, const int *d_up,
                          double *vtp, const int *d_vtp, int M, int N, int want_u, int want_vt) {
    const int one = 1;
    const char jobu = want_vt ? 'V' : 'N', jobvt = want_u ? 'V' : 'N';
    double wq = 0;
    int lwork = -1, info = 0;
    pdgesvd_(&jobu, &jobvt, &N, &M, b, &one, &one, d_b, sl, up, &one, &one, d_up, vtp, &one, &one,
             d_vtp, &wq, &lwork, &info, 1, 1);
    LAPACK_CHECK(info);
    lwork = lwork_of(wq);
    double *work = xmalloc((size_t)lwork * sizeof(double));
    pdgesvd_(&jobu, &jobvt, &N, &M, b, &one, &one, d_b, sl, up, &one, &one, d_up, vtp, &one, &one,
             d_vtp, work, &lwork, &info, 1, 1);
    LAPACK_CHECK(info);
    xfree(work);
}

// The same result for a tall B (N >= 11·M/6), as LAPACK's dgesdd does it: B = Q R (pdgeqrf),
// R (M, M) = Ur Σ V'ᵀ (pdgesvd), U' = Q [Ur; 0] (pdormqr on the first r columns only: the others
// are never gathered, and up's columns r .. K − 1 stay zero). Mostly level-3 work, where pdgesvd
// on B itself bidiagonalises the whole N × M matrix with level-2 updates. b is overwritten.
static void factor_qr_first(const PdsvdGrid *g, double *b, const int *d_b, double *sl, double *up,
                            const int *d_up, double *vtp, const int *d_vtp, int M, int N, int r,
                            int nb, int want_u, int want_vt) {
    const int one = 1, zero = 0;
    int info = 0, lwork = -1, nloc;
    double wq = 0;
    const int ntau = numroc_(&M, &nb, &g->mycol, &zero, &g->npcol);
    double *tau = xmalloc((size_t)MAX(1, ntau) * sizeof(double));
    pdgeqrf_(&N, &M, b, &one, &one, d_b, tau, &wq, &lwork, &info);
    LAPACK_CHECK(info);
    lwork = lwork_of(wq);
    double *work = xmalloc((size_t)lwork * sizeof(double));
    pdgeqrf_(&N, &M, b, &one, &one, d_b, tau, work, &lwork, &info);
    LAPACK_CHECK(info);
    xfree(work);
    // R: the upper triangle of B's first M rows, zeros below.
    int d_r[SCALAPACK_DESC_LEN], d_ur[SCALAPACK_DESC_LEN];
    int lld_r = desc_make(d_r, M, M, nb, nb, g->ctxt, &nloc);
    double *rm = local_alloc(lld_r, nloc);
    pdlacpy_("U", &M, &M, b, &one, &one, d_b, rm, &one, &one, d_r, 1);
    int lld_ur = desc_make(d_ur, M, M, nb, nb, g->ctxt, &nloc);
    double *ur = local_alloc(want_vt ? lld_ur : 1, want_vt ? nloc : 1);
    factor_direct(rm, d_r, sl, ur, d_ur, vtp, d_vtp, M, M, want_u, want_vt);
    if (want_vt) {
        pdlacpy_("A", &M, &r, ur, &one, &one, d_ur, up, &one, &one, d_up, 1);
        lwork = -1;
        pdormqr_("L", "N", &N, &r, &M, b, &one, &one, d_b, tau, up, &one, &one, d_up, &wq, &lwork,
                 &info, 1, 1);
        LAPACK_CHECK(info);
        lwork = lwork_of(wq);
        work = xmalloc((size_t)lwork * sizeof(double));
        pdormqr_("L", "N", &N, &r, &M, b, &one, &one, d_b, tau, up, &one, &one, d_up, work, &lwork,
                 &info, 1, 1);
        LAPACK_CHECK(info);
        xfree(work);
    }
    xfree(tau), xfree(rm), xfree(ur);
}

static void cols_scalapack(PdsvdGrid *g, double *s, double *u, double *vt, const PdsvdCols *mine,
                           const int *shares, int M, int N, int r, int nb, int root, int want_u,
                           int want_vt) {
    const int K = MIN(M, N), one = 1, in_grid = g->ctxt >= 0;
    // B = Aᵀ (N, M) on the grid, straight from the owners of A's columns.
    int d_b[SCALAPACK_DESC_LEN], nloc;
    int lld_b = desc_make(d_b, N, M, nb, nb, g->ctxt, &nloc);
    double *b = in_grid ? local_alloc(lld_b, nloc) : NULL;
    const Layout L = {g->nprow, g->npcol, nb, 0};
    cols_redistribute(g, &L, mine, shares, M, b, lld_b, g->myrow, g->mycol);

    // U' (N, K) becomes A's vt; V'ᵀ (K, M) becomes A's u.
    int d_up[SCALAPACK_DESC_LEN], d_vtp[SCALAPACK_DESC_LEN], nloc_up, nloc_vtp;
    int lld_up = desc_make(d_up, N, K, nb, nb, g->ctxt, &nloc_up);
    int lld_vtp = desc_make(d_vtp, K, M, nb, nb, g->ctxt, &nloc_vtp);
    double *up = NULL, *vtp = NULL, *sl = xmalloc((size_t)K * sizeof(double));
    if (in_grid) {
        up = local_alloc(want_vt ? lld_up : 1, want_vt ? nloc_up : 1);
        vtp = local_alloc(want_u ? lld_vtp : 1, want_u ? nloc_vtp : 1);
        if (qr_first(M, N))
            factor_qr_first(g, b, d_b, sl, up, d_up, vtp, d_vtp, M, N, r, nb, want_u, want_vt);
        else
            factor_direct(b, d_b, sl, up, d_up, vtp, d_vtp, M, N, want_u, want_vt);
    }
    // s is replicated on the grid; rank 0 (grid process (0, 0)) sends it to a root off the grid.
    if (root >= g->nprow * g->npcol) {
        if (g->rank == 0) MPI_CHECK(MPI_Send(sl, r, MPI_DOUBLE, root, 0, g->comm));
        if (g->rank == root)
            MPI_CHECK(MPI_Recv(sl, r, MPI_DOUBLE, 0, 0, g->comm, MPI_STATUS_IGNORE));
    }

    // Gather the leading r triplets to the root, straight into its row-major buffers.
    int root_ctxt = g->sys, root_pnum = root;
    Cblacs_gridmap(&root_ctxt, &root_pnum, 1, 1, 1); // collective over the system handle
    if (g->rank != root) root_ctxt = -1;
    int d_root[SCALAPACK_DESC_LEN], unused;
    if (want_u) { // A's u (M, r) row-major = the first r rows of V'ᵀ, column-major (r, M)
        desc_make(d_root, r, M, r, M, root_ctxt, &unused);
        pdgemr2d_(&r, &M, vtp, &one, &one, d_vtp, u, &one, &one, d_root, &g->all_ctxt);
    }
    if (want_vt) { // A's vt (r, N) row-major = the first r columns of U', column-major (N, r)
        desc_make(d_root, N, r, N, r, root_ctxt, &unused);
        pdgemr2d_(&N, &r, up, &one, &one, d_up, vt, &one, &one, d_root, &g->all_ctxt);
    }
    if (g->rank == root) {
        memcpy(s, sl, (size_t)r * sizeof(double));
        Cblacs_gridexit(root_ctxt);
    }
    xfree(b), xfree(up), xfree(vtp), xfree(sl);
}
#endif

void pdsvd_cols(PdsvdGrid *g, double *s, double *u, double *vt, const PdsvdCols *mine, int M, int N,
                int r, int nb, int root) {
    CHECK_PTR(g);
    CHECK_PTR(mine);
    int want_u = u != NULL, want_vt = vt != NULL;
    int *shares = xmalloc(2 * (size_t)g->size * sizeof(int));
    shares_agree(g, mine, M, N, r, nb, root, &want_u, &want_vt, shares);
    if (g->rank == root) CHECK(s, "pdsvd_cols: NULL s on root %d", root);
#ifdef HAVE_SCALAPACK
    if (g->blacs) {
        cols_scalapack(g, s, u, vt, mine, shares, M, N, r, nb, root, want_u, want_vt);
        xfree(shares);
        return;
    }
#endif
    cols_lapacke(g, s, u, vt, mine, shares, M, N, r, root, want_u, want_vt);
    xfree(shares);
}

void pdsvd(PdsvdGrid *g, double *s, double *u, double *vt, const double *a, int M, int N, int nb,
           int root) {
    CHECK_PTR(g);
    int rank;
    MPI_CHECK(MPI_Comm_rank(g->comm, &rank));
    if (rank == root)
        CHECK(a && s, "pdsvd: NULL buffer on root (a=%p s=%p)", (const void *)a, (void *)s);
    PdsvdCols mine = {rank == root ? a : NULL, 0, rank == root ? N : 0, 0};
    pdsvd_cols(g, s, u, vt, &mine, M, N, MAX(1, MIN(M, N)), nb, root);
}
