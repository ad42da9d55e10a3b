// llama_lm.c - the decoder's layout, init, training forward and backward (see llama_lm.h).
// Every product is one sgemm on the whole (B·T)-row batch; q, k, v and their adapters are written
// straight into the packed (B·T, 3D) buffer causal_attention reads (row stride 3D), so nothing is
// copied between the projections and attention, and RoPE turns q and k there in place.
#include "models/llama_lm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "core/xalloc.h"
#include "models/llama_lm_impl.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/llama.h"
#include "nn/lora.h"
#include "tensor/blas.h"

void llama_init(LlamaLM *lm, const LlamaConfig *c, size_t base) {
    CHECK_PTR(lm);
    CHECK_PTR(c);
    CHECK(c->V >= 1 && c->D >= 1 && c->L >= 1 && c->H >= 1 && c->F >= 1 && c->Tmax >= 1,
          "llama_init: bad config V=%d D=%d L=%d H=%d F=%d Tmax=%d", c->V, c->D, c->L, c->H, c->F,
          c->Tmax);
    CHECK(c->D % c->H == 0, "llama_init: D=%d is not a multiple of H=%d", c->D, c->H);
    CHECK((c->D / c->H) % 2 == 0, "llama_init: head width hd=D/H=%d must be even for RoPE",
          c->D / c->H);
    CHECK(c->r >= 1, "llama_init: LoRA rank r=%d must be >= 1", c->r);
    CHECK(isfinite(c->alpha), "llama_init: LoRA alpha=%g is not finite", (double)c->alpha);
    CHECK(c->lora_p >= 0.0f && c->lora_p < 1.0f, "llama_init: lora_p=%g outside [0, 1)",
          (double)c->lora_p);
    CHECK(c->tied == 0 || c->tied == 1, "llama_init: tied=%d must be 0 or 1", c->tied);
    CHECK(c->theta > 1.0, "llama_init: RoPE theta=%g must be > 1", c->theta);
    memset(lm, 0, sizeof *lm);
    lm->c = *c;
    const size_t V = (size_t)c->V, D = (size_t)c->D, L = (size_t)c->L, F = (size_t)c->F,
                 r = (size_t)c->r;
    size_t off = base;
    lm->tok_emb = off, off += V * D;
    lm->attn_norm = off, off += L * D;
    lm->wq = off, off += L * D * D;
    lm->wk = off, off += L * D * D;
    lm->wv = off, off += L * D * D;
    lm->wo = off, off += L * D * D;
    lm->mlp_norm = off, off += L * D;
    lm->w1 = off, off += L * F * D;
    lm->w3 = off, off += L * F * D;
    lm->w2 = off, off += L * D * F;
    lm->norm = off, off += D;
    if (c->tied)
        lm->head = lm->tok_emb;
    else
        lm->head = off, off += V * D;
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++) {
        lm->lora_a[a] = off, off += L * r * D;
        lm->lora_b[a] = off, off += L * D * r;
    }
    lm->base = base;
    lm->n_params = off - base;
}

LlamaLayerOff llama_layer_off(const LlamaLM *lm, int l) {
    const size_t D = (size_t)lm->c.D, F = (size_t)lm->c.F, r = (size_t)lm->c.r, L = (size_t)l;
    LlamaLayerOff o = {.attn_norm = lm->attn_norm + L * D,
                       .wq = lm->wq + L * D * D,
                       .wk = lm->wk + L * D * D,
                       .wv = lm->wv + L * D * D,
                       .wo = lm->wo + L * D * D,
                       .mlp_norm = lm->mlp_norm + L * D,
                       .w1 = lm->w1 + L * F * D,
                       .w3 = lm->w3 + L * F * D,
                       .w2 = lm->w2 + L * D * F};
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++)
        o.a[a] = lm->lora_a[a] + L * r * D, o.b[a] = lm->lora_b[a] + L * D * r;
    return o;
}

