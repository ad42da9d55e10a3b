// pdsvd.h - distributed SVD with ScaLAPACK pdgesvd over a BLACS grid made from an MPI communicator
// (docs/conventions.md §10, docs/svd_paths.md). Compiled with HAVE_SCALAPACK; the LAPACKE path
// linalg_svd_thin is the reference.
//
// Two ways in: pdsvd, where the root holds the whole matrix, and pdsvd_cols, where each rank holds
// a contiguous range of the matrix's columns (Fed-CMP's M = [Δ_1 | … | Δ_K], each party's update a
// column block on the rank hosting it) and the columns go straight from their owners into the
// grid's block-cyclic layout (one MPI_Alltoallv): nothing is gathered on one rank first.
//
// Traffic: the grid works on its own duplicate of the communicator (MPI_Comm_dup, unnamed), and
// BLACS on communicators it derives from that duplicate. None of it goes through src/comm, so none
// of it is in a run's mpi_bytes, nor in the PMPI counter's check of mpi_bytes (tests/pmpi counts
// the communicator named "mmcollab" only): pdsvd's traffic is excluded, by construction on both
// sides. pdsvd_cols_redist_bytes states the part a deployment would pay (the column
// redistribution).
#pragma once

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PdsvdGrid PdsvdGrid;

// Block size of the block-cyclic layout when a caller has no reason to pick another.
#define PDSVD_NB_DEFAULT 64

// Collective on comm: a process grid over all of comm's ranks, nprow × npcol with nprow the largest
// divisor of size <= √size, BLACS combines set repeatable. Owned; pdsvd_grid_destroy releases the
// BLACS contexts and the duplicate communicator. comm is borrowed and must outlive the grid. With
// one rank, or built without ScaLAPACK, no BLACS grid is made and pdsvd / pdsvd_cols run
// linalg_svd_thin on the root (never NULL).
PdsvdGrid *pdsvd_grid_create(MPI_Comm comm);
// Collective on comm: a P × Q grid on comm's ranks 0 .. P·Q − 1, row-major (rank r is grid row
// r / Q, column r % Q); ranks P·Q .. size − 1 are outside the grid but still call every collective
// here (they may own columns in pdsvd_cols, and the root may be one of them). CHECKs P, Q >= 1 and
// P·Q <= size (naming both). With ScaLAPACK a BLACS grid is made for every shape, 1 × 1 included,
// so pdgesvd always runs; without ScaLAPACK the calls run linalg_svd_thin on the root. The grid's
// ranks and shape do not depend on comm's size: results are the same at any size that fits.
PdsvdGrid *pdsvd_grid_create_shape(MPI_Comm comm, int P, int Q);
// Collective on the grid's comm (the BLACS contexts are exited, the duplicate freed). NULL is a
// no-op.
void pdsvd_grid_destroy(PdsvdGrid *g);
// The grid's shape (1 × 1 when no BLACS grid was made). Local.
void pdsvd_grid_shape(const PdsvdGrid *g, int *P, int *Q);
// 1 when this build has ScaLAPACK. Local.
int pdsvd_available(void);

// Parses a grid option's value "PxQ" (e.g. --fedcmp.grid=2x1): two decimal integers in
// [1, 4096] joined by one 'x', nothing else (no spaces, signs or 'X'). With size >= 1 also checks
// P·Q <= size (the ranks of the run). Returns 0 and sets *P, *Q; or -1 with a one-line message in
// err (cap bytes) naming --<key>, the value and what was expected, *P and *Q untouched. Local.
int pdsvd_grid_parse(const char *key, const char *value, int size, int *P, int *Q, char *err,
                     size_t cap);

// Collective on the grid's comm. a (M, N) row-major, read on root only; the result is written on
// root only: s (K) descending, u (M, K) and vt (K, N) (either may be NULL: values only),
// K = min(M, N). The same as pdsvd_cols with the root owning every column. u/vt NULL-ness is the
// root's choice; M, N and nb are CHECKed to agree with the root's. Repeated calls give
// bit-identical results. LAPACK_CHECK on info.
void pdsvd(PdsvdGrid *g, double *s, double *u, double *vt, const double *a, int M, int N, int nb,
           int root);

// One rank's share of A (M, N) for pdsvd_cols: the columns [col0, col0 + ncols), ncols >= 0 (a may
// be NULL when ncols is 0), stored as ncols / blk row-major (M, blk) blocks back to back: column
// col0 + b·blk + j, row i is a[b·M·blk + i·blk + j]. blk = ncols (or 0) is one row-major
// (M, ncols) slab; a rank hosting parties whose updates Δ_k (M, d_in) lie back to back in party
// order passes blk = d_in, and col0 = (its first party) · d_in. Borrowed, read only.
typedef struct {
    const double *a;
    int col0, ncols, blk;
} PdsvdCols;

// Collective on the grid's comm: the truncated SVD A ≈ U diag(s) Vt of the matrix whose columns
// the ranks hold (mine: this rank's share; the shares must tile [0, N) without overlap, in any
// rank order, CHECKed on every rank). A's transpose is laid out block-cyclically (block nb × nb)
// on the grid, factorised by pdgesvd (all min(M, N) triplets; the first r are returned; when
// N >= 11·M/6, as for CRAA's wide M, on the R of a pdgeqrf first, vt then formed by pdormqr), and
// the result is gathered to root only: s (r) descending, u (M, r) row-major (either NULL: not
// gathered), vt (r, N) row-major (NULL: not gathered). Party k's coefficient block is then
// vt[:, k·d_in : (k+1)·d_in] (scaled by s). Nothing is written on the other ranks (their s, u, vt
// are ignored). M, N, r, nb and root must agree on every rank, 1 <= r <= min(M, N) (CHECKed);
// u/vt NULL-ness is the root's choice. With ScaLAPACK and a BLACS grid: bit-identical results
// from call to call, and for a given grid shape and nb, whatever the comm's size, the column
// ownership and the root (each grid process gets the same local matrix, and BLACS combines are
// set repeatable). Without a BLACS grid the columns go to the root and linalg_svd_thin runs there.
// LAPACK_CHECK on info.
void pdsvd_cols(PdsvdGrid *g, double *s, double *u, double *vt, const PdsvdCols *mine, int M, int N,
                int r, int nb, int root);

// The bytes this rank sends to other ranks (and receives from them) when pdsvd_cols with this
// root and block nb lays out a matrix of M rows whose column shares are col0[q], ncols[q] for each
// rank q of the grid's comm: the redistribution only (the columns that stay on this rank are not
// counted; neither are pdgesvd's internal traffic, the gather of the result to the root nor the
// few ints pdsvd_cols agrees on first). Local.
void pdsvd_cols_redist_bytes(const PdsvdGrid *g, int M, const int *col0, const int *ncols, int nb,
                             int root, uint64_t *sent, uint64_t *recv);
