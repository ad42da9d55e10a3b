// causal_attention.c - causal multi-head self-attention with a KV cache (see causal_attention.h).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, D model width, H heads; hd = D/H.
// The full-sequence path computes only the lower triangle with direct kernels per (b, h):
// scores_tiled for S = Q Kᵀ and dP = dO Vᵀ, tri_combine for O = P V, dV = Pᵀ dO, dQ = dS K and dK =
// dSᵀ Q. It was one sgemm per (b, h) and product (the whole T × T square). At the FedMLLM base
// model's hd = 12 those calls were mostly overhead (packing, C's zeroing), and attention took ~30 %
// of an LM step. tests/bench/bench_causal_attention (1 thread, Zen 3, CPU time, fwd + bwd; the
// softmax vectorised too): B4 T90 D48 H4 1.03 → 0.51 ms, B8 T64 D128 H4 1.61 → 1.17 ms
// (tests/bench/RESULTS.md, issue 17).
// The generation step is a matrix-vector product per head: plain loops, no BLAS call to amortise.
#include "nn/causal_attention.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/attention.h"
#include "nn/fastexp.h"
#include "nn/scores.h"
#include "nn/vec.h"

// row[0..n) = softmax(row[0..n)), n >= 1, in place. Eight independent partial maxima and sums
// (lane k takes the elements i ≡ k mod 8; the last partial block is padded with -inf, whose exp is
// an exact 0), folded in lane order: a fixed order, so the step and the full forward agree bit for
// bit on the probabilities when given equal scores, on every target. A single running sum is a
// chain of dependent adds, which made this the hottest loop of an LM step (16 % of it at T = 120);
// the blocks are explicit 8-float vectors because GCC 12 leaves the scalar exp's clamps (and the
// max's select) as branches on an AVX2 build, and the tail is a vector too: rows are short (the
// causal row t has t + 1 entries), so a scalar tail of up to 7 exps cost as much as the rest.
#define SM_W 8
static void softmax_row(float *row, int n) {
    const vfloat8 ninf = (vfloat8){0} - INFINITY;
    vfloat8 m = ninf, s = {0};
    int i = 0;
    for (; i + SM_W <= n; i += SM_W) {
        vfloat8 x;
        memcpy(&x, row + i, sizeof x);
        m = vsel8(x > m, x, m);
    }
    const int rest = n - i;
    vfloat8 tail = ninf;
    for (int l = 0; l < SM_W; l++)
        if (l < rest) tail[l] = row[i + l];
    m = vsel8(tail > m, tail, m);
    float mx = m[0];
    for (int k = 1; k < SM_W; k++)
        mx = m[k] > mx ? m[k] : mx;
    for (i = 0; i + SM_W <= n; i += SM_W) {
        vfloat8 x;
        memcpy(&x, row + i, sizeof x);
        const vfloat8 e = exp_nonpos8(x - mx);
        memcpy(row + i, &e, sizeof e);
        s += e;
    }
    if (rest > 0) {
        const vfloat8 e = exp_nonpos8(tail - mx); // padding lanes: exactly 0
        for (int l = 0; l < rest; l++)
            row[i + l] = e[l];
        s += e;
    }
    float sum = 0.0f;
    for (int k = 0; k < SM_W; k++)
        sum += s[k];
    const float inv = 1.0f / sum; // sum >= 1: the max term is e^0
    for (i = 0; i < n; i++)
        row[i] *= inv;
}

// ---- direct kernels for the causal triangle ----
// At the LM's small heads (hd 12 in the FedMLLM base model) one sgemm per (b, h) and product was
// mostly call overhead, packing and C's zeroing (attention was ~30 % of an LM step); these compute
// only the lower triangle, with vectors of LANES keys or head columns and four rows at a time for
// latency, and no copies.

