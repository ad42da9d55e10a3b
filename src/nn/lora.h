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
