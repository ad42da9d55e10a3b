// mllm_stages.c - the base model's four training stages (see mllm_stages.h).
#include "train/mllm_stages.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "train/local.h"

#define TEXT_CAP 4096

// ---- rows ----

void stage_rows_load(StageRows *r, const Dataset *ds, const SampleLayout *sl, DsSplit split,
                     const int64_t *idx, int64_t n) {
    stage_rows_load_masked(r, ds, sl, split, idx, NULL, n);
}

void stage_rows_load_masked(StageRows *r, const Dataset *ds, const SampleLayout *sl, DsSplit split,
                            const int64_t *idx, const uint8_t *mask, int64_t n) {
    memset(r, 0, sizeof *r);
    uint8_t *all = xmalloc((size_t)n + 1);
    if (mask)
        memcpy(all, mask, (size_t)n);
    else
        memset(all, (1u << sl->n_mod) - 1, (size_t)n);
    sampleset_load(&r->set, sl, ds, split, idx, all, n);
    xfree(all);
    r->n = n;
    r->facts = xcalloc((size_t)n + 1, sizeof *r->facts);
    sampleset_facts(r->facts, &r->set, sl, ds, split, idx);
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
        memset(s->grads + s->sel.seg[k].offset, 0, s->sel.seg[k].n * sizeof(float));
}

static void stepper_step(Stepper *s, float *params, int step, int steps) {
    if (s->tc.clip > 0)
        clip_grad_global_norm(s->grads, s->n, s->sel.seg, s->sel.n_segs, s->tc.clip);
    train_opt_step(&s->tc, train_lr(&s->tc, 1, step, steps), params, s->grads, &s->opt, s->n,
                   &s->sel);
}

static void stepper_free(Stepper *s) {
    xfree(s->grads), xfree(s->opt.m), xfree(s->opt.v);
    memset(s, 0, sizeof *s);
}

