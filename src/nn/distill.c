// distill.c - feature KD through a 1x1 channel map and the soft-target CE (see distill.h,
// docs/distill.md). The feature loss is nn/wavelet.h's wavelet_hf_loss with both weights 1 on the
// mapped student features; the map is nn/linear.h's linear layer.
#include "nn/distill.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "core/xalloc.h"
#include "nn/linear.h"

FeatKdOpts feat_kd_opts_default(void) {
    FeatKdOpts o;
    memset(&o, 0, sizeof o);
    snprintf(o.wavelet, sizeof o.wavelet, "%s", "db6");
    o.mode = WAVELET_SYMMETRIC;
    o.J = 3;
    return o;
}

int feat_kd_mode_parse(const char *name, WaveletMode *mode) {
    CHECK_PTR(name);
    CHECK_PTR(mode);
    if (strcmp(name, "symmetric") == 0) {
        *mode = WAVELET_SYMMETRIC;
        return 0;
    }
    if (strcmp(name, "periodization") == 0) {
        *mode = WAVELET_PERIODIZATION;
        return 0;
    }
    return -1;
}

void feat_kd_init(FeatKd *k, const FeatKdOpts *o, int Nmax, int Cs, int Ct) {
    CHECK_PTR(k);
    CHECK_PTR(o);
    CHECK(Nmax >= 1 && Cs >= 1 && Ct >= 1, "feat_kd_init: bad shape Nmax=%d Cs=%d Ct=%d", Nmax, Cs,
          Ct);
    Wavelet w;
    wavelet_init(&w, o->wavelet, o->mode); // CHECKs the name and the mode, naming them
    CHECK(o->J >= 1 && o->J <= WAVELET_MAX_J, "feature KD: J=%d levels outside [1, %d]", o->J,
          WAVELET_MAX_J);
    // Walk the levels here so that the message speaks of the channel axis, before any allocation.
    const char *mode = w.mode == WAVELET_SYMMETRIC ? "symmetric" : "periodization";
    const int need = w.F - 1 > 2 ? w.F - 1 : 2;
    int L = Ct;
    for (int j = 1; j <= o->J; j++) {
        CHECK(w.mode != WAVELET_SYMMETRIC || L >= need,
              "feature KD: J=%d levels of %s (%s) along the channel axis Ct=%d do not fit: level "
              "%d's input has %d channels, needs >= %d",
              o->J, w.name, mode, Ct, j, L, need);
        CHECK(w.mode != WAVELET_PERIODIZATION || (L >= 2 && L % 2 == 0),
              "feature KD: J=%d levels of %s (%s) along the channel axis Ct=%d do not fit: level "
              "%d's input has %d channels, needs an even count >= 2",
              o->J, w.name, mode, Ct, j, L);
        L = wavelet_out_len(&w, L);
    }
    // Sizes are linear in N, so buffers for Nmax serve every N <= Nmax.
    const size_t nwork = wavelet_hf_loss_workspace_size(&w, Nmax, Ct, o->J);
    memset(k, 0, sizeof *k);
    k->w = w;
    k->J = o->J, k->Nmax = Nmax, k->Cs = Cs, k->Ct = Ct;
    k->ys_map = xcalloc((size_t)Nmax * Ct, sizeof(float));
    k->dmap = xcalloc((size_t)Nmax * Ct, sizeof(float));
    k->work = xcalloc(nwork, sizeof(float));
}

void feat_kd_free(FeatKd *k) {
    if (!k) return;
    xfree(k->ys_map);
    xfree(k->dmap);
    xfree(k->work);
    memset(k, 0, sizeof *k);
}

void feat_kd_init_map(float *W, float *b, int Cs, int Ct, Rng *r) {
    CHECK(Cs >= 1 && Ct >= 1, "feat_kd_init_map: bad shape Cs=%d Ct=%d", Cs, Ct);
    CHECK_PTR(W);
    CHECK_PTR(r);
    const float bound = (float)(1.0 / sqrt((double)Cs));
    rng_fill_uniform(r, W, (size_t)Ct * Cs, -bound, bound);
    if (b) rng_fill_uniform(r, b, (size_t)Ct, -bound, bound);
}

