// attention.c - multi-head scaled dot-product attention core (see attention.h); the q/k/v and
// output projections are linear layers, not here. Dimension legend (docs/conventions.md §6): B
// batch, T tokens, D model width, H heads; hd = D/H is the head width. Direct kernels, not one
// sgemm per (b, h): at the sizes this project trains (T = 16, hd = 32) a (T, hd)·(hd, T) product is
// ~16 kFLOP and per-call BLAS overhead (packing, dispatch) dominates. Register-blocked loops and a
// vectorisable exp measured 0.64 ms fwd+bwd against 0.95 ms for the sgemm variant at B64 T16 D128
// H4, 1 thread (tests/bench/bench_attention.c keeps that variant).
#include "nn/attention.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/fastexp.h"
#include "nn/scores.h"
#include "nn/vec.h"

// The kernels use the vector types of nn/vec.h (LANES floats per vector); restrict lets the
// loops load before they store.

// Y (R, n) (=, or += when acc) Σ_j C(r, j) · X (j, n), with C(r, j) = Cm[r·crs + j·cjs] (so C or
// Cᵀ of a stored matrix), X row stride ldx, Y row stride ldy. Each output row is built in
// registers, two vectors at a time for latency.
static void rows_combine(float *restrict Y, size_t ldy, const float *restrict Cm, size_t crs,
                         size_t cjs, const float *restrict X, size_t ldx, int R, int J, int n,
                         int acc) {
    for (int r = 0; r < R; r++) {
        float *y = Y + (size_t)r * ldy;
        const float *c = Cm + (size_t)r * crs;
        int i = 0;
        for (; i + 2 * LANES <= n; i += 2 * LANES) {
            vfloat u = {0}, w = {0};
            if (acc) u = vec_load(y + i), w = vec_load(y + i + LANES);
            for (int j = 0; j < J; j++) {
                const float cj = c[(size_t)j * cjs];
                const float *x = X + (size_t)j * ldx + i;
                u += cj * vec_load(x), w += cj * vec_load(x + LANES);
            }
            vec_store(y + i, u), vec_store(y + i + LANES, w);
        }
        for (; i + LANES <= n; i += LANES) {
            vfloat u = acc ? vec_load(y + i) : (vfloat){0};
            for (int j = 0; j < J; j++)
                u += c[(size_t)j * cjs] * vec_load(X + (size_t)j * ldx + i);
            vec_store(y + i, u);
        }
        for (; i < n; i++) {
            float u = acc ? y[i] : 0.0f;
            for (int j = 0; j < J; j++)
                u += c[(size_t)j * cjs] * X[(size_t)j * ldx + i];
            y[i] = u;
        }
    }
}

