// fedopt.h - the server optimisers of FedOpt (Reddi et al., ICLR 2021) as FedMLLM's code applies
// them (docs/methods.md §3.4): the cloud treats Δ̄ = mean − global (the sample-weighted mean of
// the party models minus the global model) as a pseudo-gradient. Shared by fedavgm.c, fedadagrad.c,
// fedadam.c and fedyogi.c; header-only so each method stays one registry file.
//
//   FedAvgM:    m ← β1·m + (1−β1)·Δ̄ (m = Δ̄ in round 1);            w ← w + m
//   FedAdagrad: v ← v + Δ̄²;                                           w ← w + η·Δ̄/(√v + τ)
//   FedAdam:    m ← β1·m + (1−β1)·Δ̄;  v ← β2·v + (1−β2)·m²;          w ← w + η·m/(√v + τ)
//   FedYogi:    m as FedAdam;  v ← v − (1−β2)·m²·sign(v − m²);        w ← w + η·m/(√v + τ)
// State: m then v (n floats each); v starts at τ² as in the code. Deviation: FedAdagrad uses the
// sample-weighted Δ̄ (the code averages unweighted); the driver forms only the weighted mean.
#pragma once
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "methods/method.h"
#include "protocols/fedavg.h"

typedef struct {
    double eta, tau, beta1, beta2;
} FedOptOpts;

typedef enum { FEDOPT_AVGM, FEDOPT_ADAGRAD, FEDOPT_ADAM, FEDOPT_YOGI } FedOptRule;

// The four options of a rule, keys "<name>.eta" etc.
#define FEDOPT_OPTS(name, eta_def)                                                                 \
    {#name ".eta",                                                                                 \
     OPT_DOUBLE,                                                                                   \
     offsetof(FedOptOpts, eta),                                                                    \
     eta_def,                                                                                      \
     OPT_LO | OPT_LO_OPEN,                                                                         \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "server learning rate (FedMLLM's code: 1e-3)",                                                \
     0},                                                                                           \
        {#name ".tau",                                                                             \
         OPT_DOUBLE,                                                                               \
         offsetof(FedOptOpts, tau),                                                                \
         "0.001",                                                                                  \
         OPT_LO | OPT_LO_OPEN,                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         NULL,                                                                                     \
         "adaptivity tau (v starts at tau^2)",                                                     \
         0},                                                                                       \
        {#name ".beta1",                                                                           \
         OPT_DOUBLE,                                                                               \
         offsetof(FedOptOpts, beta1),                                                              \
         "0.9",                                                                                    \
         OPT_LO | OPT_HI,                                                                          \
         0,                                                                                        \
         1,                                                                                        \
         NULL,                                                                                     \
         "first-moment decay",                                                                     \
         0},                                                                                       \
    {                                                                                              \
#name ".beta2", OPT_DOUBLE, offsetof(FedOptOpts, beta2), "0.99", OPT_LO | OPT_HI, 0, 1,    \
            NULL, "second-moment decay", 0                                                         \
    }

static inline void fedopt_init(float *state, size_t n, const void *opts) {
    const FedOptOpts *o = opts;
    memset(state, 0, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        state[n + i] = (float)(o->tau * o->tau);
}

static inline void fedopt_update(FedOptRule rule, float *w, float *state, const float *mean,
                                 size_t n, const void *opts, int round) {
    const FedOptOpts *o = opts;
    float *m = state, *v = state + n;
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eta = (float)o->eta,
                tau = (float)o->tau;
    for (size_t i = 0; i < n; i++) {
        float d = mean[i] - w[i];
        switch (rule) {
        case FEDOPT_AVGM:
            m[i] = round == 1 ? d : b1 * m[i] + (1 - b1) * d;
            w[i] += m[i];
            break;
        case FEDOPT_ADAGRAD:
            v[i] += d * d;
            w[i] += eta * d / (sqrtf(v[i]) + tau);
            break;
        case FEDOPT_ADAM:
        case FEDOPT_YOGI: {
            m[i] = b1 * m[i] + (1 - b1) * d;
            float m2 = m[i] * m[i];
            if (rule == FEDOPT_ADAM)
                v[i] = b2 * v[i] + (1 - b2) * m2;
            else
                v[i] -= (1 - b2) * m2 * (v[i] > m2 ? 1.f : v[i] < m2 ? -1.f : 0.f);
            w[i] += eta * m[i] / (sqrtf(v[i]) + tau);
            break;
        }
        }
    }
}

static const char *const fedopt_state_names[] = {"m", "v"};

// A FedOpt method's protocol extension and registry entry: NAME's rule, options and summary.
#define FEDOPT_METHOD(NAME, RULE, OPTS, SUMMARY)                                                   \
    static void NAME##_update(float *global, float *state, const float *mean, size_t n,            \
                              const void *opts, int round) {                                       \
        fedopt_update(RULE, global, state, mean, n, opts, round);                                  \
    }                                                                                              \
    static const FedavgExt NAME##_ext = {.server = NAME##_update,                                  \
                                         .state_per_float = 2,                                     \
                                         .state_name = fedopt_state_names,                         \
                                         .state_init = fedopt_init};                               \
    const Method method_##NAME = {                                                                 \
        .opt = {.name = #NAME,                                                                     \
                .summary = SUMMARY,                                                                \
                .provenance = "Reddi et al. 2021 (FedOpt); FedMLLM code constants",                \
                .opts = OPTS,                                                                      \
                .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),                                     \
                .size = sizeof(FedOptOpts)},                                                       \
        .protocol = &protocol_fedavg,                                                              \
        .ext = &NAME##_ext}
