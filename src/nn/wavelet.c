// wavelet.c - 1-D orthogonal DWT (db1, db6), its adjoint and inverse, and CD-CCA's high-frequency
// KD loss (see wavelet.h, docs/wavelet.md). Every band value is one double-accumulated dot product
// of the filter with the extended signal; the extension is an index map, so the adjoint is the
// same loop scattering instead of gathering.
#include "nn/wavelet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"

// Daubechies decomposition low-pass filters, PyWavelets' dec_lo
// (pywt/_extensions/c/wavelets_coeffs.template.h, first row of db1 and db6).
static const double DB1_LO[2] = {0.70710678118654757, 0.70710678118654757};
static const double DB6_LO[12] = {
    -0.0010773010849955799, 0.0047772575110106514, 0.0005538422009938016, -0.031582039318031156,
    0.027522865530016288,   0.097501605587079362,  -0.12976686756709563,  -0.22626469396516913,
    0.3152503517092432,     0.75113390802157753,   0.49462389039838539,   0.11154074335008017};

void wavelet_init(Wavelet *w, const char *name, WaveletMode mode) {
    CHECK_PTR(w);
    CHECK_PTR(name);
    CHECK(mode == WAVELET_SYMMETRIC || mode == WAVELET_PERIODIZATION,
          "wavelet '%s': unknown extension mode %d (0 symmetric, 1 periodization)", name,
          (int)mode);
    const double *lo = NULL;
    int F = 0;
    if (strcmp(name, "db1") == 0 || strcmp(name, "haar") == 0) {
        lo = DB1_LO;
        F = 2;
    } else if (strcmp(name, "db6") == 0) {
        lo = DB6_LO;
        F = 12;
    }
    CHECK(lo != NULL, "unknown wavelet '%s' (known: db1, haar, db6)", name);
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", F == 2 ? "db1" : "db6");
    w->F = F;
    w->mode = mode;
    // Quadrature mirror: dec_hi[k] = (-1)^(k+1) dec_lo[F-1-k] (PyWavelets' second row).
    for (int k = 0; k < F; k++) {
        w->dec_lo[k] = lo[k];
        w->dec_hi[k] = (k % 2 ? 1.0 : -1.0) * lo[F - 1 - k];
    }
}

int wavelet_out_len(const Wavelet *w, int L) {
    CHECK_PTR(w);
    if (w->mode == WAVELET_PERIODIZATION) {
        CHECK(L >= 2 && L % 2 == 0,
              "wavelet %s periodization: input length L=%d must be even and >= 2", w->name, L);
        return L / 2;
    }
    const int need = w->F - 1 > 2 ? w->F - 1 : 2;
    CHECK(L >= need, "wavelet %s symmetric: input length L=%d < %d (F-1 = %d, and >= 2)", w->name,
          L, need, w->F - 1);
    return (L + w->F - 1) / 2;
}

// Where extended index k reads in [0, L). Symmetric: x1 x0 | x0 .. x_{L-1} | x_{L-1} x_{L-2}
// (period 2L); periodization: k mod L.
static inline int ext_index(int k, int L, WaveletMode mode) {
    if (mode == WAVELET_PERIODIZATION) {
        int m = k % L;
        return m < 0 ? m + L : m;
    }
    int m = k % (2 * L);
    if (m < 0) m += 2 * L;
    return m < L ? m : 2 * L - 1 - m;
}

// Band o reads x at base + 2o - j for tap j: PyWavelets' offsets, 1 for symmetric (its
// convolution starts at input index step - 1) and F/2 for periodization.
static inline int base_offset(const Wavelet *w) {
    return w->mode == WAVELET_PERIODIZATION ? w->F / 2 : 1;
}

static void dwt_rows(float *lo, float *hi, const float *x, const Wavelet *w, int N, int L, int Lo) {
    const int F = w->F, b = base_offset(w);
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * L;
        for (int o = 0; o < Lo; o++) {
            double sl = 0, sh = 0;
            for (int j = 0; j < F; j++) {
                const double v = xr[ext_index(b + 2 * o - j, L, w->mode)];
                sl += w->dec_lo[j] * v;
                sh += w->dec_hi[j] * v;
            }
            if (lo) lo[(size_t)n * Lo + o] = (float)sl;
            if (hi) hi[(size_t)n * Lo + o] = (float)sh;
        }
    }
}

