// model.c - the model contract's shared parts: tensor lists, checked dispatch, the classification
// loss and selections (see model.h).
#include "models/model.h"

#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "nn/loss.h"

void model_add_tensor(Model *m, const char *name, int ndim, const int64_t *shape, size_t off,
                      int trainable) {
    CHECK(m->n_tensors < MODEL_MAX_TENSORS, "model_add_tensor(%s): more than %d tensors", name,
          MODEL_MAX_TENSORS);
    CHECK(strlen(name) < MODEL_NAME_MAX, "model_add_tensor: name '%s' longer than %d", name,
          MODEL_NAME_MAX - 1);
    CHECK(ndim >= 1 && ndim <= 4, "model_add_tensor(%s): ndim = %d", name, ndim);
    ModelTensor *t = &m->tensor[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim, t->off = off, t->trainable = trainable, t->n = 1;
    for (int d = 0; d < ndim; d++) {
        CHECK(shape[d] >= 1, "model_add_tensor(%s): dim %d = %lld", name, d, (long long)shape[d]);
        t->shape[d] = shape[d], t->n *= (size_t)shape[d];
    }
    size_t end = m->n_tensors ? m->tensor[m->n_tensors - 1].off + m->tensor[m->n_tensors - 1].n : 0;
    CHECK(off == end, "model_add_tensor(%s): offset %zu, the previous tensor ends at %zu", name,
          off, end);
    m->n_tensors++;
}

void model_modality_name(char *out, const char (*names)[MODEL_MOD_NAME_MAX], int i) {
    if (names && names[i][0])
        snprintf(out, MODEL_MOD_NAME_MAX + 8, "%s", names[i]);
    else
        snprintf(out, MODEL_MOD_NAME_MAX + 8, "m%d", i);
}

void model_free(Model *m) {
    if (m->ops && m->impl) m->ops->destroy(m->impl);
    memset(m, 0, sizeof *m);
}

const ModelTensor *model_tensor(const Model *m, const char *name) {
    for (int t = 0; t < m->n_tensors; t++)
        if (!strcmp(m->tensor[t].name, name)) return &m->tensor[t];
    return NULL;
}

void model_init_params(const Model *m, float *params, Rng *rng) {
    CHECK(m && m->ops && params && rng, "model_init_params: NULL argument");
    m->ops->init_params(m, params, rng);
}

void model_work_init(const Model *m, ModelWork *w, int Bmax) {
    CHECK(m && m->ops && w && Bmax > 0, "model_work_init: NULL argument or Bmax = %d", Bmax);
    memset(w, 0, sizeof *w);
    m->ops->work_init(m, w, Bmax);
    w->Bmax = Bmax;
}

void model_work_free(const Model *m, ModelWork *w) {
    if (w->impl) m->ops->work_free(w);
    memset(w, 0, sizeof *w);
}

static void check_batch(const char *fn, const Model *m, const float *params, const ModelInput *in,
                        const ModelWork *w) {
    CHECK(m && m->ops && params && in && w, "%s: NULL argument", fn);
    CHECK(in->B >= 1 && in->B <= w->Bmax, "%s (%s): batch B = %d outside 1..Bmax = %d", fn,
          m->ops->kind, in->B, w->Bmax);
}

void model_forward(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    check_batch(__func__, m, params, in, w);
    m->ops->forward(m, params, in, w);
}

int model_has_split(const Model *m) { return m->ops->encode && m->ops->fuse; }

void model_encode(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    check_batch(__func__, m, params, in, w);
    CHECK(model_has_split(m), "model_encode: a %s model has no encode/fuse split", m->ops->kind);
    m->ops->encode(m, params, in, w);
}

void model_fuse(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    check_batch(__func__, m, params, in, w);
    CHECK(model_has_split(m), "model_fuse: a %s model has no encode/fuse split", m->ops->kind);
    m->ops->fuse(m, params, in, w);
}

void model_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                    ModelWork *w) {
    check_batch(__func__, m, params, in, w);
    CHECK_PTR(grads);
    m->ops->backward(m, params, grads, in, w);
}

