// exact.c - fixed-point int64 sums that do not depend on order or -np (see exact.h).
#include "comm/exact.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"

int exact_exponent(double bound) {
    CHECK(isfinite(bound) && bound >= 0, "bound = %g must be finite and >= 0", bound);
    if (bound == 0) return EXACT_MAX_EXPONENT;
    int exp2;
    frexp(bound, &exp2); // bound < 2^exp2
    int e = 61 - exp2;   // bound · 2^e < 2^61: a factor-4 margin below 2^63 for rounding
    return MIN(e, EXACT_MAX_EXPONENT);
}

// 2^e for the terms of one call: a product with a power of two is exact (correctly rounded when
// subnormal), so term * scale has the bits of ldexp(term, e) without a libm call per element
// (exact_add runs over every parameter once per party and round).
static double fixed_scale(int e) {
    CHECK(e >= -1022 && e <= 1023, "exponent %d outside [-1022, 1023]", e);
    return ldexp(1.0, e);
}

static int64_t to_fixed(double term, double scale, int e, const char *what, size_t i) {
    double v = nearbyint(term * scale);
    CHECK(isfinite(term) && fabs(v) < 0x1p62, "%s[%zu]: term %g does not fit at exponent %d", what,
          i, term, e);
    return (int64_t)v;
}

static void add_checked(int64_t *acc, int64_t v, size_t i) {
    int64_t r;
    CHECK(!__builtin_add_overflow(acc[i], v, &r), "accumulator[%zu] overflows int64", i);
    acc[i] = r;
}

// The fast path works in blocks of BLOCK terms (a fixed trip count, so that -O2's vectoriser takes
// the loops; AVX2 has no double <-> int64 conversion, hence the bit tricks). A block that fails
// any check is redone by the scalar path, which gives the same bits for valid terms and names the
// failing index otherwise.
#define BLOCK 256
#define ROUND_MAGIC 0x1.8p52 // t + 1.5·2^52, |t| < 2^51: rounds t to an integer, in [2^52, 2^53]
#define ROUND_MAGIC_BITS 0x4338000000000000LL // the bits of 1.5·2^52
#define FAST_LIMIT 0x1p51

