// security.h - the options of the federation's defences (docs/security.md): robust aggregation
// and the attack simulator that measures it, client-level differential privacy, secure
// aggregation, Poisson party sampling and simulated stragglers. One typed struct inside Config,
// one option table (parsed, printed in --help, written to run.h5's /config like the others).
#pragma once
#include "core/options.h"

typedef struct {
    char robust[OPT_STR_MAX];      // --robust: none|reject|clip|median|trimmed-mean|krum
    double robust_norm;            // --robust.norm: L2 bound on a party's update (reject, clip)
    double robust_trim;            // --robust.trim: share cut at each end (trimmed-mean)
    int robust_f, robust_m;        // --robust.f, --robust.m: Krum's attackers, multi-Krum's m
    char attack[OPT_STR_MAX];      // --attack: none|signflip|scale|noise|nan
    int attackers;                 // --attackers: how many parties attack (fixed for the run)
    double attack_strength;        // --attack.strength: NaN = the attack's default
    char sample_mode[OPT_STR_MAX]; // --sample-mode: fixed|poisson
    double dp_clip, dp_noise;      // --dp.clip (C; 0 = off), --dp.noise (σ, noise multiplier)
    double dp_delta;               // --dp.delta
    int secagg;                    // --secagg
    double secagg_threshold;       // --secagg.threshold: share of the round's members
    double secagg_drop;            // --secagg.drop: a member vanishes after sharing its keys
    double straggler_deadline;     // --straggler.deadline (0 = off)
    double straggler_sigma;        // --straggler.sigma
} SecurityOpts;

extern const OptSpec security_opts[];
extern const int security_n_opts;

// The rules between these options and --parties, --sample (docs/options.md): a norm bound for
// reject and clip, Krum's K > 2f + 2 on the expected participants, attackers with an attack, DP's
// clip with noise and Poisson sampling and without an order-statistic or rejecting rule, secure
// aggregation without a rule that needs each party's update. OPT_OK, or OPT_ERR_BAD_VALUE with a
// message naming the options and values. Local.
int security_check(const SecurityOpts *s, int parties, int sample, char *err, size_t cap);

// Derived switches. Local.
static inline int security_dp(const SecurityOpts *s) { return s->dp_clip > 0; }
