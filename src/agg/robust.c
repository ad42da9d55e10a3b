// robust.c - screening and order-statistic aggregation (see robust.h, docs/robust.md).
#include "agg/robust.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

static const char *const RULE_NAMES[ROBUST_RULE_COUNT] = {"none",   "reject",       "clip",
                                                          "median", "trimmed-mean", "krum"};
static const char *const VERDICT_NAMES[ROBUST_VERDICT_COUNT] = {
    "kept", "nonfinite", "out-of-range", "norm", "clipped", "not-selected", "trimmed"};

const char *robust_rule_name(RobustRule rule) {
    return (unsigned)rule < ROBUST_RULE_COUNT ? RULE_NAMES[rule] : NULL;
}

int robust_rule_from_name(const char *name, RobustRule *out) {
    CHECK_PTR(name);
    CHECK_PTR(out);
    for (int r = 0; r < ROBUST_RULE_COUNT; r++)
        if (strcmp(name, RULE_NAMES[r]) == 0) {
            *out = (RobustRule)r;
            return 0;
        }
    return -1;
}

const char *robust_verdict_name(RobustVerdict v) {
    return (unsigned)v < ROBUST_VERDICT_COUNT ? VERDICT_NAMES[v] : NULL;
}

int robust_verdict_admits(RobustVerdict v) { return v == VERDICT_KEPT || v == VERDICT_CLIPPED; }

int robust_rule_needs_updates(RobustRule rule) {
    return rule == ROBUST_MEDIAN || rule == ROBUST_TRIMMED_MEAN || rule == ROBUST_KRUM;
}

int robust_opts_check(const RobustOpts *o, int K, char *msg, size_t cap) {
    CHECK_PTR(o);
    CHECK(msg != NULL && cap > 0, "msg buffer is NULL or empty");
    const char *name = robust_rule_name(o->rule);
    if (!name) {
        snprintf(msg, cap, "robust rule %d is not one of %s", (int)o->rule, ROBUST_RULE_NAMES);
        return -1;
    }
    if (!isfinite(o->norm_bound) || o->norm_bound < 0) {
        snprintf(msg, cap, "robust norm bound = %g must be finite and >= 0 (0 = off)",
                 o->norm_bound);
        return -1;
    }
    if ((o->rule == ROBUST_REJECT || o->rule == ROBUST_CLIP) && o->norm_bound == 0) {
        snprintf(msg, cap, "robust rule %s needs a norm bound > 0 (got 0 = off)", name);
        return -1;
    }
    if (!(o->trim >= 0 && o->trim < 0.5)) {
        snprintf(msg, cap, "robust trim = %g must be in [0, 0.5) (the fraction cut at each end)",
                 o->trim);
        return -1;
    }
    if (o->krum_f < 0 || o->krum_m < 1) {
        snprintf(msg, cap, "krum f = %d must be >= 0 and m = %d >= 1", o->krum_f, o->krum_m);
        return -1;
    }
    if (K < 0) {
        snprintf(msg, cap, "the number of updates K = %d is negative", K);
        return -1;
    }
    if (K > 0 && o->rule == ROBUST_KRUM) {
        long need = 2L * o->krum_f + 2;
        if (K <= need) {
            snprintf(msg, cap,
                     "krum with f = %d attackers needs K > 2f + 2 = %ld updates, got K = %d",
                     o->krum_f, need, K);
            return -1;
        }
        if (o->krum_m > K - o->krum_f) {
            snprintf(msg, cap, "multi-krum m = %d must be <= K - f = %d - %d = %d", o->krum_m, K,
                     o->krum_f, K - o->krum_f);
            return -1;
        }
    }
    return 0;
}

RobustVerdict robust_screen(float *delta, size_t n, double cap, double norm_bound, int clip,
                            double *norm) {
    CHECK_PTR(delta);
    CHECK(n > 0, "update of n = 0 values");
    CHECK(cap > 0, "cap = %g must be > 0 (INFINITY for no range check)", cap);
    CHECK(isfinite(norm_bound) && norm_bound >= 0, "norm_bound = %g must be finite and >= 0",
          norm_bound);
    int nonfinite = 0, out_of_range = 0;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double v = delta[i];
        nonfinite |= !isfinite(v);
        out_of_range |= fabs(v) > cap;
        ss += v * v; // index order: the same bits on any host
    }
    double nrm = sqrt(ss);
    if (norm) *norm = nrm;
    if (nonfinite) return VERDICT_NONFINITE;
    if (out_of_range) return VERDICT_OUT_OF_RANGE;
    if (norm_bound == 0 || nrm <= norm_bound) return VERDICT_KEPT;
    if (!clip) return VERDICT_NORM;
    // One rounding per element keeps the direction; rounding can still push the norm a few ulps
    // past the bound, and a bound that DP's sensitivity relies on must hold, so shrink until it
    // does: by 2^-22 (more than float rounding adds: one pass for any bound above float's
    // subnormals), doubling each pass, so that pass 22 gives the zero vector at the latest.
    double scale = norm_bound / nrm;
    for (int pass = 0; pass <= 22; pass++) {
        double s2 = 0;
        for (size_t i = 0; i < n; i++) {
            double v = (float)((double)delta[i] * scale);
            s2 += v * v;
        }
        if (sqrt(s2) <= norm_bound) break;
        scale *= 1 - ldexp(1.0, pass - 22);
    }
    for (size_t i = 0; i < n; i++)
        delta[i] = (float)((double)delta[i] * scale);
    return VERDICT_CLIPPED;
}

