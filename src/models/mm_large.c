// mm_large.c - the cloud's multimodal large model: flat scripts for forward and backward (see
// header). [I] reconstruction: BoMM's abstract names an MM-LM, not its architecture; this is the
// plain shape (encoders → tokens → transformer fusion → head).
#include "models/mm_large.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "nn/act.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/norm.h"

void mm_init(MmLarge *m, const MmConfig *c) {
    CHECK_PTR(m);
    CHECK_PTR(c);
    CHECK(c->n_mod >= 1 && c->n_mod <= MODEL_MAX_MOD, "mm_init: n_mod = %d outside 1..%d", c->n_mod,
          MODEL_MAX_MOD);
    CHECK(c->D > 0 && c->L > 0 && c->H > 0 && c->K > 1, "mm_init: D = %d, L = %d, H = %d, K = %d",
          c->D, c->L, c->H, c->K);
    CHECK(c->D % c->H == 0, "mm_init: D = %d is not a multiple of H = %d", c->D, c->H);
    memset(m, 0, sizeof *m);
    m->c = *c;
    size_t off = 0, D = (size_t)c->D;
    for (int i = 0; i < c->n_mod; i++) {
        CHECK(c->in_dim[i] > 0, "mm_init: modality %d: in_dim = %d", i, c->in_dim[i]);
        m->tok_off[i] = m->T;
        m->enc_w[i] = off;
        if (c->kind[i] == MODEL_DENSE) {
            CHECK(c->n_tok[i] > 0, "mm_init: dense modality %d: n_tok = %d", i, c->n_tok[i]);
            size_t td = (size_t)c->n_tok[i] * D;
            off += td * (size_t)c->in_dim[i];
            m->enc_b[i] = off;
            off += td;
        } else {
            CHECK(c->kind[i] == MODEL_TOKENS && c->vocab[i] > 0,
                  "mm_init: modality %d: kind %d vocab %d", i, (int)c->kind[i], c->vocab[i]);
            CHECK(c->n_tok[i] == 0 || c->n_tok[i] == c->in_dim[i],
                  "mm_init: token modality %d: n_tok = %d, but one token per id needs %d", i,
                  c->n_tok[i], c->in_dim[i]);
            m->c.n_tok[i] = c->in_dim[i];
            off += D * (size_t)c->vocab[i];
            m->enc_b[i] = off; // no bias: an empty range
        }
        m->mod_emb[i] = off;
        off += (size_t)m->c.n_tok[i] * D;
        CHECK(m->T <= 4096 - m->c.n_tok[i], "mm_init: %d + %d tokens per sample", m->T,
              m->c.n_tok[i]);
        m->T += m->c.n_tok[i];
    }
    blocks_init(&m->blocks, c->D, c->L, c->H, off);
    off += m->blocks.n_params;
    m->lnfw = off, off += D;
    m->lnfb = off, off += D;
    m->headw = off, off += (size_t)c->K * D;
    m->headb = off, off += (size_t)c->K;
    m->n_params = off;
}

void mm_config_default(MmConfig *c, const ModelSpec *spec) {
    CHECK_PTR(c);
    CHECK_PTR(spec);
    memset(c, 0, sizeof *c);
    c->n_mod = spec->n_mod;
    for (int i = 0; i < spec->n_mod && i < MODEL_MAX_MOD; i++) {
        c->kind[i] = spec->kind[i];
        c->in_dim[i] = spec->in_dim[i];
        c->vocab[i] = spec->vocab[i];
        c->n_tok[i] = spec->kind[i] == MODEL_DENSE ? MM_DEFAULT_DENSE_TOKENS : spec->in_dim[i];
    }
    c->D = MM_DEFAULT_D, c->L = MM_DEFAULT_L, c->H = MM_DEFAULT_H, c->K = spec->K;
}

static void uniform_fan_in(Rng *rng, float *p, size_t n, int fan_in) {
    float a = 1.f / sqrtf((float)fan_in);
    rng_fill_uniform(rng, p, n, -a, a);
}

