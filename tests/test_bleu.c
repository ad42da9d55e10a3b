// test_bleu.c - corpus BLEU-n with smoothing method 1 (data/bleu.h): hand-computed values on tiny
// corpora (identical, disjoint, a short hypothesis, clipping, several references), merged
// statistics equal one pass,
// and random corpora against NLTK's corpus_bleu (tests/nltk/bleu_nltk.py under Debian's
// /usr/bin/python3 with python3-nltk: scripts/deps.sh analysis). The NLTK run without smoothing
// must differ on the corpora with an n-gram order without a match, so the comparison can fail.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "data/bleu.h"
#include "helpers.h"
#include "tmpdir.h"

#define TOL_HAND 1e-12 /* a few double operations (log, exp) off the exact value */
#define TOL_NLTK                                                                                   \
    1e-6 /* the brief's bar; the two agree to ~1e-15 (same formula, Fraction vs double) */

static double bleu1(int n, const int *h, int hl, const int *r, int rl) {
    const int *hs[1] = {h}, *rs[1] = {r};
    return bleu_corpus(n, hs, &hl, rs, &rl, 1);
}

START_TEST(test_identical_is_one_and_disjoint_is_zero) {
    int a[6] = {3, 4, 5, 6, 7, 8}, b[6] = {9, 10, 11, 12, 13, 14};
    for (int n = 1; n <= BLEU_MAX_N; n++) {
        ck_assert_double_eq_tol(bleu1(n, a, 6, a, 6), 1.0, TOL_HAND);
        ck_assert_double_eq(bleu1(n, a, 6, b, 6), 0.0); // no unigram match: 0, smoothing or not
    }
    ck_assert_double_eq(bleu_corpus(4, NULL, NULL, NULL, NULL, 0), 0.0); // empty corpus
    ck_assert_double_eq(bleu1(4, NULL, 0, a, 6), 0.0);                   // empty hypothesis
}
END_TEST

START_TEST(test_a_short_hypothesis_pays_the_brevity_penalty) {
    // hyp 1 2 3 against 1 2 3 4 5: p1 = p2 = p3 = 1, no 4-gram (p4 = 0.1 / max(1, 0)), c = 3 < r
    // = 5.
    int h[3] = {1, 2, 3}, r[5] = {1, 2, 3, 4, 5};
    double bp = exp(1 - 5.0 / 3.0);
    for (int n = 1; n <= 3; n++)
        ck_assert_double_eq_tol(bleu1(n, h, 3, r, 5), bp, TOL_HAND);
    ck_assert_double_eq_tol(bleu1(4, h, 3, r, 5), bp * pow(0.1, 0.25), TOL_HAND);
    // The other way round: longer hypothesis, no penalty; p1 = 3/5, p2 = 2/4, p3 = 1/3, p4 = 0.1/2.
    ck_assert_double_eq_tol(bleu1(1, r, 5, h, 3), 0.6, TOL_HAND);
    ck_assert_double_eq_tol(bleu1(4, r, 5, h, 3), pow(0.6 * 0.5 / 3 * 0.05, 0.25), TOL_HAND);
}
END_TEST

START_TEST(test_matches_are_clipped_by_the_reference_count) {
    int h[4] = {7, 7, 7, 7}, r[2] = {7, 1};
    ck_assert_double_eq_tol(bleu1(1, h, 4, r, 2), 0.25, TOL_HAND); // 1 of 4, not 4 of 4
    // Two sentences: the corpus sums counts before dividing (2/4 and 1/1 -> 3/5, not their mean).
    int a[4] = {1, 2, 8, 9}, ra[4] = {1, 2, 3, 4}, b[1] = {5}, rb[1] = {5};
    const int *hs[2] = {a, b}, *rs[2] = {ra, rb};
    int hl[2] = {4, 1}, rl[2] = {4, 1};
    ck_assert_double_eq_tol(bleu_corpus(1, hs, hl, rs, rl, 2), 0.6, TOL_HAND);
}
END_TEST

// Random corpus c of the NLTK comparison: sentence i has a hypothesis and 1 reference (corpora
// below N_CORPORA / 2) or 1..3 references (the others) of length 0..11 over a small vocabulary
// (so n-grams match), each reference a perturbed hypothesis.
enum { N_CORPORA = 40, MAX_REFS = 3 };
typedef struct {
    int n;
    int h[24][12], r[24][MAX_REFS][12], hl[24], rl[24][MAX_REFS], nr[24];
} Corpus;

