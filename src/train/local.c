// local.c - minibatch training and evaluation of a model on a sample set (see local.h).
#include "train/local.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/optim.h"

void train_scratch_init(TrainScratch *t, const Model *m, const SampleLayout *l, int Bmax) {
    memset(t, 0, sizeof *t);
    model_work_init(m, &t->work, Bmax);
    batch_init(&t->batch, l, Bmax);
    t->grads = xcalloc_aligned(m->n_params * sizeof(float));
    if (m->K > 0) class_scores_init(&t->scores, m->K);
}

void train_scratch_free(TrainScratch *t, const Model *m) {
    model_work_free(m, &t->work);
    batch_free(&t->batch);
    xfree(t->grads);
    xfree(t->order);
    class_scores_free(&t->scores);
    memset(t, 0, sizeof *t);
}

void train_opt_step(const TrainConfig *tc, double lr, float *params, const float *grads,
                    OptState *opt, size_t n_params, const Selection *sel) {
    const ParamSegment *segs = sel ? sel->seg : NULL;
    int n_segs = sel ? sel->n_segs : 0;
    opt->step++;
    if (tc->sgd) {
        SgdConfig c = {(float)lr, (float)tc->momentum, (float)tc->weight_decay, 0};
        sgd_step(params, grads, opt->m, n_params, segs, n_segs, &c);
    } else {
        float beta2 = tc->beta2 > 0 ? (float)tc->beta2 : 0.999f;
        AdamWConfig c = {(float)lr, 0.9f, beta2, 1e-8f, (float)tc->weight_decay};
        adamw_step(params, grads, opt->m, opt->v, n_params, segs, n_segs, &c, (long)opt->step);
    }
}

// The cosine-with-warm-up factor of unit i of n (warm-up over ceil(warmup · n) units): the ramp
// is i / w for steps, as Hugging Face's (its first step has rate 0), and (i + 1) / w for rounds, so
// that no round is spent at rate 0.
static double cos_warm(int64_t i, int64_t n, double warmup, int ramp_from_one) {
    int64_t w = (int64_t)ceil(warmup * (double)n);
    if (i < w) return (double)(i + ramp_from_one) / (double)w;
    if (n <= w) return 1.0;
    return 0.5 * (1.0 + cos(M_PI * (double)(i - w) / (double)(n - w)));
}

double train_lr(const TrainConfig *tc, int round, int64_t step, int64_t steps) {
    if (tc->schedule == 0) return tc->lr;
    double peak = tc->lr * cos_warm(round - 1, tc->rounds > 0 ? tc->rounds : 1, tc->warmup, 1);
    return peak * cos_warm(step, steps, tc->warmup, 0);
}

// The forward, with the hooks' completion between encode and fuse.
static void forward(const Model *m, const float *params, const PartyHooks *hooks,
                    const int64_t *rows, TrainScratch *t) {
    ModelInput *in = &t->batch.in;
    for (int k = 0; k < MODEL_MAX_MOD; k++)
        in->fill[k] = NULL;
    if (hooks && hooks->fill) {
        model_encode(m, params, in, &t->work);
        hooks->fill(hooks->ctx, m, &t->work, in, rows, in->B);
        model_fuse(m, params, in, &t->work);
    } else {
        model_forward(m, params, in, &t->work);
    }
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

void train_local(const Model *m, const Selection *sel, float *params, OptState *opt,
                 const SampleSet *s, const SampleLayout *l, const TrainConfig *tc, int round,
                 int party, const PartyHooks *hooks, TrainScratch *t, EvalStats *stats) {
    memset(stats, 0, sizeof *stats);
    CHECK(!hooks || !hooks->fill || model_has_split(m),
          "completion of missing modalities needs a model with an encode/fuse split; a %s model "
          "has none",
          m->ops->kind);
    if (s->n == 0) return;
    Rng r, drop;
    rng_init(&r, tc->seed, (uint32_t)round, (uint32_t)party, RNG_SHUFFLE);
    rng_init(&drop, tc->seed, (uint32_t)round, (uint32_t)party, RNG_DROPOUT);
    t->work.grad_sel = sel;
    t->work.train_rng = &drop;
    size_t n = m->n_params;
    int64_t per_epoch = (s->n + t->batch.Bmax - 1) / t->batch.Bmax;
    int64_t steps = per_epoch * tc->epochs, step = 0;
    for (int epoch = 0; epoch < tc->epochs; epoch++) {
        ensure_order(t, s->n);
        rng_shuffle_wide(&r, t->order, s->n);
        for (int64_t start = 0; start < s->n; start += t->batch.Bmax) {
            int B = (int)(s->n - start < t->batch.Bmax ? s->n - start : t->batch.Bmax);
            sampleset_batch(s, l, t->order, start, B, &t->batch);
            memset(t->grads, 0, n * sizeof(float));
            const int64_t *rows = t->order + start;
            forward(m, params, hooks, rows, t);
            double loss = model_ce(m, &t->work, B, t->batch.label, NULL, 1.0, &stats->correct);
            if (hooks && hooks->extra)
                hooks->extra(hooks->ctx, m, params, &t->work, &t->batch.in, rows, t->batch.label,
                             B);
            model_backward(m, params, t->grads, &t->batch.in, &t->work);
            stats->loss_sum += loss * B;
            stats->n += B;
            if (hooks && hooks->grad) hooks->grad(hooks->ctx, t->grads, params, sel);
            if (tc->clip > 0) clip_grad_global_norm(t->grads, n, sel->seg, sel->n_segs, tc->clip);
            train_opt_step(tc, train_lr(tc, round, step++, steps), params, t->grads, opt, n, sel);
        }
    }
    t->work.grad_sel = NULL;
    t->work.train_rng = NULL;
}

void evaluate_model(const Model *m, const float *params, const SampleSet *s, const SampleLayout *l,
                    const PartyHooks *hooks, TrainScratch *t, EvalStats *stats) {
    memset(stats, 0, sizeof *stats);
    ensure_order(t, s->n);
    class_scores_reset(&t->scores);
    for (int64_t start = 0; start < s->n; start += t->batch.Bmax) {
        int B = (int)(s->n - start < t->batch.Bmax ? s->n - start : t->batch.Bmax);
        sampleset_batch(s, l, NULL, start, B, &t->batch);
        forward(m, params, hooks, t->order + start, t);
        if (hooks && hooks->logits) hooks->logits(hooks->ctx, m, &t->work, B);
        class_scores_add(&t->scores, t->work.logits, t->batch.label, B);
        double loss = model_ce(m, &t->work, B, t->batch.label, NULL, 0.0, &stats->correct);
        stats->loss_sum += loss * B;
        stats->n += B;
    }
    stats->macro_f1 = class_scores_macro_f1(&t->scores);
    stats->auc = class_scores_auc(&t->scores);
    stats->auc_hard = class_scores_auc_hard(&t->scores);
}