void mm_init_params(const MmLarge *m, float *params, Rng *rng) {
    CHECK_PTR(m);
    CHECK_PTR(params);
    CHECK_PTR(rng);
    const MmConfig *c = &m->c;
    size_t D = (size_t)c->D;
    for (int i = 0; i < c->n_mod; i++) {
        size_t td = (size_t)c->n_tok[i] * D;
        if (c->kind[i] == MODEL_DENSE) {
            uniform_fan_in(rng, params + m->enc_w[i], td * (size_t)c->in_dim[i], c->in_dim[i]);
            uniform_fan_in(rng, params + m->enc_b[i], td, c->in_dim[i]);
        } else {
            rng_fill_normal(rng, params + m->enc_w[i], D * (size_t)c->vocab[i], 0.f, 0.02f);
        }
        rng_fill_normal(rng, params + m->mod_emb[i], td, 0.f, 0.02f);
    }
    blocks_init_params(&m->blocks, params, rng);
    for (size_t k = 0; k < D; k++)
        params[m->lnfw + k] = 1.f, params[m->lnfb + k] = 0.f;
    uniform_fan_in(rng, params + m->headw, (size_t)c->K * D, c->D);
    uniform_fan_in(rng, params + m->headb, (size_t)c->K, c->D);
}

// ---- work buffers ----

// Carves n floats from the arena (or only counts them when base is NULL); 16-float (64-byte)
// alignment keeps every buffer on its own cache line.
static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

static size_t work_layout(MmWork *w, const MmLarge *m, int Bmax, float *base) {
    const MmConfig *c = &m->c;
    size_t off = 0, B = (size_t)Bmax, T = (size_t)m->T, D = (size_t)c->D;
    for (int i = 0; i < c->n_mod; i++)
        if (c->kind[i] == MODEL_DENSE) w->pre[i] = carve(base, &off, B * (size_t)c->n_tok[i] * D);
    w->pooled = carve(base, &off, B * D);
    w->lnf_mean = carve(base, &off, B);
    w->lnf_rstd = carve(base, &off, B);
    w->rep = carve(base, &off, B * D);
    w->logits = carve(base, &off, B * (size_t)c->K);
    w->probs = carve(base, &off, B * (size_t)c->K);
    w->dlogits = carve(base, &off, B * (size_t)c->K);
    w->drep = carve(base, &off, B * D);
    w->dx = carve(base, &off, B * T * D);
    w->dpooled = carve(base, &off, B * D);
    w->dlnf = carve(base, &off, B * D);
    return off;
}

void mm_work_init(MmWork *w, const MmLarge *m, int Bmax) {
    CHECK_PTR(w);
    CHECK_PTR(m);
    CHECK(Bmax > 0, "mm_work_init: Bmax = %d", Bmax);
    memset(w, 0, sizeof *w);
    size_t n = work_layout(w, m, Bmax, NULL);
    w->arena = xcalloc_aligned(n * sizeof(float));
    work_layout(w, m, Bmax, w->arena);
    w->key_mask = xcalloc((size_t)Bmax * (size_t)m->T, 1);
    blocks_work_init(&w->blocks, &m->blocks, Bmax, m->T);
    w->Bmax = Bmax;
}

void mm_work_free(MmWork *w) {
    xfree(w->arena);
    xfree(w->key_mask);
    blocks_work_free(&w->blocks);
    memset(w, 0, sizeof *w);
}

// ---- forward ----

static int present(const ModelInput *in, int n_mod, int b, int i) {
    return in->mask == NULL || in->mask[(size_t)b * (size_t)n_mod + (size_t)i] != 0;
}