static void perturbed(Rng *g, int *r, const int *h, int vocab, int shift) {
    for (int k = 0; k < 12; k++) // mostly the hypothesis shifted by 0 or 1
        r[k] = rng_uniform(g) < 0.3f ? (int)rng_below(g, (uint32_t)vocab) : h[(k + shift) % 12];
}

static void make_corpus(Corpus *c, int which) {
    Rng g;
    rng_init(&g, 77, (uint32_t)which, 0, RNG_TEST);
    c->n = 1 + (int)rng_below(&g, 24);
    int vocab = 3 + (int)rng_below(&g, 8);
    for (int i = 0; i < c->n; i++) {
        c->hl[i] = (int)rng_below(&g, 12);
        c->rl[i][0] = (int)rng_below(&g, 12);
        for (int k = 0; k < 12; k++)
            c->h[i][k] = (int)rng_below(&g, (uint32_t)vocab);
        perturbed(&g, c->r[i][0], c->h[i], vocab, i % 2);
        c->nr[i] = which < N_CORPORA / 2 ? 1 : 1 + (int)rng_below(&g, MAX_REFS);
        for (int j = 1; j < c->nr[i]; j++) {
            c->rl[i][j] = (int)rng_below(&g, 12);
            perturbed(&g, c->r[i][j], c->h[i], vocab, j % 2);
        }
    }
}

static void add_sentence(BleuStats *s, const Corpus *c, int i) {
    const int *refs[MAX_REFS];
    for (int j = 0; j < c->nr[i]; j++)
        refs[j] = c->r[i][j];
    if (c->nr[i] == 1)
        bleu_stats_add(s, c->h[i], c->hl[i], refs[0], c->rl[i][0]);
    else
        bleu_stats_add_refs(s, c->h[i], c->hl[i], refs, c->rl[i], c->nr[i]);
}

static double corpus_score(const Corpus *c, int n) {
    BleuStats s;
    bleu_stats_init(&s);
    for (int i = 0; i < c->n; i++)
        add_sentence(&s, c, i);
    return bleu_score(&s, n);
}

// Several references: a k-gram is clipped by its largest count in any one reference (not their
// sum), and the brevity penalty reads the closest reference length, the shorter on a tie.
START_TEST(test_references_clip_by_the_largest_count_and_the_closest_length) {
    const int hyp[] = {1, 1, 1}, r1[] = {1}, r2[] = {1, 1};
    const int *refs[] = {r1, r2}, len[] = {1, 2};
    BleuStats s;
    bleu_stats_init(&s);
    bleu_stats_add_refs(&s, hyp, 3, refs, len, 2);
    ck_assert_int_eq(s.match[0], 2); // max(1, 2), not 1 + 2
    ck_assert_int_eq(s.ref_len, 2);
    ck_assert_double_eq_tol(bleu_score(&s, 1), 2.0 / 3.0, 1e-15);
    const int h2[] = {1, 2}, q1[] = {1}, q2[] = {1, 2, 3};
    const int *refs2[] = {q2, q1}, len2[] = {3, 1};
    bleu_stats_init(&s);
    bleu_stats_add_refs(&s, h2, 2, refs2, len2, 2);
    ck_assert_int_eq(s.ref_len, 1); // |3 - 2| = |1 - 2|: the shorter
    ck_assert_double_eq_tol(bleu_score(&s, 1), 1.0, 1e-15);
}
END_TEST

START_TEST(test_merged_statistics_equal_one_pass) {
    Corpus c;
    make_corpus(&c, N_CORPORA - 3);
    BleuStats a, b, all;
    bleu_stats_init(&a), bleu_stats_init(&b), bleu_stats_init(&all);
    for (int i = 0; i < c.n; i++) {
        add_sentence(i % 3 ? &a : &b, &c, i);
        add_sentence(&all, &c, i);
    }
    bleu_stats_merge(&a, &b);
    ck_assert(memcmp(&a, &all, sizeof a) == 0);
    for (int n = 1; n <= BLEU_MAX_N; n++)
        ck_assert_double_eq(bleu_score(&a, n), corpus_score(&c, n));
}
END_TEST

