// party_model.c - the parties' small model: flat scripts for forward and backward (see header).
#include "models/party_model.h"

#include <math.h>
#include <stdio.h>
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
    CHECK(c->n_mod >= 1 && c->n_mod <= MODEL_MAX_MOD, "n_mod = %d outside 1..%d", c->n_mod,
          MODEL_MAX_MOD);
    CHECK(c->D > 0 && c->K > 1, "D = %d, K = %d", c->D, c->K);
    memset(m, 0, sizeof *m);
    m->c = *c;
    size_t off = 0, D = (size_t)c->D;
    for (int i = 0; i < c->n_mod; i++) {
        CHECK(c->in_dim[i] > 0, "modality %d: in_dim = %d", i, c->in_dim[i]);
        m->enc_w[i] = off;
        if (c->kind[i] == MODEL_DENSE) {
            off += D * (size_t)c->in_dim[i];
            m->enc_b[i] = off;
            off += D;
        } else {
            CHECK(c->kind[i] == MODEL_TOKENS && c->vocab[i] > 0, "modality %d: kind %d vocab %d", i,
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
        if (c->kind[i] == MODEL_DENSE) {
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
    for (int i = 0; i < MODEL_MAX_MOD; i++)
        xfree(w->h[i]), xfree(w->dh[i]);
    xfree(w->z), xfree(w->dz), xfree(w->u), xfree(w->du), xfree(w->drep);
    xfree(w->logits), xfree(w->dlogits), xfree(w->probs);
    memset(w, 0, sizeof *w);
}

static int present(const ModelInput *in, int n_mod, int b, int i) {
    return in->mask == NULL || in->mask[(size_t)b * (size_t)n_mod + (size_t)i] != 0;
}

static void check_input(const PartyModel *m, const ModelInput *in, const PmWork *w) {
    CHECK(in->B >= 1 && in->B <= w->Bmax, "batch B = %d outside 1..Bmax = %d", in->B, w->Bmax);
    for (int i = 0; i < m->c.n_mod; i++) {
        if (m->c.kind[i] == MODEL_DENSE)
            CHECK(in->dense[i] != NULL, "modality %d: dense input is NULL", i);
        else
            CHECK(in->tokens[i] != NULL, "modality %d: token input is NULL", i);
    }
}

void pm_encode(const PartyModel *m, const float *params, const ModelInput *in, PmWork *w) {
    CHECK_PTR(params);
    check_input(m, in, w);
    const PmConfig *c = &m->c;
    int B = in->B, D = c->D;
    for (int i = 0; i < c->n_mod; i++) {
        if (c->kind[i] == MODEL_DENSE) {
            linear_forward(w->h[i], in->dense[i], params + m->enc_w[i], params + m->enc_b[i], B,
                           c->in_dim[i], D);
            relu_forward(w->h[i], w->h[i], (size_t)B * (size_t)D);
        } else {
            embedding_bag_mean_forward(w->h[i], in->tokens[i], params + m->enc_w[i], B,
                                       c->in_dim[i], c->vocab[i], D);
        }
    }
}

void pm_fuse(const PartyModel *m, const float *params, const ModelInput *in, PmWork *w) {
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
    memset(w->dlogits, 0, (size_t)B * (size_t)c->K * sizeof(float));
}

void pm_forward(const PartyModel *m, const float *params, const ModelInput *in, PmWork *w) {
    pm_encode(m, params, in, w);
    pm_fuse(m, params, in, w);
}

void pm_backward(const PartyModel *m, const float *params, float *grads, const ModelInput *in,
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
        if (c->kind[i] == MODEL_DENSE) {
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

// ---- the model contract (models/model.h) ----

static PmWork *pw(const ModelWork *w) { return w->impl; }

static void op_init_params(const Model *m, float *params, Rng *rng) {
    pm_init_params(m->impl, params, rng);
}

static void op_work_init(const Model *m, ModelWork *w, int Bmax) {
    PmWork *p = xcalloc(1, sizeof *p);
    pm_work_init(p, m->impl, Bmax);
    w->impl = p;
    w->logits = p->logits, w->probs = p->probs, w->dlogits = p->dlogits;
    w->rep = p->u, w->drep = p->drep;
    for (int i = 0; i < m->n_mod; i++)
        w->emb[i] = p->h[i];
}

static void op_work_free(ModelWork *w) {
    pm_work_free(pw(w));
    xfree(w->impl);
}

static void op_forward(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    pm_forward(m->impl, params, in, pw(w));
}

static void op_encode(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    pm_encode(m->impl, params, in, pw(w));
}

static void op_fuse(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    pm_fuse(m->impl, params, in, pw(w));
}

static void op_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                        ModelWork *w) {
    pm_backward(m->impl, params, grads, in, pw(w));
}

static void op_destroy(void *impl) { xfree(impl); }

static const ModelOps party_ops = {.kind = "party",
                                   .init_params = op_init_params,
                                   .work_init = op_work_init,
                                   .work_free = op_work_free,
                                   .forward = op_forward,
                                   .encode = op_encode,
                                   .fuse = op_fuse,
                                   .backward = op_backward,
                                   .destroy = op_destroy};

void party_model_create(Model *m, const ModelSpec *spec, int D) {
    CHECK_PTR(m);
    CHECK_PTR(spec);
    PmConfig c = {.n_mod = spec->n_mod, .D = D, .K = spec->K};
    for (int i = 0; i < spec->n_mod && i < MODEL_MAX_MOD; i++)
        c.kind[i] = spec->kind[i], c.in_dim[i] = spec->in_dim[i], c.vocab[i] = spec->vocab[i];
    PartyModel *pm = xcalloc(1, sizeof *pm);
    pm_init(pm, &c);
    memset(m, 0, sizeof *m);
    *m = (Model){.ops = &party_ops,
                 .impl = pm,
                 .n_params = pm->n_params,
                 .n_mod = c.n_mod,
                 .K = c.K,
                 .rep_dim = D,
                 .emb_dim = D};
    char name[MODEL_NAME_MAX];
    for (int i = 0; i < c.n_mod; i++) {
        char mod[MODEL_MOD_NAME_MAX + 8];
        model_modality_name(mod, spec->mod_name, i);
        if (c.kind[i] == MODEL_DENSE) {
            snprintf(name, sizeof name, "enc_%s/w", mod);
            model_add_tensor(m, name, 2, (int64_t[]){D, c.in_dim[i]}, pm->enc_w[i], 1);
            snprintf(name, sizeof name, "enc_%s/b", mod);
            model_add_tensor(m, name, 1, (int64_t[]){D}, pm->enc_b[i], 1);
        } else {
            snprintf(name, sizeof name, "enc_%s/emb", mod);
            model_add_tensor(m, name, 2, (int64_t[]){c.vocab[i], D}, pm->enc_w[i], 1);
        }
    }
    model_add_tensor(m, "fuse/w", 2, (int64_t[]){D, (int64_t)D * c.n_mod}, pm->fuse_w, 1);
    model_add_tensor(m, "fuse/b", 1, (int64_t[]){D}, pm->fuse_b, 1);
    model_add_tensor(m, "head/w", 2, (int64_t[]){c.K, D}, pm->head_w, 1);
    model_add_tensor(m, "head/b", 1, (int64_t[]){c.K}, pm->head_b, 1);
    CHECK(m->tensor[m->n_tensors - 1].off + m->tensor[m->n_tensors - 1].n == m->n_params,
          "party model: tensors end at %zu of %zu", m->tensor[m->n_tensors - 1].off, m->n_params);
}
