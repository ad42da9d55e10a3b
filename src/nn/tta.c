// tta.c - TENT's entropy and CoTTA's EMA and stochastic restore (see tta.h, docs/distill.md).
#include "nn/tta.h"

#include <math.h>
#include <stdint.h>

#include "core/die.h"
#include "core/nanguard.h"

// log-sum-exp of a row in double, max-subtracted.
static double row_lse(const float *z, int V) {
    double m = -INFINITY, s = 0;
    for (int v = 0; v < V; v++)
        m = fmax(m, (double)z[v]);
    for (int v = 0; v < V; v++)
        s += exp((double)z[v] - m);
    // cppcheck-suppress invalidFunctionArg ; s >= 1: the max term contributes exp(0)
    return m + log(s);
}

// The row's entropy -Σ p log p from its log-sum-exp.
static double row_entropy(const float *z, int V, double lse) {
    double h = 0;
    for (int v = 0; v < V; v++) {
        const double logp = (double)z[v] - lse;
        h -= exp(logp) * logp; // exp underflows to an exact 0 for very negative logp: 0 · finite
    }
    return h;
}

double entropy_forward(const float *z, int N, int V) {
    CHECK(N >= 1 && V >= 1, "entropy_forward: bad shape N=%d V=%d", N, V);
    CHECK_PTR(z);
    double sum = 0;
    for (int n = 0; n < N; n++) {
        const float *zn = z + (size_t)n * V;
        sum += row_entropy(zn, V, row_lse(zn, V));
    }
    return sum / N;
}

void entropy_backward(float *dz, const float *z, int N, int V, double dloss) {
    CHECK(N >= 1 && V >= 1, "entropy_backward: bad shape N=%d V=%d", N, V);
    CHECK_PTR(z);
    if (!dz) return;
    const double c = dloss / N;
    for (int n = 0; n < N; n++) {
        const float *zn = z + (size_t)n * V;
        const double lse = row_lse(zn, V), h = row_entropy(zn, V, lse);
        for (int v = 0; v < V; v++) {
            const double logp = (double)zn[v] - lse;
            dz[(size_t)n * V + v] += (float)(-c * exp(logp) * (logp + h));
        }
    }
    NANGUARD(__func__, "dz", dz, (size_t)N * V);
}

void ema_update(float *teacher, const float *student, size_t n, double a) {
    CHECK(isfinite(a) && a >= 0 && a <= 1, "ema_update: decay a=%g must be finite in [0, 1]", a);
    if (n == 0) return;
    CHECK(teacher && student, "ema_update: NULL buffer (teacher=%p student=%p)", (void *)teacher,
          (const void *)student);
    const double b = 1.0 - a;
    for (size_t i = 0; i < n; i++)
        teacher[i] = (float)(a * (double)teacher[i] + b * (double)student[i]);
    NANGUARD(__func__, "teacher", teacher, n);
}

size_t stochastic_restore(float *params, const float *source, size_t n, double p, Rng *r) {
    CHECK(isfinite(p) && p >= 0 && p <= 1, "stochastic_restore: probability p=%g must be in [0, 1]",
          p);
    CHECK_PTR(r);
    if (n == 0) return 0;
    CHECK(params && source, "stochastic_restore: NULL buffer (params=%p source=%p)", (void *)params,
          (const void *)source);
    // Refuse up front rather than die half-way with some floats restored.
    const uint64_t left = ((uint64_t)1 << 34) - rng_words_drawn(r);
    CHECK((uint64_t)n <= left,
          "stochastic_restore: n=%zu floats need as many words, the stream has %llu left", n,
          (unsigned long long)left);
    size_t restored = 0;
    for (size_t i = 0; i < n; i++) {
        // Compared in double: rng_uniform's 24-bit values are exact, p is not rounded to float.
        if ((double)rng_uniform(r) < p) {
            params[i] = source[i];
            restored++;
        }
    }
    return restored;
}