static inline int64_t bits_of(double d) {
    int64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static inline double double_of(int64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

// One term of the fast path: round(ws·x) through the 1.5·2^52 trick (see add_block_fast).
static inline int64_t fast_term(double t) { // unsigned: a bad term must not overflow either
    return (int64_t)((uint64_t)bits_of(t + ROUND_MAGIC) - (uint64_t)ROUND_MAGIC_BITS);
}

// acc[0..BLOCK) += round(ws·x) (= when set) when every |ws·x| < 2^51 and no sum overflows;
// returns 0 and leaves acc as it was otherwise (when set: as garbage, which the scalar path
// overwrites). The rounding is nearbyint's: adding 1.5·2^52 rounds at the unit in the current
// (round-to-nearest-even) mode, and between 2^52 and 2^53 the bits of a double count its integer
// value, so the difference of the bits is round(t) exactly. The sums go straight to acc; a failed
// block subtracts the same terms again (the wrap-around of unsigned sums undoes exactly). Always
// inlined, so that each caller's constant set gives a loop of its own.
static inline __attribute__((always_inline)) int
add_block_fast(int64_t *restrict acc, const float *restrict x, double ws, int set) {
    uint64_t bad = 0;
    for (int j = 0; j < BLOCK; j++) {
        double t = ws * (double)x[j];
        bad |= !(fabs(t) < FAST_LIMIT); // also NaN and ±inf
        uint64_t v = (uint64_t)fast_term(t), a = set ? 0 : (uint64_t)acc[j], r = a + v;
        if (!set) bad |= ((a ^ r) & (v ^ r)) >> 63; // signed overflow of acc + v
        acc[j] = (int64_t)r;
    }
    if (!bad) return 1;
    if (!set)
        for (int j = 0; j < BLOCK; j++)
            acc[j] = (int64_t)((uint64_t)acc[j] - (uint64_t)fast_term(ws * (double)x[j]));
    return 0;
}

// exact_add, or exact_set when set.
static void accumulate(int64_t *acc, const float *x, double weight, size_t n, int e, int set) {
    CHECK_PTR(acc);
    CHECK_PTR(x);
    CHECK(isfinite(weight), "weight = %g", weight);
    double scale = fixed_scale(e);
    // (weight·2^e)·x has the bits of (weight·x)·2^e, one product less per term: scaling by a power
    // of two commutes with rounding while nothing overflows or turns subnormal, and with e >= 0 a
    // term that could (|weight·x| < 2^-1022) rounds to 0 either way. Otherwise the blocks take the
    // scalar path.
    double ws = weight * scale;
    int fast = e >= 0 && isfinite(ws);
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t m = MIN((size_t)BLOCK, n - b);
        if (fast && m == BLOCK &&
            (set ? add_block_fast(acc + b, x + b, ws, 1) : add_block_fast(acc + b, x + b, ws, 0)))
            continue;
        if (fast && m < BLOCK) { // the tail, padded with zero terms to a block
            float xt[BLOCK] = {0};
            int64_t at[BLOCK] = {0};
            memcpy(xt, x + b, m * sizeof *xt);
            if (!set) memcpy(at, acc + b, m * sizeof *at);
            if (add_block_fast(at, xt, ws, 0)) {
                memcpy(acc + b, at, m * sizeof *at);
                continue;
            }
        }
        for (size_t i = b; i < b + m; i++) {
            if (set) acc[i] = 0;
            add_checked(acc, to_fixed(weight * (double)x[i], scale, e, "x", i), i);
        }
    }
}

void exact_add(int64_t *acc, const float *x, double weight, size_t n, int e) {
    accumulate(acc, x, weight, n, e, 0);
}

void exact_set(int64_t *acc, const float *x, double weight, size_t n, int e) {
    accumulate(acc, x, weight, n, e, 1);
}

// The largest float f with |ws·f| < 2^51 in double, the fast path's test: the rounded product is
// monotone in |x|, so that test is |x| <= f, one float comparison (NaN and ±inf fail it).
static float fast_limit_float(double ws) {
    double a = fabs(ws);
    if (a == 0) return FLT_MAX;
    double g = FAST_LIMIT / a;
    float f = g >= FLT_MAX ? FLT_MAX : (float)g;
    while (f > 0 && !(a * (double)f < FAST_LIMIT)) // a few steps at most: g is within ulps
        f = nextafterf(f, 0);
    while (f < FLT_MAX && a * (double)nextafterf(f, INFINITY) < FAST_LIMIT)
        f = nextafterf(f, INFINITY);
    return f;
}

// d[0..BLOCK) = x; nonzero when some |x| > lim.
static uint32_t copy_block_fast(float *restrict d, const float *restrict x, float lim) {
    uint32_t bad = 0;
    for (int j = 0; j < BLOCK; j++) {
        bad |= !(fabsf(x[j]) <= lim);
        d[j] = x[j];
    }
    return bad;
}

int exact_copy_fast(float *dst, const float *x, double weight, size_t n, int e) {
    CHECK_PTR(dst);
    CHECK_PTR(x);
    double ws = weight * fixed_scale(e);
    if (!(e >= 0 && isfinite(ws))) return 0;
    float lim = fast_limit_float(ws);
    uint32_t bad = 0;
    size_t b = 0;
    for (; b + BLOCK <= n; b += BLOCK)
        bad |= copy_block_fast(dst + b, x + b, lim);
    if (b < n) { // the tail, padded with zeros to a block
        float xt[BLOCK] = {0}, dt[BLOCK];
        memcpy(xt, x + b, (n - b) * sizeof *xt);
        bad |= copy_block_fast(dt, xt, lim);
        memcpy(dst + b, xt, (n - b) * sizeof *xt);
    }
    return !bad;
}

// acc[0..BLOCK) += (= when set) round(ws·x) for terms known to take the fast path: no checks.
static inline __attribute__((always_inline)) void
scaled_block(int64_t *restrict acc, const float *restrict x, double ws, int set) {
    for (int j = 0; j < BLOCK; j++) {
        uint64_t v = (uint64_t)fast_term(ws * (double)x[j]);
        acc[j] = (int64_t)(set ? v : (uint64_t)acc[j] + v);
    }
}

void exact_add_scaled(int64_t *acc, const float *x, double ws, size_t n, int set) {
    size_t b = 0;
    for (; b + BLOCK <= n; b += BLOCK)
        if (set)
            scaled_block(acc + b, x + b, ws, 1);
        else
            scaled_block(acc + b, x + b, ws, 0);
    if (b == n) return;
    float xt[BLOCK] = {0};
    int64_t at[BLOCK] = {0};
    memcpy(xt, x + b, (n - b) * sizeof *xt);
    if (!set) memcpy(at, acc + b, (n - b) * sizeof *at);
    scaled_block(at, xt, ws, 0);
    memcpy(acc + b, at, (n - b) * sizeof *at);
}

void exact_add_f64(int64_t *acc, const double *x, double weight, size_t n, int e) {
    CHECK_PTR(acc);
    CHECK_PTR(x);
    CHECK(isfinite(weight), "weight = %g", weight);
    double scale = fixed_scale(e);
    for (size_t i = 0; i < n; i++)
        add_checked(acc, to_fixed(weight * x[i], scale, e, "x", i), i);
}

// (double)v, correctly rounded as a conversion instruction would: the high and low 32-bit halves
// are exact doubles (through the same bit trick), and their sum is rounded once.
static inline double to_double(int64_t v) {
    double hi = double_of((v >> 32) + ROUND_MAGIC_BITS) - ROUND_MAGIC;
    double lo = double_of((int64_t)((uint64_t)v & 0xffffffffu) | 0x4330000000000000LL) - 0x1p52;
    return hi * 0x1p32 + lo;
}

// Nonzero when |a| >= 2^51 (a + 2^51 outside [0, 2^52)), where fast_real does not hold. Unsigned
// sums: no overflow near INT64_MAX.
static inline uint64_t outside_fast(int64_t a) { return ((uint64_t)a + ((uint64_t)1 << 51)) >> 52; }

// a · s for |a| < 2^51: the add's bit trick backwards, exact.
static inline double fast_real(int64_t a, double s) {
    return (double_of((int64_t)((uint64_t)a + ROUND_MAGIC_BITS)) - ROUND_MAGIC) * s;
}

// d[0..BLOCK) = a · s in one pass when every |a| < 2^51; returns 0 otherwise, with d to be
// overwritten.
static int to_real_fast(double *restrict d, const int64_t *restrict a, double s) {
    uint64_t out = 0;
    for (int j = 0; j < BLOCK; j++) {
        out |= outside_fast(a[j]);
        d[j] = fast_real(a[j], s);
    }
    return out == 0;
}

// d[0..m) = ldexp(acc[i], -e) / divisor with s = 2^-e: the product is ldexp's exact result (never
// subnormal: |acc| >= 1 and e <= 1022; an overflow is ±inf in both). Blocks have a fixed trip
// count for the vectoriser (the tail is padded to one). Dividing by 1 changes no bits, and the
// division is most of the cost, so the driver's usual divisor 1 skips it; so does the one-trick
// conversion of a block whose values are all below 2^51, the usual case, which gives the same bits.
static void to_real(double *restrict d, const int64_t *restrict a, size_t m, double s,
                    double divisor) {
    if (m < BLOCK) { // the tail, padded with zeros to a block
        int64_t at[BLOCK] = {0};
        double dt[BLOCK];
        memcpy(at, a, m * sizeof *at);
        to_real(dt, at, BLOCK, s, divisor);
        memcpy(d, dt, m * sizeof *d);
        return;
    }
    if (divisor == 1.0 && to_real_fast(d, a, s)) return;
    if (divisor == 1.0)
        for (int j = 0; j < BLOCK; j++)
            d[j] = to_double(a[j]) * s;
    else
        for (int j = 0; j < BLOCK; j++)
            d[j] = to_double(a[j]) * s / divisor;
}

static double check_to_real(const void *out, const int64_t *acc, int e, double divisor) {
    CHECK_PTR(out);
    CHECK_PTR(acc);
    CHECK(divisor != 0 && isfinite(divisor), "divisor = %g", divisor);
    CHECK(e >= -1023 && e <= 1022, "exponent %d outside [-1023, 1022]", e);
    return ldexp(1.0, -e);
}

void exact_to_double(double *out, const int64_t *acc, size_t n, int e, double divisor) {
    double s = check_to_real(out, acc, e, divisor);
    for (size_t b = 0; b < n; b += BLOCK)
        to_real(out + b, acc + b, MIN((size_t)BLOCK, n - b), s, divisor);
}

// o[0..BLOCK) = (float)(a · s) when every |a| < 2^51 (one bit trick, exact, then one rounding);
// returns 0 otherwise, with o to be overwritten.
static int to_float_fast(float *restrict o, const int64_t *restrict a, double s) {
    uint64_t out = 0;
    for (int j = 0; j < BLOCK; j++) {
        out |= outside_fast(a[j]);
        o[j] = (float)fast_real(a[j], s);
    }
    return out == 0;
}

void exact_to_float(float *out, const int64_t *acc, size_t n, int e, double divisor) {
    double s = check_to_real(out, acc, e, divisor), d[BLOCK];
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t m = MIN((size_t)BLOCK, n - b);
        if (m == BLOCK && divisor == 1.0 && to_float_fast(out + b, acc + b, s)) continue;
        to_real(d, acc + b, m, s, divisor);
        float *restrict o = out + b;
        if (m == BLOCK)
            for (int j = 0; j < BLOCK; j++)
                o[j] = (float)d[j];
        else
            for (size_t j = 0; j < m; j++)
                o[j] = (float)d[j];
    }
}
