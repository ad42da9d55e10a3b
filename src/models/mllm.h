// mllm.h - the tiny multimodal LLM (LLaVA-1.5's shape at toy size): per dense modality a ViT
// encoder (models/vit.h) whose token grid is pixel-shuffled to fewer, wider tokens and mapped by a
// 2-layer GELU projector to the LM's width; a LLaMA-style decoder (models/llama_lm.h) reads one
// sequence per sample in which those visual/audio tokens sit in slots among text-token embeddings.
//
//   encoder e (modality named enc[e].name):  x_e (B, H·W) → ViT → (B, Gh, Gw, De)
//                                             → pixel shuffle (sh, sw) → (B, n_tok_e, sh·sw·De)
//                                             → Linear → GELU → Linear → (B, n_tok_e, D)
//   sequence row b (length len[b] <= T):      x[b, t] = tok_emb[ids[b, t]], or, at slot positions
//                                             slot[e][b] .. + n_tok_e - 1, encoder e's tokens
//   LM:                                       hid = decoder(x) (B, T, D), logits = hid · headᵀ
//
// Rows are left-aligned and right-padded to T: the decoder is causal, so padding after a row's end
// never reaches its positions (pad ids just need to be valid). One forward and one backward, no
// autograd; the frozen parts' weight gradients are skipped (MllmTrain). The text side (tokenizer,
// prompts) is the caller's: this file sees token ids only.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "models/llama_lm.h"
#include "models/model.h"
#include "models/vit.h"

#define MLLM_MAX_ENC 3
#define MLLM_NAME_MAX 16

typedef struct {
    char name[MLLM_NAME_MAX]; // the modality it reads: "image", "audio"
    VitConfig vit;            // C = 1; H·W floats per sample
    int sh, sw;               // pixel-shuffle factor over the (H/Ph, W/Pw) token grid
    int Dp;                   // projector hidden width
} MllmEncConfig;

typedef struct {
    int n_enc;
    MllmEncConfig enc[MLLM_MAX_ENC];
    LlamaConfig lm;
} MllmConfig;

// The layout: offsets of every part in the one flat buffer, in this order: encoders (each its
// ViT), projectors (per encoder p1/w (Dp, sh·sw·De), p1/b, p2/w (D, Dp), p2/b), the LM.
typedef struct {
    MllmConfig c;
    Vit vit[MLLM_MAX_ENC];
    int gh[MLLM_MAX_ENC], gw[MLLM_MAX_ENC]; // encoder token grid
    int n_tok[MLLM_MAX_ENC];                // tokens per sample after the shuffle
    int in_proj[MLLM_MAX_ENC];              // sh·sw·De
    size_t p1w[MLLM_MAX_ENC], p1b[MLLM_MAX_ENC], p2w[MLLM_MAX_ENC], p2b[MLLM_MAX_ENC];
    size_t proj_begin, proj_end; // the projectors' floats [proj_begin, proj_end)
    LlamaLM lm;
    size_t n_params;
} Mllm;

// Which parts a backward computes weight gradients for (LoRA always, when grads is not NULL).
typedef struct {
    int enc;     // the encoders' weights
    int proj;    // the projectors'
    int lm_base; // the LM's base weights (norms, projections, MLP); with tok_emb: embeddings too
    int emb;     // the token embedding (and a tied head)
} MllmTrain;

// One batch of sequences. Borrowed.
typedef struct {
    int B, T;                          // rows, padded length (every len[b] <= T)
    const int *ids;                    // (B, T) token ids in [0, V) (slot positions: any valid id)
    const int *len;                    // (B) tokens of each row
    const float *enc_in[MLLM_MAX_ENC]; // (B, H·W) encoder e's input rows (NULL: no row has it)
    const int *slot[MLLM_MAX_ENC];     // (B) first position of encoder e's tokens, -1 = absent
    // Instead of enc_in[e]: encoder e's tokens before the projector (after the pixel shuffle),
    // (B, n_tok, in_proj) by batch row (rows without the modality are not read). The encoder then
    // does not run: CD-CCA's cloud reads the tokens its devices uploaded. NULL = run the encoder.
    const float *tok_in[MLLM_MAX_ENC];
} MllmBatch;

