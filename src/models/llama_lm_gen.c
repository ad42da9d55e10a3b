// llama_lm_gen.c - KV-cached generation for the decoder (see llama_lm.h): prefill with the full
// forward, then one token per step through the same block pieces (llama_lm_impl.h) with
// causal_attention_step reading the cached keys and values.
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "core/xalloc.h"
#include "models/llama_lm.h"
#include "models/llama_lm_impl.h"
#include "nn/llama.h"
#include "tensor/blas.h"

static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

static size_t gen_layout(LlamaGen *g, const LlamaLM *lm, int Bmax, float *base) {
    const LlamaConfig *c = &lm->c;
    const size_t B = (size_t)Bmax, D = (size_t)c->D, F = (size_t)c->F;
    size_t off = 0;
    g->x = carve(base, &off, B * D);
    g->h = carve(base, &off, B * D);
    g->qkv = carve(base, &off, B * 3 * D);
    g->atty = carve(base, &off, B * D);
    g->g = carve(base, &off, B * F);
    g->u = carve(base, &off, B * F);
    g->s = carve(base, &off, B * F);
    g->la = carve(base, &off, B * (size_t)c->r);
    g->rstd = carve(base, &off, B);
    g->cos1 = carve(base, &off, (size_t)(c->D / c->H) / 2);
    g->sin1 = carve(base, &off, (size_t)(c->D / c->H) / 2);
    g->hid = carve(base, &off, B * D);
    g->xnew = carve(base, &off, B * D);
    g->logits = carve(base, &off, (size_t)c->V);
    g->step_work = carve(base, &off, (size_t)g->Tmax); // causal_attention_step's: the scores
    return off;
}

void llama_gen_init(LlamaGen *g, const LlamaLM *lm, int Bmax, int Tmax) {
    CHECK_PTR(g);
    CHECK_PTR(lm);
    CHECK(Bmax >= 1, "llama_gen_init: Bmax=%d must be >= 1", Bmax);
    CHECK(Tmax >= 1 && Tmax <= lm->c.Tmax, "llama_gen_init: Tmax=%d outside 1..%d (config Tmax)",
          Tmax, lm->c.Tmax);
    memset(g, 0, sizeof *g);
    g->Bmax = Bmax, g->Tmax = Tmax;
    const size_t n = gen_layout(g, lm, Bmax, NULL);
    g->arena = xcalloc_aligned(n * sizeof(float));
    gen_layout(g, lm, Bmax, g->arena);
    const int L = lm->c.L;
    const size_t nkv = kv_cache_floats(Bmax, Tmax, lm->c.D, lm->c.H);
    g->kv = xcalloc_aligned((size_t)L * 2 * nkv * sizeof(float));
    g->cache = xcalloc((size_t)L, sizeof *g->cache);
    for (int l = 0; l < L; l++)
        kv_cache_init(&g->cache[l], g->kv + (size_t)l * 2 * nkv, g->kv + ((size_t)l * 2 + 1) * nkv,
                      Bmax, Tmax, lm->c.D, lm->c.H);
    CHECK(causal_attention_step_workspace_size(&g->cache[0]) <= (size_t)Tmax,
          "llama_gen_init: step workspace larger than Tmax");
    llama_work_init(&g->work, lm, Bmax, Tmax);
}

void llama_gen_free(LlamaGen *g) {
    if (!g) return;
    llama_work_free(&g->work);
    xfree(g->arena);
    xfree(g->kv);
    xfree(g->cache);
    memset(g, 0, sizeof *g);
}

void llama_gen_reset(LlamaGen *g) {
    CHECK_PTR(g);
    g->pos = 0, g->B = 0;
}

static void check_gen(const char *fn, const LlamaLM *lm, const float *params, const LlamaGen *g) {
    CHECK_PTR(lm);
    CHECK_PTR(params);
    CHECK_PTR(g);
    CHECK(g->arena != NULL, "%s: generation state not initialised (llama_gen_init)", fn);
}

void llama_prefill(const LlamaLM *lm, const float *params, const float *x, int B, int T,
                   LlamaGen *g, float *hid_last) {
    check_gen(__func__, lm, params, g);
    CHECK_PTR(hid_last);
    CHECK(T >= 1 && T <= g->Tmax, "llama_prefill: T=%d outside 1..Tmax=%d (the cache's)", T,
          g->Tmax);
    llama_forward(lm, params, x, B, T, &g->work, NULL);
    // The rotated keys and the values are the k and v blocks of each layer's packed qkv: copy them
    // into the cache's (B, H, Tmax, hd) layout, one head row at a time.
    const int D = lm->c.D, H = lm->c.H, hd = D / H;
    const size_t s3 = (size_t)g->work.Bmax * g->work.Tmax * 3 * D;
    for (int l = 0; l < lm->c.L; l++) {
        const float *qkv = g->work.qkv + l * s3;
        KvCache *kc = &g->cache[l];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const size_t cb = ((size_t)b * H + h) * g->Tmax * hd;
                for (int t = 0; t < T; t++) {
                    const float *row = qkv + ((size_t)b * T + t) * 3 * D + (size_t)h * hd;
                    memcpy(kc->k + cb + (size_t)t * hd, row + D, (size_t)hd * sizeof(float));
                    memcpy(kc->v + cb + (size_t)t * hd, row + 2 * D, (size_t)hd * sizeof(float));
                }
            }
    }
    for (int b = 0; b < B; b++)
        memcpy(hid_last + (size_t)b * D, g->work.hid + ((size_t)b * T + T - 1) * D,
               (size_t)D * sizeof(float));
    g->B = B, g->pos = T;
}

