// patch.c - patchify (a strided copy) and the learned position embedding. See patch.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
#include "nn/patch.h"

#include <stddef.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"

static void check_image(const char *fn, int B, int C, int H, int W, int Ph, int Pw) {
    CHECK(B >= 0 && C >= 1 && H >= 1 && W >= 1 && Ph >= 1 && Pw >= 1,
          "%s: bad shape B=%d C=%d H=%d W=%d Ph=%d Pw=%d", fn, B, C, H, W, Ph, Pw);
    CHECK(H % Ph == 0 && W % Pw == 0,
          "%s: image %dx%d is not a whole number of %dx%d patches (H %% Ph = %d, W %% Pw = %d)", fn,
          H, W, Ph, Pw, H % Ph, W % Pw);
}

int patch_count(int H, int W, int Ph, int Pw) {
    check_image(__func__, 0, 1, H, W, Ph, Pw);
    return (H / Ph) * (W / Pw);
}

// The square and rectangular entry points share these; fn names the caller in every message.
static void patchify_fwd(const char *fn, float *out, const float *img, int B, int C, int H, int W,
                         int Ph, int Pw) {
    check_image(fn, B, C, H, W, Ph, Pw);
    CHECK(B == 0 || (out && img), "%s: NULL buffer (out=%p img=%p)", fn, (void *)out,
          (const void *)img);
    const int gh = H / Ph, gw = W / Pw;
    const size_t plen = (size_t)C * Ph * Pw;
    // Each (c, py) run of Pw pixels is contiguous in both layouts: one memcpy per run.
    for (int b = 0; b < B; b++)
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++) {
                float *o = out + ((size_t)b * gh * gw + (size_t)i * gw + j) * plen;
                for (int c = 0; c < C; c++)
                    for (int py = 0; py < Ph; py++) {
                        const float *src = img +
                                           (((size_t)b * C + c) * H + (size_t)i * Ph + py) * W +
                                           (size_t)j * Pw;
                        memcpy(o + ((size_t)c * Ph + py) * Pw, src, (size_t)Pw * sizeof(float));
                    }
            }
    NANGUARD(fn, "out", out, (size_t)B * gh * gw * plen);
}

static void patchify_bwd(const char *fn, float *dimg, const float *dout, int B, int C, int H, int W,
                         int Ph, int Pw) {
    check_image(fn, B, C, H, W, Ph, Pw);
    if (!dimg) return;
    CHECK(B == 0 || dout, "%s: NULL buffer (dout=%p)", fn, (const void *)dout);
    const int gh = H / Ph, gw = W / Pw;
    const size_t plen = (size_t)C * Ph * Pw;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < gh; i++)
            for (int j = 0; j < gw; j++) {
                const float *g = dout + ((size_t)b * gh * gw + (size_t)i * gw + j) * plen;
                for (int c = 0; c < C; c++)
                    for (int py = 0; py < Ph; py++) {
                        float *dst = dimg + (((size_t)b * C + c) * H + (size_t)i * Ph + py) * W +
                                     (size_t)j * Pw;
                        const float *gr = g + ((size_t)c * Ph + py) * Pw;
                        for (int px = 0; px < Pw; px++)
                            dst[px] += gr[px];
                    }
            }
    NANGUARD(fn, "dimg", dimg, (size_t)B * C * H * W);
}

void patchify_rect_forward(float *out, const float *img, int B, int C, int H, int W, int Ph,
                           int Pw) {
    patchify_fwd(__func__, out, img, B, C, H, W, Ph, Pw);
}

void patchify_rect_backward(float *dimg, const float *dout, int B, int C, int H, int W, int Ph,
                            int Pw) {
    patchify_bwd(__func__, dimg, dout, B, C, H, W, Ph, Pw);
}

void patchify_forward(float *out, const float *img, int B, int C, int H, int W, int P) {
    patchify_fwd(__func__, out, img, B, C, H, W, P, P);
}

void patchify_backward(float *dimg, const float *dout, int B, int C, int H, int W, int P) {
    patchify_bwd(__func__, dimg, dout, B, C, H, W, P, P);
}

