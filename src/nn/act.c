// act.c - ReLU, GELU (tanh form) and the residual add. See act.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Every loop is written so that GCC vectorises it (src/nn is built with -ftree-vectorize): no calls
// into libm (tanhf/expf are scalar calls without -ffast-math), no branches, selects instead. GELU's
// exp has clamps that GCC 12 left as branches on an AVX2 build, so its loops say "vector"
// themselves (exp_vecv, bit for bit the scalar form).
#include "nn/act.h"

#include <stdint.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/fastexp.h"

// GELU tanh form: 0.5·x·(1 + tanh(u)), u = sqrt(2/π)·(x + 0.044715·x³). Since
// 1 + tanh(u) = 2·sigmoid(2u), gelu(x) = x·sigmoid(2u) = x / (1 + exp(-2u)).
#define GELU_K0 0.7978845608028654f // sqrt(2/π)
#define GELU_K1 0.044715f

void relu_forward(float *out, const float *inp, size_t n) {
    CHECK(n == 0 || (out && inp), "relu_forward: NULL buffer (out=%p inp=%p, n=%zu)", (void *)out,
          (const void *)inp, n);
    // Written as "< 0" so that a NaN input passes through to NANGUARD instead of becoming 0.
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
    NANGUARD(__func__, "out", out, n);
}

void relu_backward(float *dinp, const float *out, const float *dout, size_t n) {
    if (!dinp) return;
    CHECK(n == 0 || (out && dout), "relu_backward: NULL buffer (out=%p dout=%p, n=%zu)",
          (const void *)out, (const void *)dout, n);
    for (size_t i = 0; i < n; i++)
        dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
    NANGUARD(__func__, "dinp", dinp, n);
}

void gelu_forward(float *out, const float *inp, size_t n) {
    CHECK(n == 0 || (out && inp), "gelu_forward: NULL buffer (out=%p inp=%p, n=%zu)", (void *)out,
          (const void *)inp, n);
    CHECK(n == 0 || out != inp, "gelu_forward: out must not alias inp (%p)", (void *)out);
    size_t i = 0;
    for (; i + VEC_F <= n; i += VEC_F) { // the scalar loop's operations, VEC_F lanes at a time
        vfloat x = vec_load(inp + i);
        vfloat u2 = 2.0f * GELU_K0 * (x + GELU_K1 * x * x * x);
        vec_store(out + i, x / (1.0f + exp_vecv(-u2)));
    }
    for (; i < n; i++) {
        float x = inp[i];
        float u2 = 2.0f * GELU_K0 * (x + GELU_K1 * x * x * x);
        out[i] = x / (1.0f + exp_vec(-u2));
    }
    NANGUARD(__func__, "out", out, n);
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    if (!dinp) return;
    CHECK(n == 0 || (inp && dout), "gelu_backward: NULL buffer (inp=%p dout=%p, n=%zu)",
          (const void *)inp, (const void *)dout, n);
    size_t i = 0;
    for (; i + VEC_F <= n; i += VEC_F) { // as the scalar loop below, VEC_F lanes at a time
        vfloat x = vec_load(inp + i);
        vfloat u2 = 2.0f * GELU_K0 * (x + GELU_K1 * x * x * x);
        vfloat s = 1.0f / (1.0f + exp_vecv(-u2));
        vfloat du2 = 2.0f * GELU_K0 * (1.0f + 3.0f * GELU_K1 * x * x);
        vec_store(dinp + i,
                  vec_load(dinp + i) + vec_load(dout + i) * (s + x * s * (1.0f - s) * du2));
    }
    for (; i < n; i++) {
        float x = inp[i];
        float u2 = 2.0f * GELU_K0 * (x + GELU_K1 * x * x * x);
        float s = 1.0f / (1.0f + exp_vec(-u2)); // sigmoid(2u)
        // d/dx [x·s(2u)] = s + x·s·(1-s)·2u', u' = sqrt(2/π)·(1 + 3·0.044715·x²)
        float du2 = 2.0f * GELU_K0 * (1.0f + 3.0f * GELU_K1 * x * x);
        dinp[i] += dout[i] * (s + x * s * (1.0f - s) * du2);
    }
    NANGUARD(__func__, "dinp", dinp, n);
}

void residual_forward(float *out, const float *a, const float *b, size_t n) {
    CHECK(n == 0 || (out && a && b), "residual_forward: NULL buffer (out=%p a=%p b=%p, n=%zu)",
          (void *)out, (const void *)a, (const void *)b, n);
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
    NANGUARD(__func__, "out", out, n);
}

void residual_backward(float *da, float *db, const float *dout, size_t n) {
    CHECK(n == 0 || dout || (!da && !db), "residual_backward: dout is NULL (n=%zu)", n);
    if (da) {
        for (size_t i = 0; i < n; i++)
            da[i] += dout[i];
        NANGUARD(__func__, "da", da, n);
    }
    if (db) {
        for (size_t i = 0; i < n; i++)
            db[i] += dout[i];
        NANGUARD(__func__, "db", db, n);
    }
}
