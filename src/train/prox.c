// prox.c - the proximal term toward the global model (prox.h).
#include "train/prox.h"

#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

int prox_mode_parse(const char *name) {
    if (!strcmp(name, "off")) return PROX_OFF;
    if (!strcmp(name, "all")) return PROX_ALL;
    if (!strcmp(name, "adaptive")) return PROX_ADAPTIVE;
    return -1;
}

// Appends [off, off + n); p->run has room for one run per tensor slice.
static void add_run(ProxTerm *p, size_t off, size_t n) {
    if (p->n_runs && p->run[p->n_runs - 1].off + p->run[p->n_runs - 1].n == off) {
        p->run[p->n_runs - 1].n += n; // adjacent: one run
        return;
    }
    p->run[p->n_runs++] = (struct ProxRun){off, n};
}

int prox_build(ProxTerm *p, const Model *m, const Selection *sel, ProxMode mode, double mu,
               double weight, int free_layers, char *err, size_t cap) {
    memset(p, 0, sizeof *p);
    p->coef = (float)(mu * weight);
    if (mode == PROX_OFF) return 0;
    int stacked = 0;
    size_t room = 1;
    for (int t = 0; t < m->n_tensors; t++)
        room += m->tensor[t].layers > 0 ? (size_t)m->tensor[t].layers : 1;
    p->run = xmalloc(room * sizeof *p->run);
    for (int t = 0; t < m->n_tensors; t++) {
        const ModelTensor *mt = &m->tensor[t];
        if (!sel->on[t]) continue;
        if (mode == PROX_ALL) {
            add_run(p, mt->off, mt->n);
            continue;
        }
        if (mt->layers <= 0) continue; // not in a layer: free
        stacked = 1;
        size_t per = mt->n / (size_t)mt->layers;
        for (int l = free_layers; l <= mt->layers - 1 - free_layers; l++)
            add_run(p, mt->off + (size_t)l * per, per);
    }
    if (mode == PROX_ADAPTIVE && !stacked) {
        snprintf(err, cap,
                 "--prox=adaptive: no trainable tensor of this %s model is stacked over language-"
                 "model layers (use --prox=all)",
                 m->ops->kind);
        prox_free(p);
        return -1;
    }
    if (mode == PROX_ADAPTIVE && p->n_runs == 0) {
        snprintf(err, cap, "--prox.free=%d leaves no layer to regularise", free_layers);
        prox_free(p);
        return -1;
    }
    return 0;
}

void prox_free(ProxTerm *p) {
    xfree(p->run);
    memset(p, 0, sizeof *p);
}

void prox_apply(const ProxTerm *p, float *grads, const float *params, const float *global) {
    const float c = p->coef;
    for (int r = 0; r < p->n_runs; r++) {
        size_t o = p->run[r].off, n = p->run[r].n;
        for (size_t i = 0; i < n; i++)
            grads[o + i] += c * (params[o + i] - global[o + i]);
    }
}

double prox_value(const ProxTerm *p, const float *params, const float *global) {
    double s = 0;
    for (int r = 0; r < p->n_runs; r++)
        for (size_t i = p->run[r].off; i < p->run[r].off + p->run[r].n; i++) {
            double d = (double)params[i] - (double)global[i];
            s += d * d;
        }
    return 0.5 * (double)p->coef * s;
}

static void fill_hook(void *ctx, const Model *m, ModelWork *w, ModelInput *in, const int64_t *rows,
                      int B) {
    const ProxHooks *h = ctx;
    h->inner->fill(h->inner->ctx, m, w, in, rows, B);
}

static double extra_hook(void *ctx, const Model *m, const float *params, ModelWork *w,
                         const ModelInput *in, const int64_t *rows, const int *labels, int B) {
    const ProxHooks *h = ctx;
    return h->inner->extra(h->inner->ctx, m, params, w, in, rows, labels, B);
}

static void grad_hook(void *ctx, float *grads, const float *params, const Selection *sel) {
    const ProxHooks *h = ctx;
    if (h->inner && h->inner->grad) h->inner->grad(h->inner->ctx, grads, params, sel);
    prox_apply(h->term, grads, params, h->global);
}

const PartyHooks *prox_hooks(ProxHooks *h, const PartyHooks *inner, const ProxTerm *term,
                             const float *global) {
    *h = (ProxHooks){.inner = inner, .term = term, .global = global};
    h->hooks = (PartyHooks){.ctx = h,
                            .fill = inner && inner->fill ? fill_hook : NULL,
                            .extra = inner && inner->extra ? extra_hook : NULL,
                            .grad = grad_hook};
    return &h->hooks;
}
