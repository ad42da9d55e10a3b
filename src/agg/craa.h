// craa.h - Fed-CMP's canonical reliability-aware aggregation (CRAA) of one projector matrix: the
// parties' updates share one alignment basis from a truncated SVD of their concatenation, each
// party keeps its own coefficients in that basis, and the coefficients are fused with weights from
// a reliability score. docs/fedcmp_math.md.
//
// The construction, for K parties with updates Δ_k (d_out, d_in) and sample counts n_k:
//   M = [Δ_1 | … | Δ_K]                      (d_out, K·d_in), column blocks in party order
//   M ≈ U_r Σ_r V_rᵀ                          the first r singular triplets of the thin SVD
//   C_k = Σ_r · (k-th column block of V_rᵀ)   (r, d_in), so Δ_k ≈ U_r C_k (exactly at full rank)
//   C̄ = (1/K) Σ_k C_k                         the consensus: the plain mean over the parties
//   ρ_k  a reliability score (CraaReliability), per party or per party and row i of C
//   w_k = exp(ρ_k/T)·n_k / Σ_j exp(ρ_j/T)·n_j   (softmax times n_k, renormalised to sum 1)
//   C* = Σ_k w_k C_k  (per row: C*[i,:] = Σ_k w_{k,i} C_k[i,:]),  ΔW* = U_r C*
// CRAA_UNIFORM is KnOTS-average: w_k = n_k / Σn, no score, no temperature; at full rank it is
// FedAvg, ΔW* = Σ_k (n_k/Σn) Δ_k.
//
// The SVD is an input (CraaSvd): craa_svd_init computes it with LAPACKE on one rank; a distributed
// (ScaLAPACK) path fills the same struct. What is here is the arithmetic after the SVD, in double,
// row-major, on one rank: no MPI, no options, no logging. All functions are Local. Scratch is
// allocated inside (the cloud runs this once per matrix per round, off the hot path).
//
// Errors: every function CHECKs its pointers, shapes and that its inputs are finite. Values that
// come from options name the option: the rank r (--fedcmp.rank, 1 <= r <= the triplets held, at
// most min(d_out, K·d_in)), the temperature T (--fedcmp.temp, > 0), the distance floor ε
// (--fedcmp.eps, > 0).
//
// Sources: the abstract of Fed-CMP (CRAA: a canonical space of a shared alignment basis and
// client-specific coefficients, fused with reliability weights); the basis/coefficient split of
// KnOTS (Stoica et al., ICLR 2025); the sign election of TIES-merging (Yadav et al., NeurIPS
// 2023). The scores, the weight formula and the consensus are [I] reconstruction.
#pragma once

#include <stddef.h>

// The reliability scores, against the consensus C̄; per row, the same on row i of C_k and C̄.
// Written to run files by name: append-only.
typedef enum CraaReliability {
    CRAA_UNIFORM,   // no score: w_k = n_k / Σn (KnOTS-average)
    CRAA_AGREEMENT, // cos(vec C_k, vec C̄), 0 when either is zero
    CRAA_SIGN,      // share of rows i with C_k[i,:]·C̄[i,:] > 0 (per row: that 0/1 indicator)
    CRAA_DISTANCE,  // 1 / (ε + ‖C_k − C̄‖_F)
    CRAA_REPORTED,  // given by the caller (e.g. its local loss decrease), the same for every row
} CraaReliability;
#define CRAA_RELIABILITY_COUNT 5
// The names, in enum order, for option choices and messages.
#define CRAA_RELIABILITY_NAMES "uniform, agreement, sign, distance, reported"

typedef struct CraaOpts {
    CraaReliability rel;
    int rank;    // r, the singular triplets kept (--fedcmp.rank)
    double temp; // T of the softmax, > 0 (--fedcmp.temp; checked for every variant)
    double eps;  // ε of CRAA_DISTANCE, > 0 (--fedcmp.eps; checked for every variant)
    int per_row; // 0: one weight per party; 1: one per party and row of C (rows = directions of U)
} CraaOpts;

// A thin or truncated SVD of M (d_out, cols = K·d_in), row-major: M ≈ u · diag(s) · vt with the
// first k triplets, s non-negative and descending. k = min(d_out, cols) for a full thin SVD.
typedef struct CraaSvd {
    int d_out, cols, k;
    double *u;  // (d_out, k)
    double *s;  // (k)
    double *vt; // (k, cols)
} CraaSvd;

