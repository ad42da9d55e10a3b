// order.c - positions by key descending, ties by position (see order.h).
#include "core/order.h"

#include <math.h>
#include <string.h>

#include "core/die.h"

// a before b: the larger key, then the lower position. A total order, so any correct sort gives the
// same sequence.
static int before(const double *key, uint32_t a, uint32_t b) {
    double ka = key[a], kb = key[b];
    return ka > kb || (ka == kb && a < b);
}

void order_desc(uint32_t *idx, uint32_t *tmp, const double *key, size_t n) {
    CHECK(n <= UINT32_MAX, "n = %zu: positions are uint32", n);
    if (n == 0) return;
    CHECK(idx && tmp && key, "NULL buffer");
    for (size_t i = 0; i < n; i++) {
        CHECK(!isnan(key[i]), "key[%zu] is NaN", i);
        idx[i] = (uint32_t)i;
    }
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = before(key, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}