// Columns [c0, c0 + w) of rows r0..r0+R-1 of Y (=, or += when acc) Σ_{j in [j0, j1)} C(r, j) · X_j
// with C(r, j) = Cm[r·crs + j·cjs], w = LANES, LANES/2 or 1 (the vector type V), R = 4 or 1.
#define TRI_COMBINE_CHUNK(V, W, LOAD, STORE)                                                       \
    do {                                                                                           \
        V u0 = {0}, u1 = {0}, u2 = {0}, u3 = {0};                                                  \
        float *y = Y + (size_t)r0 * ldy + c0;                                                      \
        const float *cr = Cm + (size_t)r0 * crs;                                                   \
        if (R == 4) {                                                                              \
            for (int j = j0; j < j1; j++) {                                                        \
                const V x = LOAD(X + (size_t)j * ldx + c0);                                        \
                const float *cj = cr + (size_t)j * cjs;                                            \
                u0 += cj[0] * x, u1 += cj[crs] * x, u2 += cj[2 * crs] * x, u3 += cj[3 * crs] * x;  \
            }                                                                                      \
            if (acc) {                                                                             \
                u0 += LOAD(y), u1 += LOAD(y + ldy), u2 += LOAD(y + 2 * ldy);                       \
                u3 += LOAD(y + 3 * ldy);                                                           \
            }                                                                                      \
            STORE(y, u0), STORE(y + ldy, u1), STORE(y + 2 * ldy, u2), STORE(y + 3 * ldy, u3);      \
        } else {                                                                                   \
            for (int j = j0; j < j1; j++)                                                          \
                u0 += cr[(size_t)j * cjs] * LOAD(X + (size_t)j * ldx + c0);                        \
            if (acc) u0 += LOAD(y);                                                                \
            STORE(y, u0);                                                                          \
        }                                                                                          \
        c0 += W;                                                                                   \
    } while (0)

