// mllm_stages.c - the base model's four training stages (see mllm_stages.h).
#include "train/mllm_stages.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "train/local.h"

#define TEXT_CAP 4096

// ---- rows ----

void stage_rows_load(StageRows *r, const Dataset *ds, const SampleLayout *sl, DsSplit split,
                     const int64_t *idx, int64_t n) {
    memset(r, 0, sizeof *r);
    uint8_t *all = xmalloc((size_t)n + 1);
    memset(all, (1u << sl->n_mod) - 1, (size_t)n);
    sampleset_load(&r->set, sl, ds, split, idx, all, n);
    xfree(all);
    r->n = n;
    r->facts = xcalloc((size_t)n + 1, sizeof *r->facts);
    FactsSource src;
    facts_source_init(&src, ds);
    int n_meta = dataset_n_meta(ds);
    int32_t *meta = n_meta ? xmalloc((size_t)n * n_meta * sizeof *meta) : NULL;
    if (meta) dataset_read_meta_idx(ds, split, idx, n, meta);
    Batch b;
    batch_init(&b, sl, 64);
    for (int64_t at = 0; at < n; at += 64) {
        int B = (int)(n - at < 64 ? n - at : 64);
        sampleset_batch(&r->set, sl, NULL, at, B, &b);
        for (int i = 0; i < B; i++) {
            int64_t row = at + i;
            const float *img =
                src.image_mod >= 0 ? b.dense[src.image_mod] + (size_t)i * src.image_elems : NULL;
            const int32_t *txt =
                src.text_mod >= 0 ? (const int32_t *)r->set.raw[src.text_mod] + row * src.text_len
                                  : NULL;
            facts_from_row(&r->facts[row], &src, r->set.label[row], NULL, img,
                           meta ? meta + row * n_meta : NULL, txt);
        }
    }
    batch_free(&b);
    xfree(meta);
}

void stage_rows_free(StageRows *r) {
    sampleset_free(&r->set);
    xfree(r->facts);
    memset(r, 0, sizeof *r);
}

void curve_add(Curve *c, double step, double value) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        double *s = xmalloc((size_t)cap * sizeof *s), *v = xmalloc((size_t)cap * sizeof *v);
        if (c->n) memcpy(s, c->step, (size_t)c->n * sizeof *s);
        if (c->n) memcpy(v, c->value, (size_t)c->n * sizeof *v);
        xfree(c->step), xfree(c->value);
        c->step = s, c->value = v, c->cap = cap;
    }
    c->step[c->n] = step, c->value[c->n++] = value;
}

void curve_free(Curve *c) {
    xfree(c->step), xfree(c->value);
    memset(c, 0, sizeof *c);
}

// ---- the optimiser every stage uses ----

typedef struct {
    Selection sel;
    OptState opt;
    float *grads;
    TrainConfig tc;
    size_t n;
} Stepper;

static void stepper_init(Stepper *s, const StageEnv *env, const char *spec, const StageOpts *o) {
    memset(s, 0, sizeof *s);
    char err[512];
    CHECK(model_select(env->layout, spec, &s->sel, err, sizeof err) == 0, "%s", err);
    s->n = env->layout->n_params;
    s->grads = xcalloc_aligned(s->n * sizeof(float));
    s->opt.m = xcalloc_aligned(s->n * sizeof(float));
    s->opt.v = xcalloc_aligned(s->n * sizeof(float));
    s->tc = (TrainConfig){.lr = o->lr,
                          .weight_decay = o->weight_decay,
                          .clip = o->clip,
                          .schedule = 1,
                          .warmup = 0.05,
                          .rounds = 1};
}

static void stepper_zero(Stepper *s) {
    for (int k = 0; k < s->sel.n_segs; k++)
        memset(s->grads + s->sel.seg[k].off, 0, s->sel.seg[k].n * sizeof(float));
}

static void stepper_step(Stepper *s, float *params, int step, int steps) {
    if (s->tc.clip > 0) clip_grad_global_norm(s->grads, s->n, s->sel.seg, s->sel.n_segs, s->tc.clip);
    train_opt_step(&s->tc, train_lr(&s->tc, 1, step, steps), params, s->grads, &s->opt, s->n,
                   &s->sel);
}