void llama_add_tensors(const LlamaLM *lm, Model *m, const char *prefix) {
    CHECK_PTR(lm);
    CHECK_PTR(m);
    CHECK_PTR(prefix);
    const int64_t V = lm->c.V, D = lm->c.D, L = lm->c.L, F = lm->c.F, r = lm->c.r;
    char name[MODEL_NAME_MAX];
#define ADD(nm, off, tr, ...)                                                                      \
    do {                                                                                           \
        const int64_t shape_[] = {__VA_ARGS__};                                                    \
        CHECK(snprintf(name, sizeof name, "%s%s", prefix, nm) < (int)sizeof name,                  \
              "llama_add_tensors: prefix '%s' too long", prefix);                                  \
        model_add_tensor(m, name, (int)(sizeof shape_ / sizeof shape_[0]), shape_, (off), (tr));   \
    } while (0)
    ADD("tok_emb", lm->tok_emb, 0, V, D);
    ADD("attn_norm", lm->attn_norm, 0, L, D);
    ADD("wq", lm->wq, 0, L, D, D);
    ADD("wk", lm->wk, 0, L, D, D);
    ADD("wv", lm->wv, 0, L, D, D);
    ADD("wo", lm->wo, 0, L, D, D);
    ADD("mlp_norm", lm->mlp_norm, 0, L, D);
    ADD("w1", lm->w1, 0, L, F, D);
    ADD("w3", lm->w3, 0, L, F, D);
    ADD("w2", lm->w2, 0, L, D, F);
    ADD("norm", lm->norm, 0, D);
    if (!lm->c.tied) ADD("head", lm->head, 0, V, D);
    static const char *const an[LLAMA_N_ADAPTERS] = {"q", "k", "v", "o"};
    char nm[16];
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++) {
        snprintf(nm, sizeof nm, "lora_%s_a", an[a]);
        ADD(nm, lm->lora_a[a], 1, L, r, D);
        snprintf(nm, sizeof nm, "lora_%s_b", an[a]);
        ADD(nm, lm->lora_b[a], 1, L, D, r);
    }
#undef ADD
}

static void fill_const(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

void llama_init_params(const LlamaLM *lm, float *params, Rng *rng) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    CHECK_PTR(rng);
    const LlamaConfig *c = &lm->c;
    const size_t V = (size_t)c->V, D = (size_t)c->D, L = (size_t)c->L, F = (size_t)c->F,
                 r = (size_t)c->r;
    // The residual projections scaled by 1/sqrt(2L) (GPT-2) so the stream's variance does not grow
    // with depth; HF LLaMA uses 0.02 throughout, a difference only of the starting point.
    const float std = 0.02f, proj = 0.02f / sqrtf(2.0f * (float)c->L);
    rng_fill_normal(rng, params + lm->tok_emb, V * D, 0.0f, std);
    fill_const(params + lm->attn_norm, L * D, 1.0f);
    rng_fill_normal(rng, params + lm->wq, L * D * D, 0.0f, std);
    rng_fill_normal(rng, params + lm->wk, L * D * D, 0.0f, std);
    rng_fill_normal(rng, params + lm->wv, L * D * D, 0.0f, std);
    rng_fill_normal(rng, params + lm->wo, L * D * D, 0.0f, proj);
    fill_const(params + lm->mlp_norm, L * D, 1.0f);
    rng_fill_normal(rng, params + lm->w1, L * F * D, 0.0f, std);
    rng_fill_normal(rng, params + lm->w3, L * F * D, 0.0f, std);
    rng_fill_normal(rng, params + lm->w2, L * D * F, 0.0f, proj);
    fill_const(params + lm->norm, D, 1.0f);
    if (!c->tied) rng_fill_normal(rng, params + lm->head, V * D, 0.0f, std);
    // kaiming_uniform(a=√5) on an (r, D) weight: bound = sqrt(6/((1+5)·fan_in)) = 1/sqrt(D).
    const float bound = 1.0f / sqrtf((float)c->D);
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++) {
        rng_fill_uniform(rng, params + lm->lora_a[a], L * r * D, -bound, bound);
        fill_const(params + lm->lora_b[a], L * D * r, 0.0f);
    }
}

// ---- work buffers ----

// Carves n floats from the arena (or only counts them when base is NULL), 64-byte aligned.
static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

