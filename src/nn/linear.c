// linear.c - fully connected layer on sgemm (row-major, weight (OC, C) as PyTorch). See linear.h.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
#include "nn/linear.h"

#include <stddef.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "tensor/blas.h"

// fn names the public caller. Sizes: N >= 0 rows, C and OC >= 1.
static void check_dims(const char *fn, int N, int C, int OC) {
    CHECK(N >= 0 && C >= 1 && OC >= 1, "%s: bad shape N=%d C=%d OC=%d", fn, N, C, OC);
}

void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C,
                    int OC) {
    check_dims(__func__, N, C, OC);
    CHECK(out && inp && w, "linear_forward: NULL buffer (out=%p inp=%p w=%p)", (void *)out,
          (const void *)inp, (const void *)w);
    if (N == 0) return;
    // The bias goes in first and sgemm adds onto it (beta = 1): one pass over out, not two.
    float beta = 0.0f;
    if (b) {
        for (int n = 0; n < N; n++) {
            float *out_n = out + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                out_n[o] = b[o];
        }
        beta = 1.0f;
    }
    sgemm_rm(0, 1, N, OC, C, 1.0f, inp, C, w, C, beta, out, OC);
    NANGUARD(__func__, "out", out, (size_t)N * OC);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    check_dims(__func__, N, C, OC);
    CHECK(dout, "linear_backward: dout is NULL");
    CHECK(!dinp || w, "linear_backward: dinp wanted but w is NULL");
    CHECK(!dw || inp, "linear_backward: dw wanted but inp is NULL");
    if (N == 0) return;
    if (dinp) {
        sgemm_rm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
        NANGUARD(__func__, "dinp", dinp, (size_t)N * C);
    }
    if (dw) {
        sgemm_rm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
        NANGUARD(__func__, "dw", dw, (size_t)OC * C);
    }
    if (db) {
        // Row by row so that the inner loop runs along OC contiguously (vectorised).
        for (int n = 0; n < N; n++) {
            const float *dout_n = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                db[o] += dout_n[o];
        }
        NANGUARD(__func__, "db", db, OC);
    }
}

void linear_forward_ref(float *out, const float *inp, const float *w, const float *b, int N, int C,
                        int OC) {
    check_dims(__func__, N, C, OC);
    CHECK(out && inp && w, "linear_forward_ref: NULL buffer");
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double acc = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++)
                acc += (double)inp[(size_t)n * C + c] * (double)w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = (float)acc;
        }
}

void linear_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int N, int C, int OC) {
    check_dims(__func__, N, C, OC);
    CHECK(dout, "linear_backward_ref: dout is NULL");
    if (dinp)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double acc = 0;
                for (int o = 0; o < OC; o++)
                    acc += (double)dout[(size_t)n * OC + o] * (double)w[(size_t)o * C + c];
                dinp[(size_t)n * C + c] += (float)acc;
            }
    if (dw)
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++) {
                double acc = 0;
                for (int n = 0; n < N; n++)
                    acc += (double)dout[(size_t)n * OC + o] * (double)inp[(size_t)n * C + c];
                dw[(size_t)o * C + c] += (float)acc;
            }
    if (db)
        for (int o = 0; o < OC; o++) {
            double acc = 0;
            for (int n = 0; n < N; n++)
                acc += dout[(size_t)n * OC + o];
            db[o] += (float)acc;
        }
}
