// resample.h - sample-rate conversion by linear interpolation (espeak-ng speaks at 22050 Hz;
// AV-FashionMNIST uses 16 kHz). No anti-alias filter: espeak's energy above 8 kHz is small, and the
// features are learned from, not listened to. Not an audiophile resampler.
#pragma once

// Number of output samples for n input samples: floor((n - 1) * rate_out / rate_in) + 1 (0 for n =
// 0).
int resample_len(int n, int rate_in, int rate_out);
// out (resample_len(n, ...)) = x (n) at rate_out. Local.
void resample_linear(float *out, const float *x, int n, int rate_in, int rate_out);
