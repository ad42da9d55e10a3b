// scenario.h - heterogeneity scenarios: which party holds which samples, with which modalities.
//
// From plain arrays (labels, entities, optional meta columns) plus a ScenarioConfig and a seed,
// scenario_compute gives every party its sample indices and per-sample modality masks. The result
// is a pure function of (data, config, seed): every random choice comes from the Philox stream
// (seed, tag, index, RNG_PARTITION) where tag names the step (scenario.c) and index is a label,
// party, entity or sample number, never a rank; so any rank layout computes the same split. It does
// not read files (dataset.h does) and does not apply the stage transforms (the batch loader does,
// from ScenarioStage). References: FedMLLM's 12 settings (docs/methods.md §3.6), BoMM's three
// scenarios (1.8), CD-CCA's domain-shift stages (2.7), Fed-CMP's one-pass streams (4.7).
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "core/options.h"

#define SCN_MAX_MODALITIES 4 // = DS_MAX_MODALITIES (dsfile.h)
#define SCN_MAX_STAGES 8
#define SCN_NAME_LEN 32

typedef enum { SCN_SKEW_IID = 0, SCN_SKEW_DIRICHLET = 1 } ScnSkew;

// One domain-shift stage (CD-CCA). Its samples are those whose meta column meta_key lies in
// [meta_lo, meta_hi]; with meta_key "" the stage takes a random 1/n_stages of the samples instead.
// The transform is applied at load time (scenario_stage_apply), not to the file:
//   image (pixels in pixel units p = 255 x): p' = clamp(contrast * (p - 127.5) + 127.5 + intensity,
//                                                      0, 255)
//   audio / vector:        x' = x + noise * std_m * N(0,1)   (std_m: the modality's train std)
typedef struct ScenarioStage {
    char meta_key[SCN_NAME_LEN]; // e.g. "snr_db", "accent", "voice"; "" = random selection
    int32_t meta_lo, meta_hi;    // inclusive range of that meta column
    float noise;                 // >= 0, relative noise std on audio/vector modalities
    float intensity;             // additive image shift in pixel units
    float contrast;              // > 0, image contrast factor (1 = unchanged)
} ScenarioStage;

// Transparent: fill with scenario_preset, then adjust with scenario_config_set (key=value).
typedef struct ScenarioConfig {
    char name[SCN_NAME_LEN];
    int n_parties;                     // key parties (>= 1)
    ScnSkew skew;                      // key skew = iid | dirichlet
    float alpha;                       // key alpha: Dirichlet concentration per label (> 0)
    int min_per_label;                 // key min_per_label: units per party and label (>= 0)
    float quantity;                    // key quantity: party sizes ~ Dirichlet(quantity); 0 = off
    float missing[SCN_MAX_MODALITIES]; // key missing / missing.<m>: per-sample drop rate in [0,1]
    int keep_one; // key keep_one: a sample that lost every modality gets one back
    float cross[SCN_MAX_MODALITIES]; // key cross = "3:7": party share holding only modality m;
                                     // all 0 = off
    float hybrid_p;                  // key hybrid_p: per-party presence of each modality in
                                     // [0,1]; < 0 = off
    float overlap;                   // key overlap: target fraction of entities split across two
                                     // parties by modality, in [0,1]; < 0 = uncontrolled. A
                                     // split entity's modality m' (one its first sample lacks,
                                     // else any) is held by a partner party that may hold m';
                                     // samples holding only m' stay whole (Scenario reports
                                     // the achieved count)
    int n_stages;                    // key stages (0..SCN_MAX_STAGES)
    ScenarioStage stages[SCN_MAX_STAGES]; // keys stage.<s>.meta|lo|hi|noise|intensity|contrast
    int stream_rounds;                    // key stream_rounds: one-pass chunks; 0 = off
} ScenarioConfig;

// The input: one split of a dataset, as plain arrays (borrowed).
typedef struct ScenarioData {
    int64_t n;                   // samples
    int n_classes, n_modalities; // 1..SCN_MAX_MODALITIES modalities
    const int32_t *label;        // (n) in [0, n_classes)
    const int64_t *entity;       // (n) or NULL (every sample is its own entity)
    const int32_t *meta;         // (n, n_meta) row-major, or NULL
    int n_meta;
    const char *const *meta_names; // (n_meta)
    const char *source;            // the data file the rows come from, for messages (NULL: unnamed)
} ScenarioData;

// One party's rows, ascending by sample index. A sample appears at most once per party; with
// overlap >= 0 a sample may appear at two parties with disjoint masks (each (sample, modality) pair
// is held at most once overall). mask 0 is possible when missing drops everything and keep_one = 0
// (FedMLLM's "both can be missing"); loaders skip such rows.
// The arrays are views into the Scenario's block (owned there).
typedef struct ScenarioParty {
    int64_t n;
    int64_t *index;     // (n) sample indices into the split
    uint8_t *mask;      // (n) bit m set = modality m present
    int8_t *stage;      // (n) domain-shift stage, 0 when n_stages == 0
    int32_t *chunk;     // (n) one-pass stream round, 0 when stream_rounds == 0
    uint8_t modalities; // the modalities this party may hold (cross-modal, hybrid), bitmask
} ScenarioParty;

