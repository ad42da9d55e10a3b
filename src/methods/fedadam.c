// fedadam.c - FedAdam (Reddi et al., ICLR 2021; FedMLLM's fed_global.py): Adam server step on the
// pseudo-gradient mean − global. The rule and its state are in fedopt.h.
#include "methods/fedopt.h"

static const OptSpec fedadam_opts[] = {FEDOPT_OPTS(fedadam, "0.01")};

static void fedadam_update(float *global, float *state, const float *mean, size_t n_params,
                           const Config *cfg, int round) {
    fedopt_update(FEDOPT_ADAM, global, state, mean, n_params, cfg, round);
}

const FlMethod fl_method_fedadam = {
    .name = "fedadam",
    .summary = "FedAdam: Adam server step on the averaged update",
    .provenance = "Reddi et al. 2021 (FedOpt); FedMLLM code constants, research/methods.md 3.4",
    .kind = METHOD_FEDERATED,
    .opts = fedadam_opts,
    .n_opts = 4,
    .server_state_floats = fedopt_state_floats,
    .server_init = fedopt_init,
    .server_update = fedadam_update,
};
