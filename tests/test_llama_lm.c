// test_llama_lm.c - the LLaMA-style decoder (models/llama_lm.h) at a tiny size: layout and named
// tensors, init, the forward against a naive twin built from the layers' double *_ref kernels,
// every gradient (LoRA, base weights, tied/untied head, embedding, dx) against central
// differences, base_grads = 0, LoRA dropout (evaluation without an rng, fixed masks under finite
// differences), the merged adapters, the KV-cached path against the full forward, greedy and
// sampled generation, and bad input dying.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/llama_lm.h"
#include "nn/causal_attention.h"
#include "nn/linear.h"
#include "nn/llama.h"

#define FD_H 1e-2     /* the step TOL_FD_REL is calibrated for */
#define TOL_TWIN 1e-4 /* float sgemm chain vs the double twins through two layers, O(1) values */
#define TOL_KV 1e-5   /* cached step vs full forward: the same float ops in other sgemm blockings */
#define TOL_MERGE 1e-5 /* W + (α/r)·B·A rounded once into W, O(1) values through two layers */
#define TOL_STD 0.05   /* relative error of a sample std over >= 30,000 draws (~0.4% sd) */

// The tiny config of the brief: V 11, D 8, L 2, H 2 (hd 4), F 12, r 2, α 4; sequences of T 5.
enum { TV = 11, TD = 8, TL = 2, TH = 2, TF = 12, TR = 2, TT = 5, TB = 2, TTMAX = 12 };