// The transpose of dwt_rows: the same index map, scattering.
static void dwt_rows_adjoint(float *dx, const float *dlo, const float *dhi, const Wavelet *w, int N,
                             int L, int Lo) {
    const int F = w->F, b = base_offset(w);
    for (int n = 0; n < N; n++) {
        float *dr = dx + (size_t)n * L;
        for (int o = 0; o < Lo; o++) {
            const double gl = dlo ? dlo[(size_t)n * Lo + o] : 0.0,
                         gh = dhi ? dhi[(size_t)n * Lo + o] : 0.0;
            for (int j = 0; j < F; j++)
                dr[ext_index(b + 2 * o - j, L, w->mode)] +=
                    (float)(w->dec_lo[j] * gl + w->dec_hi[j] * gh);
        }
    }
}

// Symmetric-mode synthesis: the analysis operator on the infinite extended sequence is orthogonal,
// so x[n] = Σ_o dec_lo[2o+1-n] lo[o] + dec_hi[2o+1-n] hi[o]; for n in [0, L) every o it needs is
// in [0, Lo), so no border term is missing (docs/wavelet.md).
static void idwt_symmetric_rows(float *x, const float *lo, const float *hi, const Wavelet *w, int N,
                                int L, int Lo) {
    const int F = w->F;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < L; i++) {
            double s = 0;
            for (int j = (i + 1) % 2; j < F; j += 2) { // 2o + 1 - i = j needs i + j - 1 even
                const int o = (i + j - 1) / 2;
                s += w->dec_lo[j] * lo[(size_t)n * Lo + o] + w->dec_hi[j] * hi[(size_t)n * Lo + o];
            }
            x[(size_t)n * L + i] = (float)s;
        }
}

void wavelet_dwt_forward(float *lo, float *hi, const float *x, const Wavelet *w, int N, int L) {
    CHECK_PTR(x);
    CHECK(N >= 0, "wavelet_dwt_forward: N=%d < 0", N);
    const int Lo = wavelet_out_len(w, L);
    dwt_rows(lo, hi, x, w, N, L, Lo);
    if (lo) NANGUARD(__func__, "lo", lo, (size_t)N * Lo);
    if (hi) NANGUARD(__func__, "hi", hi, (size_t)N * Lo);
}

void wavelet_dwt_backward(float *dx, const float *dlo, const float *dhi, const Wavelet *w, int N,
                          int L) {
    CHECK(N >= 0, "wavelet_dwt_backward: N=%d < 0", N);
    const int Lo = wavelet_out_len(w, L);
    if (dx == NULL || (dlo == NULL && dhi == NULL)) return;
    dwt_rows_adjoint(dx, dlo, dhi, w, N, L, Lo);
    NANGUARD(__func__, "dx", dx, (size_t)N * L);
}

void wavelet_idwt(float *x, const float *lo, const float *hi, const Wavelet *w, int N, int L) {
    CHECK(x && lo && hi, "wavelet_idwt: NULL buffer (x=%p lo=%p hi=%p)", (void *)x,
          (const void *)lo, (const void *)hi);
    CHECK(N >= 0, "wavelet_idwt: N=%d < 0", N);
    const int Lo = wavelet_out_len(w, L);
    if (w->mode == WAVELET_PERIODIZATION) { // orthonormal: the inverse is the adjoint
        memset(x, 0, sizeof(float) * (size_t)N * L);
        dwt_rows_adjoint(x, lo, hi, w, N, L, Lo);
    } else {
        idwt_symmetric_rows(x, lo, hi, w, N, L, Lo);
    }
    NANGUARD(__func__, "x", x, (size_t)N * L);
}

// ---- multi-level ----

size_t wavelet_wavedec_lengths(int *Ls, const Wavelet *w, int N, int L, int J) {
    CHECK_PTR(Ls);
    CHECK_PTR(w);
    CHECK(N >= 0, "wavelet %s: N=%d < 0", w->name, N);
    CHECK(J >= 1 && J <= WAVELET_MAX_J, "wavelet %s: J=%d levels outside [1, %d]", w->name, J,
          WAVELET_MAX_J);
    Ls[0] = L;
    size_t s = 0;
    for (int j = 1; j <= J; j++) {
        const int in = Ls[j - 1];
        const int ok = w->mode == WAVELET_PERIODIZATION ? in >= 2 && in % 2 == 0
                                                        : in >= (w->F - 1 > 2 ? w->F - 1 : 2);
        CHECK(ok,
              "wavelet %s %s: L=%d is too short for J=%d levels: level %d's input has length %d "
              "(needs %s)",
              w->name, w->mode == WAVELET_PERIODIZATION ? "periodization" : "symmetric", L, J, j,
              in, w->mode == WAVELET_PERIODIZATION ? "an even length >= 2" : ">= max(2, F-1)");
        Ls[j] = wavelet_out_len(w, in);
        s += 2 * (size_t)N * Ls[j];
    }
    return s;
}

