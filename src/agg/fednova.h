// fednova.h - the arithmetic of FedNova (federated normalized averaging) on a flat float vector:
// each party divides its model change by the L1 norm of its local solver's normalising vector,
// the server averages those normalised updates and steps by the mean norm. Fed-CMP's baseline for
// parties that take different numbers of local steps. docs/fedcmp_math.md.
//
// Party i runs τ_i local steps of SGD with momentum ρ (PyTorch heavy ball: vel = ρ·vel + g,
// y −= η·vel, vel = 0 at the start of the round) from x to y_i. Then x − y_i = η·Σ_k a_i[k]·g_k,
// with the normalising vector (the paper's local-momentum case, its k-th entry weighting the
// gradient of step k = 1..τ_i)
//   a_i[k] = (1 − ρ^{τ_i−k+1})/(1 − ρ),   i.e.  a_i = [1 − ρ^{τ_i}, …, 1 − ρ²,  1 − ρ]/(1 − ρ)
//   ‖a_i‖₁ = Σ_{k=1..τ_i} (1 − ρ^k)/(1 − ρ) = (τ_i − ρ(1 − ρ^{τ_i})/(1 − ρ))/(1 − ρ)
// (= τ_i at ρ = 0, plain SGD: a_i = [1, …, 1]). The party uploads
//   d_i = (x − y_i)/‖a_i‖₁                                   (fednova_normalise)
// and ‖a_i‖₁; with p_i = n_i/Σ_{j∈S} n_j over the arrived parties S, the server takes
//   τ_eff = Σ_i p_i ‖a_i‖₁,   x ← x − τ_eff · Σ_i p_i d_i      (fednova_server_update)
// d_i carries η (it is η times the paper's normalised gradient), so the server needs no η. With
// equal τ_i and ρ = 0 every ‖a_i‖₁ = τ = τ_eff and the step is x ← Σ_i p_i y_i: FedAvg.
//
// Not here: the proximal term μ of the paper's FedProx case (a_i = [(1 − ημ)^{τ_i−1}, …, 1]) and
// its combination with momentum, the server momentum ("gmf") and server learning rate of the
// reference code, and a τ_eff other than Σ p_i ‖a_i‖₁ (the paper's default). The norm assumes a
// constant η within the round, no Nesterov step, and the momentum buffer reset at the round's
// start.
//
// Float arrays, double arithmetic, sums over parties in party order in double. All functions are
// Local (fednova_normalise on a party's rank, fednova_server_update on rank 0); no MPI, no options,
// no logging, no allocation.
//
// Errors: CHECKs pointers, sizes and finiteness. Values from options name the option: τ
// (--fedcmp.local-steps, >= 1), ρ (--fedcmp.momentum, in [0, 1)).
//
// Sources: Wang, Liu, Liang, Joshi, Poor, "Tackling the Objective Inconsistency Problem in
// Heterogeneous Federated Optimization", NeurIPS 2020: the generalised update rule (their eq. for
// x^{(t+1,0)} with τ_eff and d_i = G_i a_i/‖a_i‖₁) and the normalising vectors of local momentum
// SGD; τ_eff = Σ p_i ‖a_i‖₁ as in their FedNova experiments.
#pragma once

#include <stddef.h>

// ‖a‖₁ = Σ_{k=1..tau} (1 − ρ^k)/(1 − ρ) for tau local steps of momentum-ρ SGD (= tau at ρ = 0),
// summed term by term in double (the closed form loses digits as ρ → 1). CHECKs tau >= 1
// (--fedcmp.local-steps) and momentum in [0, 1) (--fedcmp.momentum).
double fednova_norm_a(int tau, double momentum);

// d (n) = (x − y)/a_norm, party side: x (n) the model received, y (n) after the local steps,
// a_norm = fednova_norm_a(τ_i, ρ). d may alias y. CHECKs a_norm >= 1 and finite (every ‖a‖₁ is),
// the pointers and finiteness.
void fednova_normalise(float *d, const float *x, const float *y, double a_norm, size_t n);

// The server's step from P arrived parties' normalised updates d (P, n), stacked in party order,
// their norms a_norm (P) and sample counts nk (P, > 0; NULL = equal weights):
//   p_i = nk_i/Σ nk,  τ_eff = Σ p_i a_norm_i,  x (n) −= τ_eff · Σ p_i d_i   (in place)
// Returns τ_eff. Sums in double in party order. CHECKs P >= 1, a_norm_i >= 1 and finite, nk, the
// pointers and finiteness of the inputs and of the new x.
double fednova_server_update(float *x, const float *d, const double *a_norm, const double *nk,
                             int P, size_t n);
