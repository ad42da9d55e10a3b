// run_impl.h - the state of one run, shared by the driver's files (run.h); private to src/fl.
#pragma once
#include <stdint.h>

#include "agg/attack.h"
#include "agg/robust.h"
#include "cli/config.h"
#include "comm/comm.h"
#include "comm/sum.h"
#include "core/sha256.h"
#include "data/dataset.h"
#include "data/holdout.h"
#include "data/scenario.h"
#include "io/metrics.h"
#include "io/runfile.h"
#include "methods/method.h"
#include "models/kinds.h"
#include "models/model.h"
#include "privacy/rdp.h"
#include "protocols/protocol.h"
#include "secagg/secagg.h"
#include "train/local.h"
#include "train/prox.h"
#include "train/samples.h"

// Per-party statistics the driver gathers to the cloud every round, in party order; the
// protocol's own follow them. An evaluation is six numbers (loss sum, correct, rows,
// macro-F1, AUC, hard-label AUC), under the global protocol (ST_G_*, the global model) and the
// personal one (ST_P_*, the party's own model); rows 0 = not evaluated.
enum {
    ST_TRAIN_LOSS,
    ST_TRAIN_OK,
    ST_TRAIN_N,
    ST_G_LOSS,
    ST_G_OK,
    ST_G_N,
    ST_G_F1,
    ST_G_AUC,
    ST_G_AUC_HARD,
    ST_P_LOSS,
    ST_P_OK,
    ST_P_N,
    ST_P_F1,
    ST_P_AUC,
    ST_P_AUC_HARD,
    ST_PAYLOAD_UP,
    ST_PAYLOAD_DOWN,
    ST_COUNT
};

// How the parties' updates reach the cloud (cli/security.h chooses; docs/security.md):
//   FED_SUM      each host adds its parties' terms into one exact fixed-point sum, reduced to the
//                cloud (what a plain aggregation server computes: it needs only the sum);
//   FED_PARTIES  each party's update w_k - w_global goes to the cloud (gathered in party order),
//                which applies an order-statistic rule (--robust=median|trimmed-mean|krum);
//   FED_SECAGG   each party's fixed-point terms, masked (secagg/secagg.h), go to the cloud, which
//                sums them mod 2^64 and removes the masks: the same bits as FED_SUM.
typedef enum { FED_SUM, FED_PARTIES, FED_SECAGG } FedPath;

// A party's verdict in run.h5's party_verdict (NaN = it sent nothing this round): the screen's
// (agg/robust.h: kept, non-finite, out of range, too long, clipped, not selected by Krum), then
// the driver's own.
#define FED_VANISHED (ROBUST_VERDICT_COUNT) // secagg: left after sharing its keys (--secagg.drop)

// Party p sends an update this round: it arrived and holds training rows (RoundInfo.weight > 0).
static inline int fed_sends(const RoundInfo *r, int p) { return r->arrived[p] && r->weight[p] > 0; }

typedef struct {
    FedPath path;
    int update_space;  // DP: the terms are updates w_k - w_global with weight 1/(q P), not models
    int exponent;      // the fixed-point exponent of the round's terms (comm/exact.h)
    RobustOpts robust; // the screen's and the cloud's rule
    AttackKind attack; // the simulated attack (agg/attack.h)
    double strength;   // the attack's factor
    uint8_t *attacker; // (P) the parties that attack (every rank)
    float *gsel;       // (sel.n) the round's global selection, packed (every rank)
    float *delta;      // (sel.n) scratch: a party's update
    void *up;          // FED_PARTIES: (senders, sel.n) float; FED_SECAGG: (senders, sel.n) uint64
    int *row;          // (count) hosted party i's row of up this round, -1 when it sends nothing
    int32_t *verdict;  // (P) every rank after the exchange: verdict + 1 (0 = nothing sent)
    double *norm;      // (P) every rank after the exchange: the update's L2 norm (NaN: none)
    SecAgg *secagg;    // FED_SECAGG
    int secagg_ok;     // the round's secure aggregation succeeded (rank 0 records it)
    double dp_q;       // DP: the sampling rate the accountant composes
} Federation;

