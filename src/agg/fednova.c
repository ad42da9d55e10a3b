// fednova.c - FedNova's normalising norm, the party's normalised update and the server's step (see
// fednova.h).
#include "agg/fednova.h"

#include <math.h>

#include "core/die.h"

double fednova_norm_a(int tau, double momentum) {
    CHECK(tau >= 1, "--fedcmp.local-steps = %d: tau must be >= 1 local step", tau);
    CHECK(momentum >= 0 && momentum < 1, "--fedcmp.momentum = %g: must be in [0, 1)", momentum);
    // Term k is (1 − ρ^k)/(1 − ρ) = 1 + ρ + … + ρ^{k−1}: the running geometric sum, with no
    // division by the small 1 − ρ.
    double norm = 0, term = 0, pw = 1;
    for (int k = 1; k <= tau; k++) {
        term += pw; // 1 + ρ + … + ρ^{k−1}
        pw *= momentum;
        norm += term;
    }
    return norm;
}

void fednova_normalise(float *d, const float *x, const float *y, double a_norm, size_t n) {
    CHECK(d && x && y, "NULL buffer (d=%p x=%p y=%p)", (void *)d, (const void *)x, (const void *)y);
    CHECK(a_norm >= 1 && isfinite(a_norm), "a_norm = %g: ||a||_1 of >= 1 local step is >= 1",
          a_norm);
    for (size_t j = 0; j < n; j++) {
        CHECK(isfinite(x[j]) && isfinite(y[j]), "entry %zu: x = %g, y = %g: not finite", j, x[j],
              y[j]);
        d[j] = (float)(((double)x[j] - y[j]) / a_norm);
    }
}

double fednova_server_update(float *x, const float *d, const double *a_norm, const double *nk,
                             int P, size_t n) {
    CHECK(x && d && a_norm, "NULL buffer (x=%p d=%p a_norm=%p)", (void *)x, (const void *)d,
          (const void *)a_norm);
    CHECK(P >= 1, "P = %d parties: FedNova needs >= 1 update", P);
    double nsum = 0;
    for (int i = 0; i < P; i++) {
        CHECK(a_norm[i] >= 1 && isfinite(a_norm[i]),
              "a_norm[%d] = %g: ||a||_1 of >= 1 local step is >= 1", i, a_norm[i]);
        if (nk) CHECK(nk[i] > 0 && isfinite(nk[i]), "nk[%d] = %g: must be > 0", i, nk[i]);
        nsum += nk ? nk[i] : 1;
    }
    double tau_eff = 0;
    for (int i = 0; i < P; i++)
        tau_eff += (nk ? nk[i] : 1) / nsum * a_norm[i];
    for (size_t j = 0; j < n; j++) {
        double s = 0; // Σ p_i d_i, in party order
        for (int i = 0; i < P; i++) {
            const float v = d[(size_t)i * n + j];
            CHECK(isfinite(v), "party %d, entry %zu: d = %g: not finite", i, j, v);
            s += (nk ? nk[i] : 1) / nsum * v;
        }
        x[j] = (float)((double)x[j] - tau_eff * s);
        CHECK(isfinite(x[j]), "entry %zu: new x = %g: not finite", j, x[j]);
    }
    return tau_eff;
}
