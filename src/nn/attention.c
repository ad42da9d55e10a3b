// attention.c - multi-head scaled dot-product attention core (see attention.h); the q/k/v and output
// projections are linear layers, not here. Dimension legend (STYLE.md 9.6): B batch, T tokens,
// D model width, H heads; hd = D/H is the head width.
// Direct loops, not one sgemm per (b, h): at the sizes this project trains (T = 16, hd = 32) a
// (T, hd)·(hd, T) product is ~16 kFLOP and per-call BLAS overhead dominates; loops over hd that gcc
// vectorises (and a vectorisable exp) measured faster (tests/bench/bench_attention.c).
#include "nn/attention.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"

#define DOT_LANES 16 // one AVX-512 register of floats

// <a, b> with DOT_LANES explicit partial sums, so that the loop vectorises without reassociation
// (no -ffast-math); the lanes are folded pairwise.
static inline float dot_lanes(const float *a, const float *b, int n) {
    float acc[DOT_LANES] = {0};
    int i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) acc[l] += a[i + l] * b[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += a[i] * b[i];
    for (int w = DOT_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

// y[i] += a · x[i], i < n.
static inline void axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

// e^x for x <= 0 (softmax after max subtraction) in plain arithmetic that gcc vectorises, which
// libm's expf is not. Cephes expf: x = n·ln2 + r, |r| <= ln2/2, e^r by its degree-6 polynomial,
// 2^n through the exponent bits; relative error ~2e-7. Below -87, e^x < 2e-38 is returned as an
// exact 0, so masked scores (-inf) give exactly zero weight; the row's max term is 1, so nothing
// the sum could notice is lost.
static inline float exp_nonpos(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    float n = floorf(xc * 1.44269504088896341f + 0.5f);
    float r = xc - n * 0.693359375f; // ln2 split in two parts: the first is exact in float
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; // n >= -126: a normal power of two
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return x < -87.0f ? 0.0f : y * two_n;
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
            for (int t = 0; t < T; t++) {
                float *arow = att + (((size_t)b * H + h) * T + t) * T;
                float *o = out + ((size_t)b * T + t) * D + (size_t)h * hd;
                const float *q = qb + (size_t)t * C3;
                const int tn = causal ? t + 1 : T; // keys [0, tn) may be seen
                float mx = -INFINITY;
                for (int t2 = 0; t2 < tn; t2++) {
                    float s = -INFINITY;
                    if (visible(key_mask, b, T, t2)) s = dot_lanes(q, kb + (size_t)t2 * C3, hd) * scale;
                    arow[t2] = s;
                    mx = s > mx ? s : mx;
                }
                for (int t2 = tn; t2 < T; t2++) arow[t2] = 0.0f;
                for (int i = 0; i < hd; i++) o[i] = 0.0f;
                if (mx == -INFINITY) { // no visible key: documented zero row and zero output
                    for (int t2 = 0; t2 < tn; t2++) arow[t2] = 0.0f;
                    continue;
                }
                float sum = 0.0f;
                for (int t2 = 0; t2 < tn; t2++) {
                    float e = exp_nonpos(arow[t2] - mx);
                    arow[t2] = e;
                    sum += e;
                }
                const float inv = 1.0f / sum; // sum >= 1: the max term is e^0
                for (int t2 = 0; t2 < tn; t2++) arow[t2] *= inv;
                for (int t2 = 0; t2 < tn; t2++) axpy(o, arow[t2], vb + (size_t)t2 * C3, hd);
            }
        }
    NANGUARD(__func__, "out", out, (size_t)B * T * D);
    NANGUARD(__func__, "att", att, (size_t)B * H * T * T);
}

size_t attention_workspace_size(int B, int T, int D, int H) {
    CHECK(B >= 0 && T > 0 && D > 0 && H > 0, "bad shape B=%d T=%d D=%d H=%d", B, T, D, H);
    return (size_t)T; // one row of dP = dO·Vᵀ
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
    float *dp = work; // (T): dP[t, :] = dO[t] · Vᵀ
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const size_t off = (size_t)b * T * C3 + (size_t)h * hd;
            const float *qb = qkv + off, *kb = qb + D, *vb = qb + 2 * (size_t)D;
            float *dqb = dqkv + off, *dkb = dqb + D, *dvb = dqb + 2 * (size_t)D;
            for (int t = 0; t < T; t++) {
                const float *arow = att + (((size_t)b * H + h) * T + t) * T;
                const float *g = dout + ((size_t)b * T + t) * D + (size_t)h * hd;
                const int tn = causal ? t + 1 : T;
                // dV[t2] += P[t,t2] dO[t]; dP[t,t2] = <dO[t], V[t2]>.
                float pdp = 0.0f; // Σ_t2 P dP, the softmax Jacobian's rank-one term
                for (int t2 = 0; t2 < tn; t2++) {
                    const float p = arow[t2];
                    dp[t2] = dot_lanes(g, vb + (size_t)t2 * C3, hd);
                    pdp += p * dp[t2];
                    axpy(dvb + (size_t)t2 * C3, p, g, hd);
                }
                // dS = P ∘ (dP - Σ P dP) · scale; dQ[t] += dS K; dK[t2] += dS[t2] Q[t].
                const float *q = qb + (size_t)t * C3;
                float *dq = dqb + (size_t)t * C3;
                for (int t2 = 0; t2 < tn; t2++) {
                    const float ds = arow[t2] * (dp[t2] - pdp) * scale;
                    axpy(dq, ds, kb + (size_t)t2 * C3, hd);
                    axpy(dkb + (size_t)t2 * C3, ds, q, hd);
                }
            }
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
                    for (int i = 0; i < hd; i++) s += (double)q[i] * k[i];
                    mx = fmax(mx, s * scale);
                }
                double sum = 0;
                for (int t2 = 0; t2 < T; t2++) {
                    arow[t2] = 0.0f;
                    if ((causal && t2 > t) || !visible(key_mask, b, T, t2)) continue;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + D + (size_t)h * hd;
                    double s = 0;
                    for (int i = 0; i < hd; i++) s += (double)q[i] * k[i];
                    sum += exp(s * scale - mx);
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int t2 = 0; t2 < T; t2++) {
                        if ((causal && t2 > t) || !visible(key_mask, b, T, t2)) continue;
                        const float *k = qkv + ((size_t)b * T + t2) * C3 + D + (size_t)h * hd;
                        const float *v = k + D;
                        double s = 0;
                        for (int j = 0; j < hd; j++) s += (double)q[j] * k[j];
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