typedef struct {
    const RunConfig *rc;
    const Config *cfg;
    const Method *method;
    const ModelKind *kind;
    Comm *comm;
    int rank, size, first, count, P; // count hosted parties from first, P parties in all
    // data (data.c)
    Dataset *ds;
    HoldoutRole eval_role; // the rows the evaluation reads: test or validation (--eval-split)
    SampleLayout layout;
    ModelSpec spec;
    Scenario scn_train;           // every party's training rows, rows without a modality dropped
    Scenario scn_test;            // every party's evaluation rows, the same way (/meta/partition)
    SampleSet *train, *test;      // (count) hosted parties' rows: views into train_rows, test_rows
    void *train_rows, *test_rows; // the one allocation of each (train/samples.h)
    int64_t *n_train;             // (P) every party's training rows: the aggregation weights
    int64_t n_train_total;
    SampleSet global_test; // rank 0: every test row, all modalities
    // the model
    Model model;
    Selection sel;
    TrainConfig tc;
    ProxTerm prox; // --prox: the proximal term every party's training adds (none when off)
    float *global; // (n_params) every rank
    // parties training from the global model
    float *work_params; // (n_params)
    OptState work_opt;  // (n_params) each
    // parties keeping their own models (shape.own_models)
    float *party_params, *party_m, *party_v; // (count, n_params)
    int64_t *party_step;                     // (count)
    // aggregation
    CommAcc *acc;   // (sel.n) exact sum of the arrived parties' selections (comm/sum.h)
    float *packed;  // (sel.n) scratch: a selection, packed
    Federation fed; // the defences and the paths an update takes to the cloud (upload.c)
    TrainScratch ts;
    // the protocol
    ProtocolEnv env;
    ProtocolShape shape;
    void *proto;
    // the round
    uint8_t *sampled, *arrived; // (P)
    double *weight;             // (P)
    int n_stats;                // ST_COUNT + the protocol's per-party stats
    double *stats;              // (count, n_stats)
    double *all_stats;          // rank 0: (P, n_stats)
    uint64_t *mpi_prev;         // rank 0: (size, 2) mpi bytes per rank at the last record
    // Phases of the round (run.c, analysis/README.md): this rank's ms in transfers, the slowest
    // host rank's ms outside them, and the ms spent writing the previous round's run file +
    // checkpoint (NaN in the process's first round).
    double comm_ms, host_ms_max, io_ms;
    double line_ms; // when rank 0 last printed a round's line (timer_now_ms), 0 = never
    // run files
    OptSet opts;      // every option of the run (config table, /config, checkpoints)
    MetricLog log;    // rank 0: the series and the current round's row
    RunFile *runfile; // rank 0: run.h5 and metrics.csv, open for appending (io/runfile.h)
    int m_dp_epsilon, m_secagg_ok; // rank 0: the defences' series in log, -1 when off
    RunInfo info;
    RunPartition partition;                // rank 0: built once from the scenarios (run.c), owned
    char data_sha256[SHA256_HEX_LEN + 1];  // every rank: rank 0's digest of --data (inputs.c)
    char model_sha256[SHA256_HEX_LEN + 1]; // every rank: of the model kind's file ("" if none)
    int64_t *peak_rss_kib;                 // rank 0: (size)
    uint64_t *mpi_total;                   // rank 0: (size, 2) at the end of the run
    char ckpt_dir[4096], hosts[4096], started[32], blas_core[64];
} Run;

// inputs.c: rank 0 passes --data and the model kind's parameter file through the integrity gate
// (digest files, io/seal.h) before HDF5 reads them, and validates the data (the full scan); every
// rank follows its verdict and opens the data into run->ds. Sets data_sha256 and model_sha256 on
// every rank. Returns 0, or -1 on every rank after rank 0 printed the message naming the file and
// how to proceed (nothing written, run->ds NULL). Collective; before anything large is allocated.
int run_open_inputs(Run *run);

// data.c: the layout and model spec of the data run_open_inputs opened (run_open_data); then,
// after the preflight, the scenario's rows of every party, hosted parties' rows loaded, rank 0's
// global test set (run_load_data). Collective.
void run_open_data(Run *run);
void run_load_data(Run *run);
void run_free_data(Run *run);

// round.c
// The round's sampled and arrived parties and aggregation weights (every rank, the same).
void run_sample(Run *run, int round, RoundInfo *r);
// One round: local training, aggregation, the protocol's exchange, the global model's broadcast.
// Collective.
void run_round(Run *run, const RoundInfo *r);
// The round's evaluation on the evaluation rows (test or validation) into the stats: under the
// global protocol the global model on every hosted party's rows and (rank 0) on the whole set,
// into *global (rows 0 when the method has no global model); under the personal protocol every
// party's own model (those that trained this round were tested as they left training; in the
// final round the others get the global model fine-tuned on their rows). Collective only through
// the protocol's evaluate.
void run_evaluate(Run *run, const RoundInfo *r, EvalStats *global);

// record.c
void run_declare_series(Run *run); // rank 0
// Gathers the round's statistics to the cloud. Collective.
void run_gather_stats(Run *run);
// Rank 0: the round's row of every series, the log line, run.h5 and metrics.csv.
void run_record(Run *run, const RoundInfo *r, const EvalStats *global, double ms, double eta_s);
// Every rank's peak resident memory so far and, at the end, its MPI byte totals, for /meta.
// Collective.
void run_gather_meta(Run *run, int final);

// preflight.c: the sizes against the data and the memory, once the data's header (run_open_data)
// and the model's layout (run->model created) are known and before anything sized by them is
// allocated; also selects run->sel (--trainable) and builds run->prox. Rank 0 logs the reason.
// Returns 0, or -1 on every rank together (mmcollab exits 2). Collective.
int run_preflight(Run *run);

// upload.c: the defences' state (after setup_protocol: the path follows the shape), freed by
// fed_free. Collective. fed_check first: 0, or -1 (err) when a defence is asked of a method whose
// cloud aggregates nothing. Local.
int fed_check(const Run *run, char *err, size_t cap);
void fed_init(Run *run);
void fed_free(Run *run);
// The round's set-up, before the parties train: the global selection kept for the updates, the
// fixed-point exponent, secure aggregation's keys for the round's members (collective).
void fed_begin_round(Run *run, const RoundInfo *r);
// Hosted party i's trained parameters on their way to the cloud: its update (attacked when it is
// an attacker), screened and clipped, then added to the exact sum, kept for the gather or masked.
// Local.
void fed_upload(Run *run, int i, const float *params, const RoundInfo *r);
// aggregate.c: the cloud's mean of what arrived (its path), DP's noise, the server update.
// Collective.
void fed_aggregate(Run *run, const RoundInfo *r);

// state.c
void run_write_checkpoint(Run *run, int round); // collective
int run_resume(Run *run);                       // collective; the round to continue after
