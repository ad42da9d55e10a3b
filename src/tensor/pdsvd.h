// pdsvd.h - distributed SVD with ScaLAPACK pdgesvd over a BLACS grid made from an MPI communicator
// (docs/conventions.md §10). Compiled with HAVE_SCALAPACK; the LAPACKE path linalg_svd_thin is the
// reference.
#pragma once

#include <mpi.h>

typedef struct PdsvdGrid PdsvdGrid;

// Collective on comm: a process grid over all of comm's ranks, nprow × npcol with nprow the largest
// divisor of size <= √size, BLACS combines set repeatable. Owned; pdsvd_grid_destroy releases the
// BLACS context. comm is borrowed and must outlive the grid. With one rank, or built without
// ScaLAPACK, no BLACS grid is made and pdsvd runs linalg_svd_thin on the root (never NULL).
PdsvdGrid *pdsvd_grid_create(MPI_Comm comm);
void pdsvd_grid_destroy(PdsvdGrid *g);
// 1 when this build has ScaLAPACK. Local.
int pdsvd_available(void);

// Collective on the grid's comm. a (M, N) row-major, read on root only; the result is written on
// root only: s (K) descending, u (M, K) and vt (K, N) (either may be NULL: values only),
// K = min(M, N). The matrix is scattered block-cyclically (block nb), factorised with pdgesvd
// (workspace queried with lwork = -1) and gathered back. u/vt NULL-ness is the root's choice; M, N
// and nb are CHECKed to agree with the root's. Repeated calls give bit-identical results.
// LAPACK_CHECK on info.
void pdsvd(PdsvdGrid *g, double *s, double *u, double *vt, const double *a, int M, int N, int nb,
           int root);
