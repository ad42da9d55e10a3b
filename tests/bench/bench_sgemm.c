// bench_sgemm.c - OpenBLAS sgemm throughput against the CPU's FP32 peak, for `make bench`.
//
//   bench_sgemm [threads=T] [min_time=S]
//   → `bench sgemm n=<n> threads=<t> gflops=<g> peak_gflops=<p>` for n = 256, 512, 1024
//
// Square row-major C = A·B through sgemm_rm (the path every layer uses), best of 3 timed runs of
// at least min_time/3 seconds each. The peak is clock × cores × FMA units × lanes × 2 flops:
//   lanes   16 floats with AVX-512F, 8 with AVX2+FMA, else 4 (cpuid leaf 7 / leaf 1);
//   units   2 FMA pipes, as on the x86 cores this runs on (Zen 4/5, Skylake-SP gold, Ice Lake);
//   clock   measured with a chain of dependent integer adds (1 cycle each on every x86 core), not
//           read from /proc/cpuinfo, whose MHz is the nominal or a stale value under a hypervisor;
//           timed in thread CPU time, so that other jobs on a shared machine do not slow it;
//   cores   min(threads, online CPUs).
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "tensor/blas.h"

#define FMA_UNITS 2

// FP32 lanes of the widest FMA the CPU (and OS: OSXSAVE is implied by the compiler's runtime
// checks on every kernel we run) supports.
static int fma_lanes(void) {
    unsigned a, b, c, d;
    int fma = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_FMA);
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F)) return 16;
    if (fma && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2)) return 8;
    return 4;
}

// This thread's CPU time in ms: time the clock loop only while it runs, so that a machine shared
// with other jobs does not make the clock look slower.
static double thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Clock in GHz: 200 dependent adds per iteration take 200 cycles (the loop counter is a separate,
// independent chain that runs alongside). Best of 5 runs of ~20 ms, after a warm-up that lets the
// core reach its boost clock.
static double measure_clock_ghz(void) {
    const long iters = 200000;
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        unsigned long x = 0;
        double t0 = thread_cpu_ms();
        for (long i = 0; i < iters; i++)
            __asm__ volatile(".rept 200\n\taddq $1, %0\n\t.endr" : "+r"(x));
        double ms = thread_cpu_ms() - t0;
        CHECK(x == (unsigned long)iters * 200, "measure_clock_ghz: add chain miscounted (%lu)", x);
        double ghz = (double)iters * 200 / (ms * 1e6);
        if (rep > 0 && ghz > best) best = ghz;
    }
    return best;
}

static double time_sgemm(int n, const float *A, const float *Bm, float *C, double min_s) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long calls = 0;
        double t0 = timer_now_ms(), t1;
        do {
            sgemm_rm(0, 0, n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n);
            calls++;
            t1 = timer_now_ms();
        } while ((t1 - t0) < min_s * 1e3);
        double gflops = 2.0 * n * n * (double)n * calls / ((t1 - t0) * 1e6);
        if (gflops > best) best = gflops;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = 1;
    double min_time = 0.3;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "threads=", 8) == 0)
            threads = atoi(argv[i] + 8);
        else if (strncmp(argv[i], "min_time=", 9) == 0)
            min_time = atof(argv[i] + 9);
        else {
            fprintf(stderr, "usage: %s [threads=T] [min_time=S]\n", argv[0]);
            return 2;
        }
    }
    CHECK(threads >= 1, "bench_sgemm: threads=%d must be >= 1", threads);
    blas_set_num_threads(threads);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cores = threads < online ? threads : (int)online;
    int lanes = fma_lanes();
    double ghz = measure_clock_ghz();
    double peak = ghz * cores * FMA_UNITS * lanes * 2;
    printf("# sgemm: core=%s clock_ghz=%.2f (dependent-add loop, thread CPU time) fma_lanes=%d "
           "fma_units=%d "
           "cores=%d\n",
           blas_core_name(), ghz, lanes, FMA_UNITS, cores);

    const int sizes[] = {256, 512, 1024};
    const int nmax = 1024;
    float *A = xcalloc_aligned((size_t)nmax * nmax * sizeof(float));
    float *Bm = xcalloc_aligned((size_t)nmax * nmax * sizeof(float));
    float *C = xcalloc_aligned((size_t)nmax * nmax * sizeof(float));
    Rng r;
    rng_init(&r, 7, 0, 0, RNG_TEST);
    rng_fill_uniform(&r, A, (size_t)nmax * nmax, -1.0f, 1.0f);
    rng_fill_uniform(&r, Bm, (size_t)nmax * nmax, -1.0f, 1.0f);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        double g = time_sgemm(n, A, Bm, C, min_time / 3);
        printf("bench sgemm n=%d threads=%d gflops=%.1f peak_gflops=%.1f\n", n, threads, g, peak);
        fflush(stdout);
    }
    xfree(A), xfree(Bm), xfree(C);
    return 0;
}
