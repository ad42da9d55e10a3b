// dpo.h - the Direct Preference Optimisation loss (Rafailov et al., 2023) [K], in two forms:
//   general, on given log-probabilities (token policies: log π = Σ_t log p(token_t)), and
//   Gaussian, for an embedding generator with policy π(ẑ) = N(μ, σ²I), where
//   log π(ẑ) = −‖ẑ − μ‖²/(2σ²) (the constant cancels inside the margin; docs/methods.md §1.5).
// For N preference pairs (preferred w, dispreferred l) the margin and the loss are
//   m_n = β·[(log πθ(w_n) − log πref(w_n)) − (log πθ(l_n) − log πref(l_n))]
//   L   = −mean_n log σ(m_n) = mean_n softplus(−m_n)      (stable: never exp of a large number)
// In the Gaussian form the quadratic terms cancel: m_n = β·⟨μθ_n − μref_n, z_w − z_l⟩/σ², and
// ∂L/∂μθ_n = −β·σ(−m_n)·(z_w − z_l)/(N·σ²): descent moves μθ toward z_w and away from z_l.
// Dimension legend (docs/conventions.md §6): N pairs, D embedding width.
// Conventions: as in loss.h: forward returns the loss in double and writes its cache; backward
// ACCUMULATES dloss · ∂L/∂input (NULL gradient = not needed); no allocation; NANGUARD at the end.
#pragma once

// General form. logp_w, logp_l (N): log πθ of the preferred / dispreferred sample; ref_w, ref_l
// (N): the same under the frozen reference. Writes margin (N) = m_n (the cache). CHECKs N >= 1,
// β finite > 0, pointers, and that every margin is finite (names the row). Local.
double dpo_forward(float *margin, const float *logp_w, const float *logp_l, const float *ref_w,
                   const float *ref_l, float beta, int N);
// dlogp_w += dloss·g_n·β, dlogp_l −= dloss·g_n·β, dref_w −= dloss·g_n·β, dref_l += dloss·g_n·β,
// with g_n = −σ(−m_n)/N; each output (N) may be NULL. margin (N) from dpo_forward. Local.
void dpo_backward(float *dlogp_w, float *dlogp_l, float *dref_w, float *dref_l, const float *margin,
                  float beta, int N, double dloss);

// Gaussian form. mu (N, D): the policy means μθ; mu_ref (N, D): the frozen reference means;
// z_w, z_l (N, D): the preferred / dispreferred samples. Writes margin (N). The log-likelihood
// differences are summed in double. CHECKs N, D >= 1, β and σ finite > 0, pointers, finite margins.
// Local.
double dpo_gauss_forward(float *margin, const float *mu, const float *mu_ref, const float *z_w,
                         const float *z_l, float beta, float sigma, int N, int D);
// dmu (N, D) += dloss · ∂L/∂μθ = dloss·(−β σ(−m_n)/(N σ²))·(z_w − z_l). The reference means are
// frozen inputs and get no gradient. margin (N) from dpo_gauss_forward. Local.
void dpo_gauss_backward(float *dmu, const float *margin, const float *z_w, const float *z_l,
                        float beta, float sigma, int N, int D, double dloss);

// −log σ(x) = softplus(−x), stable for any finite x (log1p of a number <= 1). Local.
double dpo_neg_log_sigmoid(double x);