static void check_call(const char *fn, const FeatKd *k, const float *ys, const float *yt,
                       const float *W, int N) {
    CHECK_PTR(k);
    CHECK(k->ys_map != NULL, "%s: the FeatKd was not initialised (feat_kd_init)", fn);
    CHECK(N >= 1 && N <= k->Nmax, "%s: N=%d rows outside [1, Nmax=%d]", fn, N, k->Nmax);
    CHECK(ys && yt && W, "%s: NULL buffer (ys=%p yt=%p W=%p)", fn, (const void *)ys,
          (const void *)yt, (const void *)W);
}

double feat_kd_forward(FeatKd *k, const float *ys, const float *yt, const float *W, const float *b,
                       int N) {
    check_call(__func__, k, ys, yt, W, N);
    linear_forward(k->ys_map, ys, W, b, N, k->Cs, k->Ct);
    return wavelet_hf_loss_forward(k->ys_map, yt, &k->w, N, k->Ct, k->J, 1.0, 1.0, k->work);
}

void feat_kd_backward(FeatKd *k, float *dys, float *dW, float *db, const float *ys, const float *yt,
                      const float *W, const float *b, int N, double dloss) {
    check_call(__func__, k, ys, yt, W, N);
    CHECK(isfinite(dloss), "%s: dloss=%g is not finite", __func__, dloss);
    if (!dys && !dW && !db) return;
    linear_forward(k->ys_map, ys, W, b, N, k->Cs, k->Ct);
    const size_t m = (size_t)N * k->Ct;
    memset(k->dmap, 0, sizeof(float) * m);
    wavelet_hf_loss_backward(k->dmap, NULL, k->ys_map, yt, &k->w, N, k->Ct, k->J, 1.0, 1.0, dloss,
                             k->work);
    linear_backward(dys, dW, db, k->dmap, ys, W, N, k->Cs, k->Ct);
}

// ---- soft-target cross-entropy ----

double soft_ce_forward(float *probs, const float *z, const float *q, int N, int V) {
    CHECK(N >= 1 && V >= 1, "soft_ce_forward: bad shape N=%d V=%d", N, V);
    CHECK(probs && z && q, "soft_ce_forward: NULL buffer (probs=%p z=%p q=%p)", (void *)probs,
          (const void *)z, (const void *)q);
    double loss = 0;
    for (int n = 0; n < N; n++) {
        const float *zn = z + (size_t)n * V, *qn = q + (size_t)n * V;
        float *pn = probs + (size_t)n * V;
        double m = -INFINITY, s = 0;
        for (int v = 0; v < V; v++)
            m = fmax(m, (double)zn[v]);
        for (int v = 0; v < V; v++)
            s += exp((double)zn[v] - m);
        // cppcheck-suppress invalidFunctionArg ; s >= 1: the max term contributes exp(0)
        const double lse = m + log(s);
        for (int v = 0; v < V; v++) {
            CHECK(isfinite(qn[v]) && qn[v] >= 0,
                  "soft_ce_forward: target q[%d][%d]=%g must be finite and >= 0", n, v,
                  (double)qn[v]);
            const double logp = (double)zn[v] - lse;
            pn[v] = (float)exp(logp);
            if (qn[v] > 0) loss -= (double)qn[v] * logp; // q = 0 adds nothing, even at p = 0
        }
    }
    NANGUARD(__func__, "probs", probs, (size_t)N * V);
    return loss / N;
}

void soft_ce_backward(float *dz, const float *probs, const float *q, int N, int V, double dloss) {
    CHECK(N >= 1 && V >= 1, "soft_ce_backward: bad shape N=%d V=%d", N, V);
    CHECK(probs && q, "soft_ce_backward: NULL buffer (probs=%p q=%p)", (const void *)probs,
          (const void *)q);
    if (!dz) return;
    const double c = dloss / N;
    for (int n = 0; n < N; n++) {
        const float *pn = probs + (size_t)n * V, *qn = q + (size_t)n * V;
        double sq = 0;
        for (int v = 0; v < V; v++)
            sq += qn[v];
        for (int v = 0; v < V; v++)
            dz[(size_t)n * V + v] += (float)(c * (sq * pn[v] - qn[v]));
    }
    NANGUARD(__func__, "dz", dz, (size_t)N * V);
}
