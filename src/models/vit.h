// vit.h - a small Vision Transformer encoder (Dosovitskiy et al. 2021, eq. 1-4; nanoVLM's shape
// at toy size) for the tiny multimodal LLM (issue 12): images and log-mel spectrograms to tokens.
//
//   p   = patchify(x)               (B, Np, C·Ph·Pw)   non-overlapping Ph×Pw patches (nn/patch.h)
//   z0  = p · W_pᵀ + b_p + pos      (B, Np, D)         pos: one learned embedding per patch
//   zL  = blocks(z0)                                   L pre-LN blocks, H heads, MLP 4D, GELU,
//                                                      full attention, no mask (models/blocks.h)
//   out = LN_f(zL)                  (B, Np, D)         the tokens the caller projects onward
//
// Shapes at the AV-FashionMNIST sizes: a 1×28×28 image with 7×7 patches gives 16 patches of 49
// values; a 1×98×40 log-mel (time × mel) with 7×40 patches gives 14 time-patches of 280 values.
// Deliberately not here: a [CLS] token or pooling (the MLLM takes every patch token), dropout, a
// head, and the gradient of the input (inputs are data). The ViT's parameters are a range of the
// caller's flat buffer, so an MLLM holds its encoders, projector and LM in one buffer.
// Conventions (docs/conventions.md §8): row-major float32; forward writes (=); backward
// accumulates (+=) into the gradients; nothing here allocates but vit_work_init.
#pragma once
#include <stddef.h>

#include "core/rng.h"
#include "models/blocks.h"
#include "models/model.h"

typedef struct {
    int C, H, W; // input channels, height, width: x is (C, H, W) per sample, row-major
    int Ph, Pw;  // patch height and width (H % Ph == 0, W % Pw == 0)
    int D, L;    // width, transformer blocks
    int heads;   // attention heads (D % heads == 0)
} VitConfig;

// Offsets of every tensor, absolute in the caller's flat parameter buffer: the ViT's floats are
// [base, base + n_params), in the order below (transparent, docs/conventions.md §3).
typedef struct {
    VitConfig c;
    int Np;        // patches per sample, (H/Ph)·(W/Pw)
    int patch_dim; // C·Ph·Pw
    size_t base, n_params;
    size_t patch_w, patch_b; // (D, C·Ph·Pw), (D)
    size_t pos;              // (Np, D)
    Blocks blocks;           // L blocks (models/blocks.h), stacked (L, ...)
    size_t lnf_w, lnf_b;     // (D), (D)
} Vit;

// Activations for batches up to Bmax and the backward's scratch: one arena plus the block stack's
// work. Owned (vit_work_free).
typedef struct {
    int Bmax;
    float *patches;             // (Bmax, Np, C·Ph·Pw) the forward's patch matrix
    BlocksWork blocks;          // x[0] = z0, x[L] = zL
    float *lnf_mean, *lnf_rstd; // (Bmax·Np)
    float *out;                 // (Bmax, Np, D) the output tokens of the last vit_forward
    float *dz;                  // (Bmax, Np, D) backward scratch: ∂/∂zL, then ∂/∂z0
    float *arena;
} VitWork;

// Lays the ViT out from float offset base. CHECKs positive sizes, H % Ph == 0 and W % Pw == 0, and
// D % heads == 0, naming the values. Local.
void vit_init(Vit *v, const VitConfig *c, size_t base);
// model_add_tensor for every tensor, in buffer order (they must come next in m's buffer):
// "<prefix>/patch/w" (D, C·Ph·Pw), "<prefix>/patch/b" (D), "<prefix>/pos" (Np, D),
// "<prefix>/blocks/<name>" (L, ...) as blocks.h, "<prefix>/lnf/w" (D), "<prefix>/lnf/b" (D), each
// marked trainable as given. Local.
void vit_add_tensors(const Vit *v, Model *m, const char *prefix, int trainable);
// The ViT's floats of params: patch linear PyTorch's default U(-1/√(C·Ph·Pw), +1/√(C·Ph·Pw)) for w
// and b; pos N(0, 0.02); the blocks GPT-2 style (blocks_init_params: N(0, 0.02), residual
// projections 0.02/√(2L), biases 0, LN 1/0); LN_f 1/0. Draws from rng in buffer order. Local.
void vit_init_params(const Vit *v, float *params, Rng *rng);

// Allocates w for batches up to Bmax (owned; CHECKs Bmax > 0). vit_work_free is safe on a zeroed or
// freed w and leaves it zeroed. Local.
void vit_work_init(VitWork *w, const Vit *v, int Bmax);
void vit_work_free(VitWork *w);

// w->out (B, Np, D) = the ViT of x (B, C·H·W) (each sample (C, H, W) row-major), written; also
// every activation the backward needs. CHECKs B in 1..Bmax and the pointers. Local.
void vit_forward(const Vit *v, const float *params, const float *x, int B, VitWork *w);
// grads (the caller's buffer, same offsets as params) += ∂loss/∂(ViT params) given dout (B, Np, D)
// = ∂loss/∂out, using the activations of the last vit_forward with the same params, x and B. grads
// NULL: nothing to do (a frozen encoder needs no backward: there is no input gradient). CHECKs as
// the forward and dout. Local.
void vit_backward(const Vit *v, const float *params, float *grads, const float *x, int B,
                  VitWork *w, const float *dout);
