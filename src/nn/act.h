// act.h - elementwise activations and the residual add.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

#include <stddef.h>

// out = max(inp, 0). out may alias inp. Local.
void relu_forward(float *out, const float *inp, size_t n);
// dinp += dout · [out > 0]; takes the forward OUTPUT (so in-place forward is fine). Local.
void relu_backward(float *dinp, const float *out, const float *dout, size_t n);
// GELU, tanh approximation (PyTorch approximate='tanh', GPT-2). out must not alias inp. Local.
void gelu_forward(float *out, const float *inp, size_t n);
// dinp += dout · gelu'(inp). Local.
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
// out = a + b (out may alias a or b). Local.
void residual_forward(float *out, const float *a, const float *b, size_t n);
// da += dout; db += dout (either may be NULL). Local.
void residual_backward(float *da, float *db, const float *dout, size_t n);