static void stepper_free(Stepper *s) {
    xfree(s->grads), xfree(s->opt.m), xfree(s->opt.v);
    memset(s, 0, sizeof *s);
}

// The LM's base weights (every LM tensor but the adapters) as a selection spec.
static void lm_base_spec(const Mllm *mm, char *out, size_t cap) {
    snprintf(out, cap, "lm/tok_emb,lm/attn_norm,lm/wq,lm/wk,lm/wv,lm/wo,lm/mlp_norm,lm/w1,lm/w3,"
                       "lm/w2,lm/norm%s",
             mm->c.lm.tied ? "" : ",lm/head");
}

// ---- stage 1: text ----

double stage_text(const StageEnv *env, float *params, const int *tokens, int64_t n, int T,
                  const int *val, int64_t nv, const StageOpts *o, Curve *loss, double *val_ppl) {
    const Mllm *mm = env->mm;
    CHECK(n > T + 1, "stage 1: the corpus has %lld tokens, fewer than one window of %d",
          (long long)n, T + 1);
    char spec[256];
    lm_base_spec(mm, spec, sizeof spec);
    Stepper st;
    stepper_init(&st, env, spec, o);
    MllmWork w;
    mllm_work_init(&w, mm, o->batch, T);
    int B = o->batch;
    int *ids = xmalloc((size_t)B * T * sizeof(int)), *tgt = xmalloc((size_t)B * T * sizeof(int));
    int *len = xmalloc((size_t)B * sizeof(int));
    MllmTrain tr = {.lm_base = 1, .emb = 1};
    Rng rng;
    rng_init(&rng, env->seed, 1, 0, RNG_SHUFFLE);
    double last = NAN, ema = NAN;
    for (int step = 0; step < o->steps; step++) {
        for (int b = 0; b < B; b++) {
            int64_t s = (int64_t)rng_below(&rng, (uint32_t)(n - T - 1));
            memcpy(ids + (size_t)b * T, tokens + s, (size_t)T * sizeof(int));
            memcpy(tgt + (size_t)b * T, tokens + s + 1, (size_t)T * sizeof(int));
            len[b] = T;
        }
        MllmBatch batch = {.B = B, .T = T, .ids = ids, .len = len};
        stepper_zero(&st);
        last = mllm_lm_loss(mm, params, st.grads, &tr, &batch, tgt, 1.0, &w, NULL, NULL, NULL);
        stepper_step(&st, params, step, o->steps);
        ema = isnan(ema) ? last : 0.98 * ema + 0.02 * last;
        if (step % 50 == 0 || step == o->steps - 1) curve_add(loss, step, ema);
        if (step % 500 == 0) log_info("stage 1 (text): step %d/%d loss %.3f", step, o->steps, ema);
    }
    // validation: non-overlapping windows
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t s = 0; s + T + 1 <= nv && cnt < 64 * (int64_t)T; s += T) {
        int one = 1;
        (void)one;
        MllmBatch batch = {.B = 1, .T = T, .ids = val + s, .len = &T};
        int64_t k;
        double l = mllm_lm_loss(mm, params, NULL, &tr, &batch, val + s + 1, 1.0, &w, NULL, &k,
                                NULL);
        sum += l * (double)k, cnt += k;
    }
    *val_ppl = cnt ? exp(sum / (double)cnt) : NAN;
    xfree(ids), xfree(tgt), xfree(len);
    mllm_work_free(&w);
    stepper_free(&st);
    return last;
}

// ---- stage 2: encoders ----

