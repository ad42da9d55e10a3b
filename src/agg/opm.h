// opm.h - Fed-CMP's orthogonality-preserved momentum (OPM) on the shared alignment basis of one
// projector matrix: the cloud keeps a momentum of how CRAA's basis U (d, r), UᵀU = I, moves from
// round to round, steps along it and retracts back onto the Stiefel manifold St(d, r) (matrices
// with orthonormal columns). docs/fedcmp_math.md.
//
// One step, round t, from the round's basis U_t and coefficients C (r, c_cols) (craa.h):
//   R = argmin over orthogonal R of ‖U_t R − U_{t−1}‖_F   (orthogonal Procrustes, an r×r SVD)
//   U_t ← U_t R,  C ← Rᵀ C                        U_t·C unchanged; undoes the arbitrary signs and
//                                                 rotations of the new SVD's singular vectors
//   G = U_t − U_{t−1}                             how the basis moved since the last round
//   Proj_U(Z) = Z − U·sym(UᵀZ),  sym(A) = (A + Aᵀ)/2   the tangent space of St(d, r) at U
//   M_t = Proj_{U_t}(β·M_{t−1} + (1 − β)·G)       = β·Proj(M_{t−1}) + (1 − β)·Proj(G) (linear);
//                                                 projecting M_{t−1} transports it to U_t
//   Ũ = U_t + γ·M_t,  U = qf(Ũ)                   thin QR with diag(R) > 0 (the retraction)
// The cloud then applies ΔW* = U·C (craa_apply).
//
// Choices of this reconstruction ([I]):
// - U_{t−1} is the previous round's basis after its alignment, not the momentum basis that was
//   applied: G then measures the drift of the parties' consensus directions alone, and the
//   applied basis does not feed back into the next G.
// - The first step (rounds = 0, no previous basis) aligns nothing and has no G: it stores U_t,
//   leaves M = 0 and returns U_t and C unchanged (ΔW* is CRAA's).
// - When the step leaves U_t unchanged (γ = 0, or M_t = 0) the retraction is the identity (qf of an
//   orthonormal U is U only up to rounding), so the step returns the aligned U_t bit for bit.
// - The orthogonality error is max_ij |(UᵀU − I)_ij| (the max norm, not Frobenius).
// - Ablations: align = 0 (R = I, U_t and C as given), retract = 0 (the step returns Ũ as is).
//   Momentum on the full ΔW (FedAvgM) is a server rule elsewhere, not this file.
//
// Double precision, row-major, one rank: no MPI, no options, no logging. All functions are Local.
// Scratch is allocated inside (once per matrix per round, on the cloud).
//
// Sources: the abstract of Fed-CMP (momentum on the shared alignment basis through orthogonal
// projection, preserving its orthonormality); the tangent projection and QR retraction of the
// Stiefel manifold (Absil, Mahony, Sepulchre, "Optimization Algorithms on Matrix Manifolds", 2008,
// §3.6, §4.1.1); orthogonal Procrustes (Schönemann 1966). The update rule is [I] reconstruction.
#pragma once

#include <stdint.h>

typedef struct OpmOpts {
    double beta;  // momentum factor, in [0, 1) (--fedcmp.beta)
    double gamma; // step along the momentum, >= 0 and finite (--fedcmp.gamma)
    int align;    // 1: Procrustes alignment; 0: ablation without it
    int retract;  // 1: thin-QR retraction; 0: ablation without it (U may leave the manifold)
} OpmOpts;

// One matrix's state. Plain arrays, to checkpoint as they are: u_prev and mom, d·r doubles each
// (F64, (d, r) row-major), and rounds (I64); d and r come from the matrix and the rank option.
typedef struct OpmState {
    int d, r;       // the basis's shape, fixed at opm_init
    int64_t rounds; // steps taken; 0 = no previous basis yet
    double *u_prev; // (d, r) U_{t−1}: the last step's basis after alignment (zero before)
    double *mom;    // (d, r) M_{t−1}, a tangent vector at u_prev (zero before the second step)
} OpmState;

// Diagnostics of one step (opm_step), for a per-round series.
typedef struct OpmStepInfo {
    double orth_err;    // max |(UᵀU − I)_ij| of the returned U (= opm_step's return value)
    double dist_before; // ‖U_t − U_{t−1}‖_F as given (0 in the first step)
    double dist_after;  // ‖U_t R − U_{t−1}‖_F, aligned (= dist_before when align = 0)
    double mom_norm;    // ‖M_t‖_F
} OpmStepInfo;

// st = a fresh state for a (d, r) basis: arrays zeroed, rounds = 0. Owned by st, released by
// opm_free. CHECKs 1 <= r <= d (r is --fedcmp.rank).
void opm_init(OpmState *st, int d, int r);
// Frees st's arrays; safe on a zeroed struct, leaves it zeroed.
void opm_free(OpmState *st);

// CHECKs o, naming the keys: beta in [0, 1) (--fedcmp.beta), gamma >= 0 and finite
// (--fedcmp.gamma), align and retract 0 or 1.
void opm_check_opts(const OpmOpts *o);

// max_ij |(uᵀu − I)_ij| for u (d, r). CHECKs the shape.
double opm_orth_error(const double *u, int d, int r);

// out (d, r) = Proj_u(z) = z − u·sym(uᵀz) for u (d, r) with orthonormal columns and z (d, r). out
// may alias z. CHECKs the shape.
void opm_tangent_project(double *out, const double *u, const double *z, int d, int r);

// The Procrustes alignment of u (d, r) to u_prev (d, r): rot (r, r) = argmin ‖u·rot − u_prev‖_F
// over orthogonal rot (linalg_procrustes), then u = u·rot and, when c is not NULL,
// c (r, c_cols) = rotᵀ·c, so u·c is unchanged. rot may be NULL (not needed). CHECKs the shapes.
void opm_align(double *rot, double *u, double *c, int c_cols, const double *u_prev, int d, int r);

// q (d, r) = the Q factor of the thin QR of a (d, r), signs fixed so that diag(R) > 0 (> 0 for a
// full-rank a; linalg_qr_thin). CHECKs the shape, and that a has full column rank (a zero
// diagonal of R would leave Q's column undefined).
void opm_retract(double *q, const double *a, int d, int r);

// One OPM step for one matrix, in place: u (d, r), on entry the round's basis U_t (UᵀU = I), on
// return the basis to apply; c (r, c_cols), on entry the coefficients in U_t's frame (CRAA's fused
// C*, or the stacked C_k), on return rotated with u (c may be NULL when c_cols = 0). st is updated
// (u_prev = the aligned U_t, mom = M_t, rounds + 1). info may be NULL. Returns the orthogonality
// error of the returned u. CHECKs o, the shapes, that (d, r) are st's (a rank change across rounds
// names --fedcmp.rank), and that u, c and the state are finite.
double opm_step(OpmState *st, const OpmOpts *o, double *u, int d, int r, double *c, int c_cols,
                OpmStepInfo *info);
