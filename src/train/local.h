// local.h - local training and evaluation of any model (models/model.h) on a sample set, with a
// protocol's hooks: completion of missing modalities, extra loss terms, a gradient term. Pure
// computation (no MPI): the same inputs give the same bits on any rank.
#pragma once
#include <stdint.h>

#include "models/model.h"
#include "train/metrics.h"
#include "train/samples.h"

// The training options of one party (or of the cloud's centralized model).
typedef struct {
    uint64_t seed;      // training streams: batch order, dropout, row selection (--seed.train)
    uint64_t init_seed; // initialisation of models a protocol creates (--seed.init)
    int epochs;         // passes over the rows
    int sgd;            // 1: SGD with momentum; 0: AdamW (β1 0.9, β2 beta2, ε 1e-8)
    double lr, momentum, weight_decay;
    double beta2; // AdamW's β2; 0 means 0.999
    double clip;  // global gradient-norm clip over the selection; 0 = off
    // Learning-rate schedule (train_lr): 0 = constant lr; 1 = cosine (FedMLLM / Hugging Face's
    // get_cosine_schedule_with_warmup): round r of `rounds` peaks at lr · f(r - 1, rounds, 1),
    // and a call's step s of S runs at that peak · f(s, S, 0), with warm-up over
    // w = ceil(warmup · n) of the n units: f(i, n, a) = (i + a) / w while i < w, else
    // ½(1 + cos(π (i − w) / (n − w))). Steps ramp from 0 as Hugging Face's; rounds from 1/w.
    int schedule;
    double warmup;
    int rounds;
} TrainConfig;

// The learning rate of step `step` (0-based) of `steps` in 1-based round `round` under tc's
// schedule. Local, pure.
double train_lr(const TrainConfig *tc, int round, int64_t step, int64_t steps);

// Scratch shared by every party a rank trains (parties train one after another). Owned.
typedef struct {
    ModelWork work;
    Batch batch;
    float *grads;   // (n_params)
    int64_t *order; // shuffled row order, grown as needed
    int64_t order_cap;
    ClassScores scores; // evaluate_model's rows (models with classes)
} TrainScratch;

// An optimizer's state for one model: AdamW moments or SGD velocity (v unused), indexed like the
// parameters (only the selection's floats are read or written), and the step.
typedef struct {
    float *m, *v; // (n_params) each
    int64_t step;
} OptState;

typedef struct {
    double loss_sum; // Σ over rows of the per-row loss (mean loss = loss_sum / n)
    int64_t correct, n;
    // evaluate_model only (train/metrics.h): NaN where undefined or not computed
    double macro_f1, auc, auc_hard;
} EvalStats;

// A protocol's additions to a party's training and evaluation; every member may be NULL. rows (B)
// are the batch rows' indices in the SampleSet, labels (B) their labels.
typedef struct PartyHooks {
    void *ctx;
    // Between encode and fuse (models with that split): may set in->fill[m] (B, emb_dim) for
    // missing rows, from w->emb of the present modalities. Training and evaluation alike.
    void (*fill)(void *ctx, const Model *m, ModelWork *w, ModelInput *in, const int64_t *rows,
                 int B);
    // After the CE's dlogits: adds the protocol's terms to w->dlogits (B, K) and w->drep (B,
    // rep_dim), already scaled to the batch mean, and returns their mean loss. Training only.
    double (*extra)(void *ctx, const Model *m, const float *params, ModelWork *w,
                    const ModelInput *in, const int64_t *rows, const int *labels, int B);
    // After the backward, before clipping: grads += the protocol's term on the selection's floats
    // (FedProx: μ(w − w_global)). Training only.
    void (*grad)(void *ctx, float *grads, const float *params, const Selection *sel);
    // After the forward: may overwrite w->logits (B, K) from w->rep (B, rep_dim), e.g. FedProto's
    // nearest-prototype scores; the loss and accuracy are then of these logits. Evaluation only.
    void (*logits)(void *ctx, const Model *m, ModelWork *w, int B);
} PartyHooks;

void train_scratch_init(TrainScratch *t, const Model *m, const SampleLayout *l, int Bmax);
void train_scratch_free(TrainScratch *t, const Model *m);

// tc->epochs passes of minibatch training of the selection of params on s, rows shuffled by the
// stream (seed, round, party, RNG_SHUFFLE); hooks (may be NULL) add completion, loss terms and a
// gradient term. Stats are of the training minibatches as they were seen (the CE only). CHECKs that
// hooks->fill has a model with the encode/fuse split. Local, deterministic.
void train_local(const Model *m, const Selection *sel, float *params, OptState *opt,
                 const SampleSet *s, const SampleLayout *l, const TrainConfig *tc, int round,
                 int party, const PartyHooks *hooks, TrainScratch *t, EvalStats *stats);
// Loss, accuracy, macro-F1, AUC and hard-label AUC (train/metrics.h) of params on every row of s
// (with its masks, completed by hooks->fill when set; hooks may be NULL). Local.
void evaluate_model(const Model *m, const float *params, const SampleSet *s, const SampleLayout *l,
                    const PartyHooks *hooks, TrainScratch *t, EvalStats *stats);

// One optimizer step on the selection (NULL = every float) with the step count advanced first:
// SGD or AdamW as tc says, at learning rate lr. The one optimizer wrapper of local training and
// of the cloud's own models. Local.
void train_opt_step(const TrainConfig *tc, double lr, float *params, const float *grads,
                    OptState *opt, size_t n_params, const Selection *sel);
