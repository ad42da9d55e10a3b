// synmm.h - SynMM, a parametric synthetic multimodal dataset with known structure
// (datasets/README.md).
//
// Generative story (all Gaussian, all linear, so the Bayes structure is known):
//   class c:        mean mu_c ~ class_sep * N(0, I_Z)                      (Z = latent size)
//   entity e:       label y_e ~ U{0..C-1}; z_e = mu_{y_e} + entity_spread * N(0, I_Z)
//   sample i:       entity e = i / per_entity (test entities are disjoint from train ones);
//                   z_i = z_e + sample_spread * N(0, I_Z); domain d_i ~ U{0..D-1} (meta column
//                   "domain")
//   vector mod. m:  x_m = W_m (info_m z_i + (1 - info_m) nu_{i,m}) + shift_{m,d_i} + noise_m * N(0,
//   I_dm)
//                   W_m fixed Gaussian d_m x Z / sqrt(Z); nu nuisance ~ N(0, I_Z); shift =
//                   domain_shift * N(0, I)
//   text:           text_len tokens; each is, with probability text_info, one of the label's
//   keywords,
//                   otherwise uniform over the vocabulary.
// Every sample is drawn from its own counter-RNG stream (seed, split, index), every entity from
// (seed, split, entity): rows do not depend on how the work is split or ordered.
#pragma once
#include <stdint.h>

#include "data/dsfile.h"

#define SYNMM_MAX_VEC 3

typedef struct {
    uint64_t seed;
    int64_t n[2]; // train, test rows
    int n_classes, latent;
    int n_vec;                  // vector modalities m0.., 0..SYNMM_MAX_VEC
    int dims[SYNMM_MAX_VEC];    // d_m
    float info[SYNMM_MAX_VEC];  // informativeness in [0, 1]
    float noise[SYNMM_MAX_VEC]; // observation noise std
    int text_len, vocab;        // text_len 0: no text modality
    float text_info;            // probability that a token is a class keyword
    int per_entity;             // samples per entity (>= 1)
    float class_sep, entity_spread, sample_spread;
    int n_domains;      // >= 1; meta column "domain"
    float domain_shift; // std of the per-domain feature offsets
} SynmmConfig;

// Defaults: 10 classes, latent 16, class_sep 0.5, entity_spread 0.5, sample_spread 0.3,
// m0 (32, info 0.8, noise 1), m1 (64, info 0.6, noise 1), text 8 tokens over 64 words (text_info
// 0.2), 4 samples per entity, 1 domain, seed 1, 10000 / 2000 rows. Nearest-class-mean test accuracy
// alone: m0 ~0.58, m1 ~0.49, text (keyword vote) ~0.61, chance 0.10: informative, none solved,
// fusion helps.
void synmm_default(SynmmConfig *c);

typedef struct Synmm Synmm;

// CHECKs the config; precomputes class means, projections and domain shifts. Owned: synmm_free.
Synmm *synmm_create(const SynmmConfig *c);
void synmm_free(Synmm *g);
// The file spec (strings owned by g, valid until synmm_free).
const DsSpec *synmm_spec(const Synmm *g);

// Rows [start, start + n) of a split into caller buffers: label (n), entity (n), meta (n, 1
// domain), vec[m] (n * dims[m] float32, m < n_vec), text (n * text_len int32; NULL when text_len ==
// 0).
void synmm_rows(const Synmm *g, DsSplit split, int64_t start, int64_t n, int32_t *label,
                int64_t *entity, int32_t *meta, float *const *vec, int32_t *text);

// Generates every row in blocks of `block` and writes path through dsfile. Returns seconds spent.
double synmm_write(const Synmm *g, const char *path, int64_t block);
