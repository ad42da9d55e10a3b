// vec.h - GNU C vector types for the nn/ kernels (gcc and clang), as wide as the target's widest
// float register: gcc 12 at -O2 vectorises only loops whose trip count is a known multiple of the
// vector length and keeps a local accumulator array in memory, so the hot loops say "vector"
// themselves. The width follows the compile flags (AVX-512 with -march=native here, SSE2 in the
// -O1 sanitizer build), so no vector is ever passed in a register the target lacks (-Wpsabi).
#pragma once

#include <string.h>

#if defined(__AVX512F__)
#define VEC_BYTES 64
#elif defined(__AVX__)
#define VEC_BYTES 32
#else
#define VEC_BYTES 16
#endif
#define VEC_F (VEC_BYTES / 4) // floats per vector
#define VEC_D (VEC_BYTES / 8) // doubles per vector

typedef float vfloat __attribute__((vector_size(VEC_BYTES)));
typedef double vdouble __attribute__((vector_size(VEC_BYTES)));
typedef float vfloat_half __attribute__((vector_size(VEC_BYTES / 2))); // VEC_D floats

// Unaligned load/store (memcpy compiles to one vmovups).
static inline vfloat vec_load(const float *p) {
    vfloat v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vec_store(float *p, vfloat v) { memcpy(p, &v, sizeof v); }
// VEC_D floats widened to doubles.
static inline vdouble vec_load_d(const float *p) {
    vfloat_half v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, vdouble);
}
// Σ of the lanes in lane order (a fixed order: results do not depend on the compiler).
static inline double vec_fold_d(vdouble a) {
    double s = 0;
    for (int l = 0; l < VEC_D; l++) s += a[l];
    return s;
}