// The name of a variant ("agreement"), or "?" for a value outside the enum.
const char *craa_reliability_name(CraaReliability rel);

// m (d_out, K·d_in) = [Δ_1 | … | Δ_K] from delta (K, d_out, d_in), the parties' updates stacked in
// party order. CHECKs the shape.
void craa_stack(double *m, const double *delta, int K, int d_out, int d_in);

// Fills svd with the full thin SVD of [Δ_1 | … | Δ_K] (linalg_svd_thin, LAPACKE gesdd):
// k = min(d_out, K·d_in). The three arrays are owned by svd, released by craa_svd_free. CHECKs the
// shape and that delta is finite; LAPACK_CHECK on a failed SVD.
void craa_svd_init(CraaSvd *svd, const double *delta, int K, int d_out, int d_in);
// Frees what craa_svd_init allocated; safe on a zeroed struct, leaves it zeroed. Only for structs
// filled by craa_svd_init (a caller that filled one itself frees its own arrays).
void craa_svd_free(CraaSvd *svd);

// CHECKs o (variant in range, rank >= 1, temp > 0, eps > 0, per_row 0/1), and rank <= kmax when
// kmax > 0, naming the option keys.
void craa_check_opts(const CraaOpts *o, int kmax);

// u_r (d_out, r) = the first r columns of svd->u, the shared alignment basis. CHECKs r.
void craa_basis(double *u_r, const CraaSvd *svd, int r);

// c (K, r, d_in) = the parties' coefficients, c[k] = diag(s[:r]) · vt[:r, k·d_in : (k+1)·d_in].
// CHECKs svd (shapes, K·d_in == cols, finite) and 1 <= r <= svd->k (--fedcmp.rank).
void craa_coefficients(double *c, const CraaSvd *svd, int K, int d_in, int r);

// rho = the scores of o->rel from c (K, r, d_in): (K) when o->per_row = 0, else (K, r) row-major
// (rho[k·r + i] for row i). reported (K) is read only for CRAA_REPORTED (else may be NULL); a
// reported score is the same for every row. CRAA_UNIFORM writes zeros. CHECKs o and finiteness.
void craa_scores(double *rho, const double *c, const double *reported, const CraaOpts *o, int K,
                 int r, int d_in);

// w = the fusion weights from rho (as craa_scores writes it) and n (K), the parties' sample counts
// (> 0; any positive scale: they are normalised here). Shapes as rho; each row's (or the single)
// weights over k sum to 1. CRAA_UNIFORM ignores rho (may be NULL). The softmax subtracts the
// largest ρ/T first, so a large score cannot overflow. CHECKs o, n > 0 and finite, rho finite.
void craa_weights(double *w, const double *rho, const double *n, const CraaOpts *o, int K, int r);

// cstar (r, d_in) = Σ_k w_k c_k from c (K, r, d_in) and w ((K) or, per_row, (K, r)), summed in
// party order. CHECKs the shapes.
void craa_fuse(double *cstar, const double *c, const double *w, int per_row, int K, int r,
               int d_in);

// dw (d_out, d_in) = u (d_out, r) · cstar (r, d_in). CHECKs the shapes.
void craa_apply(double *dw, const double *u, const double *cstar, int d_out, int r, int d_in);

// The whole rule from an SVD: coefficients, scores, weights, fusion and, when dw is not NULL,
// dw (d_out, d_in) = U_r C*. Optional outputs (NULL = not needed): cstar (r, d_in); w ((K) or, per
// row, (K, r)). n (K) and reported as craa_weights and craa_scores. CHECKs as those, and
// K·d_in == svd->cols.
void craa_aggregate(double *dw, double *cstar, double *w, const CraaSvd *svd, const double *n,
                    const double *reported, const CraaOpts *o, int K, int d_in);

// The sign-conflict rate between K arrays x (K, n) (e.g. the parties' updates, n = d_out·d_in, or
// their coefficients, n = r·d_in), TIES-style: entry j is active when some x[k][j] != 0, and in
// conflict when it is active and some non-zero x[k][j] has a sign other than that of
// S_j = Σ_k x[k][j] (the plain, unweighted sum, in party order; S_j = 0 counts as a conflict). The
// rate is conflicting / active entries, in [0, 1]; 0 when no entry is active. CHECKs K >= 1 and
// finiteness.
double craa_sign_conflict_rate(const double *x, int K, size_t n);
