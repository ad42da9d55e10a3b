// scaffold.h - the arithmetic of SCAFFOLD (stochastic controlled averaging) on a flat float
// vector: the client's corrected step direction, its control-variate update after the local steps
// (option II), and the server's model and control-variate step. Fed-CMP's baseline with the
// client-side control variates. docs/fedcmp_math.md.
//
// One round, with the server model x, the server variate c, and party i's variate c_i (n floats
// each, the trainable selection):
//   client i: y ← x; K local steps, each with the direction h = g − c_i + c (g the mini-batch
//             gradient at y; scaffold_correct), taken by SGD with momentum ρ at learning rate η;
//             c_i⁺ = c_i − c + (x − y)/L,  Δy = y − x,  Δc = c_i⁺ − c_i   (scaffold_client_finish)
//   server:   x ← x + η_g · Σ_{i∈S} q_i Δy_i,   c ← c + Σ_{i∈S} r_i Δc_i   (scaffold_server_update)
// The paper's option II has plain SGD and L = K·η. With momentum (PyTorch heavy ball: vel =
// ρ·vel + h, y −= η·vel, vel = 0 at the start of the round) a constant direction h moves y by
// η·h·Σ_{k=1..K} (1 − ρ^k)/(1 − ρ) after K steps, not by η·K·h. We use that length,
//   L = η·A(K, ρ),  A(K, ρ) = Σ_{k=1..K} (1 − ρ^k)/(1 − ρ)   (= K at ρ = 0: option II exactly)
// (scaffold_step_length), so (x − y)/L is a weighted mean of the K corrected directions with
// weights summing to 1, and c_i⁺ is a weighted mean of the gradients g, as option II intends. With
// K·η instead, c_i⁺ would be inflated by up to 1/(1 − ρ) (10× at ρ = 0.9). A(K, ρ) is FedNova's
// ‖a‖₁ for momentum (agg/fednova.h). The length assumes a constant η within the round, no
// Nesterov step, and the momentum buffer reset at the round's start; weight decay is part of g.
//
// Server weights: uniform (the default, the paper): q_i = 1/|S|, r_i = 1/N, i.e. x moves by η_g
// times the plain mean of Δy and c by (|S|/N)·mean_S(Δc). Sample-weighted (n_k given): q_i =
// n_i/Σ_{j∈S} n_j, r_i = n_i/n_all with n_all the samples of all N parties. Either way r keeps
// c = Σ_{all i} w_i c_i (w_i = 1/N, or n_i/n_all) when that held before the round: the server's c
// stays the weighted mean of the parties' variates while only the sampled ones change.
//
// Float arrays, double arithmetic per element, sums over parties in party order in double. All
// functions are Local (the client functions on a party's rank, the server's on rank 0); no MPI,
// no options, no logging, no allocation.
//
// Errors: CHECKs pointers, sizes, finiteness of what it reads and of what it writes. Values that
// come from options name the option: η (--fedcmp.lr, > 0), ρ (--fedcmp.momentum, in [0, 1)), K
// (--fedcmp.local-steps, >= 1), η_g (--fedcmp.server-lr, > 0).
//
// Sources: Karimireddy et al., "SCAFFOLD: Stochastic Controlled Averaging for Federated Learning",
// ICML 2020, Algorithm 1 (the corrected step, option II's variate, the server's two updates). The
// momentum-corrected step length and the sample-weighted variant are [I] reconstruction.
#pragma once

#include <stddef.h>

// CHECKs the client's step parameters, naming the keys: lr > 0 and finite (--fedcmp.lr), momentum
// in [0, 1) (--fedcmp.momentum), K >= 1 (--fedcmp.local-steps).
void scaffold_check_local(int K, double lr, double momentum);

// The effective step length L = lr · A(K, momentum), A = Σ_{k=1..K} (1 − ρ^k)/(1 − ρ) (= K at
// ρ = 0). CHECKs as scaffold_check_local.
double scaffold_step_length(int K, double lr, double momentum);

// g (n) += c − c_i: the gradient at y becomes the corrected direction, before the optimizer's step.
// c (n) the server's variate as received this round, ci (n) the party's. CHECKs the pointers and
// that the result is finite.
void scaffold_correct(float *g, const float *c, const float *ci, size_t n);

// After K local steps from x (n) to y (n) at learning rate lr with momentum:
//   dy (n) = y − x;  ci_new (n) = c_i⁺ = c_i − c + (x − y)/L;  dc (n) = c_i⁺ − c_i
// with L = scaffold_step_length(K, lr, momentum). ci (n) is the party's variate before the round,
// c (n) the server's as received. ci_new may alias ci (the party then holds c_i⁺) or be NULL (not
// needed); the other arrays must not overlap. dc is c_i⁺ − c_i computed in double and rounded
// once, so c_i + dc may differ from ci_new in the last bit: the party stores ci_new, the server
// adds dc. CHECKs as scaffold_check_local, the pointers and finiteness.
void scaffold_client_finish(float *dy, float *dc, float *ci_new, const float *ci, const float *c,
                            const float *x, const float *y, int K, double lr, double momentum,
                            size_t n);

// The server's step from the S sampled parties' uploads dy (S, n) and dc (S, n), stacked in party
// order, of N parties in all:
//   x (n) += eta_g · Σ_i q_i dy_i,   c (n) += Σ_i r_i dc_i   (in place; weights in the file
//   comment)
// nk (S) NULL: uniform (q = 1/S, r = 1/N; n_all ignored). nk not NULL: the sampled parties' sample
// counts (> 0), n_all the total over all N parties (>= Σ nk). Sums in double in party order.
// CHECKs 1 <= S <= N, eta_g > 0 and finite (--fedcmp.server-lr), nk, n_all, the pointers and
// finiteness of the inputs and of the new x and c.
void scaffold_server_update(float *x, float *c, const float *dy, const float *dc, const double *nk,
                            double n_all, double eta_g, int S, int N, size_t n);
