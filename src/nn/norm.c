// norm.c - LayerNorm over the last dimension (see norm.h). Not RMSNorm.
// Dimension legend (STYLE.md 9.6): N rows, C features.
// Row reductions keep 8 explicit double partial sums: without -ffast-math gcc never reorders a
// float reduction, but an explicit lane array is a plain elementwise loop it vectorises, and the
// summation order stays fixed (so results do not depend on the compiler's choices).
#include "nn/norm.h"

#include <math.h>

#include "core/die.h"
#include "core/nanguard.h"

#define LN_EPS 1e-5 // PyTorch's default
#define LANES 8

// Σ x[i] in double, lane-wise.
static double sum_lanes(const float *x, int C) {
    double acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= C; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += (double)x[i + l];
    for (int l = 0; i < C; i++, l++) acc[l] += (double)x[i];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

// Σ (x[i] - m)² in double, lane-wise (two-pass variance: no cancellation).
static double sumsq_lanes(const float *x, double m, int C) {
    double acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= C; i += LANES)
        for (int l = 0; l < LANES; l++) {
            double d = (double)x[i + l] - m;
            acc[l] += d * d;
        }
    for (int l = 0; i < C; i++, l++) {
        double d = (double)x[i] - m;
        acc[l] += d * d;
    }
    double s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C) {
    CHECK(N >= 0 && C > 0, "bad shape N=%d C=%d", N, C);
    CHECK_PTR(out);
    CHECK_PTR(mean);
    CHECK_PTR(rstd);
    CHECK_PTR(inp);
    CHECK_PTR(w);
    CHECK_PTR(b);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double m = sum_lanes(x, C) / C;
        double var = sumsq_lanes(x, m, C) / C; // biased, as PyTorch's forward
        float s = (float)(1.0 / sqrt(var + LN_EPS));
        float mf = (float)m;
        for (int i = 0; i < C; i++) o[i] = (x[i] - mf) * s * w[i] + b[i];
        mean[n] = mf;
        rstd[n] = s;
    }
    NANGUARD(__func__, "out", out, (size_t)N * C);
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C) {
    CHECK(N >= 0 && C > 0, "bad shape N=%d C=%d", N, C);
    CHECK_PTR(dout);
    CHECK_PTR(inp);
    CHECK_PTR(w);
    CHECK_PTR(mean);
    CHECK_PTR(rstd);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        if (dw)
            for (int i = 0; i < C; i++) dw[i] += g[i] * (x[i] - m) * s;
        if (db)
            for (int i = 0; i < C; i++) db[i] += g[i];
        if (!dinp) continue;
        // dinp = s · (dnorm - mean(dnorm) - norm · mean(dnorm · norm)), dnorm = dout · w.
        double a1[LANES] = {0}, a2[LANES] = {0};
        int i = 0;
        for (; i + LANES <= C; i += LANES)
            for (int l = 0; l < LANES; l++) {
                float dn = g[i + l] * w[i + l], nv = (x[i + l] - m) * s;
                a1[l] += (double)dn;
                a2[l] += (double)(dn * nv);
            }
        for (int l = 0; i < C; i++, l++) {
            float dn = g[i] * w[i], nv = (x[i] - m) * s;
            a1[l] += (double)dn;
            a2[l] += (double)(dn * nv);
        }
        double s1 = 0, s2 = 0;
        for (int l = 0; l < LANES; l++) s1 += a1[l], s2 += a2[l];
        float mdn = (float)(s1 / C), mdnn = (float)(s2 / C);
        float *d = dinp + (size_t)n * C;
        for (int j = 0; j < C; j++) {
            float nv = (x[j] - m) * s;
            d[j] += s * (g[j] * w[j] - mdn - nv * mdnn);
        }
    }
    if (dinp) NANGUARD(__func__, "dinp", dinp, (size_t)N * C);
    if (dw) NANGUARD(__func__, "dw", dw, C);
    if (db) NANGUARD(__func__, "db", db, C);
}