double stage_encoder(const StageEnv *env, float *params, int e, const StageRows *train,
                     const StageRows *val, const StageOpts *o, Curve *loss) {
    const Mllm *mm = env->mm;
    const Vit *v = &mm->vit[e];
    const int D = v->c.D, Np = v->Np, K = env->pc->K, B = o->batch, mod = env->mod_of_enc[e];
    char spec[64];
    snprintf(spec, sizeof spec, "enc_%s/", mm->c.enc[e].name);
    Stepper st;
    stepper_init(&st, env, spec, o);
    // the probe: mean-pool and a linear head, its own buffers and AdamW state
    size_t nh = (size_t)K * D + K;
    float *head = xmalloc(nh * sizeof(float)), *gh = xcalloc(nh, sizeof(float));
    float *hm = xcalloc(nh, sizeof(float)), *hv = xcalloc(nh, sizeof(float));
    Rng rng;
    rng_init(&rng, env->seed, 2, (uint32_t)e, RNG_INIT);
    rng_fill_uniform(&rng, head, nh, -1.0f / sqrtf((float)D), 1.0f / sqrtf((float)D));
    VitWork w;
    vit_work_init(&w, v, B);
    float *pool = xmalloc((size_t)B * D * sizeof(float)), *logits = xmalloc((size_t)B * K * 4);
    float *probs = xmalloc((size_t)B * K * 4), *dlog = xmalloc((size_t)B * K * 4);
    float *dpool = xmalloc((size_t)B * D * 4), *dout = xmalloc((size_t)B * Np * D * 4);
    Batch bt;
    batch_init(&bt, env->sl, B);
    int64_t *order = xmalloc((size_t)B * sizeof *order);
    rng_init(&rng, env->seed, 2, (uint32_t)e, RNG_SHUFFLE);
    double ema = NAN;
    int64_t hits = 0, seen = 0;
    for (int step = 0; step <= o->steps; step++) {
        int eval = step == o->steps; // the last pass: validation, no update
        const StageRows *rows = eval ? val : train;
        int64_t evaluated = 0;
        do {
            int Bn = B;
            if (eval) {
                Bn = (int)(val->n - evaluated < B ? val->n - evaluated : B);
                for (int i = 0; i < Bn; i++)
                    order[i] = evaluated + i;
                evaluated += Bn;
            } else {
                for (int i = 0; i < B; i++)
                    order[i] = rng_below(&rng, (uint32_t)rows->n);
            }
            sampleset_batch(&rows->set, env->sl, order, 0, Bn, &bt);
            vit_forward(v, params, bt.dense[mod], Bn, &w);
            for (int b = 0; b < Bn; b++)
                for (int d = 0; d < D; d++) {
                    float s = 0;
                    for (int p = 0; p < Np; p++)
                        s += w.out[((size_t)b * Np + p) * D + d];
                    pool[(size_t)b * D + d] = s / (float)Np;
                }
            linear_forward(logits, pool, head, head + (size_t)K * D, Bn, D, K);
            double l = softmax_ce_forward(probs, logits, bt.label, NULL, -1, Bn, K);
            if (eval) {
                hits += argmax_hits(logits, bt.label, Bn, K), seen += Bn;
                continue;
            }
            memset(dlog, 0, (size_t)Bn * K * sizeof(float));
            softmax_ce_backward(dlog, probs, bt.label, NULL, -1, Bn, K, 1.0);
            memset(gh, 0, nh * sizeof(float));
            memset(dpool, 0, (size_t)Bn * D * sizeof(float));
            linear_backward(dpool, gh, gh + (size_t)K * D, dlog, pool, head, Bn, D, K);
            for (int b = 0; b < Bn; b++)
                for (int p = 0; p < Np; p++)
                    for (int d = 0; d < D; d++)
                        dout[((size_t)b * Np + p) * D + d] = dpool[(size_t)b * D + d] / (float)Np;
            stepper_zero(&st);
            vit_backward(v, params, st.grads, bt.dense[mod], Bn, &w, dout);
            stepper_step(&st, params, step, o->steps);
            AdamWConfig hc = {(float)train_lr(&st.tc, 1, step, o->steps), 0.9f, 0.999f, 1e-8f,
                              (float)o->weight_decay};
            adamw_step(head, gh, hm, hv, nh, NULL, 0, &hc, step + 1);
            ema = isnan(ema) ? l : 0.98 * ema + 0.02 * l;
            if (step % 25 == 0 || step == o->steps - 1) curve_add(loss, step, ema);
        } while (eval && evaluated < val->n);
    }
    xfree(order), batch_free(&bt);
    xfree(pool), xfree(logits), xfree(probs), xfree(dlog), xfree(dpool), xfree(dout);
    xfree(head), xfree(gh), xfree(hm), xfree(hv);
    vit_work_free(&w);
    stepper_free(&st);
    return seen ? (double)hits / (double)seen : NAN;
}
