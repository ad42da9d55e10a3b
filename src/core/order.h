// order.h - an ordering with a total tie rule, for choices that must not depend on how a sort
// treats equal keys (the most uncertain tokens, the largest entries of an update).
#pragma once

#include <stddef.h>
#include <stdint.h>

// idx (n) = the positions 0..n-1 by key descending, equal keys by position ascending. tmp is
// scratch of n. A bottom-up merge sort: O(n log n), no allocation. key must hold no NaN (CHECKed).
// Local.
void order_desc(uint32_t *idx, uint32_t *tmp, const double *key, size_t n);
