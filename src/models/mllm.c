// mllm.c - the tiny multimodal LLM's layout, forward and backward (see mllm.h).
#include "models/mllm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "nn/act.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/patch.h"

void mllm_init(Mllm *m, const MllmConfig *c) {
    CHECK_PTR(m);
    CHECK_PTR(c);
    CHECK(c->n_enc >= 0 && c->n_enc <= MLLM_MAX_ENC, "mllm: %d encoders (at most %d)", c->n_enc,
          MLLM_MAX_ENC);
    memset(m, 0, sizeof *m);
    m->c = *c;
    size_t at = 0;
    for (int e = 0; e < c->n_enc; e++) {
        const MllmEncConfig *ec = &c->enc[e];
        CHECK(ec->name[0], "mllm: encoder %d has no modality name", e);
        for (int f = 0; f < e; f++)
            CHECK(strcmp(c->enc[f].name, ec->name), "mllm: two encoders read '%s'", ec->name);
        vit_init(&m->vit[e], &ec->vit, at);
        at += m->vit[e].n_params;
        m->gh[e] = ec->vit.H / ec->vit.Ph, m->gw[e] = ec->vit.W / ec->vit.Pw;
        CHECK(ec->sh > 0 && ec->sw > 0 && m->gh[e] % ec->sh == 0 && m->gw[e] % ec->sw == 0,
              "mllm: encoder '%s': pixel shuffle %dx%d does not divide its %dx%d token grid",
              ec->name, ec->sh, ec->sw, m->gh[e], m->gw[e]);
        CHECK(ec->Dp > 0, "mllm: encoder '%s': projector width %d", ec->name, ec->Dp);
        m->n_tok[e] = (m->gh[e] / ec->sh) * (m->gw[e] / ec->sw);
        m->in_proj[e] = ec->sh * ec->sw * ec->vit.D;
    }
    m->proj_begin = at;
    for (int e = 0; e < c->n_enc; e++) {
        size_t Dp = (size_t)c->enc[e].Dp, D = (size_t)c->lm.D;
        m->p1w[e] = at, at += Dp * (size_t)m->in_proj[e];
        m->p1b[e] = at, at += Dp;
        m->p2w[e] = at, at += D * Dp;
        m->p2b[e] = at, at += D;
    }
    m->proj_end = at;
    llama_init(&m->lm, &c->lm, at);
    m->n_params = at + m->lm.n_params;
}

int mllm_encoder(const Mllm *m, const char *name) {
    for (int e = 0; e < m->c.n_enc; e++)
        if (!strcmp(m->c.enc[e].name, name)) return e;
    return -1;
}

void mllm_add_tensors(const Mllm *m, Model *model, int train_proj) {
    char prefix[64], name[MODEL_NAME_MAX];
    for (int e = 0; e < m->c.n_enc; e++) {
        snprintf(prefix, sizeof prefix, "enc_%s", m->c.enc[e].name);
        vit_add_tensors(&m->vit[e], model, prefix, 0);
    }
    for (int e = 0; e < m->c.n_enc; e++) {
        const char *nm = m->c.enc[e].name;
        int64_t Dp = m->c.enc[e].Dp, D = m->c.lm.D;
        int64_t s1[2] = {Dp, m->in_proj[e]}, s2[1] = {Dp}, s3[2] = {D, Dp}, s4[1] = {D};
        snprintf(name, sizeof name, "proj_%s/p1/w", nm);
        model_add_tensor(model, name, 2, s1, m->p1w[e], train_proj);
        snprintf(name, sizeof name, "proj_%s/p1/b", nm);
        model_add_tensor(model, name, 1, s2, m->p1b[e], train_proj);
        snprintf(name, sizeof name, "proj_%s/p2/w", nm);
        model_add_tensor(model, name, 2, s3, m->p2w[e], train_proj);
        snprintf(name, sizeof name, "proj_%s/p2/b", nm);
        model_add_tensor(model, name, 1, s4, m->p2b[e], train_proj);
    }
    int first = model->n_tensors;
    llama_add_tensors(&m->lm, model, "lm/");
    // tensors stacked over the decoder's layers: what layer-selective regularisation reads
    for (int t = first; t < model->n_tensors; t++) {
        ModelTensor *mt = &model->tensor[t];
        if (mt->ndim >= 2 && mt->shape[0] == m->c.lm.L && strcmp(mt->name, "lm/tok_emb") &&
            strcmp(mt->name, "lm/head"))
            mt->layers = m->c.lm.L;
    }
}

