// ties.c - TIES-merging: trim, sign election, disjoint mean (see ties.h).
#include "agg/ties.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

void ties_check_opts(const TiesOpts *o) {
    CHECK_PTR(o);
    CHECK(o->k > 0 && o->k <= 100, "--fedcmp.ties-k = %g: the percent kept must be in (0, 100]",
          o->k);
    CHECK(o->lambda > 0 && isfinite(o->lambda),
          "--fedcmp.ties-lambda = %g: the merge scale must be > 0 and finite", o->lambda);
}

size_t ties_keep_count(double k, size_t n) {
    CHECK(k > 0 && k <= 100, "--fedcmp.ties-k = %g: the percent kept must be in (0, 100]", k);
    CHECK(n >= 1, "n = %zu entries: need >= 1", n);
    const double want = ceil(k * (double)n / 100 * (1 - 1e-12));
    return want < 1 ? 1 : want >= (double)n ? n : (size_t)want;
}

static int cmp_desc(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

size_t ties_trim(float *out, const float *in, size_t n, double k) {
    CHECK(out && in, "NULL buffer (out=%p in=%p)", (void *)out, (const void *)in);
    const size_t m = ties_keep_count(k, n);
    float *mag = xmalloc(n * sizeof *mag);
    for (size_t j = 0; j < n; j++) {
        CHECK(isfinite(in[j]), "delta[%zu] = %g: not finite", j, in[j]);
        mag[j] = fabsf(in[j]);
    }
    qsort(mag, n, sizeof *mag, cmp_desc);
    const float t = mag[m - 1]; // the m-th largest magnitude: the boundary
    size_t above = 0;
    for (size_t j = 0; j < n; j++)
        above += fabsf(in[j]) > t;
    size_t at_t = m - above; // how many entries of magnitude exactly t survive: the lowest indices
    for (size_t j = 0; j < n; j++) {
        const float a = fabsf(in[j]);
        int keep = a > t;
        if (!keep && a == t && at_t > 0) keep = 1, at_t--;
        out[j] = keep ? in[j] : 0.f;
    }
    xfree(mag);
    return m;
}

// v (K) sorted ascending by insertion (K is the number of parties: small).
static void sort_small(double *v, int K) {
    for (int i = 1; i < K; i++) {
        const double x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

// Σ v[0..K) in double with Neumaier's compensation, in the order given (sorted by the caller): a
// cancellation such as 1e30 + 1 − 1e30 keeps the 1, so the elected sign is that of the true sum.
static double sum_compensated(const double *v, int K) {
    double s = 0, comp = 0;
    for (int i = 0; i < K; i++) {
        const double t = s + v[i];
        comp += fabs(s) >= fabs(v[i]) ? (s - t) + v[i] : (v[i] - t) + s;
        s = t;
    }
    return s + comp;
}

void ties_merge(float *out, const float *delta, int K, size_t n, const TiesOpts *o) {
    CHECK(out && delta, "NULL buffer (out=%p delta=%p)", (void *)out, (const void *)delta);
    ties_check_opts(o);
    CHECK(K >= 1, "K = %d party updates: TIES needs >= 1", K);
    CHECK(n >= 1, "n = %zu entries: need >= 1", n);
    float *trim = xmalloc((size_t)K * n * sizeof *trim);
    double *v = xmalloc((size_t)K * sizeof *v);
    for (int t = 0; t < K; t++)
        ties_trim(trim + (size_t)t * n, delta + (size_t)t * n, n, o->k);
    for (size_t j = 0; j < n; j++) {
        for (int t = 0; t < K; t++)
            v[t] = trim[(size_t)t * n + j];
        // Sorted by value, the sums below see the same sequence whatever the parties' order.
        sort_small(v, K);
        const double sum = sum_compensated(v, K);
        // The agreeing values are a contiguous run of the sorted v: the negatives or the positives.
        int lo = 0, hi = 0;
        if (sum < 0)
            while (hi < K && v[hi] < 0)
                hi++;
        else if (sum > 0) {
            lo = hi = K;
            while (lo > 0 && v[lo - 1] > 0)
                lo--;
        }
        out[j] =
            hi > lo ? (float)(o->lambda * (sum_compensated(v + lo, hi - lo) / (hi - lo))) : 0.f;
        CHECK(isfinite(out[j]), "merged entry %zu = %g overflows float (--fedcmp.ties-lambda = %g)",
              j, out[j], o->lambda);
    }
    xfree(v);
    xfree(trim);
}
