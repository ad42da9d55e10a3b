// party_model.c - the parties' small model: flat scripts for forward and backward (see header).
#include "models/party_model.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "nn/act.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"

void pm_init(PartyModel *m, const PmConfig *c) {
    CHECK_PTR(m);
    CHECK_PTR(c);
    CHECK(c->n_mod >= 1 && c->n_mod <= PM_MAX_MOD, "n_mod = %d outside 1..%d", c->n_mod,
          PM_MAX_MOD);
    CHECK(c->D > 0 && c->K > 1, "D = %d, K = %d", c->D, c->K);
    memset(m, 0, sizeof *m);
    m->c = *c;
    size_t off = 0, D = (size_t)c->D;
    for (int i = 0; i < c->n_mod; i++) {
        CHECK(c->in_dim[i] > 0, "modality %d: in_dim = %d", i, c->in_dim[i]);
        m->enc_w[i] = off;
        if (c->kind[i] == PM_DENSE) {
            off += D * (size_t)c->in_dim[i];
            m->enc_b[i] = off;
            off += D;
        } else {
            CHECK(c->kind[i] == PM_TOKENS && c->vocab[i] > 0, "modality %d: kind %d vocab %d", i,
                  (int)c->kind[i], c->vocab[i]);
            off += D * (size_t)c->vocab[i];
            m->enc_b[i] = off; // no bias: an empty range
        }
    }
    m->fuse_w = off, off += D * D * (size_t)c->n_mod;
    m->fuse_b = off, off += D;
    m->head_w = off, off += (size_t)c->K * D;
    m->head_b = off, off += (size_t)c->K;
    m->n_params = off;
}

static void uniform_fan_in(Rng *rng, float *p, size_t n, int fan_in) {
    float a = 1.f / sqrtf((float)fan_in);
    rng_fill_uniform(rng, p, n, -a, a);
}

void pm_init_params(const PartyModel *m, float *params, Rng *rng) {
    const PmConfig *c = &m->c;
    size_t D = (size_t)c->D;
    for (int i = 0; i < c->n_mod; i++) {
        if (c->kind[i] == PM_DENSE) {
            uniform_fan_in(rng, params + m->enc_w[i], D * (size_t)c->in_dim[i], c->in_dim[i]);
            uniform_fan_in(rng, params + m->enc_b[i], D, c->in_dim[i]);
        } else {
            rng_fill_normal(rng, params + m->enc_w[i], D * (size_t)c->vocab[i], 0.f, 0.1f);
        }
    }
    uniform_fan_in(rng, params + m->fuse_w, D * D * (size_t)c->n_mod, c->D * c->n_mod);
    uniform_fan_in(rng, params + m->fuse_b, D, c->D * c->n_mod);
    uniform_fan_in(rng, params + m->head_w, (size_t)c->K * D, c->D);
    uniform_fan_in(rng, params + m->head_b, (size_t)c->K, c->D);
}

void pm_work_init(PmWork *w, const PartyModel *m, int Bmax) {
    CHECK(Bmax > 0, "Bmax = %d", Bmax);
    memset(w, 0, sizeof *w);
    w->Bmax = Bmax;
    size_t bd = (size_t)Bmax * (size_t)m->c.D, bk = (size_t)Bmax * (size_t)m->c.K;
    for (int i = 0; i < m->c.n_mod; i++) {
        w->h[i] = xcalloc_aligned(bd * sizeof(float));
        w->dh[i] = xcalloc_aligned(bd * sizeof(float));
    }
    size_t bz = bd * (size_t)m->c.n_mod;
    w->z = xcalloc_aligned(bz * sizeof(float));
    w->dz = xcalloc_aligned(bz * sizeof(float));
    w->u = xcalloc_aligned(bd * sizeof(float));
    w->du = xcalloc_aligned(bd * sizeof(float));
    w->drep = xcalloc_aligned(bd * sizeof(float));
    w->logits = xcalloc_aligned(bk * sizeof(float));
    w->dlogits = xcalloc_aligned(bk * sizeof(float));
    w->probs = xcalloc_aligned(bk * sizeof(float));
}

void pm_work_free(PmWork *w) {
    for (int i = 0; i < PM_MAX_MOD; i++)
        xfree(w->h[i]), xfree(w->dh[i]);
    xfree(w->z), xfree(w->dz), xfree(w->u), xfree(w->du), xfree(w->drep);
    xfree(w->logits), xfree(w->dlogits), xfree(w->probs);
    memset(w, 0, sizeof *w);
}

static int present(const PmInput *in, int n_mod, int b, int i) {
    return in->mask == NULL || in->mask[(size_t)b * (size_t)n_mod + (size_t)i] != 0;
}

static void check_input(const PartyModel *m, const PmInput *in, const PmWork *w) {
    CHECK(in->B >= 1 && in->B <= w->Bmax, "batch B = %d outside 1..Bmax = %d", in->B, w->Bmax);
    for (int i = 0; i < m->c.n_mod; i++) {
        if (m->c.kind[i] == PM_DENSE)
            CHECK(in->dense[i] != NULL, "modality %d: dense input is NULL", i);
        else
            CHECK(in->tokens[i] != NULL, "modality %d: token input is NULL", i);
    }
}

