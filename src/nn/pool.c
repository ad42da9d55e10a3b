// pool.c - 2-D max and average pooling (NCHW, no padding, PyTorch default arguments). See pool.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// The common case k = s = 2 (W even) has its own branch-free forward (selects, no data-dependent
// jumps) that GCC vectorises; other windows take the general loops. Max-pool backward is a scatter.
#include "nn/pool.h"

#include <stddef.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"

static void check_pool(const char *fn, int B, int C, int H, int W, int k, int s) {
    CHECK(B >= 0 && C >= 1 && H >= 1 && W >= 1 && k >= 1 && s >= 1,
          "%s: bad shape B=%d C=%d H=%d W=%d k=%d s=%d", fn, B, C, H, W, k, s);
    CHECK(k <= H && k <= W, "%s: window k=%d larger than the input plane (%d, %d)", fn, k, H, W);
    // argmax indexes the (H, W) plane as int.
    CHECK((size_t)H * W <= INT_MAX, "%s: H·W = %zu exceeds INT_MAX (argmax is int)", fn,
          (size_t)H * W);
}

// k = s = 2 with W even, over nq consecutive row pairs (all of one plane, or of the whole batch
// when H is even, since then row pairs tile the planes exactly). Two passes through a stack chunk:
// a horizontal max over element pairs, which is one long contiguous loop because with W even a
// pair never straddles rows, then a vertical max of half rows. Selects, no branches: the naive
// loop mispredicts half its comparisons on random data and measured ~8x slower. The top row wins
// ties, and within a row the left element, so the argmax is the first maximum in row-major window
// order. q_per_plane = OH converts batch-wide indices back to in-plane ones.
#define POOL_CHUNK 1024
static void maxpool_2x2_run(float *out, int *argmax, const float *inp, int W, int OW, size_t nq,
                            size_t q_per_plane) {
    float h[POOL_CHUNK], v[POOL_CHUNK];
    int hidx[POOL_CHUNK], vidx[POOL_CHUNK];
    const size_t rows_per = POOL_CHUNK / (size_t)W; // row pairs per chunk (W = 2·OW floats each)
    for (size_t q0 = 0; q0 < nq; q0 += rows_per) {
        const size_t nr = nq - q0 < rows_per ? nq - q0 : rows_per;
        const float *in = inp + q0 * 2 * W;
        const int npair = (int)(nr * W); // nr row pairs = 2·nr rows of OW pairs
        for (int i = 0; i < npair; i++) {
            float a = in[2 * i], b = in[2 * i + 1];
            h[i] = b > a ? b : a;
            hidx[i] = 2 * i + (b > a); // index relative to the chunk start
        }
        // Vertical max of every half row with the next one, over the flat chunk: this also
        // compares bottom rows with the following top rows (wasted, never read) but keeps the loop
        // long; per output row the scalar tail of an OW-long loop took a branch (vcomiss/ja) that
        // mispredicted half the time and tripled the cost for OW = 14.
        const int nv = npair - OW;
        for (int j = 0; j < nv; j++) {
            v[j] = h[j + OW] > h[j] ? h[j + OW] : h[j];
            vidx[j] = h[j + OW] > h[j] ? hidx[j + OW] : hidx[j];
        }
        for (size_t r = 0; r < nr; r++) {
            const size_t q = q0 + r;
            // vidx counts from the chunk start, which may lie in an earlier plane than row pair q:
            // subtract q's plane start (signed: the difference may be negative).
            const int base = (int)(((ptrdiff_t)q0 - (ptrdiff_t)(q - q % q_per_plane)) * 2 * W);
            memcpy(out + q * OW, v + 2 * r * OW, (size_t)OW * sizeof(float));
            int *am = argmax + q * OW;
            const int *vi = vidx + 2 * r * OW;
            for (int ow = 0; ow < OW; ow++)
                am[ow] = base + vi[ow];
        }
    }
}

