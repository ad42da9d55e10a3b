// moon.c - MOON (Li, He, Song, CVPR 2021; docs/methods.md §5.2): FedAvg aggregation, and each
// party adds μ·ℓ_con on its fused representation u,
//   ℓ_con = −log( e^{sim(u, u_glob)/τ} / (e^{sim(u, u_glob)/τ} + e^{sim(u, u_prev)/τ}) ),
// sim the cosine, u_glob from the round's global model and u_prev from the party's previous local
// model on the same batch (the protocol forwards both: prev_models); the gradient flows only
// through u. In a party's first round there is no previous model and the term is skipped; the
// reference code starts u_prev from the global model instead, where the term is the constant log 2
// with zero gradient, so both agree.
#include <math.h>
#include <stddef.h>

#include "core/die.h"
#include "methods/method.h"
#include "nn/loss.h"
#include "protocols/repr.h"

typedef struct {
    double mu, tau;
} MoonOpts;

static const OptSpec moon_opts[] = {
    {"moon.mu", OPT_DOUBLE, offsetof(MoonOpts, mu), "1", OPT_LO | OPT_HI, 0, 10000, NULL,
     "weight of the model-contrastive term (0 = FedAvg)", 0},
    {"moon.tau", OPT_DOUBLE, offsetof(MoonOpts, tau), "0.5", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 100,
     NULL, "temperature of the model-contrastive term", 0},
};

static double moon_term(float *drep, const RepBatch *b, const void *opts) {
    CHECK_PTR(drep);
    CHECK(b->B >= 1 && b->D >= 1, "B=%d D=%d", b->B, b->D);
    if (!b->u_prev) return 0.0; // the party's first round: no previous model
    CHECK(b->u && b->u_glob, "u or u_glob is NULL");
    const MoonOpts *o = opts;
    double sum = 0;
    for (int i = 0; i < b->B; i++) {
        size_t at = (size_t)i * b->D;
        float cg, cp;
        cosine_forward(&cg, b->u + at, b->u_glob + at, 1, b->D);
        cosine_forward(&cp, b->u + at, b->u_prev + at, 1, b->D);
        // ℓ = softplus(x), x = (cp − cg)/τ; dℓ/dx = σ(x).
        double x = ((double)cp - cg) / o->tau;
        sum += x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
        double s = 1.0 / (1.0 + exp(-x)), scale = o->mu / (o->tau * b->B);
        float dg = (float)(-s * scale), dp = (float)(s * scale);
        cosine_backward(drep + at, NULL, &dg, b->u + at, b->u_glob + at, 1, b->D);
        cosine_backward(drep + at, NULL, &dp, b->u + at, b->u_prev + at, 1, b->D);
    }
    return o->mu * sum / b->B;
}

static const ReprExt moon_ext = {.term = moon_term, .prev_models = 1};

const Method method_moon = {
    .opt =
        {.name = "moon",
         .summary =
             "MOON: FedAvg plus the model-contrastive term on u (global vs previous local model)",
         .provenance =
             "Li, He, Song 2021 (CVPR), l_con and Algorithm 1; first round without the term",
         .opts = moon_opts,
         .n_opts = 2,
         .size = sizeof(MoonOpts)},
    .protocol = &protocol_repr,
    .ext = &moon_ext,
};
