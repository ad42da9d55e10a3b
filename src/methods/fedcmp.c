// fedcmp.c - Fed-CMP (Xiong et al. 2026, arXiv 2603.26786; a RECONSTRUCTION from its abstract):
// federated pre-training of the multimodal LLM's projectors (Fed-MA) with canonical
// reliability-aware aggregation (CRAA) and orthogonality-preserved momentum (OPM); --fedcmp.agg
// picks the baselines that share its task and evaluation (protocols/fedma.h).
#include "methods/fedopt.h"
#include "protocols/fedma.h"

// FedOpt's server step for fedavgm, fedadam and fedyogi in Reddi et al.'s form, from the
// protocol's options.
static FedOptOpts fedopt_opts(const FedmaOpts *o) {
    FedOptOpts f = {.eta = o->server_lr, .tau = o->tau, .beta1 = o->beta1, .beta2 = o->beta2};
    snprintf(f.variant, sizeof f.variant, "reddi");
    return f;
}

static void server_step(int rule, float *w, float *state, const float *mean, size_t n,
                        const FedmaOpts *o, int round) {
    FedOptOpts f = fedopt_opts(o);
    FedOptRule r = rule == FEDMA_FEDAVGM   ? FEDOPT_AVGM
                   : rule == FEDMA_FEDADAM ? FEDOPT_ADAM
                                           : FEDOPT_YOGI;
    fedopt_update(r, w, state, mean, n, &f, round);
}

static void state_init(float *state, size_t n, const FedmaOpts *o) {
    FedOptOpts f = fedopt_opts(o);
    fedopt_init(state, n, &f);
}

static const FedmaExt ext = {.server_step = server_step, .state_init = state_init};

const Method method_fedcmp = {
    .opt = {.name = "fedcmp",
            .summary = "Fed-CMP (RECONSTRUCTION): federated pre-training of the multimodal LLM's "
                       "projectors with canonical reliability-aware aggregation and "
                       "orthogonality-preserved momentum; --fedcmp.agg runs the baselines on the "
                       "same task",
            .provenance = "Xiong et al. 2026 (arXiv 2603.26786), known from its abstract only: "
                          "CRAA and OPM reconstructed after KnOTS and Stiefel-manifold momentum",
            .opts = fedma_opts,
            .n_opts = FEDMA_N_OPTS,
            .size = sizeof(FedmaOpts),
            .validate = fedma_opts_validate},
    .protocol = &protocol_fedma,
    .ext = &ext,
};
