// scalapack_decl.h - the BLACS and ScaLAPACK entry points pdsvd.c uses. Debian's
// libscalapack-openmpi-dev ships no C header, so the prototypes are declared here from the
// reference interfaces: the C BLACS (Cblacs_*, Csys2blacs_handle) and the Fortran ScaLAPACK/TOOLS
// routines (trailing underscore, every argument by pointer, gfortran's hidden string lengths last).
// Only pdsvd.c includes this file.
#pragma once

#include <mpi.h>
#include <stddef.h>

// BLACS_SET `what` values (BLACS Bdef.h): repeatable and coherent combine topologies.
enum { BLACS_SET_TOPSREPEAT = 15, BLACS_SET_TOPSCOHRNT = 16 };
// Descriptor entry holding the context; -1 on processes outside the context.
enum { SCALAPACK_DESC_LEN = 9, SCALAPACK_DESC_CTXT = 1 };

int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridmap(int *ctxt, int *usermap, int ldumap, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);
void Cblacs_set(int ctxt, int what, int *val);

int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja,
               const int *desca, double *b, const int *ib, const int *jb, const int *descb,
               const int *ictxt);
void pdgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
              const int *ia, const int *ja, const int *desca, double *s, double *u, const int *iu,
              const int *ju, const int *descu, double *vt, const int *ivt, const int *jvt,
              const int *descvt, double *work, const int *lwork, int *info, size_t jobu_len,
              size_t jobvt_len);
void pdgeqrf_(const int *m, const int *n, double *a, const int *ia, const int *ja, const int *desca,
              double *tau, double *work, const int *lwork, int *info);
void pdormqr_(const char *side, const char *trans, const int *m, const int *n, const int *k,
              const double *a, const int *ia, const int *ja, const int *desca, const double *tau,
              double *c, const int *ic, const int *jc, const int *descc, double *work,
              const int *lwork, int *info, size_t side_len, size_t trans_len);
void pdlacpy_(const char *uplo, const int *m, const int *n, const double *a, const int *ia,
              const int *ja, const int *desca, double *b, const int *ib, const int *jb,
              const int *descb, size_t uplo_len);
