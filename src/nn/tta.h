// tta.h - the numerical pieces of the test-time-adaptation baselines CD-CCA compares with on the
// device (issue 15): TENT's prediction entropy with its gradient, and CoTTA's EMA teacher and
// stochastic restore of the parameters. What a baseline adapts (TENT: the norm affines; CoTTA: the
// trainable tensors) and its schedule belong to the caller; docs/distill.md says what each uses.
// Dimension legend (docs/conventions.md §6): N rows, V the width of a softmax row, n floats of a
// parameter buffer. Conventions: row-major float32; sums in double; backward ACCUMULATES (+=)
// into the gradient (zero it first), a NULL gradient means "not needed"; nothing here allocates;
// every function CHECKs its shapes and pointers. All Local.
// Sources: TENT (Wang et al., ICLR 2021: the entropy H(ŷ) = -Σ_c p(ŷ_c) log p(ŷ_c), averaged over
// the batch); CoTTA (Wang et al., CVPR 2022, and its released code: ema_param = α·ema_param +
// (1-α)·param with α = 0.999, and mask = rand(shape) < p restoring the source weights, p = 0.01).
#pragma once

#include <stddef.h>

#include "core/rng.h"

// Mean prediction entropy: loss = Σ_n (-Σ_v p[n,v] log p[n,v]) / N with p = softmax(z_n), z (N, V).
// log-softmax in double, max-subtracted; p log p of an underflowed p counts 0. The uniform row
// gives log V. CHECKs N, V >= 1 and z. No cache: the backward recomputes from z.
double entropy_forward(const float *z, int N, int V);
// dz (N, V) += dloss · ∂loss/∂z = dloss · (-p_v (log p_v + H_n)) / N, H_n the row's entropy.
// NULL dz is a no-op.
void entropy_backward(float *dz, const float *z, int N, int V, double dloss);

// EMA teacher: teacher[i] = a · teacher[i] + (1 - a) · student[i], i < n, each value computed in
// double and rounded once to float (a = 1 keeps the teacher, a = 0 copies the student). CoTTA uses
// a = 0.999 after every step. teacher and student must not overlap unless equal. CHECKs a finite
// in [0, 1] and the pointers (n = 0 is a no-op).
void ema_update(float *teacher, const float *student, size_t n, double a);

// Stochastic restore: for i = 0 .. n-1 in order, one u_i = rng_uniform(r) (24 bits, one 32-bit
// word of the stream) is drawn, and params[i] = source[i] when u_i < p. Exactly n words are drawn
// whatever p and the data, so the stream ends at the same place and the result depends only on
// (the stream's state, n, p): p = 0 restores nothing (u >= 0), p = 1 everything (u < 1). Returns
// how many floats were restored (including those already equal to their source). CHECKs p finite
// in [0, 1], the pointers, and n <= the stream's remaining words (2^34 - rng_words_drawn), before
// anything is drawn or written.
size_t stochastic_restore(float *params, const float *source, size_t n, double p, Rng *r);
