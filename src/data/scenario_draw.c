// scenario_draw.c - the random draws and integer shares under the scenario split (scenario_impl.h):
// Gamma and Dirichlet draws from a given Philox stream, largest-remainder apportioning, and the
// bit helpers of modality masks. Callers choose the stream (scenario.c's tags); nothing here
// draws from a stream of its own, so the split stays a pure function of (data, config, seed).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "data/scenario_impl.h"

// Uniform in (0, 1) with 32 bits: never 0, so logs and powers are safe.
static double unit_open(Rng *r) { return ((double)rng_u32(r) + 0.5) / 4294967296.0; }

// Gamma(a, 1): Marsaglia and Tsang (2000); a < 1 by Gamma(a+1) * U^(1/a).
static double gamma_draw(Rng *r, double a) {
    if (a < 1.0) return gamma_draw(r, a + 1.0) * pow(unit_open(r), 1.0 / a);
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = unit_open(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

// p (k) = Dirichlet(a, ..., a), written.
void scn_dirichlet_draw(Rng *r, double a, double *p, int k) {
    double sum = 0;
    for (int i = 0; i < k; i++)
        sum += p[i] = gamma_draw(r, a);
    // a tiny alpha can underflow every gamma draw: fall back to one party taking all
    if (!(sum > 0)) {
        for (int i = 0; i < k; i++)
            p[i] = 0;
        p[rng_below(r, (uint32_t)k)] = 1;
        return;
    }
    for (int i = 0; i < k; i++)
        p[i] /= sum;
}

typedef struct {
    double frac;
    int i;
} FracIdx;

static int by_frac_desc(const void *a, const void *b) {
    const FracIdx *x = a, *y = b;
    if (x->frac != y->frac) return x->frac > y->frac ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

// count (k) = min + largest-remainder share of total - k*min by weights w (sum > 0). Written.
void scn_apportion(int64_t *count, const double *w, int k, int64_t total, int64_t min) {
    double wsum = 0;
    for (int i = 0; i < k; i++)
        wsum += w[i];
    int64_t rest = total - (int64_t)k * min, given = 0;
    double *frac = xmalloc((size_t)k * sizeof *frac);
    for (int i = 0; i < k; i++) {
        double share = (double)rest * w[i] / wsum;
        count[i] = (int64_t)floor(share);
        frac[i] = share - (double)count[i];
        given += count[i];
    }
    // hand out what flooring left (< k), largest fraction first (ties: lower party), deterministic;
    // a sort, not a scan per unit, which was O(k^2) and took seconds at 10^4 parties
    int64_t left = rest - given;
    if (left > 0) {
        FracIdx *order = xmalloc((size_t)k * sizeof *order);
        for (int i = 0; i < k; i++)
            order[i] = (FracIdx){frac[i], i};
        qsort(order, (size_t)k, sizeof *order, by_frac_desc);
        for (int64_t j = 0; j < left; j++) // past k (rounding) the scan gave party 0 the rest
            count[j < k ? order[j].i : 0]++;
        free(order);
    }
    for (int i = 0; i < k; i++)
        count[i] += min;
    free(frac);
}

int scn_popcount8(unsigned x) {
    int c = 0;
    for (; x; x &= x - 1)
        c++;
    return c;
}

// The j-th set bit of mask (j < popcount).
int scn_nth_bit(unsigned mask, int j) {
    for (int m = 0; m < 8; m++)
        if ((mask >> m) & 1u) {
            if (j == 0) return m;
            j--;
        }
    return -1;
}