typedef struct Scenario {
    int n_parties, n_modalities, n_classes;
    ScenarioParty *party;     // (n_parties) owned
    void *block;              // owned: one allocation holding every party's arrays
    int64_t n_entities;       // distinct entities among the samples
    int64_t n_split_entities; // entities held at >= 2 parties in different modalities (achieved)
    int64_t n_unassigned;     // samples in no party (matched no stage)
} Scenario;

// Writes cfg for a named preset with n_parties parties for data with n_modalities modalities.
// Names: iid; fedmllm-alpha{5,1,0.5}; fedmllm-missing{0.3,0.4,0.5}; fedmllm-cross{3:7,5:5,7:3};
// fedmllm-hybrid{0.8,0.7,0.6}; bomm-random, bomm-crossmodal, bomm-hybrid; cdcca-shift3;
// fedcmp-stream10 (datasets/scenarios.md describes each). Returns 0, or -1 for an unknown
// name (tier 3; the caller lists SCENARIO_PRESETS). Local.
int scenario_preset(ScenarioConfig *cfg, const char *name, int n_parties, int n_modalities);
// The preset names, NULL-terminated (static storage).
extern const char *const SCENARIO_PRESETS[];

// The rules of a config that need no data but its modality count (n_modalities <= 0: unknown,
// those rules skipped): alpha > 0, rates in [0,1], finite non-negative cross ratios (no more than
// the modalities), cross and hybrid_p exclusive, stages. Returns 0, or -1 with a message naming
// the scenario, the key and the value (tier 3). Local. scenario_compute CHECKs the same.
int scenario_config_check(const ScenarioConfig *cfg, int n_modalities, char *err, size_t cap);

// Sets one key (see ScenarioConfig) from text. CHECKs (dies) on an unknown key or an unparsable or
// out-of-range value, naming key and value. Local.
void scenario_config_set(ScenarioConfig *cfg, const char *key, const char *value);

// Computes the split. CHECKs cfg against data (naming the key and value): alpha <= 0, rates outside
// [0,1], more parties than units, a label with fewer than n_parties * min_per_label units, unknown
// stage meta columns, labels out of range. Units are samples, or whole entities when overlap >= 0
// (an entity counts under its first sample's label).
// s is written (call scenario_free). Local, deterministic, independent of ranks.
void scenario_compute(Scenario *s, const ScenarioConfig *cfg, const ScenarioData *d, uint64_t seed);
// Frees; safe on a zeroed or freed struct.
void scenario_free(Scenario *s);

// Applies stage st to one sample's features x (n floats, as dataset_read_features gives them:
// pixels in [0,1]) in place. is_image selects the image rule, else noise with std noise *
// feature_std from the stream (seed, stage noise tag, sample, RNG_PARTITION), so a sample's noise
// does not depend on batch composition or rank. Local.
void scenario_stage_apply(const ScenarioStage *st, int is_image, float *x, int64_t n,
                          float feature_std, uint64_t seed, int64_t sample);

// Per-party counts: per_class (n_parties, n_classes), per_mod (n_parties, n_modalities) count rows
// with that modality present, empty (n_parties) rows with mask 0. Written. Any pointer may be NULL.
void scenario_counts(const Scenario *s, const int32_t *label, int64_t *per_class, int64_t *per_mod,
                     int64_t *empty);
// The summary table (per party: rows, samples per class, per modality, empty) to f; CSV with header
// party,samples,class:<name>...,mod:<name>...,empty when csv != 0. Names may be NULL (then c0, m0).
void scenario_summary(FILE *f, const Scenario *s, const int32_t *label,
                      const char *const *class_names, const char *const *modality_names, int csv);

// ---- the run's overrides of a preset (--scenario.<key>), typed ----

// Unset fields keep the preset's value: NaN for the numbers, INT_MIN for min_per_label, "" for
// cross (core/options.h OPT_UNSET_OK).
typedef struct {
    double alpha;            // Dirichlet label skew (> 0); setting it turns the Dirichlet split on
    double missing;          // per-sample missing rate of every modality, in [0, 1]
    double hybrid_p;         // per-party presence of each modality, in [0, 1]
    double overlap;          // fraction of entities split across parties by modality, in [0, 1]
    double quantity;         // party sizes ~ Dirichlet(quantity); 0 = off
    int min_per_label;       // units per party and label (>= 0)
    char cross[OPT_STR_MAX]; // cross-modal split "a:b[:c[:d]]", or "0" = off
} ScenarioOverrides;

// The option table of the overrides, keys "scenario.<key>", offsets into ScenarioOverrides.
extern const OptSpec scenario_override_opts[];
extern const int scenario_n_override_opts;
// Applies the set fields of o to cfg (after scenario_preset). Local.
void scenario_apply_overrides(ScenarioConfig *cfg, const ScenarioOverrides *o);
// The preset name, the overrides' own limits (cross: at most SCN_MAX_MODALITIES ratios, each at
// most 1000) and the preset with the overrides applied (scenario_config_check) for n_parties; with
// n_modalities <= 0 (at parse time, the data unknown) the rules on the modality count are left
// for a second call with the data's. Returns 0, or -1 with a message naming the option (--scenario,
// --scenario.<key>) and the value (tier 3). Local.
int scenario_overrides_check(const char *preset, const ScenarioOverrides *o, int n_parties,
                             int n_modalities, char *err, size_t cap);
