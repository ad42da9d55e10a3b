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
    long step;
} OptState;

typedef struct {
    double loss_sum; // Σ over rows of the per-row loss (mean loss = loss_sum / n)
    int64_t correct, n;
} EvalStats;

void train_scratch_init(TrainScratch *t, const PartyModel *pm, const SampleLayout *l, int Bmax);
void train_scratch_free(TrainScratch *t);

// local_epochs passes of minibatch training of params on s, rows shuffled by the stream
// (seed, round, party, RNG_SHUFFLE); the method's gradient hook sees `global` (may be NULL when the
// method has none). Gradients are clipped to cfg->clip (0 = off). Stats are of the training
// minibatches as they were seen. Local, deterministic.
void train_party(const PartyModel *pm, float *params, OptState *opt, const SampleSet *s,
                 const SampleLayout *l, const Config *cfg, const FlMethod *method,
                 const float *global, int round, int party, TrainScratch *t, EvalStats *stats);
// Loss and accuracy of params on every row of s (with its masks). Local.
void eval_model(const PartyModel *pm, const float *params, const SampleSet *s,
                const SampleLayout *l, TrainScratch *t, EvalStats *stats);
