// train.h - one party's local training and the evaluation of a model on a sample set. Pure
// computation (no MPI): the same inputs give the same bits on any rank.
#pragma once
#include <stdint.h>

#include "cli/config.h"
#include "fl/samples.h"
#include "methods/method.h"
#include "models/party_model.h"

// Scratch shared by every party a rank trains (parties train one after another). Owned.
typedef struct {
    PmWork work;
    Batch batch;
    float *grads;   // (n_params)
    int64_t *order; // shuffled row order, grown as needed
    int64_t order_cap;
} TrainScratch;

// An optimizer's state for one model: AdamW moments or SGD velocity (v unused), and the step.
typedef struct {
    float *m, *v; // (n_params) each
    int64_t step;
} OptState;

typedef struct {
    double loss_sum; // Σ over rows of the per-row loss (mean loss = loss_sum / n)
    int64_t correct, n;
} EvalStats;

// A method's additions to a party's training and evaluation (BoMM completion and distillation,
// FedProto, MOON, ...); every member may be NULL. rows (B) are the batch rows' indices in the
// SampleSet, labels (B) their labels.
typedef struct PartyHooks {
    void *ctx;
    // Between pm_encode and pm_fuse: may set in->fill[m] (B, D) for missing rows, from w->h of
    // the present modalities. Training and evaluation alike.
    void (*fill)(void *ctx, const PartyModel *pm, PmWork *w, PmInput *in, const int64_t *rows,
                 int B);
    // After the CE's dlogits: adds the method's terms to w->dlogits (B, K) and w->drep (B, D)
    // (already scaled to the batch mean) and returns their mean loss. Training only.
    double (*extra)(void *ctx, const PartyModel *pm, const float *params, PmWork *w,
                    const PmInput *in, const int64_t *rows, const int *labels, int B);
} PartyHooks;

void train_scratch_init(TrainScratch *t, const PartyModel *pm, const SampleLayout *l, int Bmax);
void train_scratch_free(TrainScratch *t);

// local_epochs passes of minibatch training of params on s, rows shuffled by the stream
// (seed, round, party, RNG_SHUFFLE); the method's gradient hook sees `global` (may be NULL when the
// method has none); hooks (may be NULL) add completion and loss terms. Gradients are clipped to
// cfg->clip (0 = off). Stats are of the training minibatches as they were seen (the CE only).
// Local, deterministic.
void train_party(const PartyModel *pm, float *params, OptState *opt, const SampleSet *s,
                 const SampleLayout *l, const Config *cfg, const FlMethod *method,
                 const float *global, int round, int party, const PartyHooks *hooks,
                 TrainScratch *t, EvalStats *stats);
// Loss and accuracy of params on every row of s (with its masks, completed by hooks->fill when
// set; hooks may be NULL). Local.
void eval_model(const PartyModel *pm, const float *params, const SampleSet *s,
                const SampleLayout *l, const PartyHooks *hooks, TrainScratch *t, EvalStats *stats);
