// distill.h - CD-CCA's distillation losses for the cloud's adapter-based KD (AKD, issue 15):
// feature KD through a learnable 1x1 channel map (the paper's QueryKD), and the soft-target
// cross-entropy on averaged pseudo-labels. The logit KD (Hinton et al., T² · KL(p_t ‖ p_s)) is
// kl_div_forward / kl_div_backward of nn/loss.h, which this file does not duplicate.
// Dimension legend (docs/conventions.md §6): N rows (tokens: B·T hidden states or B·n_tok query
// tokens), Cs student channels, Ct teacher channels (= the DWT's length L), J wavelet levels,
// V the width of a softmax row. Conventions: row-major float32; sums in double; outputs first;
// forward writes (=); backward ACCUMULATES (+=) into every gradient (zero them first); a NULL
// gradient means "not needed". feat_kd_init allocates its work buffers once, for Nmax rows; no
// forward or backward allocates. Every function CHECKs shapes and pointers. All Local.
// Sources: the loss is the paper's QueryKD (MSE(y_s', y_t) + Σ_j L1(DWT_high_j)); the map is a
// Conv1d(Cs, Ct, 1), i.e. a linear over channels with PyTorch's default init. docs/distill.md.
#pragma once

#include <stddef.h>

#include "core/rng.h"
#include "nn/wavelet.h"

// ---- feature KD through a 1x1 channel map ----
//
//   y_s' = y_s · Wᵀ + b                          (N, Ct); W (Ct, Cs), b (Ct)
//   loss = Σ (y_s' - y_t)² / (N·Ct)  +  Σ_{j=1..J} Σ |hi_j(y_s') - hi_j(y_t)| / (N·L_j)
//
// hi_j the detail band of level j of a J-level 1-D DWT along the CHANNEL axis (length Ct) of each
// row, L_j its length (wavelet_wavedec_lengths). Each term is a mean over its own elements, as
// PyTorch's F.mse_loss / F.l1_loss with reduction='mean', and the J + 1 terms are summed with
// weight 1 (scale the whole loss with dloss). This is wavelet_hf_loss (nn/wavelet.h) with
// alpha_mse = beta_l1 = 1 applied to (y_s', y_t); the coarse band lo_J is not matched.

typedef struct {
    char wavelet[8];  // "db1" (alias "haar") or "db6"
    WaveletMode mode; // border extension of every level
    int J;            // levels, [1, WAVELET_MAX_J], each level's input long enough (feat_kd_init)
} FeatKdOpts;

// The paper's choice: db6, symmetric extension, J = 3.
FeatKdOpts feat_kd_opts_default(void);
// *mode = the WaveletMode named "symmetric" or "periodization"; returns 0, or -1 for another name
// (mode untouched) so that an option parser can report the key. Local.
int feat_kd_mode_parse(const char *name, WaveletMode *mode);

// Work for one (Cs -> Ct) map and up to Nmax rows. Transparent for tests; callers use the
// functions. Buffers owned by the struct.
typedef struct {
    Wavelet w;
    int J, Nmax, Cs, Ct;
    float *ys_map; // (Nmax, Ct) y_s', recomputed by forward and by backward
    float *dmap;   // (Nmax, Ct) ∂loss/∂y_s' in backward
    float *work;   // wavelet_hf_loss_workspace_size(w, Nmax, Ct, J) floats
} FeatKd;

// Fills *k for rows N <= Nmax and the channel widths; allocates its buffers (the only allocation
// here). CHECKs Nmax, Cs, Ct >= 1, a known wavelet and mode, and that J levels fit Ct: J in
// [1, WAVELET_MAX_J] and every level's input at least max(2, F - 1) long in symmetric mode (db6:
// 11), even and >= 2 in periodization; the message names J, the wavelet, Ct and the failing
// level. Validation happens before anything is allocated.
void feat_kd_init(FeatKd *k, const FeatKdOpts *o, int Nmax, int Cs, int Ct);
// Releases the buffers; safe on a zeroed struct, leaves it zeroed.
void feat_kd_free(FeatKd *k);

// PyTorch's default Conv1d(Cs, Ct, 1) init: W (Ct, Cs) then b (Ct), every value
// U(-1/√Cs, +1/√Cs) (kaiming_uniform(a=√5) on fan_in = Cs, and the bias bound 1/√fan_in), drawn
// in that order (W row-major, then b) with rng_fill_uniform from r. b may be NULL (nothing drawn
// for it).
void feat_kd_init_map(float *W, float *b, int Cs, int Ct, Rng *r);

// Returns the loss above (double) for ys (N, Cs), yt (N, Ct), W (Ct, Cs), b (Ct) or NULL.
// Writes k->ys_map. CHECKs 1 <= N <= k->Nmax (naming both) and the pointers.
double feat_kd_forward(FeatKd *k, const float *ys, const float *yt, const float *W, const float *b,
                       int N);
// dys (N, Cs) += dloss · ∂loss/∂ys; dW (Ct, Cs) += dloss · ∂loss/∂W; db (Ct) += dloss · ∂loss/∂b;
// any may be NULL. Same arguments as the forward: the map is recomputed, so no state is carried
// between the calls (a step of W in between is harmless). |·|'s subgradient at 0 is 0.
void feat_kd_backward(FeatKd *k, float *dys, float *dW, float *db, const float *ys, const float *yt,
                      const float *W, const float *b, int N, double dloss);

// ---- soft-target cross-entropy (averaged pseudo-labels) ----
//
//   loss = -Σ_n Σ_v q[n,v] · log softmax(z_n)_v / N
//
// q (N, V) the soft targets: finite and >= 0 (not required to sum to 1; CoTTA's averaged
// probabilities do). log-softmax in double, max-subtracted. probs (N, V) = softmax(z) is the
// forward's cache. CHECKs N, V >= 1, pointers, and q finite >= 0 (naming the row and column).
double soft_ce_forward(float *probs, const float *z, const float *q, int N, int V);
// dz (N, V) += dloss · ((Σ_v q[n,v]) · probs[n] - q[n]) / N (= (p - q) / N for normalised q).
void soft_ce_backward(float *dz, const float *probs, const float *q, int N, int V, double dloss);
