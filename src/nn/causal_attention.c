// causal_attention.c - causal multi-head self-attention with a KV cache (see causal_attention.h).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, D model width, H heads; hd = D/H.
// The full-sequence path is one sgemm per (b, h) for S = Q Kᵀ, dP = dO Vᵀ, O = P V and the three
// gradient products, unlike nn/attention.c's direct loops: those win at T = 16 (its header), but
// at the LM's T = 64, hd = 32 tests/bench/bench_attention (B8 T64 D128 H4, 1 thread, Zen) measured
// causal backward 0.74 ms with sgemm against 1.40 ms direct. Its sgemm forward lost (1.46 against
// 1.09 ms) only to libm's expf, so the softmax here uses the vectorisable exp of nn/attention.c.
// Result (tests/bench/bench_causal_attention, same shape and machine): fwd 0.73 + bwd 0.61 =
// 1.34 ms, against 2.49 ms for attention_forward/backward with causal = 1.
// The generation step is a matrix-vector product per head: plain loops, no BLAS call to amortise.
#include "nn/causal_attention.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/attention.h"
#include "nn/fastexp.h"
#include "tensor/blas.h"

// row[0..n) = softmax(row[0..n)), n >= 1. The exp loop has no reduction, so it vectorises; the sum
// is a separate sequential loop (a fixed order, so the step and the full forward agree bit for
// bit on the probabilities when given equal scores).
// In place. Eight independent partial maxima and sums (fixed-width blocks the compiler turns into
// vector code): a single running sum is a chain of dependent adds, which made this the hottest
// loop of an LM step (16 % of it at T = 120).
#define SM_W 8
static void softmax_row(float *row, int n) {
    float m[SM_W], s[SM_W];
    for (int k = 0; k < SM_W; k++)
        m[k] = row[0], s[k] = 0.0f;
    int i = 0;
    for (; i + SM_W <= n; i += SM_W)
        for (int k = 0; k < SM_W; k++)
            m[k] = row[i + k] > m[k] ? row[i + k] : m[k];
    float mx = row[0];
    for (int k = 0; k < SM_W; k++)
        mx = m[k] > mx ? m[k] : mx;
    for (; i < n; i++)
        mx = row[i] > mx ? row[i] : mx;
    for (i = 0; i + SM_W <= n; i += SM_W)
        for (int k = 0; k < SM_W; k++) {
            float e = exp_nonpos(row[i + k] - mx);
            row[i + k] = e;
            s[k] += e;
        }
    float sum = 0.0f;
    for (; i < n; i++)
        row[i] = exp_nonpos(row[i] - mx), sum += row[i];
    for (int k = 0; k < SM_W; k++)
        sum += s[k];
    const float inv = 1.0f / sum; // sum >= 1: the max term is e^0
    for (i = 0; i < n; i++)
        row[i] *= inv;
}

static void check_args(const char *fn, const float *qkv, int B, int T, int D, int H) {
    CHECK(B >= 0 && T > 0 && D > 0 && H > 0, "%s: bad shape B=%d T=%d D=%d H=%d", fn, B, T, D, H);
    CHECK(D % H == 0, "%s: D=%d is not a multiple of H=%d", fn, D, H);
    CHECK((size_t)3 * D <= INT32_MAX && (size_t)T * T <= INT32_MAX,
          "%s: T=%d D=%d too large for "
          "BLAS int strides",
          fn, T, D);
    CHECK(qkv != NULL, "%s: qkv is NULL", fn);
}

void causal_attention_forward(float *out, float *att, const float *qkv, int B, int T, int D,
                              int H) {
    check_args(__func__, qkv, B, T, D, H);
    CHECK_PTR(out);
    CHECK_PTR(att);
    const int hd = D / H, C3 = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hd, *k = q + D, *v = q + 2 * D;
            float *S = att + ((size_t)b * H + h) * T * T;
            // The whole (T, T) product: computing only the lower triangle would take one sgemm per
            // row block, and at T = 64 the calls would cost more than the half they save.
            sgemm_rm(0, 1, T, T, hd, scale, q, C3, k, C3, 0.0f, S, T);
            for (int t = 0; t < T; t++) {
                float *row = S + (size_t)t * T;
                softmax_row(row, t + 1);
                for (int t2 = t + 1; t2 < T; t2++)
                    row[t2] = 0.0f; // exact zeros: the future adds nothing to O = P V
            }
            sgemm_rm(0, 0, T, hd, T, 1.0f, S, T, v, C3, 0.0f, out + (size_t)b * T * D + h * hd, D);
        }
    NANGUARD(__func__, "out", out, (size_t)B * T * D);
    NANGUARD(__func__, "att", att, (size_t)B * H * T * T);
}

size_t causal_attention_workspace_size(int B, int T, int D, int H) {
    CHECK(B >= 0 && T > 0 && D > 0 && H > 0, "bad shape B=%d T=%d D=%d H=%d", B, T, D, H);
    return (size_t)T * T;
}

