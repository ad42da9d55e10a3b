// generator.c - BoMM's completion generator: MLP forward/backward, Gaussian candidates, preference
// ranking, the supervised and mixed (supervised + DPO) losses (see generator.h).
// [I] reconstruction from the BoMM abstract (docs/methods.md §1.5), not the authors' algorithm.
#include "models/generator.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "core/xalloc.h"
#include "nn/act.h"
#include "nn/dpo.h"
#include "nn/linear.h"

void gen_init(Generator *g, const GenConfig *c) {
    CHECK_PTR(g);
    CHECK_PTR(c);
    CHECK(c->D >= 1 && c->H >= 1, "D = %d, H = %d (need >= 1)", c->D, c->H);
    memset(g, 0, sizeof *g);
    g->c = *c;
    size_t D = (size_t)c->D, H = (size_t)c->H, off = 0;
    g->w1 = off, off += H * 2 * D;
    g->b1 = off, off += H;
    g->w2 = off, off += D * H;
    g->b2 = off, off += D;
    g->n_params = off;
}

void gen_init_params(const Generator *g, float *params, Rng *rng) {
    CHECK_PTR(g);
    CHECK_PTR(params);
    CHECK_PTR(rng);
    size_t D = (size_t)g->c.D, H = (size_t)g->c.H;
    float a1 = 1.f / sqrtf(2.f * (float)D), a2 = 1.f / sqrtf((float)H);
    rng_fill_uniform(rng, params + g->w1, H * 2 * D, -a1, a1);
    rng_fill_uniform(rng, params + g->b1, H, -a1, a1);
    rng_fill_uniform(rng, params + g->w2, D * H, -a2, a2);
    rng_fill_uniform(rng, params + g->b2, D, -a2, a2);
}

void gen_work_init(GenWork *w, const Generator *g, int Bmax) {
    CHECK_PTR(w);
    CHECK_PTR(g);
    CHECK(Bmax >= 1, "Bmax = %d", Bmax);
    memset(w, 0, sizeof *w);
    w->Bmax = Bmax;
    size_t bd = (size_t)Bmax * (size_t)g->c.D, bh = (size_t)Bmax * (size_t)g->c.H;
    w->x = xcalloc_aligned(2 * bd * sizeof(float));
    w->a = xcalloc_aligned(bh * sizeof(float));
    w->da = xcalloc_aligned(bh * sizeof(float));
    w->h = xcalloc_aligned(bh * sizeof(float));
    w->dh = xcalloc_aligned(bh * sizeof(float));
    w->mu = xcalloc_aligned(bd * sizeof(float));
    w->dmu = xcalloc_aligned(bd * sizeof(float));
    w->mu_ref = xcalloc_aligned(bd * sizeof(float));
    w->margin = xcalloc_aligned((size_t)Bmax * sizeof(float));
}

void gen_work_free(GenWork *w) {
    if (!w) return;
    xfree(w->x), xfree(w->a), xfree(w->da), xfree(w->h), xfree(w->dh);
    xfree(w->mu), xfree(w->dmu), xfree(w->mu_ref), xfree(w->margin);
    memset(w, 0, sizeof *w);
}

// The forward into out (B, D), with caches x, a, h in w: shared by the policy and the reference.
static void forward_into(const Generator *g, const float *params, const float *z_src,
                         const float *proto, int B, GenWork *w, float *out) {
    int D = g->c.D, H = g->c.H;
    for (int b = 0; b < B; b++) {
        float *xb = w->x + (size_t)b * 2 * (size_t)D;
        memcpy(xb, z_src + (size_t)b * D, (size_t)D * sizeof(float));
        memcpy(xb + D, proto + (size_t)b * D, (size_t)D * sizeof(float));
    }
    linear_forward(w->a, w->x, params + g->w1, params + g->b1, B, 2 * D, H);
    gelu_forward(w->h, w->a, (size_t)B * (size_t)H);
    linear_forward(out, w->h, params + g->w2, params + g->b2, B, H, D);
}

static void check_batch_size(const char *fn, int B, const GenWork *w) {
    CHECK(B >= 1 && B <= w->Bmax, "%s: batch B = %d outside 1..Bmax = %d", fn, B, w->Bmax);
}

void gen_forward(const Generator *g, const float *params, const float *z_src, const float *proto,
                 int B, GenWork *w) {
    CHECK_PTR(g);
    CHECK_PTR(params);
    CHECK_PTR(z_src);
    CHECK_PTR(proto);
    CHECK_PTR(w);
    check_batch_size(__func__, B, w);
    forward_into(g, params, z_src, proto, B, w, w->mu);
}

