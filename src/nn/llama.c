// llama.c - RMSNorm, RoPE (rotate-half) and SwiGLU, with their naive twins. See llama.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, H heads, D model width, N rows,
// hd head width, F MLP hidden width.
// Row loops use the vector types of nn/vec.h (VEC_F floats per step, scalar tail; reductions in
// VEC_D double partial sums folded in a fixed order), as nn/norm.c does.
#include "nn/llama.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/fastexp.h"
#include "nn/vec.h"

// ---- RMSNorm ----

static void check_rms(const char *fn, float eps, int N, int D) {
    CHECK(N >= 0 && D >= 1, "%s: bad shape N=%d D=%d", fn, N, D);
    CHECK(eps >= 0.0f, "%s: eps=%g must be >= 0", fn, (double)eps);
}

// Σ x[i]² in double.
static double row_sumsq(const float *x, int D) {
    vdouble acc = {0};
    int i = 0;
    for (; i + VEC_D <= D; i += VEC_D) {
        vdouble v = vec_load_d(x + i);
        acc += v * v;
    }
    double s = vec_fold_d(acc);
    for (; i < D; i++)
        s += (double)x[i] * x[i];
    return s;
}

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, float eps, int N,
                     int D) {
    check_rms(__func__, eps, N, D);
    CHECK_PTR(out);
    CHECK_PTR(rstd);
    CHECK_PTR(inp);
    CHECK_PTR(w);
    CHECK(N == 0 || out != inp, "rmsnorm_forward: out must not alias inp (%p)", (void *)out);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * D;
        float *o = out + (size_t)n * D;
        const float s = (float)(1.0 / sqrt(row_sumsq(x, D) / D + eps));
        int i = 0;
        for (; i + VEC_F <= D; i += VEC_F)
            vec_store(o + i, vec_load(x + i) * s * vec_load(w + i));
        for (; i < D; i++)
            o[i] = x[i] * s * w[i];
        rstd[n] = s;
    }
    NANGUARD(__func__, "out", out, (size_t)N * D);
    NANGUARD(__func__, "rstd", rstd, N);
}

void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int D) {
    check_rms(__func__, 0.0f, N, D);
    CHECK_PTR(dout);
    CHECK_PTR(inp);
    CHECK_PTR(w);
    CHECK_PTR(rstd);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * D, *g = dout + (size_t)n * D;
        const float s = rstd[n];
        int i = 0;
        if (dw) {
            for (i = 0; i + VEC_F <= D; i += VEC_F)
                vec_store(dw + i, vec_load(dw + i) + vec_load(g + i) * (vec_load(x + i) * s));
            for (; i < D; i++)
                dw[i] += g[i] * (x[i] * s);
        }
        if (!dinp) continue;
        // y = x·s·w with s = (mean(x²) + eps)^(-1/2), ds/dx_j = −s³·x_j/D, so
        // dx = s·(g·w) − x · s³ · mean(g·w·x).
        vdouble acc = {0};
        for (i = 0; i + VEC_D <= D; i += VEC_D)
            acc += vec_load_d(g + i) * vec_load_d(w + i) * vec_load_d(x + i);
        double gwx = vec_fold_d(acc);
        for (; i < D; i++)
            gwx += (double)g[i] * w[i] * x[i];
        const float k = (float)((double)s * s * s * gwx / D);
        float *d = dinp + (size_t)n * D;
        for (i = 0; i + VEC_F <= D; i += VEC_F)
            vec_store(d + i, vec_load(d + i) + s * vec_load(g + i) * vec_load(w + i) -
                                 vec_load(x + i) * k);
        for (; i < D; i++)
            d[i] += s * g[i] * w[i] - x[i] * k;
    }
    if (dinp) NANGUARD(__func__, "dinp", dinp, (size_t)N * D);
    if (dw) NANGUARD(__func__, "dw", dw, D);
}

void rmsnorm_forward_ref(float *out, float *rstd, const float *inp, const float *w, float eps,
                         int N, int D) {
    check_rms(__func__, eps, N, D);
    CHECK(out && rstd && inp && w, "rmsnorm_forward_ref: NULL buffer");
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * D;
        double ss = 0;
        for (int i = 0; i < D; i++)
            ss += (double)x[i] * x[i];
        const double s = 1.0 / sqrt(ss / D + eps);
        for (int i = 0; i < D; i++)
            out[(size_t)n * D + i] = (float)(x[i] * s * w[i]);
        rstd[n] = (float)s;
    }
}

void rmsnorm_backward_ref(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int D) {
    check_rms(__func__, 0.0f, N, D);
    CHECK(dout && inp && w && rstd, "rmsnorm_backward_ref: NULL buffer");
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * D, *g = dout + (size_t)n * D;
        const double s = rstd[n];
        double gwx = 0;
        for (int i = 0; i < D; i++)
            gwx += (double)g[i] * w[i] * x[i];
        for (int i = 0; i < D; i++) {
            if (dw) dw[i] += (float)((double)g[i] * x[i] * s);
            if (dinp)
                dinp[(size_t)n * D + i] += (float)(s * g[i] * w[i] - x[i] * s * s * s * gwx / D);
        }
    }
}