void pm_encode(const PartyModel *m, const float *params, const PmInput *in, PmWork *w) {
    CHECK_PTR(params);
    check_input(m, in, w);
    const PmConfig *c = &m->c;
    int B = in->B, D = c->D;
    for (int i = 0; i < c->n_mod; i++) {
        if (c->kind[i] == PM_DENSE) {
            linear_forward(w->h[i], in->dense[i], params + m->enc_w[i], params + m->enc_b[i], B,
                           c->in_dim[i], D);
            relu_forward(w->h[i], w->h[i], (size_t)B * (size_t)D);
        } else {
            embedding_bag_mean_forward(w->h[i], in->tokens[i], params + m->enc_w[i], B,
                                       c->in_dim[i], c->vocab[i], D);
        }
    }
}

void pm_fuse(const PartyModel *m, const float *params, const PmInput *in, PmWork *w) {
    CHECK_PTR(params);
    check_input(m, in, w);
    const PmConfig *c = &m->c;
    int B = in->B, D = c->D, M = c->n_mod, MD = M * D;
    for (int b = 0; b < B; b++) {
        float *zb = w->z + (size_t)b * MD;
        for (int i = 0; i < M; i++) {
            if (present(in, M, b, i))
                memcpy(zb + (size_t)i * D, w->h[i] + (size_t)b * D, (size_t)D * sizeof(float));
            else if (in->fill[i])
                memcpy(zb + (size_t)i * D, in->fill[i] + (size_t)b * D, (size_t)D * sizeof(float));
            else
                memset(zb + (size_t)i * D, 0, (size_t)D * sizeof(float));
        }
    }
    linear_forward(w->u, w->z, params + m->fuse_w, params + m->fuse_b, B, MD, D);
    relu_forward(w->u, w->u, (size_t)B * (size_t)D);
    linear_forward(w->logits, w->u, params + m->head_w, params + m->head_b, B, D, c->K);
    memset(w->drep, 0, (size_t)B * (size_t)D * sizeof(float));
}

void pm_forward(const PartyModel *m, const float *params, const PmInput *in, PmWork *w) {
    pm_encode(m, params, in, w);
    pm_fuse(m, params, in, w);
}

void pm_backward(const PartyModel *m, const float *params, float *grads, const PmInput *in,
                 PmWork *w) {
    CHECK_PTR(grads);
    check_input(m, in, w);
    const PmConfig *c = &m->c;
    int B = in->B, D = c->D;
    int M = c->n_mod, MD = M * D;
    size_t bd = (size_t)B * (size_t)D;
    memset(w->du, 0, bd * sizeof(float));
    memset(w->dz, 0, bd * (size_t)M * sizeof(float));
    linear_backward(w->du, grads + m->head_w, grads + m->head_b, w->dlogits, w->u,
                    params + m->head_w, B, D, c->K);
    for (size_t k = 0; k < bd; k++) // + the caller's term on u; ReLU backward in place
        w->du[k] = w->u[k] <= 0.f ? 0.f : w->du[k] + w->drep[k];
    linear_backward(w->dz, grads + m->fuse_w, grads + m->fuse_b, w->du, w->z, params + m->fuse_w, B,
                    MD, D);
    for (int i = 0; i < M; i++)
        memset(w->dh[i], 0, bd * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int i = 0; i < M; i++)
            if (present(in, M, b, i))
                memcpy(w->dh[i] + (size_t)b * D, w->dz + (size_t)b * MD + (size_t)i * D,
                       (size_t)D * sizeof(float));
    for (int i = 0; i < c->n_mod; i++) {
        if (c->kind[i] == PM_DENSE) {
            // relu backward into a scratch copy: dh is both the upstream gradient and the output.
            float *dpre = w->dz; // dz is no longer needed
            memset(dpre, 0, bd * sizeof(float));
            relu_backward(dpre, w->h[i], w->dh[i], bd);
            linear_backward(NULL, grads + m->enc_w[i], grads + m->enc_b[i], dpre, in->dense[i],
                            params + m->enc_w[i], B, c->in_dim[i], D);
        } else {
            embedding_bag_mean_backward(grads + m->enc_w[i], w->dh[i], in->tokens[i], B,
                                        c->in_dim[i], c->vocab[i], D);
        }
    }
}

double pm_ce(const PartyModel *m, PmWork *w, int B, const int *labels, const float *weights,
             double dloss, long *correct) {
    CHECK_PTR(labels);
    int K = m->c.K;
    double loss = softmax_ce_forward(w->probs, w->logits, labels, weights, -1, B, K);
    if (correct) *correct += argmax_hits(w->logits, labels, B, K);
    if (dloss != 0) {
        memset(w->dlogits, 0, (size_t)B * (size_t)K * sizeof(float));
        softmax_ce_backward(w->dlogits, w->probs, labels, weights, -1, B, K, dloss);
    }
    return loss;
}

double pm_loss_backward(const PartyModel *m, const float *params, float *grads, const PmInput *in,
                        PmWork *w, const int *labels, const float *weights, long *correct) {
    pm_forward(m, params, in, w);
    double loss = pm_ce(m, w, in->B, labels, weights, grads ? 1.0 : 0.0, correct);
    if (grads) pm_backward(m, params, grads, in, w);
    return loss;
}