void gen_backward(const Generator *g, const float *params, float *grads, int B, GenWork *w) {
    CHECK_PTR(g);
    CHECK_PTR(params);
    CHECK_PTR(grads);
    CHECK_PTR(w);
    check_batch_size(__func__, B, w);
    int D = g->c.D, H = g->c.H;
    size_t bh = (size_t)B * (size_t)H;
    memset(w->dh, 0, bh * sizeof(float)); // the layer backwards accumulate
    memset(w->da, 0, bh * sizeof(float));
    linear_backward(w->dh, grads + g->w2, grads + g->b2, w->dmu, w->h, params + g->w2, B, H, D);
    gelu_backward(w->da, w->a, w->dh, bh);
    // The inputs (embeddings, prototypes) are data here: no dinp.
    linear_backward(NULL, grads + g->w1, grads + g->b1, w->da, w->x, params + g->w1, B, 2 * D, H);
}

void gen_sample_candidates(float *cand, const float *mu, float sigma, int n, int D, uint64_t seed,
                           uint32_t round, uint32_t key) {
    CHECK_PTR(cand);
    CHECK_PTR(mu);
    CHECK(n >= 1 && D >= 1, "n = %d candidates, D = %d (need >= 1)", n, D);
    CHECK(isfinite(sigma) && sigma >= 0, "sigma = %g is not finite >= 0", (double)sigma);
    Rng r;
    rng_init(&r, seed, round, key, RNG_SAMPLE);
    for (int j = 0; j < n; j++) {
        float *c = cand + (size_t)j * D;
        for (int d = 0; d < D; d++)
            c[d] = mu[d] + sigma * rng_normal(&r);
    }
    NANGUARD(__func__, "cand", cand, (size_t)n * (size_t)D);
}

int gen_rank_candidates(int *best, int *worst, const float *rewards, int n) {
    CHECK_PTR(best);
    CHECK_PTR(worst);
    CHECK_PTR(rewards);
    CHECK(n >= 2, "n = %d candidates (a pair needs >= 2)", n);
    int hi = 0, lo = 0;
    for (int j = 0; j < n; j++) {
        CHECK(isfinite(rewards[j]), "rewards[%d] = %g is not finite", j, (double)rewards[j]);
        // Strict comparisons: a later equal reward never replaces an earlier index.
        if (rewards[j] > rewards[hi]) hi = j;
        if (rewards[j] < rewards[lo]) lo = j;
    }
    *best = hi, *worst = lo;
    return rewards[hi] > rewards[lo];
}

double gen_sup_loss(float *dmu, const float *mu, const float *target, const uint8_t *has_target,
                    const float *proto, float lambda_a, int B, int D, double dloss) {
    CHECK_PTR(mu);
    CHECK_PTR(proto);
    CHECK(B >= 1 && D >= 1, "B = %d, D = %d (need >= 1)", B, D);
    CHECK(isfinite(lambda_a) && lambda_a >= 0, "lambda_a = %g is not finite >= 0",
          (double)lambda_a);
    int n_t = 0;
    for (int b = 0; b < B; b++)
        n_t += has_target ? has_target[b] != 0 : target != NULL; // NULL mask: all rows, if any
    CHECK(n_t == 0 || target != NULL, "target is NULL but %d of %d rows have a target", n_t, B);
    double lt = 0, la = 0;
    double ct = n_t > 0 ? 1.0 / n_t : 0.0, ca = (double)lambda_a / B;
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * (size_t)D;
        int ht = n_t > 0 && (has_target == NULL || has_target[b] != 0);
        for (int d = 0; d < D; d++) {
            double ep = (double)mu[o + d] - proto[o + d];
            double et = ht ? (double)mu[o + d] - target[o + d] : 0.0;
            lt += et * et, la += ep * ep;
            if (dmu) dmu[o + d] += (float)(dloss * 2.0 * (ct * et + ca * ep));
        }
    }
    if (dmu) NANGUARD(__func__, "dmu", dmu, (size_t)B * (size_t)D);
    return ct * lt + ca * la;
}