// The LM's base weights (every LM tensor but the adapters) as a selection spec.
static void lm_base_spec(const Mllm *mm, char *out, size_t cap) {
    snprintf(out, cap,
             "lm/tok_emb,lm/attn_norm,lm/wq,lm/wk,lm/wv,lm/wo,lm/mlp_norm,lm/w1,lm/w3,"
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
        MllmBatch batch = {.B = 1, .T = T, .ids = val + s, .len = &T};
        int64_t k;
        double l =
            mllm_lm_loss(mm, params, NULL, &tr, &batch, val + s + 1, 1.0, &w, NULL, &k, NULL);
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
    float *pool = xmalloc((size_t)B * D * sizeof(float)),
          *logits = xmalloc((size_t)B * K * sizeof(float));
    float *probs = xmalloc((size_t)B * K * sizeof(float)),
          *dlog = xmalloc((size_t)B * K * sizeof(float));
    float *dpool = xmalloc((size_t)B * D * sizeof(float)),
          *dout = xmalloc((size_t)B * Np * D * sizeof(float));
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

// ---- stages 3 and 4: sequences of media and text ----

typedef struct {
    Batch bt;
    int *ids, *len, *tgt, *slot[MLLM_MAX_ENC];
    int64_t *order;
    char *text, *q;
    int Tmax;
} SeqBuf;

static void seqbuf_init(SeqBuf *s, const StageEnv *env, int B) {
    memset(s, 0, sizeof *s);
    s->Tmax = env->mm->c.lm.Tmax;
    batch_init(&s->bt, env->sl, B);
    s->ids = xmalloc((size_t)B * s->Tmax * sizeof(int));
    s->tgt = xmalloc((size_t)B * s->Tmax * sizeof(int));
    s->len = xmalloc((size_t)B * sizeof(int));
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        s->slot[e] = xmalloc((size_t)B * sizeof(int));
    s->order = xmalloc((size_t)B * sizeof *s->order);
    s->text = xmalloc(TEXT_CAP), s->q = xmalloc(TEXT_CAP);
}

static void seqbuf_free(SeqBuf *s) {
    batch_free(&s->bt);
    xfree(s->ids), xfree(s->tgt), xfree(s->len), xfree(s->order), xfree(s->text), xfree(s->q);
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        xfree(s->slot[e]);
}

// f with only the modalities of mask present: what facts_from_row gives for that mask.
static SampleFacts masked_facts(const SampleFacts *all, const StageEnv *env, int mask) {
    SampleFacts f = *all;
    for (int m = 0; m < f.n_mod; m++)
        f.present[m] = (uint8_t)(mask >> m & 1);
    for (int m = 0; m < f.n_mod; m++) {
        if (f.present[m]) continue;
        if (f.mod_kind[m] == FACTS_MOD_IMAGE) f.img_size = f.img_tone = -1;
        if (f.mod_kind[m] == FACTS_MOD_AUDIO) f.aud_rate = f.aud_pitch = f.aud_voice = -1;
        if (m == env->text_mod) f.text[0] = 0;
    }
    return f;
}

// What a sequence asks. CAPTION and INSTRUCT are stages 3 and 4; ITEMS is the parties' task
// question; MIX draws one of the three per row (stage 4'); CAPTION_OWN is a caption of the row's
// own image and audio (Fed-CMP's parties: the modalities a party holds).
enum { TASK_CAPTION = 0, TASK_INSTRUCT = 1, TASK_ITEMS = 2, TASK_MIX = 3, TASK_CAPTION_OWN = 4 };

// A random non-empty set of the encoders' modalities (and, with text, the text modality with
// probability 1/2) as a data-modality mask.
static int draw_mask(const StageEnv *env, Rng *rng, int with_text) {
    int n_enc = env->mm->c.n_enc, mask = 0;
    while (!mask)
        for (int e = 0; e < n_enc; e++)
            if (rng_below(rng, 2)) mask |= 1 << env->mod_of_enc[e];
    if (with_text && env->text_mod >= 0 && rng_below(rng, 2)) mask |= 1 << env->text_mod;
    return mask;
}

// The item question's mix: a uniform non-empty subset of the encoders' modalities and the text
// (text alone included: a party may hold only its text).
static int draw_item_mask(const StageEnv *env, Rng *rng) {
    int bits[MLLM_MAX_ENC + 1], n = 0, mask = 0;
    for (int e = 0; e < env->mm->c.n_enc; e++)
        bits[n++] = env->mod_of_enc[e];
    if (env->text_mod >= 0) bits[n++] = env->text_mod;
    int pick = 1 + (int)rng_below(rng, (1u << n) - 1u);
    for (int i = 0; i < n; i++)
        if (pick >> i & 1) mask |= 1 << bits[i];
    return mask;
}

// Row b of the batch: its media per mask, then text; targets on the caption (CAPTION) or the
// answer letter (INSTRUCT, ITEMS). Returns the length.
static int build_seq(const StageEnv *env, SeqBuf *s, const StageRows *rows, int b, int64_t row,
                     int task, Rng *rng) {
    const Mllm *mm = env->mm;
    if (task == TASK_MIX) {
        uint32_t u = rng_below(rng, 10);
        task = u < 4 ? TASK_ITEMS : u < 7 ? TASK_CAPTION : TASK_INSTRUCT;
    }
    int mask = 0;
    if (task == TASK_CAPTION_OWN) {
        for (int e = 0; e < mm->c.n_enc; e++)
            mask |= rows->set.mask[row] & (1 << env->mod_of_enc[e]);
        CHECK(mask, "a caption row (%lld) without image or audio", (long long)row);
        task = TASK_CAPTION;
    } else {
        mask = task == TASK_ITEMS ? draw_item_mask(env, rng)
                                  : draw_mask(env, rng, task == TASK_INSTRUCT);
    }
    uint8_t has[MLLM_MAX_ENC] = {0};
    for (int e = 0; e < mm->c.n_enc; e++)
        has[e] = (uint8_t)(mask >> env->mod_of_enc[e] & 1);
    SampleFacts f = masked_facts(&rows->facts[row], env, mask);
    int *ids = s->ids + (size_t)b * s->Tmax, *tgt = s->tgt + (size_t)b * s->Tmax;
    MllmSeq q;
    mllm_seq_begin(&q, ids, s->Tmax, mm, env->voc, has);
    int prompt_end;
    const char *name = f.label >= 0 && f.label < env->pc->K ? env->pc->names[f.label] : NULL;
    if (task == TASK_CAPTION) {
        mllm_seq_text(&q, env->voc, "caption:");
        prompt_end = q.n;
        CHECK(prompt_caption(s->text, TEXT_CAP, &f, name, rng) >= 0, "caption too long");
        snprintf(s->q, TEXT_CAP, " %s", s->text);
        mllm_seq_text(&q, env->voc, s->q);
        mllm_seq_push(&q, MLLM_TOK_EOS);
    } else {
        int n_opt, answer;
        if (task == TASK_ITEMS) { // models/mllm_kind.c's build_questions and build_row
            uint8_t present[FACTS_MAX_MOD] = {0};
            for (int m = 0; m < env->sl->n_mod; m++)
                present[m] = (uint8_t)(mask >> m & 1);
            int augmented = rng_below(rng, 4) == 0;
            CHECK(f.label >= 0 && f.label < env->task_K, "row %lld: label %d outside 0..%d",
                  (long long)row, f.label, env->task_K - 1);
            CHECK(prompt_task(s->q, TEXT_CAP, env->task_classes, env->task_K, present,
                              env->mod_name, env->sl->n_mod, augmented, 0) >= 0,
                  "item question too long");
            answer = f.label;
        } else {
            CHECK(prompt_instruction(s->q, TEXT_CAP, &n_opt, &answer, &f, env->pc, rng) >= 0,
                  "instruction too long");
        }
        CHECK(mllm_question_text(s->text, TEXT_CAP, f.text, s->q) >= 0, "question too long");
        mllm_seq_text(&q, env->voc, s->text);
        prompt_end = q.n;
        mllm_seq_push(&q, mllm_letter_id(env->voc, answer));
    }
    CHECK(!q.overflow, "a stage sequence does not fit the context of %d tokens", s->Tmax);
    for (int t = 0; t < q.n; t++) // position t predicts token t + 1 from the prompt's end on
        tgt[t] = t + 1 >= prompt_end && t + 1 < q.n ? ids[t + 1] : -1;
    for (int e = 0; e < mm->c.n_enc; e++)
        s->slot[e][b] = q.slot[e];
    return q.n;
}

// A batch of B rows (order[0..B) of rows) as an MllmBatch over s's buffers.
static MllmBatch make_batch(const StageEnv *env, SeqBuf *s, const StageRows *rows, int B, int task,
                            Rng *rng) {
    sampleset_batch(&rows->set, env->sl, s->order, 0, B, &s->bt);
    for (int b = 0; b < B; b++)
        s->len[b] = build_seq(env, s, rows, b, s->order[b], task, rng);
    int T = mllm_rows_pack(s->ids, s->tgt, s->len, B, s->Tmax);
    MllmBatch mb = {.B = B, .T = T, .ids = s->ids, .len = s->len};
    for (int e = 0; e < env->mm->c.n_enc; e++)
        mb.enc_in[e] = s->bt.dense[env->mod_of_enc[e]], mb.slot[e] = s->slot[e];
    return mb;
}

// Every row of val once for task, its draws from (stream, sub): the mean loss's exp (the
// perplexity) into *ppl and the argmax accuracy of the targets into *acc.
static void seq_validate(const StageEnv *env, const float *params, const MllmTrain *tr, int task,
                         const StageRows *val, int batch, SeqBuf *s, MllmWork *w, uint32_t stream,
                         uint32_t sub, double *ppl, double *acc) {
    Rng vr;
    rng_init(&vr, env->seed, stream, sub, RNG_DATA);
    double sum = 0;
    int64_t cnt = 0, hits = 0;
    for (int64_t at = 0; at < val->n; at += batch) {
        int B = (int)(val->n - at < batch ? val->n - at : batch);
        for (int b = 0; b < B; b++)
            s->order[b] = at + b;
        MllmBatch mb = make_batch(env, s, val, B, task, &vr);
        int64_t k;
        double l = mllm_lm_loss(env->mm, params, NULL, tr, &mb, s->tgt, 1.0, w, NULL, &k, &hits);
        sum += l * (double)k, cnt += k;
    }
    *ppl = cnt ? exp(sum / (double)cnt) : NAN;
    *acc = cnt ? (double)hits / (double)cnt : NAN;
}

// Stages 3, 4 and 4': train the selection spec on rows for task, drawing from RNG stream
// `stream`. Validation is the caller's (seq_validate), on the work returned in s and w.
static void stage_seq_train(const StageEnv *env, float *params, const char *spec, MllmTrain tr,
                            int task, uint32_t stream, const StageRows *train, const StageOpts *o,
                            Curve *loss, SeqBuf *s, MllmWork *w) {
    const Mllm *mm = env->mm;
    Stepper st;
    stepper_init(&st, env, spec, o);
    seqbuf_init(s, env, o->batch);
    mllm_work_init(w, mm, o->batch, mm->c.lm.Tmax);
    Rng rng, pick;
    rng_init(&rng, env->seed, stream, 0, RNG_DATA);
    rng_init(&pick, env->seed, stream, 0, RNG_SHUFFLE);
    double ema = NAN;
    for (int step = 0; step < o->steps; step++) {
        for (int b = 0; b < o->batch; b++)
            s->order[b] = rng_below(&pick, (uint32_t)train->n);
        MllmBatch mb = make_batch(env, s, train, o->batch, task, &rng);
        stepper_zero(&st);
        double l = mllm_lm_loss(mm, params, st.grads, &tr, &mb, s->tgt, 1.0, w, NULL, NULL, NULL);
        stepper_step(&st, params, step, o->steps);
        ema = isnan(ema) ? l : 0.98 * ema + 0.02 * l;
        if (step % 25 == 0 || step == o->steps - 1) curve_add(loss, step, ema);
        if (step % 500 == 0)
            log_info("stage %s: step %d/%d loss %.3f",
                     stream == 3   ? "3"
                     : stream == 4 ? "4"
                                   : "4'",
                     step, o->steps, ema);
    }
    stepper_free(&st);
}

// Stages 3 and 4: train, then evaluate on val: returns (instruct ? the answer accuracy : the
// perplexity).
static double stage_seq(const StageEnv *env, float *params, const char *spec, MllmTrain tr,
                        int instruct, const StageRows *train, const StageRows *val,
                        const StageOpts *o, Curve *loss) {
    SeqBuf s;
    MllmWork w;
    uint32_t stream = instruct ? 4 : 3;
    stage_seq_train(env, params, spec, tr, instruct, stream, train, o, loss, &s, &w);
    double ppl, acc; // validation: every row once, its own fixed draws
    seq_validate(env, params, &tr, instruct, val, o->batch, &s, &w, stream, 1, &ppl, &acc);
    mllm_work_free(&w);
    seqbuf_free(&s);
    return instruct ? acc : ppl;
}

// ---- captions for a caller's own training loop ----

struct StageCaptions {
    const StageEnv *env;
    SeqBuf s;
    MllmWork w;
    int Bmax;
};

StageCaptions *stage_captions_create(const StageEnv *env, int Bmax) {
    StageCaptions *c = xcalloc(1, sizeof *c);
    c->env = env, c->Bmax = Bmax;
    seqbuf_init(&c->s, env, Bmax);
    mllm_work_init(&c->w, env->mm, Bmax, env->mm->c.lm.Tmax);
    return c;
}

void stage_captions_free(StageCaptions *c) {
    if (!c) return;
    mllm_work_free(&c->w);
    seqbuf_free(&c->s);
    xfree(c);
}

double stage_captions_loss(StageCaptions *c, const float *params, float *grads,
                           const StageRows *rows, const int64_t *idx, int B, Rng *rng, Rng *drop,
                           int64_t *n) {
    CHECK(B >= 1 && B <= c->Bmax, "stage_captions_loss: %d rows (at most %d)", B, c->Bmax);
    for (int b = 0; b < B; b++)
        c->s.order[b] = idx[b];
    MllmBatch mb = make_batch(c->env, &c->s, rows, B, TASK_CAPTION_OWN, rng);
    MllmTrain tr = {.proj = 1};
    return mllm_lm_loss(c->env->mm, params, grads, &tr, &mb, c->s.tgt, 1.0, &c->w, drop, n, NULL);
}

double stage_captions_ppl(StageCaptions *c, const float *params, const StageRows *val,
                          uint32_t stream) {
    MllmTrain tr = {.proj = 1};
    double sum = 0;
    int64_t cnt = 0;
    Rng vr;
    rng_init(&vr, c->env->seed, stream, 0, RNG_DATA);
    for (int64_t at = 0; at < val->n; at += c->Bmax) {
        int B = (int)(val->n - at < c->Bmax ? val->n - at : c->Bmax);
        for (int b = 0; b < B; b++)
            c->s.order[b] = at + b;
        MllmBatch mb = make_batch(c->env, &c->s, val, B, TASK_CAPTION_OWN, &vr);
        int64_t k;
        double l =
            mllm_lm_loss(c->env->mm, params, NULL, &tr, &mb, c->s.tgt, 1.0, &c->w, NULL, &k, NULL);
        sum += l * (double)k, cnt += k;
    }
    return cnt ? exp(sum / (double)cnt) : NAN;
}

double stage_align(const StageEnv *env, float *params, const StageRows *train, const StageRows *val,
                   const StageOpts *o, Curve *loss) {
    MllmTrain tr = {.proj = 1};
    return stage_seq(env, params, "proj_", tr, 0, train, val, o, loss);
}

// Stages 4 and 4' train the projectors and the LM's base weights.
static void tuned_spec(const Mllm *mm, char *spec, size_t cap) {
    lm_base_spec(mm, spec, cap - 8);
    strcat(spec, ",proj_");
}

double stage_instruct(const StageEnv *env, float *params, const StageRows *train,
                      const StageRows *val, const StageOpts *o, Curve *loss) {
    char spec[300];
    tuned_spec(env->mm, spec, sizeof spec);
    MllmTrain tr = {.proj = 1, .lm_base = 1, .emb = 1};
    return stage_seq(env, params, spec, tr, 1, train, val, o, loss);
}

double stage_teacher_tune(const StageEnv *env, float *params, const StageRows *train,
                          const StageRows *val, const StageOpts *o, Curve *loss,
                          TeacherTuneFigures *fig) {
    CHECK(env->task_classes && env->task_K >= 2 && env->task_K <= PROMPT_MAX_CLASSES,
          "stage 4': the item question needs 2..%d named classes (got %d)", PROMPT_MAX_CLASSES,
          env->task_K);
    for (int m = 0; m < env->sl->n_mod; m++)
        CHECK(env->mod_name[m], "stage 4': modality %d has no name", m);
    char spec[300];
    tuned_spec(env->mm, spec, sizeof spec);
    MllmTrain tr = {.proj = 1, .lm_base = 1, .emb = 1};
    SeqBuf s;
    MllmWork w;
    const uint32_t stream = 5; // the teacher's own draws: stages 3 and 4 use 3 and 4
    stage_seq_train(env, params, spec, tr, TASK_MIX, stream, train, o, loss, &s, &w);
    double ppl, acc;
    seq_validate(env, params, &tr, TASK_ITEMS, val, o->batch, &s, &w, stream, 1, &ppl, &acc);
    fig->items_acc = acc;
    seq_validate(env, params, &tr, TASK_CAPTION, val, o->batch, &s, &w, stream, 2, &ppl, &acc);
    fig->caption_ppl = ppl;
    seq_validate(env, params, &tr, TASK_INSTRUCT, val, o->batch, &s, &w, stream, 3, &ppl, &acc);
    fig->instruct_acc = acc;
    mllm_work_free(&w);
    seqbuf_free(&s);
    return fig->items_acc;
}
