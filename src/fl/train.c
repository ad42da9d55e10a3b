// train.c - minibatch training and evaluation of the party model (see train.h).
#include "fl/train.h"

#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/optim.h"

void train_scratch_init(TrainScratch *t, const PartyModel *pm, const SampleLayout *l, int Bmax) {
    memset(t, 0, sizeof *t);
    pm_work_init(&t->work, pm, Bmax);
    batch_init(&t->batch, l, Bmax);
    t->grads = xcalloc_aligned(pm->n_params * sizeof(float));
}

void train_scratch_free(TrainScratch *t) {
    pm_work_free(&t->work);
    batch_free(&t->batch);
    xfree(t->grads);
    xfree(t->order);
    memset(t, 0, sizeof *t);
}

static void shuffle(int64_t *order, int64_t n, Rng *r) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)((((uint64_t)rng_u32(r) << 32) | rng_u32(r)) % (uint64_t)(i + 1));
        int64_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

static void optimizer_step(float *params, const float *grads, OptState *opt, size_t n,
                           const Config *cfg) {
    opt->step++;
    if (strcmp(cfg->optimizer, "sgd") == 0) {
        SgdConfig c = {(float)cfg->lr, (float)cfg->momentum, (float)cfg->weight_decay, 0};
        sgd_step(params, grads, opt->m, n, NULL, 0, &c);
    } else {
        AdamWConfig c = {(float)cfg->lr, 0.9f, 0.999f, 1e-8f, (float)cfg->weight_decay};
        adamw_step(params, grads, opt->m, opt->v, n, NULL, 0, &c, opt->step);
    }
}

// pm_forward with the hooks' completion in between.
static void forward(const PartyModel *pm, const float *params, const PartyHooks *hooks,
                    const int64_t *rows, TrainScratch *t) {
    PmInput *in = &t->batch.in;
    pm_encode(pm, params, in, &t->work);
    for (int m = 0; m < PM_MAX_MOD; m++)
        in->fill[m] = NULL;
    if (hooks && hooks->fill) hooks->fill(hooks->ctx, pm, &t->work, in, rows, in->B);
    pm_fuse(pm, params, in, &t->work);
}

// The identity row order [0, n) in t->order, grown as needed.
static void ensure_order(TrainScratch *t, int64_t n) {
    if (t->order_cap < n) {
        xfree(t->order);
        t->order = xmalloc((size_t)n * sizeof *t->order);
        t->order_cap = n;
    }
    for (int64_t i = 0; i < n; i++)
        t->order[i] = i;
}

void train_party(const PartyModel *pm, float *params, OptState *opt, const SampleSet *s,
                 const SampleLayout *l, const Config *cfg, const FlMethod *method,
                 const float *global, int round, int party, const PartyHooks *hooks,
                 TrainScratch *t, EvalStats *stats) {
    memset(stats, 0, sizeof *stats);
    if (s->n == 0) return;
    Rng r;
    rng_init(&r, (uint64_t)cfg->seed, (uint32_t)round, (uint32_t)party, RNG_SHUFFLE);
    size_t n = pm->n_params;
    for (int epoch = 0; epoch < cfg->local_epochs; epoch++) {
        ensure_order(t, s->n);
        shuffle(t->order, s->n, &r);
        for (int64_t start = 0; start < s->n; start += t->batch.Bmax) {
            int B = (int)(s->n - start < t->batch.Bmax ? s->n - start : t->batch.Bmax);
            sampleset_batch(s, l, t->order, start, B, &t->batch);
            memset(t->grads, 0, n * sizeof(float));
            const int64_t *rows = t->order + start;
            forward(pm, params, hooks, rows, t);
            double loss = pm_ce(pm, &t->work, B, t->batch.label, NULL, 1.0, &stats->correct);
            if (hooks && hooks->extra)
                hooks->extra(hooks->ctx, pm, params, &t->work, &t->batch.in, rows, t->batch.label,
                             B);
            pm_backward(pm, params, t->grads, &t->batch.in, &t->work);
            stats->loss_sum += loss * B;
            stats->n += B;
            if (method && method->party_grad_hook && global)
                method->party_grad_hook(t->grads, params, global, n, cfg);
            if (cfg->clip > 0) clip_grad_global_norm(t->grads, n, NULL, 0, cfg->clip);
            optimizer_step(params, t->grads, opt, n, cfg);
        }
    }
}

void eval_model(const PartyModel *pm, const float *params, const SampleSet *s,
                const SampleLayout *l, const PartyHooks *hooks, TrainScratch *t, EvalStats *stats) {
    memset(stats, 0, sizeof *stats);
    ensure_order(t, s->n);
    for (int64_t start = 0; start < s->n; start += t->batch.Bmax) {
        int B = (int)(s->n - start < t->batch.Bmax ? s->n - start : t->batch.Bmax);
        sampleset_batch(s, l, NULL, start, B, &t->batch);
        forward(pm, params, hooks, t->order + start, t);
        double loss = pm_ce(pm, &t->work, B, t->batch.label, NULL, 0.0, &stats->correct);
        stats->loss_sum += loss * B;
        stats->n += B;
    }
}
