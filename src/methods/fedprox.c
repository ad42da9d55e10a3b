// fedprox.c - FedProx (Li et al., MLSys 2020): FedAvg aggregation, and each party minimises
// F_k(w) + μ/2 ‖w − w_global‖², i.e. adds μ(w − w_global) to its gradient.
#include "methods/method.h"

typedef struct {
    double mu;
} FedproxOpts;
_Static_assert(sizeof(FedproxOpts) <= sizeof(((Config *)0)->method_opts), "method_opts too small");

static const OptSpec fedprox_opts[] = {
    {"fedprox.mu", OPT_DOUBLE, METHOD_OPT(FedproxOpts, mu), "0.01", OPT_LO, 0, 0, NULL,
     "proximal weight mu (0 = FedAvg)", 0},
};

static void fedprox_party_grad_hook(float *grads, const float *params, const float *global,
                                    size_t n_params, const Config *cfg) {
    float mu = (float)((const FedproxOpts *)cfg->method_opts)->mu;
    for (size_t i = 0; i < n_params; i++)
        grads[i] += mu * (params[i] - global[i]);
}

const FlMethod fl_method_fedprox = {
    .name = "fedprox",
    .summary = "FedProx: FedAvg with a proximal term mu/2 |w - w_global|^2 at the parties",
    .provenance = "Li et al. 2020, eq. (2)",
    .kind = METHOD_FEDERATED,
    .opts = fedprox_opts,
    .n_opts = 1,
    .server_update = method_server_mean,
    .party_grad_hook = fedprox_party_grad_hook,
};
