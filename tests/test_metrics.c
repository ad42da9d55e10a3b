// test_metrics.c - train/metrics.h: the confusion and macro-F1 against hand counts, the AUC against
// hand examples with ties and a naive pair-counting twin, what is and is not invariant, the
// hard-label AUC as per-class balanced accuracy, the NaN cases, growth, and values computed once
// by scikit-learn (the suite does not need sklearn).
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "helpers.h"
#include "nn/loss.h"
#include "train/metrics.h"

#define TOL_HAND 1e-15    /* a closed form like 37/84 against one double division and a mean */
#define TOL_SKLEARN 1e-12 /* sklearn integrates the ROC curve by trapezoids, we sum ranks */

// ---- helpers ----

// A random case: labels uniform over [0, K_label) (K_label <= K: higher classes can only be
// predicted), logits (n, K) ~ U(-2, 2) with lift added to the true class so the metrics sit between
// chance and perfect, then rounded to multiples of step when step > 0 (ties in logits, predictions
// and probabilities).
static void make_case(float *logits, int *labels, int n, int K, int K_label, float lift, float step,
                      uint32_t stream) {
    Rng r;
    rng_init(&r, 1234, 0, stream, RNG_TEST);
    for (int i = 0; i < n; i++)
        labels[i] = (int)rng_below(&r, (uint32_t)K_label);
    rng_fill_uniform(&r, logits, (size_t)n * K, -2, 2);
    for (int i = 0; i < n; i++)
        logits[(size_t)i * K + labels[i]] += lift;
    if (step > 0)
        for (size_t j = 0; j < (size_t)n * K; j++)
            logits[j] = roundf(logits[j] / step) * step;
}

// The naive twin of class_scores_auc: every positive–negative pair of each column of score (n, K),
// a win counting 1 and a tie 1/2, over n_pos · n_neg; macro mean over the classes with both
// (K = 2: class 1 alone, as metrics.h says). NaN when none qualifies.
static double auc_pairs(const float *score, const int32_t *label, int64_t n, int K) {
    double sum = 0;
    int counted = 0;
    for (int k = K == 2 ? 1 : 0; k < K; k++) {
        int64_t pos = 0;
        for (int64_t i = 0; i < n; i++)
            pos += label[i] == k;
        if (pos == 0 || pos == n) continue;
        double wins = 0;
        for (int64_t i = 0; i < n; i++) {
            if (label[i] != k) continue;
            for (int64_t j = 0; j < n; j++) {
                if (label[j] == k) continue;
                float a = score[i * K + k], b = score[j * K + k];
                wins += a > b ? 1.0 : a == b ? 0.5 : 0.0;
            }
        }
        sum += wins / ((double)pos * (double)(n - pos));
        counted++;
    }
    return counted ? sum / counted : NAN;
}

// One-hot rows (n, K) of the first maximum of each logits row: an independent copy of the rule.
static void onehot_argmax(float *onehot, const float *logits, int64_t n, int K) {
    memset(onehot, 0, (size_t)n * K * sizeof *onehot);
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[i * K + k] > logits[i * K + best]) best = k;
        onehot[i * K + best] = 1;
    }
}

// Logits (n, K) predicting pred[i]: 1 at pred[i], 0 elsewhere.
static void logits_for(float *logits, const int *pred, int n, int K) {
    memset(logits, 0, (size_t)n * K * sizeof *logits);
    for (int i = 0; i < n; i++)
        logits[(size_t)i * K + pred[i]] = 1;
}

// ---- confusion, accuracy, macro-F1 ----

