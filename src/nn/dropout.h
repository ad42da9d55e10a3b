// dropout.h - inverted dropout with masks from the counter RNG, so a mask depends only on the
// stream's name (seed, round, party, RNG_DROPOUT) and position: resumable and -np independent.
// Also used at inference for MC-dropout (call forward with training-style masks N times).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

#include <stddef.h>

#include "core/rng.h"

// Up to this p, masks are drawn by the lengths of the kept runs (one draw per dropped element);
// above it, one draw per element.
#define DROPOUT_SPARSE_P 0.25f

// mask (n) = 0 with probability p, else 1/(1-p) (the forward cache); out = inp · mask.
// p in [0, 1); p == 0 gives mask = 1 and draws nothing. out may alias inp. Local.
void dropout_forward(float *out, float *mask, const float *inp, size_t n, float p, Rng *rng);
// dinp += dout · mask. Local.
void dropout_backward(float *dinp, const float *mask, const float *dout, size_t n);
