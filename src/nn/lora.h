// lora.h - low-rank adapter added to a linear layer (Hu et al. 2021): out += scale · (inp·aᵀ)·bᵀ,
// with scale = alpha / r. The frozen base is linear_forward; this adds the trainable low-rank path.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

#include "core/rng.h"

// h (N, r) = inp (N, C) · a (r, C)ᵀ  (written: the forward cache);
// out (N, OC) += scale · h · b (OC, r)ᵀ  (accumulated onto the base layer's output). Local.
void lora_forward(float *out, float *h, const float *inp, const float *a, const float *b,
                  float scale, int N, int C, int OC, int r);
// With dh (N, r) a caller-provided scratch (overwritten):
// dh = scale · dout · b;  db (OC, r) += scale · doutᵀ · h;  da (r, C) += dhᵀ · inp;
// dinp (N, C) += dh · a. dinp, da, db may be NULL. Local.
void lora_backward(float *dinp, float *da, float *db, float *dh, const float *dout,
                   const float *inp, const float *h, const float *a, const float *b, float scale,
                   int N, int C, int OC, int r);

// ---- merging into the frozen weight (inference, or checkpointing a fine-tuned layer) ----
// w (OC, C) += scale · b (OC, r) · a (r, C): afterwards linear_forward with w alone gives the same
// out as linear_forward + lora_forward up to float rounding (the sums run in another order).
// lora_unmerge subtracts the same product. Merge then unmerge restores w only up to float rounding:
// each element is rounded once when the product is added and once when it is taken away, so
// |w' − w| <= ~2·FLT_EPSILON·(|w| + |scale·b·a|) elementwise, and a small w under a large product
// loses its low bits (w = 1e-4 under a product of 1e4 comes back as 0). Keep an unmerged copy of w
// when the exact base matters. Local.
void lora_merge(float *w, const float *a, const float *b, float scale, int C, int OC, int r);
void lora_unmerge(float *w, const float *a, const float *b, float scale, int C, int OC, int r);

// ---- LoRA dropout (PEFT's lora_dropout): dropout on the adapter's input only ----
// The adapter reads x = dropout(inp) while the caller's base linear_forward reads the undropped
// inp: out += scale · (x·aᵀ)·bᵀ. The mask comes from dropout_forward (nn/dropout.h): mask (N, C)
// = 0 with probability p, else 1/(1-p), drawn from rng (an RNG_DROPOUT stream; may be NULL when
// p == 0, which draws nothing and makes this lora_forward exactly). Writes the forward caches
// x (N, C) = inp · mask, mask (N, C) and h (N, r) = x·aᵀ. p in [0, 1). Local.
void lora_dropout_forward(float *out, float *h, float *x, float *mask, const float *inp,
                          const float *a, const float *b, float scale, float p, Rng *rng, int N,
                          int C, int OC, int r);
// lora_backward with x as the adapter's input, then dinp (N, C) += mask · (dh · a). dh (N, r)
// and dx (N, C) are caller-provided scratch (overwritten); dx may be NULL when dinp is. dinp, da,
// db may be NULL. The base path's dinp is the caller's linear_backward. Local.
void lora_dropout_backward(float *dinp, float *da, float *db, float *dh, float *dx,
                           const float *dout, const float *x, const float *mask, const float *h,
                           const float *a, const float *b, float scale, int N, int C, int OC,
                           int r);
