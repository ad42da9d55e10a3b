// dropout.c - inverted dropout, masks from the caller's counter-RNG stream. See dropout.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Element i of a call draws the i-th word after the stream's current position, so the mask is a
// function of (seed, round, party, purpose) and the words drawn before: the same on any rank layout
// and after a resume. MC-dropout is nothing special here: the caller keeps drawing from one stream
// and calls forward N times at inference, each call a new mask.
#include "nn/dropout.h"

#include <math.h>

#include "core/die.h"
#include "core/nanguard.h"

void dropout_forward(float *out, float *mask, const float *inp, size_t n, float p, Rng *rng) {
    CHECK(p >= 0.0f && p < 1.0f, "dropout_forward: p = %g outside [0, 1)", (double)p);
    CHECK(n == 0 || (out && mask && inp), "dropout_forward: NULL buffer (out=%p mask=%p inp=%p)",
          (void *)out, (void *)mask, (const void *)inp);
    if (p == 0.0f) {
        for (size_t i = 0; i < n; i++)
            mask[i] = 1.0f, out[i] = inp[i];
    } else {
        CHECK_PTR(rng);
        const float scale = 1.0f / (1.0f - p);
        if (p <= DROPOUT_SPARSE_P) {
            // The kept run before each drop is geometric: floor(log u / log(1 - p)) with u uniform
            // in (0, 1] has P(run >= k) = (1 - p)^k, so one draw per dropped element (LoRA's p =
            // 0.05: 1/20 of the draws of one per element).
            // The output is written with the mask in one pass, then fixed at the drops (inp·0, as
            // the multiply by the mask would give: -0 and NaN kept).
            const double lq = log1p(-(double)p);
            for (size_t i = 0; i < n; i++)
                mask[i] = scale, out[i] = inp[i] * scale;
            for (size_t i = 0;;) {
                double u = 1.0 - (double)rng_uniform(rng); // (0, 1]
                double run = floor(log(u) / lq);
                if (run >= (double)(n - i)) break;
                i += (size_t)run;
                mask[i] = 0.0f, out[i] = inp[i] * 0.0f;
                if (++i >= n) break;
            }
        } else {
            // Kept when u >= p with u uniform on the 2^24 grid: P(drop) = ceil(p·2^24) / 2^24.
            for (size_t i = 0; i < n; i++)
                mask[i] = rng_uniform(rng) >= p ? scale : 0.0f;
            for (size_t i = 0; i < n; i++)
                out[i] = inp[i] * mask[i];
        }
    }
    NANGUARD(__func__, "out", out, n);
}

void dropout_backward(float *dinp, const float *mask, const float *dout, size_t n) {
    if (!dinp) return;
    CHECK(n == 0 || (mask && dout), "dropout_backward: NULL buffer (mask=%p dout=%p)",
          (const void *)mask, (const void *)dout);
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * mask[i];
    NANGUARD(__func__, "dinp", dinp, n);
}