size_t wavelet_wavedec_workspace_size(const Wavelet *w, int N, int L, int J) {
    int Ls[WAVELET_MAX_J + 1];
    wavelet_wavedec_lengths(Ls, w, N, L, J);
    int mx = 0;
    for (int j = 0; j <= J; j++)
        mx = Ls[j] > mx ? Ls[j] : mx;
    return 2 * (size_t)N * mx;
}

void wavelet_wavedec_forward(float *bands, const float *x, const Wavelet *w, int N, int L, int J) {
    int Ls[WAVELET_MAX_J + 1];
    const size_t total = wavelet_wavedec_lengths(Ls, w, N, L, J);
    CHECK(bands && x, "wavelet_wavedec_forward: NULL buffer (bands=%p x=%p)", (void *)bands,
          (const void *)x);
    const float *in = x;
    float *p = bands;
    for (int j = 1; j <= J; j++) {
        float *lo = p, *hi = p + (size_t)N * Ls[j];
        dwt_rows(lo, hi, in, w, N, Ls[j - 1], Ls[j]);
        in = lo;
        p = hi + (size_t)N * Ls[j];
    }
    NANGUARD(__func__, "bands", bands, total);
}

// Offsets of lo_j in the bands layout (hi_j follows it at + N·L_j).
static void band_offsets(size_t *off, const int *Ls, int N, int J) {
    size_t s = 0;
    for (int j = 1; j <= J; j++) {
        off[j] = s;
        s += 2 * (size_t)N * Ls[j];
    }
}

void wavelet_wavedec_backward(float *dx, const float *dbands, const Wavelet *w, int N, int L, int J,
                              float *work) {
    int Ls[WAVELET_MAX_J + 1];
    wavelet_wavedec_lengths(Ls, w, N, L, J);
    if (dx == NULL || dbands == NULL) return;
    CHECK_PTR(work);
    size_t off[WAVELET_MAX_J + 1] = {0};
    band_offsets(off, Ls, N, J);
    size_t cap = 0;
    for (int j = 0; j <= J; j++)
        cap = (size_t)N * Ls[j] > cap ? (size_t)N * Ls[j] : cap;
    float *gcur = work, *gnext = work + cap;
    // g_J = dlo_J; g_{j-1} = adjoint_j(g_j, dhi_j) + dlo_{j-1}; g_0 goes into dx.
    memcpy(gcur, dbands + off[J], sizeof(float) * (size_t)N * Ls[J]);
    for (int j = J; j >= 1; j--) {
        const float *dhi = dbands + off[j] + (size_t)N * Ls[j];
        float *dst = j == 1 ? dx : gnext;
        if (j > 1) memcpy(gnext, dbands + off[j - 1], sizeof(float) * (size_t)N * Ls[j - 1]);
        dwt_rows_adjoint(dst, gcur, dhi, w, N, Ls[j - 1], Ls[j]);
        float *t = gcur;
        gcur = gnext;
        gnext = t;
    }
    NANGUARD(__func__, "dx", dx, (size_t)N * L);
}

void wavelet_waverec(float *x, const float *bands, const Wavelet *w, int N, int L, int J,
                     float *work) {
    int Ls[WAVELET_MAX_J + 1];
    wavelet_wavedec_lengths(Ls, w, N, L, J);
    CHECK(x && bands && work, "wavelet_waverec: NULL buffer (x=%p bands=%p work=%p)", (void *)x,
          (const void *)bands, (void *)work);
    size_t off[WAVELET_MAX_J + 1] = {0};
    band_offsets(off, Ls, N, J);
    size_t cap = 0;
    for (int j = 0; j <= J; j++)
        cap = (size_t)N * Ls[j] > cap ? (size_t)N * Ls[j] : cap;
    float *a = work, *b = work + cap;
    const float *lo = bands + off[J];
    for (int j = J; j >= 1; j--) {
        float *dst = j == 1 ? x : a;
        wavelet_idwt(dst, lo, bands + off[j] + (size_t)N * Ls[j], w, N, Ls[j - 1]);
        lo = dst;
        float *t = a;
        a = b;
        b = t;
    }
}

// ---- CD-CCA's high-frequency KD loss ----
// The DWT is linear, so hi_j(x) - hi_j(y) = hi_j(e) with e = x - y: one decomposition of e.
// Workspace: e (N, L) | bands of e | dbands (same size) | the wavedec backward's scratch.