// NLTK's four scores per corpus, smoothed (ref) and by method0 (raw); fails on any error.
static void nltk_scores(double ref[N_CORPORA][4], double raw[N_CORPORA][4]) {
    char dir[64], path[128], out[32768];
    tmpdir_make(dir, sizeof dir, "bleu_nltk");
    snprintf(path, sizeof path, "%s/corpora.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    for (int c = 0; c < N_CORPORA; c++) {
        Corpus k;
        make_corpus(&k, c);
        for (int i = 0; i < k.n; i++) {
            for (int t = 0; t < k.hl[i]; t++)
                fprintf(f, "%d ", k.h[i][t]);
            for (int j = 0; j < k.nr[i]; j++) {
                fputc('|', f);
                for (int t = 0; t < k.rl[i][j]; t++)
                    fprintf(f, "%d ", k.r[i][j][t]);
            }
            fputc('\n', f);
        }
        fputc('\n', f);
    }
    fclose(f);
    // One python run (importing nltk takes ~2 s): a missing module shows in its output.
    int rc = run_command(out, sizeof out, "/usr/bin/python3 tests/nltk/bleu_nltk.py %s 2>&1", path);
    tmpdir_remove(dir);
    ck_assert_msg(rc == 0,
                  "bleu_nltk.py: exit %d (without python3-nltk: scripts/deps.sh analysis installs "
                  "it):\n%s",
                  rc, out);
    const char *p = out;
    for (int c = 0; c < N_CORPORA; c++) {
        int got, used = 0;
        double *a = ref[c], *b = raw[c];
        ck_assert_msg(sscanf(p, "corpus %d %lf %lf %lf %lf raw %lf %lf %lf %lf%n", &got, &a[0],
                             &a[1], &a[2], &a[3], &b[0], &b[1], &b[2], &b[3], &used) == 9 &&
                          got == c,
                      "bleu_nltk.py: no line for corpus %d in:\n%s", c, out);
        p += used;
        while (*p == '\n')
            p++;
    }
}

START_TEST(test_random_corpora_match_nltk) {
    static double ref[N_CORPORA][4], raw[N_CORPORA][4];
    nltk_scores(ref, raw);
    int smoothed = 0, zero = 0;
    for (int c = 0; c < N_CORPORA; c++) {
        Corpus k;
        make_corpus(&k, c);
        for (int n = 1; n <= BLEU_MAX_N; n++) {
            double ours = corpus_score(&k, n);
            ck_assert_msg(fabs(ours - ref[c][n - 1]) <= TOL_NLTK,
                          "corpus %d BLEU-%d: ours %.17g, NLTK %.17g", c, n, ours, ref[c][n - 1]);
            smoothed += fabs(ours - raw[c][n - 1]) > TOL_NLTK;
            zero += ours == 0;
        }
    }
    // The corpora exercise the smoothing (else the comparison would not see method 1) and mostly
    // score above 0.
    ck_assert_int_ge(smoothed, 5);
    ck_assert_int_lt(zero, N_CORPORA);
}
END_TEST

static void bad_order(void *arg) {
    (void)arg;
    BleuStats s;
    bleu_stats_init(&s);
    bleu_score(&s, 5);
}

static void bad_length(void *arg) {
    (void)arg;
    BleuStats s;
    int x = 1;
    bleu_stats_init(&s);
    bleu_stats_add(&s, &x, -1, &x, 1);
}

START_TEST(test_bad_arguments_die_naming_them) {
    expect_die(bad_order, NULL, "order n=5");
    expect_die(bad_length, NULL, "hyp -1");
}
END_TEST

Suite *bleu_suite(void) {
    Suite *s = suite_create("bleu");
    TCase *tc = tcase_create("bleu");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_identical_is_one_and_disjoint_is_zero);
    tcase_add_test(tc, test_a_short_hypothesis_pays_the_brevity_penalty);
    tcase_add_test(tc, test_references_clip_by_the_largest_count_and_the_closest_length);
    tcase_add_test(tc, test_matches_are_clipped_by_the_reference_count);
    tcase_add_test(tc, test_merged_statistics_equal_one_pass);
    tcase_add_test(tc, test_random_corpora_match_nltk);
    tcase_add_test(tc, test_bad_arguments_die_naming_them);
    suite_add_tcase(s, tc);
    return s;
}
