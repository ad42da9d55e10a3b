// attention.h - multi-head scaled dot-product attention core (the projections are linear layers).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD. qkv (B, T, 3D) holds q, k, v side by side per token (as llm.c); head h uses columns
// [h·D/H, (h+1)·D/H) of each. Scale 1/sqrt(D/H).
#pragma once

#include <stddef.h>
#include <stdint.h>

// out (B, T, D) = softmax(q kᵀ · scale + masks) v per head; att (B, H, T, T) holds the
// probabilities (the forward cache). causal: query t sees keys <= t. key_mask (B, T) may be NULL;
// key_mask[b, t] = 0 marks token t of sample b missing: no query attends to it. A query with no
// visible key outputs zeros (its att row is zero). Local.
void attention_forward(float *out, float *att, const float *qkv, const uint8_t *key_mask,
                       int causal, int B, int T, int D, int H);
// Floats of scratch attention_backward needs. Local.
size_t attention_workspace_size(int B, int T, int D, int H);
// dqkv (B, T, 3D) += ∂/∂qkv. work has attention_workspace_size floats. Local.
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        const uint8_t *key_mask, int causal, int B, int T, int D, int H,
                        float *work);
// Naive twin (per (b, h, t) loops, no BLAS). Tests only.
void attention_forward_ref(float *out, float *att, const float *qkv, const uint8_t *key_mask,
                           int causal, int B, int T, int D, int H);
