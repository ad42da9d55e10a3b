// align.c - similarity distributions over prototypes, Jensen–Shannon divergence, the alignment test
// and mutual-best matching (see align.h).
#include "protocols/align.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

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

// q (N, K) for the rows of emb (N, D), owned by the caller (xfree).
static double *similarities(const float *emb, int N, const double *protos, const uint8_t *valid,
                            int K, int M, int D, int m, double tau) {
    CHECK_PTR(emb);
    CHECK(K >= 1 && D >= 1, "K=%d D=%d", K, D);
    double *q = xmalloc((size_t)N * K * sizeof *q);
    for (int i = 0; i < N; i++)
        align_similarity(q + (size_t)i * K, emb + (size_t)i * D, protos, valid, K, M, D, m, tau);
    return q;
}

// The checks and both sides' similarity distributions (owned); 0 when a side is empty (nothing
// allocated).
static int match_begin(double **qa, double **qb, const AlignPair *pairs, const float *emb_a, int Na,
                       int ma, const float *emb_b, int Nb, int mb, const double *protos,
                       const uint8_t *valid, int K, int M, int D, const AlignParams *ap) {
    CHECK(Na >= 0 && Nb >= 0, "Na=%d Nb=%d", Na, Nb);
    CHECK(ma >= 0 && ma < M && mb >= 0 && mb < M, "modalities ma=%d mb=%d outside [0, M=%d)", ma,
          mb, M);
    align_params_check(ap);
    if (Na == 0 || Nb == 0) return 0;
    CHECK_PTR(pairs);
    *qa = similarities(emb_a, Na, protos, valid, K, M, D, ma, ap->tau);
    *qb = similarities(emb_b, Nb, protos, valid, K, M, D, mb, ap->tau);
    return 1;
}

// The pair (a, b) with its verdict re-derived from the distributions (it passed the test).
static AlignPair verdict_pair(const double *qa, const double *qb, int a, int b, int K,
                              const AlignParams *ap) {
    AlignVerdict v;
    align_test(&v, qa + (size_t)a * K, qb + (size_t)b * K, K, ap);
    return (AlignPair){.a = a,
                       .b = b,
                       .label = v.label,
                       .jsd = v.jsd,
                       .confidence = v.confidence,
                       .weight = v.weight};
}

typedef struct {
    double jsd;
    int a, b;
} Candidate;

static int by_jsd_then_index(const void *x, const void *y) {
    const Candidate *p = x, *q = y;
    if (p->jsd != q->jsd) return p->jsd < q->jsd ? -1 : 1;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

static int by_a(const void *x, const void *y) {
    const AlignPair *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

int align_match(AlignPair *pairs, const float *emb_a, int Na, int ma, const float *emb_b, int Nb,
                int mb, const double *protos, const uint8_t *valid, int K, int M, int D,
                const AlignParams *ap) {
    double *qa, *qb;
    if (!match_begin(&qa, &qb, pairs, emb_a, Na, ma, emb_b, Nb, mb, protos, valid, K, M, D, ap))
        return 0;
    size_t n_cand = 0, cap = 64;
    Candidate *cand = xmalloc(cap * sizeof *cand);
    AlignVerdict v;
    for (int a = 0; a < Na; a++)
        for (int b = 0; b < Nb; b++) {
            if (!align_test(&v, qa + (size_t)a * K, qb + (size_t)b * K, K, ap)) continue;
            if (n_cand == cap) {
                Candidate *grown = xmalloc(2 * cap * sizeof *grown);
                for (size_t i = 0; i < n_cand; i++)
                    grown[i] = cand[i];
                xfree(cand), cand = grown, cap *= 2;
            }
            cand[n_cand++] = (Candidate){.jsd = v.jsd, .a = a, .b = b};
        }
    // The smallest remaining (JS, a, b) is a mutual best match among the unmatched rows.
    qsort(cand, n_cand, sizeof *cand, by_jsd_then_index);
    uint8_t *used_a = xcalloc((size_t)Na, 1), *used_b = xcalloc((size_t)Nb, 1);
    int n = 0;
    for (size_t i = 0; i < n_cand; i++) {
        int a = cand[i].a, b = cand[i].b;
        if (used_a[a] || used_b[b]) continue;
        used_a[a] = used_b[b] = 1;
        pairs[n++] = verdict_pair(qa, qb, a, b, K, ap);
    }
    qsort(pairs, (size_t)n, sizeof *pairs, by_a);
    xfree(qa), xfree(qb), xfree(cand), xfree(used_a), xfree(used_b);
    return n;
}