// row[i] = e^(row[i] - mx) for i < n, returns Σ row; -inf entries become exact zeros. Full blocks
// go straight through vectors; a partial block is padded with -inf (exact zeros, not summed).
static inline float exp_row(float *row, float mx, int n) {
    float acc[LANES] = {0};
    for (int i = 0; i < n; i += LANES) {
        float buf[LANES];
        const int m = n - i < LANES ? n - i : LANES;
        if (m == LANES) {
            vec_store(buf, vec_load(row + i));
        } else {
            for (int l = 0; l < LANES; l++)
                buf[l] = -INFINITY;
            for (int l = 0; l < m; l++)
                buf[l] = row[i + l];
        }
        for (int l = 0; l < LANES; l++)
            buf[l] = exp_nonpos(buf[l] - mx);
        for (int l = 0; l < LANES; l++)
            acc[l] += buf[l];
        if (m == LANES)
            vec_store(row + i, vec_load(buf));
        else
            for (int l = 0; l < m; l++)
                row[i + l] = buf[l];
    }
    for (int w = LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

// row[i] *= a, i < n.
static inline void scale_row(float *row, float a, int n) {
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        vec_store(row + i, vec_load(row + i) * a);
    for (; i < n; i++)
        row[i] *= a;
}

static void check_args(const char *fn, const float *qkv, int B, int T, int D, int H) {
    CHECK(B >= 0 && T > 0 && D > 0 && H > 0, "%s: bad shape B=%d T=%d D=%d H=%d", fn, B, T, D, H);
    CHECK(D % H == 0, "%s: D=%d is not a multiple of H=%d", fn, D, H);
    CHECK(qkv != NULL, "%s: qkv is NULL", fn);
}

static inline int visible(const uint8_t *key_mask, int b, int T, int t2) {
    return key_mask == NULL || key_mask[(size_t)b * T + t2] != 0;
}

void attention_forward(float *out, float *att, const float *qkv, const uint8_t *key_mask,
                       int causal, int B, int T, int D, int H) {
    check_args(__func__, qkv, B, T, D, H);
    CHECK_PTR(out);
    CHECK_PTR(att);
    const int hd = D / H;
    const size_t C3 = (size_t)3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *qb = qkv + (size_t)b * T * C3 + (size_t)h * hd;
            const float *kb = qb + D, *vb = qb + 2 * (size_t)D;
            float *S = att + ((size_t)b * H + h) * T * T;
            scores_tiled(S, qb, C3, kb, C3, T, hd, scale, 0);
            for (int t = 0; t < T; t++) {
                float *arow = S + (size_t)t * T;
                const int tn = causal ? t + 1 : T; // keys [0, tn) may be seen
                float mx = -INFINITY;
                for (int t2 = 0; t2 < tn; t2++) {
                    if (!visible(key_mask, b, T, t2)) arow[t2] = -INFINITY;
                    mx = arow[t2] > mx ? arow[t2] : mx;
                }
                for (int t2 = tn; t2 < T; t2++)
                    arow[t2] = 0.0f;
                if (mx == -INFINITY) { // no visible key: documented zero row and zero output
                    for (int t2 = 0; t2 < tn; t2++)
                        arow[t2] = 0.0f;
                    continue;
                }
                const float sum = exp_row(arow, mx, tn);
                const float inv = 1.0f / sum; // sum >= 1: the max term is e^0
                scale_row(arow, inv, tn);
            }
            // O = P V (zero rows of P give the documented zero outputs).
            rows_combine(out + (size_t)b * T * D + (size_t)h * hd, D, S, T, 1, vb, C3, T, T, hd, 0);
        }
    NANGUARD(__func__, "out", out, (size_t)B * T * D);
    NANGUARD(__func__, "att", att, (size_t)B * H * T * T);
}

size_t attention_workspace_size(int B, int T, int D, int H) {
    CHECK(B >= 0 && T > 0 && D > 0 && H > 0, "bad shape B=%d T=%d D=%d H=%d", B, T, D, H);
    return (size_t)T * T; // dP = dO·Vᵀ of one (b, h)
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                        const uint8_t *key_mask, int causal, int B, int T, int D, int H,
                        float *work) {
    check_args(__func__, qkv, B, T, D, H);
    CHECK_PTR(dout);
    CHECK_PTR(att);
    if (dqkv == NULL) return;
    CHECK_PTR(work);
    // The mask is already in att (masked and non-causal entries are exact zeros), so key_mask is
    // not read again: a zero probability contributes nothing to any gradient below.
    (void)key_mask;
    const int hd = D / H;
    const size_t C3 = (size_t)3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const size_t off = (size_t)b * T * C3 + (size_t)h * hd;
            const float *qb = qkv + off, *kb = qb + D, *vb = qb + 2 * (size_t)D;
            float *dqb = dqkv + off, *dkb = dqb + D, *dvb = dqb + 2 * (size_t)D;
            const float *P = att + ((size_t)b * H + h) * T * T;
            const float *gb = dout + (size_t)b * T * D + (size_t)h * hd;
            scores_tiled(work, gb, D, vb, C3, T, hd, 1.0f, 0); // dP (T, T) = dO Vᵀ
            // dS = P ∘ (dP - rowsum(P ∘ dP)) · scale, in place of dP (the softmax Jacobian).
            for (int t = 0; t < T; t++) {
                const float *p = P + (size_t)t * T;
                float *d = work + (size_t)t * T;
                const int tn = causal ? t + 1 : T;
                float pdp = 0.0f;
                for (int t2 = 0; t2 < tn; t2++)
                    pdp += p[t2] * d[t2];
                for (int t2 = 0; t2 < T; t2++)
                    d[t2] = t2 < tn ? p[t2] * (d[t2] - pdp) * scale : 0.0f;
            }
            rows_combine(dqb, C3, work, T, 1, kb, C3, T, T, hd, 1); // dQ += dS K
            rows_combine(dkb, C3, work, 1, T, qb, C3, T, T, hd, 1); // dK += dSᵀ Q
            rows_combine(dvb, C3, P, 1, T, gb, D, T, T, hd, 1);     // dV += Pᵀ dO
        }
    NANGUARD(__func__, "dqkv", dqkv, (size_t)B * T * C3);
}

void attention_forward_ref(float *out, float *att, const float *qkv, const uint8_t *key_mask,
                           int causal, int B, int T, int D, int H) {
    check_args(__func__, qkv, B, T, D, H);
    CHECK_PTR(out);
    CHECK_PTR(att);
    const int hd = D / H;
    const size_t C3 = (size_t)3 * D;
    const double scale = 1.0 / sqrt((double)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + (size_t)h * hd;
                float *arow = att + (((size_t)b * H + h) * T + t) * T;
                double mx = -INFINITY;
                for (int t2 = 0; t2 < T; t2++) {
                    if ((causal && t2 > t) || !visible(key_mask, b, T, t2)) continue;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + D + (size_t)h * hd;
                    double s = 0;
                    for (int i = 0; i < hd; i++)
                        s += (double)q[i] * k[i];
                    mx = fmax(mx, s * scale);
                }
                double sum = 0;
                for (int t2 = 0; t2 < T; t2++) {
                    arow[t2] = 0.0f;
                    if ((causal && t2 > t) || !visible(key_mask, b, T, t2)) continue;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + D + (size_t)h * hd;
                    double s = 0;
                    for (int i = 0; i < hd; i++)
                        s += (double)q[i] * k[i];
                    sum += exp(s * scale - mx);
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int t2 = 0; t2 < T; t2++) {
                        if ((causal && t2 > t) || !visible(key_mask, b, T, t2)) continue;
                        const float *k = qkv + ((size_t)b * T + t2) * C3 + D + (size_t)h * hd;
                        const float *v = k + D;
                        double s = 0;
                        for (int j = 0; j < hd; j++)
                            s += (double)q[j] * k[j];
                        double p = exp(s * scale - mx) / sum;
                        if (i == 0) arow[t2] = (float)p;
                        acc += p * v[i];
                    }
                    out[((size_t)b * T + t) * D + (size_t)h * hd + i] = (float)acc;
                }
            }
    NANGUARD(__func__, "out", out, (size_t)B * T * D);
    NANGUARD(__func__, "att", att, (size_t)B * H * T * T);
}
