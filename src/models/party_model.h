// party_model.h - the parties' small multimodal model (DESIGN.md §3), a flat parameter layout plus
// one forward and one backward (llm.c style, no autograd).
//
//   per modality m:  dense input x_m (B, in_m):   h_m = relu(x_m · W_mᵀ + b_m)      (B, D)
//                    token input ids_m (B, T_m):  h_m = mean-bag(E_m, ids_m)        (B, D)
//   fusion:          z = [h_0 or fill_0, ..., h_{M-1} or fill_{M-1}]               (B, M·D)
//                    (block m of row b is h_m when modality m is present, else the caller's
//                    fill_m row — a completed embedding, BoMM — or zeros when fill_m is NULL)
//                    u = relu(z · W_fᵀ + b_f)                                       (B, D)
//   head:            logits = u · W_hᵀ + b_h                                        (B, K)
//
// A missing modality (mask 0) is a constant block of z (zeros, or the fill) and sends no gradient
// to its encoder: zero-fill with a mask by default.
// Concatenation rather than a mean lets the fusion weigh a weak modality (noisy speech) below a
// strong one; measured on the AV-FashionMNIST CI subset, a mean fell below the best single
// modality.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define PM_MAX_MOD 4

typedef enum { PM_DENSE = 0, PM_TOKENS = 1 } PmInputKind;

typedef struct {
    int n_mod;
    PmInputKind kind[PM_MAX_MOD];
    int in_dim[PM_MAX_MOD]; // dense: features per sample; tokens: tokens per sample (T)
    int vocab[PM_MAX_MOD];  // tokens only: table rows
    int D, K;               // common width, classes
} PmConfig;

// Offsets of every parameter tensor in the flat buffer (transparent, STYLE.md 9.3).
typedef struct {
    PmConfig c;
    size_t n_params;
    size_t enc_w[PM_MAX_MOD], enc_b[PM_MAX_MOD]; // dense: W (D, in), b (D); tokens: E (V, D), no b
    size_t fuse_w, fuse_b, head_w, head_b;
} PartyModel;

typedef struct {
    int B;
    const float *dense[PM_MAX_MOD]; // (B, in_dim) for dense modalities, else NULL
    const int *tokens[PM_MAX_MOD];  // (B, T) for token modalities (ids < 0 are padding), else NULL
    const uint8_t *mask;            // (B, n_mod), 1 = present; NULL = every modality present
    const float *fill[PM_MAX_MOD];  // (B, D) stand-ins for missing rows of modality m; NULL = 0
} PmInput;

// Activations and their gradients for batches up to Bmax. Owned buffers (pm_work_free).
typedef struct {
    int Bmax;
    float *h[PM_MAX_MOD], *dh[PM_MAX_MOD]; // (Bmax, D)
    float *z, *dz;                         // (Bmax, M·D)
    float *u, *du;                         // (Bmax, D)
    float *drep; // (Bmax, D) extra gradient on u (after its ReLU), zeroed by pm_forward
    float *logits, *dlogits, *probs; // (Bmax, K)
} PmWork;

// CHECKs the config (n_mod 1..PM_MAX_MOD, positive sizes). Local.
void pm_init(PartyModel *m, const PmConfig *c);
// PyTorch's default init: W, b ~ U(-1/√in, 1/√in); embeddings ~ N(0, 1)·0.1 (small, as the bag
// averages them). Local.
void pm_init_params(const PartyModel *m, float *params, Rng *rng);

void pm_work_init(PmWork *w, const PartyModel *m, int Bmax);
void pm_work_free(PmWork *w);

// Writes w->logits (B, K) and zeroes w->drep: pm_encode then pm_fuse. Local.
void pm_forward(const PartyModel *m, const float *params, const PmInput *in, PmWork *w);
// The first half: every modality's embedding w->h[m] (B, D), present or not (a missing row's is
// the encoder's output on the zero / padding input, unused). Lets a caller compute in->fill from
// the present modalities before pm_fuse. Local.
void pm_encode(const PartyModel *m, const float *params, const PmInput *in, PmWork *w);
// The second half: z, u, logits from w->h and in->mask / in->fill; zeroes w->drep. Local.
void pm_fuse(const PartyModel *m, const float *params, const PmInput *in, PmWork *w);
// From w->dlogits (B, K) and w->drep (B, D), which it reads and leaves alone:
// grads (n_params) += dloss/dparams.
// Uses w's other buffers from the last pm_forward with the same input. Local.
void pm_backward(const PartyModel *m, const float *params, float *grads, const PmInput *in,
                 PmWork *w);
// Softmax CE over w->logits with optional per-sample weights; writes w->probs and, when grads is
// not NULL, w->dlogits and the backward. Returns the mean loss; *correct += argmax hits. Local.
// (pm_forward, then the CE; a caller adding other terms uses pm_ce and pm_backward itself.)
// Softmax CE of the last forward: writes w->probs; w->dlogits = dloss·∂CE/∂logits when dloss != 0
// (overwritten); *correct += argmax hits (when not NULL). Returns the (weighted) mean CE. Local.
double pm_ce(const PartyModel *m, PmWork *w, int B, const int *labels, const float *weights,
             double dloss, long *correct);
double pm_loss_backward(const PartyModel *m, const float *params, float *grads, const PmInput *in,
                        PmWork *w, const int *labels, const float *weights, long *correct);