static inline vfloat_half load_half(const float *p) {
    vfloat_half v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store_half(float *p, vfloat_half v) { memcpy(p, &v, sizeof v); }
static inline float load_1(const float *p) { return *p; }
static inline void store_1(float *p, float v) { *p = v; }

// Rows r0..r0+R-1 (R = 4 or 1) of Y, two full vectors of columns at once: u at column oa and w at
// column ob; only lanes from sa of u and from sb of w are stored (the others overlap columns
// stored already, or by the other vector). One pass over j for both, so each C(r, j) broadcast
// serves 2·LANES columns.
static void combine_pair(float *restrict Y, size_t ldy, const float *restrict Cm, size_t crs,
                         size_t cjs, const float *restrict X, size_t ldx, int r0, int R, int j0,
                         int j1, int acc, int oa, int sa, int ob, int sb) {
    // Named accumulators: GCC 12 keeps a local array of vectors in memory.
    vfloat u0 = {0}, u1 = {0}, u2 = {0}, u3 = {0}, w0 = {0}, w1 = {0}, w2 = {0}, w3 = {0};
    const float *cr = Cm + (size_t)r0 * crs;
    if (R == 4) {
        for (int j = j0; j < j1; j++) {
            const float *xj = X + (size_t)j * ldx, *cj = cr + (size_t)j * cjs;
            const vfloat xa = vec_load(xj + oa), xb = vec_load(xj + ob);
            const float c0 = cj[0], c1 = cj[crs], c2 = cj[2 * crs], c3 = cj[3 * crs];
            u0 += c0 * xa, w0 += c0 * xb, u1 += c1 * xa, w1 += c1 * xb;
            u2 += c2 * xa, w2 += c2 * xb, u3 += c3 * xa, w3 += c3 * xb;
        }
    } else {
        for (int j = j0; j < j1; j++) {
            const float *xj = X + (size_t)j * ldx;
            const float c = cr[(size_t)j * cjs];
            u0 += c * vec_load(xj + oa), w0 += c * vec_load(xj + ob);
        }
    }
    const vfloat us[4] = {u0, u1, u2, u3}, ws[4] = {w0, w1, w2, w3};
    for (int q = 0; q < R; q++) {
        float *y = Y + (size_t)(r0 + q) * ldy;
        if (sa == 0)
            vec_store(y + oa, acc ? vec_load(y + oa) + us[q] : us[q]);
        else
            for (int l = sa; l < LANES; l++)
                y[oa + l] = acc ? y[oa + l] + us[q][l] : us[q][l];
        for (int l = sb; l < LANES; l++)
            y[ob + l] = acc ? y[ob + l] + ws[q][l] : ws[q][l];
    }
}

// Y (T, n) (=, or += when acc) C·X over the triangle: lower = 1: Y_r = Σ_{j <= r} C(r, j) X_j;
// lower = 0: Y_r = Σ_{j >= r} C(r, j) X_j; C(r, j) = Cm[r·crs + j·cjs] (so a stored matrix or
// its transpose), X (T, n) row stride ldx, Y row stride ldy. Rows go four at a time, the j range
// the union of theirs: C must hold zeros across the diagonal (P and dS do), and it is read only
// inside the block rows' span (j < r0 + 4, or j >= r0). Columns go two vectors per pass; a last
// partial vector overlaps the one before it (loads stay inside X's rows, only new columns are
// stored); heads narrower than a vector take the LANES/2 and scalar chunks.
static void tri_combine(float *restrict Y, size_t ldy, const float *restrict Cm, size_t crs,
                        size_t cjs, const float *restrict X, size_t ldx, int T, int n, int acc,
                        int lower) {
    for (int r0 = 0; r0 < T;) {
        const int R = T - r0 >= 4 ? 4 : 1;
        const int j0 = lower ? 0 : r0, j1 = lower ? r0 + R : T;
        int c0 = 0;
        if (n >= LANES) {
            for (; c0 + 2 * LANES <= n; c0 += 2 * LANES)
                combine_pair(Y, ldy, Cm, crs, cjs, X, ldx, r0, R, j0, j1, acc, c0, 0, c0 + LANES,
                             0);
            if (n - c0 > LANES) // a full vector and a partial one: the partial one overlaps
                combine_pair(Y, ldy, Cm, crs, cjs, X, ldx, r0, R, j0, j1, acc, c0, 0, n - LANES,
                             c0 + LANES - (n - LANES));
            else if (n - c0 > 0) // the last n - c0 <= LANES columns: one vector ending at n
                combine_pair(Y, ldy, Cm, crs, cjs, X, ldx, r0, R, j0, j1, acc, n - LANES,
                             c0 - (n - LANES), n - LANES, LANES);
            c0 = n;
        }
        if (c0 + LANES / 2 <= n) TRI_COMBINE_CHUNK(vfloat_half, LANES / 2, load_half, store_half);
        while (c0 < n)
            TRI_COMBINE_CHUNK(float, 1, load_1, store_1);
        r0 += R;
    }
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
            scores_tiled(S, q, C3, k, C3, T, hd, scale, 1);
            for (int t = 0; t < T; t++) {
                float *row = S + (size_t)t * T;
                softmax_row(row, t + 1);
                for (int t2 = t + 1; t2 < T; t2++)
                    row[t2] = 0.0f; // exact zeros: the future adds nothing to O = P V
            }
            tri_combine(out + (size_t)b * T * D + h * hd, D, S, T, 1, v, C3, T, hd, 0, 1);
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
            tri_combine(dv, C3, P, 1, T, dO, D, T, hd, 1, 0); // dV += Pᵀ dO
            scores_tiled(work, dO, D, v, C3, T, hd, 1.0f, 1); // dP = dO Vᵀ (lower triangle)
            // dS = P ∘ (dP - rowsum(P ∘ dP)) · scale in place (the softmax Jacobian); entries
            // above the diagonal are zero since P is.
            for (int t = 0; t < T; t++) {
                const float *p = P + (size_t)t * T;
                float *d = work + (size_t)t * T;
                // rowsum(P ∘ dP) over 8 lanes of full blocks, then the tail in order (only
                // entries t2 <= t are read: the rest of work may hold anything)
                vfloat8 acc8 = {0};
                int t2 = 0;
                for (; t2 + SM_W <= t + 1; t2 += SM_W) {
                    vfloat8 pp, dd;
                    memcpy(&pp, p + t2, sizeof pp), memcpy(&dd, d + t2, sizeof dd);
                    acc8 += pp * dd;
                }
                float pdp = 0.0f;
                for (int l = 0; l < SM_W; l++)
                    pdp += acc8[l];
                for (; t2 <= t; t2++)
                    pdp += p[t2] * d[t2];
                for (t2 = 0; t2 <= t; t2++)
                    d[t2] = p[t2] * (d[t2] - pdp) * scale;
                for (t2 = t + 1; t2 < T; t2++)
                    d[t2] = 0.0f;
            }
            tri_combine(dq, C3, work, T, 1, k, C3, T, hd, 1, 1); // dQ += dS K
            tri_combine(dk, C3, work, 1, T, q, C3, T, hd, 1, 0); // dK += dSᵀ Q
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
