// causal_attention.h - causal multi-head self-attention core for the decoder LM (issue 12): a
// full-sequence forward/backward for training and a KV-cached single-token step for generation.
// The q/k/v/output projections and RoPE are the caller's: q and k arrive already rotated.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank;
// here also hd = D/H the head width and Tmax the cache length.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES (+=) into every gradient (zero them first); a NULL gradient pointer means "not
// needed"; no function here allocates; every forward/backward CHECKs its shapes and pointers and
// ends with NANGUARD. As nn/attention.h: qkv (B, T, 3D) holds q, k, v side by side per token; head
// h uses columns [h·hd, (h+1)·hd) of each; scale 1/sqrt(hd); query t attends to keys 0..t.
// Source: Vaswani et al. 2017 eq. 1 with the decoder's causal mask; the KV cache as in llama.cpp /
// Pope et al. 2022; [I] reconstruction of the layout.
#pragma once

#include <stddef.h>

// out (B, T, D) = softmax(causal(q kᵀ · scale)) v per head; att (B, H, T, T) = the probabilities
// (the backward's cache; entries above the diagonal are exact zeros). Local. CHECKs B >= 0, T > 0,
// D % H == 0, non-NULL pointers.
void causal_attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int H);
// Floats of scratch causal_attention_backward needs (dP of one (b, h)). Local.
size_t causal_attention_workspace_size(int B, int T, int D, int H);
// dqkv (B, T, 3D) += ∂L/∂qkv given dout (B, T, D) = ∂L/∂out and the forward's att. dqkv NULL:
// nothing to do. work has causal_attention_workspace_size floats. Local.
void causal_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                               int B, int T, int D, int H, float *work);
// Naive twin (per (b, h, t) loops in double, no BLAS). Tests only.
void causal_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int D,
                                  int H);

// ---- KV cache for generation ----

// Keys and values of every position generated so far, for up to Bmax sequences that advance
// together (one pos for all). The buffers are the caller's (borrowed; kv_cache_floats(...) floats
// each); the struct only describes them.
typedef struct KvCache {
    float *k; // (Bmax, H, Tmax, hd): rotated keys
    float *v; // (Bmax, H, Tmax, hd)
    int Bmax, Tmax, D, H;
} KvCache;

// Floats of each of the k and v buffers of a cache for Bmax sequences of Tmax tokens. Local.
size_t kv_cache_floats(int Bmax, int Tmax, int D, int H);
// Describes the caller's buffers k and v (each kv_cache_floats(Bmax, Tmax, D, H) floats) as a
// cache; the contents are not touched (a position is written before it is read). Local. CHECKs
// shapes and pointers.
void kv_cache_init(KvCache *cache, float *k, float *v, int Bmax, int Tmax, int D, int H);
// Floats of scratch causal_attention_step needs (the scores of one (b, h)). Local.
size_t causal_attention_step_workspace_size(const KvCache *cache);
// One generation step at position pos for B <= Bmax sequences: writes the k and v of qkv_new
// (B, 3D) (this token's q, k, v, rotated) into the cache at pos, then out (B, D) = softmax(q ·
// K[0..pos]ᵀ · scale) V[0..pos] per head: the same as row pos of causal_attention_forward over
// tokens 0..pos. Positions 0..pos-1 must have been written by earlier steps. No backward. work has
// causal_attention_step_workspace_size floats. Local. CHECKs 0 <= pos < Tmax (the cache is full
// otherwise), B <= Bmax, D and H equal to the cache's, non-NULL pointers.
void causal_attention_step(float *out, const float *qkv_new, KvCache *cache, int pos, int B, int D,
                           int H, float *work);
