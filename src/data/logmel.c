// logmel.c - log-mel spectrogram (logmel.h).
#include "data/logmel.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

static double hz_to_mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double mel_to_hz(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }

void logmel_init(LogMel *m, int sample_rate, int win, int hop, int n_fft, int n_mels, float fmin,
                 float fmax) {
    CHECK_PTR(m);
    CHECK(sample_rate > 0 && win >= 2 && hop >= 1 && win <= n_fft && n_mels >= 1,
          "sample_rate=%d win=%d hop=%d n_fft=%d n_mels=%d", sample_rate, win, hop, n_fft, n_mels);
    CHECK(fmin >= 0 && fmin < fmax && fmax <= sample_rate / 2.0f, "fmin=%g fmax=%g sample_rate=%d",
          fmin, fmax, sample_rate);
    memset(m, 0, sizeof(*m));
    m->sample_rate = sample_rate;
    m->win = win;
    m->hop = hop;
    m->n_fft = n_fft;
    m->n_mels = n_mels;
    m->fmin = fmin;
    m->fmax = fmax;
    fft_init(&m->fft, n_fft);
    m->window = xmalloc(sizeof(float) * (size_t)win);
    for (int t = 0; t < win; t++)
        m->window[t] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * t / win));
    int nb = n_fft / 2 + 1;
    m->fbank = xcalloc((size_t)n_mels * nb, sizeof(float));
    double mlo = hz_to_mel(fmin), mhi = hz_to_mel(fmax);
    for (int b = 0; b < n_mels; b++) {
        double f0 = mel_to_hz(mlo + (mhi - mlo) * b / (n_mels + 1));
        double f1 = mel_to_hz(mlo + (mhi - mlo) * (b + 1) / (n_mels + 1));
        double f2 = mel_to_hz(mlo + (mhi - mlo) * (b + 2) / (n_mels + 1));
        for (int k = 0; k < nb; k++) {
            double f = (double)k * sample_rate / n_fft, w = 0;
            if (f > f0 && f <= f1)
                w = (f - f0) / (f1 - f0);
            else if (f > f1 && f < f2)
                w = (f2 - f) / (f2 - f1);
            m->fbank[(size_t)b * nb + k] = (float)w;
        }
    }
    m->band_lo = xmalloc(sizeof(int) * (size_t)n_mels);
    m->band_hi = xmalloc(sizeof(int) * (size_t)n_mels);
    for (int b = 0; b < n_mels; b++) {
        const float *w = m->fbank + (size_t)b * nb;
        int lo = 0, hi = nb;
        while (lo < nb && w[lo] == 0)
            lo++;
        while (hi > lo && w[hi - 1] == 0)
            hi--;
        m->band_lo[b] = lo;
        m->band_hi[b] = hi;
    }
    m->power = xmalloc(sizeof(float) * 2 * (size_t)nb);
    m->re = xmalloc(sizeof(float) * (size_t)n_fft);
    m->im = xmalloc(sizeof(float) * (size_t)n_fft);
}

void logmel_free(LogMel *m) {
    if (!m) return;
    fft_free(&m->fft);
    xfree(m->window);
    xfree(m->fbank);
    xfree(m->band_lo);
    xfree(m->band_hi);
    xfree(m->power);
    xfree(m->re);
    xfree(m->im);
    memset(m, 0, sizeof(*m));
}

int logmel_frames(const LogMel *m, int n) {
    CHECK_PTR(m);
    return n < m->win ? 0 : 1 + (n - m->win) / m->hop;
}

float logmel_band_centre_hz(const LogMel *m, int b) {
    CHECK_PTR(m);
    CHECK(b >= 0 && b < m->n_mels, "band %d of %d", b, m->n_mels);
    double mlo = hz_to_mel(m->fmin), mhi = hz_to_mel(m->fmax);
    return (float)mel_to_hz(mlo + (mhi - mlo) * (b + 1) / (m->n_mels + 1));
}

// Mel bands of one power spectrum (nb bins) into o (n_mels).
static void mel_bands(const LogMel *m, float *o, const float *power, float floor) {
    int nb = m->n_fft / 2 + 1;
    for (int b = 0; b < m->n_mels; b++) {
        const float *w = m->fbank + (size_t)b * nb;
        float e = 0;
        for (int k = m->band_lo[b]; k < m->band_hi[b]; k++)
            e += w[k] * power[k];
        o[b] = logf(e + floor);
    }
}

void logmel_compute(LogMel *m, float *out, const float *x, int n, float floor) {
    CHECK_PTR(m);
    CHECK_PTR(out);
    CHECK_PTR(x);
    CHECK(floor > 0, "floor=%g must be > 0 (log of zero power)", floor);
    int frames = logmel_frames(m, n), nb = m->n_fft / 2 + 1, N = m->n_fft;
    for (int t = 0; t < frames; t += 2) {
        // z = a + i b with a, b real; A[k] = (Z[k] + conj Z[N-k]) / 2, B[k] = (Z[k] - conj Z[N-k])
        // / 2i.
        int two = t + 1 < frames;
        const float *xa = x + (size_t)t * m->hop, *xb = xa + m->hop;
        for (int i = 0; i < m->win; i++) {
            m->re[i] = xa[i] * m->window[i];
            m->im[i] = two ? xb[i] * m->window[i] : 0;
        }
        for (int i = m->win; i < N; i++)
            m->re[i] = m->im[i] = 0;
        fft_forward(&m->fft, m->re, m->im);
        float *pa = m->power, *pb = m->power + nb;
        for (int k = 0; k < nb; k++) {
            int j = (N - k) & (N - 1);
            float ar = 0.5f * (m->re[k] + m->re[j]), ai = 0.5f * (m->im[k] - m->im[j]);
            float br = 0.5f * (m->im[k] + m->im[j]), bi = -0.5f * (m->re[k] - m->re[j]);
            pa[k] = ar * ar + ai * ai;
            pb[k] = br * br + bi * bi;
        }
        mel_bands(m, out + (size_t)t * m->n_mels, pa, floor);
        if (two) mel_bands(m, out + (size_t)(t + 1) * m->n_mels, pb, floor);
    }
}
