// party_model.h - the parties' small multimodal model (docs/architecture.md §3), a flat parameter
// layout plus one forward and one backward (llm.c style, no autograd).
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
//
// Under the model contract (models/model.h, party_model_create) it is the kind "party": tensors
// enc_<modality>/w and /b (dense) or enc_<modality>/emb (tokens), fuse/w, fuse/b, head/w, head/b,
// all trainable by default; rep = u, emb[m] = h_m, with the encode/fuse split.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "models/model.h"

typedef struct {
    int n_mod;
    ModelInputKind kind[MODEL_MAX_MOD];
    int in_dim[MODEL_MAX_MOD]; // dense: features per sample; tokens: tokens per sample (T)
    int vocab[MODEL_MAX_MOD];  // tokens only: table rows
    int D, K;                  // common width, classes
} PmConfig;

// Offsets of every parameter tensor in the flat buffer (transparent, docs/conventions.md §3).
typedef struct {
    PmConfig c;
    size_t n_params;
    size_t enc_w[MODEL_MAX_MOD],
        enc_b[MODEL_MAX_MOD]; // dense: W (D, in), b (D); tokens: E (V, D), no b
    size_t fuse_w, fuse_b, head_w, head_b;
} PartyModel;

// Activations and their gradients for batches up to Bmax. Owned buffers (pm_work_free).
typedef struct {
    int Bmax;
    float *h[MODEL_MAX_MOD], *dh[MODEL_MAX_MOD]; // (Bmax, D)
    float *z, *dz;                               // (Bmax, M·D)
    float *u, *du;                               // (Bmax, D)
    float *drep; // (Bmax, D) extra gradient on u (after its ReLU), zeroed by pm_forward
    float *logits, *dlogits, *probs; // (Bmax, K)
} PmWork;

// CHECKs the config (n_mod 1..MODEL_MAX_MOD, positive sizes). Local.
void pm_init(PartyModel *m, const PmConfig *c);
// PyTorch's default init: W, b ~ U(-1/√in, 1/√in); embeddings ~ N(0, 1)·0.1 (small, as the bag
// averages them). Local.
void pm_init_params(const PartyModel *m, float *params, Rng *rng);

void pm_work_init(PmWork *w, const PartyModel *m, int Bmax);
void pm_work_free(PmWork *w);

// Writes w->logits (B, K) and zeroes w->drep and w->dlogits: pm_encode then pm_fuse. Local.
void pm_forward(const PartyModel *m, const float *params, const ModelInput *in, PmWork *w);
// The first half: every modality's embedding w->h[m] (B, D), present or not (a missing row's is
// the encoder's output on the zero / padding input, unused). Lets a caller compute in->fill from
// the present modalities before pm_fuse. Local.
void pm_encode(const PartyModel *m, const float *params, const ModelInput *in, PmWork *w);
// The second half: z, u, logits from w->h and in->mask / in->fill; zeroes w->drep, w->dlogits.
// Local.
void pm_fuse(const PartyModel *m, const float *params, const ModelInput *in, PmWork *w);
// From w->dlogits (B, K) and w->drep (B, D), which it reads and leaves alone:
// grads (n_params) += dloss/dparams.
// Uses w's other buffers from the last pm_forward with the same input. Local.
void pm_backward(const PartyModel *m, const float *params, float *grads, const ModelInput *in,
                 PmWork *w);

// The party model under the model contract: m (zeroed or freed) gets the ops, a PartyModel layout
// for spec with width D, and the named tensors (every one trainable by default). Local.
void party_model_create(Model *m, const ModelSpec *spec, int D);
