// scenario_config.c - a ScenarioConfig (scenario.h): the named presets (FedMLLM's 12 settings,
// BoMM's three, CD-CCA's stages, Fed-CMP's stream), key=value overrides, and the check of a config
// against the data that scenario_compute runs first. No random draws here.
#include "data/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "data/scenario_impl.h"

const char *const SCENARIO_PRESETS[] = {
    "iid",
    "fedmllm-alpha5",
    "fedmllm-alpha1",
    "fedmllm-alpha0.5",
    "fedmllm-missing0.3",
    "fedmllm-missing0.4",
    "fedmllm-missing0.5",
    "fedmllm-cross3:7",
    "fedmllm-cross5:5",
    "fedmllm-cross7:3",
    "fedmllm-hybrid0.8",
    "fedmllm-hybrid0.7",
    "fedmllm-hybrid0.6",
    "bomm-random",
    "bomm-crossmodal",
    "bomm-hybrid",
    "cdcca-shift3",
    "fedcmp-stream10",
    NULL,
};

// ---- presets and keys ----

static void config_defaults(ScenarioConfig *cfg, const char *name, int n_parties) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "%s", name);
    cfg->n_parties = n_parties;
    cfg->skew = SCN_SKEW_IID;
    cfg->alpha = 1.0f;
    cfg->hybrid_p = -1.0f;
    cfg->overlap = -1.0f;
    for (int s = 0; s < SCN_MAX_STAGES; s++)
        cfg->stages[s].contrast = 1.0f;
}

// FedMLLM (methods.md 3.6): Dirichlet per label over the parties, at least 1 unit per party and
// label; alpha 0.5 for the missing, cross-modal and hybrid settings.
static void fedmllm_base(ScenarioConfig *cfg, float alpha) {
    cfg->skew = SCN_SKEW_DIRICHLET;
    cfg->alpha = alpha;
    cfg->min_per_label = 1;
}

// Cross-modal a:b: modality 0 (image) against the others, b shared evenly among them.
static void set_cross(ScenarioConfig *cfg, float a, float b, int n_modalities) {
    cfg->cross[0] = a;
    for (int m = 1; m < n_modalities && m < SCN_MAX_MODALITIES; m++)
        cfg->cross[m] = b / (float)(n_modalities - 1);
}

int scenario_preset(ScenarioConfig *cfg, const char *name, int n_parties, int n_modalities) {
    CHECK_PTR(cfg);
    CHECK_PTR(name);
    CHECK(n_modalities >= 1 && n_modalities <= SCN_MAX_MODALITIES,
          "scenario_preset(%s): n_modalities=%d outside [1,%d]", name, n_modalities,
          SCN_MAX_MODALITIES);
    config_defaults(cfg, name, n_parties);
    float v, w;
    char tail;
    if (!strcmp(name, "iid")) return 0;
    if (sscanf(name, "fedmllm-alpha%f%c", &v, &tail) == 1) {
        if (v != 5.0f && v != 1.0f && v != 0.5f) return -1;
        fedmllm_base(cfg, v);
        return 0;
    }
    if (sscanf(name, "fedmllm-missing%f%c", &v, &tail) == 1) {
        if (v != 0.3f && v != 0.4f && v != 0.5f) return -1;
        fedmllm_base(cfg, 0.5f);
        for (int m = 0; m < SCN_MAX_MODALITIES; m++)
            cfg->missing[m] = m < n_modalities ? v : 0;
        cfg->keep_one = 0; // FedMLLM drops each modality independently: both can be missing
        return 0;
    }
    if (sscanf(name, "fedmllm-cross%f:%f%c", &v, &w, &tail) == 2) {
        if (!((v == 3 && w == 7) || (v == 5 && w == 5) || (v == 7 && w == 3))) return -1;
        fedmllm_base(cfg, 0.5f);
        set_cross(cfg, v, w, n_modalities);
        return 0;
    }
    if (sscanf(name, "fedmllm-hybrid%f%c", &v, &tail) == 1) {
        if (v != 0.8f && v != 0.7f && v != 0.6f) return -1;
        fedmllm_base(cfg, 0.5f);
        cfg->hybrid_p = v;
        return 0;
    }
    // BoMM (methods.md 1.8, [I]): moderate label skew, low entity overlap (5 % of entities are
    // split across two parties by modality: the "alignment scarcity").
    if (!strncmp(name, "bomm-", 5)) {
        cfg->skew = SCN_SKEW_DIRICHLET;
        cfg->alpha = 1.0f;
        cfg->min_per_label = 1;
        cfg->overlap = 0.05f;
        if (!strcmp(name, "bomm-random")) {
            for (int m = 0; m < n_modalities; m++)
                cfg->missing[m] = 0.3f;
            cfg->keep_one = 1;
        } else if (!strcmp(name, "bomm-crossmodal")) {
            set_cross(cfg, 5, 5, n_modalities);
        } else if (!strcmp(name, "bomm-hybrid")) {
            cfg->hybrid_p = 0.7f;
            for (int m = 0; m < n_modalities; m++)
                cfg->missing[m] = 0.3f;
            cfg->keep_one = 1;
        } else {
            return -1;
        }
        return 0;
    }
    if (!strcmp(name, "cdcca-shift3")) {
        // Three stages with growing shift, random thirds of each party's data (no meta needed).
        cfg->n_stages = 3;
        cfg->stages[1] = (ScenarioStage){"", 0, 0, 0.3f, -40.0f, 0.7f};
        cfg->stages[2] = (ScenarioStage){"", 0, 0, 0.6f, 30.0f, 1.4f};
        return 0;
    }
    if (!strcmp(name, "fedcmp-stream10")) {
        cfg->stream_rounds = 10;
        return 0;
    }
    return -1;
}

