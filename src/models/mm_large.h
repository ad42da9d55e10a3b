// mm_large.h - the cloud's multimodal large model (MM-LM, docs/architecture.md §3; BoMM,
// docs/methods.md §1, a reconstruction from the paper's abstract): per-modality encoders to tokens
// of width D, a pre-LN transformer over all modality tokens, a masked mean-pool and a head. Flat
// parameter layout plus one forward and one backward (llm.c style, no autograd).
//
//   per modality m, tokens at rows [tok_off[m], tok_off[m] + t_m) of the sequence (T = Σ t_m):
//     dense x_m (B, in_m):    tok = gelu(x_m · W_mᵀ + b_m) reshaped (B, t_m, D),  + E_mod,m (t_m,
//     D) tokens ids_m (B, T_m):  tok[s] = E_m[ids_m[s]] (one token per id, t_m = T_m), + E_mod,m
//     (t_m, D)
//   key mask km (B, T): 1 where the modality is present (and, for tokens, the id is >= 0)
//   L blocks:  x += attn(LN1(x), km) · W_oᵀ + b_o;  x += gelu(LN2(x) · W_fcᵀ + b_fc) · W_pᵀ + b_p
//              (the shared pre-LN stack of models/blocks.h)
//   rep = LN_f(Σ_t km·x_t / Σ_t km)   (B, D)        logits = rep · W_hᵀ + b_h   (B, K)
//
// E_mod is one learned embedding per token slot: it names the modality and, within it, the
// position (so text keeps its word order); for dense modalities it overlaps the bias, harmlessly.
// Tokens of a missing modality and padding ids are zero rows that no query attends to and the pool
// skips: they change nothing and get no gradient. Token ids of one sequence each become a token
// (not a bag) so that attention can relate words to image and audio tokens.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "models/blocks.h"
#include "models/model.h"

// Defaults of mm_config_default (at these, the AV-FashionMNIST MM-LM is ~16x the D = 64 party
// model).
#define MM_DEFAULT_D 128
#define MM_DEFAULT_L 2
#define MM_DEFAULT_H 4
#define MM_DEFAULT_DENSE_TOKENS 8

typedef struct {
    int n_mod;
    ModelInputKind kind[MODEL_MAX_MOD];
    int in_dim[MODEL_MAX_MOD]; // dense: features per sample; tokens: tokens per sample (T_m)
    int vocab[MODEL_MAX_MOD];  // tokens only: table rows
    int n_tok[MODEL_MAX_MOD];  // dense: tokens t_m the encoder makes; tokens: 0 or in_dim (set to
                               // in_dim)
    int D, L, H, K;            // width, transformer blocks, heads (D % H == 0), classes
} MmConfig;

// Offsets of every parameter tensor in the flat buffer (transparent, docs/conventions.md §3).
typedef struct {
    MmConfig c;
    size_t n_params;
    int T;                         // tokens per sample, Σ t_m
    int tok_off[MODEL_MAX_MOD];    // first token row of modality m
    size_t enc_w[MODEL_MAX_MOD];   // dense: W (t_m·D, in_m); tokens: E (V, D)
    size_t enc_b[MODEL_MAX_MOD];   // dense: b (t_m·D); tokens: none (an empty range)
    size_t mod_emb[MODEL_MAX_MOD]; // (t_m, D)
    Blocks blocks;                 // the L transformer blocks (models/blocks.h)
    size_t lnfw, lnfb;             // (D), (D)
    size_t headw, headb;           // (K, D), (K)
} MmLarge;

// Activations and gradients for batches up to Bmax: one arena, carved at init, plus the block
// stack's own work (blocks.h). Owned (mm_work_free).
typedef struct {
    int Bmax;
    float *pre[MODEL_MAX_MOD];  // dense: (Bmax, t_m·D) encoder output before GELU
    uint8_t *key_mask;          // (Bmax, T)
    BlocksWork blocks;          // the stack's activations: x[0] the tokens, x[L] its output
    float *pooled;              // (Bmax, D) masked mean of x[L]
    float *lnf_mean, *lnf_rstd; // (Bmax)
    float *rep;                 // (Bmax, D) LN_f(pooled): the representation (mm_rep)
    float *logits, *probs;      // (Bmax, K)
    float *dlogits;             // (Bmax, K) upstream gradient for mm_backward
    float *drep;                // (Bmax, D) extra upstream gradient on rep for mm_backward
    // backward scratch
    float *dx;             // (Bmax, T, D)
    float *dpooled, *dlnf; // (Bmax, D)
    float *arena;
} MmWork;

// CHECKs the config (n_mod 1..MODEL_MAX_MOD, positive sizes, D % H == 0, K > 1, dense n_tok > 0,
// token n_tok 0 or in_dim). Local.
void mm_init(MmLarge *m, const MmConfig *c);
// The MM-LM config for a data spec: same modalities, in_dim, vocab, K; D, L, H = MM_DEFAULT_*;
// MM_DEFAULT_DENSE_TOKENS tokens per dense modality. Local.
void mm_config_default(MmConfig *c, const ModelSpec *spec);
// Encoders and head: PyTorch's default U(-1/√in, 1/√in); token and modality embeddings N(0, 0.02);
// transformer weights N(0, 0.02) (the two residual projections 0.02/√(2L), GPT-2), biases 0,
// LayerNorm w 1, b 0. Local.
void mm_init_params(const MmLarge *m, float *params, Rng *rng);
// Allocates w's arena for batches up to Bmax (owned; CHECKs Bmax > 0); forward and backward never
// allocate. mm_work_free is safe on a zeroed or freed w and leaves it zeroed. Local.
void mm_work_init(MmWork *w, const MmLarge *m, int Bmax);
void mm_work_free(MmWork *w);

// Writes w->logits (B, K) and w->rep (B, D), and zeroes w->dlogits and w->drep so the caller adds
// only the gradients it has. Input as for the party model: in->dense[m] (B, in_m) for dense,
// in->tokens[m] (B, T_m) for token modalities (ids < 0 padding, ids >= V a CHECK failure);
// in->mask (B, n_mod) or NULL (all present). CHECKs B in 1..Bmax and the inputs. Local.
void mm_forward(const MmLarge *m, const float *params, const ModelInput *in, MmWork *w);
// The pooled, normalised representation of the last mm_forward: (B, D) row-major, borrowed (valid
// until mm_work_free, overwritten by the next forward). Add its gradient into w->drep. Local.
static inline const float *mm_rep(const MmWork *w) { return w->rep; }
// From w->dlogits (B, K) and w->drep (B, D), which it reads and leaves alone:
// grads (n_params) += dloss/dparams. Uses w's buffers from the last mm_forward with the same
// input. Local.
void mm_backward(const MmLarge *m, const float *params, float *grads, const ModelInput *in,
                 MmWork *w);

// The MM-LM under the model contract: m gets the ops, the layout for c and the named tensors
// enc_<mod>/w, enc_<mod>/b (dense) or enc_<mod>/emb (tokens), enc_<mod>/slots (the token-slot
// embeddings), blocks/<name> stacked over the L blocks (L, ...), lnf/w, lnf/b, head/w, head/b, all
// trainable by default; rep = the pooled representation; no encode/fuse split. mod_name (n_mod)
// may be NULL (then m0, m1, ...). Local.
void mm_large_create(Model *m, const MmConfig *c, const char (*mod_name)[MODEL_MOD_NAME_MAX]);
