// conv2d.c - 2-D convolution (PyTorch nn.Conv2d semantics, NCHW) as im2col + one sgemm per image.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Per image, the column matrix col (C·KH·KW, OH·OW) holds in row (c, kh, kw) the input plane c
// shifted by (kh, kw) and sampled with the stride; then out_b (OC, OH·OW) = w (OC, C·KH·KW) · col.
// The column buffer is built per image (not for the whole batch) so that it stays in cache between
// im2col and the sgemm that reads it; the output of one image is already (OC, OH·OW) in NCHW, so no
// transpose is needed. The _ref twins are the direct 7-deep loops.
#include "nn/conv2d.h"

#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/nanguard.h"
#include "tensor/blas.h"

// CHECKs s; every public entry calls it with its own name. Sizes in long long: H + 2·pad must not
// overflow int on the way to the check that would reject it.
static void check_shape_fields(const char *fn, const Conv2dShape *s) {
    CHECK(s->B >= 0 && s->C >= 1 && s->H >= 1 && s->W >= 1 && s->OC >= 1 && s->KH >= 1 &&
              s->KW >= 1 && s->stride >= 1 && s->pad >= 0,
          "%s: bad shape B=%d C=%d H=%d W=%d OC=%d KH=%d KW=%d stride=%d pad=%d", fn, s->B, s->C,
          s->H, s->W, s->OC, s->KH, s->KW, s->stride, s->pad);
    const long long hp = s->H + 2LL * s->pad, wp = s->W + 2LL * s->pad;
    CHECK(hp >= s->KH && wp >= s->KW,
          "%s: kernel (%d, %d) larger than the padded input (%lld, %lld)", fn, s->KH, s->KW, hp,
          wp);
    // The sgemm sizes are int: the column matrix's rows and columns must fit.
    const size_t ckk = (size_t)s->C * s->KH * s->KW;
    const size_t ohw =
        (size_t)((hp - s->KH) / s->stride + 1) * (size_t)((wp - s->KW) / s->stride + 1);
    CHECK(hp <= INT_MAX && wp <= INT_MAX && ckk <= INT_MAX && ohw <= INT_MAX &&
              (size_t)s->C * s->H * s->W <= INT_MAX,
          "%s: C·KH·KW = %zu, OH·OW = %zu, C·H·W or the padded size exceed INT_MAX (sgemm sizes "
          "are int)",
          fn, ckk, ohw);
}

static void check_shape(const char *fn, const Conv2dShape *s) {
    // if/else rather than CHECK then use: cppcheck does not know that die_at does not return.
    if (s == NULL)
        die_at(__FILE__, __LINE__, fn, "shape is NULL");
    else
        check_shape_fields(fn, s);
}

int conv2d_out_h(const Conv2dShape *s) {
    check_shape(__func__, s);
    return (s->H + 2 * s->pad - s->KH) / s->stride + 1;
}

int conv2d_out_w(const Conv2dShape *s) {
    check_shape(__func__, s);
    return (s->W + 2 * s->pad - s->KW) / s->stride + 1;
}

// 1x1, stride 1, no padding: col would be the input plane itself, so no workspace is used.
static int is_pointwise(const Conv2dShape *s) {
    return s->KH == 1 && s->KW == 1 && s->stride == 1 && s->pad == 0;
}

size_t conv2d_workspace_size(const Conv2dShape *s) {
    check_shape(__func__, s);
    if (is_pointwise(s)) return 0;
    // col for the forward and for dw, dcol for dinp (both live at once in the backward), and the
    // transposed weight gradient (C·KH·KW, OC).
    const size_t ckk = (size_t)s->C * s->KH * s->KW;
    return 2 * ckk * (size_t)conv2d_out_h(s) * conv2d_out_w(s) + ckk * s->OC;
}

// Valid output columns [lo, hi) for kernel column kw: 0 <= ow·stride - pad + kw < W.
static void valid_range(int *lo, int *hi, int k, int pad, int stride, int W, int OW) {
    int a = pad - k; // ow·stride >= a
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int t = W - 1 + pad - k; // ow·stride <= t
    int h = t < 0 ? 0 : MIN(OW, t / stride + 1);
    *lo = MIN(l, OW);
    *hi = MAX(h, *lo);
}

