// dpo.c - the DPO loss on log-probabilities and on Gaussian embedding policies (see dpo.h).
// Dimension legend (docs/conventions.md §6): N pairs, D embedding width. Margins and loss sums in
// double.
#include "nn/dpo.h"

#include <math.h>
#include <stddef.h>

#include "core/die.h"
#include "core/nanguard.h"

double dpo_neg_log_sigmoid(double x) {
    // softplus(−x) = max(−x, 0) + log(1 + e^{−|x|}): the exponent is never positive.
    return fmax(-x, 0.0) + log1p(exp(-fabs(x)));
}

// σ(−m) = 1 − σ(m), the weight of a pair in the gradient, without overflow for |m| large.
static double sigmoid_neg(double m) {
    if (m >= 0) {
        double e = exp(-m);
        return e / (1.0 + e);
    }
    return 1.0 / (1.0 + exp(m));
}

static void check_beta(const char *fn, float beta, int N) {
    CHECK(N >= 1, "%s: N = %d pairs (need >= 1)", fn, N);
    CHECK(isfinite(beta) && beta > 0, "%s: beta = %g is not finite > 0", fn, (double)beta);
}

double dpo_forward(float *margin, const float *logp_w, const float *logp_l, const float *ref_w,
                   const float *ref_l, float beta, int N) {
    check_beta(__func__, beta, N);
    CHECK_PTR(margin);
    CHECK_PTR(logp_w);
    CHECK_PTR(logp_l);
    CHECK_PTR(ref_w);
    CHECK_PTR(ref_l);
    double loss = 0;
    for (int n = 0; n < N; n++) {
        double m = (double)beta * (((double)logp_w[n] - ref_w[n]) - ((double)logp_l[n] - ref_l[n]));
        CHECK(isfinite(m), "%s: margin[%d] = %g is not finite (log-probs w %g l %g, ref w %g l %g)",
              __func__, n, m, (double)logp_w[n], (double)logp_l[n], (double)ref_w[n],
              (double)ref_l[n]);
        margin[n] = (float)m;
        loss += dpo_neg_log_sigmoid(m);
    }
    NANGUARD(__func__, "margin", margin, N);
    return loss / N;
}

void dpo_backward(float *dlogp_w, float *dlogp_l, float *dref_w, float *dref_l, const float *margin,
                  float beta, int N, double dloss) {
    check_beta(__func__, beta, N);
    CHECK_PTR(margin);
    for (int n = 0; n < N; n++) {
        // ∂L/∂m_n = −σ(−m_n)/N; each log-prob enters m_n with coefficient ±β.
        float g = (float)(dloss * (double)beta * -sigmoid_neg(margin[n]) / N);
        if (dlogp_w) dlogp_w[n] += g;
        if (dlogp_l) dlogp_l[n] -= g;
        if (dref_w) dref_w[n] -= g;
        if (dref_l) dref_l[n] += g;
    }
    if (dlogp_w) NANGUARD(__func__, "dlogp_w", dlogp_w, N);
    if (dlogp_l) NANGUARD(__func__, "dlogp_l", dlogp_l, N);
}

static void check_gauss(const char *fn, float beta, float sigma, int N, int D) {
    check_beta(fn, beta, N);
    CHECK(D >= 1, "%s: D = %d (need >= 1)", fn, D);
    CHECK(isfinite(sigma) && sigma > 0, "%s: sigma = %g is not finite > 0", fn, (double)sigma);
}

double dpo_gauss_forward(float *margin, const float *mu, const float *mu_ref, const float *z_w,
                         const float *z_l, float beta, float sigma, int N, int D) {
    check_gauss(__func__, beta, sigma, N, D);
    CHECK_PTR(margin);
    CHECK_PTR(mu);
    CHECK_PTR(mu_ref);
    CHECK_PTR(z_w);
    CHECK_PTR(z_l);
    double inv2s2 = 1.0 / (2.0 * (double)sigma * sigma), loss = 0;
    for (int n = 0; n < N; n++) {
        size_t o = (size_t)n * (size_t)D;
        // The four log-likelihoods as written (not the cancelled form ⟨Δμ, Δz⟩), so that this
        // is the same quantity a caller would compute from the densities.
        double tw = 0, rw = 0, tl = 0, rl = 0;
        for (int d = 0; d < D; d++) {
            double a = (double)z_w[o + d] - mu[o + d], b = (double)z_w[o + d] - mu_ref[o + d];
            double c = (double)z_l[o + d] - mu[o + d], e = (double)z_l[o + d] - mu_ref[o + d];
            tw += a * a, rw += b * b, tl += c * c, rl += e * e;
        }
        double m = (double)beta * inv2s2 * ((rw - tw) - (rl - tl));
        CHECK(isfinite(m), "%s: margin[%d] = %g is not finite (sigma %g)", __func__, n, m,
              (double)sigma);
        margin[n] = (float)m;
        loss += dpo_neg_log_sigmoid(m);
    }
    NANGUARD(__func__, "margin", margin, N);
    return loss / N;
}

void dpo_gauss_backward(float *dmu, const float *margin, const float *z_w, const float *z_l,
                        float beta, float sigma, int N, int D, double dloss) {
    check_gauss(__func__, beta, sigma, N, D);
    CHECK_PTR(dmu);
    CHECK_PTR(margin);
    CHECK_PTR(z_w);
    CHECK_PTR(z_l);
    for (int n = 0; n < N; n++) {
        size_t o = (size_t)n * (size_t)D;
        // ∂log π(z)/∂μ = (z − μ)/σ²: the μ terms of the w and l likelihoods cancel.
        double g = dloss * (double)beta * -sigmoid_neg(margin[n]) / ((double)N * sigma * sigma);
        for (int d = 0; d < D; d++)
            dmu[o + d] += (float)(g * ((double)z_w[o + d] - z_l[o + d]));
    }
    NANGUARD(__func__, "dmu", dmu, (size_t)N * (size_t)D);
}