void causal_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                               int B, int T, int D, int H, float *work) {
    check_args(__func__, qkv, B, T, D, H);
    CHECK_PTR(dout);
    CHECK_PTR(att);
    if (dqkv == NULL) return;
    CHECK_PTR(work);
    const int hd = D / H, C3 = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const size_t off = (size_t)b * T * C3 + (size_t)h * hd;
            const float *q = qkv + off, *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + off, *dk = dq + D, *dv = dq + 2 * D;
            const float *P = att + ((size_t)b * H + h) * T * T;
            const float *dO = dout + (size_t)b * T * D + (size_t)h * hd;
            sgemm_rm(1, 0, T, hd, T, 1.0f, P, T, dO, D, 1.0f, dv, C3);   // dV += Pᵀ dO
            sgemm_rm(0, 1, T, T, hd, 1.0f, dO, D, v, C3, 0.0f, work, T); // dP = dO Vᵀ
            // dS = P ∘ (dP - rowsum(P ∘ dP)) · scale in place (the softmax Jacobian); entries
            // above the diagonal are zero since P is.
            for (int t = 0; t < T; t++) {
                const float *p = P + (size_t)t * T;
                float *d = work + (size_t)t * T;
                float pdp = 0.0f;
                for (int t2 = 0; t2 <= t; t2++)
                    pdp += p[t2] * d[t2];
                for (int t2 = 0; t2 <= t; t2++)
                    d[t2] = p[t2] * (d[t2] - pdp) * scale;
                for (int t2 = t + 1; t2 < T; t2++)
                    d[t2] = 0.0f;
            }
            sgemm_rm(0, 0, T, hd, T, 1.0f, work, T, k, C3, 1.0f, dq, C3); // dQ += dS K
            sgemm_rm(1, 0, T, hd, T, 1.0f, work, T, q, C3, 1.0f, dk, C3); // dK += dSᵀ Q
        }
    NANGUARD(__func__, "dqkv", dqkv, (size_t)B * T * C3);
}

void causal_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int D,
                                  int H) {
    check_args(__func__, qkv, B, T, D, H);
    // The one naive twin of self-attention (double sums, triple loops): attention.c's, causal.
    attention_forward_ref(out, att, qkv, NULL, 1, B, T, D, H);
}

// ---- KV cache ----

size_t kv_cache_floats(int Bmax, int Tmax, int D, int H) {
    CHECK(Bmax > 0 && Tmax > 0 && D > 0 && H > 0, "kv cache: bad shape Bmax=%d Tmax=%d D=%d H=%d",
          Bmax, Tmax, D, H);
    CHECK(D % H == 0, "kv cache: D=%d is not a multiple of H=%d", D, H);
    return (size_t)Bmax * Tmax * D; // (Bmax, H, Tmax, hd)
}

void kv_cache_init(KvCache *cache, float *k, float *v, int Bmax, int Tmax, int D, int H) {
    CHECK_PTR(cache);
    CHECK_PTR(k);
    CHECK_PTR(v);
    (void)kv_cache_floats(Bmax, Tmax, D, H); // checks the shape
    *cache = (KvCache){.k = k, .v = v, .Bmax = Bmax, .Tmax = Tmax, .D = D, .H = H};
}

size_t causal_attention_step_workspace_size(const KvCache *cache) {
    CHECK_PTR(cache);
    return (size_t)cache->Tmax;
}

void causal_attention_step(float *out, const float *qkv_new, KvCache *cache, int pos, int B, int D,
                           int H, float *work) {
    CHECK_PTR(out);
    CHECK_PTR(qkv_new);
    CHECK_PTR(cache);
    CHECK_PTR(work);
    CHECK(cache->k != NULL && cache->v != NULL, "causal_attention_step: cache is not initialised");
    CHECK(pos >= 0 && pos < cache->Tmax,
          "causal_attention_step: pos=%d is outside the KV cache (Tmax=%d): the cache is full", pos,
          cache->Tmax);
    CHECK(B >= 0 && B <= cache->Bmax, "causal_attention_step: B=%d exceeds the cache's Bmax=%d", B,
          cache->Bmax);
    CHECK(D == cache->D && H == cache->H,
          "causal_attention_step: D=%d H=%d, the cache was made for D=%d H=%d", D, H, cache->D,
          cache->H);
    const int hd = D / H, Tmax = cache->Tmax;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv_new + (size_t)b * 3 * D + (size_t)h * hd;
            const size_t base = ((size_t)b * H + h) * Tmax * hd; // (b, h, 0, 0)
            float *K = cache->k + base, *V = cache->v + base;
            memcpy(K + (size_t)pos * hd, q + D, (size_t)hd * sizeof(float));
            memcpy(V + (size_t)pos * hd, q + 2 * D, (size_t)hd * sizeof(float));
            for (int t2 = 0; t2 <= pos; t2++) {
                const float *kr = K + (size_t)t2 * hd;
                float dot = 0.0f;
                for (int i = 0; i < hd; i++)
                    dot += q[i] * kr[i];
                work[t2] = dot * scale;
            }
            softmax_row(work, pos + 1);
            float *o = out + (size_t)b * D + (size_t)h * hd;
            for (int i = 0; i < hd; i++)
                o[i] = 0.0f;
            for (int t2 = 0; t2 <= pos; t2++) {
                const float p = work[t2], *vr = V + (size_t)t2 * hd;
                for (int i = 0; i < hd; i++)
                    o[i] += p * vr[i];
            }
        }
    NANGUARD(__func__, "out", out, (size_t)B * D);
}