double model_ce(const Model *m, ModelWork *w, int B, const int *labels, const float *weights,
                double dloss, int64_t *correct) {
    CHECK_PTR(labels);
    CHECK(m->K > 0 && w->logits, "model_ce: a %s model has no classes", m->ops->kind);
    CHECK(B >= 1 && B <= w->Bmax, "model_ce: B = %d outside 1..%d", B, w->Bmax);
    int K = m->K;
    double loss = softmax_ce_forward(w->probs, w->logits, labels, weights, -1, B, K);
    if (correct) *correct += argmax_hits(w->logits, labels, B, K);
    if (dloss != 0) softmax_ce_backward(w->dlogits, w->probs, labels, weights, -1, B, K, dloss);
    return loss;
}

// ---- selections ----

// 1 when name starts with one of the comma-separated prefixes in spec; marks used[k] for each.
static int matches(const char *name, const char *spec, int *used) {
    int hit = 0, k = 0;
    for (const char *p = spec; *p; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len && strncmp(name, p, len) == 0) hit = 1, used[k] = 1;
        p = comma ? comma + 1 : p + len;
    }
    return hit;
}

int model_select(const Model *m, const char *spec, Selection *s, char *err, size_t cap) {
    memset(s, 0, sizeof *s);
    int used[MODEL_MAX_TENSORS] = {0};
    int all = !strcmp(spec, "all"), dflt = !spec[0];
    for (int t = 0; t < m->n_tensors; t++) {
        const ModelTensor *x = &m->tensor[t];
        s->on[t] = (uint8_t)(all || (dflt ? x->trainable : matches(x->name, spec, used)));
        if (!s->on[t]) continue;
        s->n += x->n;
        ParamSegment *last = s->n_segs ? &s->seg[s->n_segs - 1] : NULL;
        if (last && last->offset + last->n == x->off)
            last->n += x->n;
        else
            s->seg[s->n_segs++] = (ParamSegment){x->off, x->n};
    }
    if (!all && !dflt) { // every prefix must name something: a typo is an error, not a no-op
        int k = 0;
        for (const char *p = spec; *p; k++) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (!used[k]) {
                char names[1024] = "";
                size_t at = 0;
                for (int t = 0; t < m->n_tensors && at < sizeof names; t++)
                    at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", t ? ", " : "",
                                           m->tensor[t].name);
                snprintf(err, cap, "'%.*s' names no tensor of the %s model (tensors: %s)", (int)len,
                         p, m->ops->kind, names);
                return -1;
            }
            p = comma ? comma + 1 : p + len;
        }
    }
    if (s->n == 0) {
        snprintf(err, cap, "'%s' selects no tensor of the %s model", spec, m->ops->kind);
        return -1;
    }
    return 0;
}

void selection_pack(const Selection *s, const float *params, float *packed) {
    for (int k = 0; k < s->n_segs; k++) {
        memcpy(packed, params + s->seg[k].offset, s->seg[k].n * sizeof(float));
        packed += s->seg[k].n;
    }
}

void selection_unpack(const Selection *s, const float *packed, float *params) {
    for (int k = 0; k < s->n_segs; k++) {
        memcpy(params + s->seg[k].offset, packed, s->seg[k].n * sizeof(float));
        packed += s->seg[k].n;
    }
}

int64_t selection_packed_offset(const Model *m, const Selection *s, int t) {
    CHECK(t >= 0 && t < m->n_tensors, "tensor %d of %d", t, m->n_tensors);
    if (!s->on[t]) return -1;
    int64_t at = 0;
    for (int u = 0; u < t; u++)
        if (s->on[u]) at += (int64_t)m->tensor[u].n;
    return at;
}

void selection_describe(const Model *m, const Selection *s, char *buf, size_t cap) {
    int k = 0;
    for (int t = 0; t < m->n_tensors; t++)
        k += s->on[t];
    size_t at = (size_t)snprintf(buf, cap, "%zu of %zu floats in %d of %d tensors", s->n,
                                 m->n_params, k, m->n_tensors);
    if (k == m->n_tensors || at >= cap) return;
    at += (size_t)snprintf(buf + at, cap - at, ":");
    for (int t = 0; t < m->n_tensors && at < cap; t++)
        if (s->on[t]) at += (size_t)snprintf(buf + at, cap - at, " %s", m->tensor[t].name);
}

double model_loss_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                           ModelWork *w, const int *labels, const float *weights,
                           int64_t *correct) {
    model_forward(m, params, in, w);
    double loss = model_ce(m, w, in->B, labels, weights, grads ? 1.0 : 0.0, correct);
    if (grads) model_backward(m, params, grads, in, w);
    return loss;
}
