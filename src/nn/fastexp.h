// fastexp.h - e^x in plain arithmetic that gcc vectorises (libm's expf is a call it will not
// vectorise), shared by the softmax and gate kernels of src/nn. Cephes expf: x = n·ln2 + r with
// |r| <= ln2/2 (ln2 split in two so that n·ln2 is exact), e^r by its degree-6 polynomial
// (relative error ~1e-7, as expf), 2^n built in the exponent bits. Round-to-nearest by the
// 1.5·2^23 trick (exact without -ffast-math, which we never use); fmaxf and floorf would block
// vectorisation, so the clamps are ternaries.
#pragma once
#include <stdint.h>
#include <string.h>

#include "nn/vec.h"

// e^x with x clamped to [-87, 88], so that 2^n stays a normal float: e^-87 ~ 1e-38 is zero for
// our purposes and e^88 ~ 1.7e38 is finite, which is all a sigmoid needs.
static inline float exp_vec(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// e^x for x <= 0 (softmax after max subtraction). Below -87, e^x < 2e-38 is returned as an exact
// 0, so masked scores (-inf) give exactly zero weight; the row's max term is 1, so nothing the sum
// could notice is lost.
static inline float exp_nonpos(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f; // ln2 split in two parts: the first is exact in float
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; // n >= -126: a normal power of two
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return x >= -87.0f ? y * two_n : 0.0f;
}

// exp_vec on VEC_F lanes: the same operations in the same order, so bit for bit the scalar form
// (finite or infinite x). Written with vector types because GCC 12 does not if-convert the clamps
// of the scalar form (with trapping math a float compare may trap), so a plain loop over exp_vec
// stays scalar ("control flow in loop", seen on an AVX2 build): the clamps become
// compare-and-select here.
typedef int32_t vint __attribute__((vector_size(VEC_BYTES)));
static inline vfloat vsel(vint m, vfloat a, vfloat b) { // m ? a : b, lane by lane
    return (vfloat)((m & (vint)a) | (~m & (vint)b));
}
static inline vfloat exp_vecv(vfloat x) {
    const vfloat zero = {0}, lo = zero - 87.0f, hi = zero + 88.0f;
    x = vsel(x < lo, lo, x);
    x = vsel(x > hi, hi, x);
    vfloat n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vfloat r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vfloat p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const vint bits = (__builtin_convertvector(n, vint) + 127) << 23;
    return p * (vfloat)bits;
}

// exp_nonpos on 8 lanes (a fixed width, not VEC_F: softmax_row's partial sums are 8 wide on every
// target), the same operations in the same order as the scalar form.
typedef float vfloat8 __attribute__((vector_size(32)));
typedef int32_t vint8 __attribute__((vector_size(32)));
static inline vfloat8 vsel8(vint8 m, vfloat8 a, vfloat8 b) { // m ? a : b, lane by lane
    return (vfloat8)((m & (vint8)a) | (~m & (vint8)b));
}
static inline vfloat8 exp_nonpos8(vfloat8 x) {
    const vfloat8 zero = {0}, lo = zero - 87.0f;
    const vfloat8 xc = vsel8(x < lo, lo, x);
    vfloat8 n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vfloat8 r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    vfloat8 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const vfloat8 y = p * r * r + r + 1.0f;
    const vint8 bits = (__builtin_convertvector(n, vint8) + 127) << 23;
    return vsel8(x >= lo, y * (vfloat8)bits, zero);
}
