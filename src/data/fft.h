// fft.h - in-place radix-2 complex FFT for the log-mel front end (no external FFT library needed).
#pragma once

// Twiddles and bit reversal for one size n (a power of two, 2 <= n <= 2^20). init/free pair.
typedef struct {
    int n;
    float *cos_t, *sin_t; // (n/2) twiddle factors, owned
    int *rev;             // (n) bit-reversed index, owned
} Fft;

void fft_init(Fft *f, int n);
void fft_free(Fft *f);
// re, im (n) are transformed in place: X[k] = sum_t x[t] exp(-2 pi i k t / n). Local.
void fft_forward(const Fft *f, float *re, float *im);