// ---- RoPE ----

static void check_rope(const char *fn, int B, int T, int H, int hd) {
    CHECK(B >= 0 && T >= 0 && H >= 1 && hd >= 2 && hd % 2 == 0,
          "%s: bad shape B=%d T=%d H=%d hd=%d (hd must be even)", fn, B, T, H, hd);
}

// θ^(−2i/hd) in double: the angular frequency of pair i.
static double rope_freq(int i, int hd, double theta) { return pow(theta, -2.0 * i / hd); }

void rope_table(float *cos_t, float *sin_t, int pos0, int T, int hd, double theta) {
    CHECK(T >= 0 && pos0 >= 0 && hd >= 2 && hd % 2 == 0,
          "rope_table: bad shape pos0=%d T=%d hd=%d (hd must be even)", pos0, T, hd);
    CHECK(theta > 1.0, "rope_table: theta=%g must be > 1", theta);
    CHECK_PTR(cos_t);
    CHECK_PTR(sin_t);
    const int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            const double a = (double)(pos0 + t) * rope_freq(i, hd, theta);
            cos_t[(size_t)t * half + i] = (float)cos(a);
            sin_t[(size_t)t * half + i] = (float)sin(a);
        }
}

// One head: the pairs (x[i], x[i+half]) rotated by (c[i], sgn·s[i]); writes o (may alias x) or,
// with acc, adds to it. sgn = −1 is the backward's transpose.
static inline void rotate_head(float *o, const float *x, const float *c, const float *s, float sgn,
                               int acc, int half) {
    int i = 0;
    for (; i + VEC_F <= half; i += VEC_F) {
        const vfloat x0 = vec_load(x + i), x1 = vec_load(x + half + i);
        const vfloat cv = vec_load(c + i), sv = vec_load(s + i) * sgn;
        vfloat y0 = x0 * cv - x1 * sv, y1 = x1 * cv + x0 * sv;
        if (acc) y0 += vec_load(o + i), y1 += vec_load(o + half + i);
        vec_store(o + i, y0);
        vec_store(o + half + i, y1);
    }
    for (; i < half; i++) {
        const float x0 = x[i], x1 = x[half + i], cv = c[i], sv = s[i] * sgn;
        const float y0 = x0 * cv - x1 * sv, y1 = x1 * cv + x0 * sv;
        o[i] = acc ? o[i] + y0 : y0;
        o[half + i] = acc ? o[half + i] + y1 : y1;
    }
}

// Every head of every token of (B, T, H, hd), rotated by the table's row of its position t.
static void rotate_all(float *o, const float *x, const float *cos_t, const float *sin_t, float sgn,
                       int acc, int B, int T, int H, int hd) {
    const int half = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
            for (int h = 0; h < H; h++) {
                const size_t off = (((size_t)b * T + t) * H + h) * hd;
                rotate_head(o + off, x + off, c, s, sgn, acc, half);
            }
        }
}

void rope_forward(float *out, const float *inp, const float *cos_t, const float *sin_t, int B,
                  int T, int H, int hd) {
    check_rope(__func__, B, T, H, hd);
    CHECK_PTR(out);
    CHECK_PTR(inp);
    CHECK_PTR(cos_t);
    CHECK_PTR(sin_t);
    rotate_all(out, inp, cos_t, sin_t, 1.0f, 0, B, T, H, hd);
    NANGUARD(__func__, "out", out, (size_t)B * T * H * hd);
}

void rope_backward(float *dinp, const float *dout, const float *cos_t, const float *sin_t, int B,
                   int T, int H, int hd) {
    check_rope(__func__, B, T, H, hd);
    if (!dinp) return;
    CHECK_PTR(dout);
    CHECK_PTR(cos_t);
    CHECK_PTR(sin_t);
    CHECK((size_t)B * T == 0 || dinp != dout, "rope_backward: dinp must not alias dout (%p)",
          (void *)dinp);
    rotate_all(dinp, dout, cos_t, sin_t, -1.0f, 1, B, T, H, hd);
    NANGUARD(__func__, "dinp", dinp, (size_t)B * T * H * hd);
}

// The twins: sgn = +1 forward (written), −1 backward (accumulated).
static void rope_ref(float *o, const float *x, int pos0, double theta, int B, int T, int H, int hd,
                     double sgn, int acc) {
    const int half = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                const size_t off = (((size_t)b * T + t) * H + h) * hd;
                for (int i = 0; i < half; i++) {
                    const double a = sgn * (pos0 + t) * rope_freq(i, hd, theta);
                    const double x0 = x[off + i], x1 = x[off + half + i];
                    const double y0 = x0 * cos(a) - x1 * sin(a), y1 = x1 * cos(a) + x0 * sin(a);
                    o[off + i] = (float)(acc ? o[off + i] + y0 : y0);
                    o[off + half + i] = (float)(acc ? o[off + half + i] + y1 : y1);
                }
            }
}

