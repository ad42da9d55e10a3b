// blocks.h - a stack of L GPT-2 pre-LN transformer blocks over a (B, T, D) residual stream, shared
// by the cloud's MM-LM (mm_large.h) and the ViT encoders (vit.h): flat layer-major parameters, one
// forward and one hand-written backward (llm.c style, no autograd).
//
//   for l in 0..L-1:  x += attn(LN1(x), km) · W_oᵀ + b_o;  x += gelu(LN2(x) · W_fcᵀ + b_fc) · W_pᵀ
//   + b_p
//
// attn is full (non-causal) multi-head attention (nn/attention.h) under an optional key mask km
// (B, T); GELU is the tanh approximation; the MLP is 4D wide. Not here: what makes the tokens, any
// final LayerNorm, pooling or head (the caller's). Source: Radford et al. 2019 (GPT-2's pre-LN
// block), Dosovitskiy et al. 2021 eq. 2-3 (the same block in ViT); the layout follows llm.c.
// Conventions (docs/conventions.md §8): row-major float32; forward writes (=); backward accumulates
// (+=) into the parameter gradients; nothing here allocates but blocks_work_init.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "models/model.h"

// Per-layer parameter tensors: name and floats per layer. Each is stored for all L layers together
// (layer-major, as llm.c), so tensor `name` of layer l starts at b->name + l · size.
#define BLOCKS_LAYER_PARAMS(X, D)                                                                  \
    X(ln1w, (size_t)(D))                                                                           \
    X(ln1b, (size_t)(D))                                                                           \
    X(qkvw, (size_t)3 * (D) * (D))                                                                 \
    X(qkvb, (size_t)3 * (D))                                                                       \
    X(attprojw, (size_t)(D) * (D))                                                                 \
    X(attprojb, (size_t)(D))                                                                       \
    X(ln2w, (size_t)(D))                                                                           \
    X(ln2b, (size_t)(D))                                                                           \
    X(fcw, (size_t)4 * (D) * (D))                                                                  \
    X(fcb, (size_t)4 * (D))                                                                        \
    X(fcprojw, (size_t)4 * (D) * (D))                                                              \
    X(fcprojb, (size_t)(D))

// Offsets of the stack's tensors, absolute in the caller's flat parameter buffer: the stack's
// floats are [base, base + n_params), in BLOCKS_LAYER_PARAMS order.
typedef struct {
    int D, L, H; // width, blocks, heads (D % H == 0)
    size_t base, n_params;
#define BLOCKS_X_FIELD(name, n) size_t name; // (L, n)
    BLOCKS_LAYER_PARAMS(BLOCKS_X_FIELD, 0)
#undef BLOCKS_X_FIELD
} Blocks;

// Activations of one forward and the backward's scratch, for batches up to Bmax of T tokens. One
// arena, owned (blocks_work_free). Per-layer buffers hold L slabs of Bmax rows (layer l at
// l · Bmax · T · width).
typedef struct {
    int Bmax, T;
    float *x; // (L+1, Bmax, T, D) residual stream: x[0] the input (the caller writes it, see
              // blocks_in), x[l+1] block l's output, x[L] the stack's output (blocks_out)
    float *ln1, *ln1_mean, *ln1_rstd; // (L, Bmax, T, D), (L, Bmax, T), (L, Bmax, T)
    float *qkv;                       // (L, Bmax, T, 3D)
    float *att;                       // (L, Bmax, H, T, T) attention probabilities
    float *atty;                      // (L, Bmax, T, D) attention output before W_o
    float *xmid;                      // (L, Bmax, T, D) residual after attention
    float *ln2, *ln2_mean, *ln2_rstd; // (L, Bmax, T, D), (L, Bmax, T), (L, Bmax, T)
    float *fch, *fch_gelu;            // (L, Bmax, T, 4D) MLP hidden before/after GELU
    // backward scratch (free between backwards: a caller may borrow dA as (Bmax, T, 4D) floats)
    float *dln;      // (Bmax, T, D)
    float *dA, *dB;  // (Bmax, T, 4D)
    float *att_work; // attention_workspace_size(Bmax, T, D, H)
    float *arena;
} BlocksWork;

// Lays out L blocks of width D and H heads from float offset base. CHECKs D > 0, L > 0, H > 0,
// D % H == 0 (naming the values). Local.
void blocks_init(Blocks *b, int D, int L, int H, size_t base);
// model_add_tensor for the 12 stacked tensors, "<prefix>/<name>" of shape (L, ...) (e.g.
// "blocks/qkvw" (L, 3D, D)); they must come next in m's buffer order. Local.
void blocks_add_tensors(const Blocks *b, Model *m, const char *prefix, int trainable);
// GPT-2 init of the stack's floats of params: weights N(0, 0.02), the two residual projections
// (attprojw, fcprojw) N(0, 0.02/√(2L)), biases 0, LayerNorm w 1, b 0. Draws from rng in buffer
// order (qkvw, attprojw, fcw, fcprojw). Local.
void blocks_init_params(const Blocks *b, float *params, Rng *rng);

// Allocates w's arena (zeroed) for batches up to Bmax of T tokens (owned; CHECKs Bmax > 0, T > 0).
// blocks_work_free is safe on a zeroed or freed w and leaves it zeroed. Local.
void blocks_work_init(BlocksWork *w, const Blocks *b, int Bmax, int T);
void blocks_work_free(BlocksWork *w);
// The stream's input x[0] (Bmax, T, D), written by the caller before blocks_forward; borrowed.
static inline float *blocks_in(const BlocksWork *w) { return w->x; }
// The stack's output x[L] (Bmax, T, D) of the last blocks_forward; borrowed.
static inline float *blocks_out(const Blocks *b, const BlocksWork *w) {
    return w->x + (size_t)b->L * (size_t)w->Bmax * (size_t)w->T * (size_t)b->D;
}

// Runs the L blocks on the first B rows of x[0] (blocks_in), writing every activation slab and
// x[L] (blocks_out). key_mask (B, T) or NULL (every token visible): key_mask[b, t] = 0 means no
// query attends to token t (its own row is still computed). CHECKs B in 1..Bmax, pointers. Local.
void blocks_forward(const Blocks *b, const float *params, const uint8_t *key_mask, int B,
                    BlocksWork *w);
// Backward of the last blocks_forward (same params, key_mask, B). dx (B, T, D) is in/out: on entry
// ∂loss/∂x[L], on exit ∂loss/∂x[0] (the residuals carry it through in place). grads (n_params of
// the caller's buffer, same offsets as params) += ∂loss/∂params, or NULL: no parameter gradients
// (a frozen stack), only dx. CHECKs as the forward. Local.
void blocks_backward(const Blocks *b, const float *params, float *grads, const uint8_t *key_mask,
                     int B, BlocksWork *w, float *dx);
