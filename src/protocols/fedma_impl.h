// fedma_impl.h - the state Fed-MA's files share (fedma.h): fedma.c (setup, the round, records,
// checkpoint) and fedma_cloud.c (the aggregation rules on rank 0).
#pragma once
#include <stdint.h>

#include "agg/opm.h"
#include "data/prompts.h"
#include "models/mllm.h"
#include "protocols/fedma.h"
#include "tensor/pdsvd.h"
#include "train/mllm_stages.h"

#define FEDMA_MAX_MAT (2 * MLLM_MAX_ENC) // the projectors' weight matrices
#define FEDMA_SV_N 16                    // singular values recorded per round
#define FEDMA_MAX_SERIES 8

// Per-party statistics of a round (ProtocolShape.n_party_stats).
enum {
    FS_LOSS = 0, // the mean caption loss over the round's local steps
    FS_DECREASE, // the first step's loss − the last step's (CRAA's reported reliability)
    FS_STEPS,    // local steps taken (FedNova's τ_k)
    FS_ROWS,     // rows read
    FS_N
};

// A projector weight matrix inside the packed projector vector.
typedef struct {
    char name[64];
    int64_t off;     // packed offset
    int d_out, d_in; // (d_out, d_in) row-major
} FedmaMat;

typedef struct {
    ProtocolEnv env;
    FedmaOpts o;
    const FedmaExt *ext;
    int rule, rank, size, P, first, count, rounds;
    const Model *model;
    const Mllm *mm;
    Selection proj; // the projectors' tensors
    size_t n;       // their floats (packed)
    int n_mat;
    FedmaMat mat[FEDMA_MAX_MAT];
    int opm_r[FEDMA_MAX_MAT]; // CRAA's rank per matrix (--fedcmp.rank; full-rank: d_out)
    int svd_scalapack;        // CRAA's SVD path (fixed at create from the options, never from -np)
    PdsvdGrid *grid;          // the ScaLAPACK grid (every rank) when svd_scalapack
    float *start;          // (n_params) the frozen encoders and LM, fresh projectors: every model's
                           // parameters outside the projectors
    float *params, *grads; // (n_params) the working model
    float *x;              // (n) the global projector (every rank)
    float *mom, *adam_v;   // (n) the local optimiser's state, fresh each round
    float *own;            // local: (count, n) each hosted party's own projector
    float *delta;          // (count, n) this round's Δ of the hosted parties
    float *c_srv, *c_own;  // scaffold: (n) the server's control variate; (count, n) the parties'
    float *dc;             // scaffold: (count, n) this round's Δc
    double *stats;         // (count, FS_N)
    uint8_t *trained;      // (count) hosted party trained this round
    // data
    PromptClasses pc;
    StageEnv senv;
    StageRows *rows; // (count) each hosted party's training rows with its modalities
    int64_t **order; // (count) each hosted party's stream order
    StageCaptions *cap;
    // cloud (rank 0)
    StageRows all_rows; // central: every party's rows, in party order
    int64_t *all_off;   // central: (P + 1) offsets into all_rows
    StageRows test_rows, pub_rows;
    float *srv; // fedavgm/fedadam/fedyogi: (2n) the server's m, v
    OpmState opm[FEDMA_MAX_MAT];
    double ppl, item_acc, conflict, orth, sv[FEDMA_SV_N];
    double central_loss; // central: the round's mean loss
    int series[FEDMA_MAX_SERIES];
} Fedma;

// The cloud's new global projector x from the round's updates (fedma_cloud.c). up: rank 0's
// gathered uploads, in party order, rec floats each (Δ (n), then scaffold's Δc (n), then the
// reported loss decrease and the step count); arrived (K) the parties in that order, w (K) their
// sample weights (n_k / Σ over arrived). Collective (the ScaLAPACK path needs every rank); the
// arguments are read on rank 0 only. Sets f->conflict, f->orth and f->sv on rank 0.
void fedma_aggregate(Fedma *f, const float *up, int rec, const int *arrived, const double *w, int K,
                     const RoundInfo *r);
// 1 when the rule keeps FedOpt's server state (fedavgm, fedadam, fedyogi); OPM's (craa with
// --fedcmp.opm). Local.
int fedma_uses_fedopt(const Fedma *f);
int fedma_uses_opm(const Fedma *f);
// Rank 0, before round 1: the cloud's state (OPM, FedOpt).
void fedma_cloud_init(Fedma *f);
void fedma_cloud_free(Fedma *f);