// Stride 1 with OW == W ("same" padding along the width): a row of the column matrix is then the
// input plane shifted by a constant offset, so whole planes are copied instead of OW-long pieces
// (the memcpy per output row was 10% of conv 16->32 on 14x14).
static int same_width(const Conv2dShape *s, int OW) { return s->stride == 1 && OW == s->W; }

// col (C·KH·KW, OH·OW) = im2col of one image inp (C, H, W).
static void im2col(float *col, const float *inp, const Conv2dShape *s, int OH, int OW) {
    const int st = s->stride, pad = s->pad, H = s->H, W = s->W;
    const size_t ohw = (size_t)OH * OW;
    for (int c = 0; c < s->C; c++) {
        const float *inp_c = inp + (size_t)c * H * W;
        for (int kh = 0; kh < s->KH; kh++)
            for (int kw = 0; kw < s->KW; kw++) {
                float *row = col + ((size_t)(c * s->KH + kh) * s->KW + kw) * ohw;
                int lo, hi;
                valid_range(&lo, &hi, kw, pad, st, W, OW);
                if (same_width(s, OW)) {
                    // The row is the plane shifted by `shift`: one long copy, then the columns
                    // that wrapped around a row edge are set to the zero padding they stand for.
                    int oh_lo, oh_hi;
                    valid_range(&oh_lo, &oh_hi, kh, pad, 1, H, OH);
                    const ptrdiff_t shift = (ptrdiff_t)(kh - pad) * W + (kw - pad);
                    if (oh_hi <= oh_lo || hi <= lo) { // only padding (pad >= H or W)
                        memset(row, 0, ohw * sizeof(float));
                        continue;
                    }
                    const size_t j0 = (size_t)oh_lo * W + lo, j1 = (size_t)(oh_hi - 1) * W + hi;
                    memset(row, 0, j0 * sizeof(float));
                    memcpy(row + j0, inp_c + ((ptrdiff_t)j0 + shift), (j1 - j0) * sizeof(float));
                    memset(row + j1, 0, (ohw - j1) * sizeof(float));
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        for (int ow = 0; ow < lo; ow++)
                            row[(size_t)oh * W + ow] = 0.0f;
                        for (int ow = hi; ow < OW; ow++)
                            row[(size_t)oh * W + ow] = 0.0f;
                    }
                    continue;
                }
                for (int oh = 0; oh < OH; oh++) {
                    float *d = row + (size_t)oh * OW;
                    int ih = oh * st - pad + kh;
                    if (ih < 0 || ih >= H) {
                        memset(d, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    // Input column of output column ow is base + ow·st, inside [0, W) for ow in
                    // [lo, hi); an offset, not a pointer, since base itself may be negative.
                    ptrdiff_t base = (ptrdiff_t)ih * W - pad + kw;
                    for (int ow = 0; ow < lo; ow++)
                        d[ow] = 0.0f;
                    if (st == 1)
                        memcpy(d + lo, inp_c + base + lo, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int ow = lo; ow < hi; ow++)
                            d[ow] = inp_c[base + (ptrdiff_t)ow * st];
                    for (int ow = hi; ow < OW; ow++)
                        d[ow] = 0.0f;
                }
            }
    }
}

// dinp (C, H, W) += col2im(dcol): the adjoint of im2col. dcol is scratch and may be modified.
static void col2im_add(float *dinp, float *dcol, const Conv2dShape *s, int OH, int OW) {
    const int st = s->stride, pad = s->pad, H = s->H, W = s->W;
    const size_t ohw = (size_t)OH * OW;
    for (int c = 0; c < s->C; c++) {
        float *dinp_c = dinp + (size_t)c * H * W;
        for (int kh = 0; kh < s->KH; kh++)
            for (int kw = 0; kw < s->KW; kw++) {
                float *row = dcol + ((size_t)(c * s->KH + kh) * s->KW + kw) * ohw;
                int lo, hi;
                valid_range(&lo, &hi, kw, pad, st, W, OW);
                if (same_width(s, OW)) {
                    // As in im2col: zero the entries of padding columns (they would land on the
                    // neighbouring row), then one long vectorised add over the shifted plane.
                    int oh_lo, oh_hi;
                    valid_range(&oh_lo, &oh_hi, kh, pad, 1, H, OH);
                    if (oh_hi <= oh_lo || hi <= lo) continue; // only padding
                    const ptrdiff_t shift = (ptrdiff_t)(kh - pad) * W + (kw - pad);
                    const size_t j0 = (size_t)oh_lo * W + lo, j1 = (size_t)(oh_hi - 1) * W + hi;
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        for (int ow = 0; ow < lo; ow++)
                            row[(size_t)oh * W + ow] = 0.0f;
                        for (int ow = hi; ow < OW; ow++)
                            row[(size_t)oh * W + ow] = 0.0f;
                    }
                    float *dst = dinp_c + ((ptrdiff_t)j0 + shift);
                    const float *src = row + j0;
                    for (size_t j = 0; j < j1 - j0; j++)
                        dst[j] += src[j];
                    continue;
                }
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * st - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *d = row + (size_t)oh * OW;
                    ptrdiff_t base = (ptrdiff_t)ih * W - pad + kw; // as in im2col
                    if (st == 1)
                        for (int ow = lo; ow < hi; ow++)
                            dinp_c[base + ow] += d[ow];
                    else
                        for (int ow = lo; ow < hi; ow++)
                            dinp_c[base + (ptrdiff_t)ow * st] += d[ow];
                }
            }
    }
}

