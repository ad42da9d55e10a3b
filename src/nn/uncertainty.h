// uncertainty.h - the uncertainty measures of CD-CCA's uplink (UTS; docs/methods.md): a sequence's
// confidence from its generated tokens' logits, per-token uncertainty from Monte-Carlo dropout
// passes, and the choice of the r·L most uncertain tokens.
// Dimension legend (docs/conventions.md §6): S Monte-Carlo passes, L tokens, D features, T
// generated tokens, V vocabulary. Row-major float32 inputs; sums in double; no function here
// allocates; every function CHECKs its shapes and pointers. All Local.
#pragma once

#include <stddef.h>
#include <stdint.h>

// The product over the T generated tokens of their largest softmax probability, from logits
// (T, V): exp(Σ_t log max_v softmax(logits[t])_v), computed stably in double. T = 0 gives 1.
double sequence_confidence(const float *logits, int T, int V);

// u (L) = per-token uncertainty from S >= 2 passes x (S, L, D): the mean over the D features of the
// (population) variance over the S passes, two-pass in double.
void mc_token_variance(double *u, const float *x, int S, int L, int D);

// The k = round(r · L) tokens with the largest u (ties to the lower index): sel[l] = 1 for them,
// 0 for the others. r in [0, 1]; idx is scratch of 2·L. Returns k. O(L log L) (core/order.h).
int top_uncertain_tokens(uint8_t *sel, const double *u, int L, double r, uint32_t *idx);