static void check_input(const char *fn, const MmLarge *m, const ModelInput *in, const MmWork *w) {
    CHECK_PTR(in);
    CHECK_PTR(w);
    CHECK(w->arena != NULL, "%s: work buffers not initialised", fn);
    CHECK(in->B >= 1 && in->B <= w->Bmax, "%s: batch B = %d outside 1..Bmax = %d", fn, in->B,
          w->Bmax);
    for (int i = 0; i < m->c.n_mod; i++) {
        if (m->c.kind[i] == MODEL_DENSE)
            CHECK(in->dense[i] != NULL, "%s: modality %d: dense input is NULL", fn, i);
        else
            CHECK(in->tokens[i] != NULL, "%s: modality %d: token input is NULL", fn, i);
    }
}

void mm_forward(const MmLarge *m, const float *params, const ModelInput *in, MmWork *w) {
    CHECK_PTR(m);
    CHECK_PTR(params);
    check_input(__func__, m, in, w);
    const MmConfig *c = &m->c;
    const int B = in->B, T = m->T, D = c->D, M = c->n_mod;
    const size_t Dz = (size_t)D, BT = (size_t)B * (size_t)T, btd = BT * Dz;
    uint8_t *km = w->key_mask;

    // Encoders: tokens of present modalities into x[0]; missing ones and padding stay zero rows.
    float *x0 = blocks_in(&w->blocks);
    memset(x0, 0, btd * sizeof(float));
    memset(km, 0, BT);
    for (int i = 0; i < M; i++) {
        const int tm = c->n_tok[i], off = m->tok_off[i];
        const size_t td = (size_t)tm * Dz;
        const float *emb = params + m->mod_emb[i];
        if (c->kind[i] == MODEL_DENSE) {
            linear_forward(w->pre[i], in->dense[i], params + m->enc_w[i], params + m->enc_b[i], B,
                           c->in_dim[i], tm * D);
            for (int b = 0; b < B; b++) {
                if (!present(in, M, b, i)) continue;
                float *dst = x0 + ((size_t)b * T + off) * Dz;
                gelu_forward(dst, w->pre[i] + (size_t)b * td, td);
                for (size_t k = 0; k < td; k++)
                    dst[k] += emb[k];
                memset(km + (size_t)b * T + off, 1, (size_t)tm);
            }
        } else {
            const int V = c->vocab[i];
            const float *E = params + m->enc_w[i];
            for (int b = 0; b < B; b++) {
                const int *ids = in->tokens[i] + (size_t)b * tm;
                for (int s = 0; s < tm; s++)
                    CHECK(ids[s] < V, "mm_forward: modality %d row %d token %d: id %d >= V = %d", i,
                          b, s, ids[s], V);
                if (!present(in, M, b, i)) continue;
                for (int s = 0; s < tm; s++) {
                    if (ids[s] < 0) continue; // padding
                    float *dst = x0 + ((size_t)b * T + off + s) * Dz;
                    const float *e = E + (size_t)ids[s] * Dz, *p = emb + (size_t)s * Dz;
                    for (int k = 0; k < D; k++)
                        dst[k] = e[k] + p[k];
                    km[(size_t)b * T + off + s] = 1;
                }
            }
        }
    }

    // Transformer blocks (pre-LN, full attention under the key mask).
    blocks_forward(&m->blocks, params, km, B, &w->blocks);

    // Masked mean-pool (sums in double), final LayerNorm, head. A row with no token pools to 0.
    const float *xL = blocks_out(&m->blocks, &w->blocks);
    for (int b = 0; b < B; b++) {
        const uint8_t *kb = km + (size_t)b * T;
        int cnt = 0;
        for (int t = 0; t < T; t++)
            cnt += kb[t];
        float *pb = w->pooled + (size_t)b * Dz;
        for (int k = 0; k < D; k++) {
            double s = 0.0;
            for (int t = 0; t < T; t++)
                if (kb[t]) s += xL[((size_t)b * T + t) * Dz + k];
            pb[k] = cnt ? (float)(s / cnt) : 0.f;
        }
    }
    layernorm_forward(w->rep, w->lnf_mean, w->lnf_rstd, w->pooled, params + m->lnfw,
                      params + m->lnfb, B, D);
    linear_forward(w->logits, w->rep, params + m->headw, params + m->headb, B, D, c->K);
    memset(w->dlogits, 0, (size_t)B * (size_t)c->K * sizeof(float));
    memset(w->drep, 0, (size_t)B * Dz * sizeof(float));
}

