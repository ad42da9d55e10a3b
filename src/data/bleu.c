// bleu.c - corpus BLEU-n with Chen & Cherry's smoothing method 1, as NLTK's corpus_bleu (bleu.h).
#include "data/bleu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"

void bleu_stats_init(BleuStats *s) {
    CHECK_PTR(s);
    memset(s, 0, sizeof *s);
}

// a[0..k) == b[0..k).
static int same(const int *a, const int *b, int k) {
    for (int i = 0; i < k; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

// Occurrences of the k-gram g in x (len).
static int64_t occurrences(const int *g, int k, const int *x, int len) {
    int64_t c = 0;
    for (int i = 0; i + k <= len; i++)
        c += same(g, x + i, k);
    return c;
}

void bleu_stats_add_refs(BleuStats *s, const int *hyp, int hyp_len, const int *const *refs,
                         const int *ref_len, int n_refs) {
    CHECK_PTR(s);
    CHECK(n_refs >= 1 && refs && ref_len, "bleu: %d references (at least 1, arrays not NULL)",
          n_refs);
    CHECK(hyp_len >= 0, "bleu: lengths hyp %d must be >= 0", hyp_len);
    CHECK(hyp_len == 0 || hyp != NULL, "bleu: hyp is NULL with length %d", hyp_len);
    int closest = -1; // NLTK's closest_ref_length: the nearest length, the shorter on a tie
    for (int j = 0; j < n_refs; j++) {
        CHECK(ref_len[j] >= 0, "bleu: lengths hyp %d, ref %d must be >= 0", hyp_len, ref_len[j]);
        CHECK(ref_len[j] == 0 || refs[j] != NULL, "bleu: ref %d is NULL with length %d", j,
              ref_len[j]);
        int d = abs(ref_len[j] - hyp_len), dc = abs(closest - hyp_len);
        if (closest < 0 || d < dc || (d == dc && ref_len[j] < closest)) closest = ref_len[j];
    }
    for (int k = 1; k <= BLEU_MAX_N; k++) {
        int64_t grams = hyp_len >= k ? hyp_len - k + 1 : 0, match = 0;
        for (int i = 0; i + k <= hyp_len; i++) {
            // Each distinct k-gram once, at its first occurrence: min(its count, the largest
            // count in any one reference).
            int first = 1;
            for (int j = 0; j < i && first; j++)
                first = !same(hyp + j, hyp + i, k);
            if (!first) continue;
            int64_t ch = occurrences(hyp + i, k, hyp, hyp_len), cr = 0;
            for (int j = 0; j < n_refs; j++) {
                int64_t c = occurrences(hyp + i, k, refs[j], ref_len[j]);
                if (c > cr) cr = c;
            }
            match += ch < cr ? ch : cr;
        }
        s->match[k - 1] += match;
        s->total[k - 1] += grams > 1 ? grams : 1; // NLTK: max(1, ·) per sentence
    }
    s->hyp_len += hyp_len;
    s->ref_len += closest;
    s->sentences++;
}

void bleu_stats_add(BleuStats *s, const int *hyp, int hyp_len, const int *ref, int ref_len) {
    bleu_stats_add_refs(s, hyp, hyp_len, &ref, &ref_len, 1);
}

void bleu_stats_merge(BleuStats *dst, const BleuStats *src) {
    CHECK_PTR(dst);
    CHECK_PTR(src);
    for (int k = 0; k < BLEU_MAX_N; k++)
        dst->match[k] += src->match[k], dst->total[k] += src->total[k];
    dst->hyp_len += src->hyp_len;
    dst->ref_len += src->ref_len;
    dst->sentences += src->sentences;
}

double bleu_score(const BleuStats *s, int n) {
    CHECK_PTR(s);
    CHECK(n >= 1 && n <= BLEU_MAX_N, "bleu: order n=%d is not in [1, %d]", n, BLEU_MAX_N);
    // NLTK returns 0 without a unigram match, before smoothing; an empty corpus has none.
    if (s->match[0] == 0) return 0;
    double bp = s->hyp_len > s->ref_len ? 1 : exp(1 - (double)s->ref_len / (double)s->hyp_len);
    double sum = 0;
    for (int k = 0; k < n; k++) {
        double num = s->match[k] > 0 ? (double)s->match[k] : BLEU_EPSILON;
        sum += log(num / (double)s->total[k]) / n;
    }
    return bp * exp(sum);
}

double bleu_corpus(int n, const int *const *hyp, const int *hyp_len, const int *const *ref,
                   const int *ref_len, int count) {
    CHECK(count >= 0, "bleu: count %d < 0", count);
    CHECK(count == 0 || (hyp && hyp_len && ref && ref_len), "bleu: NULL arrays with count %d",
          count);
    BleuStats s;
    bleu_stats_init(&s);
    for (int i = 0; i < count; i++)
        bleu_stats_add(&s, hyp[i], hyp_len[i], ref[i], ref_len[i]);
    return bleu_score(&s, n);
}
