// scenario_impl.h - what the files of the scenario split share (scenario.h is the public side):
// the internal scn_* functions (the config check, the draws and shares). Private to
// src/data/scenario*.c.
#pragma once

#include <stdint.h>

#include "core/rng.h"
#include "data/scenario.h"

// CHECKs (dies) on cfg against d, naming the key and value: parties, alpha, rates outside [0,1],
// cross with fewer than 2 modalities or with hybrid_p, stages (scenario_config.c).
void scn_check_config(const ScenarioConfig *cfg, const ScenarioData *d);

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
