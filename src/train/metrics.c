// metrics.c - macro-F1, one-vs-rest ROC AUC and the hard-label AUC (see metrics.h).
#include "train/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

void class_scores_init(ClassScores *s, int K) {
    CHECK(K >= 1, "K = %d classes, need at least 1", K);
    memset(s, 0, sizeof *s);
    s->K = K;
    s->confusion = xcalloc((size_t)K * (size_t)K, sizeof *s->confusion);
}

void class_scores_reset(ClassScores *s) {
    s->n = 0;
    memset(s->confusion, 0, (size_t)s->K * (size_t)s->K * sizeof *s->confusion);
}

void class_scores_free(ClassScores *s) {
    xfree(s->confusion);
    xfree(s->prob);
    xfree(s->label);
    memset(s, 0, sizeof *s);
}

static void grow(ClassScores *s, int64_t need) {
    if (need <= s->cap) return;
    int64_t cap = s->cap < 64 ? 64 : s->cap;
    while (cap < need)
        cap *= 2;
    float *prob = xmalloc((size_t)cap * (size_t)s->K * sizeof *prob);
    int32_t *label = xmalloc((size_t)cap * sizeof *label);
    if (s->n > 0) {
        memcpy(prob, s->prob, (size_t)s->n * (size_t)s->K * sizeof *prob);
        memcpy(label, s->label, (size_t)s->n * sizeof *label);
    }
    xfree(s->prob);
    xfree(s->label);
    s->prob = prob;
    s->label = label;
    s->cap = cap;
}

void class_scores_add(ClassScores *s, const float *logits, const int *labels, int B) {
    CHECK(B >= 0, "B = %d rows", B);
    if (B == 0) return;
    CHECK_PTR(logits);
    CHECK_PTR(labels);
    const int K = s->K;
    for (int b = 0; b < B; b++)
        CHECK(labels[b] >= 0 && labels[b] < K, "labels[%d] = %d outside [0, K = %d)", b, labels[b],
              K);
    grow(s, s->n + B);
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        // argmax_hits' loop (nn/loss.c): strict >, so the first maximum wins and a NaN never does.
        int pred = 0;
        for (int k = 1; k < K; k++)
            if (z[k] > z[pred]) pred = k;
        s->confusion[(size_t)labels[b] * K + pred]++;
        // Max-subtracted softmax in double, rounded once: the only ties left in prob are the ones
        // float32 cannot tell apart.
        double mx = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > mx) mx = z[k];
        double sum = 0;
        for (int k = 0; k < K; k++)
            sum += exp((double)z[k] - mx);
        float *p = s->prob + (size_t)s->n * K;
        for (int k = 0; k < K; k++)
            p[k] = (float)(exp((double)z[k] - mx) / sum);
        s->label[s->n] = labels[b];
        s->n++;
    }
}

double class_scores_accuracy(const ClassScores *s) {
    if (s->n == 0) return NAN;
    int64_t hits = 0;
    for (int k = 0; k < s->K; k++)
        hits += s->confusion[(size_t)k * s->K + k];
    return (double)hits / (double)s->n;
}

// Row sum (true class k) and column sum (predicted class k) of the confusion.
static int64_t truth_count(const ClassScores *s, int k) {
    int64_t c = 0;
    for (int j = 0; j < s->K; j++)
        c += s->confusion[(size_t)k * s->K + j];
    return c;
}
static int64_t pred_count(const ClassScores *s, int k) {
    int64_t c = 0;
    for (int j = 0; j < s->K; j++)
        c += s->confusion[(size_t)j * s->K + k];
    return c;
}

double class_scores_macro_f1(const ClassScores *s) {
    if (s->n == 0) return NAN;
    double sum = 0;
    int counted = 0;
    for (int k = 0; k < s->K; k++) {
        int64_t tp = s->confusion[(size_t)k * s->K + k];
        int64_t denom = truth_count(s, k) + pred_count(s, k); // 2TP + FP + FN
        if (denom == 0) continue;
        sum += 2.0 * (double)tp / (double)denom;
        counted++;
    }
    return sum / counted; // n > 0: some class has a true row, so counted >= 1
}

double class_scores_auc_hard(const ClassScores *s) {
    double sum = 0;
    int counted = 0;
    for (int k = 0; k < s->K; k++) {
        int64_t pos = truth_count(s, k), neg = s->n - pos;
        if (pos == 0 || neg == 0) continue;
        int64_t tp = s->confusion[(size_t)k * s->K + k];
        int64_t fp = pred_count(s, k) - tp;
        double tpr = (double)tp / (double)pos, tnr = (double)(neg - fp) / (double)neg;
        sum += (tpr + tnr) / 2;
        counted++;
    }
    return counted ? sum / counted : NAN;
}

typedef struct {
    float p;
    int pos;
} Scored;

static int by_score(const void *a, const void *b) {
    float x = ((const Scored *)a)->p, y = ((const Scored *)b)->p;
    return (x > y) - (x < y);
}

// Mann–Whitney AUC of class k's column; work (n). The caller has checked the column holds both
// positives and negatives and no NaN (a NaN would break the sort's ordering).
static double auc_class(const ClassScores *s, int k, int64_t pos, Scored *work) {
    const int64_t n = s->n;
    for (int64_t i = 0; i < n; i++) {
        work[i].p = s->prob[(size_t)i * s->K + k];
        work[i].pos = s->label[i] == k;
    }
    qsort(work, (size_t)n, sizeof *work, by_score);
    // Ranks are 1-based; a tie group [i, j) shares the rank (i + 1 + j) / 2. Twice the rank sum is
    // an integer below 2^53 for any n that fits in memory, so the sum is exact and order-free.
    double rank2_pos = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && work[j].p == work[i].p)
            j++;
        int64_t pos_in_group = 0;
        for (int64_t t = i; t < j; t++)
            pos_in_group += work[t].pos;
        rank2_pos += (double)pos_in_group * (double)(i + 1 + j);
        i = j;
    }
    double neg = (double)(n - pos);
    return (rank2_pos / 2 - (double)pos * (double)(pos + 1) / 2) / ((double)pos * neg);
}

double class_scores_auc(const ClassScores *s) {
    const int K = s->K;
    // K = 2: class 1 alone (metrics.h: float rounding can make class 0's ranking differ).
    const int k0 = K == 2 ? 1 : 0;
    Scored *work = NULL;
    double sum = 0;
    int counted = 0;
    for (int k = k0; k < K; k++) {
        int64_t pos = truth_count(s, k);
        if (pos == 0 || pos == s->n) continue;
        for (int64_t i = 0; i < s->n; i++)
            if (isnan(s->prob[(size_t)i * K + k])) {
                xfree(work);
                return NAN;
            }
        if (!work) work = xmalloc((size_t)s->n * sizeof *work);
        sum += auc_class(s, k, pos, work);
        counted++;
    }
    xfree(work);
    return counted ? sum / counted : NAN;
}
