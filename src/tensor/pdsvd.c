// pdsvd.c - see pdsvd.h. The root's row-major A (M, N) is, byte for byte, the column-major
// B = Aᵀ (N, M) that ScaLAPACK expects, so pdgesvd factorises B = U' Σ V'ᵀ and nothing is
// transposed: A = V' Σ U'ᵀ, hence A's u (M, K) row-major is the column-major V'ᵀ (K, M) and A's
// vt (K, N) row-major is the column-major U' (N, K). Scatter and gather go through a 1×1 BLACS
// grid holding only the root (pdgemr2d between the two contexts). With one rank, or without
// ScaLAPACK, the root runs linalg_svd_thin instead.
#include "tensor/pdsvd.h"

#include "core/common.h"
#include "core/die.h"
#include "core/xalloc.h"
#include "tensor/linalg.h"

#ifdef HAVE_SCALAPACK
#include "tensor/scalapack_decl.h"
#endif

struct PdsvdGrid {
    MPI_Comm comm; // borrowed: must outlive the grid
    int rank, size;
    int sys;                        // BLACS system handle of comm (-1 when unused)
    int ctxt;                       // BLACS grid context over every rank of comm (-1 when unused)
    int nprow, npcol, myrow, mycol; // grid shape and this rank's place in it
};

int pdsvd_available(void) {
#ifdef HAVE_SCALAPACK
    return 1;
#else
    return 0;
#endif
}

PdsvdGrid *pdsvd_grid_create(MPI_Comm comm) {
    PdsvdGrid *g = xcalloc(1, sizeof *g);
    g->comm = comm;
    g->sys = g->ctxt = -1;
    MPI_CHECK(MPI_Comm_rank(comm, &g->rank));
    MPI_CHECK(MPI_Comm_size(comm, &g->size));
    g->nprow = g->npcol = 1;
#ifdef HAVE_SCALAPACK
    if (g->size > 1) {
        // The squarest grid: rows = the largest divisor of size that is <= sqrt(size).
        for (int p = 1; p * p <= g->size; p++)
            if (g->size % p == 0) g->nprow = p;
        g->npcol = g->size / g->nprow;
        int me, np;
        Cblacs_pinfo(&me, &np);
        g->sys = Csys2blacs_handle(comm);
        g->ctxt = g->sys;
        Cblacs_gridinit(&g->ctxt, "Row", g->nprow, g->npcol);
        int nprow, npcol;
        Cblacs_gridinfo(g->ctxt, &nprow, &npcol, &g->myrow, &g->mycol);
        CHECK(
            nprow == g->nprow && npcol == g->npcol && g->myrow >= 0,
            "pdsvd_grid_create: BLACS gave a %d x %d grid (row %d), asked for %d x %d on %d ranks",
            nprow, npcol, g->myrow, g->nprow, g->npcol, g->size);
        // Combines in a fixed order and with the same result on every rank: pdgesvd's norms and
        // dot products are then repeatable from run to run.
        int one = 1;
        Cblacs_set(g->ctxt, BLACS_SET_TOPSREPEAT, &one);
        Cblacs_set(g->ctxt, BLACS_SET_TOPSCOHRNT, &one);
    }
#endif
    return g;
}

