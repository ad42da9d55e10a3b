// wavelet.h - 1-D orthogonal discrete wavelet transform (Daubechies db1 = Haar, db6) along the last
// axis, its exact adjoint (gradients), its inverse, and CD-CCA's frequency-distillation loss
// (MSE on the features plus L1 between the high-frequency bands of a J-level transform).
// Dimension legend (docs/conventions.md §6): N rows (= B·T), L signal length (the channel axis),
// J levels, F filter taps. Conventions: row-major float32 data, double filters and sums; outputs
// first; forward writes (=); backward ACCUMULATES (+=) into every gradient (zero them first); a
// NULL gradient means "not needed"; no function here allocates (scratch comes from the caller).
// Extension modes, lengths and the loss's normalisation: docs/wavelet.md. Sources: the filters are
// PyWavelets' (pywt/_extensions/c/wavelets_coeffs.template.h, db1 and db6 dec_lo); the symmetric
// mode and its output length floor((L + F - 1) / 2) are PyWavelets' 'symmetric'; the loss is
// CD-CCA's QueryKD (the paper's rule: MSE + Σ_j L1(DWT_high_j), db6, J = 3).
// The haar_* functions of nn/loss.h are a separate, older transform (odd samples dropped).
#pragma once

#include <stddef.h>

#define WAVELET_MAX_F 12 // the longest filter here (db6)
#define WAVELET_MAX_J 16 // levels a multi-level call accepts

typedef enum {
    WAVELET_SYMMETRIC = 0,     // PyWavelets 'symmetric' (half-sample reflection), the paper's
    WAVELET_PERIODIZATION = 1, // PyWavelets 'periodization': orthonormal, length halves exactly
} WaveletMode;

// A filter bank: transparent, filled by wavelet_init, read by tests.
typedef struct {
    char name[8];                 // "db1", "db6"
    int F;                        // taps (2, 12)
    WaveletMode mode;             // extension at the borders
    double dec_lo[WAVELET_MAX_F]; // analysis low-pass, PyWavelets' dec_lo order
    double dec_hi[WAVELET_MAX_F]; // analysis high-pass: dec_hi[k] = (-1)^(k+1) dec_lo[F-1-k]
} Wavelet;

// Fills *w with the named wavelet ("db1", "haar" = db1, or "db6") and mode. An unknown name or
// mode is a CHECK failure naming it. Local.
void wavelet_init(Wavelet *w, const char *name, WaveletMode mode);

// Length of one level's bands for an input of length L: floor((L + F - 1) / 2) in symmetric mode,
// L / 2 in periodization. CHECKs L >= max(2, F - 1) in symmetric mode (every sample reflected at
// most once at each border) and L even, L >= 2 in periodization, naming L. Local.
int wavelet_out_len(const Wavelet *w, int L);

// One level along the last axis of x (N, L): lo, hi (N, Lo) = the approximation and detail bands,
// Lo = wavelet_out_len(w, L), as PyWavelets' pywt.dwt(x, w, mode) (cA, cD). Either output may be
// NULL. CHECKs the shape (as wavelet_out_len) and pointers. Local.
void wavelet_dwt_forward(float *lo, float *hi, const float *x, const Wavelet *w, int N, int L);
// dx (N, L) += the adjoint of wavelet_dwt_forward applied to (dlo, dhi) (N, Lo); either may be
// NULL. The exact transpose of the forward's linear map, border folding included. Local.
void wavelet_dwt_backward(float *dx, const float *dlo, const float *dhi, const Wavelet *w, int N,
                          int L);
// The inverse: x (N, L) = the signal whose forward is (lo, hi) (N, Lo), L the original length
// (PyWavelets' idwt, trimmed to L). Exact up to float rounding in both modes: periodization is
// orthonormal (inverse = adjoint); symmetric reconstructs with the synthesis filters, which read
// only coefficients inside the bands for every n in [0, L). x must not alias lo or hi. Local.
void wavelet_idwt(float *x, const float *lo, const float *hi, const Wavelet *w, int N, int L);

// Multi-level decomposition. Ls[0] = L, Ls[j] = wavelet_out_len(w, Ls[j-1]) for j = 1..J, each
// level's input checked as wavelet_out_len does (the CHECK names L, J and the level whose input is
// too short); J in [1, WAVELET_MAX_J]. Ls has J + 1 entries. Returns the bands' size
// Σ_j 2·N·Ls[j] in floats. Local.
size_t wavelet_wavedec_lengths(int *Ls, const Wavelet *w, int N, int L, int J);
// bands = [lo_1 (N, L_1) | hi_1 (N, L_1) | lo_2 | hi_2 | … | lo_J | hi_J]: level j transforms
// lo_{j-1} (lo_0 = x (N, L)). bands has wavelet_wavedec_lengths floats. Local.
void wavelet_wavedec_forward(float *bands, const float *x, const Wavelet *w, int N, int L, int J);
// dx (N, L) += the adjoint of wavelet_wavedec_forward applied to dbands (same layout; every band
// may carry a gradient, the intermediate lo_j too). work has wavelet_wavedec_workspace_size
// floats. Local.
size_t wavelet_wavedec_workspace_size(const Wavelet *w, int N, int L, int J);
void wavelet_wavedec_backward(float *dx, const float *dbands, const Wavelet *w, int N, int L, int J,
                              float *work);
// x (N, L) = the inverse of wavelet_wavedec_forward from lo_J and hi_1..hi_J (the intermediate
// lo_j of bands are not read). work as for the backward. Local.
void wavelet_waverec(float *x, const float *bands, const Wavelet *w, int N, int L, int J,
                     float *work);

// CD-CCA's frequency KD between x and y (N, L), L the channel axis:
//   loss = alpha_mse · Σ (x - y)² / (N L) + beta_l1 · Σ_{j=1..J} Σ |hi_j(x) - hi_j(y)| / (N L_j),
// i.e. the MSE on the features plus, per detail band, the mean absolute difference (each band
// weighted equally, as the paper's per-band L1 means). The lo_J band is not matched.
// Returns the loss in double. work has wavelet_hf_loss_workspace_size floats. CHECKs shapes (as
// wavelet_wavedec_lengths), pointers, finite non-negative weights. Local.
size_t wavelet_hf_loss_workspace_size(const Wavelet *w, int N, int L, int J);
double wavelet_hf_loss_forward(const float *x, const float *y, const Wavelet *w, int N, int L,
                               int J, double alpha_mse, double beta_l1, float *work);
// dx (N, L) += dloss · ∂loss/∂x and dy (N, L) += dloss · ∂loss/∂y (= -that); either may be NULL.
// |·|'s subgradient at 0 is 0. Same arguments and work as the forward. Local.
void wavelet_hf_loss_backward(float *dx, float *dy, const float *x, const float *y,
                              const Wavelet *w, int N, int L, int J, double alpha_mse,
                              double beta_l1, double dloss, float *work);