void rope_forward_ref(float *out, const float *inp, int pos0, double theta, int B, int T, int H,
                      int hd) {
    check_rope(__func__, B, T, H, hd);
    CHECK(out && inp && pos0 >= 0 && theta > 1.0, "rope_forward_ref: bad arguments");
    rope_ref(out, inp, pos0, theta, B, T, H, hd, 1.0, 0);
}

void rope_backward_ref(float *dinp, const float *dout, int pos0, double theta, int B, int T, int H,
                       int hd) {
    check_rope(__func__, B, T, H, hd);
    if (!dinp) return;
    CHECK(dout && dinp != dout && pos0 >= 0 && theta > 1.0, "rope_backward_ref: bad arguments");
    rope_ref(dinp, dout, pos0, theta, B, T, H, hd, -1.0, 1);
}

// ---- SwiGLU ----

static void check_swiglu(const char *fn, int N, int F) {
    CHECK(N >= 0 && F >= 1, "%s: bad shape N=%d F=%d", fn, N, F);
}

void swiglu_forward(float *out, const float *g, const float *u, int N, int F) {
    check_swiglu(__func__, N, F);
    CHECK_PTR(out);
    CHECK_PTR(g);
    CHECK_PTR(u);
    const size_t n = (size_t)N * F;
    size_t i = 0;
    for (; i + VEC_F <= n; i += VEC_F) {
        const vfloat x = vec_load(g + i);
        vec_store(out + i, x / (1.0f + exp_vecv(-x)) * vec_load(u + i));
    }
    for (; i < n; i++) {
        const float x = g[i];
        out[i] = x / (1.0f + exp_vec(-x)) * u[i];
    }
    NANGUARD(__func__, "out", out, n);
}

void swiglu_backward(float *dg, float *du, const float *dout, const float *g, const float *u, int N,
                     int F) {
    check_swiglu(__func__, N, F);
    CHECK_PTR(dout);
    CHECK_PTR(g);
    CHECK_PTR(u);
    const size_t n = (size_t)N * F;
    size_t i = 0;
    if (dg && du) { // both (the LM's backward): one exp per element serves the two
        for (i = 0; i + VEC_F <= n; i += VEC_F) {
            const vfloat x = vec_load(g + i), e = 1.0f + exp_vecv(-x), s = 1.0f / e;
            const vfloat d = vec_load(dout + i);
            vec_store(dg + i, vec_load(dg + i) + d * vec_load(u + i) * s * (1.0f + x * (1.0f - s)));
            vec_store(du + i, vec_load(du + i) + d * (x / e));
        }
        for (; i < n; i++) {
            const float x = g[i], e = 1.0f + exp_vec(-x), s = 1.0f / e;
            dg[i] += dout[i] * u[i] * s * (1.0f + x * (1.0f - s));
            du[i] += dout[i] * (x / e);
        }
        NANGUARD(__func__, "dg", dg, n);
        NANGUARD(__func__, "du", du, n);
        return;
    }
    if (dg) {
        for (i = 0; i + VEC_F <= n; i += VEC_F) {
            const vfloat x = vec_load(g + i), s = 1.0f / (1.0f + exp_vecv(-x));
            vec_store(dg + i, vec_load(dg + i) + vec_load(dout + i) * vec_load(u + i) * s *
                                                     (1.0f + x * (1.0f - s)));
        }
        for (; i < n; i++) {
            const float x = g[i], s = 1.0f / (1.0f + exp_vec(-x));
            dg[i] += dout[i] * u[i] * s * (1.0f + x * (1.0f - s));
        }
        NANGUARD(__func__, "dg", dg, n);
    }
    if (du) {
        for (i = 0; i + VEC_F <= n; i += VEC_F) {
            const vfloat x = vec_load(g + i);
            vec_store(du + i, vec_load(du + i) + vec_load(dout + i) * (x / (1.0f + exp_vecv(-x))));
        }
        for (; i < n; i++) {
            const float x = g[i];
            du[i] += dout[i] * (x / (1.0f + exp_vec(-x)));
        }
        NANGUARD(__func__, "du", du, n);
    }
}

void swiglu_forward_ref(float *out, const float *g, const float *u, int N, int F) {
    check_swiglu(__func__, N, F);
    CHECK(out && g && u, "swiglu_forward_ref: NULL buffer");
    for (size_t i = 0; i < (size_t)N * F; i++)
        out[i] = (float)((double)g[i] / (1.0 + exp(-(double)g[i])) * u[i]);
}

void swiglu_backward_ref(float *dg, float *du, const float *dout, const float *g, const float *u,
                         int N, int F) {
    check_swiglu(__func__, N, F);
    CHECK(dout && g && u, "swiglu_backward_ref: NULL buffer");
    for (size_t i = 0; i < (size_t)N * F; i++) {
        const double x = g[i], s = 1.0 / (1.0 + exp(-x));
        if (dg) dg[i] += (float)(dout[i] * u[i] * s * (1.0 + x * (1.0 - s)));
        if (du) du[i] += (float)(dout[i] * x * s);
    }
}
