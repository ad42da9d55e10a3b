// bleu.h - corpus-level BLEU-n over token-id sequences, one or more references per hypothesis, as
// NLTK's corpus_bleu with SmoothingFunction().method1 (CD-CCA's caption scores, issue 15).
//
// For n-gram order k: p_k = (sum over sentences of the clipped k-gram matches) / (sum over
// sentences of max(1, the hypothesis's k-grams)); a p_k with no match becomes 0.1 / its
// denominator (Chen & Cherry 2014, smoothing method 1, epsilon 0.1). BLEU-n = BP · exp((1/n) Σ_k
// log p_k), k = 1..n, with the brevity penalty BP = 1 when the hypotheses' total length c exceeds
// the references' r, exp(1 - r/c) otherwise, 0 when c = 0. No unigram match at all gives 0 (NLTK's
// rule, smoothing or not). docs/stream.md has the definition; tests/test_bleu.c checks it against
// NLTK (tests/nltk/bleu_nltk.py).
//
// Sources: Papineni et al. 2002 (BLEU); Chen & Cherry 2014 (smoothing); NLTK 3.8
// nltk/translate/bleu_score.py (the exact corpus rules: per-sentence max(1, ·) denominators, the
// unigram rule).
//
// The counts are integers, so statistics gathered on several devices or ranks add up exactly
// (bleu_stats_merge) and the score does not depend on how the corpus was cut.
#pragma once
#include <stdint.h>

#define BLEU_MAX_N 4
#define BLEU_EPSILON 0.1 // method 1's count added to an n-gram order without a match

// Transparent: a caller may sum the fields of several (bleu_stats_merge does).
typedef struct {
    int64_t match[BLEU_MAX_N]; // clipped k+1-gram matches
    int64_t total[BLEU_MAX_N]; // sum over sentences of max(1, hypothesis k+1-grams)
    int64_t hyp_len, ref_len;  // summed lengths
    int64_t sentences;
} BleuStats;

// Zeroes s. Local.
void bleu_stats_init(BleuStats *s);
// s += one sentence: hyp (hyp_len) against ref (ref_len), token ids compared as integers (any
// value; the caller strips padding and end tokens first). O(len^2) per order, for captions.
// CHECKs the pointers (NULL allowed with length 0) and lengths >= 0. Local.
void bleu_stats_add(BleuStats *s, const int *hyp, int hyp_len, const int *ref, int ref_len);
// The same against n_refs >= 1 references refs[j] (ref_len[j]), as NLTK: a k-gram's count is
// clipped by its largest count in any one reference, and the corpus's reference length grows by
// the reference length closest to hyp_len (the shorter on a tie). Local.
void bleu_stats_add_refs(BleuStats *s, const int *hyp, int hyp_len, const int *const *refs,
                         const int *ref_len, int n_refs);
// dst += src, field by field. Local.
void bleu_stats_merge(BleuStats *dst, const BleuStats *src);
// BLEU-n of the gathered corpus (uniform weights 1/n over orders 1..n), smoothed by method 1.
// 0 for an empty corpus. CHECKs n in [1, BLEU_MAX_N]. Local.
double bleu_score(const BleuStats *s, int n);

// BLEU-n of count sentences in one call: hyp[i] (hyp_len[i]) against ref[i] (ref_len[i]). Local.
double bleu_corpus(int n, const int *const *hyp, const int *hyp_len, const int *const *ref,
                   const int *ref_len, int count);