static float *fbuf(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

static Rng test_rng(void) {
    Rng rng;
    rng_init(&rng, 1, 0, 0, RNG_TEST);
    return rng;
}

static LlamaConfig tiny_config(int tied, float p) {
    return (LlamaConfig){.V = TV,
                         .D = TD,
                         .L = TL,
                         .H = TH,
                         .F = TF,
                         .Tmax = TTMAX,
                         .r = TR,
                         .alpha = 4.0f,
                         .lora_p = p,
                         .tied = tied,
                         .theta = ROPE_THETA};
}

// Every tensor U(-0.5, 0.5) (LoRA B too, so the adapters matter), the norms U(0.5, 1.5).
static void random_params(const LlamaLM *lm, float *params, uint32_t stream) {
    fill_uniform(params + lm->base, lm->n_params, -0.5f, 0.5f, stream);
    const size_t L = (size_t)lm->c.L, D = (size_t)lm->c.D;
    fill_uniform(params + lm->attn_norm, L * D, 0.5f, 1.5f, stream + 1);
    fill_uniform(params + lm->mlp_norm, L * D, 0.5f, 1.5f, stream + 2);
    fill_uniform(params + lm->norm, D, 0.5f, 1.5f, stream + 3);
}

static void model_of(Model *m, const LlamaLM *lm) {
    memset(m, 0, sizeof *m);
    llama_add_tensors(lm, m, "lm/");
}

// ---------------------------------------------------------------------------------------------
// The naive twin: the architecture text of llama_lm.h written with the *_ref kernels.

static void add_lora_ref(float *out, const float *inp, const float *A, const float *Bm, float scale,
                         int N, int D, int r) {
    float *la = fbuf((size_t)N * r), *t = fbuf((size_t)N * D);
    linear_forward_ref(la, inp, A, NULL, N, D, r);
    linear_forward_ref(t, la, Bm, NULL, N, r, D);
    for (size_t i = 0; i < (size_t)N * D; i++)
        out[i] += scale * t[i];
    xfree(la), xfree(t);
}

static void ref_forward(const LlamaLM *lm, const float *p, const float *x, int B, int T, float *hid,
                        int lora) {
    const LlamaConfig *c = &lm->c;
    const int D = c->D, H = c->H, F = c->F, r = c->r, N = B * T, hd = D / H;
    const size_t ND = (size_t)N * D, NF = (size_t)N * F;
    const float scale = c->alpha / (float)r;
    float *xs = fbuf(ND), *h = fbuf(ND), *rstd = fbuf(N), *qkv = fbuf(3 * ND), *o = fbuf(ND);
    float *att = fbuf((size_t)B * H * T * T), *atty = fbuf(ND), *g = fbuf(NF), *u = fbuf(NF),
          *s = fbuf(NF), *proj[3] = {fbuf(ND), fbuf(ND), fbuf(ND)};
    memcpy(xs, x, ND * sizeof(float));
    const size_t DD = (size_t)D * D, rD = (size_t)r * D;
    for (int l = 0; l < c->L; l++) {
        rmsnorm_forward_ref(h, rstd, xs, p + lm->attn_norm + (size_t)l * D, RMSNORM_EPS, N, D);
        const size_t w[4] = {lm->wq, lm->wk, lm->wv, lm->wo};
        for (int a = 0; a < 3; a++) {
            linear_forward_ref(proj[a], h, p + w[a] + l * DD, NULL, N, D, D);
            if (lora)
                add_lora_ref(proj[a], h, p + lm->lora_a[a] + l * rD, p + lm->lora_b[a] + l * rD,
                             scale, N, D, r);
        }
        rope_forward_ref(proj[0], proj[0], 0, c->theta, B, T, H, hd);
        rope_forward_ref(proj[1], proj[1], 0, c->theta, B, T, H, hd);
        for (int n = 0; n < N; n++)
            for (int a = 0; a < 3; a++)
                memcpy(qkv + (size_t)n * 3 * D + a * D, proj[a] + (size_t)n * D, D * sizeof(float));
        causal_attention_forward_ref(atty, att, qkv, B, T, D, H);
        linear_forward_ref(o, atty, p + lm->wo + l * DD, NULL, N, D, D);
        if (lora)
            add_lora_ref(o, atty, p + lm->lora_a[3] + l * rD, p + lm->lora_b[3] + l * rD, scale, N,
                         D, r);
        for (size_t i = 0; i < ND; i++)
            xs[i] += o[i];
        rmsnorm_forward_ref(h, rstd, xs, p + lm->mlp_norm + (size_t)l * D, RMSNORM_EPS, N, D);
        linear_forward_ref(g, h, p + lm->w1 + (size_t)l * F * D, NULL, N, D, F);
        linear_forward_ref(u, h, p + lm->w3 + (size_t)l * F * D, NULL, N, D, F);
        swiglu_forward_ref(s, g, u, N, F);
        linear_forward_ref(o, s, p + lm->w2 + (size_t)l * D * F, NULL, N, F, D);
        for (size_t i = 0; i < ND; i++)
            xs[i] += o[i];
    }
    rmsnorm_forward_ref(hid, rstd, xs, p + lm->norm, RMSNORM_EPS, N, D);
    xfree(xs), xfree(h), xfree(rstd), xfree(qkv), xfree(o), xfree(att), xfree(atty), xfree(g),
        xfree(u), xfree(s), xfree(proj[0]), xfree(proj[1]), xfree(proj[2]);
}

// ---------------------------------------------------------------------------------------------
// Layout, tensors, init

START_TEST(test_layout_and_named_tensors) {
    const int tied = _i;
    LlamaConfig c = tiny_config(tied, 0.0f);
    LlamaLM lm;
    const size_t base = 100; // after a caller's tensor of 100 floats
    llama_init(&lm, &c, base);
    const size_t V = TV, D = TD, L = TL, F = TF, r = TR;
    const size_t want =
        V * D + 2 * L * D + 4 * L * D * D + 3 * L * F * D + D + (tied ? 0 : V * D) + 8 * L * r * D;
    ck_assert_uint_eq(lm.n_params, want);
    ck_assert_uint_eq(lm.tok_emb, base);
    ck_assert_uint_eq(lm.head, tied ? lm.tok_emb : lm.norm + D);
    Model m;
    memset(&m, 0, sizeof m);
    model_add_tensor(&m, "pre", 1, (int64_t[]){100}, 0, 1);
    llama_add_tensors(&lm, &m, "lm/");
    static const char *const names[] = {
        "tok_emb",  "attn_norm", "wq",       "wk",       "wv",       "wo",       "mlp_norm",
        "w1",       "w3",        "w2",       "norm",     "head",     "lora_q_a", "lora_q_b",
        "lora_k_a", "lora_k_b",  "lora_v_a", "lora_v_b", "lora_o_a", "lora_o_b"};
    int t = 1;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (tied && !strcmp(names[k], "head")) continue;
        char nm[64];
        snprintf(nm, sizeof nm, "lm/%s", names[k]);
        ck_assert_str_eq(m.tensor[t].name, nm);
        ck_assert_int_eq(m.tensor[t].trainable, !strncmp(names[k], "lora_", 5));
        t++;
    }
    ck_assert_int_eq(m.n_tensors, t);
    const ModelTensor *last = &m.tensor[t - 1];
    ck_assert_uint_eq(last->off + last->n, base + lm.n_params);
    const ModelTensor *w1 = model_tensor(&m, "lm/w1"), *qb = model_tensor(&m, "lm/lora_q_b");
    ck_assert(w1->ndim == 3 && w1->shape[0] == TL && w1->shape[1] == TF && w1->shape[2] == TD);
    ck_assert(qb->ndim == 3 && qb->shape[0] == TL && qb->shape[1] == TD && qb->shape[2] == TR);
    ck_assert_uint_eq(w1->off, lm.w1);
}
END_TEST

