// embedding.c - table lookup and the mean embedding-bag. See embedding.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
#include "nn/embedding.h"

#include <stddef.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"

static void check_dims(const char *fn, int N, int V, int D) {
    CHECK(N >= 0 && V >= 1 && D >= 1, "%s: bad shape N=%d V=%d D=%d", fn, N, V, D);
}

void embedding_forward(float *out, const int *ids, const float *table, int N, int V, int D) {
    check_dims(__func__, N, V, D);
    CHECK(N == 0 || (out && ids && table),
          "embedding_forward: NULL buffer (out=%p ids=%p table=%p)", (void *)out, (const void *)ids,
          (const void *)table);
    for (int n = 0; n < N; n++) {
        CHECK(ids[n] >= 0 && ids[n] < V, "embedding_forward: ids[%d] = %d outside [0, V=%d)", n,
              ids[n], V);
        memcpy(out + (size_t)n * D, table + (size_t)ids[n] * D, (size_t)D * sizeof(float));
    }
    NANGUARD(__func__, "out", out, (size_t)N * D);
}

void embedding_backward(float *dtable, const float *dout, const int *ids, int N, int V, int D) {
    check_dims(__func__, N, V, D);
    if (!dtable) return;
    CHECK(N == 0 || (dout && ids), "embedding_backward: NULL buffer (dout=%p ids=%p)",
          (const void *)dout, (const void *)ids);
    for (int n = 0; n < N; n++) {
        CHECK(ids[n] >= 0 && ids[n] < V, "embedding_backward: ids[%d] = %d outside [0, V=%d)", n,
              ids[n], V);
        float *row = dtable + (size_t)ids[n] * D;
        const float *g = dout + (size_t)n * D;
        for (int d = 0; d < D; d++)
            row[d] += g[d];
    }
    NANGUARD(__func__, "dtable", dtable, (size_t)V * D);
}

// Valid tokens of row b (ids >= 0); CHECKs ids < V, naming the position.
static int bag_count(const char *fn, const int *ids_b, int b, int T, int V) {
    int cnt = 0;
    for (int t = 0; t < T; t++) {
        CHECK(ids_b[t] < V, "%s: ids[%d, %d] = %d >= V=%d", fn, b, t, ids_b[t], V);
        cnt += ids_b[t] >= 0;
    }
    return cnt;
}

void embedding_bag_mean_forward(float *out, const int *ids, const float *table, int B, int T, int V,
                                int D) {
    CHECK(B >= 0 && T >= 0 && V >= 1 && D >= 1,
          "embedding_bag_mean_forward: bad shape B=%d T=%d V=%d D=%d", B, T, V, D);
    CHECK(B == 0 || (out && (T == 0 || (ids && table))),
          "embedding_bag_mean_forward: NULL buffer (out=%p ids=%p table=%p)", (void *)out,
          (const void *)ids, (const void *)table);
    for (int b = 0; b < B; b++) {
        const int *ids_b = ids ? ids + (size_t)b * T : NULL;
        float *out_b = out + (size_t)b * D;
        for (int d = 0; d < D; d++)
            out_b[d] = 0.0f;
        int cnt = T ? bag_count(__func__, ids_b, b, T, V) : 0;
        if (cnt == 0) continue;
        for (int t = 0; t < T; t++) {
            if (ids_b[t] < 0) continue;
            const float *row = table + (size_t)ids_b[t] * D;
            for (int d = 0; d < D; d++)
                out_b[d] += row[d];
        }
        const float inv = 1.0f / (float)cnt;
        for (int d = 0; d < D; d++)
            out_b[d] *= inv;
    }
    NANGUARD(__func__, "out", out, (size_t)B * D);
}

void embedding_bag_mean_backward(float *dtable, const float *dout, const int *ids, int B, int T,
                                 int V, int D) {
    CHECK(B >= 0 && T >= 0 && V >= 1 && D >= 1,
          "embedding_bag_mean_backward: bad shape B=%d T=%d V=%d D=%d", B, T, V, D);
    if (!dtable || T == 0) return;
    CHECK(B == 0 || (dout && ids), "embedding_bag_mean_backward: NULL buffer (dout=%p ids=%p)",
          (const void *)dout, (const void *)ids);
    for (int b = 0; b < B; b++) {
        const int *ids_b = ids + (size_t)b * T;
        int cnt = bag_count(__func__, ids_b, b, T, V);
        if (cnt == 0) continue;
        const float inv = 1.0f / (float)cnt;
        const float *g = dout + (size_t)b * D;
        for (int t = 0; t < T; t++) {
            if (ids_b[t] < 0) continue;
            float *row = dtable + (size_t)ids_b[t] * D;
            for (int d = 0; d < D; d++)
                row[d] += g[d] * inv;
        }
    }
    NANGUARD(__func__, "dtable", dtable, (size_t)V * D);
}
