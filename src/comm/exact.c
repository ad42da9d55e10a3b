// exact.c - fixed-point int64 sums that do not depend on order or -np (see exact.h).
#include "comm/exact.h"

#include <limits.h>
#include <math.h>

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

void exact_add(int64_t *acc, const float *x, double weight, size_t n, int e) {
    CHECK_PTR(acc);
    CHECK_PTR(x);
    CHECK(isfinite(weight), "weight = %g", weight);
    double scale = fixed_scale(e);
    for (size_t i = 0; i < n; i++)
        add_checked(acc, to_fixed(weight * (double)x[i], scale, e, "x", i), i);
}

void exact_add_f64(int64_t *acc, const double *x, double weight, size_t n, int e) {
    CHECK_PTR(acc);
    CHECK_PTR(x);
    CHECK(isfinite(weight), "weight = %g", weight);
    double scale = fixed_scale(e);
    for (size_t i = 0; i < n; i++)
        add_checked(acc, to_fixed(weight * x[i], scale, e, "x", i), i);
}

void exact_to_double(double *out, const int64_t *acc, size_t n, int e, double divisor) {
    CHECK_PTR(out);
    CHECK_PTR(acc);
    CHECK(divisor != 0 && isfinite(divisor), "divisor = %g", divisor);
    for (size_t i = 0; i < n; i++)
        out[i] = ldexp((double)acc[i], -e) / divisor;
}

void exact_to_float(float *out, const int64_t *acc, size_t n, int e, double divisor) {
    CHECK_PTR(out);
    CHECK_PTR(acc);
    CHECK(divisor != 0 && isfinite(divisor), "divisor = %g", divisor);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(ldexp((double)acc[i], -e) / divisor);
}
