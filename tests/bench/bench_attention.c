// bench_attention.c - the attention core at the benchmark transformer's shape (B64 T16 D128 H4):
// the library's direct loops against one sgemm per (b, h), forward + backward, causal and full.
// Both are validated first (forward against attention_forward_ref, backward against each other).
// Usage: bench_attention [B T D H reps]. Run with OPENBLAS_NUM_THREADS=1 (also set below).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/attention.h"
#include "tensor/blas.h"

// ---- the sgemm variant: S = Q Kᵀ, softmax, O = P V per (b, h) ----

static void fwd_sgemm(float *out, float *att, const float *qkv, const uint8_t *key_mask, int causal,
                      int B, int T, int D, int H) {
    const int hd = D / H, C3 = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hd, *k = q + D, *v = q + 2 * D;
            float *S = att + ((size_t)b * H + h) * T * T;
            sgemm_rm(0, 1, T, T, hd, scale, q, C3, k, C3, 0.0f, S, T);
            for (int t = 0; t < T; t++) {
                float *row = S + (size_t)t * T, mx = -INFINITY;
                for (int t2 = 0; t2 < T; t2++) {
                    if ((causal && t2 > t) || (key_mask && !key_mask[b * T + t2])) row[t2] = -INFINITY;
                    mx = fmaxf(mx, row[t2]);
                }
                float sum = 0;
                for (int t2 = 0; t2 < T; t2++) {
                    row[t2] = mx == -INFINITY ? 0.0f : expf(row[t2] - mx);
                    sum += row[t2];
                }
                for (int t2 = 0; t2 < T; t2++) row[t2] = sum > 0 ? row[t2] / sum : 0.0f;
            }
            sgemm_rm(0, 0, T, hd, T, 1.0f, S, T, v, C3, 0.0f, out + (size_t)b * T * D + h * hd, D);
        }
}

// work: T·T floats (dP, then dS in place).
static void bwd_sgemm(float *dqkv, const float *dout, const float *qkv, const float *att, int B,
                      int T, int D, int H, float *work) {
    const int hd = D / H, C3 = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const size_t off = (size_t)b * T * C3 + h * hd;
            const float *q = qkv + off, *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + off, *dk = dq + D, *dv = dq + 2 * D;
            const float *P = att + ((size_t)b * H + h) * T * T;
            const float *dO = dout + (size_t)b * T * D + h * hd;
            sgemm_rm(1, 0, T, hd, T, 1.0f, P, T, dO, D, 1.0f, dv, C3);     // dV += Pᵀ dO
            sgemm_rm(0, 1, T, T, hd, 1.0f, dO, D, v, C3, 0.0f, work, T);   // dP = dO Vᵀ
            for (int t = 0; t < T; t++) {
                float *r = work + (size_t)t * T;
                const float *p = P + (size_t)t * T;
                float s = 0;
                for (int t2 = 0; t2 < T; t2++) s += p[t2] * r[t2];
                for (int t2 = 0; t2 < T; t2++) r[t2] = p[t2] * (r[t2] - s) * scale;
            }
            sgemm_rm(0, 0, T, hd, T, 1.0f, work, T, k, C3, 1.0f, dq, C3);  // dQ += dS K
            sgemm_rm(1, 0, T, hd, T, 1.0f, work, T, q, C3, 1.0f, dk, C3);  // dK += dSᵀ Q
        }
}

// CPU time of this process in ms: on a machine shared with other jobs, wall time also counts the
// time the scheduler gave to them.
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

int main(int argc, char **argv) {
    int B = 64, T = 16, D = 128, H = 4, reps = 200;
    if (argc == 6) B = atoi(argv[1]), T = atoi(argv[2]), D = atoi(argv[3]), H = atoi(argv[4]),
                   reps = atoi(argv[5]);
    blas_set_num_threads(1);
    const size_t nqkv = (size_t)B * T * 3 * D, nout = (size_t)B * T * D, natt = (size_t)B * H * T * T;
    float *qkv = xmalloc(nqkv * 4), *dout = xmalloc(nout * 4), *out = xmalloc(nout * 4);
    float *out2 = xmalloc(nout * 4), *att = xmalloc(natt * 4), *att2 = xmalloc(natt * 4);
    float *dqkv = xcalloc(nqkv, 4), *dqkv2 = xcalloc(nqkv, 4);
    float *work = xmalloc(attention_workspace_size(B, T, D, H) * 4), *work2 = xmalloc((size_t)T * T * 4);
    Rng r;
    rng_init(&r, 1, 0, 0, RNG_TEST);
    rng_fill_normal(&r, qkv, nqkv, 0, 1);
    rng_fill_normal(&r, dout, nout, 0, 1);
    printf("attention fwd+bwd, B=%d T=%d D=%d H=%d, %d reps, 1 thread (BLAS core %s)\n", B, T, D, H,
           reps, blas_core_name());
    for (int causal = 0; causal < 2; causal++) {
        attention_forward_ref(out2, att2, qkv, NULL, causal, B, T, D, H);
        attention_forward(out, att, qkv, NULL, causal, B, T, D, H);
        double e1 = max_abs_diff(out, out2, nout);
        fwd_sgemm(out, att, qkv, NULL, causal, B, T, D, H);
        double e2 = max_abs_diff(out, out2, nout);
        for (size_t i = 0; i < nqkv; i++) dqkv[i] = dqkv2[i] = 0;
        attention_backward(dqkv, dout, qkv, att2, NULL, causal, B, T, D, H, work);
        bwd_sgemm(dqkv2, dout, qkv, att2, B, T, D, H, work2);
        double e3 = max_abs_diff(dqkv, dqkv2, nqkv);
        printf("%s: max |out - ref| direct %.2e, sgemm %.2e; max |dqkv direct - sgemm| %.2e\n",
               causal ? "causal" : "full  ", e1, e2, e3);
        if (e1 > 1e-4 || e2 > 1e-4 || e3 > 1e-3) {
            fprintf(stderr, "validation failed\n");
            return EXIT_FAILURE;
        }
        for (int variant = 0; variant < 2; variant++) {
            double best_f = 1e30, best_b = 1e30;
            for (int rep = 0; rep < reps; rep++) {
                double t0 = cpu_ms();
                if (variant == 0) attention_forward(out, att, qkv, NULL, causal, B, T, D, H);
                else fwd_sgemm(out, att, qkv, NULL, causal, B, T, D, H);
                double t1 = cpu_ms();
                if (variant == 0) attention_backward(dqkv, dout, qkv, att, NULL, causal, B, T, D, H, work);
                else bwd_sgemm(dqkv, dout, qkv, att, B, T, D, H, work2);
                double t2 = cpu_ms();
                best_f = fmin(best_f, t1 - t0), best_b = fmin(best_b, t2 - t1);
            }
            printf("  %-7s %s fwd %.3f ms  bwd %.3f ms  fwd+bwd %.3f ms (best of %d, CPU time)\n",
                   variant ? "sgemm" : "direct", causal ? "causal" : "full  ", best_f, best_b,
                   best_f + best_b, reps);
        }
    }
    xfree(qkv), xfree(dout), xfree(out), xfree(out2), xfree(att), xfree(att2), xfree(dqkv),
        xfree(dqkv2), xfree(work), xfree(work2);
    return 0;
}
