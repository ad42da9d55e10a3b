// prototypes.c - per-class, per-modality prototype sums and means (see prototypes.h).
#include "protocols/prototypes.h"

#include <math.h>
#include <stddef.h>

#include "core/die.h"

void proto_accumulate(double *sums, int64_t *counts, const float *emb, const int *labels,
                      const uint8_t *mask, int N, int D, int K, int M, int m) {
    CHECK_PTR(sums);
    CHECK_PTR(counts);
    CHECK(N >= 0 && D >= 1 && K >= 1 && M >= 1, "N=%d D=%d K=%d M=%d", N, D, K, M);
    CHECK(m >= 0 && m < M, "modality m=%d outside [0, M=%d)", m, M);
    CHECK(N == 0 || (emb != NULL && labels != NULL), "emb or labels is NULL with N=%d", N);
    for (int i = 0; i < N; i++) {
        if (mask && !mask[(size_t)i * M + m]) continue;
        int c = labels[i];
        CHECK(c >= 0 && c < K, "row %d: label %d outside [0, K=%d)", i, c, K);
        const float *e = emb + (size_t)i * D;
        double *s = sums + ((size_t)c * M + m) * D;
        for (int d = 0; d < D; d++) {
            CHECK(isfinite(e[d]), "row %d: embedding[%d] = %g is not finite", i, d, e[d]);
            s[d] += e[d];
        }
        counts[(size_t)c * M + m]++;
    }
}
