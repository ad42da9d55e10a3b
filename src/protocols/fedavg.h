// fedavg.h - the default protocol: parties start every round from the global model, the cloud
// forms the mean of their trainable selection (sample-weighted, or uniform over the arrived
// parties when the method asks) and applies a server rule (FedAvg:
// the mean; FedAvgM, FedAdagrad, FedAdam, FedYogi: an optimiser step on mean − global), and a
// party may add a term to its gradient (FedProx). A method picks its rule and term through a
// FedavgExt; the rule's state (FedOpt's moments, per selected float) is checkpointed.
#pragma once
#include <stddef.h>

#include "protocols/protocol.h"

typedef struct {
    // global (n) ← rule(global, mean, state); opts the method's options; round 1-based. NULL =
    // the mean. Local.
    void (*server)(float *global, float *state, const float *mean, size_t n, const void *opts,
                   int round);
    // 1 when the mean is to be unweighted over the arrived parties (ProtocolShape.uniform_weights)
    // with these options; NULL = sample-weighted. Local.
    int (*uniform)(const void *opts);
    int state_per_float;           // floats of state per float
    const char *const *state_name; // (state_per_float) checkpoint names of the state slots
    void (*state_init)(float *state, size_t n, const void *opts); // NULL = zeros
    // grads[i] += term(params[i], global[i]) for i in [0, n) (one selected segment). NULL = none.
    void (*grad)(float *grads, const float *params, const float *global, size_t n,
                 const void *opts);
} FedavgExt;

extern const Protocol protocol_fedavg;
