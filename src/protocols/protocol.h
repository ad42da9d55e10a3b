// protocol.h - the contract every collaboration protocol implements (docs/architecture.md §4).
//
// The round driver (src/fl) speaks to a protocol through this ops table over an opaque state. A
// round, as the driver runs it:
//
//   begin_round                                   every rank, local
//   for each sampled hosted party i:              hosts, local
//       start from the global model (fresh optimizer) or from its own (shape.own_models)
//       train with hooks(i, 1): completion, loss terms, a gradient term  (train/local.h)
//       after_local(i, params)
//   server_update(global, mean)   when the protocol has one: the driver forms the exact
//                                 sample-weighted (or, with shape.uniform_weights, unweighted)
//                                 mean of the arrived parties' trainable selection
//                                 (comm/exact.h) and calls it on rank 0
//   exchange                                      Collective: the protocol's own transfers, through
//                                                 comm/comm.h only, and the cloud's work
//   the driver broadcasts the global model        (shape.global_trained)
//   evaluation (docs/architecture.md §4, "Evaluation protocols"), with hooks(i, 0):
//     global:   the global model on the whole evaluation set and on every party's rows
//     personal: every party's own model as it left local training this round (own_models: the
//               one it keeps; in the final round a party that did not train gets the global
//               model fine-tuned on its rows) on its rows
//   evaluate() for the protocol's own models
//   record: per-party stats gathered to the cloud, then record() adds the protocol's series
//
// A method (src/methods) is a protocol plus its typed options and an extension the protocol
// defines (`ext`, e.g. FedAvg's server rule), so one protocol serves several methods. Everything a
// protocol keeps across rounds that a bit-exact resume needs is in its checkpoint fields.
#pragma once
#include <stdint.h>

#include "comm/comm.h"
#include "core/options.h"
#include "data/dataset.h"
#include "data/scenario.h"
#include "io/ckpt.h"
#include "io/metrics.h"
#include "models/model.h"
#include "train/local.h"
#include "train/samples.h"

// What the driver gives a protocol: borrowed, valid until the protocol is destroyed.
typedef struct {
    Comm *comm;
    const char *method;           // the method's name, for messages
    const ModelSpec *spec;        // the data's modalities and classes
    const Model *model;           // the parties' model (and the global model's kind)
    const Selection *sel;         // its trainable selection: what parties train and exchange
    const TrainConfig *tc;        // the parties' training options
    int batch;                    // minibatch size
    int parties, rounds;          //
    int first, count;             // this rank's hosted parties [first, first + count)
    const SampleLayout *layout;   //
    const Dataset *ds;            //
    const char *data, *scenario;  // names, for messages
    const Scenario *scn_train;    // every party's training rows and masks (every rank)
    const SampleSet *train;       // (count) the hosted parties' training rows
    const SampleSet *test;        // (count) their test rows
    const Scenario *scn_test;     // every party's test rows: their dataset rows in test_split
    DsSplit test_split;           // (validation or test rows: --eval-split)
    const int64_t *n_train;       // (parties) every party's training rows
    const SampleSet *global_test; // rank 0: every test row with every modality; empty elsewhere
    float *global;                // (n_params) the global model on every rank
    const OptSet *opts;           // every option of the run (optset_value: another group's keys)
} ProtocolEnv;

typedef struct {
    int round, rounds;      // 1-based round, of rounds
    const uint8_t *sampled; // (parties) 1 = trains this round
    const uint8_t *arrived; // (parties) 1 = sampled, and its update reaches the cloud
    const double *weight;   // (parties) aggregation weight of an arrived party with rows (Σ = 1;
                            // n_k / Σ n, or uniform with shape.uniform_weights), else 0
    int evaluated;          // this round ends with an evaluation
} RoundInfo;

// What exists to train and evaluate; create declares it.
typedef struct {
    int parties_train;   // sampled parties train locally every round (0: the centralized baseline)
    int aggregate;       // the driver forms the mean of the arrived parties' selection and calls
                         // server_update (which the protocol then has)
    int own_models;      // each party keeps its model and optimizer state across rounds (stored and
                         // checkpointed by the driver); else it starts each round from the global
                         // model with a fresh optimizer
    int global_trained;  // the global model changes (aggregation or the cloud's training): the
                         // driver broadcasts it every round and tests it on the global test set
    int n_party_stats;   // doubles per party that party_stats reports (gathered to the cloud)
    int uniform_weights; // the mean weighs every arrived party with rows alike (1/their number)
                         // rather than by its rows n_k (RoundInfo.weight)
    int no_finetune;     // the personal protocol tests the global model itself at parties that did
                         // not train (zero-shot), instead of fine-tuning it on their rows first
} ProtocolShape;

typedef struct Protocol {
    const char *name;
    // Collective. ext: the method's extension (the protocol's own type); opts: the method's typed
    // options (the method's OptGroup struct). Fills shape; CHECKs settings against the data.
    void *(*create)(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape);
    void (*destroy)(void *st); // required
    // Every rank, before the parties train. Local. Optional.
    void (*begin_round)(void *st, const RoundInfo *r);
    // Hosted party i's hooks, for training or evaluation; NULL = none. Local. Optional.
    const PartyHooks *(*hooks)(void *st, int i, int training);
    // Hosted party i has trained to params (n_params) this round. Local. Optional.
    void (*after_local)(void *st, int i, const float *params, const RoundInfo *r);
    // Rank 0, when shape.aggregate: global_sel ← f(global_sel, mean_sel) on the packed selection
    // (n = env->sel->n floats); mean_sel is the sample-weighted mean of the arrived parties'.
    // protocol_mean_update is FedAvg's. Local.
    void (*server_update)(void *st, float *global_sel, const float *mean_sel, size_t n,
                          const RoundInfo *r);
    // The round's own transfers and the cloud's work, after the aggregation. Collective. Optional.
    void (*exchange)(void *st, const RoundInfo *r);
    // Evaluation rounds, every rank after the parties' tests: the protocol's own models (the
    // cloud's large model, ...), kept for record. Local. Optional.
    void (*evaluate)(void *st, const RoundInfo *r);
    // shape.n_party_stats doubles of hosted party i for this round into out. Local. Optional.
    void (*party_stats)(void *st, int i, double *out);
    // Rank 0, before round 1: declares the protocol's series in log (metriclog_add). Optional.
    void (*declare_series)(void *st, MetricLog *log);
    // Rank 0, every round after the driver's own series: sets the protocol's; party_stats (parties,
    // n_party_stats) in party order; may write a short note for the round's log line (" | large
    // acc 0.912"). Optional.
    void (*record)(void *st, MetricLog *log, const double *party_stats, int evaluated, char *note,
                   size_t cap);
    // Appends the fields of the state a bit-exact resume needs (the same list on every rank; data
    // pointers may be NULL where a rank holds none), and derives what they imply after a read.
    // Optional.
    void (*ckpt_fields)(void *st, CkptList *l);
    void (*ckpt_restored)(void *st);
    // The cloud's own model sizes for the startup line (rank 0), 0 = none. Optional.
    size_t (*cloud_params)(void *st);
} Protocol;

// The FedAvg server update, global_sel = mean_sel: for protocols that average the parties' models.
void protocol_mean_update(void *st, float *global_sel, const float *mean_sel, size_t n,
                          const RoundInfo *r);