static double sample_std(const float *x, size_t n) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i], s2 += (double)x[i] * x[i];
    return sqrt(s2 / n - (s / n) * (s / n));
}

START_TEST(test_init_params_and_fresh_adapter_is_the_base_model) {
    // The statistics at the benchmark's size (V 768, D 48, L 4, F 128, r 4).
    LlamaConfig c = {.V = 768,
                     .D = 48,
                     .L = 4,
                     .H = 4,
                     .F = 128,
                     .Tmax = 8,
                     .r = 4,
                     .alpha = 8,
                     .lora_p = 0,
                     .tied = 0,
                     .theta = ROPE_THETA};
    LlamaLM lm;
    llama_init(&lm, &c, 0);
    float *p = fbuf(lm.n_params);
    Rng rng;
    rng_init(&rng, 3, 0, 0, RNG_INIT);
    llama_init_params(&lm, p, &rng);
    const size_t D = 48, L = 4, F = 128;
    ck_assert_double_eq_tol(sample_std(p + lm.tok_emb, 768 * D), 0.02, 0.02 * TOL_STD);
    ck_assert_double_eq_tol(sample_std(p + lm.w1, L * F * D), 0.02, 0.02 * TOL_STD);
    ck_assert_double_eq_tol(sample_std(p + lm.head, 768 * D), 0.02, 0.02 * TOL_STD);
    const double proj = 0.02 / sqrt(8.0);
    ck_assert_double_eq_tol(sample_std(p + lm.w2, L * F * D), proj, proj * TOL_STD);
    for (size_t i = 0; i < L * D; i++)
        ck_assert(p[lm.attn_norm + i] == 1.0f && p[lm.mlp_norm + i] == 1.0f);
    const float bound = 1.0f / sqrtf(48.0f);
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++) {
        float amax = 0;
        for (size_t i = 0; i < L * 4 * D; i++) {
            ck_assert(p[lm.lora_b[a] + i] == 0.0f);
            amax = fmaxf(amax, fabsf(p[lm.lora_a[a] + i]));
        }
        ck_assert(amax <= bound && amax > 0.9f * bound);
    }
    xfree(p);

    // A fresh adapter (B = 0) changes nothing: the same bits as with A zeroed as well, and the
    // twin without LoRA. Tiny model, random base weights.
    c = tiny_config(0, 0.0f);
    llama_init(&lm, &c, 0);
    p = fbuf(lm.n_params);
    float *p0 = fbuf(lm.n_params), *x = fbuf(TB * TT * TD), *ref = fbuf(TB * TT * TD);
    random_params(&lm, p, 20);
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++)
        memset(p + lm.lora_b[a], 0, (size_t)TL * TD * TR * sizeof(float));
    memcpy(p0, p, lm.n_params * sizeof(float));
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++)
        memset(p0 + lm.lora_a[a], 0, (size_t)TL * TD * TR * sizeof(float));
    fill_uniform(x, TB * TT * TD, -1, 1, 21);
    LlamaWork w, w0;
    llama_work_init(&w, &lm, TB, TT);
    llama_work_init(&w0, &lm, TB, TT);
    llama_forward(&lm, p, x, TB, TT, &w, NULL);
    llama_forward(&lm, p0, x, TB, TT, &w0, NULL);
    ck_assert_int_eq(memcmp(w.hid, w0.hid, (size_t)TB * TT * TD * sizeof(float)), 0);
    ref_forward(&lm, p, x, TB, TT, ref, 0);
    ck_assert_floats_near(w.hid, ref, TB * TT * TD, TOL_TWIN, TOL_TWIN);
    llama_work_free(&w), llama_work_free(&w0);
    xfree(p), xfree(p0), xfree(x), xfree(ref);
}
END_TEST