START_TEST(test_confusion_and_macro_f1_match_hand_counts) {
    // K = 4: classes 0 and 1 in the truth, class 2 only predicted, class 3 nowhere.
    //   truth 0 0 0 1 1 1 1 0
    //   pred  0 0 1 1 1 2 0 0
    // F1_0 = 2·3 / (2·3 + 1 + 1) = 3/4 (FP row 6, FN row 2); F1_1 = 2·2 / (2·2 + 1 + 2) = 4/7;
    // F1_2 = 0 (one FP, counted, as sklearn counts a label present in the predictions only);
    // class 3 is left out. Macro = (3/4 + 4/7 + 0) / 3 = 37/84. Accuracy 5/8.
    const int truth[8] = {0, 0, 0, 1, 1, 1, 1, 0}, pred[8] = {0, 0, 1, 1, 1, 2, 0, 0};
    float logits[8 * 4];
    logits_for(logits, pred, 8, 4);
    logits[0 * 4 + 2] = 1; // row 0 ties classes 0 and 2: the first maximum, 0, is the prediction
    ClassScores s;
    class_scores_init(&s, 4);
    class_scores_add(&s, logits, truth, 8);
    const int64_t want[16] = {3, 1, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(s.confusion[i], want[i]);
    ck_assert_double_eq_tol(class_scores_accuracy(&s), 5.0 / 8, TOL_HAND);
    ck_assert_double_eq_tol(class_scores_macro_f1(&s), 37.0 / 84, TOL_HAND);
    // Hard-label AUC = mean per-class balanced accuracy over the classes with both positives and
    // negatives (0 and 1; class 2 has no positives): class 0: TPR 3/4, TNR 3/4 (FP row 6) → 3/4;
    // class 1: TPR 2/4, TNR 3/4 (FP row 2) → 5/8. Mean 11/16.
    ck_assert_double_eq_tol(class_scores_auc_hard(&s), 11.0 / 16, TOL_HAND);
    class_scores_free(&s);
}
END_TEST

START_TEST(test_accuracy_from_confusion_equals_argmax_hits) {
    // Logits on a grid of 1: many tied maxima, where a different tie rule would show.
    enum { N = 777, K = 6, BATCH = 50 };
    float *logits = xmalloc(N * K * sizeof *logits);
    int labels[N];
    make_case(logits, labels, N, K, K, 0.5f, 1.0f, 1);
    ClassScores s;
    class_scores_init(&s, K);
    long hits = 0;
    for (int start = 0; start < N; start += BATCH) {
        int B = N - start < BATCH ? N - start : BATCH;
        class_scores_add(&s, logits + (size_t)start * K, labels + start, B);
        hits += argmax_hits(logits + (size_t)start * K, labels + start, B, K);
    }
    int64_t trace = 0;
    for (int k = 0; k < K; k++)
        trace += s.confusion[k * K + k];
    ck_assert_int_eq(trace, hits);
    ck_assert_double_eq(class_scores_accuracy(&s), (double)hits / N);
    class_scores_free(&s);
    xfree(logits);
}
END_TEST

// ---- AUC ----

START_TEST(test_auc_hand_example_with_ties) {
    // K = 2, logits (0, m): p_1 = sigmoid(m) ranks as m. Positives m = 0, 1, 2, -2; negatives
    // m = -1, 0, 1. Pairs (pos > neg 1, tie 1/2): 0 → 1 + 1/2 + 0; 1 → 1 + 1 + 1/2; 2 → 3; -2 → 0.
    // U = 7 of 4·3 pairs: AUC = 7/12. By ranks: -2 r1, -1 r2, (0, 0) r3.5, (1, 1) r5.5, 2 r7;
    // R_pos = 1 + 3.5 + 5.5 + 7 = 17, U = 17 − 4·5/2 = 7.
    const float m[7] = {0, 1, 2, -2, -1, 0, 1};
    const int y[7] = {1, 1, 1, 1, 0, 0, 0};
    float logits[7 * 2];
    for (int i = 0; i < 7; i++) {
        logits[2 * i] = 0;
        logits[2 * i + 1] = m[i];
    }
    ClassScores s;
    class_scores_init(&s, 2);
    class_scores_add(&s, logits, y, 7);
    ck_assert_double_eq_tol(class_scores_auc(&s), 7.0 / 12, TOL_HAND);
    ck_assert_double_eq(class_scores_auc(&s), auc_pairs(s.prob, s.label, s.n, 2));
    class_scores_free(&s);
}
END_TEST

START_TEST(test_auc_perfect_is_one_reversed_is_zero) {
    enum { N = 30 };
    for (int K = 2; K <= 4; K++) {
        int y[N];
        float *up = xmalloc(N * K * sizeof *up), *down = xmalloc(N * K * sizeof *down);
        for (int i = 0; i < N; i++) {
            y[i] = i % K;
            for (int k = 0; k < K; k++) {
                // In every column the positives' p_k is above (below) every negative's.
                up[i * K + k] = k == y[i] ? 5.0f : 0.0f;
                down[i * K + k] = k == y[i] ? -5.0f : 0.0f;
            }
        }
        ClassScores a, b;
        class_scores_init(&a, K);
        class_scores_init(&b, K);
        class_scores_add(&a, up, y, N);
        class_scores_add(&b, down, y, N);
        ck_assert_double_eq(class_scores_auc(&a), 1.0);
        ck_assert_double_eq(class_scores_auc(&b), 0.0);
        ck_assert_double_eq(class_scores_auc_hard(&a), 1.0);
        ck_assert_double_eq(class_scores_macro_f1(&a), 1.0);
        ck_assert_double_eq(class_scores_macro_f1(&b), 0.0);
        // Reversed hard predictions reach 0 only for K = 2 (each class's TNR stays > 0 otherwise).
        if (K == 2) ck_assert_double_eq(class_scores_auc_hard(&b), 0.0);
        class_scores_free(&a);
        class_scores_free(&b);
        xfree(up);
        xfree(down);
    }
}
END_TEST

// A monotone transform of the K = 2 margin, with a row shift on top: p_1 = sigmoid(z_1 − z_0)
// is a monotone function of the margin, and softmax ignores a constant added to a row, so the
// ranking, hence the AUC, is unchanged.
START_TEST(test_auc_k2_invariant_under_monotone_margin_and_row_shift) {
    enum { N = 400 };
    float m[N], a[N * 2], b[N * 2];
    int y[N];
    Rng r;
    rng_init(&r, 1234, 0, 2, RNG_TEST);
    for (int i = 0; i < N; i++) {
        y[i] = (int)rng_below(&r, 2);
        // Margins on a 1/16 grid in [-4, 4] (ties), leaning towards the label.
        m[i] = roundf((rng_uniform(&r) * 6 - 3 + (y[i] ? 1.0f : -1.0f)) * 16) / 16;
        a[2 * i] = 0;
        a[2 * i + 1] = m[i];
        // g(m) = m³/8 + m is strictly increasing and keeps 1/16-apart margins apart in float;
        // |g| <= 12 keeps p_1 below float's saturation at 1. g has 15 fraction bits, so a shift c
        // in [-8, 8] keeps c + g exact (a larger one would round tied margins apart).
        float c = (float)((int)rng_below(&r, 17) - 8);
        b[2 * i] = c;
        b[2 * i + 1] = c + (m[i] * m[i] * m[i] / 8 + m[i]);
    }
    ClassScores sa, sb;
    class_scores_init(&sa, 2);
    class_scores_init(&sb, 2);
    class_scores_add(&sa, a, y, N);
    class_scores_add(&sb, b, y, N);
    double auc = class_scores_auc(&sa);
    ck_assert(auc > 0.6 && auc < 0.95); // between chance and perfect, with ties: not trivial
    ck_assert_double_eq(class_scores_auc(&sb), auc);
    // And it is the binary AUC of the margins themselves, counted pair by pair.
    float score[N * 2];
    for (int i = 0; i < N; i++) {
        score[2 * i] = -m[i];
        score[2 * i + 1] = m[i];
    }
    int32_t y32[N];
    for (int i = 0; i < N; i++)
        y32[i] = y[i];
    ck_assert_double_eq(auc_pairs(score, y32, N, 2), auc);
    class_scores_free(&sa);
    class_scores_free(&sb);
}
END_TEST

// K > 2: a constant added to a row leaves the AUC as it was (with shifts up to 1000, which a
// softmax without the max subtraction would overflow), but scaling the logits (a temperature), a
// monotone map of every logit, reorders the one-vs-rest scores.
START_TEST(test_auc_k10_row_shift_invariant_temperature_not) {
    enum { N = 300, K = 10 };
    float *z = xmalloc(N * K * sizeof *z), *zs = xmalloc(N * K * sizeof *zs);
    int y[N];
    make_case(z, y, N, K, K, 1.0f, 0.5f, 3);
    Rng r;
    rng_init(&r, 1234, 0, 4, RNG_TEST);
    for (int i = 0; i < N; i++) {
        float c = (float)((int)rng_below(&r, 2001) - 1000);
        for (int k = 0; k < K; k++)
            zs[i * K + k] = z[i * K + k] + c; // exact: a half-integer plus an integer
    }
    ClassScores a, b;
    class_scores_init(&a, K);
    class_scores_init(&b, K);
    class_scores_add(&a, z, y, N);
    class_scores_add(&b, zs, y, N);
    ck_assert(isfinite(class_scores_auc(&b)));
    ck_assert_double_eq(class_scores_auc(&b), class_scores_auc(&a));
    class_scores_free(&a);
    class_scores_free(&b);
    xfree(z);
    xfree(zs);

    // K = 3, row A (1, 0, 0) of class 0, row B (2, 2, -100) of class 1. As given: p_0(A) =
    // e/(e + 2) = 0.58 > p_0(B) = 0.5, p_1(B) = 0.5 > p_1(A) = 1/(e + 2) = 0.21: AUC_0 = AUC_1 = 1
    // (class 2 has no positives). Logits × 0.1: p_0(A) = e^0.1/(e^0.1 + 2) = 0.36 < p_0(B) = 0.5,
    // so AUC_0 = 0, while p_1(A) = 0.32 < 0.5 keeps AUC_1 = 1: macro 1/2.
    const float t1[6] = {1, 0, 0, 2, 2, -100}, t01[6] = {0.1f, 0, 0, 0.2f, 0.2f, -10};
    const int yt[2] = {0, 1};
    class_scores_init(&a, 3);
    class_scores_init(&b, 3);
    class_scores_add(&a, t1, yt, 2);
    class_scores_add(&b, t01, yt, 2);
    ck_assert_double_eq(class_scores_auc(&a), 1.0);
    ck_assert_double_eq(class_scores_auc(&b), 0.5);
    class_scores_free(&a);
    class_scores_free(&b);
}
END_TEST

START_TEST(test_auc_k2_equals_binary_auc_of_p1) {
    // Random logits (no grid): p_1 rounds to float, and class 1's column is what is ranked.
    enum { N = 500 };
    float z[N * 2];
    int y[N];
    make_case(z, y, N, 2, 2, 1.0f, 0, 5);
    ClassScores s;
    class_scores_init(&s, 2);
    class_scores_add(&s, z, y, N);
    ck_assert_double_eq(class_scores_auc(&s), auc_pairs(s.prob, s.label, N, 2));
    class_scores_free(&s);

    // Where the columns disagree: margins 18 (class 1) and 20 (class 0) both give p_1 = 1.0f, a
    // tie (AUC 1/2), while p_0 = e^-18, e^-20 still rank them (class 0's AUC 0). K = 2 reports
    // class 1's 1/2, as roc_auc_score(y, p[:, 1]) does; the two classes' mean would be 1/4.
    const float zs[4] = {0, 18, 0, 20};
    const int ys[2] = {1, 0};
    class_scores_init(&s, 2);
    class_scores_add(&s, zs, ys, 2);
    ck_assert(s.prob[1] == 1.0f && s.prob[3] == 1.0f && s.prob[0] > s.prob[2]);
    ck_assert_double_eq(class_scores_auc(&s), 0.5);
    class_scores_free(&s);
}
END_TEST

// The rank-sum AUC against the pair-counting twin on n = 500, K = 10, with ties: _i = 0 puts the
// logits on a grid of 1/2 (ties between rows whose other logits match), _i = 1 overwrites the
// stored probabilities with multiples of 1/16 (the AUC reads prob; heavy ties in every column).
// Both count a tie 1/2 with exact sums (halves of integers), so the values are equal, not near.
START_TEST(test_auc_matches_pair_counting_twin_with_ties) {
    enum { N = 500, K = 10 };
    float *z = xmalloc(N * K * sizeof *z);
    int y[N];
    make_case(z, y, N, K, K, 1.0f, 0.5f, 6);
    ClassScores s;
    class_scores_init(&s, K);
    class_scores_add(&s, z, y, N);
    if (_i == 1)
        for (int j = 0; j < N * K; j++)
            s.prob[j] = roundf(s.prob[j] * 16) / 16;
    double auc = class_scores_auc(&s);
    ck_assert(auc > 0.55 && auc < 0.95);
    ck_assert_double_eq(auc, auc_pairs(s.prob, s.label, N, K));
    class_scores_free(&s);
    xfree(z);
}
END_TEST

START_TEST(test_auc_hard_is_pair_counting_auc_of_one_hot_predictions) {
    // sklearn's roc_auc_score(truth, pred) per class is the pair-counting AUC of the 0/1 score.
    const int Ks[3] = {2, 3, 10};
    for (int c = 0; c < 3; c++) {
        const int K = Ks[c], N = 500;
        float *z = xmalloc((size_t)N * K * sizeof *z), *oh = xmalloc((size_t)N * K * sizeof *oh);
        int *y = xmalloc(N * sizeof *y);
        make_case(z, y, N, K, K, 1.0f, 0.5f, 7 + (uint32_t)c);
        ClassScores s;
        class_scores_init(&s, K);
        class_scores_add(&s, z, y, N);
        onehot_argmax(oh, z, N, K);
        // The twin takes class 1 alone for K = 2; the hard AUC's two classes are equal there.
        ck_assert_double_eq_tol(class_scores_auc_hard(&s), auc_pairs(oh, s.label, N, K), TOL_HAND);
        class_scores_free(&s);
        xfree(z);
        xfree(oh);
        xfree(y);
    }
}
END_TEST

// ---- NaN cases ----

START_TEST(test_nan_cases) {
    ClassScores s;
    class_scores_init(&s, 3);
    ck_assert(isnan(class_scores_accuracy(&s))); // n = 0
    ck_assert(isnan(class_scores_macro_f1(&s)));
    ck_assert(isnan(class_scores_auc(&s)));
    ck_assert(isnan(class_scores_auc_hard(&s)));
    // One label only: no class has both positives and negatives.
    const float z[3 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const int y0[3] = {0, 0, 0};
    class_scores_add(&s, z, y0, 3);
    ck_assert(isnan(class_scores_auc(&s)));
    ck_assert(isnan(class_scores_auc_hard(&s)));
    ck_assert_double_eq_tol(class_scores_accuracy(&s), 1.0 / 3, TOL_HAND);
    // F1: class 0 2·1/(2 + 0 + 2) = 1/2, classes 1 and 2 predicted once, never true: 0. Mean 1/6.
    ck_assert_double_eq_tol(class_scores_macro_f1(&s), 1.0 / 6, TOL_HAND);
    // A NaN logit: its probabilities are NaN, so the AUC is undefined; the prediction is still
    // argmax_hits' (a NaN after the first entry never wins: here 1), so accuracy and F1 stay
    // defined.
    const float zn[3] = {0, 2, NAN};
    const int y1[1] = {1};
    class_scores_add(&s, zn, y1, 1);
    ck_assert(isnan(class_scores_auc(&s)));
    ck_assert_double_eq_tol(class_scores_accuracy(&s), 2.0 / 4, TOL_HAND);
    ck_assert_double_eq_tol(class_scores_auc_hard(&s),
                            (/* class 0 */ (1.0 / 3 + 1) / 2 + /* class 1 */ (1 + 2.0 / 3) / 2) / 2,
                            TOL_HAND);
    // reset: empty again, capacity kept.
    int64_t cap = s.cap;
    class_scores_reset(&s);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(s.cap, cap);
    ck_assert(isnan(class_scores_macro_f1(&s)));
    ck_assert(isnan(class_scores_auc(&s)));
    class_scores_free(&s);
    // K = 1: everything is right, and there are no negatives to rank against.
    class_scores_init(&s, 1);
    const float z1[2] = {0.5f, -3};
    const int yk1[2] = {0, 0};
    class_scores_add(&s, z1, yk1, 2);
    ck_assert_double_eq(class_scores_accuracy(&s), 1.0);
    ck_assert_double_eq(class_scores_macro_f1(&s), 1.0);
    ck_assert(isnan(class_scores_auc(&s)));
    ck_assert(isnan(class_scores_auc_hard(&s)));
    class_scores_free(&s);
    ck_assert_ptr_null(s.prob); // free leaves the struct zeroed, and is safe to repeat
    class_scores_free(&s);
}
END_TEST

// ---- growth ----

START_TEST(test_many_small_adds_equal_one_big_add) {
    enum { N = 1000, K = 7 };
    float *z = xmalloc(N * K * sizeof *z);
    int y[N];
    make_case(z, y, N, K, K, 1.0f, 0.25f, 8);
    ClassScores one, many;
    class_scores_init(&one, K);
    class_scores_init(&many, K);
    class_scores_add(&one, z, y, N);
    int B = 0;
    for (int start = 0; start < N; start += B) {
        B = 1 + start % 13; // sizes 1..13, so the doublings fall inside batches
        if (B > N - start) B = N - start;
        class_scores_add(&many, z + (size_t)start * K, y + start, B);
        class_scores_add(&many, z, y, 0); // an empty batch changes nothing
    }
    ck_assert_int_eq(many.n, N);
    ck_assert_int_ge(many.cap, N);
    ck_assert_mem_eq(many.confusion, one.confusion, K * K * sizeof *one.confusion);
    ck_assert_mem_eq(many.prob, one.prob, N * K * sizeof *one.prob);
    ck_assert_mem_eq(many.label, one.label, N * sizeof *one.label);
    ck_assert_double_eq(class_scores_auc(&many), class_scores_auc(&one));
    ck_assert_double_eq(class_scores_auc_hard(&many), class_scores_auc_hard(&one));
    ck_assert_double_eq(class_scores_macro_f1(&many), class_scores_macro_f1(&one));
    // After a reset the same rows give the same scores again.
    class_scores_reset(&many);
    class_scores_add(&many, z, y, N);
    ck_assert_double_eq(class_scores_auc(&many), class_scores_auc(&one));
    class_scores_free(&one);
    class_scores_free(&many);
    xfree(z);
}
END_TEST

// ---- scikit-learn, once ----

// Values computed once with scikit-learn 1.2.1 (Debian 12's python3-sklearn) on these exact cases
// (the probabilities, labels and first-maximum predictions written out by a throw-away program
// linking this module): roc_auc_score(y, p, multi_class='ovr', average='macro') (K = 2:
// roc_auc_score(y, p[:, 1])), roc_auc_score(y, onehot(pred), multi_class='ovr', average='macro')
// for the hard AUC (K = 2: roc_auc_score(y, pred)), f1_score(y, pred, average='macro').
typedef struct {
    int n, K, K_label;
    float lift, step;
    uint32_t stream;
    double auc, auc_hard, f1; // NaN: not compared (sklearn refuses the AUC when a class is absent)
} SkCase;
static const SkCase sk_cases[] = {
    {60, 4, 4, 1.0f, 0.5f, 21, 0.7236246647117657, 0.6041126795781051, 0.4011583011583012},
    {50, 2, 2, 0.8f, 0.25f, 22, 0.876847290640394, 0.7643678160919538, 0.7688104245481294},
    // Labels 0..2 only, K = 5: sklearn's macro-F1 takes the labels in truth or predictions.
    {40, 5, 3, 0.5f, 0, 23, NAN, NAN, 0.24480331262939958},
};

START_TEST(test_matches_sklearn_values) {
    const SkCase *c = &sk_cases[_i];
    float *z = xmalloc((size_t)c->n * c->K * sizeof *z);
    int *y = xmalloc((size_t)c->n * sizeof *y);
    make_case(z, y, c->n, c->K, c->K_label, c->lift, c->step, c->stream);
    ClassScores s;
    class_scores_init(&s, c->K);
    class_scores_add(&s, z, y, c->n);
    if (!isnan(c->auc)) ck_assert_double_eq_tol(class_scores_auc(&s), c->auc, TOL_SKLEARN);
    if (!isnan(c->auc_hard))
        ck_assert_double_eq_tol(class_scores_auc_hard(&s), c->auc_hard, TOL_SKLEARN);
    ck_assert_double_eq_tol(class_scores_macro_f1(&s), c->f1, TOL_SKLEARN);
    class_scores_free(&s);
    xfree(z);
    xfree(y);
}
END_TEST

// ---- bad input ----

static void init_k0(void *arg) {
    (void)arg;
    ClassScores s;
    class_scores_init(&s, 0);
}
static void add_bad_label(void *arg) {
    (void)arg;
    ClassScores s;
    class_scores_init(&s, 3);
    const float z[6] = {0};
    const int y[2] = {2, 3};
    class_scores_add(&s, z, y, 2);
}
static void add_negative_b(void *arg) {
    (void)arg;
    ClassScores s;
    class_scores_init(&s, 3);
    class_scores_add(&s, NULL, NULL, -1);
}

START_TEST(test_bad_input_dies) {
    expect_die(init_k0, NULL, "class_scores_init", "K = 0");
    expect_die(add_bad_label, NULL, "class_scores_add", "labels[1] = 3", "[0, K = 3)");
    expect_die(add_negative_b, NULL, "class_scores_add", "B = -1");
}
END_TEST

Suite *metrics_suite(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_confusion_and_macro_f1_match_hand_counts);
    tcase_add_test(tc, test_accuracy_from_confusion_equals_argmax_hits);
    tcase_add_test(tc, test_auc_hand_example_with_ties);
    tcase_add_test(tc, test_auc_perfect_is_one_reversed_is_zero);
    tcase_add_test(tc, test_auc_k2_invariant_under_monotone_margin_and_row_shift);
    tcase_add_test(tc, test_auc_k10_row_shift_invariant_temperature_not);
    tcase_add_test(tc, test_auc_k2_equals_binary_auc_of_p1);
    tcase_add_loop_test(tc, test_auc_matches_pair_counting_twin_with_ties, 0, 2);
    tcase_add_test(tc, test_auc_hard_is_pair_counting_auc_of_one_hot_predictions);
    tcase_add_test(tc, test_nan_cases);
    tcase_add_test(tc, test_many_small_adds_equal_one_big_add);
    tcase_add_loop_test(tc, test_matches_sklearn_values, 0,
                        (int)(sizeof sk_cases / sizeof sk_cases[0]));
    tcase_add_test(tc, test_bad_input_dies);
    suite_add_tcase(s, tc);
    return s;
}