static float parse_float(const char *key, const char *value) {
    char *end;
    errno = 0;
    float v = strtof(value, &end);
    CHECK(end != value && *end == '\0' && errno == 0 && isfinite(v),
          "scenario key %s=%s: not a number", key, value);
    return v;
}

static int parse_int(const char *key, const char *value) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    CHECK(end != value && *end == '\0' && errno == 0 && v >= -2147483647L && v <= 2147483647L,
          "scenario key %s=%s: not an integer", key, value);
    return (int)v;
}

static int parse_index(const char *key, const char *digits, int limit) {
    char *end;
    long v = strtol(digits, &end, 10);
    CHECK(end != digits && (*end == '\0' || *end == '.') && v >= 0 && v < limit,
          "scenario key %s: index outside [0,%d)", key, limit);
    return (int)v;
}

void scenario_config_set(ScenarioConfig *cfg, const char *key, const char *value) {
    CHECK_PTR(cfg);
    CHECK_PTR(key);
    CHECK_PTR(value);
    if (!strcmp(key, "parties")) {
        cfg->n_parties = parse_int(key, value);
    } else if (!strcmp(key, "skew")) {
        CHECK(!strcmp(value, "iid") || !strcmp(value, "dirichlet"),
              "scenario key skew=%s: expected iid or dirichlet", value);
        cfg->skew = strcmp(value, "iid") ? SCN_SKEW_DIRICHLET : SCN_SKEW_IID;
    } else if (!strcmp(key, "alpha")) {
        cfg->alpha = parse_float(key, value);
        cfg->skew = SCN_SKEW_DIRICHLET;
    } else if (!strcmp(key, "min_per_label")) {
        cfg->min_per_label = parse_int(key, value);
    } else if (!strcmp(key, "quantity")) {
        cfg->quantity = parse_float(key, value);
    } else if (!strcmp(key, "missing")) {
        float v = parse_float(key, value);
        for (int m = 0; m < SCN_MAX_MODALITIES; m++)
            cfg->missing[m] = v;
    } else if (!strncmp(key, "missing.", 8)) {
        cfg->missing[parse_index(key, key + 8, SCN_MAX_MODALITIES)] = parse_float(key, value);
    } else if (!strcmp(key, "keep_one")) {
        cfg->keep_one = parse_int(key, value);
    } else if (!strcmp(key, "cross")) {
        // "a:b[:c[:d]]" shares of single-modality parties per modality; "0" turns it off.
        memset(cfg->cross, 0, sizeof cfg->cross);
        const char *p = value;
        for (int m = 0; m < SCN_MAX_MODALITIES && *p; m++) {
            char *end;
            cfg->cross[m] = strtof(p, &end);
            CHECK(end != p && (*end == ':' || *end == '\0'),
                  "scenario key cross=%s: expected ratios like 3:7", value);
            p = *end == ':' ? end + 1 : end;
        }
        CHECK(*p == '\0', "scenario key cross=%s: more than %d ratios", value, SCN_MAX_MODALITIES);
    } else if (!strcmp(key, "hybrid_p")) {
        cfg->hybrid_p = parse_float(key, value);
    } else if (!strcmp(key, "overlap")) {
        cfg->overlap = parse_float(key, value);
    } else if (!strcmp(key, "stages")) {
        cfg->n_stages = parse_int(key, value);
    } else if (!strncmp(key, "stage.", 6)) {
        int s = parse_index(key, key + 6, SCN_MAX_STAGES);
        const char *field = strchr(key + 6, '.');
        CHECK(field != NULL, "scenario key %s: expected stage.<s>.<field>", key);
        field++;
        ScenarioStage *st = &cfg->stages[s];
        if (!strcmp(field, "meta")) {
            CHECK(strlen(value) < sizeof st->meta_key, "scenario key %s=%s: name too long", key,
                  value);
            snprintf(st->meta_key, sizeof st->meta_key, "%s", value);
        } else if (!strcmp(field, "lo")) {
            st->meta_lo = parse_int(key, value);
        } else if (!strcmp(field, "hi")) {
            st->meta_hi = parse_int(key, value);
        } else if (!strcmp(field, "noise")) {
            st->noise = parse_float(key, value);
        } else if (!strcmp(field, "intensity")) {
            st->intensity = parse_float(key, value);
        } else if (!strcmp(field, "contrast")) {
            st->contrast = parse_float(key, value);
        } else {
            CHECK(0,
                  "scenario key %s: unknown stage field '%s' (meta, lo, hi, noise, intensity, "
                  "contrast)",
                  key, field);
        }
    } else if (!strcmp(key, "stream_rounds")) {
        cfg->stream_rounds = parse_int(key, value);
    } else {
        CHECK(0,
              "scenario key %s=%s: unknown key (parties, skew, alpha, min_per_label, quantity, "
              "missing[.m], keep_one, cross, hybrid_p, overlap, stages, stage.<s>.*, "
              "stream_rounds)",
              key, value);
    }
}