// PyTorch's nn.Linear default: U(±1/√in) for weight and bias.
static void linear_init(float *w, float *b, int out, int in, Rng *rng) {
    float bound = 1.0f / sqrtf((float)in);
    for (size_t i = 0; i < (size_t)out * in; i++)
        w[i] = bound * (2.0f * rng_uniform(rng) - 1.0f);
    for (int i = 0; i < out; i++)
        b[i] = bound * (2.0f * rng_uniform(rng) - 1.0f);
}

void mllm_init_params(const Mllm *m, float *params, Rng *rng) {
    for (int e = 0; e < m->c.n_enc; e++)
        vit_init_params(&m->vit[e], params, rng);
    for (int e = 0; e < m->c.n_enc; e++) {
        linear_init(params + m->p1w[e], params + m->p1b[e], m->c.enc[e].Dp, m->in_proj[e], rng);
        linear_init(params + m->p2w[e], params + m->p2b[e], m->c.lm.D, m->c.enc[e].Dp, rng);
    }
    llama_init_params(&m->lm, params, rng);
}

void mllm_work_init(MllmWork *w, const Mllm *m, int Bmax, int Tmax) {
    CHECK(Bmax > 0 && Tmax > 0, "mllm_work_init: Bmax=%d Tmax=%d", Bmax, Tmax);
    memset(w, 0, sizeof *w);
    w->Bmax = Bmax, w->Tmax = Tmax;
    size_t D = (size_t)m->c.lm.D, big = 1, grid = 1;
    for (int e = 0; e < m->c.n_enc; e++) {
        const VitConfig *vc = &m->c.enc[e].vit;
        size_t nt = (size_t)m->n_tok[e], Dp = (size_t)m->c.enc[e].Dp;
        vit_work_init(&w->vit[e], &m->vit[e], Bmax);
        w->enc_x[e] = xmalloc((size_t)Bmax * vc->H * vc->W * sizeof(float));
        w->shuf[e] = xmalloc((size_t)Bmax * nt * m->in_proj[e] * sizeof(float));
        w->p1[e] = xmalloc((size_t)Bmax * nt * Dp * sizeof(float));
        w->p1g[e] = xmalloc((size_t)Bmax * nt * Dp * sizeof(float));
        w->proj[e] = xmalloc((size_t)Bmax * nt * D * sizeof(float));
        w->rows[e] = xmalloc((size_t)Bmax * sizeof(int));
        size_t need = nt * (D > Dp ? D : Dp);
        if (need < nt * (size_t)m->in_proj[e]) need = nt * (size_t)m->in_proj[e];
        if (need > big) big = need;
        size_t g = (size_t)m->gh[e] * m->gw[e] * vc->D;
        if (g > grid) grid = g;
    }
    size_t BT = (size_t)Bmax * Tmax, V = (size_t)m->c.lm.V;
    w->x = xmalloc(BT * D * sizeof(float));
    w->dx = xmalloc(BT * D * sizeof(float));
    w->dhid = xcalloc(BT * D, sizeof(float));
    w->dproj = xmalloc((size_t)Bmax * big * sizeof(float));
    w->dp1 = xmalloc((size_t)Bmax * big * sizeof(float));
    w->dp1g = xmalloc((size_t)Bmax * big * sizeof(float));
    w->dshuf = xmalloc((size_t)Bmax * big * sizeof(float));
    w->dtok = xmalloc((size_t)Bmax * grid * sizeof(float));
    w->hrows = xmalloc(BT * D * sizeof(float));
    w->dhrows = xmalloc(BT * D * sizeof(float));
    w->logits = xmalloc(BT * V * sizeof(float));
    w->probs = xmalloc(BT * V * sizeof(float));
    w->tgt = xmalloc(BT * sizeof(int));
    w->pos = xmalloc(BT * sizeof(int));
    llama_work_init(&w->lm, &m->lm, Bmax, Tmax);
}