// ---- order statistics ----

// A float's bits as an unsigned integer whose order is the floats' total order (-0 before +0):
// sorting keys sorts values, and equal keys are equal bits, so ties need no party id.
static uint32_t float_key(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float key_float(uint32_t k) {
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

// Insertion sort for the usual handful of parties (K <= 32: fewer moves than qsort's calls).
static void sort_keys(uint32_t *a, int K) {
    if (K > 32) {
        qsort(a, (size_t)K, sizeof *a, cmp_u32);
        return;
    }
    for (int i = 1; i < K; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        for (; j >= 0 && a[j] > v; j--)
            a[j + 1] = a[j];
        a[j + 1] = v;
    }
}

static void check_finite(const float *delta, const int *party, int K, size_t n) {
    for (int k = 0; k < K; k++) {
        const float *x = delta + (size_t)k * n;
        for (size_t i = 0; i < n; i++)
            CHECK(isfinite(x[i]), "update of party %d has %g at index %zu (screen updates first)",
                  party[k], (double)x[i], i);
    }
}

// Median or trimmed mean of each coordinate: per block, the K values of a coordinate are gathered
// into one row of keys, sorted, and reduced in sorted order.
static void coordinatewise(const RobustOpts *o, float *out, const float *delta, int K, size_t n) {
    int t = o->rule == ROBUST_TRIMMED_MEAN ? (int)floor(o->trim * K) : 0;
    uint32_t *keys = xmalloc((size_t)K * ROBUST_BLOCK * sizeof *keys); // (block, K)
    for (size_t i0 = 0; i0 < n; i0 += ROBUST_BLOCK) {
        size_t nb = n - i0 < ROBUST_BLOCK ? n - i0 : ROBUST_BLOCK;
        for (int k = 0; k < K; k++) { // row-wise reads: each update's block is contiguous
            const float *x = delta + (size_t)k * n + i0;
            for (size_t c = 0; c < nb; c++)
                keys[c * (size_t)K + (size_t)k] = float_key(x[c]);
        }
        for (size_t c = 0; c < nb; c++) {
            uint32_t *v = keys + c * (size_t)K;
            sort_keys(v, K);
            double r;
            if (o->rule == ROBUST_MEDIAN) {
                r = K % 2 ? key_float(v[K / 2])
                          : ((double)key_float(v[K / 2 - 1]) + key_float(v[K / 2])) / 2;
            } else {
                double s = 0;
                for (int j = t; j < K - t; j++)
                    s += key_float(v[j]);
                r = s / (K - 2 * t);
            }
            out[i0 + c] = (float)r;
        }
    }
    xfree(keys);
}

// (score, party id) lexicographic: a total order, since the ids are distinct.
static int before(double sx, int px, double sy, int py) { return sx < sy || (sx == sy && px < py); }

// Insertion sort of idx by (key[idx], id[idx]) (key NULL: by id alone). K is a handful of parties
// and Krum is O(K² n) anyway; qsort would need a global for its context (docs/conventions.md §4).
static void sort_idx(int *idx, const double *key, const int *id, int K) {
    for (int i = 1; i < K; i++) {
        int v = idx[i], j = i - 1;
        for (; j >= 0 && before(key ? key[v] : 0, id[v], key ? key[idx[j]] : 0, id[idx[j]]); j--)
            idx[j + 1] = idx[j];
        idx[j + 1] = v;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Krum / multi-Krum over the rows in party-id order (ord), so that no sum depends on the order
// the rows came in.
static void krum(const RobustOpts *o, float *out, RobustVerdict *verdict, const float *delta,
                 const double *w, const int *party, int K, size_t n) {
    int *ord = xmalloc((size_t)K * sizeof *ord);
    for (int k = 0; k < K; k++)
        ord[k] = k;
    sort_idx(ord, NULL, party, K);
    for (int a = 1; a < K; a++)
        CHECK(party[ord[a]] != party[ord[a - 1]], "party id %d appears twice among the updates",
              party[ord[a]]);

    // d(a, b), a < b in party order, each summed over coordinates in index order; the block loop
    // keeps the K rows' blocks in cache without changing that order. (x − y)² = (y − x)²
    // bit for bit, so the pair's orientation does not matter.
    double *dist = xcalloc((size_t)K * (size_t)K, sizeof *dist);
    for (size_t i0 = 0; i0 < n; i0 += ROBUST_BLOCK) {
        size_t nb = n - i0 < ROBUST_BLOCK ? n - i0 : ROBUST_BLOCK;
        for (int a = 0; a < K; a++) {
            const float *x = delta + (size_t)ord[a] * n + i0;
            for (int b = a + 1; b < K; b++) {
                const float *y = delta + (size_t)ord[b] * n + i0;
                double s = dist[a * K + b];
                for (size_t c = 0; c < nb; c++) {
                    double e = (double)x[c] - (double)y[c];
                    s += e * e;
                }
                dist[a * K + b] = s;
            }
        }
    }
    int near = K - o->krum_f - 2; // >= 1: robust_opts_check asked K > 2f + 2
    double *score = xmalloc((size_t)K * sizeof *score), *row = xmalloc((size_t)K * sizeof *row);
    for (int a = 0; a < K; a++) {
        int m = 0;
        for (int b = 0; b < K; b++)
            if (b != a) row[m++] = a < b ? dist[a * K + b] : dist[b * K + a];
        qsort(row, (size_t)m, sizeof *row, cmp_double);
        double s = 0;
        for (int j = 0; j < near; j++)
            s += row[j];
        score[a] = s;
    }
    // Rank the canonical positions by (score, party id); the first m are selected.
    int *rank = xmalloc((size_t)K * sizeof *rank), *cparty = xmalloc((size_t)K * sizeof *cparty);
    for (int a = 0; a < K; a++)
        rank[a] = a, cparty[a] = party[ord[a]];
    sort_idx(rank, score, cparty, K);
    unsigned char *sel = xcalloc((size_t)K, 1); // by canonical position
    for (int j = 0; j < o->krum_m; j++)
        sel[rank[j]] = 1;

    double wsum = 0;
    for (int a = 0; a < K; a++)
        if (sel[a]) wsum += w[ord[a]];
    double *acc = xmalloc(ROBUST_BLOCK * sizeof *acc);
    for (size_t i0 = 0; i0 < n; i0 += ROBUST_BLOCK) {
        size_t nb = n - i0 < ROBUST_BLOCK ? n - i0 : ROBUST_BLOCK;
        memset(acc, 0, nb * sizeof *acc);
        for (int a = 0; a < K; a++) { // party-id order: each coordinate's sum is sequential
            if (!sel[a]) continue;
            const float *x = delta + (size_t)ord[a] * n + i0;
            double wa = w[ord[a]];
            for (size_t c = 0; c < nb; c++)
                acc[c] += wa * x[c];
        }
        for (size_t c = 0; c < nb; c++)
            out[i0 + c] = (float)(acc[c] / wsum);
    }
    if (verdict)
        for (int a = 0; a < K; a++)
            verdict[ord[a]] = sel[a] ? VERDICT_KEPT : VERDICT_NOT_SELECTED;
    xfree(acc);
    xfree(sel);
    xfree(cparty);
    xfree(rank);
    xfree(row);
    xfree(score);
    xfree(dist);
    xfree(ord);
}

void robust_aggregate(const RobustOpts *opts, float *out, RobustVerdict *verdict,
                      const float *delta, const double *w, const int *party, int K, size_t n) {
    CHECK_PTR(opts);
    CHECK_PTR(out);
    CHECK_PTR(delta);
    CHECK_PTR(w);
    CHECK_PTR(party);
    CHECK(K >= 1, "robust aggregation over K = %d updates", K);
    CHECK(n > 0, "robust aggregation of updates of n = 0 values");
    CHECK(robust_rule_needs_updates(opts->rule),
          "robust rule %s is a weighted mean (comm/exact.h), not an order statistic",
          robust_rule_name(opts->rule) ? robust_rule_name(opts->rule) : "?");
    char msg[256];
    CHECK(robust_opts_check(opts, K, msg, sizeof msg) == 0, "%s", msg);
    for (int k = 0; k < K; k++)
        CHECK(isfinite(w[k]) && w[k] > 0, "weight of party %d = %g must be finite and > 0",
              party[k], w[k]);
    check_finite(delta, party, K, n);
    if (opts->rule == ROBUST_KRUM) {
        krum(opts, out, verdict, delta, w, party, K, n);
        return;
    }
    coordinatewise(opts, out, delta, K, n);
    if (verdict)
        for (int k = 0; k < K; k++)
            verdict[k] = VERDICT_KEPT;
}