void pdsvd_grid_destroy(PdsvdGrid *g) {
    if (!g) return;
#ifdef HAVE_SCALAPACK
    if (g->ctxt >= 0) Cblacs_gridexit(g->ctxt);
    if (g->sys >= 0) Cfree_blacs_system_handle(g->sys);
#endif
    xfree(g);
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

static void pdsvd_scalapack(PdsvdGrid *g, double *s, double *u, double *vt, const double *a, int M,
                            int N, int nb, int root, int want_u, int want_vt) {
    const int K = MIN(M, N), one = 1;
    // The root-only 1×1 grid that holds the whole matrices (ctxt -1 on the other ranks).
    int root_ctxt = g->sys, root_pnum = root;
    Cblacs_gridmap(&root_ctxt, &root_pnum, 1, 1, 1);
    if (g->rank != root) root_ctxt = -1;

    // B = Aᵀ (N, M): what pdgesvd factorises (see the file header).
    int d_broot[SCALAPACK_DESC_LEN], d_b[SCALAPACK_DESC_LEN], nloc;
    desc_make(d_broot, N, M, N, M, root_ctxt, &nloc); // lld N: the row length of A
    int lld_b = desc_make(d_b, N, M, nb, nb, g->ctxt, &nloc);
    double *b = local_alloc(lld_b, nloc);
    pdgemr2d_(&N, &M, a, &one, &one, d_broot, b, &one, &one, d_b, &g->ctxt);

    // U' (N, K) becomes A's vt; V'ᵀ (K, M) becomes A's u.
    int d_up[SCALAPACK_DESC_LEN], d_vtp[SCALAPACK_DESC_LEN], nloc_up, nloc_vtp;
    int lld_up = desc_make(d_up, N, K, nb, nb, g->ctxt, &nloc_up);
    int lld_vtp = desc_make(d_vtp, K, M, nb, nb, g->ctxt, &nloc_vtp);
    double *up = local_alloc(lld_up, nloc_up), *vtp = local_alloc(lld_vtp, nloc_vtp);
    double *sl = xmalloc((size_t)K * sizeof(double));
    const char jobu = want_vt ? 'V' : 'N', jobvt = want_u ? 'V' : 'N';

    double wq = 0;
    int lwork = -1, info = 0;
    pdgesvd_(&jobu, &jobvt, &N, &M, b, &one, &one, d_b, sl, up, &one, &one, d_up, vtp, &one, &one,
             d_vtp, &wq, &lwork, &info, 1, 1);
    LAPACK_CHECK(info);
    lwork = (int)wq + 1;
    double *work = xmalloc((size_t)lwork * sizeof(double));
    pdgesvd_(&jobu, &jobvt, &N, &M, b, &one, &one, d_b, sl, up, &one, &one, d_up, vtp, &one, &one,
             d_vtp, work, &lwork, &info, 1, 1);
    LAPACK_CHECK(info);

    // Gather to the root, straight into the caller's row-major buffers.
    int d_root[SCALAPACK_DESC_LEN], unused;
    if (want_u) {
        desc_make(d_root, K, M, K, M, root_ctxt, &unused);
        pdgemr2d_(&K, &M, vtp, &one, &one, d_vtp, u, &one, &one, d_root, &g->ctxt);
    }
    if (want_vt) {
        desc_make(d_root, N, K, N, K, root_ctxt, &unused);
        pdgemr2d_(&N, &K, up, &one, &one, d_up, vt, &one, &one, d_root, &g->ctxt);
    }
    if (g->rank == root) {
        for (int k = 0; k < K; k++)
            s[k] = sl[k]; // s is replicated; the root's copy is returned
        Cblacs_gridexit(root_ctxt);
    }
    xfree(b), xfree(up), xfree(vtp), xfree(sl), xfree(work);
}
#endif

void pdsvd(PdsvdGrid *g, double *s, double *u, double *vt, const double *a, int M, int N, int nb,
           int root) {
    CHECK_PTR(g);
    CHECK(root >= 0 && root < g->size, "pdsvd: root = %d outside the communicator of size %d", root,
          g->size);
    // Every rank must call with the same sizes; which factors are wanted is the root's choice.
    int args[5] = {M, N, nb, u != NULL, vt != NULL};
    MPI_CHECK(MPI_Bcast(args, 5, MPI_INT, root, g->comm));
    CHECK(args[0] == M && args[1] == N && args[2] == nb,
          "pdsvd: rank %d has (M, N, nb) = (%d, %d, %d), root %d has (%d, %d, %d)", g->rank, M, N,
          nb, root, args[0], args[1], args[2]);
    CHECK(M >= 1 && N >= 1 && nb >= 1, "pdsvd: shape (%d, %d), block nb = %d: expected positive", M,
          N, nb);
    if (g->rank == root)
        CHECK(a && s, "pdsvd: NULL buffer on root (a=%p s=%p)", (const void *)a, (void *)s);
    CHECK_INT_COUNT((size_t)M * (size_t)N);
#ifdef HAVE_SCALAPACK
    if (g->size > 1) {
        pdsvd_scalapack(g, s, u, vt, a, M, N, nb, root, args[3], args[4]);
        return;
    }
#endif
    if (g->rank == root) linalg_svd_thin(u, s, vt, a, M, N);
}