static size_t work_layout(LlamaWork *w, const LlamaLM *lm, int Bmax, int Tmax, float *base) {
    const LlamaConfig *c = &lm->c;
    const size_t N = (size_t)Bmax * Tmax, D = (size_t)c->D, L = (size_t)c->L, F = (size_t)c->F,
                 r = (size_t)c->r, half = (size_t)(c->D / c->H) / 2, A = LLAMA_N_ADAPTERS;
    size_t off = 0;
    w->hid = carve(base, &off, N * D);
    w->x = carve(base, &off, (L + 1) * N * D);
    w->xmid = carve(base, &off, L * N * D);
    w->h = carve(base, &off, L * N * D);
    w->h2 = carve(base, &off, L * N * D);
    w->rstd1 = carve(base, &off, L * N);
    w->rstd2 = carve(base, &off, L * N);
    w->rstdf = carve(base, &off, N);
    w->qkv = carve(base, &off, L * N * 3 * D);
    w->att = carve(base, &off, L * (size_t)Bmax * c->H * Tmax * Tmax);
    w->atty = carve(base, &off, L * N * D);
    w->g = carve(base, &off, L * N * F);
    w->u = carve(base, &off, L * N * F);
    w->s = carve(base, &off, L * N * F);
    w->la = carve(base, &off, L * A * N * r);
    w->cos_t = carve(base, &off, (size_t)Tmax * half);
    w->sin_t = carve(base, &off, (size_t)Tmax * half);
    w->nsin_t = carve(base, &off, (size_t)Tmax * half);
    w->dx = carve(base, &off, N * D);
    w->dh = carve(base, &off, N * D);
    w->dqkv = carve(base, &off, N * 3 * D);
    w->dg = carve(base, &off, N * F);
    w->du = carve(base, &off, N * F);
    w->ds = carve(base, &off, N * F);
    w->dla = carve(base, &off, N * r);
    w->att_work = carve(base, &off, causal_attention_workspace_size(Bmax, Tmax, c->D, c->H));
    if (c->lora_p > 0.0f) { // the dropout caches cost 8·L·N·D floats: only when dropout can run
        w->lx = carve(base, &off, L * A * N * D);
        w->lmask = carve(base, &off, L * A * N * D);
        w->dlx = carve(base, &off, N * D);
    } else {
        w->lx = w->lmask = w->dlx = NULL;
    }
    return off;
}

void llama_work_init(LlamaWork *w, const LlamaLM *lm, int Bmax, int Tmax) {
    CHECK_PTR(w);
    CHECK_PTR(lm);
    CHECK(Bmax >= 1, "llama_work_init: Bmax=%d must be >= 1", Bmax);
    CHECK(Tmax >= 1 && Tmax <= lm->c.Tmax, "llama_work_init: Tmax=%d outside 1..%d (config Tmax)",
          Tmax, lm->c.Tmax);
    memset(w, 0, sizeof *w);
    const size_t n = work_layout(w, lm, Bmax, Tmax, NULL);
    w->arena = xcalloc_aligned(n * sizeof(float));
    work_layout(w, lm, Bmax, Tmax, w->arena);
    w->Bmax = Bmax, w->Tmax = Tmax;
    const int hd = lm->c.D / lm->c.H, half = hd / 2;
    rope_table(w->cos_t, w->sin_t, 0, Tmax, hd, lm->c.theta);
    for (size_t i = 0; i < (size_t)Tmax * half; i++)
        w->nsin_t[i] = -w->sin_t[i];
}

void llama_work_free(LlamaWork *w) {
    if (!w) return;
    xfree(w->arena);
    memset(w, 0, sizeof *w);
}

// ---- embedding and head ----

void llama_embed(const LlamaLM *lm, const float *params, const int *ids, int n, float *out) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    CHECK(n >= 0, "llama_embed: n=%d", n);
    embedding_forward(out, ids, params + lm->tok_emb, n, lm->c.V, lm->c.D);
}

void llama_embed_backward(const LlamaLM *lm, float *grads, const int *ids, int n,
                          const float *dout) {
    CHECK_PTR(lm);
    CHECK_PTR(grads);
    CHECK(n >= 0, "llama_embed_backward: n=%d", n);
    embedding_backward(grads + lm->tok_emb, dout, ids, n, lm->c.V, lm->c.D);
}

