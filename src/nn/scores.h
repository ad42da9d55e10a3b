// scores.h - the attention score kernel shared by nn/attention.c and nn/causal_attention.c
// (included by those two files only; static inline so that each keeps its own inlined copy).
#pragma once
#include <stddef.h>
#include <string.h>

#include "nn/vec.h"

#define LANES VEC_F
#define TILE_HD 64

// The first m (1..LANES) floats of a vector from or to memory: one vector move for a full block
// (a variable-length memcpy compiles to `rep movs`, whose start-up cost dominated the kernels).
static inline vfloat load_m(const float *p, int m) {
    vfloat v = {0};
    if (m == LANES)
        v = vec_load(p);
    else
        memcpy(&v, p, (size_t)m * sizeof(float));
    return v;
}
static inline void store_m(float *p, vfloat v, int m) {
    if (m == LANES)
        vec_store(p, v);
    else
        memcpy(p, &v, (size_t)m * sizeof(float));
}

// S (T, T) = scale · A Bᵀ, A and B (T, hd) row strides lda and ldb, S row stride T. Keys go
// in blocks of LANES through a transposed stack tile, so a vector holds one score per key and
// no horizontal sum is needed; hd in chunks of TILE_HD bounds the tile, with the partial scores
// parked in S between chunks. Four queries at a time hide the add latency. causal: only the
// queries t >= k0 of each key block k0 (the lower triangle, plus the part of the diagonal's block
// above it, which the caller overwrites or ignores); key blocks wholly above the diagonal are not
// touched.
static inline void scores_tiled(float *restrict S, const float *restrict A, size_t lda,
                                const float *restrict Bm, size_t ldb, int T, int hd, float scale,
                                int causal) {
    vfloat tile[TILE_HD];
    for (int k0 = 0; k0 < T; k0 += LANES) {
        const int m = T - k0 < LANES ? T - k0 : LANES;
        for (int i0 = 0; i0 < hd; i0 += TILE_HD) {
            const int ni = hd - i0 < TILE_HD ? hd - i0 : TILE_HD;
            const float sc = i0 + ni == hd ? scale : 1.0f;
            for (int ii = 0; ii < ni; ii++)
                tile[ii] = (vfloat){0};
            for (int l = 0; l < m; l++)
                for (int ii = 0; ii < ni; ii++)
                    tile[ii][l] = Bm[(size_t)(k0 + l) * ldb + i0 + ii];
            int t = causal ? k0 : 0; // causal: queries before k0 see none of these keys
            for (; t + 4 <= T; t += 4) {
                const float *a0 = A + (size_t)t * lda + i0, *a1 = a0 + lda, *a2 = a1 + lda,
                            *a3 = a2 + lda;
                float *s0 = S + (size_t)t * T + k0;
                vfloat c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
                if (i0 > 0) {
                    c0 = load_m(s0, m), c1 = load_m(s0 + T, m);
                    c2 = load_m(s0 + 2 * T, m), c3 = load_m(s0 + 3 * T, m);
                }
                for (int ii = 0; ii < ni; ii++) {
                    c0 += a0[ii] * tile[ii], c1 += a1[ii] * tile[ii];
                    c2 += a2[ii] * tile[ii], c3 += a3[ii] * tile[ii];
                }
                c0 *= sc, c1 *= sc, c2 *= sc, c3 *= sc;
                store_m(s0, c0, m), store_m(s0 + T, c1, m);
                store_m(s0 + 2 * T, c2, m), store_m(s0 + 3 * T, c3, m);
            }
            for (; t < T; t++) {
                const float *a0 = A + (size_t)t * lda + i0;
                float *s0 = S + (size_t)t * T + k0;
                vfloat c0 = {0};
                if (i0 > 0) c0 = load_m(s0, m);
                for (int ii = 0; ii < ni; ii++)
                    c0 += a0[ii] * tile[ii];
                c0 *= sc;
                store_m(s0, c0, m);
            }
        }
    }
}