void mllm_work_free(MllmWork *w) {
    for (int e = 0; e < MLLM_MAX_ENC; e++) {
        if (w->enc_x[e]) vit_work_free(&w->vit[e]);
        xfree(w->enc_x[e]), xfree(w->shuf[e]), xfree(w->p1[e]), xfree(w->p1g[e]);
        xfree(w->proj[e]), xfree(w->rows[e]);
    }
    xfree(w->x), xfree(w->dx), xfree(w->dhid), xfree(w->dproj), xfree(w->dp1), xfree(w->dp1g),
        xfree(w->dshuf);
    xfree(w->dtok), xfree(w->hrows), xfree(w->dhrows), xfree(w->logits), xfree(w->probs);
    xfree(w->tgt), xfree(w->pos);
    if (w->Bmax) llama_work_free(&w->lm);
    memset(w, 0, sizeof *w);
}

static void check_batch(const Mllm *m, const MllmBatch *b, const MllmWork *w) {
    CHECK_PTR(b);
    CHECK(b->B >= 1 && b->B <= w->Bmax, "mllm: batch of %d rows (work holds %d)", b->B, w->Bmax);
    CHECK(b->T >= 1 && b->T <= w->Tmax, "mllm: sequences of %d tokens (the context is %d)", b->T,
          w->Tmax);
    CHECK_PTR(b->ids);
    CHECK_PTR(b->len);
    for (int r = 0; r < b->B; r++) {
        CHECK(b->len[r] >= 1 && b->len[r] <= b->T, "mllm: row %d has %d tokens of %d", r, b->len[r],
              b->T);
        for (int e = 0; e < m->c.n_enc; e++) {
            int s = b->slot[e] ? b->slot[e][r] : -1;
            CHECK(s < 0 || ((b->enc_in[e] || b->tok_in[e]) && s + m->n_tok[e] <= b->len[r]),
                  "mllm: row %d: the %d '%s' tokens at %d do not fit its %d tokens (or no input)",
                  r, m->n_tok[e], m->c.enc[e].name, s, b->len[r]);
        }
    }
}

// Encoder e on the rows that have it: w->proj[e] (n_rows, n_tok, D).
static void encode(const Mllm *m, const float *params, const MllmBatch *b, MllmWork *w, int e) {
    const MllmEncConfig *ec = &m->c.enc[e];
    size_t in = (size_t)ec->vit.H * ec->vit.W;
    int nt = m->n_tok[e], Dp = ec->Dp, D = m->c.lm.D;
    size_t tok = (size_t)nt * m->in_proj[e];
    int n = 0;
    for (int r = 0; r < b->B; r++)
        if (b->slot[e] && b->slot[e][r] >= 0) {
            if (b->tok_in[e])
                memcpy(w->shuf[e] + (size_t)n * tok, b->tok_in[e] + (size_t)r * tok,
                       tok * sizeof(float));
            else
                memcpy(w->enc_x[e] + (size_t)n * in, b->enc_in[e] + (size_t)r * in,
                       in * sizeof(float));
            w->rows[e][n++] = r;
        }
    w->n_rows[e] = n;
    if (!n) return;
    if (!b->tok_in[e]) {
        vit_forward(&m->vit[e], params, w->enc_x[e], n, &w->vit[e]);
        pixel_shuffle_forward(w->shuf[e], w->vit[e].out, n, m->gh[e], m->gw[e], ec->vit.D, ec->sh,
                              ec->sw);
    }
    linear_forward(w->p1[e], w->shuf[e], params + m->p1w[e], params + m->p1b[e], n * nt,
                   m->in_proj[e], Dp);
    gelu_forward(w->p1g[e], w->p1[e], (size_t)n * nt * Dp);
    linear_forward(w->proj[e], w->p1g[e], params + m->p2w[e], params + m->p2b[e], n * nt, Dp, D);
}