void llama_step(const LlamaLM *lm, const float *params, const float *x_new, int B, LlamaGen *g,
                float *hid) {
    check_gen(__func__, lm, params, g);
    CHECK_PTR(x_new);
    CHECK_PTR(hid);
    CHECK(g->pos < g->Tmax, "llama_step: pos=%d: the KV cache is full (Tmax=%d)", g->pos, g->Tmax);
    if (g->pos == 0) {
        CHECK(B >= 1 && B <= g->Bmax, "llama_step: B=%d outside 1..Bmax=%d", B, g->Bmax);
        g->B = B;
    }
    CHECK(B == g->B, "llama_step: B=%d, but the generation started with B=%d", B, g->B);
    const LlamaConfig *c = &lm->c;
    const int D = c->D, H = c->H, r = c->r, pos = g->pos;
    const float scale = c->alpha / (float)r;
    memcpy(g->x, x_new, (size_t)B * D * sizeof(float));
    rope_table(g->cos1, g->sin1, pos, 1, D / H, c->theta);
    float *const la[3] = {g->la, g->la, g->la}; // bottlenecks: no backward needs them
    const float *const xa[3] = {g->h, g->h, g->h};
    for (int l = 0; l < c->L; l++) {
        const LlamaLayerOff o = llama_layer_off(lm, l);
        rmsnorm_forward(g->h, g->rstd, g->x, params + o.attn_norm, RMSNORM_EPS, B, D);
        llama_qkv_forward(lm, params, &o, g->qkv, la, g->h, xa, B);
        llama_rope_rows(g->qkv, g->cos1, g->sin1, B, 1, D, H);
        causal_attention_step(g->atty, g->qkv, &g->cache[l], pos, B, D, H, g->step_work);
        // The residual adds in the order of the full forward (copy, += atty·Woᵀ, += adapter).
        sgemm_rm(0, 1, B, D, D, 1.0f, g->atty, D, params + o.wo, D, 1.0f, g->x, D);
        llama_adapter_forward(g->x, D, g->la, g->atty, params + o.a[LLAMA_O], params + o.b[LLAMA_O],
                              scale, B, D, r);
        rmsnorm_forward(g->h, g->rstd, g->x, params + o.mlp_norm, RMSNORM_EPS, B, D);
        llama_mlp_forward(lm, params, &o, g->x, g->g, g->u, g->s, g->h, B);
    }
    rmsnorm_forward(hid, g->rstd, g->x, params + lm->norm, RMSNORM_EPS, B, D);
    g->pos++;
    NANGUARD(__func__, "hid", hid, (size_t)B * D);
}

// The next id from logits (V): argmax (first on ties) at temperature 0, else one draw from
// softmax(logits / temperature), computed in double from the max so that no term overflows.
static int pick(const float *logits, int V, float temperature, Rng *rng) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (temperature == 0.0f) return best;
    double sum = 0.0;
    for (int i = 0; i < V; i++)
        sum += exp(((double)logits[i] - logits[best]) / temperature);
    const double u = (double)rng_uniform(rng) * sum;
    double acc = 0.0;
    for (int i = 0; i < V; i++) {
        acc += exp(((double)logits[i] - logits[best]) / temperature);
        if (u < acc) return i;
    }
    return best; // u within rounding of sum: the mass ends at the last terms
}

int llama_generate(const LlamaLM *lm, const float *params, const float *x_prompt, int T,
                   int max_new, int eos, float temperature, Rng *rng, int *out_ids, LlamaGen *g) {
    check_gen(__func__, lm, params, g);
    CHECK_PTR(x_prompt);
    CHECK_PTR(out_ids);
    CHECK(T >= 1 && max_new >= 0, "llama_generate: T=%d max_new=%d", T, max_new);
    CHECK(T + max_new - 1 <= g->Tmax,
          "llama_generate: T=%d prompt tokens + max_new=%d - 1 exceed the cache's Tmax=%d", T,
          max_new, g->Tmax);
    CHECK(isfinite(temperature) && temperature >= 0.0f,
          "llama_generate: temperature=%g must be finite and >= 0", (double)temperature);
    CHECK(temperature == 0.0f || rng != NULL, "llama_generate: temperature=%g needs an rng",
          (double)temperature);
    CHECK(eos < lm->c.V, "llama_generate: eos=%d >= V=%d", eos, lm->c.V);
    if (max_new == 0) return 0;
    llama_prefill(lm, params, x_prompt, 1, T, g, g->hid);
    int n = 0;
    for (;;) {
        llama_head_forward(lm, params, g->hid, 1, g->logits);
        const int id = pick(g->logits, lm->c.V, temperature, rng);
        out_ids[n++] = id;
        if (id == eos || n == max_new) break;
        llama_embed(lm, params, &id, 1, g->xnew);
        llama_step(lm, params, g->xnew, 1, g, g->hid);
    }
    return n;
}
