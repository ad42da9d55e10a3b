// fft.c - iterative radix-2 decimation-in-time FFT (fft.h).
#include "data/fft.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

void fft_init(Fft *f, int n) {
    CHECK_PTR(f);
    CHECK(n >= 2 && n <= (1 << 20) && (n & (n - 1)) == 0, "n=%d is not a power of two in [2, 2^20]",
          n);
    f->n = n;
    f->cos_t = xmalloc(sizeof(float) * (size_t)(n / 2));
    f->sin_t = xmalloc(sizeof(float) * (size_t)(n / 2));
    f->rev = xmalloc(sizeof(int) * (size_t)n);
    for (int k = 0; k < n / 2; k++) { // twiddles in double: float sin/cos would drift for large n
        f->cos_t[k] = (float)cos(2.0 * M_PI * k / n);
        f->sin_t[k] = (float)-sin(2.0 * M_PI * k / n);
    }
    int bits = 0;
    while ((1 << bits) < n)
        bits++;
    for (int i = 0; i < n; i++) {
        int r = 0;
        for (int b = 0; b < bits; b++)
            if (i & (1 << b)) r |= 1 << (bits - 1 - b);
        f->rev[i] = r;
    }
}

void fft_free(Fft *f) {
    if (!f) return;
    xfree(f->cos_t);
    xfree(f->sin_t);
    xfree(f->rev);
    memset(f, 0, sizeof(*f));
}

void fft_forward(const Fft *f, float *re, float *im) {
    CHECK_PTR(f);
    CHECK_PTR(re);
    CHECK_PTR(im);
    int n = f->n;
    for (int i = 0; i < n; i++) {
        int r = f->rev[i];
        if (r > i) {
            float t = re[i];
            re[i] = re[r];
            re[r] = t;
            t = im[i];
            im[i] = im[r];
            im[r] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        int half = len / 2, step = n / len;
        for (int s = 0; s < n; s += len) {
            for (int k = 0; k < half; k++) {
                float wr = f->cos_t[k * step], wi = f->sin_t[k * step];
                int a = s + k, b = a + half;
                float xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
}