void llama_head_forward(const LlamaLM *lm, const float *params, const float *rows, int N,
                        float *logits) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    CHECK(N >= 0, "llama_head_forward: N=%d", N);
    linear_forward(logits, rows, params + lm->head, NULL, N, lm->c.D, lm->c.V);
}

void llama_head_backward(const LlamaLM *lm, const float *params, float *grads, float *drows,
                         const float *dlogits, const float *rows, int N) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    CHECK(N >= 0, "llama_head_backward: N=%d", N);
    linear_backward(drows, grads ? grads + lm->head : NULL, NULL, dlogits, rows, params + lm->head,
                    N, lm->c.D, lm->c.V);
}

// ---- the block pieces shared with generation (llama_lm_impl.h) ----

void llama_adapter_forward(float *out, int ldo, float *la, const float *xa, const float *A,
                           const float *Bm, float scale, int N, int D, int r) {
    sgemm_rm(0, 1, N, r, D, 1.0f, xa, D, A, D, 0.0f, la, r);
    sgemm_rm(0, 1, N, D, r, scale, la, r, Bm, r, 1.0f, out, ldo);
}

void llama_qkv_forward(const LlamaLM *lm, const float *params, const LlamaLayerOff *o, float *qkv,
                       float *const la[3], const float *h, const float *const xa[3], int N) {
    const int D = lm->c.D, r = lm->c.r;
    const float scale = lm->c.alpha / (float)r;
    const size_t w[3] = {o->wq, o->wk, o->wv};
    for (int a = 0; a < 3; a++) {
        sgemm_rm(0, 1, N, D, D, 1.0f, h, D, params + w[a], D, 0.0f, qkv + a * D, 3 * D);
        llama_adapter_forward(qkv + a * D, 3 * D, la[a], xa[a], params + o->a[a], params + o->b[a],
                              scale, N, D, r);
    }
}

// q and k of one token are adjacent (columns [0, 2D)) and share its angles, so one rope_forward
// call with 2H heads turns both. Per row, since the packed row stride 3D is not rope's H·hd.
void llama_rope_rows(float *qkv, const float *cos_t, const float *sin_t, int N, int T, int D,
                     int H) {
    const int hd = D / H, half = hd / 2;
    for (int n = 0; n < N; n++) {
        float *row = qkv + (size_t)n * 3 * D;
        const size_t t = (size_t)(n % T) * half;
        rope_forward(row, row, cos_t + t, sin_t + t, 1, 1, 2 * H, hd);
    }
}

void llama_mlp_forward(const LlamaLM *lm, const float *params, const LlamaLayerOff *o, float *x,
                       float *g, float *u, float *s, const float *h2, int N) {
    const int D = lm->c.D, F = lm->c.F;
    sgemm_rm(0, 1, N, F, D, 1.0f, h2, D, params + o->w1, D, 0.0f, g, F);
    sgemm_rm(0, 1, N, F, D, 1.0f, h2, D, params + o->w3, D, 0.0f, u, F);
    swiglu_forward(s, g, u, N, F);
    sgemm_rm(0, 1, N, D, F, 1.0f, s, F, params + o->w2, F, 1.0f, x, D);
}

// ---- forward ----

// Per-layer slabs of the work: (l, a) selects adapter a's slice of layer l.
static size_t rows_max(const LlamaWork *w) { return (size_t)w->Bmax * (size_t)w->Tmax; }
static float *lx_at(const LlamaWork *w, const LlamaLM *lm, int l, int a) {
    return w->lx + ((size_t)l * LLAMA_N_ADAPTERS + a) * rows_max(w) * lm->c.D;
}
static float *lmask_at(const LlamaWork *w, const LlamaLM *lm, int l, int a) {
    return w->lmask + ((size_t)l * LLAMA_N_ADAPTERS + a) * rows_max(w) * lm->c.D;
}
static float *la_at(const LlamaWork *w, const LlamaLM *lm, int l, int a) {
    return w->la + ((size_t)l * LLAMA_N_ADAPTERS + a) * rows_max(w) * lm->c.r;
}

