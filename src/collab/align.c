// align.c - similarity distributions over prototypes, Jensen–Shannon divergence, the alignment test
// and mutual-best matching (see align.h).
#include "collab/align.h"

#include <math.h>
#include <stddef.h>

#include "core/common.h"
#include "core/die.h"
#include "core/xalloc.h"

void align_params_check(const AlignParams *ap) {
    CHECK_PTR(ap);
    // Written so that NaN fails too.
    CHECK(ap->tau > 0 && isfinite(ap->tau), "tau = %g must be finite and > 0", ap->tau);
    CHECK(ap->delta >= 0 && isfinite(ap->delta), "delta = %g must be finite and >= 0 (nats)",
          ap->delta);
    CHECK(ap->kappa >= 0 && ap->kappa <= 1, "kappa = %g must be in [0, 1]", ap->kappa);
}

void align_similarity(double *q, const float *e, const double *protos, const uint8_t *valid, int K,
                      int M, int D, int m, double tau) {
    CHECK_PTR(q);
    CHECK_PTR(e);
    CHECK_PTR(protos);
    CHECK(K >= 1 && M >= 1 && D >= 1, "K=%d M=%d D=%d", K, M, D);
    CHECK(m >= 0 && m < M, "modality m=%d outside [0, M=%d)", m, M);
    CHECK(tau > 0 && isfinite(tau), "tau = %g must be finite and > 0", tau);
    double ee = 0;
    for (int d = 0; d < D; d++) {
        CHECK(isfinite(e[d]), "e[%d] = %g is not finite", d, e[d]);
        ee += (double)e[d] * e[d];
    }
    double enorm = sqrt(ee), zmax = -INFINITY;
    for (int c = 0; c < K; c++) {
        if (valid && !valid[(size_t)c * M + m]) {
            q[c] = -INFINITY;
            continue;
        }
        const double *p = protos + ((size_t)c * M + m) * D;
        double dot = 0, pp = 0;
        for (int d = 0; d < D; d++)
            dot += (double)e[d] * p[d], pp += p[d] * p[d];
        double den = enorm * sqrt(pp);
        q[c] = (den > 0 ? dot / den : 0) / tau; // logits first, the softmax below
        zmax = MAX(zmax, q[c]);
    }
    CHECK(zmax > -INFINITY, "no valid prototype in modality %d (K=%d)", m, K);
    // Max-subtracted softmax; invalid classes (-inf) become exactly 0.
    double z = 0;
    for (int c = 0; c < K; c++)
        z += q[c] = exp(q[c] - zmax);
    for (int c = 0; c < K; c++)
        q[c] /= z;
}

// caller names the public entry in the message (die_at prints this helper's name).
static void check_distribution(const double *p, int K, const char *name, const char *caller) {
    double s = 0;
    for (int c = 0; c < K; c++) {
        CHECK(isfinite(p[c]) && p[c] >= 0, "%s: %s[%d] = %g is not a probability", caller, name, c,
              p[c]);
        s += p[c];
    }
    CHECK(fabs(s - 1) <= 1e-6, "%s: %s sums to %.9g, not 1", caller, name, s);
}

// KL(p‖r) term of one class, 0·ln 0 = 0 (r > 0 whenever p > 0 since r >= p/2).
static double kl_term(double p, double r) { return p > 0 ? p * log(p / r) : 0; }

double align_jsd(const double *p, const double *q, int K) {
    CHECK_PTR(p);
    CHECK_PTR(q);
    CHECK(K >= 1, "K=%d", K);
    check_distribution(p, K, "p", __func__);
    check_distribution(q, K, "q", __func__);
    double js = 0;
    for (int c = 0; c < K; c++) {
        double r = 0.5 * (p[c] + q[c]);
        js += 0.5 * (kl_term(p[c], r) + kl_term(q[c], r));
    }
    // Rounding can leave a tiny negative for identical inputs; the true value is in [0, ln 2].
    return MIN(MAX(js, 0.0), log(2.0));
}

