// scaffold.c - SCAFFOLD's client correction, option-II variate update and server step (see
// scaffold.h).
#include "agg/scaffold.h"

#include <math.h>

#include "agg/fednova.h"
#include "core/die.h"

void scaffold_check_local(int K, double lr, double momentum) {
    CHECK(K >= 1, "--fedcmp.local-steps = %d: SCAFFOLD needs K >= 1 local steps", K);
    CHECK(lr > 0 && isfinite(lr), "--fedcmp.lr = %g: the local learning rate must be > 0", lr);
    CHECK(momentum >= 0 && momentum < 1, "--fedcmp.momentum = %g: must be in [0, 1)", momentum);
}

double scaffold_step_length(int K, double lr, double momentum) {
    scaffold_check_local(K, lr, momentum);
    return lr * fednova_norm_a(K, momentum);
}

void scaffold_correct(float *g, const float *c, const float *ci, size_t n) {
    CHECK(g && c && ci, "NULL buffer (g=%p c=%p ci=%p)", (void *)g, (const void *)c,
          (const void *)ci);
    for (size_t j = 0; j < n; j++) {
        g[j] = (float)((double)g[j] + ((double)c[j] - ci[j]));
        CHECK(isfinite(g[j]), "corrected gradient g[%zu] = %g (c = %g, c_i = %g): not finite", j,
              g[j], c[j], ci[j]);
    }
}

void scaffold_client_finish(float *dy, float *dc, float *ci_new, const float *ci, const float *c,
                            const float *x, const float *y, int K, double lr, double momentum,
                            size_t n) {
    CHECK(dy && dc && ci && c && x && y, "NULL buffer (dy=%p dc=%p ci=%p c=%p x=%p y=%p)",
          (void *)dy, (void *)dc, (const void *)ci, (const void *)c, (const void *)x,
          (const void *)y);
    const double L = scaffold_step_length(K, lr, momentum);
    for (size_t j = 0; j < n; j++) {
        CHECK(isfinite(x[j]) && isfinite(y[j]) && isfinite(c[j]) && isfinite(ci[j]),
              "entry %zu: x = %g, y = %g, c = %g, c_i = %g: not finite", j, x[j], y[j], c[j],
              ci[j]);
        const double old = ci[j]; // read before ci_new (which may alias ci) is written
        const double cip = old - c[j] + ((double)x[j] - y[j]) / L;
        dy[j] = (float)((double)y[j] - x[j]);
        dc[j] = (float)(cip - old);
        if (ci_new) ci_new[j] = (float)cip;
        CHECK(isfinite(dc[j]) && isfinite((float)cip), "c_i+[%zu] = %g overflows float", j, cip);
    }
}

void scaffold_server_update(float *x, float *c, const float *dy, const float *dc, const double *nk,
                            double n_all, double eta_g, int S, int N, size_t n) {
    CHECK(x && c && dy && dc, "NULL buffer (x=%p c=%p dy=%p dc=%p)", (void *)x, (void *)c,
          (const void *)dy, (const void *)dc);
    CHECK(S >= 1 && S <= N, "S = %d sampled of N = %d parties: need 1 <= S <= N", S, N);
    CHECK(eta_g > 0 && isfinite(eta_g),
          "--fedcmp.server-lr = %g: the server learning rate must be > 0", eta_g);
    double nsum = 0;
    if (nk) {
        for (int i = 0; i < S; i++) {
            CHECK(nk[i] > 0 && isfinite(nk[i]), "nk[%d] = %g: sample counts must be > 0", i, nk[i]);
            nsum += nk[i];
        }
        CHECK(isfinite(n_all) && n_all >= nsum,
              "n_all = %g: the samples of all N parties must be >= the sampled parties' %g", n_all,
              nsum);
    }
    for (size_t j = 0; j < n; j++) {
        double sy = 0, sc = 0; // Σ q_i dy_i and Σ r_i dc_i, in party order
        for (int i = 0; i < S; i++) {
            const float a = dy[(size_t)i * n + j], b = dc[(size_t)i * n + j];
            CHECK(isfinite(a) && isfinite(b), "party %d, entry %zu: dy = %g, dc = %g: not finite",
                  i, j, a, b);
            const double q = nk ? nk[i] / nsum : 1.0 / S, r = nk ? nk[i] / n_all : 1.0 / N;
            sy += q * a;
            sc += r * b;
        }
        x[j] = (float)((double)x[j] + eta_g * sy);
        c[j] = (float)((double)c[j] + sc);
        CHECK(isfinite(x[j]) && isfinite(c[j]), "entry %zu: new x = %g, c = %g: not finite", j,
              x[j], c[j]);
    }
}
