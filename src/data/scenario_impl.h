// scenario_impl.h - what the files of the scenario split share (scenario.h is the public side):
// the internal scn_* draws and shares of scenario_draw.c. Private to src/data/scenario*.c.
#pragma once

#include <stdint.h>

#include "core/rng.h"
#include "data/scenario.h"

// ---- random draws and shares (scenario_draw.c) ----

// p (k) = Dirichlet(a, ..., a) drawn from r, written; all mass on one random party if every
// Gamma draw underflows.
void scn_dirichlet_draw(Rng *r, double a, double *p, int k);
// count (k) = min + largest-remainder share of total - k*min by weights w (sum > 0). Written.
void scn_apportion(int64_t *count, const double *w, int k, int64_t total, int64_t min);
// Set bits of x.
int scn_popcount8(unsigned x);
// The j-th set bit of mask (j < popcount), -1 when there is none.
int scn_nth_bit(unsigned mask, int j);
