// repr.h - representation-level protocols (FedProto, MOON; docs/methods.md §5.2): each party adds a
// term on its model's representation rep (the party model's fused u, after its ReLU) to its loss.
// What the term sees is composed from the method's extension:
//   own_models:  parties keep their own models and nothing is aggregated (FedProto), else the
//                global model is the sample-weighted mean (MOON);
//   prev_models: each party keeps its model as it left local training (per party, checkpointed)
//                and the term gets rep of that previous model and of the round's global model on
//                the same batch (MOON);
//   prototypes:  after local training every party sends per-class sums and counts of rep over
//                its training rows; the global class prototypes are formed exactly (-np
//                independent, comm/proto_reduce.h) and every party receives them (FedProto).
// Any combination is allowed (prototypes with previous models, ...).
#pragma once
#include <stdint.h>

#include "protocols/protocol.h"

// One minibatch as a representation term sees it: rep u of the model in training and the
// references the protocol provides, each row-major, NULL when absent.
typedef struct {
    int B, D, K;
    const int *labels;          // (B)
    const float *u;             // (B, D) the party model in training
    const float *u_glob;        // (B, D) prev_models: the round's global model, same batch
    const float *u_prev;        // (B, D) prev_models: the party's previous local model, same
                                // batch; both NULL in the party's first round
    const double *protos;       // (K, D) prototypes: the global prototypes of rep from the last
                                // exchange; NULL before the first one
    const uint8_t *proto_valid; // (K) 1 where class c had rows at some party (with protos)
} RepBatch;

typedef struct {
    // drep (B, D) += d(term)/du, already divided by B; returns the term's batch mean. opts: the
    // method's options. Training only. Local.
    double (*term)(float *drep, const RepBatch *b, const void *opts);
    // Evaluation, prototypes only, once they exist: may overwrite logits (B, K) from b->u and the
    // global prototypes (b->labels NULL); leaving them is the head's inference. NULL = the head.
    // Local.
    void (*logits)(float *logits, const RepBatch *b, const void *opts);
    int own_models, prev_models, prototypes; // see above
} ReprExt;

extern const Protocol protocol_repr;
