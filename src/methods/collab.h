// collab.h - the settings of the large–small collaboration methods (kind METHOD_COLLAB): BoMM and
// the baselines that share its harness (prototype-, mean- and zero-fill, FedMKT-style logit
// exchange). src/fl/collab.c runs them; each method file only fills these settings.
//
// [I] BoMM is a reconstruction from the paper's abstract (research/methods.md §1): every component
// below (the JS/confidence alignment test, the reward, the two schedules, FedAvg among the small
// models) is our design choice, not the authors'.
#pragma once

typedef enum {
    FILL_ZERO = 0,  // a missing modality's block stays zero (the mask)
    FILL_MEAN = 1,  // the global mean embedding of that modality
    FILL_PROTO = 2, // the global prototype of the pseudo-label (PmcmFL-style)
    FILL_GEN = 3,   // BoMM's generators G(z_src, P[ĉ]) from the cloud
} FillKind;

enum { SCHED_MIX = 1, SCHED_ADMIT = 2 }; // CollabSettings.schedule bits

typedef struct {
    int fill;     // FillKind
    int use_mm;   // the cloud trains its multimodal large model on uploaded embeddings (SM → LM)
                  // and returns its soft labels for the parties' distillation (LM → SM)
    int gpa;      // pseudo-aligned cross-modal pairs from the global prototypes
    int singles;  // the large model also trains on uploaded single-modality rows
    int personal; // a party evaluates (uses) its model as it left this round's local training,
                  // specific to its domain, instead of the averaged one
    int dpo;      // generator: supervised + DPO (else supervised only)
    int schedule; // SCHED_* bits: λ_t decays (mix); admission threshold γ_t rises (admit)
    int upload;   // candidate rows a party uploads per round (embeddings + soft labels)
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
} CollabSettings;

// The defaults every collaboration method starts from (BoMM's, research/methods.md §1.4–§1.5 and
// §6.3, sized for two cores). Local.
static inline void collab_defaults(CollabSettings *s) {
    *s = (CollabSettings){.fill = FILL_ZERO,
                          .upload = 128,
                          .singles = 1,
                          .mm_width = 256,
                          .mm_layers = 4,
                          .mm_heads = 4,
                          .mm_tokens = 1,
                          .mm_epochs = 1,
                          .gen_hidden = 128,
                          .gen_epochs = 2,
                          .warmup = 3,
                          .candidates = 4,
                          .dpo_rows = 64,
                          .tau = 0.1,
                          .delta = 0.1,
                          .kappa = 0.6,
                          .kd = 0.5,
                          .mm_kd = 0.5,
                          .mm_con = 0.1,
                          .mm_lr = 1e-3,
                          .gen_lr = 1e-3,
                          .beta = 0.1,
                          .sigma = 0.2,
                          .eta = 1.0,
                          .lambda_min = 0.2,
                          .lambda_fixed = 0.5,
                          .lambda_a = 0.1,
                          .gamma0 = 0.5,
                          .gamma1 = 0.9};
}