// ---- backward ----

void mm_backward(const MmLarge *m, const float *params, float *grads, const ModelInput *in,
                 MmWork *w) {
    CHECK_PTR(m);
    CHECK_PTR(params);
    CHECK_PTR(grads);
    check_input(__func__, m, in, w);
    const MmConfig *c = &m->c;
    const int B = in->B, T = m->T, D = c->D, M = c->n_mod;
    const size_t Dz = (size_t)D, BT = (size_t)B * (size_t)T, btd = BT * Dz;
    const uint8_t *km = w->key_mask;

    // Head and final LayerNorm: dlnf = drep + ∂(logits)/∂rep.
    memcpy(w->dlnf, w->drep, (size_t)B * Dz * sizeof(float));
    linear_backward(w->dlnf, grads + m->headw, grads + m->headb, w->dlogits, w->rep,
                    params + m->headw, B, D, c->K);
    memset(w->dpooled, 0, (size_t)B * Dz * sizeof(float));
    layernorm_backward(w->dpooled, grads + m->lnfw, grads + m->lnfb, w->dlnf, w->pooled,
                       params + m->lnfw, w->lnf_mean, w->lnf_rstd, B, D);

    // Pool: each present token gets dpooled / count; masked tokens get nothing.
    float *dx = w->dx;
    memset(dx, 0, btd * sizeof(float));
    for (int b = 0; b < B; b++) {
        const uint8_t *kb = km + (size_t)b * T;
        int cnt = 0;
        for (int t = 0; t < T; t++)
            cnt += kb[t];
        if (cnt == 0) continue;
        const float inv = 1.f / (float)cnt, *dp = w->dpooled + (size_t)b * Dz;
        for (int t = 0; t < T; t++) {
            if (!kb[t]) continue;
            float *d = dx + ((size_t)b * T + t) * Dz;
            for (int k = 0; k < D; k++)
                d[k] = dp[k] * inv;
        }
    }

    // Blocks in reverse: dx becomes ∂/∂x[0].
    blocks_backward(&m->blocks, params, grads, km, B, &w->blocks, dx);

    // Encoders: only tokens under the key mask were written in the forward, so only they pass
    // gradient on (masked rows hold exact zeros anyway; skipping them makes that structural).
    for (int i = 0; i < M; i++) {
        const int tm = c->n_tok[i], off = m->tok_off[i];
        const size_t td = (size_t)tm * Dz;
        float *demb = grads + m->mod_emb[i];
        if (c->kind[i] == MODEL_DENSE) {
            float *dpre = w->blocks.dA; // (B, t_m·D) fits in (B, T, 4D)
            memset(dpre, 0, (size_t)B * td * sizeof(float));
            for (int b = 0; b < B; b++) {
                if (!present(in, M, b, i)) continue;
                const float *d = dx + ((size_t)b * T + off) * Dz;
                gelu_backward(dpre + (size_t)b * td, w->pre[i] + (size_t)b * td, d, td);
                for (size_t k = 0; k < td; k++)
                    demb[k] += d[k];
            }
            linear_backward(NULL, grads + m->enc_w[i], grads + m->enc_b[i], dpre, in->dense[i],
                            params + m->enc_w[i], B, c->in_dim[i], tm * D);
        } else {
            float *dE = grads + m->enc_w[i];
            for (int b = 0; b < B; b++) {
                const uint8_t *kb = km + (size_t)b * T + off;
                const int *ids = in->tokens[i] + (size_t)b * tm;
                for (int s = 0; s < tm; s++) {
                    if (!kb[s]) continue;
                    const float *d = dx + ((size_t)b * T + off + s) * Dz;
                    float *de = dE + (size_t)ids[s] * Dz, *dp = demb + (size_t)s * Dz;
                    for (int k = 0; k < D; k++)
                        de[k] += d[k], dp[k] += d[k];
                }
            }
        }
    }
}

