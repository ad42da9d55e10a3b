// lora.c - the low-rank adapter path, four small sgemms (Hu et al. 2021). See lora.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
#include "nn/lora.h"

#include <stddef.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "nn/dropout.h"
#include "tensor/blas.h"

static void check_dims(const char *fn, int N, int C, int OC, int r) {
    CHECK(N >= 0 && C >= 1 && OC >= 1 && r >= 1, "%s: bad shape N=%d C=%d OC=%d r=%d", fn, N, C, OC,
          r);
}

void lora_forward(float *out, float *h, const float *inp, const float *a, const float *b,
                  float scale, int N, int C, int OC, int r) {
    check_dims(__func__, N, C, OC, r);
    CHECK(out && h && inp && a && b, "lora_forward: NULL buffer (out=%p h=%p inp=%p a=%p b=%p)",
          (void *)out, (void *)h, (const void *)inp, (const void *)a, (const void *)b);
    if (N == 0) return;
    // h is the narrow (N, r) bottleneck: two thin products instead of forming b·a (OC, C).
    sgemm_rm(0, 1, N, r, C, 1.0f, inp, C, a, C, 0.0f, h, r);
    sgemm_rm(0, 1, N, OC, r, scale, h, r, b, r, 1.0f, out, OC);
    NANGUARD(__func__, "h", h, (size_t)N * r);
    NANGUARD(__func__, "out", out, (size_t)N * OC);
}

void lora_backward(float *dinp, float *da, float *db, float *dh, const float *dout,
                   const float *inp, const float *h, const float *a, const float *b, float scale,
                   int N, int C, int OC, int r) {
    check_dims(__func__, N, C, OC, r);
    CHECK(dh && dout && inp && h && a && b,
          "lora_backward: NULL buffer (dh=%p dout=%p inp=%p h=%p a=%p b=%p)", (void *)dh,
          (const void *)dout, (const void *)inp, (const void *)h, (const void *)a, (const void *)b);
    if (N == 0) return;
    if (db) {
        sgemm_rm(1, 0, OC, r, N, scale, dout, OC, h, r, 1.0f, db, r);
        NANGUARD(__func__, "db", db, (size_t)OC * r);
    }
    if (!da && !dinp) return;
    sgemm_rm(0, 0, N, r, OC, scale, dout, OC, b, r, 0.0f, dh, r);
    if (da) {
        sgemm_rm(1, 0, r, C, N, 1.0f, dh, r, inp, C, 1.0f, da, C);
        NANGUARD(__func__, "da", da, (size_t)r * C);
    }
    if (dinp) {
        sgemm_rm(0, 0, N, C, r, 1.0f, dh, r, a, C, 1.0f, dinp, C);
        NANGUARD(__func__, "dinp", dinp, (size_t)N * C);
    }
}

static void merge_into(const char *fn, float *w, const float *a, const float *b, float alpha, int C,
                       int OC, int r) {
    check_dims(fn, 0, C, OC, r);
    CHECK(w && a && b, "%s: NULL buffer (w=%p a=%p b=%p)", fn, (void *)w, (const void *)a,
          (const void *)b);
    sgemm_rm(0, 0, OC, C, r, alpha, b, r, a, C, 1.0f, w, C);
    NANGUARD(fn, "w", w, (size_t)OC * C);
}

void lora_merge(float *w, const float *a, const float *b, float scale, int C, int OC, int r) {
    merge_into(__func__, w, a, b, scale, C, OC, r);
}

// -scale, not a second formula: rounding to nearest is odd-symmetric, so the product taken away is
// bit for bit the negation of the one added.
void lora_unmerge(float *w, const float *a, const float *b, float scale, int C, int OC, int r) {
    merge_into(__func__, w, a, b, -scale, C, OC, r);
}

void lora_dropout_forward(float *out, float *h, float *x, float *mask, const float *inp,
                          const float *a, const float *b, float scale, float p, Rng *rng, int N,
                          int C, int OC, int r) {
    check_dims(__func__, N, C, OC, r);
    CHECK(x && mask, "lora_dropout_forward: NULL buffer (x=%p mask=%p)", (void *)x, (void *)mask);
    dropout_forward(x, mask, inp, (size_t)N * C, p, rng);
    lora_forward(out, h, x, a, b, scale, N, C, OC, r);
}

void lora_dropout_backward(float *dinp, float *da, float *db, float *dh, float *dx,
                           const float *dout, const float *x, const float *mask, const float *h,
                           const float *a, const float *b, float scale, int N, int C, int OC,
                           int r) {
    check_dims(__func__, N, C, OC, r);
    CHECK(mask && (!dinp || dx), "lora_dropout_backward: NULL buffer (mask=%p dx=%p)",
          (const void *)mask, (void *)dx);
    const size_t nx = (size_t)N * C;
    if (dinp)
        for (size_t i = 0; i < nx; i++)
            dx[i] = 0.0f;
    lora_backward(dinp ? dx : NULL, da, db, dh, dout, x, h, a, b, scale, N, C, OC, r);
    if (dinp) {
        dropout_backward(dinp, mask, dx, nx);
        NANGUARD(__func__, "dinp", dinp, nx);
    }
}
