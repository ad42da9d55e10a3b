// uncertainty.c - sequence confidence, Monte-Carlo token variance, the most uncertain tokens (see
// uncertainty.h).
#include "nn/uncertainty.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/order.h"

double sequence_confidence(const float *logits, int T, int V) {
    CHECK(T >= 0 && V >= 1, "T = %d, V = %d", T, V);
    if (T > 0) CHECK_PTR(logits);
    double log_conf = 0;
    for (int t = 0; t < T; t++) {
        const float *z = logits + (size_t)t * V;
        int top = 0;
        for (int v = 1; v < V; v++)
            top = z[v] > z[top] ? v : top;
        double mx = z[top], rest = 0; // the largest probability is 1 / (1 + rest)
        CHECK(isfinite(mx), "logits[%d] has a non-finite maximum", t);
        for (int v = 0; v < V; v++)
            if (v != top) rest += exp((double)z[v] - mx);
        log_conf -= log1p(rest);
    }
    return exp(log_conf);
}

void mc_token_variance(double *u, const float *x, int S, int L, int D) {
    CHECK_PTR(u);
    CHECK_PTR(x);
    CHECK(S >= 2 && L >= 1 && D >= 1, "S = %d (>= 2 passes), L = %d, D = %d", S, L, D);
    size_t stride = (size_t)L * D;
    for (int l = 0; l < L; l++) {
        double acc = 0;
        for (int d = 0; d < D; d++) {
            const float *p = x + (size_t)l * D + d;
            double mean = 0, var = 0;
            for (int s = 0; s < S; s++)
                mean += p[s * stride];
            mean /= S;
            for (int s = 0; s < S; s++) {
                double e = p[s * stride] - mean;
                var += e * e;
            }
            acc += var / S;
        }
        u[l] = acc / D;
    }
}

int top_uncertain_tokens(uint8_t *sel, const double *u, int L, double r, uint32_t *idx) {
    CHECK_PTR(sel);
    CHECK_PTR(u);
    CHECK_PTR(idx);
    CHECK(L >= 1, "L = %d tokens", L);
    CHECK(r >= 0 && r <= 1, "r = %g: the share of tokens, in [0, 1]", r);
    int k = (int)lround(r * L);
    order_desc(idx, idx + L, u, (size_t)L);
    memset(sel, 0, (size_t)L);
    for (int i = 0; i < k; i++)
        sel[idx[i]] = 1;
    return k;
}
