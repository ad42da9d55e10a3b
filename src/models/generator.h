// generator.h - BoMM's completion generator (PMAC, docs/methods.md §1.5) [I] reconstruction
// from the paper's abstract, not the authors' algorithm: G(z_m, P) → μ, a Gaussian policy
// N(μ, σ²I) over the missing modality's embedding, trained by a supervised term plus DPO.
//
//   x = [z_src, proto]                  (B, 2D)   source embedding, target-class prototype
//   a = x · W1ᵀ + b1,  h = gelu(a)      (B, H)
//   μ = h · W2ᵀ + b2                    (B, D)
//
// Flat parameter layout as in party_model.h (one buffer, offsets); backward accumulates. This
// module knows nothing of MPI or of the reward model: the caller scores the candidates.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "models/model.h"

typedef struct {
    int D; // embedding width (source, prototype and output)
    int H; // hidden width
} GenConfig;

// Offsets of every parameter tensor in the flat buffer (transparent, docs/conventions.md §3).
typedef struct {
    GenConfig c;
    size_t n_params;
    size_t w1, b1; // W1 (H, 2D), b1 (H)
    size_t w2, b2; // W2 (D, H), b2 (D)
} Generator;

// Activations for batches up to Bmax, plus the loss caches. Owned buffers (gen_work_free).
typedef struct {
    int Bmax;
    float *x;        // (Bmax, 2D) the concatenated input
    float *a, *da;   // (Bmax, H) pre-activation and its gradient
    float *h, *dh;   // (Bmax, H) GELU output and its gradient
    float *mu, *dmu; // (Bmax, D) the policy mean and dloss/dμ (input of gen_backward)
    float *mu_ref;   // (Bmax, D) the reference generator's means (gen_mixed_step)
    float *margin;   // (Bmax) DPO margins of the last gen_mixed_step
} GenWork;

// CHECKs D, H >= 1. Local.
void gen_init(Generator *g, const GenConfig *c);
// PyTorch's default Linear init: W, b ~ U(−1/√fan_in, 1/√fan_in). Local.
void gen_init_params(const Generator *g, float *params, Rng *rng);
void gen_work_init(GenWork *w, const Generator *g, int Bmax);
// Safe on a zeroed struct; leaves it zeroed. Local.
void gen_work_free(GenWork *w);

// z_src (B, D), proto (B, D): row b's source embedding and target-class prototype. Writes w->mu
// (B, D) and the caches x, a, h. CHECKs 1 <= B <= Bmax and the pointers. Local.
void gen_forward(const Generator *g, const float *params, const float *z_src, const float *proto,
                 int B, GenWork *w);
// From w->dmu (B, D), which it reads and leaves alone: grads (n_params) += dloss/dparams. Uses the
// caches of the last gen_forward with the same B (da, dh are scratch). Local.
void gen_backward(const Generator *g, const float *params, float *grads, int B, GenWork *w);

// Gaussian policy sampling. cand (n, D) = mu (D) + sigma·ε_j, ε_j ~ N(0, I), drawn row by row from
// the start of the counter stream (seed, round, key, RNG_SAMPLE); key names the draw (a party or a
// sample id). The same (seed, round, key) gives the same candidates whatever else was drawn, so a
// resumed run and any rank layout agree. CHECKs n >= 1, D >= 1, sigma finite >= 0. Local.
void gen_sample_candidates(float *cand, const float *mu, float sigma, int n, int D, uint64_t seed,
                           uint32_t round, uint32_t key);

// Preference pair from candidate rewards r (n): *best = argmax, *worst = argmin, each tie to the
// LOWEST index. Returns 1 when r[best] > r[worst] (a real preference), 0 when every reward ties
// (then best = worst = 0 and the pair carries no preference: skip it). CHECKs n >= 2, finite
// rewards (names the index). Local.
int gen_rank_candidates(int *best, int *worst, const float *rewards, int n);

// Supervised term on means mu (B, D):
//   L_sup = (1/n_t) Σ_{b: has_target} ‖μ_b − target_b‖²  +  λ_a (1/B) Σ_b ‖μ_b − proto_b‖²
// (squared norms summed over D; the target term is a mean over the n_t complete rows, 0 when there
// are none; the anchoring term is a mean over every row). target (B, D) may be NULL only when no
// row has a target; has_target (B) NULL = every row when target is set, none when target is NULL.
// When dmu is not NULL: dmu (B, D) +=
// dloss·∂L_sup/∂μ. Returns L_sup. CHECKs shapes, λ_a finite >= 0. Local.
double gen_sup_loss(float *dmu, const float *mu, const float *target, const uint8_t *has_target,
                    const float *proto, float lambda_a, int B, int D, double dloss);

// One batch for the mixed loss. Rows [0, n_pair) also carry a DPO preference pair: the DPO rows
// come first so that the pairs are contiguous.
typedef struct {
    int B;                     // rows, 1..Bmax
    const float *z_src;        // (B, D) source embeddings
    const float *proto;        // (B, D) target-class prototypes (label or pseudo-label)
    const float *target;       // (B, D) true target embeddings, NULL when no row has one
    const uint8_t *has_target; // (B) 1 = complete sample (target valid); NULL = all iff target
    int n_pair;                // 0..B rows with a pair
    const float *z_w, *z_l;    // (n_pair, D) preferred / dispreferred candidates
} GenBatch;

typedef struct {
    float lambda;   // mixing weight of L_sup in [0, 1]: L = λ·L_sup + (1−λ)·L_DPO
    float lambda_a; // prototype anchoring weight inside L_sup (>= 0)
    float beta;     // DPO temperature (> 0)
    float sigma;    // policy standard deviation (> 0)
} GenLossCfg;

typedef struct {
    double sup, dpo; // the two terms (dpo = 0 when n_pair = 0)
    double pair_acc; // fraction of pairs with margin > 0 (0 when n_pair = 0)
} GenLossParts;

// The mixed generator loss and its gradient: runs the frozen reference params_ref on the n_pair
// DPO rows (w->mu_ref), then the policy params on all B rows, and returns
//   L = λ·L_sup + (1−λ)·L_DPO(μθ[0:n_pair), μref, z_w, z_l; β, σ).
// When grads is not NULL: grads (n_params) += ∂L/∂params (through μ; w->dmu is overwritten).
// params_ref may be NULL when n_pair = 0. parts may be NULL. CHECKs the batch and cfg ranges
// (λ outside [0, 1], n_pair outside 0..B, ...). Local.
double gen_mixed_step(const Generator *g, const float *params, const float *params_ref,
                      float *grads, const GenBatch *in, const GenLossCfg *cfg, GenWork *w,
                      GenLossParts *parts);

// The generator under the model contract: m gets the ops, the layout for c and the tensors fc1/w,
// fc1/b, fc2/w, fc2/b (all trainable by default). Input: in->dense[0] = z_src (B, D),
// in->dense[1] = the target-class prototypes (B, D); rep = μ (B, D), drep = dloss/dμ; no classes.
// Local.
void generator_create(Model *m, const GenConfig *c);
