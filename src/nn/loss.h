// loss.h - losses with their gradients. Each *_forward returns the scalar loss in double (sums in
// double, docs/conventions.md §8); each *_backward ACCUMULATES dloss · ∂loss/∂input, so a weighted
// sum of losses is several backward calls with their weights as dloss. Dimension legend
// (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC out-channels, H heads, D
// model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank. Conventions: row-major
// float32; outputs first; forward writes (=) its outputs; backward ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

#include <stddef.h>

// Softmax cross-entropy, mean over the counted rows: loss = Σ_n w_n · (-log p_n[y_n]) / Σ_n w_n,
// where w = weights (N) or 1, and rows with targets[n] == ignore_index count zero. probs (N, V) is
// the forward cache (softmax rows, also written for ignored rows). Targets outside [0, V) other
// than ignore_index are a CHECK failure naming the row. Returns 0 when nothing counts. Local.
double softmax_ce_forward(float *probs, const float *logits, const int *targets,
                          const float *weights, int ignore_index, int N, int V);
// dlogits (N, V) += dloss · w_n (probs - onehot(y_n)) / Σ w. Local.
void softmax_ce_backward(float *dlogits, const float *probs, const int *targets,
                         const float *weights, int ignore_index, int N, int V, double dloss);
// How many rows of logits (N, V) have their largest entry (first on ties) at targets[n]. Local.
long argmax_hits(const float *logits, const int *targets, int N, int V);
// Row softmax, max-subtracted: out (N, V) may alias inp. Local.
void softmax_forward(float *out, const float *inp, int N, int V);

// Mean squared error over n values: Σ (pred - target)² / n. Local.
double mse_forward(const float *pred, const float *target, size_t n);
// dpred += dloss · 2 (pred - target) / n. Local.
void mse_backward(float *dpred, const float *pred, const float *target, size_t n, double dloss);

// Mean absolute error over n values: Σ |pred - target| / n. Local.
double l1_forward(const float *pred, const float *target, size_t n);
// dpred += dloss · sign(pred - target) / n (0 at equality). Local.
void l1_backward(float *dpred, const float *pred, const float *target, size_t n, double dloss);

// Distillation KL with temperature Tt (Hinton et al.): with p = softmax(teacher/Tt) and
// q = softmax(student/Tt), loss = Tt² · Σ_n KL(p_n ‖ q_n) / N. p_cache, q_cache (N, V) are written.
// Local.
double kl_div_forward(float *p_cache, float *q_cache, const float *student, const float *teacher,
                      float Tt, int N, int V);
// dstudent (N, V) += dloss · Tt · (q - p) / N. Local.
void kl_div_backward(float *dstudent, const float *p_cache, const float *q_cache, float Tt, int N,
                     int V, double dloss);

// Row cosine similarity: cos (N) = <a_n, b_n> / (max(‖a_n‖, eps) · max(‖b_n‖, eps)), eps 1e-8.
// Local.
void cosine_forward(float *cos, const float *a, const float *b, int N, int D);
// da, db (N, D) += dcos (N) · ∂cos/∂a, ∂cos/∂b; either may be NULL. Local.
void cosine_backward(float *da, float *db, const float *dcos, const float *a, const float *b, int N,
                     int D);

// InfoNCE (CLIP-style, one direction): logits = â · b̂ᵀ / tau with row-normalised â, b̂ (N, D);
// loss = mean_n CE(logits_n, n): row n's positive is b_n, the other rows are negatives.
// probs (N, N) is the forward cache; work has infonce_workspace_size floats. Local.
size_t infonce_workspace_size(int N, int D);
double infonce_forward(float *probs, const float *a, const float *b, float tau, int N, int D,
                       float *work);
// da, db (N, D) += dloss · ∂loss/∂a, ∂loss/∂b (either may be NULL). Local.
void infonce_backward(float *da, float *db, const float *probs, const float *a, const float *b,
                      float tau, int N, int D, double dloss, float *work);

// 1-D Haar wavelet transform along the last axis of x (N, L): level j halves the length;
// lo = (x[2i] + x[2i+1]) / √2, hi = (x[2i] - x[2i+1]) / √2 (an odd trailing sample is dropped at
// that level). haar_dwt_forward writes lo (N, L/2) and hi (N, L/2). Local.
void haar_dwt_forward(float *lo, float *hi, const float *x, int N, int L);
// dx (N, L) += the adjoint of the transform applied to (dlo, dhi); either may be NULL. Local.
void haar_dwt_backward(float *dx, const float *dlo, const float *dhi, int N, int L);
// CD-CCA's frequency distillation: Σ_{j=1..J} L1(hi_j(x), hi_j(y)), each term a mean over its
// band, where hi_j is the detail band of level j (the lo band feeds level j+1). Needs L >= 2^J.
// work has haar_hf_l1_workspace_size floats. Local.
size_t haar_hf_l1_workspace_size(int N, int L, int J);
double haar_hf_l1_forward(const float *x, const float *y, int N, int L, int J, float *work);
// dx (N, L) += dloss · ∂loss/∂x (the gradient for y is -that when needed: dy may be NULL). Local.
void haar_hf_l1_backward(float *dx, float *dy, const float *x, const float *y, int N, int L, int J,
                         double dloss, float *work);
