// fedma.h - Fed-MA, federated pre-training of the multimodal LLM's projectors (LLaVA stage 1 by
// parties), and Fed-CMP's aggregation on it (Xiong et al. 2026; known from its abstract only, so
// CRAA and OPM here are a RECONSTRUCTION: docs/fedcmp.md).
//
// Every party starts from the base model's "encoders" stage (stage-2 encoders and the stage-1
// text-pretrained LM, both frozen) with projectors freshly initialised, and trains only the
// projectors on image/audio–caption pairs of its own rows (its modalities, data/facts.h captions),
// one pass over its stream: in round t a sampled party reads the t-th chunk of --fedcmp.chunk rows
// of its rows in a fixed order (no epochs). Local optimiser: SGD with momentum (--fedcmp.local),
// fresh each round. A party uploads Δ_k = its projector − the global one; the cloud (rank 0)
// forms the new global projector by --fedcmp.agg:
//   craa      Fed-CMP: per projector matrix, the truncated SVD of [Δ_1 | … | Δ_K] gives a shared
//             basis U and coefficients C_k; reliability weights fuse the C_k (agg/craa.h); OPM
//             (--fedcmp.opm) moves U with momentum on the Stiefel manifold (agg/opm.h); biases
//             are averaged
//   knots     CRAA with the plain n_k weights and no momentum (KnOTS-average)
//   ties      TIES-merging of the Δ_k (agg/ties.h)
//   fedavg, fedprox (μ/2‖w − x‖² locally), fedavgm, fedadam, fedyogi (FedOpt, Reddi et al.'s
//   form: methods/fedopt.h), scaffold (client control variates, agg/scaffold.h), fednova
//   (normalised averaging, agg/fednova.h), local (no aggregation: each party keeps its own),
//   central (rank 0 trains on every party's rows, one pass, the upper bound)
// The SVD path (--fedcmp.svd) is LAPACKE on the cloud over the gathered updates, or ScaLAPACK's
// pdgesvd over a --fedcmp.grid process grid fed by the parties' own ranks (tensor/pdsvd.h): chosen
// by the matrix's size against --fedcmp.svd-threshold under auto, never by -np.
// Evaluation: caption perplexity of the global projector on the test rows (eval rounds); at the
// last round, every method's model gets the same short centralised tuning on the public rows
// (train/mllm_stages.h stage 4', --fedcmp.tune-steps) and its item accuracy on the test rows.
#pragma once
#include "core/options.h"
#include "protocols/protocol.h"

typedef enum {
    FEDMA_CRAA = 0,
    FEDMA_KNOTS,
    FEDMA_TIES,
    FEDMA_FEDAVG,
    FEDMA_FEDPROX,
    FEDMA_FEDAVGM,
    FEDMA_FEDADAM,
    FEDMA_FEDYOGI,
    FEDMA_SCAFFOLD,
    FEDMA_FEDNOVA,
    FEDMA_LOCAL,
    FEDMA_CENTRAL,
    FEDMA_N_RULES
} FedmaRule;

// The options (keys "fedcmp.*"); fedma_opts holds their defaults.
typedef struct {
    char agg_name[OPT_STR_MAX];   // FedmaRule's names
    char rel_name[OPT_STR_MAX];   // CRAA reliability: agreement|sign|distance|reported
    char svd_name[OPT_STR_MAX];   // auto|lapacke|scalapack
    char grid[OPT_STR_MAX];       // PxQ
    char local_name[OPT_STR_MAX]; // sgdm|adamw
    int rank;                     // CRAA rank r
    int full_rank;                // 1: every singular triplet (rank ignored)
    double temp, eps;             // reliability temperature, distance epsilon
    int per_row;                  // per-row reliability weights
    int opm, opm_align, opm_retract;
    double beta, gamma;                  // OPM
    double svd_threshold;                // auto: ScaLAPACK at d_out · K·d_in >= this
    int chunk;                           // stream rows per party and round
    double lr, momentum, wd;             // local optimiser
    double mu;                           // fedprox
    double server_lr, beta1, beta2, tau; // fedadam/fedyogi/fedavgm (Reddi et al.)
    double ties_k;                       // TIES: the kept share of entries (%)
    int tune_steps;                      // the centralised tuning before the item accuracy
} FedmaOpts;

// What the method gives the protocol: the FedOpt server step (methods/fedopt.h, which lives with
// the methods) for fedavgm, fedadam and fedyogi. w (n) ← the rule's step from the mean (n) of the
// arrived parties' projectors; state (2n): m then v, set by state_init. Local.
typedef struct {
    void (*server_step)(int rule, float *w, float *state, const float *mean, size_t n,
                        const FedmaOpts *o, int round);
    void (*state_init)(float *state, size_t n, const FedmaOpts *o);
} FedmaExt;

#define FEDMA_N_OPTS 27
extern const OptSpec fedma_opts[FEDMA_N_OPTS];
// The rules between options (an OptGroup validate): names the keys. Local.
int fedma_opts_validate(const void *opts, const OptSet *set, char *err, size_t cap);
// The FedmaRule of an --fedcmp.agg name, -1 when unknown. Local.
int fedma_rule_of(const char *name);
const char *fedma_rule_name(int rule);

extern const Protocol protocol_fedma;