void posemb_forward(float *x, const float *pos, int B, int Np, int D) {
    CHECK(B >= 0 && Np >= 1 && D >= 1, "posemb_forward: bad shape B=%d Np=%d D=%d", B, Np, D);
    CHECK(B == 0 || (x && pos), "posemb_forward: NULL buffer (x=%p pos=%p)", (void *)x,
          (const void *)pos);
    const size_t row = (size_t)Np * D;
    for (int b = 0; b < B; b++) {
        float *xb = x + (size_t)b * row;
        for (size_t k = 0; k < row; k++)
            xb[k] += pos[k];
    }
    NANGUARD(__func__, "x", x, (size_t)B * row);
}

void posemb_backward(float *dpos, const float *dx, int B, int Np, int D) {
    CHECK(B >= 0 && Np >= 1 && D >= 1, "posemb_backward: bad shape B=%d Np=%d D=%d", B, Np, D);
    if (!dpos) return;
    CHECK(B == 0 || dx, "posemb_backward: NULL buffer (dx=%p)", (const void *)dx);
    const size_t row = (size_t)Np * D;
    for (int b = 0; b < B; b++) {
        const float *g = dx + (size_t)b * row;
        for (size_t k = 0; k < row; k++)
            dpos[k] += g[k];
    }
    NANGUARD(__func__, "dpos", dpos, row);
}

static void check_shuffle(const char *fn, const void *a, const void *b, int B, int Gh, int Gw,
                          int C, int sh, int sw) {
    CHECK_PTR(a);
    CHECK_PTR(b);
    CHECK(B >= 0 && Gh > 0 && Gw > 0 && C > 0 && sh > 0 && sw > 0,
          "%s: bad shape B=%d Gh=%d Gw=%d C=%d sh=%d sw=%d", fn, B, Gh, Gw, C, sh, sw);
    CHECK(Gh % sh == 0 && Gw % sw == 0,
          "%s: the %dx%d token grid does not divide into %dx%d blocks", fn, Gh, Gw, sh, sw);
}

// One pass over the grid in either direction: to_out copies inp into out, else out back into
// inp, accumulating.
static void shuffle_pass(float *out, float *inp, int B, int Gh, int Gw, int C, int sh, int sw,
                         int to_out) {
    const int Oh = Gh / sh, Ow = Gw / sw;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Oh; i++)
            for (int j = 0; j < Ow; j++)
                for (int a = 0; a < sh; a++)
                    for (int c = 0; c < sw; c++) {
                        float *o =
                            out +
                            ((((size_t)b * Oh + i) * Ow + j) * sh * sw + (size_t)a * sw + c) * C;
                        float *x =
                            inp +
                            (((size_t)b * Gh + (size_t)i * sh + a) * Gw + (size_t)j * sw + c) * C;
                        if (to_out)
                            memcpy(o, x, (size_t)C * sizeof(float));
                        else
                            for (int k = 0; k < C; k++)
                                x[k] += o[k];
                    }
}

void pixel_shuffle_forward(float *out, const float *inp, int B, int Gh, int Gw, int C, int sh,
                           int sw) {
    check_shuffle("pixel_shuffle_forward", out, inp, B, Gh, Gw, C, sh, sw);
    shuffle_pass(out, (float *)inp, B, Gh, Gw, C, sh, sw, 1); // inp is only read
    NANGUARD("pixel_shuffle_forward", "out", out, (size_t)B * Gh * Gw * C);
}

void pixel_shuffle_backward(float *dinp, const float *dout, int B, int Gh, int Gw, int C, int sh,
                            int sw) {
    if (!dinp) return;
    check_shuffle("pixel_shuffle_backward", dinp, dout, B, Gh, Gw, C, sh, sw);
    shuffle_pass((float *)dout, dinp, B, Gh, Gw, C, sh, sw, 0); // dout is only read
    NANGUARD("pixel_shuffle_backward", "dinp", dinp, (size_t)B * Gh * Gw * C);
}
