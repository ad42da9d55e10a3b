// bench_llama_lm.c - one LoRA training step of the decoder LM (models/llama_lm.h) at the issue's
// benchmark shape (V 768, D 48, L 4, H 4, F 128, r 4, B 4 sequences of T 64, lora_p 0.05, tied):
// embed, forward with dropout, head on every row, softmax CE, head backward (no head gradient),
// backward with the LoRA gradients only; then the parts separately, and T cached generation
// steps. Usage: bench_llama_lm [B T reps [lora_p]]. One BLAS thread; CPU time, best of reps.
// Measured (Zen, OpenBLAS 0.3.21, 1 thread, shared 2-core machine): step 10.1 ms = forward 4.0
// (of which LoRA dropout's 4·L·B·T·D mask draws through nn/dropout and core/rng: 1.6) + head, CE
// and head backward 3.6 (mostly nn/loss's libm exp over the (256, 768) logits) + LoRA-only
// backward 2.4; with lora_p = 0 the step is 8.2 ms. 64 cached generation steps at B = 4: 5.3 ms.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "models/llama_lm.h"
#include "nn/llama.h"
#include "nn/loss.h"
#include "tensor/blas.h"

// CPU time of this process in ms (the machine is shared: wall time counts other jobs too).
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    int B = 4, T = 64, reps = 50;
    float lora_p = 0.05f;
    if (argc >= 4) B = atoi(argv[1]), T = atoi(argv[2]), reps = atoi(argv[3]);
    if (argc >= 5) lora_p = (float)atof(argv[4]);
    blas_set_num_threads(1);
    LlamaConfig c = {.V = 768,
                     .D = 48,
                     .L = 4,
                     .H = 4,
                     .F = 128,
                     .Tmax = T,
                     .r = 4,
                     .alpha = 8,
                     .lora_p = lora_p,
                     .tied = 1,
                     .theta = ROPE_THETA};
    LlamaLM lm;
    llama_init(&lm, &c, 0);
    const int N = B * T, D = c.D, V = c.V;
    float *p = xmalloc(lm.n_params * 4), *grads = xcalloc(lm.n_params, 4);
    float *x = xmalloc((size_t)N * D * 4), *logits = xmalloc((size_t)N * V * 4);
    float *probs = xmalloc((size_t)N * V * 4), *dlogits = xmalloc((size_t)N * V * 4);
    float *dhid = xmalloc((size_t)N * D * 4);
    int *ids = xmalloc((size_t)N * sizeof(int)), *tgt = xmalloc((size_t)N * sizeof(int));
    Rng rng, drop;
    rng_init(&rng, 1, 0, 0, RNG_INIT);
    llama_init_params(&lm, p, &rng);
    for (int a = 0; a < LLAMA_N_ADAPTERS; a++) // a trained adapter: B != 0
        rng_fill_normal(&rng, p + lm.lora_b[a], (size_t)c.L * D * c.r, 0.0f, 0.02f);
    for (int i = 0; i < N; i++)
        ids[i] = (int)rng_below(&rng, V), tgt[i] = (int)rng_below(&rng, V);
    rng_init(&drop, 1, 0, 0, RNG_DROPOUT);
    LlamaWork w;
    llama_work_init(&w, &lm, B, T);
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30}, loss = 0;
    for (int it = 0; it < reps; it++) {
        double t0 = cpu_ms();
        llama_embed(&lm, p, ids, N, x);
        llama_forward(&lm, p, x, B, T, &w, &drop);
        double t1 = cpu_ms();
        llama_head_forward(&lm, p, w.hid, N, logits);
        loss = softmax_ce_forward(probs, logits, tgt, NULL, -1, N, V);
        memset(dlogits, 0, (size_t)N * V * 4);
        softmax_ce_backward(dlogits, probs, tgt, NULL, -1, N, V, 1.0);
        memset(dhid, 0, (size_t)N * D * 4);
        llama_head_backward(&lm, p, NULL, dhid, dlogits, w.hid, N);
        double t2 = cpu_ms();
        llama_backward(&lm, p, grads, 0, dhid, NULL, &w);
        double t3 = cpu_ms();
        best[0] = t3 - t0 < best[0] ? t3 - t0 : best[0];
        best[1] = t1 - t0 < best[1] ? t1 - t0 : best[1];
        best[2] = t2 - t1 < best[2] ? t2 - t1 : best[2];
        best[3] = t3 - t2 < best[3] ? t3 - t2 : best[3];
    }
    LlamaGen g;
    llama_gen_init(&g, &lm, B, T);
    float *hid = xmalloc((size_t)B * D * 4);
    for (int it = 0; it < reps / 5 + 1; it++) {
        llama_gen_reset(&g);
        double t0 = cpu_ms();
        for (int t = 0; t < T; t++)
            llama_step(&lm, p, x + (size_t)t * B * D, B, &g, hid);
        double t1 = cpu_ms();
        best[4] = t1 - t0 < best[4] ? t1 - t0 : best[4];
    }
    printf("llama_lm V=%d D=%d L=%d H=%d F=%d r=%d lora_p=%g B=%d T=%d, 1 thread (BLAS core %s), "
           "loss %.4f\n",
           V, D, c.L, c.H, c.F, c.r, (double)lora_p, B, T, blas_core_name(), loss);
    printf("step %.3f ms (forward %.3f, head+CE+head backward %.3f, backward LoRA-only %.3f); "
           "%d cached generation steps %.3f ms\n",
           best[0], best[1], best[2], best[3], T, best[4]);
    llama_gen_free(&g), llama_work_free(&w);
    xfree(p), xfree(grads), xfree(x), xfree(logits), xfree(probs), xfree(dlogits), xfree(dhid),
        xfree(ids), xfree(tgt), xfree(hid);
    return 0;
}
