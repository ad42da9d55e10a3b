// llama_lm_impl.h - what llama_lm.c (training forward/backward) and llama_lm_gen.c (KV-cached
// generation) share: per-layer offsets and the pieces of a block that do not depend on how
// attention sees the sequence. Not a public header: only these two files include it.
#pragma once
#include <stddef.h>

#include "models/llama_lm.h"

// Absolute offsets of layer l's slices of every stacked tensor.
typedef struct {
    size_t attn_norm, wq, wk, wv, wo, mlp_norm, w1, w3, w2;
    size_t a[LLAMA_N_ADAPTERS], b[LLAMA_N_ADAPTERS];
} LlamaLayerOff;

LlamaLayerOff llama_layer_off(const LlamaLM *lm, int l);

// la (N, r) = xa (N, D) · Aᵀ; out (N, D at row stride ldo) += scale · la · Bᵀ. nn/lora.h's
// lora_forward with a leading dimension: the q, k, v adapters add straight into the packed
// (N, 3D) qkv buffer that causal_attention reads.
void llama_adapter_forward(float *out, int ldo, float *la, const float *xa, const float *A,
                           const float *Bm, float scale, int N, int D, int r);
// qkv (N, 3D) = h · [Wq; Wk; Wv]ᵀ + the three adapters of layer o, whose inputs are xa[0..2]
// (h itself, or its dropped copies) and bottlenecks la[0..2] (N, r) (written).
void llama_qkv_forward(const LlamaLM *lm, const float *params, const LlamaLayerOff *o, float *qkv,
                       float *const la[3], const float *h, const float *const xa[3], int N);
// RoPE in place on the q and k blocks of qkv (N, 3D) whose row n is at position table row n % T
// (cos_t, sin_t (T, hd/2) from rope_table; −sin rotates back, the backward's transpose).
void llama_rope_rows(float *qkv, const float *cos_t, const float *sin_t, int N, int T, int D,
                     int H);
// x (N, D) += W2 · (silu(h2·W1ᵀ) ⊙ (h2·W3ᵀ)), writing g, u, s (N, F) (gate, up, product).
void llama_mlp_forward(const LlamaLM *lm, const float *params, const LlamaLayerOff *o, float *x,
                       float *g, float *u, float *s, const float *h2, int N);
