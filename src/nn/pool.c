// pool.c - 2-D max and average pooling (NCHW, no padding, PyTorch default arguments). See pool.h.
// Dimension legend (STYLE.md 9.6): B batch, T tokens, C in-channels/features, OC out-channels,
// H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// The common case k = s = 2 has its own branch-free loops (selects, no data-dependent jumps), which
// GCC vectorises; other windows take the general loops.
#include "nn/pool.h"

#include <stddef.h>

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

// One plane: out (OH, OW), argmax (OH, OW) from inp (H, W) with 2x2 windows, stride 2.
static void maxpool_2x2_plane(float *out, int *argmax, const float *inp, int W, int OH, int OW) {
    for (int oh = 0; oh < OH; oh++) {
        const float *r0 = inp + (size_t)(2 * oh) * W, *r1 = r0 + W;
        float *o = out + (size_t)oh * OW;
        int *am = argmax + (size_t)oh * OW;
        const int i0 = 2 * oh * W;
        for (int ow = 0; ow < OW; ow++) {
            // Strictly greater replaces: the first maximum in row-major window order wins ties.
            float m = r0[2 * ow];
            int idx = i0 + 2 * ow;
            float v = r0[2 * ow + 1];
            idx = v > m ? i0 + 2 * ow + 1 : idx;
            m = v > m ? v : m;
            v = r1[2 * ow];
            idx = v > m ? i0 + W + 2 * ow : idx;
            m = v > m ? v : m;
            v = r1[2 * ow + 1];
            idx = v > m ? i0 + W + 2 * ow + 1 : idx;
            m = v > m ? v : m;
            o[ow] = m;
            am[ow] = idx;
        }
    }
}

// dinp (H, W) += dout routed by argmax, 2x2 stride 2: each input element belongs to at most one
// window, so every one of the four positions takes dout or 0 by a select, never a scatter.
static void maxpool_2x2_plane_backward(float *dinp, const float *dout, const int *argmax, int W,
                                       int OH, int OW) {
    for (int oh = 0; oh < OH; oh++) {
        float *r0 = dinp + (size_t)(2 * oh) * W, *r1 = r0 + W;
        const float *g = dout + (size_t)oh * OW;
        const int *am = argmax + (size_t)oh * OW;
        const int i0 = 2 * oh * W;
        for (int ow = 0; ow < OW; ow++) {
            int rel = am[ow] - (i0 + 2 * ow);
            float gv = g[ow];
            r0[2 * ow] += rel == 0 ? gv : 0.0f;
            r0[2 * ow + 1] += rel == 1 ? gv : 0.0f;
            r1[2 * ow] += rel == W ? gv : 0.0f;
            r1[2 * ow + 1] += rel == W + 1 ? gv : 0.0f;
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
    for (size_t p = 0; p < (size_t)B * C; p++) {
        const float *inp_p = inp + p * in_plane;
        float *out_p = out + p * out_plane;
        int *am_p = argmax + p * out_plane;
        if (k == 2 && s == 2) {
            maxpool_2x2_plane(out_p, am_p, inp_p, W, OH, OW);
            continue;
        }
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
    CHECK(dout && argmax, "maxpool2d_backward: NULL buffer (dout=%p argmax=%p)",
          (const void *)dout, (const void *)argmax);
    const int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)OH * OW;
    for (size_t p = 0; p < (size_t)B * C; p++) {
        float *dinp_p = dinp + p * in_plane;
        const float *dout_p = dout + p * out_plane;
        const int *am_p = argmax + p * out_plane;
        if (k == 2 && s == 2) {
            maxpool_2x2_plane_backward(dinp_p, dout_p, am_p, W, OH, OW);
            continue;
        }
        for (size_t i = 0; i < out_plane; i++) {
            // The cache is an address here: a stale or foreign argmax must not write out of bounds.
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
                    for (int kw = 0; kw < k; kw++) dinp_p[(size_t)(oh * s + kh) * W + ow * s + kw] += g;
            }
    }
    NANGUARD(__func__, "dinp", dinp, (size_t)B * C * in_plane);
}
