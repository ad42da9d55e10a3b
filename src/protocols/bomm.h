// bomm.h - the large–small collaboration protocol: BoMM and the baselines that share its harness
// (prototype-, mean- and zero-fill, FedMKT-style logit exchange). Each method fills BommSettings.
//
// [I] BoMM is a reconstruction from the paper's abstract: every component below (the JS/confidence
// alignment test, the reward, the two schedules, FedAvg among the small models) is our design
// choice, not the authors'. One round:
//   parties:  FedAvg-ed small models (SM); local training completes missing modalities (fill) and
//             adds KL(p_LM ‖ p_SM) on rows that carry the large model's soft labels;
//   upload:   prototype sums and counts per (class, modality) of the SM embeddings (exact
//             collective, comm/proto_reduce.h); embeddings + SM soft labels + labels of `upload`
//             sampled rows (never raw data; the labels only with bomm.upload-labels, else the
//             cloud uses the argmax of the soft labels wherever a label is needed) — bomm_upload.c;
//   cloud:    GPA pairs single-modality rows of different modalities whose similarity
//             distributions over the global prototypes agree (align.h); the large model
//             (models/mm_large.h, one token per modality embedding) trains on aligned rows,
//             pseudo-aligned pairs and single-modality rows with CE + InfoNCE + KD — bomm_large.c;
//             each generator G(m → m') trains with the supervised term and, after the warm-up,
//             DPO with the large model as reward model — bomm_gen.c;
//   download: the SM, soft labels for the uploaded rows, the generators point-to-point to exactly
//             the hosts whose parties miss their target (comm/deliver.h) — bomm_exchange.c.
// Completion and admission of the parties' missing blocks: bomm_fill.c; the global prototypes and
// what is derived from them: bomm_protos.c. Every step is deterministic and independent of the rank
// layout (the cloud's work happens on rank 0 in party order; party work depends only on (seed,
// round, party)).
#pragma once
#include "core/options.h"
#include "protocols/protocol.h"

typedef enum {
    FILL_ZERO = 0,  // a missing modality's block stays zero (the mask)
    FILL_MEAN = 1,  // the global mean embedding of that modality
    FILL_PROTO = 2, // the global prototype of the pseudo-label (PmcmFL-style)
    FILL_GEN = 3,   // BoMM's generators G(z_src, P[ĉ]) from the cloud
} FillKind;

enum { SCHED_MIX = 1, SCHED_ADMIT = 2 }; // BommSettings.schedule bits

// The harness's settings: BoMM's typed options (bomm_opts, keys "bomm.*", whose defaults are the
// only ones) plus what a method fixes (fill, use_mm, schedule bits).
typedef struct {
    int fill;     // FillKind
    int use_mm;   // the cloud trains its multimodal large model on uploaded embeddings (SM → LM)
                  // and returns its soft labels for the parties' distillation (LM → SM)
    int schedule; // SCHED_* bits, from schedule_name
    int gpa;      // pseudo-aligned cross-modal pairs from the global prototypes
    int singles;  // the large model also trains on uploaded single-modality rows
    int dpo;      // generator: supervised + DPO (else supervised only)
    char schedule_name[OPT_STR_MAX]; // both|mix|admit|none: λ_t decays (mix); admission γ_t rises
    int upload;        // candidate rows a party uploads per round (embeddings + soft labels)
    int upload_labels; // the uploaded rows carry their true labels (else the cloud trains on the
                       // small model's predicted class: bomm_exchange.c)
    int mm_width, mm_layers, mm_heads, mm_tokens, mm_epochs;  // the MM-LM and its training
    int gen_hidden, gen_epochs, warmup, candidates, dpo_rows; // generators
    double tau, delta, kappa; // alignment test: temperature, JS threshold (nats), confidence
    double kd;                // party: weight of KL(p_MM ‖ p_SM) on rows with LM soft labels
    double mm_kd, mm_con;     // MM-LM: weights of KD from the SM soft labels and of InfoNCE
    double mm_lr, gen_lr;     // AdamW learning rates on the cloud
    double beta, sigma, eta;  // DPO temperature, policy std (relative to the RMS of the target
                              // modality's prototypes), reward's prototype weight
    double lambda_min, lambda_fixed, lambda_a; // λ_t floor (mix), λ without mix, anchoring
    double gamma0, gamma1; // admission threshold on cos(ẑ, P[ĉ]) from round 1 to the last
} BommSettings;

// BoMM's options (keys "bomm.*", offsets into BommSettings).
#define BOMM_N_OPTS 32
extern const OptSpec bomm_opts[BOMM_N_OPTS];
// The rules between the options of bomm_opts (an OptGroup validate): mm-width a multiple of
// mm-heads. OPT_OK or OPT_ERR_BAD_VALUE naming both. Local.
int bomm_settings_validate(const void *opts, const OptSet *set, char *err, size_t cap);
// s = the table's defaults, fill FILL_ZERO, use_mm 0: where every method of the harness starts.
// Local.
void bomm_settings_defaults(BommSettings *s);

// A method's extension: its settings from its options. Local.
typedef struct {
    void (*settings)(BommSettings *s, const void *opts);
} BommExt;

extern const Protocol protocol_bomm;

// A completion baseline defined by its fill kind alone, in its own method file: BoMM's defaults
// with that fill, no large model, no GPA, no DPO, the averaged model for every party.
#define BOMM_FILL_METHOD(NAME, FILL, SUMMARY, PROVENANCE)                                          \
    static void NAME##_settings(BommSettings *s, const void *opts) {                               \
        (void)opts;                                                                                \
        bomm_settings_defaults(s);                                                                 \
        s->fill = (FILL);                                                                          \
        s->gpa = 0, s->dpo = 0;                                                                    \
    }                                                                                              \
    static const BommExt NAME##_ext = {.settings = NAME##_settings};                               \
    const Method method_##NAME = {                                                                 \
        .opt = {.name = #NAME, .summary = SUMMARY, .provenance = PROVENANCE},                      \
        .protocol = &protocol_bomm,                                                                \
        .ext = &NAME##_ext}
