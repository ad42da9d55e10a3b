// linear.h - fully connected layer, out = inp · wᵀ + b, on sgemm (PyTorch nn.Linear layout).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

// out (N, OC) = inp (N, C) · w (OC, C)ᵀ + b (OC); b may be NULL. Local.
void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C,
                    int OC);
// dinp (N, C) += dout · w;  dw (OC, C) += doutᵀ · inp;  db (OC) += Σ_n dout. Any of dinp, dw, db
// may be NULL. Local.
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC);
// Naive twins (loops, double accumulation). Tests only.
void linear_forward_ref(float *out, const float *inp, const float *w, const float *b, int N, int C,
                        int OC);
void linear_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int N, int C, int OC);