// The adapter input of (l, a): inp itself, or its dropped copy (drawing the mask) when dropping.
static const float *adapter_input(const LlamaLM *lm, LlamaWork *w, int l, int a, const float *inp,
                                  int N, Rng *drop) {
    if (!w->dropped) return inp;
    dropout_forward(lx_at(w, lm, l, a), lmask_at(w, lm, l, a), inp, (size_t)N * lm->c.D,
                    lm->c.lora_p, drop);
    return lx_at(w, lm, l, a);
}

static void check_work(const char *fn, const LlamaLM *lm, const float *params, const LlamaWork *w,
                       int B, int T) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    CHECK_PTR(w);
    CHECK(w->arena != NULL, "%s: work not initialised (llama_work_init)", fn);
    CHECK(B >= 1 && B <= w->Bmax, "%s: B=%d outside 1..Bmax=%d", fn, B, w->Bmax);
    CHECK(T >= 1 && T <= w->Tmax, "%s: T=%d outside 1..Tmax=%d (the work's)", fn, T, w->Tmax);
}

void llama_forward(const LlamaLM *lm, const float *params, const float *x, int B, int T,
                   LlamaWork *w, Rng *drop) {
    check_work(__func__, lm, params, w, B, T);
    CHECK_PTR(x);
    const LlamaConfig *c = &lm->c;
    const int D = c->D, N = B * T;
    const size_t sD = rows_max(w) * D, sR = rows_max(w), sF = rows_max(w) * c->F,
                 sA = (size_t)w->Bmax * c->H * w->Tmax * w->Tmax, ND = (size_t)N * D;
    const float scale = c->alpha / (float)c->r;
    w->B = B, w->T = T;
    w->dropped = drop != NULL && c->lora_p > 0.0f;
    CHECK(!w->dropped || w->lx,
          "llama_forward: lora_p=%g but the work has no dropout buffers "
          "(made for another config)",
          (double)c->lora_p);
    memcpy(w->x, x, ND * sizeof(float));
    for (int l = 0; l < c->L; l++) {
        const LlamaLayerOff o = llama_layer_off(lm, l);
        const float *xin = w->x + l * sD;
        float *xmid = w->xmid + l * sD, *xout = w->x + (l + 1) * sD;
        float *h = w->h + l * sD, *h2 = w->h2 + l * sD, *qkv = w->qkv + l * 3 * sD;
        float *atty = w->atty + l * sD;
        rmsnorm_forward(h, w->rstd1 + l * sR, xin, params + o.attn_norm, RMSNORM_EPS, N, D);
        const float *xa[3];
        float *la[3];
        for (int a = 0; a < 3; a++)
            xa[a] = adapter_input(lm, w, l, a, h, N, drop), la[a] = la_at(w, lm, l, a);
        llama_qkv_forward(lm, params, &o, qkv, la, h, xa, N);
        llama_rope_rows(qkv, w->cos_t, w->sin_t, N, T, D, c->H);
        causal_attention_forward(atty, w->att + l * sA, qkv, B, T, D, c->H);
        // xmid = xin + atty·Woᵀ + adapter: the sgemms accumulate onto the copied residual.
        memcpy(xmid, xin, ND * sizeof(float));
        sgemm_rm(0, 1, N, D, D, 1.0f, atty, D, params + o.wo, D, 1.0f, xmid, D);
        llama_adapter_forward(xmid, D, la_at(w, lm, l, LLAMA_O),
                              adapter_input(lm, w, l, LLAMA_O, atty, N, drop),
                              params + o.a[LLAMA_O], params + o.b[LLAMA_O], scale, N, D, c->r);
        rmsnorm_forward(h2, w->rstd2 + l * sR, xmid, params + o.mlp_norm, RMSNORM_EPS, N, D);
        memcpy(xout, xmid, ND * sizeof(float));
        llama_mlp_forward(lm, params, &o, xout, w->g + l * sF, w->u + l * sF, w->s + l * sF, h2, N);
    }
    rmsnorm_forward(w->hid, w->rstdf, w->x + c->L * sD, params + lm->norm, RMSNORM_EPS, N, D);
    NANGUARD(__func__, "hid", w->hid, ND);
}

