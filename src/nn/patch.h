// patch.h - ViT patch embedding pieces (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words",
// eq. 1): cut an image (or a log-mel spectrogram) into non-overlapping patches, flatten each, and
// add a learned position embedding after the projection. The projection to width D itself is
// linear_forward / linear_backward (nn/linear.h) on the (B·Np, C·Ph·Pw) patch matrix, so a patch
// embedding is patchify -> linear -> posemb; this file does not hold the weights or allocate.
// Patches may be rectangular (Ph, Pw): patchify_forward is the square case Ph = Pw = P. For the
// AV-FashionMNIST shapes: a 28×28 image with P = 4 gives 49 patches of 16 values; the 98×40 log-mel
// (time × mel) with Ph = 2, Pw = 40 gives 49 time-patches of 80 values (P = 2 would give 980).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Here, as in nn/conv2d.h, H and W are the image height and width; Np is the number of patches.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

// Np = (H/Ph)·(W/Pw), the patch count of an H×W image. CHECKs H % Ph == 0 and W % Pw == 0 (and
// positive sizes), naming both. Local.
int patch_count(int H, int W, int Ph, int Pw);

// out (B, Np, C·Ph·Pw) = the patches of img (B, C, H, W): patch p = i·(W/Pw) + j (row-major over
// the patch grid) covers rows i·Ph.. and columns j·Pw..; its values are in (c, py, px) order, i.e.
// out[b, p, (c·Ph + py)·Pw + px] = img[b, c, i·Ph + py, j·Pw + px] (PyTorch's Conv2d-weight order,
// so a linear weight (D, C·Ph·Pw) is a stride-P conv kernel reshaped). Written (=). CHECKs the
// shapes as patch_count does and the pointers. Local.
void patchify_rect_forward(float *out, const float *img, int B, int C, int H, int W, int Ph,
                           int Pw);
// dimg (B, C, H, W) += the exact adjoint of patchify_rect_forward applied to dout (B, Np, C·Ph·Pw)
// (a scatter-add; the patches do not overlap, so each pixel receives one term). dimg may be NULL
// (nothing done). Local.
void patchify_rect_backward(float *dimg, const float *dout, int B, int C, int H, int W, int Ph,
                            int Pw);
// The square case Ph = Pw = P of the two above.
void patchify_forward(float *out, const float *img, int B, int C, int H, int W, int P);
void patchify_backward(float *dimg, const float *dout, int B, int C, int H, int W, int P);

// x (B, Np, D) += pos (Np, D) broadcast over B, in place (the forward writes x's new value).
// Local.
void posemb_forward(float *x, const float *pos, int B, int Np, int D);
// dpos (Np, D) += Σ_b dx (B, Np, D). dpos may be NULL (nothing done). The gradient of x through
// the add is dx itself, so there is no dx output. Local.
void posemb_backward(float *dpos, const float *dx, int B, int Np, int D);

// ---- pixel shuffle (space-to-depth) of a token grid: fewer, wider tokens ----
// nanoVLM / Idefics3's pixel shuffle at factor (sh, sw): inp (B, Gh, Gw, C), a grid of tokens in
// row-major order, becomes out (B, Gh/sh, Gw/sw, sh·sw·C): output token (i, j) concatenates the
// input tokens (i·sh + a, j·sw + c) for a < sh, c < sw in (a, c) order, i.e.
// out[b, i, j, (a·sw + c)·C + k] = inp[b, i·sh + a, j·sw + c, k]. Written (=). A permutation, so
// the backward is its inverse (dinp += the gathered-back dout). CHECKs Gh % sh == 0 and
// Gw % sw == 0 (naming them), positive sizes, pointers. Local.
void pixel_shuffle_forward(float *out, const float *inp, int B, int Gh, int Gw, int C, int sh,
                           int sw);
void pixel_shuffle_backward(float *dinp, const float *dout, int B, int Gh, int Gw, int C, int sh,
                            int sw);