// Σ x[0..n) with 16 independent partial sums. A single float accumulator cannot be vectorised
// without -ffast-math (it would reorder the sum) and its 4-cycle add latency made the bias gradient
// a quarter of the whole backward.
static float sum_lanes(const float *x, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += x[i + l];
    float s = 0.0f;
    for (; i < n; i++)
        s += x[i];
    for (int l = 0; l < 16; l++)
        s += acc[l];
    return s;
}

void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    const Conv2dShape *s, float *work) {
    check_shape(__func__, s);
    const int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    const int ckk = s->C * s->KH * s->KW, ohw = OH * OW, pw = is_pointwise(s);
    CHECK(out && inp && w, "conv2d_forward: NULL buffer (out=%p inp=%p w=%p)", (void *)out,
          (const void *)inp, (const void *)w);
    CHECK(pw || work, "conv2d_forward: work is NULL (needs conv2d_workspace_size floats)");
    const size_t in_sz = (size_t)s->C * s->H * s->W, out_sz = (size_t)s->OC * ohw;
    for (int bi = 0; bi < s->B; bi++) {
        const float *inp_b = inp + bi * in_sz;
        float *out_b = out + bi * out_sz;
        const float *col = inp_b;
        if (!pw) {
            im2col(work, inp_b, s, OH, OW);
            col = work;
        }
        // The bias goes in first and sgemm adds onto it (beta = 1).
        float beta = 0.0f;
        if (b) {
            for (int o = 0; o < s->OC; o++)
                for (int i = 0; i < ohw; i++)
                    out_b[(size_t)o * ohw + i] = b[o];
            beta = 1.0f;
        }
        sgemm_rm(0, 0, s->OC, ohw, ckk, 1.0f, w, ckk, col, ohw, beta, out_b, ohw);
    }
    NANGUARD(__func__, "out", out, (size_t)s->B * out_sz);
}