double gen_mixed_step(const Generator *g, const float *params, const float *params_ref,
                      float *grads, const GenBatch *in, const GenLossCfg *cfg, GenWork *w,
                      GenLossParts *parts) {
    CHECK_PTR(g);
    CHECK_PTR(params);
    CHECK_PTR(in);
    CHECK_PTR(cfg);
    CHECK_PTR(w);
    check_batch_size(__func__, in->B, w);
    CHECK_PTR(in->z_src);
    CHECK_PTR(in->proto);
    CHECK(in->n_pair >= 0 && in->n_pair <= in->B, "n_pair = %d outside 0..B = %d", in->n_pair,
          in->B);
    if (in->n_pair > 0) {
        CHECK(in->z_w != NULL && in->z_l != NULL && params_ref != NULL,
              "n_pair = %d needs z_w, z_l and params_ref (z_w %s, z_l %s, params_ref %s)",
              in->n_pair, in->z_w ? "set" : "NULL", in->z_l ? "set" : "NULL",
              params_ref ? "set" : "NULL");
        CHECK(isfinite(cfg->beta) && cfg->beta > 0, "beta = %g is not finite > 0",
              (double)cfg->beta);
        CHECK(isfinite(cfg->sigma) && cfg->sigma > 0, "sigma = %g is not finite > 0",
              (double)cfg->sigma);
    }
    CHECK(cfg->lambda >= 0 && cfg->lambda <= 1, "lambda = %g outside [0, 1]", (double)cfg->lambda);
    int B = in->B, D = g->c.D, P = in->n_pair;
    double lam = cfg->lambda;
    // Reference first: its forward reuses the caches that the policy's backward needs.
    if (P > 0) forward_into(g, params_ref, in->z_src, in->proto, P, w, w->mu_ref);
    forward_into(g, params, in->z_src, in->proto, B, w, w->mu);
    float *dmu = grads ? w->dmu : NULL;
    if (dmu) memset(dmu, 0, (size_t)B * (size_t)D * sizeof(float));
    double sup =
        gen_sup_loss(dmu, w->mu, in->target, in->has_target, in->proto, cfg->lambda_a, B, D, lam);
    double dpo = 0, acc = 0;
    if (P > 0) {
        dpo = dpo_gauss_forward(w->margin, w->mu, w->mu_ref, in->z_w, in->z_l, cfg->beta,
                                cfg->sigma, P, D);
        for (int n = 0; n < P; n++)
            acc += w->margin[n] > 0;
        acc /= P;
        if (dmu && lam < 1)
            dpo_gauss_backward(dmu, w->margin, in->z_w, in->z_l, cfg->beta, cfg->sigma, P, D,
                               1.0 - lam);
    }
    if (grads) gen_backward(g, params, grads, B, w);
    if (parts) parts->sup = sup, parts->dpo = dpo, parts->pair_acc = acc;
    return lam * sup + (1.0 - lam) * dpo;
}

// ---- the model contract (models/model.h) ----

static GenWork *gw(const ModelWork *w) { return w->impl; }

static void op_init_params(const Model *m, float *params, Rng *rng) {
    gen_init_params(m->impl, params, rng);
}

static void op_work_init(const Model *m, ModelWork *w, int Bmax) {
    GenWork *x = xcalloc(1, sizeof *x);
    gen_work_init(x, m->impl, Bmax);
    w->impl = x;
    w->rep = x->mu, w->drep = x->dmu;
}

static void op_work_free(ModelWork *w) {
    gen_work_free(gw(w));
    xfree(w->impl);
}

static void op_forward(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    const Generator *g = m->impl;
    gen_forward(g, params, in->dense[0], in->dense[1], in->B, gw(w));
    memset(gw(w)->dmu, 0, (size_t)in->B * (size_t)g->c.D * sizeof(float));
}

static void op_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                        ModelWork *w) {
    gen_backward(m->impl, params, grads, in->B, gw(w));
}

static void op_destroy(void *impl) { xfree(impl); }

static const ModelOps gen_ops = {.kind = "generator",
                                 .init_params = op_init_params,
                                 .work_init = op_work_init,
                                 .work_free = op_work_free,
                                 .forward = op_forward,
                                 .backward = op_backward,
                                 .destroy = op_destroy};

void generator_create(Model *m, const GenConfig *c) {
    CHECK_PTR(m);
    Generator *g = xcalloc(1, sizeof *g);
    gen_init(g, c);
    int64_t D = c->D, H = c->H;
    *m = (Model){.ops = &gen_ops, .impl = g, .n_params = g->n_params, .rep_dim = c->D};
    model_add_tensor(m, "fc1/w", 2, (int64_t[]){H, 2 * D}, g->w1, 1);
    model_add_tensor(m, "fc1/b", 1, (int64_t[]){H}, g->b1, 1);
    model_add_tensor(m, "fc2/w", 2, (int64_t[]){D, H}, g->w2, 1);
    model_add_tensor(m, "fc2/b", 1, (int64_t[]){D}, g->b2, 1);
}
