// fedprox.c - FedProx (Li et al., MLSys 2020): FedAvg aggregation, and each party minimises
// F_k(w) + μ/2 ‖w − w_global‖², i.e. adds μ(w − w_global) to its gradient.
#include <stddef.h>

#include "methods/method.h"
#include "protocols/fedavg.h"

typedef struct {
    double mu;
} FedproxOpts;

static const OptSpec fedprox_opts[] = {
    {"fedprox.mu", OPT_DOUBLE, offsetof(FedproxOpts, mu), "0.01", OPT_LO | OPT_HI, 0, 10000, NULL,
     "proximal weight mu (0 = FedAvg)", 0},
};

static void fedprox_grad(float *grads, const float *params, const float *global, size_t n,
                         const void *opts) {
    const FedproxOpts *o = opts;
    float mu = (float)o->mu;
    for (size_t i = 0; i < n; i++)
        grads[i] += mu * (params[i] - global[i]);
}

static const FedavgExt fedprox_ext = {.grad = fedprox_grad};

const Method method_fedprox = {
    .opt = {.name = "fedprox",
            .summary = "FedProx: FedAvg with a proximal term mu/2 |w - w_global|^2 at the parties",
            .provenance = "Li et al. 2020, eq. (2)",
            .opts = fedprox_opts,
            .n_opts = 1,
            .size = sizeof(FedproxOpts)},
    .protocol = &protocol_fedavg,
    .ext = &fedprox_ext,
};