START_TEST(test_forward_matches_naive_twin) {
    LlamaConfig c = tiny_config(_i, 0.0f);
    LlamaLM lm;
    llama_init(&lm, &c, 0);
    float *p = fbuf(lm.n_params), *x = fbuf(TB * TT * TD), *ref = fbuf(TB * TT * TD);
    random_params(&lm, p, 30);
    fill_uniform(x, TB * TT * TD, -1, 1, 31);
    LlamaWork w;
    llama_work_init(&w, &lm, TB + 1, TT + 2); // a work larger than the call
    for (int B = 1; B <= TB; B++) {
        llama_forward(&lm, p, x, B, TT, &w, NULL);
        ref_forward(&lm, p, x, B, TT, ref, 1);
        ck_assert_floats_near(w.hid, ref, (size_t)B * TT * TD, TOL_TWIN, TOL_TWIN);
    }
    // The head: logits = hid · headᵀ, against linear's twin.
    float *lg = fbuf(TB * TT * TV), *lr = fbuf(TB * TT * TV);
    llama_head_forward(&lm, p, w.hid, TB * TT, lg);
    linear_forward_ref(lr, w.hid, p + (_i ? lm.tok_emb : lm.head), NULL, TB * TT, TD, TV);
    ck_assert_floats_near(lg, lr, TB * TT * TV, TOL_BLAS_REF, TOL_BLAS_REF);
    llama_work_free(&w);
    xfree(p), xfree(x), xfree(ref), xfree(lg), xfree(lr);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// Gradients: loss = Σ logits·G over gathered rows of hid; input x = embed(ids) or given.

static const int gather_rows[] = {0, 3, 4, 7, 9, 4}; // row 4 twice: its gradients add
#define NG ((int)(sizeof gather_rows / sizeof gather_rows[0]))

typedef struct Ctx {
    const LlamaLM *lm;
    float *params, *x, *gath, *logits;
    const float *G; // (NG, V)
    const int *ids; // (B·T) when use_ids
    int use_ids, drop;
    LlamaWork *w;
} Ctx;

static double ctx_loss(void *arg) {
    Ctx *c = arg;
    const int D = c->lm->c.D;
    if (c->use_ids) llama_embed(c->lm, c->params, c->ids, TB * TT, c->x);
    Rng r; // the same masks at every evaluation: the loss is then a smooth function
    rng_init(&r, 7, 0, 0, RNG_DROPOUT);
    llama_forward(c->lm, c->params, c->x, TB, TT, c->w, c->drop ? &r : NULL);
    for (int k = 0; k < NG; k++)
        memcpy(c->gath + (size_t)k * D, c->w->hid + (size_t)gather_rows[k] * D, D * sizeof(float));
    llama_head_forward(c->lm, c->params, c->gath, NG, c->logits);
    return dot_double(c->logits, c->G, (size_t)NG * c->lm->c.V);
}

// grads += every gradient of the loss (base weights when base), dx += ∂loss/∂x (may be NULL).
static void ctx_backward(Ctx *c, float *grads, int base, float *dx) {
    const int D = c->lm->c.D;
    const size_t ND = (size_t)TB * TT * D;
    float *drows = fbuf((size_t)NG * D), *dhid = fbuf(ND), *dxe = fbuf(ND);
    ctx_loss(c);
    llama_head_backward(c->lm, c->params, base ? grads : NULL, drows, c->G, c->gath, NG);
    for (int k = 0; k < NG; k++)
        for (int i = 0; i < D; i++)
            dhid[(size_t)gather_rows[k] * D + i] += drows[(size_t)k * D + i];
    llama_backward(c->lm, c->params, grads, base, dhid, c->use_ids ? dxe : dx, c->w);
    if (c->use_ids && base) llama_embed_backward(c->lm, grads, c->ids, TB * TT, dxe);
    xfree(drows), xfree(dhid), xfree(dxe);
}

typedef struct Fixture {
    LlamaLM lm;
    Model m;
    LlamaWork w;
    float *params, *grads, *x, *gath, *logits, *G, *dx;
    int ids[TB * TT];
    Ctx ctx;
} Fixture;

static void fixture_init(Fixture *f, int tied, float p, int drop) {
    LlamaConfig c = tiny_config(tied, p);
    llama_init(&f->lm, &c, 0);
    model_of(&f->m, &f->lm);
    llama_work_init(&f->w, &f->lm, TB, TT);
    const size_t n = f->lm.n_params, ND = (size_t)TB * TT * TD;
    f->params = fbuf(n), f->grads = fbuf(n), f->x = fbuf(ND), f->dx = fbuf(ND);
    f->gath = fbuf((size_t)NG * TD), f->logits = fbuf((size_t)NG * TV), f->G = fbuf(NG * TV);
    random_params(&f->lm, f->params, 40);
    fill_uniform(f->x, ND, -1, 1, 41);
    fill_uniform(f->G, (size_t)NG * TV, -1, 1, 42);
    for (int i = 0; i < TB * TT; i++)
        f->ids[i] = (i * 7 + 3) % TV;
    f->ctx = (Ctx){.lm = &f->lm,
                   .params = f->params,
                   .x = f->x,
                   .gath = f->gath,
                   .logits = f->logits,
                   .G = f->G,
                   .ids = f->ids,
                   .drop = drop,
                   .w = &f->w};
}

static void fixture_free(Fixture *f) {
    llama_work_free(&f->w);
    xfree(f->params), xfree(f->grads), xfree(f->x), xfree(f->dx), xfree(f->gath), xfree(f->logits),
        xfree(f->G);
}

// Every named tensor of the LM (lora_only: the trainable ones) against central differences.
static void check_all_tensors(Fixture *f, int lora_only) {
    Rng rng = test_rng();
    for (int t = 0; t < f->m.n_tensors; t++) {
        const ModelTensor *mt = &f->m.tensor[t];
        if (lora_only && !mt->trainable) continue;
        fd_check_at(ctx_loss, &f->ctx, f->params + mt->off, f->grads + mt->off, mt->n, FD_H, mt->n,
                    &rng, mt->name, __FILE__, __LINE__);
    }
}

START_TEST(test_every_gradient_matches_finite_differences) {
    Fixture f;
    fixture_init(&f, _i, 0.0f, 0);
    // Parameters, with x = embed(ids): tok_emb gets the embedding's (and, tied, the head's) part.
    f.ctx.use_ids = 1;
    ctx_backward(&f.ctx, f.grads, 1, NULL);
    check_all_tensors(&f, 0);
    // The input gradient, x given.
    f.ctx.use_ids = 0;
    fill_uniform(f.x, (size_t)TB * TT * TD, -1, 1, 43);
    ctx_backward(&f.ctx, f.grads, 0, f.dx);
    Rng rng = test_rng();
    fd_check(ctx_loss, &f.ctx, f.x, f.dx, (size_t)TB * TT * TD, FD_H, 1000, &rng);
    fixture_free(&f);
}
END_TEST

START_TEST(test_base_grads_off_leaves_base_untouched_and_backward_accumulates) {
    Fixture f;
    fixture_init(&f, 0, 0.0f, 0);
    const size_t n = f.lm.n_params, ND = (size_t)TB * TT * TD;
    float *g0 = fbuf(n), *dx0 = fbuf(ND);
    ctx_backward(&f.ctx, f.grads, 1, f.dx);
    // Sentinels in the base tensors, zeros in the LoRA ones.
    for (int t = 0; t < f.m.n_tensors; t++) {
        const ModelTensor *mt = &f.m.tensor[t];
        for (size_t i = 0; i < mt->n; i++)
            g0[mt->off + i] = mt->trainable ? 0.0f : 7.0f;
    }
    ctx_backward(&f.ctx, g0, 0, dx0);
    for (int t = 0; t < f.m.n_tensors; t++) {
        const ModelTensor *mt = &f.m.tensor[t];
        for (size_t i = 0; i < mt->n; i++)
            if (!mt->trainable) ck_assert_msg(g0[mt->off + i] == 7.0f, "%s touched", mt->name);
        if (mt->trainable) ck_assert_floats_near(g0 + mt->off, f.grads + mt->off, mt->n, 0.0, 0.0);
    }
    ck_assert_floats_near(dx0, f.dx, ND, 0.0, 0.0);
    // A second backward adds the same again; grads NULL still gives dx.
    ctx_backward(&f.ctx, g0, 0, dx0);
    ctx_backward(&f.ctx, NULL, 0, f.dx);
    for (int t = 0; t < f.m.n_tensors; t++) {
        const ModelTensor *mt = &f.m.tensor[t];
        for (size_t i = 0; mt->trainable && i < mt->n; i++)
            ck_assert_float_eq_tol(g0[mt->off + i], 2 * f.grads[mt->off + i], 1e-6);
    }
    ck_assert_floats_near(dx0, f.dx, ND, 1e-6, 1e-6);
    xfree(g0), xfree(dx0);
    fixture_free(&f);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// LoRA dropout

START_TEST(test_lora_dropout) {
    Fixture f;
    fixture_init(&f, 0, 0.3f, 1);
    const size_t ND = (size_t)TB * TT * TD;
    float *eval = fbuf(ND), *plain = fbuf(ND);
    // Evaluation (no rng) with p > 0 is the p = 0 model: the same bits.
    llama_forward(&f.lm, f.params, f.x, TB, TT, &f.w, NULL);
    memcpy(eval, f.w.hid, ND * sizeof(float));
    LlamaConfig c0 = tiny_config(0, 0.0f);
    LlamaLM lm0;
    llama_init(&lm0, &c0, 0);
    LlamaWork w0;
    llama_work_init(&w0, &lm0, TB, TT);
    Rng r;
    rng_init(&r, 9, 0, 0, RNG_DROPOUT);
    llama_forward(&lm0, f.params, f.x, TB, TT, &w0, &r); // p = 0 with an rng: plain, no draw
    ck_assert_uint_eq(rng_words_drawn(&r), 0);
    ck_assert_int_eq(memcmp(eval, w0.hid, ND * sizeof(float)), 0);
    llama_forward(&lm0, f.params, f.x, TB, TT, &w0, NULL);
    memcpy(plain, w0.hid, ND * sizeof(float));
    ck_assert_int_eq(memcmp(eval, plain, ND * sizeof(float)), 0);
    // Training: one mask per layer and adapter (B·T·D words each at p > DROPOUT_SPARSE_P, about
    // one per dropped element below); the output moves.
    llama_forward(&f.lm, f.params, f.x, TB, TT, &f.w, &r);
    ck_assert_uint_gt(rng_words_drawn(&r), 0);
    ck_assert_uint_le(rng_words_drawn(&r), (uint64_t)TL * LLAMA_N_ADAPTERS * ND);
    double diff = 0;
    for (size_t i = 0; i < ND; i++)
        diff = fmax(diff, fabs(f.w.hid[i] - eval[i]));
    ck_assert(diff > 1e-3);
    // Gradients under fixed masks: every tensor and dx.
    f.ctx.use_ids = 1;
    ctx_backward(&f.ctx, f.grads, 1, NULL);
    check_all_tensors(&f, 0);
    f.ctx.use_ids = 0;
    memset(f.grads, 0, f.lm.n_params * sizeof(float));
    ctx_backward(&f.ctx, f.grads, 0, f.dx);
    Rng rng = test_rng();
    fd_check(ctx_loss, &f.ctx, f.x, f.dx, ND, FD_H, 1000, &rng);
    check_all_tensors(&f, 1);
    llama_work_free(&w0);
    xfree(eval), xfree(plain);
    fixture_free(&f);
}
END_TEST

START_TEST(test_merged_adapters_equal_unmerged) {
    Fixture f;
    fixture_init(&f, 1, 0.0f, 0);
    const size_t ND = (size_t)TB * TT * TD, n = f.lm.n_params;
    float *before = fbuf(ND), *merged = fbuf(n);
    llama_forward(&f.lm, f.params, f.x, TB, TT, &f.w, NULL);
    memcpy(before, f.w.hid, ND * sizeof(float));
    memcpy(merged, f.params, n * sizeof(float));
    llama_lora_merge(&f.lm, merged);
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++)
        for (size_t i = 0; i < (size_t)TL * TD * TR; i++)
            ck_assert(merged[f.lm.lora_b[a] + i] == 0.0f);
    ck_assert(merged[f.lm.wo] != f.params[f.lm.wo]); // the product went into the weights
    llama_forward(&f.lm, merged, f.x, TB, TT, &f.w, NULL);
    ck_assert_floats_near(f.w.hid, before, ND, TOL_MERGE, TOL_MERGE);
    xfree(before), xfree(merged);
    fixture_free(&f);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// KV cache and generation

START_TEST(test_kv_cache_equals_full_forward) {
    const int B = 1 + _i, T = TT, T0 = 2;
    Fixture f;
    fixture_init(&f, 0, 0.3f, 0); // p > 0: generation never drops
    const size_t D = TD;
    llama_forward(&f.lm, f.params, f.x, B, T, &f.w, NULL);
    LlamaGen g;
    llama_gen_init(&g, &f.lm, 3, 8);
    float *hid = fbuf((size_t)B * D), *xn = fbuf((size_t)B * D);
    // Prefill of tokens 0..T0-1, then steps.
    float *xp = fbuf((size_t)B * T0 * D);
    for (int b = 0; b < B; b++)
        memcpy(xp + (size_t)b * T0 * D, f.x + (size_t)b * T * D, T0 * D * sizeof(float));
    for (int pass = 0; pass < 2; pass++) {
        int t0 = 0;
        if (pass == 0) {
            llama_prefill(&f.lm, f.params, xp, B, T0, &g, hid);
            for (int b = 0; b < B; b++)
                ck_assert_floats_near(hid + b * D, f.w.hid + ((size_t)b * T + T0 - 1) * D, D,
                                      TOL_KV, TOL_KV);
            t0 = T0;
        } else {
            llama_gen_reset(&g); // step-only from position 0
        }
        for (int t = t0; t < T; t++) {
            ck_assert_int_eq(g.pos, t);
            for (int b = 0; b < B; b++)
                memcpy(xn + b * D, f.x + ((size_t)b * T + t) * D, D * sizeof(float));
            llama_step(&f.lm, f.params, xn, B, &g, hid);
            for (int b = 0; b < B; b++)
                ck_assert_floats_near(hid + b * D, f.w.hid + ((size_t)b * T + t) * D, D, TOL_KV,
                                      TOL_KV);
        }
    }
    llama_gen_free(&g);
    xfree(hid), xfree(xn), xfree(xp);
    fixture_free(&f);
}
END_TEST

START_TEST(test_generate_greedy_equals_full_forward_argmax) {
    Fixture f;
    fixture_init(&f, 1, 0.0f, 0);
    enum { T0 = 3, NEW = 7 };
    const size_t D = TD;
    LlamaGen g;
    llama_gen_init(&g, &f.lm, 1, T0 + NEW);
    int ids[NEW], ids2[NEW];
    ck_assert_int_eq(llama_generate(&f.lm, f.params, f.x, T0, NEW, -1, 0.0f, NULL, ids, &g), NEW);
    ck_assert_int_eq(llama_generate(&f.lm, f.params, f.x, T0, NEW, -1, 0.0f, NULL, ids2, &g), NEW);
    ck_assert_int_eq(memcmp(ids, ids2, sizeof ids), 0);
    // The full forward on the growing sequence (prompt rows, then the generated tokens' rows).
    LlamaWork w;
    llama_work_init(&w, &f.lm, 1, T0 + NEW);
    float *seq = fbuf((T0 + NEW) * D), *logits = fbuf(TV);
    memcpy(seq, f.x, T0 * D * sizeof(float));
    for (int k = 0; k < NEW; k++) {
        llama_forward(&f.lm, f.params, seq, 1, T0 + k, &w, NULL);
        llama_head_forward(&f.lm, f.params, w.hid + (size_t)(T0 + k - 1) * D, 1, logits);
        int best = 0;
        for (int v = 1; v < TV; v++)
            if (logits[v] > logits[best]) best = v;
        ck_assert_int_eq(ids[k], best);
        llama_embed(&f.lm, f.params, &ids[k], 1, seq + (size_t)(T0 + k) * D);
    }
    // eos: stops right after writing it.
    int stop = 0;
    while (stop < NEW - 1 && ids[stop] != ids[3])
        stop++;
    ck_assert_int_eq(llama_generate(&f.lm, f.params, f.x, T0, NEW, ids[3], 0.0f, NULL, ids2, &g),
                     stop + 1);
    // Sampling: the rng decides; the same stream gives the same ids, all in [0, V).
    Rng r1, r2;
    rng_init(&r1, 5, 0, 0, RNG_SAMPLE), rng_init(&r2, 5, 0, 0, RNG_SAMPLE);
    ck_assert_int_eq(llama_generate(&f.lm, f.params, f.x, T0, NEW, -1, 1.5f, &r1, ids, &g), NEW);
    ck_assert_int_eq(llama_generate(&f.lm, f.params, f.x, T0, NEW, -1, 1.5f, &r2, ids2, &g), NEW);
    ck_assert_int_eq(memcmp(ids, ids2, sizeof ids), 0);
    for (int k = 0; k < NEW; k++)
        ck_assert(ids[k] >= 0 && ids[k] < TV);
    ck_assert_uint_eq(rng_words_drawn(&r1), NEW);
    llama_gen_free(&g), llama_work_free(&w);
    xfree(seq), xfree(logits);
    fixture_free(&f);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// Bad input

static void die_config(void *arg) {
    LlamaConfig c = tiny_config(0, 0.0f);
    const int k = *(const int *)arg;
    if (k == 0) c.H = 3;          // D=8 not a multiple of H=3
    if (k == 1) c.D = 6, c.H = 2; // hd = 3, odd
    if (k == 2) c.r = 0;          // no rank
    if (k == 3) c.lora_p = 1.0f;  // p outside [0, 1)
    LlamaLM lm;
    llama_init(&lm, &c, 0);
}

typedef struct DieCase {
    int kind;
} DieCase;

static void die_run(void *arg) {
    const int k = ((const DieCase *)arg)->kind;
    LlamaConfig c = tiny_config(0, 0.0f);
    LlamaLM lm;
    llama_init(&lm, &c, 0);
    float *p = fbuf(lm.n_params), *x = fbuf(4 * TTMAX * TD), *h = fbuf(4 * TD);
    LlamaWork w;
    llama_work_init(&w, &lm, TB, TT);
    LlamaGen g;
    llama_gen_init(&g, &lm, 1, 4);
    int ids[2] = {3, TV}, out[8];
    switch (k) {
    case 0:
        llama_forward(&lm, p, x, 1, TT + 1, &w, NULL);
        break; // T > Tmax
    case 1:
        llama_embed(&lm, p, ids, 2, x);
        break; // id >= V
    case 2:
        llama_forward(&lm, p, x, TB + 1, 2, &w, NULL);
        break; // B > Bmax
    case 3:    // step past the cache
        llama_prefill(&lm, p, x, 1, 4, &g, h);
        llama_step(&lm, p, x, 1, &g, h);
        break;
    case 4:
        llama_generate(&lm, p, x, 3, 3, -1, 0.0f, NULL, out, &g);
        break; // 3 + 3 - 1 > 4
    case 5:    // base without grads
        llama_forward(&lm, p, x, 1, 2, &w, NULL);
        llama_backward(&lm, p, NULL, 1, x, NULL, &w);
        break;
    case 6:
        llama_work_init(&w, &lm, 1, TTMAX + 1);
        break; // work longer than the config
    default:
        break;
    }
}

START_TEST(test_bad_input_dies_with_a_clear_message) {
    int k = 0;
    expect_die(die_config, &k, "llama_init", "D=8 is not a multiple of H=3");
    k = 1, expect_die(die_config, &k, "llama_init", "hd=D/H=3", "even");
    k = 2, expect_die(die_config, &k, "llama_init", "r=0");
    k = 3, expect_die(die_config, &k, "llama_init", "lora_p=1");
    DieCase d = {0};
    expect_die(die_run, &d, "llama_forward", "T=6 outside 1..Tmax=5");
    d.kind = 1, expect_die(die_run, &d, "ids[1] = 11 outside [0, V=11)");
    d.kind = 2, expect_die(die_run, &d, "llama_forward", "B=3 outside 1..Bmax=2");
    d.kind = 3, expect_die(die_run, &d, "llama_step", "KV cache is full");
    d.kind = 4, expect_die(die_run, &d, "llama_generate", "Tmax=4");
    d.kind = 5, expect_die(die_run, &d, "llama_backward", "grads NULL");
    d.kind = 6, expect_die(die_run, &d, "llama_work_init", "Tmax=13");
}
END_TEST

Suite *llama_lm_suite(void) {
    Suite *s = suite_create("llama_lm");
    TCase *tc = tcase_create("layout");
    tcase_add_loop_test(tc, test_layout_and_named_tensors, 0, 2);
    tcase_add_test(tc, test_init_params_and_fresh_adapter_is_the_base_model);
    tcase_add_loop_test(tc, test_forward_matches_naive_twin, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradients");
    tcase_add_loop_test(tc, test_every_gradient_matches_finite_differences, 0, 2);
    tcase_add_test(tc, test_base_grads_off_leaves_base_untouched_and_backward_accumulates);
    tcase_add_test(tc, test_lora_dropout);
    tcase_add_test(tc, test_merged_adapters_equal_unmerged);
    suite_add_tcase(s, tc);
    tc = tcase_create("generation");
    tcase_add_loop_test(tc, test_kv_cache_equals_full_forward, 0, 2);
    tcase_add_test(tc, test_generate_greedy_equals_full_forward_argmax);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_bad_input_dies_with_a_clear_message);
    suite_add_tcase(s, tc);
    return s;
}
