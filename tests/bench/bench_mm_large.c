// bench_mm_large.c - time of one MM-LM training step (forward + CE + backward) at the defaults on
// the AV-FashionMNIST layout (image 784, audio 98x40, 8 text tokens over 66 words, 10 classes).
// Usage: bench_mm_large [B=64] [reps=5]. Prints ms per step and µs per sample; 1 BLAS thread is
// the Makefile's default (OPENBLAS_NUM_THREADS=1).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "models/mm_large.h"

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 64, reps = argc > 2 ? atoi(argv[2]) : 5;
    CHECK(B > 0 && reps > 0, "B = %d, reps = %d", B, reps);
    ModelSpec spec = {.n_mod = 3,
                      .kind = {MODEL_DENSE, MODEL_DENSE, MODEL_TOKENS},
                      .in_dim = {784, 98 * 40, 8},
                      .vocab = {0, 0, 66},
                      .K = 10};
    MmConfig mc;
    mm_config_default(&mc, &spec);
    Model mm;
    mm_large_create(&mm, &mc, NULL);
    ModelWork w;
    model_work_init(&mm, &w, B);
    float *params = xcalloc_aligned(mm.n_params * sizeof(float));
    float *grads = xcalloc_aligned(mm.n_params * sizeof(float));
    Rng r;
    rng_init(&r, 1, 0, 0, RNG_TEST);
    model_init_params(&mm, params, &r);
    float *img = xmalloc((size_t)B * 784 * sizeof(float));
    float *aud = xmalloc((size_t)B * 3920 * sizeof(float));
    int *ids = xmalloc((size_t)B * 8 * sizeof(int)), *labels = xmalloc((size_t)B * sizeof(int));
    uint8_t *mask = xmalloc((size_t)B * 3);
    rng_fill_uniform(&r, img, (size_t)B * 784, -1.f, 1.f);
    rng_fill_uniform(&r, aud, (size_t)B * 3920, -1.f, 1.f);
    for (int i = 0; i < B * 8; i++)
        ids[i] = (int)rng_below(&r, 66);
    for (int b = 0; b < B; b++)
        labels[b] = b % 10;
    for (int i = 0; i < B * 3; i++)
        mask[i] = rng_below(&r, 4) != 0; // ~25% missing
    ModelInput in = {.B = B, .dense = {img, aud}, .tokens = {NULL, NULL, ids}, .mask = mask};
    double loss = model_loss_backward(&mm, params, grads, &in, &w, labels, NULL, NULL); // warm-up
    CHECK(isfinite(loss), "loss %g", loss);
    double t0 = timer_now_ms();
    for (int i = 0; i < reps; i++)
        model_loss_backward(&mm, params, grads, &in, &w, labels, NULL, NULL);
    double ms = (timer_now_ms() - t0) / reps;
    printf("mm_large: %zu params (D %d, L %d, H %d, T %d), B %d: %.1f ms per step, %.0f us per "
           "sample (forward + CE + backward)\n",
           mm.n_params, mc.D, mc.L, mc.H, ((const MmLarge *)mm.impl)->T, B, ms, 1e3 * ms / B);
    xfree(img), xfree(aud), xfree(ids), xfree(labels), xfree(mask);
    xfree(params), xfree(grads);
    model_work_free(&mm, &w);
    model_free(&mm);
    return 0;
}
