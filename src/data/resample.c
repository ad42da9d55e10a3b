// resample.c - linear-interpolation resampler (resample.h).
#include "data/resample.h"

#include <stdint.h>

#include "core/die.h"

int resample_len(int n, int rate_in, int rate_out) {
    CHECK(n >= 0 && rate_in > 0 && rate_out > 0, "n=%d rate_in=%d rate_out=%d", n, rate_in,
          rate_out);
    if (n == 0) return 0;
    return (int)((int64_t)(n - 1) * rate_out / rate_in) + 1;
}

void resample_linear(float *out, const float *x, int n, int rate_in, int rate_out) {
    CHECK_PTR(out);
    CHECK(n == 0 || x != NULL, "x is NULL with n=%d", n);
    int m = resample_len(n, rate_in, rate_out);
    for (int j = 0; j < m; j++) {
        // Exact rational position j * rate_in / rate_out: integer part and fraction, no drift.
        int64_t num = (int64_t)j * rate_in;
        int i = (int)(num / rate_out);
        float frac = (float)(num % rate_out) / (float)rate_out;
        float a = x[i], b = i + 1 < n ? x[i + 1] : x[i];
        out[j] = a + frac * (b - a);
    }
}
