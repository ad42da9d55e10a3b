// bench_causal_attention.c - the causal attention core at the LM's shape (B8 T64 D128 H4, hd 32):
// forward + backward of the full sequence, and T cached generation steps. The forward is checked
// against causal_attention_forward_ref first. Usage: bench_causal_attention [B T D H reps]. Run
// with OPENBLAS_NUM_THREADS=1 (also set below). CPU time, best of reps.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/causal_attention.h"
#include "tensor/blas.h"

// CPU time of this process in ms (the machine is shared: wall time counts other jobs too).
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    int B = 8, T = 64, D = 128, H = 4, reps = 200;
    if (argc == 6)
        B = atoi(argv[1]), T = atoi(argv[2]), D = atoi(argv[3]), H = atoi(argv[4]),
        reps = atoi(argv[5]);
    blas_set_num_threads(1);
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * H * T * T;
    float *qkv = xmalloc(nq * 4), *dqkv = xcalloc(nq, 4), *out = xmalloc(no * 4);
    float *out2 = xmalloc(no * 4), *att = xmalloc(na * 4), *att2 = xmalloc(na * 4);
    float *dout = xmalloc(no * 4);
    float *work = xmalloc(causal_attention_workspace_size(B, T, D, H) * 4);
    Rng rng;
    rng_init(&rng, 1, 0, 0, RNG_TEST);
    for (size_t i = 0; i < nq; i++)
        qkv[i] = 2.0f * (float)rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < no; i++)
        dout[i] = 2.0f * (float)rng_uniform(&rng) - 1.0f;
    causal_attention_forward(out, att, qkv, B, T, D, H);
    causal_attention_forward_ref(out2, att2, qkv, B, T, D, H);
    double err = 0;
    for (size_t i = 0; i < no; i++)
        err = fmax(err, fabs((double)out[i] - out2[i]));
    printf("causal attention, B=%d T=%d D=%d H=%d, %d reps, 1 thread (BLAS core %s); max |out - "
           "ref| %.2e\n",
           B, T, D, H, reps, blas_core_name(), err);
    if (err > 1e-4) {
        fprintf(stderr, "validation failed\n");
        return 1;
    }
    double best_f = INFINITY, best_b = INFINITY, best_s = INFINITY;
    const size_t nc = kv_cache_floats(B, T, D, H);
    float *kb = xmalloc(nc * 4), *vb = xmalloc(nc * 4), *tok = xmalloc((size_t)B * 3 * D * 4);
    KvCache cache;
    kv_cache_init(&cache, kb, vb, B, T, D, H);
    float *swork = xmalloc(causal_attention_step_workspace_size(&cache) * 4);
    for (int rep = 0; rep < reps; rep++) {
        double t0 = cpu_ms();
        causal_attention_forward(out, att, qkv, B, T, D, H);
        double t1 = cpu_ms();
        causal_attention_backward(dqkv, dout, qkv, att, B, T, D, H, work);
        double t2 = cpu_ms();
        for (int pos = 0; pos < T; pos++) {
            for (int b = 0; b < B; b++)
                memcpy(tok + (size_t)b * 3 * D, qkv + ((size_t)b * T + pos) * 3 * D,
                       (size_t)3 * D * 4);
            causal_attention_step(out2, tok, &cache, pos, B, D, H, swork);
        }
        double t3 = cpu_ms();
        best_f = fmin(best_f, t1 - t0), best_b = fmin(best_b, t2 - t1),
        best_s = fmin(best_s, t3 - t2);
    }
    printf("  fwd %.3f ms  bwd %.3f ms  fwd+bwd %.3f ms;  %d cached steps %.3f ms (best of %d, CPU "
           "time)\n",
           best_f, best_b, best_f + best_b, T, best_s, reps);
    xfree(qkv), xfree(dqkv), xfree(out), xfree(out2), xfree(att), xfree(att2), xfree(dout);
    xfree(work), xfree(kb), xfree(vb), xfree(tok), xfree(swork);
    return 0;
}