void mllm_forward(const Mllm *m, const float *params, const MllmBatch *b, MllmWork *w, Rng *drop) {
    check_batch(m, b, w);
    const int B = b->B, T = b->T, D = m->c.lm.D;
    w->B = B, w->T = T;
    llama_embed(&m->lm, params, b->ids, B * T, w->x);
    for (int e = 0; e < m->c.n_enc; e++) {
        encode(m, params, b, w, e);
        size_t tok = (size_t)m->n_tok[e] * D;
        for (int k = 0; k < w->n_rows[e]; k++) {
            int r = w->rows[e][k];
            memcpy(w->x + ((size_t)r * T + b->slot[e][r]) * D, w->proj[e] + (size_t)k * tok,
                   tok * sizeof(float));
        }
    }
    llama_forward(&m->lm, params, w->x, B, T, &w->lm, drop);
}

const float *mllm_hidden(const MllmWork *w, const Mllm *m, int b, int t) {
    return w->lm.hid + ((size_t)b * w->T + t) * m->c.lm.D;
}

void mllm_backward(const Mllm *m, const float *params, float *grads, const MllmTrain *tr,
                   const MllmBatch *b, MllmWork *w) {
    const int B = w->B, T = w->T, D = m->c.lm.D;
    CHECK(b->B == B && b->T == T, "mllm_backward: batch %dx%d, the forward's %dx%d", b->B, b->T, B,
          T);
    int need_dx = tr->proj || tr->enc || tr->emb;
    if (need_dx) memset(w->dx, 0, (size_t)B * T * D * sizeof(float));
    if (w->dhid_add)
        for (size_t i = 0; i < (size_t)B * T * D; i++)
            w->dhid[i] += w->dhid_add[i];
    llama_backward(&m->lm, params, grads, tr->lm_base, w->dhid, need_dx ? w->dx : NULL, &w->lm);
    if (!need_dx) return;
    for (int e = 0; e < m->c.n_enc && (tr->proj || tr->enc); e++) {
        int n = w->n_rows[e];
        if (!n) continue;
        const MllmEncConfig *ec = &m->c.enc[e];
        int nt = m->n_tok[e], Dp = ec->Dp;
        size_t tok = (size_t)nt * D;
        for (int k = 0; k < n; k++) { // the slots' gradients
            int r = w->rows[e][k];
            memcpy(w->dproj + (size_t)k * tok, w->dx + ((size_t)r * T + b->slot[e][r]) * D,
                   tok * sizeof(float));
        }
        if (w->dproj_add[e])
            for (size_t i = 0; i < (size_t)n * tok; i++)
                w->dproj[i] += w->dproj_add[e][i];
        float *g = tr->proj ? grads : NULL;
        memset(w->dp1, 0, (size_t)n * nt * Dp * sizeof(float));
        linear_backward(w->dp1, g ? g + m->p2w[e] : NULL, g ? g + m->p2b[e] : NULL, w->dproj,
                        w->p1g[e], params + m->p2w[e], n * nt, Dp, D);
        memset(w->dp1g, 0, (size_t)n * nt * Dp * sizeof(float)); // gelu_backward accumulates
        gelu_backward(w->dp1g, w->p1[e], w->dp1, (size_t)n * nt * Dp);
        float *dshuf = tr->enc ? w->dshuf : NULL;
        if (dshuf) memset(dshuf, 0, (size_t)n * nt * m->in_proj[e] * sizeof(float));
        linear_backward(dshuf, g ? g + m->p1w[e] : NULL, g ? g + m->p1b[e] : NULL, w->dp1g,
                        w->shuf[e], params + m->p1w[e], n * nt, m->in_proj[e], Dp);
        if (!tr->enc || b->tok_in[e]) continue; // tokens given: no encoder ran
        size_t grid = (size_t)m->gh[e] * m->gw[e] * ec->vit.D;
        memset(w->dtok, 0, (size_t)n * grid * sizeof(float));
        pixel_shuffle_backward(w->dtok, dshuf, n, m->gh[e], m->gw[e], ec->vit.D, ec->sh, ec->sw);
        vit_backward(&m->vit[e], params, grads, w->enc_x[e], n, &w->vit[e], w->dtok);
    }
    // the embedding rows at text positions (the slots' gradients went to the projectors)
    if (tr->emb && grads) {
        for (int e = 0; e < m->c.n_enc; e++)
            for (int k = 0; k < w->n_rows[e]; k++) {
                int r = w->rows[e][k];
                memset(w->dx + ((size_t)r * T + b->slot[e][r]) * D, 0,
                       (size_t)m->n_tok[e] * D * sizeof(float));
            }
        llama_embed_backward(&m->lm, grads, b->ids, B * T, w->dx);
    }
}