static int argmax(const double *q, int K) {
    int best = 0;
    for (int c = 1; c < K; c++)
        if (q[c] > q[best]) best = c;
    return best;
}

int align_test(AlignVerdict *v, const double *qa, const double *qb, int K, const AlignParams *ap) {
    CHECK_PTR(v);
    align_params_check(ap);
    v->jsd = align_jsd(qa, qb, K);
    int ca = argmax(qa, K), cb = argmax(qb, K);
    v->confidence = MIN(qa[ca], qb[cb]);
    v->aligned = v->jsd < ap->delta && ca == cb && qa[ca] > ap->kappa && qb[cb] > ap->kappa;
    v->label = v->aligned ? ca : -1;
    // jsd < delta implies delta > 0 here, so the division is safe.
    v->weight = v->aligned ? exp(-v->jsd / ap->delta) : 0;
    return v->aligned;
}

int align_match(AlignPair *pairs, const float *emb_a, int Na, int ma, const float *emb_b, int Nb,
                int mb, const double *protos, const uint8_t *valid, int K, int M, int D,
                const AlignParams *ap) {
    CHECK(Na >= 0 && Nb >= 0, "Na=%d Nb=%d", Na, Nb);
    CHECK(K >= 1 && M >= 1 && D >= 1, "K=%d M=%d D=%d", K, M, D);
    CHECK(ma >= 0 && ma < M && mb >= 0 && mb < M, "modalities ma=%d mb=%d outside [0, M=%d)", ma,
          mb, M);
    align_params_check(ap);
    if (Na == 0 || Nb == 0) return 0;
    CHECK_PTR(pairs);
    CHECK_PTR(emb_a);
    CHECK_PTR(emb_b);
    double *qa = xmalloc((size_t)Na * K * sizeof *qa), *qb = xmalloc((size_t)Nb * K * sizeof *qb);
    double *best_a_js = xmalloc((size_t)Na * sizeof(double));
    double *best_b_js = xmalloc((size_t)Nb * sizeof(double));
    int *best_a = xmalloc((size_t)Na * sizeof(int)), *best_b = xmalloc((size_t)Nb * sizeof(int));
    for (int a = 0; a < Na; a++) {
        align_similarity(qa + (size_t)a * K, emb_a + (size_t)a * D, protos, valid, K, M, D, ma,
                         ap->tau);
        best_a[a] = -1, best_a_js[a] = INFINITY;
    }
    for (int b = 0; b < Nb; b++) {
        align_similarity(qb + (size_t)b * K, emb_b + (size_t)b * D, protos, valid, K, M, D, mb,
                         ap->tau);
        best_b[b] = -1, best_b_js[b] = INFINITY;
    }
    // One pass in increasing (a, b) with strict < keeps the lowest index on ties.
    AlignVerdict v;
    for (int a = 0; a < Na; a++)
        for (int b = 0; b < Nb; b++) {
            if (!align_test(&v, qa + (size_t)a * K, qb + (size_t)b * K, K, ap)) continue;
            if (v.jsd < best_a_js[a]) best_a_js[a] = v.jsd, best_a[a] = b;
            if (v.jsd < best_b_js[b]) best_b_js[b] = v.jsd, best_b[b] = a;
        }
    int n = 0;
    for (int a = 0; a < Na; a++) {
        int b = best_a[a];
        if (b < 0 || best_b[b] != a) continue;
        align_test(&v, qa + (size_t)a * K, qb + (size_t)b * K, K, ap);
        pairs[n++] = (AlignPair){.a = a,
                                 .b = b,
                                 .label = v.label,
                                 .jsd = v.jsd,
                                 .confidence = v.confidence,
                                 .weight = v.weight};
    }
    xfree(qa), xfree(qb), xfree(best_a_js), xfree(best_b_js), xfree(best_a), xfree(best_b);
    return n;
}