// ---- backward ----

// The adapter's backward from dout (N, D at row stride ldd): dB, dA += (when not NULL), and
// dinp (N, D) += through the dropout mask when the forward dropped (mask not NULL).
static void adapter_backward(float *dinp, float *dA, float *dB, LlamaWork *w, const float *mask,
                             const float *dout, int ldd, const float *xa, const float *la,
                             const float *A, const float *Bm, float scale, int N, int D, int r) {
    if (dB) sgemm_rm(1, 0, D, r, N, scale, dout, ldd, la, r, 1.0f, dB, r);
    if (!dA && !dinp) return;
    sgemm_rm(0, 0, N, r, D, scale, dout, ldd, Bm, r, 0.0f, w->dla, r);
    if (dA) sgemm_rm(1, 0, r, D, N, 1.0f, w->dla, r, xa, D, 1.0f, dA, D);
    if (!dinp) return;
    if (mask) {
        sgemm_rm(0, 0, N, D, r, 1.0f, w->dla, r, A, D, 0.0f, w->dlx, D);
        dropout_backward(dinp, mask, w->dlx, (size_t)N * D);
    } else {
        sgemm_rm(0, 0, N, D, r, 1.0f, w->dla, r, A, D, 1.0f, dinp, D);
    }
}

void llama_backward(const LlamaLM *lm, const float *params, float *grads, int base_grads,
                    const float *dhid, float *dx, LlamaWork *w) {
    CHECK_PTR(w);
    CHECK(w->B >= 1, "llama_backward: no llama_forward has run on this work");
    check_work(__func__, lm, params, w, w->B, w->T);
    CHECK_PTR(dhid);
    CHECK(!base_grads || grads, "llama_backward: base_grads=%d with grads NULL", base_grads);
    const LlamaConfig *c = &lm->c;
    const int B = w->B, T = w->T, D = c->D, F = c->F, r = c->r, N = B * T;
    const size_t sD = rows_max(w) * D, sR = rows_max(w), sF = rows_max(w) * F,
                 sA = (size_t)w->Bmax * c->H * w->Tmax * w->Tmax, ND = (size_t)N * D;
    const float scale = c->alpha / (float)r;
    float *G = base_grads ? grads : NULL; // base weights' gradient buffer, or none
#define GB(off) (G ? G + (off) : NULL)
#define GL(off) (grads ? grads + (off) : NULL)
    float *d = w->dx; // ∂loss/∂(residual stream) at the current depth
    memset(d, 0, ND * sizeof(float));
    rmsnorm_backward(d, GB(lm->norm), dhid, w->x + c->L * sD, params + lm->norm, w->rstdf, N, D);
    for (int l = c->L - 1; l >= 0; l--) {
        const LlamaLayerOff o = llama_layer_off(lm, l);
        const float *xin = w->x + l * sD, *xmid = w->xmid + l * sD, *h = w->h + l * sD;
        const float *h2 = w->h2 + l * sD, *qkv = w->qkv + l * 3 * sD, *atty = w->atty + l * sD;
        const float *g = w->g + l * sF, *u = w->u + l * sF, *s = w->s + l * sF;
        // MLP: xout = xmid + s·W2ᵀ, s = swiglu(h2·W1ᵀ, h2·W3ᵀ); d passes through the residual.
        sgemm_rm(0, 0, N, F, D, 1.0f, d, D, params + o.w2, F, 0.0f, w->ds, F);
        if (G) sgemm_rm(1, 0, D, F, N, 1.0f, d, D, s, F, 1.0f, G + o.w2, F);
        memset(w->dg, 0, (size_t)N * F * sizeof(float));
        memset(w->du, 0, (size_t)N * F * sizeof(float));
        swiglu_backward(w->dg, w->du, w->ds, g, u, N, F);
        sgemm_rm(0, 0, N, D, F, 1.0f, w->dg, F, params + o.w1, D, 0.0f, w->dh, D);
        sgemm_rm(0, 0, N, D, F, 1.0f, w->du, F, params + o.w3, D, 1.0f, w->dh, D);
        if (G) {
            sgemm_rm(1, 0, F, D, N, 1.0f, w->dg, F, h2, D, 1.0f, G + o.w1, D);
            sgemm_rm(1, 0, F, D, N, 1.0f, w->du, F, h2, D, 1.0f, G + o.w3, D);
        }
        rmsnorm_backward(d, GB(o.mlp_norm), w->dh, xmid, params + o.mlp_norm, w->rstd2 + l * sR, N,
                         D);
        // Attention output: xmid = xin + atty·Woᵀ + adapter_o(atty). datty reuses dh.
        float *datty = w->dh;
        sgemm_rm(0, 0, N, D, D, 1.0f, d, D, params + o.wo, D, 0.0f, datty, D);
        if (G) sgemm_rm(1, 0, D, D, N, 1.0f, d, D, atty, D, 1.0f, G + o.wo, D);
        const int dr = w->dropped;
        adapter_backward(datty, GL(o.a[LLAMA_O]), GL(o.b[LLAMA_O]), w,
                         dr ? lmask_at(w, lm, l, LLAMA_O) : NULL, d, D,
                         dr ? lx_at(w, lm, l, LLAMA_O) : atty, la_at(w, lm, l, LLAMA_O),
                         params + o.a[LLAMA_O], params + o.b[LLAMA_O], scale, N, D, r);
        memset(w->dqkv, 0, ND * 3 * sizeof(float));
        causal_attention_backward(w->dqkv, datty, qkv, w->att + l * sA, B, T, D, c->H, w->att_work);
        // RoPE's transpose is the rotation by −angle: rope_forward with −sin, in place.
        llama_rope_rows(w->dqkv, w->cos_t, w->nsin_t, N, T, D, c->H);
        // The layer's input gradient is needed below layer 0 only for dx or attn_norm's gradient.
        const int need_dh = l > 0 || dx != NULL || G != NULL;
        const size_t wqkv[3] = {o.wq, o.wk, o.wv};
        for (int a = 0; a < 3; a++) {
            const float *dqa = w->dqkv + a * D;
            if (need_dh)
                sgemm_rm(0, 0, N, D, D, 1.0f, dqa, 3 * D, params + wqkv[a], D, a ? 1.0f : 0.0f,
                         w->dh, D);
            if (G) sgemm_rm(1, 0, D, D, N, 1.0f, dqa, 3 * D, h, D, 1.0f, G + wqkv[a], D);
            adapter_backward(need_dh ? w->dh : NULL, GL(o.a[a]), GL(o.b[a]), w,
                             dr ? lmask_at(w, lm, l, a) : NULL, dqa, 3 * D,
                             dr ? lx_at(w, lm, l, a) : h, la_at(w, lm, l, a), params + o.a[a],
                             params + o.b[a], scale, N, D, r);
        }
        if (need_dh)
            rmsnorm_backward(d, GB(o.attn_norm), w->dh, xin, params + o.attn_norm,
                             w->rstd1 + l * sR, N, D);
    }
#undef GB
#undef GL
    if (dx) {
        for (size_t i = 0; i < ND; i++)
            dx[i] += d[i];
        NANGUARD(__func__, "dx", dx, ND);
    }
    if (grads) NANGUARD(__func__, "grads", grads + lm->base, lm->n_params);
}

// ---- merging ----

void llama_lora_merge(const LlamaLM *lm, float *params) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    const int D = lm->c.D, r = lm->c.r;
    const float scale = lm->c.alpha / (float)r;
    for (int l = 0; l < lm->c.L; l++) {
        const LlamaLayerOff o = llama_layer_off(lm, l);
        const size_t wt[LLAMA_N_ADAPTERS] = {o.wq, o.wk, o.wv, o.wo};
        for (int a = 0; a < LLAMA_N_ADAPTERS; a++) {
            lora_merge(params + wt[a], params + o.a[a], params + o.b[a], scale, D, D, r);
            fill_const(params + o.b[a], (size_t)D * r, 0.0f);
        }
    }
}