// ---- the check against the data ----

#define BAD(...) return snprintf(err, cap, __VA_ARGS__), -1

int scenario_config_check(const ScenarioConfig *cfg, int n_modalities, char *err, size_t cap) {
    if (cfg->n_parties < 1) BAD("scenario %s: parties=%d must be >= 1", cfg->name, cfg->n_parties);
    if (cfg->skew == SCN_SKEW_DIRICHLET && !(cfg->alpha > 0 && isfinite(cfg->alpha)))
        BAD("scenario %s: alpha=%g must be > 0", cfg->name, cfg->alpha);
    if (cfg->min_per_label < 0)
        BAD("scenario %s: min_per_label=%d must be >= 0", cfg->name, cfg->min_per_label);
    if (!(cfg->quantity >= 0 && isfinite(cfg->quantity)))
        BAD("scenario %s: quantity=%g must be >= 0 (0 = off)", cfg->name, cfg->quantity);
    int n_cross = 0;
    for (int m = 0; m < SCN_MAX_MODALITIES; m++) {
        if (!(cfg->missing[m] >= 0 && cfg->missing[m] <= 1))
            BAD("scenario %s: missing.%d=%g outside [0,1]", cfg->name, m, cfg->missing[m]);
        if (!(cfg->cross[m] >= 0 && isfinite(cfg->cross[m])))
            BAD("scenario %s: cross ratio %d = %g must be >= 0", cfg->name, m, cfg->cross[m]);
        if (n_modalities > 0 && m >= n_modalities && cfg->cross[m] != 0)
            BAD("scenario %s: cross ratio %d = %g but the data has %d modalities", cfg->name, m,
                cfg->cross[m], n_modalities);
        n_cross += cfg->cross[m] > 0;
    }
    if (n_modalities > 0 && n_cross > 0 && n_modalities < 2)
        BAD("scenario %s: cross needs >= 2 modalities, the data has %d", cfg->name, n_modalities);
    if (cfg->hybrid_p > 1 || isnan(cfg->hybrid_p))
        BAD("scenario %s: hybrid_p=%g outside [0,1]", cfg->name, cfg->hybrid_p);
    if (n_cross > 0 && cfg->hybrid_p >= 0)
        BAD("scenario %s: cross and hybrid_p=%g are exclusive", cfg->name, cfg->hybrid_p);
    if (cfg->overlap > 1 || isnan(cfg->overlap))
        BAD("scenario %s: overlap=%g outside [0,1] (< 0 = uncontrolled)", cfg->name, cfg->overlap);
    if (cfg->n_stages < 0 || cfg->n_stages > SCN_MAX_STAGES)
        BAD("scenario %s: stages=%d outside [0,%d]", cfg->name, cfg->n_stages, SCN_MAX_STAGES);
    int with_meta = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        const ScenarioStage *st = &cfg->stages[s];
        if (!(st->contrast > 0 && isfinite(st->contrast)))
            BAD("scenario %s: stage.%d.contrast=%g must be > 0", cfg->name, s, st->contrast);
        if (!(st->noise >= 0 && isfinite(st->noise)))
            BAD("scenario %s: stage.%d.noise=%g must be >= 0", cfg->name, s, st->noise);
        if (!isfinite(st->intensity))
            BAD("scenario %s: stage.%d.intensity=%g must be finite", cfg->name, s, st->intensity);
        with_meta += st->meta_key[0] != '\0';
    }
    if (with_meta != 0 && with_meta != cfg->n_stages)
        BAD("scenario %s: stages=%d but only %d name a meta column (all or none)", cfg->name,
            cfg->n_stages, with_meta);
    if (cfg->stream_rounds < 0)
        BAD("scenario %s: stream_rounds=%d must be >= 0", cfg->name, cfg->stream_rounds);
    return 0;
}

#undef BAD

void scn_check_config(const ScenarioConfig *cfg, const ScenarioData *d) {
    char err[512];
    CHECK(scenario_config_check(cfg, d->n_modalities, err, sizeof err) == 0, "%s", err);
}
