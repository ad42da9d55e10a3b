// fedavgm.c - FedAvgM (Reddi et al., ICLR 2021; FedMLLM's fed_global.py): server momentum on the
// pseudo-gradient mean − global. The rule and its state are in fedopt.h.
#include "methods/fedopt.h"

// Only beta1 applies: FedAvgM adds the momentum without a server learning rate.
static const OptSpec fedavgm_opts[] = {
    {"fedavgm.beta1", OPT_DOUBLE, METHOD_OPT(FedOptOpts, beta1), "0.9", OPT_LO | OPT_HI, 0, 1, NULL,
     "server momentum (EMA of the averaged update)", 0},
};

static void fedavgm_update(float *global, float *state, const float *mean, size_t n_params,
                           const Config *cfg, int round) {
    fedopt_update(FEDOPT_AVGM, global, state, mean, n_params, cfg, round);
}

const FlMethod fl_method_fedavgm = {
    .name = "fedavgm",
    .summary = "FedAvgM: server momentum on the averaged update",
    .provenance = "Reddi et al. 2021 (FedOpt); FedMLLM code constants, research/methods.md 3.4",
    .kind = METHOD_FEDERATED,
    .opts = fedavgm_opts,
    .n_opts = 1,
    .server_state_floats = fedopt_state_floats,
    .server_init = fedopt_init,
    .server_update = fedavgm_update,
};
