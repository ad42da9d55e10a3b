// collab.h - one round of the large–small collaboration methods (METHOD_COLLAB: BoMM, prototype-,
// mean- and zero-fill, FedMKT-style exchange; settings in methods/collab.h).
//
// [I] BoMM is a reconstruction from the paper's abstract (research/methods.md §1); the round is
// §1.6's protocol with these choices of ours:
//   parties:  FedAvg-ed small models (SM); local training completes missing modalities (fill) and
//             adds KL(p_LM ‖ p_SM) on rows that carry the large model's soft labels;
//   upload:   prototype sums and counts per (class, modality) of the SM embeddings (exact
//             collective, comm/proto_reduce.h); embeddings + SM soft labels + labels of `upload`
//             sampled rows (never raw data);
//   cloud:    GPA pairs single-modality rows of different modalities whose similarity
//             distributions over the global prototypes agree (collab/align.h); the large model
//             (models/mm_large.h, one token per modality embedding) trains on aligned rows and
//             pseudo-aligned pairs with CE + InfoNCE + KD; each generator G(m → m') trains with the
//             supervised term and, after the warm-up, DPO with the large model as reward model;
//   download: the SM, soft labels for the uploaded rows (Scatterv), the generators point-to-point
//             to exactly the hosts whose parties miss their target (comm/gen_p2p.h).
// Every step is deterministic and independent of the rank layout (the cloud's work happens on
// rank 0 in party order; party work depends only on (seed, round, party)).
#pragma once
#include <mpi.h>
#include <stdint.h>

#include "cli/config.h"
#include "comm/placement.h"
#include "fl/samples.h"
#include "fl/train.h"
#include "io/ckpt.h"
#include "methods/collab.h"
#include "models/party_model.h"

typedef struct Collab Collab;

typedef struct {
    const Config *cfg;
    CollabSettings s;
    const PartyModel *pm;
    const SampleLayout *layout;
    const Placement *pl;
    int first, count;              // hosted parties
    const SampleSet *train, *test; // (count) hosted parties' rows
    const int64_t *n_train;        // (P) every party's training rows
    MPI_Comm comm;
} CollabSetup;

// Per-round diagnostics (rank 0; NaN where a part is off).
typedef struct {
    double aligned;   // uploaded rows with >= 2 modalities
    double pairs;     // pseudo-aligned pairs found by GPA
    double precision; // fraction of those whose two rows share the pseudo-label as true label
    double mm_loss;   // the large model's mean training loss
    double lambda;    // the generators' supervised weight λ_t
    double gen_sup, gen_dpo, gen_pair_acc; // generator losses and DPO pair accuracy
} CollabDiag;

// Collective. Builds the cloud's models on rank 0, the parties' state on their hosts; CHECKs the
// settings against the data (e.g. a large model width the heads do not divide, a scenario in which
// no party has two modalities for the generators).
Collab *collab_create(const CollabSetup *cs);
void collab_free(Collab *c);

// The hooks of hosted party i: completion (training and evaluation) and distillation (training).
const PartyHooks *collab_hooks(Collab *c, int i, int training);
// Before the parties train in `round` (sets the admission threshold γ_t). Local.
void collab_begin_round(Collab *c, int round);
// After hosted party i trained to params in `round`: its prototype sums and uploaded rows. Local.
void collab_party_done(Collab *c, int i, const float *params, int round);
// The round's exchange and the cloud's training. Collective.
void collab_exchange(Collab *c, int round);
// Hosted party i's bytes this round (logical), its completion counts and generator masks.
void collab_party_stats(const Collab *c, int i, double *up, double *down, double *filled,
                        double *admitted, double *missing_mask, double *gen_mask);
// Rank 0: the large model's test accuracy on rows encoded by the small model sm_params (every
// modality present). NaN without a large model. Local.
double collab_eval_large(Collab *c, const float *sm_params, const SampleSet *test);
void collab_diag(const Collab *c, CollabDiag *d);
// 1 when parties use their own model after local training (CollabSettings.personal).
int collab_personal(const Collab *c);
// Large model parameters, small model parameters (for the startup line); 0 without a large model.
size_t collab_large_params(const Collab *c);

// Checkpoint state as fields (io/ckpt.h), the same list for writing and reading: the large model
// and its optimizer, the generators, their optimizers and reference, the global prototypes, the
// parties' soft labels. f has room for COLLAB_CKPT_FIELDS; returns the count.
#define COLLAB_CKPT_FIELDS 16
int collab_ckpt_fields(Collab *c, CkptField *f);
// After the fields were read: derived state (float prototypes, the generators this rank holds).
void collab_ckpt_restored(Collab *c);
