// scenario_opts.c - the run's typed overrides of a scenario preset (--scenario.alpha, ...): their
// option table, with types and ranges, so that a bad value is a parse error naming the key; and
// their application to a preset's config (see scenario.h).
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/scenario.h"

#define S_OPT(f) offsetof(ScenarioOverrides, f)
#define UNSET OPT_UNSET_OK
const OptSpec scenario_override_opts[] = {
    {"scenario.alpha", OPT_DOUBLE, S_OPT(alpha), "", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10000, NULL,
     "override: Dirichlet label-skew alpha (turns the Dirichlet split on)", UNSET},
    {"scenario.missing", OPT_DOUBLE, S_OPT(missing), "", OPT_LO | OPT_HI, 0, 1, NULL,
     "override: per-sample missing rate of every modality", UNSET},
    {"scenario.cross", OPT_RATIOS, S_OPT(cross), "", 0, 0, 0, NULL,
     "override: cross-modal party split, e.g. 3:7 (0 = off; at most one ratio per modality, each "
     "at most 1000)",
     UNSET},
    {"scenario.hybrid_p", OPT_DOUBLE, S_OPT(hybrid_p), "", OPT_LO | OPT_HI, 0, 1, NULL,
     "override: per-party modality presence p", UNSET},
    {"scenario.overlap", OPT_DOUBLE, S_OPT(overlap), "", OPT_LO | OPT_HI, 0, 1, NULL,
     "override: fraction of entities split across parties by modality", UNSET},
    {"scenario.quantity", OPT_DOUBLE, S_OPT(quantity), "", OPT_LO | OPT_HI, 0, 10000, NULL,
     "override: quantity skew (party sizes ~ Dirichlet(q); 0 = off)", UNSET},
    {"scenario.min_per_label", OPT_INT, S_OPT(min_per_label), "", OPT_LO | OPT_HI, 0, 10000, NULL,
     "override: minimum samples per party and label", UNSET},
};
#undef UNSET
#undef S_OPT
const int scenario_n_override_opts =
    (int)(sizeof scenario_override_opts / sizeof scenario_override_opts[0]);

void scenario_apply_overrides(ScenarioConfig *cfg, const ScenarioOverrides *o) {
    if (!isnan(o->alpha)) cfg->alpha = (float)o->alpha, cfg->skew = SCN_SKEW_DIRICHLET;
    if (!isnan(o->missing))
        for (int m = 0; m < SCN_MAX_MODALITIES; m++)
            cfg->missing[m] = (float)o->missing;
    if (o->cross[0]) scenario_config_set(cfg, "cross", o->cross); // checked at parse
    if (!isnan(o->hybrid_p)) cfg->hybrid_p = (float)o->hybrid_p;
    if (!isnan(o->overlap)) cfg->overlap = (float)o->overlap;
    if (!isnan(o->quantity)) cfg->quantity = (float)o->quantity;
    if (o->min_per_label != INT_MIN) cfg->min_per_label = o->min_per_label;
}

// The largest cross ratio: shares like 3:7 (larger ones only scale them), and a bound keeps their
// sum finite in float.
#define SCN_CROSS_MAX 1000.0

int scenario_overrides_check(const char *preset, const ScenarioOverrides *o, int n_parties,
                             int n_modalities, char *err, size_t cap) {
    ScenarioConfig cfg;
    // Unknown modalities (parse time): the most a preset can lay out; the rules on the count wait.
    int n_mod = n_modalities > 0 ? n_modalities : SCN_MAX_MODALITIES;
    if (scenario_preset(&cfg, preset, n_parties, n_mod) != 0) {
        size_t used =
            (size_t)snprintf(err, cap, "--scenario=%s: unknown preset; expected one of ", preset);
        for (int i = 0; SCENARIO_PRESETS[i] && used < cap; i++)
            used += (size_t)snprintf(err + used, cap - used, "%s%s", i ? ", " : "",
                                     SCENARIO_PRESETS[i]);
        return -1;
    }
    if (o->cross[0]) { // the table checked the syntax: finite non-negative numbers and colons
        const char *p = o->cross;
        for (int m = 0; *p; m++) {
            char *end;
            double r = strtod(p, &end);
            if (m >= SCN_MAX_MODALITIES) {
                snprintf(err, cap, "--scenario.cross=%s: more than %d ratios (one per modality)",
                         o->cross, SCN_MAX_MODALITIES);
                return -1;
            }
            if (r > SCN_CROSS_MAX) {
                snprintf(err, cap, "--scenario.cross=%s: ratio %g above %g", o->cross, r,
                         SCN_CROSS_MAX);
                return -1;
            }
            p = *end == ':' ? end + 1 : end;
        }
    }
    scenario_apply_overrides(&cfg, o);
    char why[512];
    if (scenario_config_check(&cfg, n_modalities, why, sizeof why) != 0) {
        snprintf(err, cap, "--scenario=%s with its --scenario.* overrides: %s", preset, why);
        return -1;
    }
    return 0;
}
