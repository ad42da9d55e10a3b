// logmel.h - log-mel spectrogram: Hann window, power spectrum, triangular HTK-mel filters, log.
//
// AV-FashionMNIST uses 16 kHz, 25 ms window (400), 10 ms hop (160), 512-point FFT, 40 bands in
// 20..8000 Hz, so 1 s of audio gives 1 + (16000 - 400) / 160 = 98 frames. Not centred (no padding).
#pragma once
#include "data/fft.h"

typedef struct {
    int sample_rate, win, hop, n_fft, n_mels;
    float fmin, fmax;
    Fft fft;
    float *window;          // (win) Hann, owned
    float *fbank;           // (n_mels, n_fft/2 + 1) filter weights, owned
    int *band_lo, *band_hi; // (n_mels) the nonzero bins of band b are [band_lo[b], band_hi[b])
    float *re, *im;         // (n_fft) scratch, owned
    float *power;           // (2, n_fft/2 + 1) scratch, owned
} LogMel;

// CHECKs win <= n_fft, 0 <= fmin < fmax <= sample_rate/2, n_mels >= 1. init/free pair.
void logmel_init(LogMel *m, int sample_rate, int win, int hop, int n_fft, int n_mels, float fmin,
                 float fmax);
void logmel_free(LogMel *m);
// Frames for n samples: 1 + (n - win) / hop (0 when n < win).
int logmel_frames(const LogMel *m, int n);
// out (frames, n_mels) = log(mel power + floor) of x (n). Uses m's scratch: one LogMel per thread.
// Two real frames share one complex FFT (x_a + i x_b), which halves the FFT work.
void logmel_compute(LogMel *m, float *out, const float *x, int n, float floor);
// Centre frequency in Hz of band b (for tests and cards).
float logmel_band_centre_hz(const LogMel *m, int b);
