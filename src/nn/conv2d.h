// conv2d.h - 2-D convolution (cross-correlation, as PyTorch nn.Conv2d) via im2col + sgemm.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD. Layout NCHW: inp (B, C, H, W), w (OC, C, KH, KW), b (OC), out (B, OC, OH, OW) with OH =
// (H + 2·pad - KH) / stride + 1 and OW likewise. Zero padding.
#pragma once

#include <stddef.h>

typedef struct Conv2dShape {
    int B, C, H, W; // input
    int OC, KH, KW; // filters
    int stride, pad;
} Conv2dShape;

int conv2d_out_h(const Conv2dShape *s);
int conv2d_out_w(const Conv2dShape *s);
// Floats of scratch that conv2d_forward / conv2d_backward need in work (the im2col buffer). Local.
size_t conv2d_workspace_size(const Conv2dShape *s);

// out = conv(inp, w) + b (b may be NULL); work has conv2d_workspace_size floats. Local.
void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    const Conv2dShape *s, float *work);
// dinp += ∂/∂inp, dw += ∂/∂w, db += Σ dout per channel; each may be NULL. Local.
void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, const Conv2dShape *s, float *work);
// Naive direct-convolution twins. Tests only.
void conv2d_forward_ref(float *out, const float *inp, const float *w, const float *b,
                        const Conv2dShape *s);
void conv2d_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, const Conv2dShape *s);
