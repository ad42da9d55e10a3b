// pool.h - 2-D max and average pooling over NCHW, window k, stride s, no padding
// (OH = (H - k) / s + 1), as PyTorch MaxPool2d / AvgPool2d with default arguments.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

// out (B, C, OH, OW); argmax (B, C, OH, OW) is the forward cache: the index into inp's (H, W)
// plane of the maximum (first one on ties). Local.
void maxpool2d_forward(float *out, int *argmax, const float *inp, int B, int C, int H, int W, int k,
                       int s);
// dinp (B, C, H, W) += dout routed to the argmax positions. Local.
void maxpool2d_backward(float *dinp, const float *dout, const int *argmax, int B, int C, int H,
                        int W, int k, int s);
void avgpool2d_forward(float *out, const float *inp, int B, int C, int H, int W, int k, int s);
void avgpool2d_backward(float *dinp, const float *dout, int B, int C, int H, int W, int k, int s);
