// bench_sgemm.c - OpenBLAS sgemm throughput against the CPU's FP32 peak, for `make bench`.
//
//   bench_sgemm [threads=T] [min_time=S]
//   → `# sgemm: ...` (the clock, how it was measured, the peak's factors)
//     `bench sgemm n=<n> threads=<t> gflops=<g> peak_gflops=<p> share_of_peak=<g/p>` for n = 256,
//     512, 1024
//
// Square row-major C = A·B through sgemm_rm (the path every layer uses), best of 3 timed runs of
// at least min_time/3 seconds each, on gemm_share.h's clock (thread CPU time at threads=1, so the
// figure holds on a shared machine; wall-clock otherwise). The peak is clock × cores × FMA units ×
// lanes × 2 flops:
//   lanes   16 floats with AVX-512F, 8 with AVX2+FMA, else 4 (cpuid leaf 7 / leaf 1); 4 on Zen 1
//           and Zen+ (AMD family 17h below model 30h), whose 256-bit FMAs issue as two 128-bit
//           halves;
//   units   2 FMA pipes, as on the x86 cores this runs on (Zen 2-5, Haswell and later client
//           cores, Skylake-SP gold, Ice Lake);
//   cores   min(threads, online CPUs);
//   clock   measured: a chain of dependent vfmadd231ps (each waits for the previous result, so the
//           chain takes exactly n × latency cycles however wide the core is; inline asm, so the
//           compiler cannot fold or reorder it), timed in thread CPU time (other jobs on a shared
//           machine do not slow it; preemption by a hypervisor can only make the clock look
//           slower, never faster). The FMA latency comes from the CPU's vendor, family and model:
//           AMD Zen 1/+/2 (family 17h) 5 cycles, Zen 3/4 (19h) and Zen 5 (1Ah) 4; Intel Haswell and
//           Broadwell 5, Skylake and later 4. An unknown CPU gets the range 4-5 cycles: the clock
//           is reported as a range and the peak uses its top (a share of peak never overstated).
//           Without FMA the chain is dependent addps (latency 3 on the same cores, 4 on Skylake).
//           The former dependent integer-add loop was fooled (clock_ghz=24.30 on one host: cores
//           that fold or eliminate `add reg, imm` at rename run such a chain far faster than one
//           add a cycle).
//   check   against the kernel's figure: /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq
//           (the boost ceiling), else scaling_cur_freq, else /proc/cpuinfo "cpu MHz" (often the
//           nominal clock, or the host's TSC under a hypervisor). The rule: the measured clock is
//           used whenever it lies in the physical bounds [0.5, 6.5] GHz; otherwise the kernel's
//           (when it is in bounds). When the two differ by more than 30 %, the `#` line says so
//           and which one the peak uses.

#include <cpuid.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "gemm_share.h" // bench_clock_ms
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

// FMA latency in cycles from cpuid's vendor, family and model: *lo = *hi when known, else 4..5.
// Without FMA: the latency of a dependent addps (3, 4 on Skylake and later Intel cores).
static void chain_latency(int have_fma, int *lo, int *hi, char *what, size_t cap) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    char vendor[13] = {0};
    __get_cpuid(0, &a, &b, &c, &d);
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned fam = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (fam == 0xf) fam += (a >> 20) & 0xff;
    if (fam == 0x6 || fam == 0xf) model |= ((a >> 16) & 0xf) << 4;
    *lo = 4, *hi = 5;
    const char *uarch = "unknown";
    if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine")) {
        if (fam == 0x17) *lo = *hi = 5, uarch = model < 0x30 ? "Zen 1/Zen+" : "Zen 2";
        if (fam == 0x19) // Zen 3: models 00h-0Fh and 20h-5Fh; Zen 4: the others
            *lo = *hi = 4,
            uarch = model < 0x10 || (model >= 0x20 && model < 0x60) ? "Zen 3" : "Zen 4";
        if (fam == 0x1a) *lo = *hi = 4, uarch = "Zen 5";
    } else if (!strcmp(vendor, "GenuineIntel") && fam == 6) {
        static const unsigned hsw_bdw[] = {0x3c, 0x3f, 0x45, 0x46, 0x3d, 0x47, 0x4f, 0x56};
        for (size_t i = 0; i < sizeof hsw_bdw / sizeof hsw_bdw[0]; i++)
            if (model == hsw_bdw[i]) *lo = *hi = 5, uarch = "Haswell/Broadwell";
        if (*lo == 4 && model >= 0x4e) *lo = *hi = 4, uarch = "Skylake or later";
    }
    if (!have_fma) { // addps: 3 cycles, 4 on Skylake and later Intel cores
        *lo = 3, *hi = strcmp(uarch, "Skylake or later") == 0 ? 4 : 3;
        if (!strcmp(uarch, "unknown")) *hi = 4;
    }
    snprintf(what, cap, "%s family %xh model %xh (%s)", vendor, fam, model, uarch);
}

// Cycles of the dependent chain per iteration.
#define CHAIN_LEN 256