typedef struct {
    int Bmax, Tmax;
    VitWork vit[MLLM_MAX_ENC];
    float *enc_x[MLLM_MAX_ENC];                  // (Bmax, H·W) gathered present rows
    float *shuf[MLLM_MAX_ENC];                   // (Bmax, n_tok, in_proj)
    float *p1[MLLM_MAX_ENC], *p1g[MLLM_MAX_ENC]; // (Bmax, n_tok, Dp) before / after GELU
    float *proj[MLLM_MAX_ENC];                   // (Bmax, n_tok, D)
    int *rows[MLLM_MAX_ENC];                     // (Bmax) batch row of each gathered row
    int n_rows[MLLM_MAX_ENC];                    // present rows of the last forward
    float *x, *dx;                               // (Bmax, Tmax, D)
    float *dhid; // (Bmax, Tmax, D) upstream gradient on the LM's hidden states
    LlamaWork lm;
    // scratch of the backward: the largest encoder's (Bmax, n_tok, ·) and (Bmax, Gh·Gw, De)
    float *dproj, *dp1, *dp1g, *dshuf, *dtok;
    // mllm_lm_loss: gathered rows with a target, up to Bmax·Tmax
    float *hrows, *dhrows; // (Bmax·Tmax, D)
    float *logits, *probs; // (Bmax·Tmax, V)
    int *tgt, *pos;        // (Bmax·Tmax) target id, flat position b·T + t
    int B, T;              // of the last forward
    // Extra upstream gradients a caller may set before mllm_backward (NULL = none; borrowed):
    // on the LM's hidden states (B, T, D), added to dhid; on encoder e's projector outputs
    // (n_rows[e], n_tok, D) in the order of rows[e], added to what the LM sends back (feature
    // distillation on the hidden states and on the visual tokens).
    const float *dhid_add;
    const float *dproj_add[MLLM_MAX_ENC];
} MllmWork;

// CHECKs the config (encoder names distinct and non-empty, shuffle factors dividing the grids, the
// LM's own checks) and lays out m. Local.
void mllm_init(Mllm *m, const MllmConfig *c);
// Every tensor under the model contract, named "enc_<name>/...", "proj_<name>/p1/w", ..., "lm/..."
// (the LM's tensors stacked over its layers carry ModelTensor.layers = L). Default trainable: the
// LoRA tensors, and the projectors when train_proj. Local.
void mllm_add_tensors(const Mllm *m, Model *model, int train_proj);
// Fresh weights for every part (vit_init_params, PyTorch-default projectors, llama_init_params).
void mllm_init_params(const Mllm *m, float *params, Rng *rng);
void mllm_work_init(MllmWork *w, const Mllm *m, int Bmax, int Tmax);
void mllm_work_free(MllmWork *w);
// The encoder of modality `name`, or -1.
int mllm_encoder(const Mllm *m, const char *name);

// Writes w->lm's hidden states (llama_forward) for the batch; drop: LoRA dropout stream (NULL =
// none). CHECKs B <= Bmax, T <= Tmax, len and slots inside the rows, ids in range. Local.
void mllm_forward(const Mllm *m, const float *params, const MllmBatch *b, MllmWork *w, Rng *drop);
// The hidden state of row b, position t of the last forward: (D), borrowed.
const float *mllm_hidden(const MllmWork *w, const Mllm *m, int b, int t);
// grads += the gradient of everything selected by tr from w->dhid (B, T, D), which the caller
// filled after the forward (zero where no loss reads). Uses the last forward's work. Local.
void mllm_backward(const Mllm *m, const float *params, float *grads, const MllmTrain *tr,
                   const MllmBatch *b, MllmWork *w);

// Next-token cross-entropy at every position with a target (targets (B, T): the id the position
// must predict, -1 = none), the mean over the counted positions; when grads is not NULL, writes
// w->dhid (scaled by dloss, zero elsewhere) and runs mllm_backward. correct (may be NULL) +=
// argmax hits. Runs the forward itself. Returns the mean loss (0 when nothing counts) and the
// counted positions in *n (may be NULL). Local.
double mllm_lm_loss(const Mllm *m, const float *params, float *grads, const MllmTrain *tr,
                    const MllmBatch *b, const int *targets, double dloss, MllmWork *w, Rng *drop,
                    int64_t *n, int64_t *correct);
// The same on the last forward of w, which the caller ran on b (so that it could set dhid_add /
// dproj_add from that forward's activations first). Local.
double mllm_lm_loss_last(const Mllm *m, const float *params, float *grads, const MllmTrain *tr,
                         const MllmBatch *b, const int *targets, double dloss, MllmWork *w,
                         int64_t *n, int64_t *correct);
