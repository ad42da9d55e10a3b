// bomm_impl.h - the state the rooms of the large–small collaboration share (bomm.h); private to
// src/protocols/bomm*.c. Each room owns its fields; the comments say whose they are.
#pragma once
#include <stdint.h>

#include "models/generator.h"
#include "models/model.h"
#include "protocols/bomm.h"

typedef struct Bomm Bomm;

typedef struct {
    Bomm *b;
    int i, training; // hosted party, and whether the hooks are for training or evaluation
} BommHookCtx;

// Uploaded rows as a structure of arrays (bomm_upload.c): what a party sends for each of them.
typedef struct {
    int64_t n, cap;
    float *emb;     // (cap, M, D) the small model's embedding per modality; zeros where absent
    float *probs;   // (cap, K) the small model's soft labels
    int32_t *label; // (cap) the true label; on the cloud without bomm.upload-labels: argmax probs
    uint8_t *mask;  // (cap) bit m = modality m present
} BommRecords;

// Per-round diagnostics (rank 0; NaN where a part is off).
typedef struct {
    double aligned;   // uploaded rows with >= 2 modalities
    double pairs;     // pseudo-aligned pairs found by GPA
    double precision; // fraction of those whose two rows share the pseudo-label as true label
    double mm_loss;   // the large model's mean training loss
    double lambda;    // the generators' supervised weight λ_t
    double gen_sup, gen_dpo, gen_pair_acc; // generator losses and DPO pair accuracy
    double mm_acc;                         // the large model's test accuracy (evaluation rounds)
} BommDiag;

struct Bomm {
    const ProtocolEnv *env;
    BommSettings s;
    int rank, P, M, D, K, Bmax, count;
    int need_protos, need_upload;
    // bomm_protos.c: the global prototypes, every rank
    double *protos;   // (K, M, D)
    uint8_t *valid;   // (K, M)
    int64_t *pcount;  // (K, M)
    float *protos_f;  // (K, M, D)
    float *mean_emb;  // (M, D)
    double *protos_c; // (K, M, D) centred: protos − mean_emb, for the similarity distributions
    float *centred;   // (D) scratch
    uint8_t mod_valid[MODEL_MAX_MOD]; // modality m has at least one valid prototype
    int64_t have_protos;              // int64: a checkpoint field
    double *q, *qsum;                 // (K) scratch
    // bomm_upload.c: hosted parties' prototype sums and uploads
    double *sums;      // (count, K, M, D)
    int64_t *counts;   // (count, K, M)
    int64_t *up_n;     // (count) rows uploaded this round
    int64_t *up_rows;  // (count, upload) their indices
    BommRecords up;    // this rank's uploads, in party order
    float *soft;       // (Σ hosted rows, K) the large model's soft labels
    uint8_t *has_soft; // (Σ hosted rows)
    int64_t *row_off;  // (count) first row of party i in soft / has_soft
    // bomm_fill.c: completion
    double *filled, *admitted;  // (count) completed blocks this round, and admitted ones
    uint8_t *gen_mask;          // (count) generator targets received this round
    uint8_t *party_missing;     // (P) every rank: bit m = the party misses modality m somewhere
    float gamma;                // this round's admission threshold
    float *fill[MODEL_MAX_MOD]; // (Bmax, D)
    float *gsrc, *gproto;       // (Bmax, D)
    int *chat, *gcount;         // (2·Bmax), (Bmax)
    BommHookCtx *ctx;           // (2 · count)
    PartyHooks *hooks;          // (2 · count): training, evaluation
    // bomm_gen.c: generators; slot (t, s) = target t from source s, at (t·M + s)·gen_n
    Model gen_model;      // the layout (its impl is the Generator)
    const Generator *gen; // = gen_model.impl
    size_t gen_n;
    float *gen_params;     // (M·M, gen_n) every rank (a host holds the targets it needs)
    uint8_t *gen_trained;  // (M·M) every rank
    uint32_t have_targets; // targets this rank holds
    GenWork gw;            // every rank (the parties' fills use it too)
    int gen_bmax;
    float *gen_ref, *gen_grads, *gen_m, *gen_v; // rank 0: (M·M, gen_n); grads (gen_n)
    int64_t *gen_step;                          // rank 0: (M·M)
    // bomm_large.c: the cloud's large model (rank 0; the layout on every rank)
    Model mm;
    float *mm_params, *mm_grads;
    OptState mm_opt;
    ModelWork mw[3]; // full view and the two single-modality views of InfoNCE
    int mm_bmax;
    // bomm_exchange.c: the cloud's copy of every upload (rank 0)
    BommRecords all;
    float *all_soft; // (all.n, K) the large model's soft labels for them
    // scratch, every rank
    Batch batch;
    ModelWork pw; // the small model
    BommDiag diag;
};