void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, const Conv2dShape *s, float *work) {
    check_shape(__func__, s);
    const int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    const int ckk = s->C * s->KH * s->KW, ohw = OH * OW, pw = is_pointwise(s);
    CHECK(dout, "conv2d_backward: dout is NULL");
    CHECK(!dw || inp, "conv2d_backward: dw wanted but inp is NULL");
    CHECK(!dinp || w, "conv2d_backward: dinp wanted but w is NULL");
    CHECK(pw || work || (!dw && !dinp),
          "conv2d_backward: work is NULL (needs conv2d_workspace_size floats)");
    const size_t in_sz = (size_t)s->C * s->H * s->W, out_sz = (size_t)s->OC * ohw;
    float *col = work, *dcol = work ? work + (size_t)ckk * ohw : NULL;
    float *dwt = work ? dcol + (size_t)ckk * ohw : NULL;
    for (int bi = 0; bi < s->B; bi++) {
        const float *dout_b = dout + bi * out_sz;
        if (db)
            for (int o = 0; o < s->OC; o++)
                db[o] += sum_lanes(dout_b + (size_t)o * ohw, ohw);
        if (dw) {
            if (pw)
                sgemm_rm(0, 1, s->OC, ckk, ohw, 1.0f, dout_b, ohw, inp + bi * in_sz, ohw, 1.0f, dw,
                         ckk);
            else {
                // dwᵀ (ckk, OC) = col · dout_bᵀ summed over the batch, added to dw at the end:
                // OpenBLAS runs this orientation 15-30% faster than dw = dout_b · colᵀ (measured
                // for 16->32 on 14x14), and the transpose is paid once per batch.
                im2col(col, inp + bi * in_sz, s, OH, OW);
                sgemm_rm(0, 1, ckk, s->OC, ohw, 1.0f, col, ohw, dout_b, ohw, bi ? 1.0f : 0.0f, dwt,
                         s->OC);
            }
        }
        if (dinp) {
            float *dinp_b = dinp + bi * in_sz;
            if (pw) // col2im of a pointwise conv is the identity: accumulate directly
                sgemm_rm(1, 0, ckk, ohw, s->OC, 1.0f, w, ckk, dout_b, ohw, 1.0f, dinp_b, ohw);
            else {
                sgemm_rm(1, 0, ckk, ohw, s->OC, 1.0f, w, ckk, dout_b, ohw, 0.0f, dcol, ohw);
                col2im_add(dinp_b, dcol, s, OH, OW);
            }
        }
    }
    if (dw && !pw && s->B > 0)
        for (int o = 0; o < s->OC; o++)
            for (int k = 0; k < ckk; k++)
                dw[(size_t)o * ckk + k] += dwt[(size_t)k * s->OC + o];
    if (dinp) NANGUARD(__func__, "dinp", dinp, (size_t)s->B * in_sz);
    if (dw) NANGUARD(__func__, "dw", dw, (size_t)s->OC * ckk);
    if (db) NANGUARD(__func__, "db", db, s->OC);
}

// ---- naive twins ----

void conv2d_forward_ref(float *out, const float *inp, const float *w, const float *b,
                        const Conv2dShape *s) {
    check_shape(__func__, s);
    const int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    for (int bi = 0; bi < s->B; bi++)
        for (int o = 0; o < s->OC; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = b ? b[o] : 0.0;
                    for (int c = 0; c < s->C; c++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc +=
                                    (double)inp[(((size_t)bi * s->C + c) * s->H + ih) * s->W + iw] *
                                    w[(((size_t)o * s->C + c) * s->KH + kh) * s->KW + kw];
                            }
                    out[(((size_t)bi * s->OC + o) * OH + oh) * OW + ow] = (float)acc;
                }
}

void conv2d_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, const Conv2dShape *s) {
    check_shape(__func__, s);
    const int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    for (int bi = 0; bi < s->B; bi++)
        for (int o = 0; o < s->OC; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float g = dout[(((size_t)bi * s->OC + o) * OH + oh) * OW + ow];
                    if (db) db[o] += g;
                    for (int c = 0; c < s->C; c++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                size_t ii = (((size_t)bi * s->C + c) * s->H + ih) * s->W + iw;
                                size_t wi = (((size_t)o * s->C + c) * s->KH + kh) * s->KW + kw;
                                if (dinp) dinp[ii] += g * w[wi];
                                if (dw) dw[wi] += g * inp[ii];
                            }
                }
}
