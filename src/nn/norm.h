// norm.h - LayerNorm over the last dimension (eps 1e-5, as PyTorch).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

// out (N, C) = (inp - mean) · rstd · w (C) + b (C); mean (N), rstd (N) are the forward cache.
// Statistics in double for accuracy. Local.
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C);
// dinp (N, C) +=, dw (C) +=, db (C) +=. Any gradient may be NULL. Local.
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C);