void maxpool2d_forward(float *out, int *argmax, const float *inp, int B, int C, int H, int W, int k,
                       int s) {
    check_pool(__func__, B, C, H, W, k, s);
    CHECK(out && argmax && inp, "maxpool2d_forward: NULL buffer (out=%p argmax=%p inp=%p)",
          (void *)out, (void *)argmax, (const void *)inp);
    const int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)OH * OW;
    if (k == 2 && s == 2 && W % 2 == 0 && W <= POOL_CHUNK) {
        if (H % 2 == 0)
            maxpool_2x2_run(out, argmax, inp, W, OW, (size_t)B * C * OH, (size_t)OH);
        else
            for (size_t p = 0; p < (size_t)B * C; p++)
                maxpool_2x2_run(out + p * out_plane, argmax + p * out_plane, inp + p * in_plane, W,
                                OW, (size_t)OH, (size_t)OH);
        NANGUARD(__func__, "out", out, (size_t)B * C * out_plane);
        return;
    }
    for (size_t p = 0; p < (size_t)B * C; p++) {
        const float *inp_p = inp + p * in_plane;
        float *out_p = out + p * out_plane;
        int *am_p = argmax + p * out_plane;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int best = oh * s * W + ow * s;
                float m = inp_p[best];
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++) {
                        int i = (oh * s + kh) * W + ow * s + kw;
                        if (inp_p[i] > m) m = inp_p[i], best = i;
                    }
                out_p[(size_t)oh * OW + ow] = m;
                am_p[(size_t)oh * OW + ow] = best;
            }
    }
    NANGUARD(__func__, "out", out, (size_t)B * C * out_plane);
}

void maxpool2d_backward(float *dinp, const float *dout, const int *argmax, int B, int C, int H,
                        int W, int k, int s) {
    check_pool(__func__, B, C, H, W, k, s);
    if (!dinp) return;
    CHECK(dout && argmax, "maxpool2d_backward: NULL buffer (dout=%p argmax=%p)", (const void *)dout,
          (const void *)argmax);
    const int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)OH * OW;
    for (size_t p = 0; p < (size_t)B * C; p++) {
        float *dinp_p = dinp + p * in_plane;
        const float *dout_p = dout + p * out_plane;
        const int *am_p = argmax + p * out_plane;
        // A plain scatter: measured ~15x faster for 2x2 than routing dout to all four positions
        // by selects. The cache is an address here, so a stale or foreign argmax must not write
        // out of bounds: a predictable branch per output.
        for (size_t i = 0; i < out_plane; i++) {
            CHECK(am_p[i] >= 0 && (size_t)am_p[i] < in_plane,
                  "maxpool2d_backward: argmax[%zu] = %d outside the (%d, %d) plane",
                  p * out_plane + i, am_p[i], H, W);
            dinp_p[am_p[i]] += dout_p[i];
        }
    }
    NANGUARD(__func__, "dinp", dinp, (size_t)B * C * in_plane);
}

void avgpool2d_forward(float *out, const float *inp, int B, int C, int H, int W, int k, int s) {
    check_pool(__func__, B, C, H, W, k, s);
    CHECK(out && inp, "avgpool2d_forward: NULL buffer (out=%p inp=%p)", (void *)out,
          (const void *)inp);
    const int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)OH * OW;
    const float inv = 1.0f / (float)(k * k);
    for (size_t p = 0; p < (size_t)B * C; p++) {
        const float *inp_p = inp + p * in_plane;
        float *out_p = out + p * out_plane;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float acc = 0.0f;
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++)
                        acc += inp_p[(size_t)(oh * s + kh) * W + ow * s + kw];
                out_p[(size_t)oh * OW + ow] = acc * inv;
            }
    }
    NANGUARD(__func__, "out", out, (size_t)B * C * out_plane);
}

void avgpool2d_backward(float *dinp, const float *dout, int B, int C, int H, int W, int k, int s) {
    check_pool(__func__, B, C, H, W, k, s);
    if (!dinp) return;
    CHECK(dout, "avgpool2d_backward: dout is NULL");
    const int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)OH * OW;
    const float inv = 1.0f / (float)(k * k);
    for (size_t p = 0; p < (size_t)B * C; p++) {
        float *dinp_p = dinp + p * in_plane;
        const float *dout_p = dout + p * out_plane;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float g = dout_p[(size_t)oh * OW + ow] * inv;
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++)
                        dinp_p[(size_t)(oh * s + kh) * W + ow * s + kw] += g;
            }
    }
    NANGUARD(__func__, "dinp", dinp, (size_t)B * C * in_plane);
}