// ---- the model contract (models/model.h) ----

static MmWork *mw(const ModelWork *w) { return w->impl; }

static void op_init_params(const Model *m, float *params, Rng *rng) {
    mm_init_params(m->impl, params, rng);
}

static void op_work_init(const Model *m, ModelWork *w, int Bmax) {
    MmWork *x = xcalloc(1, sizeof *x);
    mm_work_init(x, m->impl, Bmax);
    w->impl = x;
    w->logits = x->logits, w->probs = x->probs, w->dlogits = x->dlogits;
    w->rep = x->rep, w->drep = x->drep;
}

static void op_work_free(ModelWork *w) {
    mm_work_free(mw(w));
    xfree(w->impl);
}

static void op_forward(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    mm_forward(m->impl, params, in, mw(w));
}

static void op_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                        ModelWork *w) {
    mm_backward(m->impl, params, grads, in, mw(w));
}

static void op_destroy(void *impl) { xfree(impl); }

static const ModelOps mm_ops = {.kind = "transformer",
                                .init_params = op_init_params,
                                .work_init = op_work_init,
                                .work_free = op_work_free,
                                .forward = op_forward,
                                .backward = op_backward,
                                .destroy = op_destroy};

void mm_large_create(Model *m, const MmConfig *c, const char (*mod_name)[MODEL_MOD_NAME_MAX]) {
    CHECK_PTR(m);
    MmLarge *mm = xcalloc(1, sizeof *mm);
    mm_init(mm, c);
    c = &mm->c;
    *m = (Model){.ops = &mm_ops,
                 .impl = mm,
                 .n_params = mm->n_params,
                 .n_mod = c->n_mod,
                 .K = c->K,
                 .rep_dim = c->D};
    int64_t D = c->D;
    char name[MODEL_NAME_MAX], mod[MODEL_MOD_NAME_MAX + 8];
    for (int i = 0; i < c->n_mod; i++) {
        model_modality_name(mod, mod_name, i);
        int64_t t = c->n_tok[i];
        if (c->kind[i] == MODEL_DENSE) {
            snprintf(name, sizeof name, "enc_%s/w", mod);
            model_add_tensor(m, name, 2, (int64_t[]){t * D, c->in_dim[i]}, mm->enc_w[i], 1);
            snprintf(name, sizeof name, "enc_%s/b", mod);
            model_add_tensor(m, name, 1, (int64_t[]){t * D}, mm->enc_b[i], 1);
        } else {
            snprintf(name, sizeof name, "enc_%s/emb", mod);
            model_add_tensor(m, name, 2, (int64_t[]){c->vocab[i], D}, mm->enc_w[i], 1);
        }
        snprintf(name, sizeof name, "enc_%s/slots", mod); // the modality/position embedding
        model_add_tensor(m, name, 2, (int64_t[]){t, D}, mm->mod_emb[i], 1);
    }
    // Per-layer tensors, stacked over the L blocks (layer-major, as the buffer holds them).
    blocks_add_tensors(&mm->blocks, m, "blocks", 1);
    model_add_tensor(m, "lnf/w", 1, (int64_t[]){D}, mm->lnfw, 1);
    model_add_tensor(m, "lnf/b", 1, (int64_t[]){D}, mm->lnfb, 1);
    model_add_tensor(m, "head/w", 2, (int64_t[]){c->K, D}, mm->headw, 1);
    model_add_tensor(m, "head/b", 1, (int64_t[]){c->K}, mm->headb, 1);
    CHECK(mm->headb + (size_t)c->K == mm->n_params, "mm_large: tensors end at %zu of %zu",
          mm->headb + (size_t)c->K, mm->n_params);
}