// Thread CPU ms of `iters` iterations of CHAIN_LEN dependent vfmadd231ps (or addps without FMA).
__attribute__((target("avx2,fma"))) static double fma_chain_ms(long iters) {
    double t0 = thread_cpu_ms();
    __asm__ volatile("vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
                     "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
                     "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
                     "1:\n\t"
                     ".rept 256\n\t"
                     "vfmadd231ps %%ymm1, %%ymm2, %%ymm0\n\t"
                     ".endr\n\t"
                     "dec %0\n\t"
                     "jnz 1b"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "cc");
    return thread_cpu_ms() - t0;
}
static double add_chain_ms(long iters) {
    double t0 = thread_cpu_ms();
    __asm__ volatile("xorps %%xmm0, %%xmm0\n\t"
                     "xorps %%xmm1, %%xmm1\n\t"
                     "1:\n\t"
                     ".rept 256\n\t"
                     "addps %%xmm1, %%xmm0\n\t"
                     ".endr\n\t"
                     "dec %0\n\t"
                     "jnz 1b"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "cc");
    return thread_cpu_ms() - t0;
}

// Chain instructions per ns (= GHz / latency): best of 5 runs of ~20 ms after a warm-up run that
// lets the core reach its boost clock.
static double chain_rate(int have_fma) {
    const long iters = 100000;
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        double ms = have_fma ? fma_chain_ms(iters) : add_chain_ms(iters);
        double rate = (double)iters * CHAIN_LEN / (ms * 1e6);
        if (rep > 0 && rate > best) best = rate;
    }
    return best;
}

// The kernel's clock in GHz and where it came from; 0 when none is readable.
static double kernel_ghz(const char **src) {
    static const char *files[] = {"/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
                                  "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        long khz = 0;
        if (!f) continue;
        int ok = fscanf(f, "%ld", &khz) == 1;
        fclose(f);
        if (ok && khz > 0) {
            *src = i == 0 ? "cpuinfo_max_freq" : "scaling_cur_freq";
            return khz * 1e-6;
        }
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') + 1, "%lf", &mhz) == 1) break;
    if (f) fclose(f);
    *src = "/proc/cpuinfo cpu MHz";
    return mhz * 1e-3;
}

static int in_bounds(double ghz) { return ghz >= 0.5 && ghz <= 6.5; }

static double time_sgemm(int n, const float *A, const float *Bm, float *C, double min_s) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long calls = 0;
        double t0 = bench_clock_ms(), t1;
        do {
            sgemm_rm(0, 0, n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n);
            calls++;
            t1 = bench_clock_ms();
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
    bench_clock_threads = threads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cores = threads < online ? threads : (int)online;
    int lanes = fma_lanes();
    unsigned a, b, c, d;
    int have_fma = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_FMA);
    int lat_lo, lat_hi;
    char cpu[160];
    chain_latency(have_fma, &lat_lo, &lat_hi, cpu, sizeof cpu);
    if (strstr(cpu, "Zen 1/Zen+") && lanes == 8) lanes = 4; // 128-bit FMA datapath
    double rate = chain_rate(have_fma);
    double ghz_lo = rate * lat_lo, ghz_hi = rate * lat_hi; // the clock for each latency
    const char *ksrc = "none";
    double kghz = kernel_ghz(&ksrc);
    // The rule (header): the measured clock when in bounds, else the kernel's.
    double ghz = ghz_hi;
    const char *used = "measured";
    if (!in_bounds(ghz_hi) && in_bounds(kghz))
        ghz = kghz, used = "kernel's (measured out of bounds)";
    double peak = ghz * cores * FMA_UNITS * lanes * 2;
    char clock[64];
    if (lat_lo == lat_hi)
        snprintf(clock, sizeof clock, "%.2f", ghz_hi);
    else
        snprintf(clock, sizeof clock, "%.2f-%.2f", ghz_lo, ghz_hi);
    char lat[16];
    if (lat_lo == lat_hi)
        snprintf(lat, sizeof lat, "%d", lat_lo);
    else
        snprintf(lat, sizeof lat, "%d-%d", lat_lo, lat_hi);
    printf("# sgemm: core=%s clock_ghz=%s (dependent %s chain, latency %s cycles, thread CPU "
           "time; %s) fma_lanes=%d fma_units=%d cores=%d\n",
           blas_core_name(), clock, have_fma ? "vfmadd231ps" : "addps", lat, cpu, lanes, FMA_UNITS,
           cores);
    double diff = kghz > 0 ? fabs(ghz_hi - kghz) / kghz : 0;
    printf("# sgemm: kernel clock %.2f GHz (%s)%s; the peak uses the %s clock, %.2f GHz\n", kghz,
           ksrc,
           kghz <= 0    ? ": unreadable"
           : diff > 0.3 ? ", more than 30 % from the measured one"
                        : ", within 30 % of the measured one",
           used, ghz);
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
        printf("bench sgemm n=%d threads=%d gflops=%.1f peak_gflops=%.1f share_of_peak=%.2f\n", n,
               threads, g, peak, g / peak);
        fflush(stdout);
    }
    xfree(A), xfree(Bm), xfree(C);
    return 0;
}