static void check_loss(const char *fn, const float *x, const float *y, double a, double b,
                       const float *work) {
    CHECK(x && y && work, "%s: NULL buffer (x=%p y=%p work=%p)", fn, (const void *)x,
          (const void *)y, (const void *)work);
    CHECK(isfinite(a) && isfinite(b) && a >= 0 && b >= 0,
          "%s: weights alpha_mse=%g beta_l1=%g must be finite and >= 0", fn, a, b);
}

size_t wavelet_hf_loss_workspace_size(const Wavelet *w, int N, int L, int J) {
    int Ls[WAVELET_MAX_J + 1];
    const size_t nb = wavelet_wavedec_lengths(Ls, w, N, L, J);
    return (size_t)N * L + 2 * nb + wavelet_wavedec_workspace_size(w, N, L, J);
}

// Writes e and its bands into work; returns the loss.
static double hf_loss(const float *x, const float *y, const Wavelet *w, int N, int L, int J,
                      double a, double b, float *work, const int *Ls) {
    float *e = work, *bands = work + (size_t)N * L;
    double sq = 0;
    for (size_t i = 0; i < (size_t)N * L; i++) {
        e[i] = x[i] - y[i];
        sq += (double)e[i] * e[i];
    }
    double loss = a * sq / ((double)N * L);
    wavelet_wavedec_forward(bands, e, w, N, L, J);
    const float *hi = bands;
    for (int j = 1; j <= J; j++) {
        hi += (size_t)N * Ls[j]; // skip lo_j
        double s = 0;
        for (size_t i = 0; i < (size_t)N * Ls[j]; i++)
            s += fabs((double)hi[i]);
        loss += b * s / ((double)N * Ls[j]);
        hi += (size_t)N * Ls[j];
    }
    return loss;
}

double wavelet_hf_loss_forward(const float *x, const float *y, const Wavelet *w, int N, int L,
                               int J, double alpha_mse, double beta_l1, float *work) {
    int Ls[WAVELET_MAX_J + 1];
    wavelet_wavedec_lengths(Ls, w, N, L, J);
    CHECK(N >= 1, "%s: N=%d < 1", __func__, N);
    check_loss(__func__, x, y, alpha_mse, beta_l1, work);
    return hf_loss(x, y, w, N, L, J, alpha_mse, beta_l1, work, Ls);
}

void wavelet_hf_loss_backward(float *dx, float *dy, const float *x, const float *y,
                              const Wavelet *w, int N, int L, int J, double alpha_mse,
                              double beta_l1, double dloss, float *work) {
    int Ls[WAVELET_MAX_J + 1];
    const size_t nb = wavelet_wavedec_lengths(Ls, w, N, L, J);
    CHECK(N >= 1, "%s: N=%d < 1", __func__, N);
    check_loss(__func__, x, y, alpha_mse, beta_l1, work);
    if (!dx && !dy) return;
    hf_loss(x, y, w, N, L, J, alpha_mse, beta_l1, work, Ls);
    const float *e = work, *bands = work + (size_t)N * L;
    float *dbands = work + (size_t)N * L + nb, *scratch = dbands + nb;
    // dbands: 0 on every lo band, dloss · beta · sign(hi_j) / (N L_j) on hi_j.
    size_t p = 0;
    for (int j = 1; j <= J; j++) {
        const size_t m = (size_t)N * Ls[j];
        const double c = dloss * beta_l1 / (double)m;
        memset(dbands + p, 0, sizeof(float) * m);
        p += m;
        for (size_t i = 0; i < m; i++)
            dbands[p + i] = bands[p + i] > 0 ? (float)c : bands[p + i] < 0 ? (float)-c : 0.0f;
        p += m;
    }
    // Each gradient gets the MSE's 2 α e / (N L) plus the bands' adjoint.
    const double cm = dloss * alpha_mse * 2.0 / ((double)N * L);
    if (dx) {
        for (size_t i = 0; i < (size_t)N * L; i++)
            dx[i] += (float)(cm * e[i]);
        wavelet_wavedec_backward(dx, dbands, w, N, L, J, scratch);
        NANGUARD(__func__, "dx", dx, (size_t)N * L);
    }
    if (dy) {
        // ∂/∂y = -∂/∂x: negate the band gradients and the MSE term.
        for (size_t i = 0; i < nb; i++)
            dbands[i] = -dbands[i];
        for (size_t i = 0; i < (size_t)N * L; i++)
            dy[i] -= (float)(cm * e[i]);
        wavelet_wavedec_backward(dy, dbands, w, N, L, J, scratch);
        NANGUARD(__func__, "dy", dy, (size_t)N * L);
    }
}
