// exact.h - exact, order-independent sums for aggregation (docs/conventions.md §10).
//
// Floating-point addition is not associative, so an MPI_SUM over floats depends on the reduction
// tree, on -np and on which rank hosts which party. Here every term weight·x[i] is rounded once to
// fixed point, ldexp(weight·x[i], e) → int64, and the int64 sums are exact: any grouping, any
// order, any number of ranks gives the same bits. The exponent e comes from a bound on Σ|terms| (a
// max over parties, itself exact under MPI_MAX) so that the total cannot overflow; the resolution
// is 2^-e. Pure arithmetic: the reductions of the accumulators are comm/comm.h's
// comm_reduce_sum_i64 and comm_allreduce_sum_i64.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Largest e such that a sum of terms with Σ|term| <= bound fits in int64 with a factor-4 margin,
// capped at EXACT_MAX_EXPONENT. bound must be finite and >= 0.
#define EXACT_MAX_EXPONENT 80
int exact_exponent(double bound);

// acc[i] += round(ldexp(weight * x[i], e)). CHECKs that x is finite and that nothing overflows.
// weight·x is exact in double for integer weights below 2^29 (float has a 24-bit mantissa). Local.
void exact_add(int64_t *acc, const float *x, double weight, size_t n, int e);
// acc[i] = round(ldexp(weight * x[i], e)): exact_add into zeros, in one pass. Local.
void exact_set(int64_t *acc, const float *x, double weight, size_t n, int e);
// dst = x; returns 1 when every term weight·x[i] at exponent e takes exact_add's fast path (e >= 0,
// finite, |weight·x[i]·2^e| < 2^51), so that exact_add of x cannot fail. Local.
int exact_copy_fast(float *dst, const float *x, double weight, size_t n, int e);
// exact_add(acc, x, weight, n, e) (exact_set when set) for a vector that exact_copy_fast
// accepted, with ws = weight·2^e: no per-call set-up and no checks, for short runs of columns
// (comm/sum.c). The caller guarantees what exact_copy_fast found, and that the sums stay within
// int64 (exact_exponent's bound does); otherwise the bits are wrong, silently.
void exact_add_scaled(int64_t *acc, const float *x, double ws, size_t n, int set);
// The same for double terms (prototype sums, statistics).
void exact_add_f64(int64_t *acc, const double *x, double weight, size_t n, int e);
// out[i] = ldexp(acc[i], -e) / divisor, in double then rounded once to float, for e in
// [-1023, 1022] (CHECKed). Local.
void exact_to_float(float *out, const int64_t *acc, size_t n, int e, double divisor);
void exact_to_double(double *out, const int64_t *acc, size_t n, int e, double divisor);
