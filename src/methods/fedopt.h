// fedopt.h - the server optimisers of FedOpt in two variants (docs/methods.md §3.4): the cloud
// treats Δ̄ = mean − global (the mean of the arrived parties' models minus the global model) as a
// pseudo-gradient. Shared by fedavgm.c, fedadagrad.c, fedadam.c and fedyogi.c; header-only so each
// method stays one registry file.
//
// --<rule>.variant=fedmllm (default; FedMLLM's fed_global.py, whose benchmark §3 reproduces):
//   m = Δ̄ in round 1, then m ← β1·m + (1−β1)·Δ̄ (not FedAdagrad, which has no momentum)
//   FedAvgM:    w ← w + m
//   FedAdagrad: v ← v + Δ̄²;                       w ← w + η·Δ̄/(√v + τ)
//   FedAdam:    v ← β2·v + (1−β2)·m²;             w ← w + η·m/(√v + τ)
//   FedYogi:    v ← v − (1−β2)·m²·sign(v − m²);   w ← w + η·m/(√v + τ)
//   Δ̄ unweighted over the arrived parties, but sample-weighted for FedAvgM; η = 1e-3.
// --<rule>.variant=reddi (Reddi et al., ICLR 2021, Algorithm 2):
//   m₀ = 0, m ← β1·m + (1−β1)·Δ̄ for every rule (FedAvgM: w ← w + m)
//   FedAdagrad: v ← v + Δ̄²;  FedAdam: v ← β2·v + (1−β2)·Δ̄²;  FedYogi: v ← v − (1−β2)·Δ̄²·sign(v −
//   Δ̄²) w ← w + η·m/(√v + τ); Δ̄ unweighted (the paper's 1/|S| Σ Δ_i); η = 1e-2 (our choice).
// Both: v₀ = τ², no bias correction, τ = 1e-3, β1 = 0.9, β2 = 0.99. --<rule>.weighted overrides
// the variant's weighting (the driver then forms the mean with n_k/Σn or 1/|arrived|).
// State: m then v (n floats each), checkpointed by the protocol (protocols/fedavg.c).
#pragma once
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "methods/method.h"
#include "protocols/fedavg.h"

// The variants' server learning rates (docs/methods.md §3.4 says why).
#define FEDOPT_ETA_FEDMLLM 1e-3
#define FEDOPT_ETA_REDDI 1e-2

typedef struct {
    double eta, tau, beta1, beta2; // eta NaN (unset) = the variant's
    char variant[OPT_STR_MAX];     // "fedmllm" | "reddi"
    char weighted[OPT_STR_MAX];    // "true" | "false" | "" = the variant's
} FedOptOpts;

typedef enum { FEDOPT_AVGM, FEDOPT_ADAGRAD, FEDOPT_ADAM, FEDOPT_YOGI } FedOptRule;

// The variant and weighting options of every rule, keys "<name>.variant", "<name>.weighted".
#define FEDOPT_VARIANT_OPTS(name)                                                                      \
    {#name ".variant",                                                                                 \
     OPT_CHOICE,                                                                                       \
     offsetof(FedOptOpts, variant),                                                                    \
     "fedmllm",                                                                                        \
     0,                                                                                                \
     0,                                                                                                \
     0,                                                                                                \
     "fedmllm|reddi",                                                                                  \
     "server rule: fedmllm = FedMLLM's code (default: the benchmark it reproduces), reddi = "          \
     "Reddi et al. 2021 Alg. 2",                                                                       \
     0},                                                                                               \
    {                                                                                                  \
#name ".weighted", OPT_CHOICE, offsetof(FedOptOpts, weighted), "", 0, 0, 0, "true|false",      \
            "sample-weighted mean (unset: the variant's, fedmllm true for fedavgm only, reddi false)", \
            OPT_UNSET_OK                                                                               \
    }