double mllm_lm_loss(const Mllm *m, const float *params, float *grads, const MllmTrain *tr,
                    const MllmBatch *b, const int *targets, double dloss, MllmWork *w, Rng *drop,
                    int64_t *n, int64_t *correct) {
    mllm_forward(m, params, b, w, drop);
    return mllm_lm_loss_last(m, params, grads, tr, b, targets, dloss, w, n, correct);
}

double mllm_lm_loss_last(const Mllm *m, const float *params, float *grads, const MllmTrain *tr,
                         const MllmBatch *b, const int *targets, double dloss, MllmWork *w,
                         int64_t *n, int64_t *correct) {
    CHECK(b->B == w->B && b->T == w->T, "mllm_lm_loss_last: batch %dx%d, the forward's %dx%d", b->B,
          b->T, w->B, w->T);
    const int B = b->B, T = b->T, D = m->c.lm.D, V = m->c.lm.V;
    int N = 0;
    for (int r = 0; r < B; r++)
        for (int t = 0; t < b->len[r]; t++) {
            int y = targets[(size_t)r * T + t];
            if (y < 0) continue;
            CHECK(y < V, "mllm_lm_loss: target %d at row %d, position %d (V = %d)", y, r, t, V);
            w->tgt[N] = y, w->pos[N] = r * T + t;
            memcpy(w->hrows + (size_t)N * D, w->lm.hid + (size_t)(r * T + t) * D,
                   (size_t)D * sizeof(float));
            N++;
        }
    if (n) *n = N;
    if (!N) return 0.0;
    llama_head_forward(&m->lm, params, w->hrows, N, w->logits);
    double loss = softmax_ce_forward(w->probs, w->logits, w->tgt, NULL, -1, N, V);
    if (correct) *correct += argmax_hits(w->logits, w->tgt, N, V);
    if (!grads) return loss;
    memset(w->logits, 0, (size_t)N * V * sizeof(float)); // now dlogits
    softmax_ce_backward(w->logits, w->probs, w->tgt, NULL, -1, N, V, dloss);
    memset(w->dhrows, 0, (size_t)N * D * sizeof(float));
    llama_head_backward(&m->lm, params, tr->emb || tr->lm_base ? grads : NULL, w->dhrows, w->logits,
                        w->hrows, N);
    memset(w->dhid, 0, (size_t)B * T * D * sizeof(float));
    for (int i = 0; i < N; i++)
        memcpy(w->dhid + (size_t)w->pos[i] * D, w->dhrows + (size_t)i * D,
               (size_t)D * sizeof(float));
    mllm_backward(m, params, grads, tr, b, w);
    return loss;
}
