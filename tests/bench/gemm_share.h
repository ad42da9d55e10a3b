// gemm_share.h - the `sgemm_share` of a training step (bench_mm_large.c, bench_mllm.c): the list
// of the step's matrix products (shape, transposes, how often) and the time plain sgemm_rm calls
// take for one pass over it. sgemm_share = that time / the step's time: the step's speed as a
// fraction of what sgemm alone reaches at the same shapes (1 = the step is nothing but its GEMMs,
// run as fast as OpenBLAS runs them one call at a time).
#pragma once

#include <string.h>
#include <time.h>

#include "core/die.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "tensor/blas.h"

#define GEMM_LIST_MAX 96

// The benches' clock in ms: at 1 thread this thread's CPU time (everything runs on it, OpenBLAS
// included, and time spent descheduled by other jobs on a shared machine does not count), else
// wall-clock time (OpenBLAS's own threads do not count in this thread's CPU time).
static int bench_clock_threads = 1;
static inline double bench_clock_ms(void) {
    if (bench_clock_threads > 1) return timer_now_ms();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

typedef struct {
    int ta, tb, M, N, K, count;
} Gemm;
typedef struct {
    Gemm g[GEMM_LIST_MAX];
    int n;
} GemmList;

// One shape: op(A) (M, K) · op(B) (K, N), count times per step.
static inline void gemm_add(GemmList *l, int ta, int tb, int M, int N, int K, int count) {
    CHECK(l->n < GEMM_LIST_MAX, "gemm_add: more than %d GEMM shapes", GEMM_LIST_MAX);
    if (M > 0 && N > 0 && K > 0 && count > 0) l->g[l->n++] = (Gemm){ta, tb, M, N, K, count};
}

static inline double gemm_flops(const GemmList *l) {
    double f = 0;
    for (int i = 0; i < l->n; i++)
        f += 2.0 * l->g[i].M * l->g[i].N * l->g[i].K * l->g[i].count;
    return f;
}

// Buffers big enough for any of the list's operands, filled with small non-zero values.
typedef struct {
    float *A, *B, *C;
} GemmBufs;

static inline void gemm_bufs_init(GemmBufs *b, const GemmList *l) {
    size_t big = 1;
    for (int i = 0; i < l->n; i++) {
        const Gemm *g = &l->g[i];
        size_t a = (size_t)g->M * g->K, bb = (size_t)g->K * g->N, c = (size_t)g->M * g->N;
        big = a > big ? a : big, big = bb > big ? bb : big, big = c > big ? c : big;
    }
    b->A = xcalloc_aligned(big * sizeof(float));
    b->B = xcalloc_aligned(big * sizeof(float));
    b->C = xcalloc_aligned(big * sizeof(float));
    for (size_t i = 0; i < big; i++)
        b->A[i] = 0.01f * (float)(i % 97), b->B[i] = 0.02f * (float)(i % 89);
}

static inline void gemm_bufs_free(GemmBufs *b) { xfree(b->A), xfree(b->B), xfree(b->C); }

// Time in ms of one pass over the list's sgemm_rm calls (C = op(A)·op(B), beta 0).
static inline double gemm_pass_ms(const GemmList *l, const GemmBufs *b) {
    double t0 = bench_clock_ms();
    for (int i = 0; i < l->n; i++) {
        const Gemm *g = &l->g[i];
        int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
        for (int k = 0; k < g->count; k++)
            sgemm_rm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, b->A, lda, b->B, ldb, 0.0f, b->C, g->N);
    }
    return bench_clock_ms() - t0;
}
