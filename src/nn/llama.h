// llama.h - the three LLaMA-style layers that GPT-2's blocks lack: RMSNorm (Zhang & Sennrich
// 2019, eq. 4), rotary position embeddings (RoPE, Su et al. 2021, §3.4) and the SwiGLU gated
// activation (Shazeer 2020, eq. 6). Issue 12's causal LM is built from these and the existing
// linear_forward/backward (the projections around SwiGLU), attention and embedding.
// Not here: the attention that uses RoPE'd q and k, the KV cache itself, the q/k/v projections.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Here also: hd the width of one head (even), F the MLP's hidden width.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD. Each fast kernel has a naive *_ref twin (plain loops, double arithmetic) for the tests.
#pragma once

#define RMSNORM_EPS 1e-5f  // LLaMA's rms_norm_eps (LLaMA 2 uses 1e-5; LLaMA 1 used 1e-6)
#define ROPE_THETA 10000.0 // the base θ of Su et al. and LLaMA 1/2

// ---- RMSNorm ----
// out (N, D) = inp (N, D) · rstd · w (D), rstd (N) = 1 / sqrt(mean over D of inp² + eps), the
// forward cache. No mean subtraction and no bias (that is LayerNorm, nn/norm.h). The mean of
// squares is summed in double. out may not alias inp (backward needs inp). Local.
// CHECKs N >= 0, D >= 1, eps >= 0 and every pointer.
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, float eps, int N,
                     int D);
// dinp (N, D) += rstd · (dout·w − inp · rstd² · mean(dout·w·inp)); dw (D) += Σ_n dout · inp · rstd.
// Either gradient may be NULL. rstd is rmsnorm_forward's cache for the same inp. Local.
// CHECKs as the forward, and dout, inp, w, rstd non-NULL.
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int D);
// Naive twins: the same contracts, double arithmetic, scalar loops. Tests only.
void rmsnorm_forward_ref(float *out, float *rstd, const float *inp, const float *w, float eps,
                         int N, int D);
void rmsnorm_backward_ref(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int D);

// ---- RoPE ----
// Convention: GPT-NeoX / Hugging Face LLaMA "rotate half". Within one head of width hd, dimension
// i in [0, hd/2) is paired with i + hd/2 (NOT with i+1 as in Meta's original LLaMA code and GPT-J,
// which interleave the pairs: a checkpoint from there needs its q/k weight rows permuted). The pair
// at token position p is rotated by the angle a = p · θ^(−2i/hd):
//   out[i]        = x[i] · cos a − x[i + hd/2] · sin a
//   out[i + hd/2] = x[i + hd/2] · cos a + x[i] · sin a
// Token t of a call is at position pos0 + t, the same pos0 for every batch row: a KV-cached decoder
// rotates its one new token (T = 1) at pos0 = the number of cached tokens.
//
// The angles come from a table the caller fills once per (pos0, T, hd, θ) with rope_table and
// reuses for q and k, every head, every batch row and every layer: cos_t and sin_t (T, hd/2),
// computed in double (p · θ^(−2i/hd) and its cos/sin) and rounded once to float, so a large
// position loses no accuracy to a float angle.
//
// cos_t (T, hd/2) = cos((pos0 + t) · θ^(−2i/hd)), sin_t (T, hd/2) likewise (written). Local.
// CHECKs T >= 0, pos0 >= 0, hd even >= 2, θ > 1, pointers.
void rope_table(float *cos_t, float *sin_t, int pos0, int T, int hd, double theta);
// out (B, T, H, hd) = RoPE(inp (B, T, H, hd)) with the angles of cos_t, sin_t (T, hd/2) from
// rope_table. out may alias inp (in place); apply it to q and to k, not to v. Local.
// CHECKs B >= 0, T >= 0, H >= 1, hd even >= 2, pointers.
void rope_forward(float *out, const float *inp, const float *cos_t, const float *sin_t, int B,
                  int T, int H, int hd);
// dinp (B, T, H, hd) += the rotation of dout by the negative angles (the rotation's transpose).
// dinp must not alias dout. A NULL dinp returns at once. Local. CHECKs as the forward.
void rope_backward(float *dinp, const float *dout, const float *cos_t, const float *sin_t, int B,
                   int T, int H, int hd);
// Naive twins, precompute-free: the angle of every (t, i) computed in double from pos0 and θ.
// Same layouts and aliasing rules as the fast pair. Tests only.
void rope_forward_ref(float *out, const float *inp, int pos0, double theta, int B, int T, int H,
                      int hd);
void rope_backward_ref(float *dinp, const float *dout, int pos0, double theta, int B, int T, int H,
                       int hd);

// ---- SwiGLU ----
// out (N, F) = silu(g) ⊙ u with silu(g) = g · sigmoid(g); g, u (N, F) are the gate and up
// projections of the input (two linear_forward calls; LLaMA's w1 and w3), and out feeds the down
// projection (w2). out may alias g or u only when no backward follows (backward needs both).
// Local. CHECKs N >= 0, F >= 1, pointers.
void swiglu_forward(float *out, const float *g, const float *u, int N, int F);
// dg (N, F) += dout · u · sigmoid(g) · (1 + g · (1 − sigmoid(g)));  du (N, F) += dout · silu(g).
// Either gradient may be NULL. Local. CHECKs as the forward, and dout non-NULL.
void swiglu_backward(float *dg, float *du, const float *dout, const float *g, const float *u, int N,
                     int F);
// Naive twins with libm's exp in double. Tests only.
void swiglu_forward_ref(float *out, const float *g, const float *u, int N, int F);
void swiglu_backward_ref(float *dg, float *du, const float *dout, const float *g, const float *u,
                         int N, int F);