static inline size_t bomm_kmd(const Bomm *b) { return (size_t)b->K * (size_t)b->M * (size_t)b->D; }
static inline float *bomm_gen_slot(const Bomm *b, float *base, int t, int s) {
    return base + ((size_t)t * (size_t)b->M + (size_t)s) * b->gen_n;
}
static inline const float *bomm_rec_emb(const BommRecords *r, const Bomm *b, int64_t i, int m) {
    return r->emb + ((size_t)i * (size_t)b->M + (size_t)m) * (size_t)b->D;
}
static inline int bomm_popcount8(unsigned x) { return __builtin_popcount(x & 0xffu); }

// ---- bomm_protos.c ----
void bomm_protos_init(Bomm *b);
void bomm_protos_free(Bomm *b);
// After the prototypes changed: float copies, mean embeddings, centred prototypes, modality flags.
void bomm_protos_finish(Bomm *b);
// out (D) = e − the modality's mean embedding.
void bomm_centre(const Bomm *b, float *out, const float *e, int m);
// The pseudo-label of one row (emb[m] (D) per modality present in mask); -1 when none scores.
int bomm_pseudo_label(Bomm *b, const float *const *emb, unsigned mask);
// The prototype of class k in modality m, or NULL (k < 0 or no prototype).
const float *bomm_proto_at(const Bomm *b, int k, int m);
// cos(e − mean_t, P[k][t] − mean_t) for a class k valid in t.
float bomm_centred_cosine(Bomm *b, const float *e, int k, int t);
// The generators' policy std for target t (bomm.sigma · the RMS of t's prototypes).
float bomm_policy_sigma(const Bomm *b, int t);

// ---- bomm_upload.c ----
void bomm_records_reserve(BommRecords *r, const Bomm *b, int64_t cap);
void bomm_records_free(BommRecords *r);
// Hosted party i trained to params: its prototype sums and, when it arrived, its uploaded rows.
void bomm_party_upload(Bomm *b, int i, const float *params, const RoundInfo *r);
// Rows party p uploads this round (every rank knows: the same for every party's host).
int64_t bomm_upload_rows(const Bomm *b, int p, const RoundInfo *r);
// Payload up of hosted party i's uploaded rows: present embeddings, soft labels, label (with
// bomm.upload-labels), mask.
double bomm_upload_bytes(const Bomm *b, int i);

// ---- bomm_fill.c ----
void bomm_fill_init(Bomm *b);
void bomm_fill_free(Bomm *b);
// *kl += KL(t ‖ q) of one row (K) with soft target t and probabilities q; dlogits += scale·(q − t).
void bomm_kl_soft_row(double *kl, float *dlogits, const float *q, const float *t, int K,
                      double scale);

// ---- bomm_large.c ----
void bomm_large_init(Bomm *b); // the layout on every rank, parameters on rank 0
void bomm_large_free(Bomm *b);
// Rank 0: one round of the large model on b->all; then its soft labels for every upload.
void bomm_large_train(Bomm *b, int round);
void bomm_large_soft_labels(Bomm *b);
// Rank 0: accuracy on rows encoded by the small model sm_params (every modality). NaN: none.
double bomm_large_eval(Bomm *b, const float *sm_params, const SampleSet *test);

// ---- bomm_gen.c ----
void bomm_gen_init(Bomm *b);
void bomm_gen_free(Bomm *b);
// Rank 0: one round of generator training on b->all.
void bomm_gen_train(Bomm *b, int round);
// Bitmask of the target modalities with at least one trained generator.
uint32_t bomm_gen_targets(const Bomm *b);

// ---- bomm_exchange.c ----
// The round's transfers and the cloud's work (Collective).
void bomm_exchange(Bomm *b, const RoundInfo *r);
