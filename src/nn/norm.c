// norm.c - LayerNorm over the last dimension (see norm.h). Not RMSNorm.
// Dimension legend (docs/conventions.md §6): N rows, C features.
// Row loops use the vector types of nn/vec.h: VEC_F floats per step with a scalar tail, and
// reductions in VEC_D double partial sums folded in a fixed order.
#include "nn/norm.h"

#include <math.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/vec.h"

#define LN_EPS 1e-5 // PyTorch's default

// Σ x[i] in double.
static double row_sum(const float *x, int C) {
    vdouble acc = {0};
    int i = 0;
    for (; i + VEC_D <= C; i += VEC_D)
        acc += vec_load_d(x + i);
    double s = vec_fold_d(acc);
    for (; i < C; i++)
        s += (double)x[i];
    return s;
}

// Σ (x[i] - m)² in double (two-pass variance: no cancellation).
static double row_sumsq(const float *x, double m, int C) {
    vdouble acc = {0};
    int i = 0;
    for (; i + VEC_D <= C; i += VEC_D) {
        vdouble d = vec_load_d(x + i) - m;
        acc += d * d;
    }
    double s = vec_fold_d(acc);
    for (; i < C; i++)
        s += ((double)x[i] - m) * ((double)x[i] - m);
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
        double m = row_sum(x, C) / C;
        double var = row_sumsq(x, m, C) / C; // biased, as PyTorch's forward
        float s = (float)(1.0 / sqrt(var + LN_EPS));
        float mf = (float)m;
        int i = 0;
        for (; i + VEC_F <= C; i += VEC_F)
            vec_store(o + i, (vec_load(x + i) - mf) * s * vec_load(w + i) + vec_load(b + i));
        for (; i < C; i++)
            o[i] = (x[i] - mf) * s * w[i] + b[i];
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
        int i = 0;
        if (dw) {
            for (i = 0; i + VEC_F <= C; i += VEC_F)
                vec_store(dw + i, vec_load(dw + i) + vec_load(g + i) * ((vec_load(x + i) - m) * s));
            for (; i < C; i++)
                dw[i] += g[i] * ((x[i] - m) * s);
        }
        if (db) {
            for (i = 0; i + VEC_F <= C; i += VEC_F)
                vec_store(db + i, vec_load(db + i) + vec_load(g + i));
            for (; i < C; i++)
                db[i] += g[i];
        }
        if (!dinp) continue;
        // dinp = s · (dnorm - mean(dnorm) - norm · mean(dnorm · norm)), dnorm = dout · w.
        vdouble a1 = {0}, a2 = {0};
        for (i = 0; i + VEC_D <= C; i += VEC_D) {
            vdouble dn = vec_load_d(g + i) * vec_load_d(w + i), nv = (vec_load_d(x + i) - m) * s;
            a1 += dn, a2 += dn * nv;
        }
        double s1 = vec_fold_d(a1), s2 = vec_fold_d(a2);
        for (; i < C; i++) {
            double dn = (double)g[i] * w[i], nv = ((double)x[i] - m) * s;
            s1 += dn, s2 += dn * nv;
        }
        const float mdn = (float)(s1 / C), mdnn = (float)(s2 / C);
        float *d = dinp + (size_t)n * C;
        for (i = 0; i + VEC_F <= C; i += VEC_F) {
            vfloat nv = (vec_load(x + i) - m) * s;
            vec_store(d + i,
                      vec_load(d + i) + s * (vec_load(g + i) * vec_load(w + i) - mdn - nv * mdnn));
        }
        for (; i < C; i++)
            d[i] += s * (g[i] * w[i] - mdn - (x[i] - m) * s * mdnn);
    }
    if (dinp) NANGUARD(__func__, "dinp", dinp, (size_t)N * C);
    if (dw) NANGUARD(__func__, "dw", dw, C);
    if (db) NANGUARD(__func__, "db", db, C);
}