// The six options of an adaptive rule, keys "<name>.eta" etc.
#define FEDOPT_OPTS(name)                                                                          \
    {#name ".eta",                                                                                 \
     OPT_DOUBLE,                                                                                   \
     offsetof(FedOptOpts, eta),                                                                    \
     "",                                                                                           \
     OPT_LO | OPT_LO_OPEN | OPT_HI,                                                                \
     0,                                                                                            \
     10,                                                                                           \
     NULL,                                                                                         \
     "server learning rate (unset: fedmllm 1e-3 as its code, reddi 1e-2)",                         \
     OPT_UNSET_OK},                                                                                \
        {#name ".tau",                                                                             \
         OPT_DOUBLE,                                                                               \
         offsetof(FedOptOpts, tau),                                                                \
         "0.001",                                                                                  \
         OPT_LO | OPT_LO_OPEN | OPT_HI,                                                            \
         0,                                                                                        \
         10,                                                                                       \
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
        {#name ".beta2",                                                                           \
         OPT_DOUBLE,                                                                               \
         offsetof(FedOptOpts, beta2),                                                              \
         "0.99",                                                                                   \
         OPT_LO | OPT_HI,                                                                          \
         0,                                                                                        \
         1,                                                                                        \
         NULL,                                                                                     \
         "second-moment decay",                                                                    \
         0},                                                                                       \
        FEDOPT_VARIANT_OPTS(name)

static inline int fedopt_reddi(const FedOptOpts *o) { return strcmp(o->variant, "reddi") == 0; }

// The server learning rate: the option, or the variant's when unset.
static inline double fedopt_eta(const FedOptOpts *o) {
    if (!isnan(o->eta)) return o->eta;
    return fedopt_reddi(o) ? FEDOPT_ETA_REDDI : FEDOPT_ETA_FEDMLLM;
}

// 1 when Δ̄ is the sample-weighted mean: the option, or the variant's when unset (FedMLLM's code
// weights only FedAvgM; Reddi et al. average uniformly).
static inline int fedopt_weighted(FedOptRule rule, const FedOptOpts *o) {
    if (o->weighted[0]) return strcmp(o->weighted, "true") == 0;
    return !fedopt_reddi(o) && rule == FEDOPT_AVGM;
}

static inline void fedopt_init(float *state, size_t n, const void *opts) {
    const FedOptOpts *o = opts;
    memset(state, 0, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        state[n + i] = (float)(o->tau * o->tau);
}

// w (n) ← the rule's step from the mean (n); state (2n): m then v. round 1-based: FedMLLM's code
// seeds m with Δ̄ at its first update, which is round 1 here.
static inline void fedopt_update(FedOptRule rule, float *w, float *state, const float *mean,
                                 size_t n, const void *opts, int round) {
    const FedOptOpts *o = opts;
    float *m = state, *v = state + n;
    const int reddi = fedopt_reddi(o), seed = !reddi && round == 1;
    const int momentum = reddi || rule != FEDOPT_ADAGRAD;
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eta = (float)fedopt_eta(o),
                tau = (float)o->tau;
    for (size_t i = 0; i < n; i++) {
        float d = mean[i] - w[i];
        if (momentum) m[i] = seed ? d : b1 * m[i] + (1 - b1) * d;
        if (rule == FEDOPT_AVGM) {
            w[i] += m[i];
            continue;
        }
        // v is built from Δ̄ (reddi; fedmllm's Adagrad) or from m (fedmllm's Adam and Yogi).
        float s = reddi || rule == FEDOPT_ADAGRAD ? d : m[i], s2 = s * s;
        if (rule == FEDOPT_ADAGRAD)
            v[i] += s2;
        else if (rule == FEDOPT_ADAM)
            v[i] = b2 * v[i] + (1 - b2) * s2;
        else
            v[i] -= (1 - b2) * s2 * (v[i] > s2 ? 1.f : v[i] < s2 ? -1.f : 0.f);
        w[i] += eta * (momentum ? m[i] : d) / (sqrtf(v[i]) + tau);
    }
}

static const char *const fedopt_state_names[] = {"m", "v"};

// A FedOpt method's protocol extension and registry entry: NAME's rule, options and summary.
#define FEDOPT_METHOD(NAME, RULE, OPTS, SUMMARY)                                                   \
    static void NAME##_update(float *global, float *state, const float *mean, size_t n,            \
                              const void *opts, int round) {                                       \
        fedopt_update(RULE, global, state, mean, n, opts, round);                                  \
    }                                                                                              \
    static int NAME##_uniform(const void *opts) { return !fedopt_weighted(RULE, opts); }           \
    static const FedavgExt NAME##_ext = {.server = NAME##_update,                                  \
                                         .uniform = NAME##_uniform,                                \
                                         .state_per_float = 2,                                     \
                                         .state_name = fedopt_state_names,                         \
                                         .state_init = fedopt_init};                               \
    const Method method_##NAME = {                                                                 \
        .opt = {.name = #NAME,                                                                     \
                .summary = SUMMARY,                                                                \
                .provenance = "Reddi et al. 2021 (FedOpt), Alg. 2 (--" #NAME                       \
                              ".variant=reddi); FedMLLM's code (fedmllm, the default)",            \
                .opts = OPTS,                                                                      \
                .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),                                     \
                .size = sizeof(FedOptOpts)},                                                       \
        .protocol = &protocol_fedavg,                                                              \
        .ext = &NAME##_ext}
