// metrics.h - classification metrics beside accuracy: macro-F1, one-vs-rest ROC AUC from
// probabilities, and FedMLLM's "hard-label AUC". Rows are added one minibatch of logits at a time;
// the metrics are computed from everything added. Pure computation (no MPI, no randomness): the
// same rows in the same order give the same bits on any rank. It does not evaluate a model (that is
// train/local.h) and does not combine scores across ranks: a caller scores rows where it has them.
//
// Definitions (docs/methods.md §6; K classes, n rows, C the confusion, row = true class):
// - prediction: argmax of the row's logits, first index on ties, the rule of argmax_hits
//   (nn/loss.h), so accuracy = Σ_k C[k][k] / n is exactly the existing correct count over n.
// - macro-F1: mean over classes of F1_k = 2TP/(2TP + FP + FN); a class with 2TP + FP + FN = 0 (in
//   neither the truth nor the predictions) is left out. That is sklearn's
//   f1_score(average='macro'), which averages over the labels present in y_true or y_pred.
// - AUC: per class k, the ROC AUC of the scores p_k = softmax(logits)_k for "label == k" against
//   the rest, by the Mann–Whitney statistic with average ranks for ties (a tied positive–negative
//   pair counts 1/2): AUC_k = (R_pos − n_pos(n_pos + 1)/2) / (n_pos · n_neg), R_pos the rank sum of
//   the positives. Macro mean over the classes that have both positives and negatives; sklearn's
//   roc_auc_score(multi_class='ovr', average='macro') when every class qualifies (sklearn refuses
//   the other cases). For K = 2 the two classes' AUCs are equal in exact arithmetic, as
//   p_0 = 1 − p_1, but float rounding can tie rows in one column that the other still separates
//   (p_1 saturates at 1 long before p_0 reaches 0), so K = 2 reports class 1's AUC alone: the
//   binary AUC of p_1, sklearn's roc_auc_score(y, p[:, 1]).
// - hard-label AUC: the same one-vs-rest macro mean with the one-hot prediction [pred == k] as the
//   score, i.e. sklearn's roc_auc_score(truth, pred) on 0/1 predictions, FedMLLM's metric for
//   Hateful Memes. With a 0/1 score the ROC curve has one inner point (FPR, TPR), and its area is
//   (1 + TPR − FPR)/2 = (TPR + TNR)/2: the balanced accuracy of class k. Computed from C alone.
//   For K = 2 both classes give the same value.
// Probabilities are stored as float32, so scores closer than float resolution tie (p_k > 1 − 6e-8,
// i.e. a margin above ~16.6 nats, all rank as 1); ties count 1/2 as above, as sklearn's do.
//
// [I] reconstruction; the metric definitions are the standard ones (Mann & Whitney 1947; Hanley &
// McNeil 1982 for AUC = U / (n_pos n_neg)); the hard-label AUC follows FedMLLM's evaluation code.
#pragma once
#include <stdint.h>

// Rows scored so far. Transparent: callers and tests read the fields. Owned arrays.
typedef struct {
    int K;              // classes
    int64_t n, cap;     // rows added, rows allocated
    int64_t *confusion; // (K, K) counts, row = true class, column = predicted class
    float *prob;        // (cap, K) softmax probabilities of the rows added, row-major
    int32_t *label;     // (cap) true classes
} ClassScores;

// Empty scores for K classes (n = 0); the arrays grow as rows arrive. CHECKs K >= 1. Pair with
// class_scores_free. Local.
void class_scores_init(ClassScores *s, int K);
// n = 0 and the confusion zeroed; the capacity is kept. Local.
void class_scores_reset(ClassScores *s);
// Releases the arrays; safe on a zeroed struct, leaves it zeroed. Local.
void class_scores_free(ClassScores *s);

// Adds B rows: logits (B, K) and labels (B), both borrowed for the call. Writes each row's
// softmax (max-subtracted, in double, rounded to float) to prob and counts its prediction (first
// maximum of the logits, as argmax_hits) in the confusion. Grows the arrays (doubling) when needed.
// Non-finite logits are accepted: their probabilities hold NaN, which makes the AUC NaN (below),
// while the prediction follows argmax_hits' comparisons. CHECKs B >= 0, the pointers when B > 0,
// and labels in [0, K) naming the row and value. Local.
void class_scores_add(ClassScores *s, const float *logits, const int *labels, int B);

// Σ_k C[k][k] / n; NaN when n = 0. Local.
double class_scores_accuracy(const ClassScores *s);
// Macro-F1 as defined above; NaN when n = 0. Local.
double class_scores_macro_f1(const ClassScores *s);
// One-vs-rest ROC AUC from the probabilities, macro mean as defined above (K = 2: class 1's).
// One sort per class, O(K n log n) time, O(n) scratch (allocated and freed here). NaN when no class
// has both positives and negatives (n = 0, K = 1, one label only), or when a probability of a
// qualifying class is NaN. Local.
double class_scores_auc(const ClassScores *s);
// Hard-label AUC: mean over the qualifying classes of (TPR_k + TNR_k)/2 (balanced accuracy of
// class k) from the confusion; the same qualification rule and NaN case as class_scores_auc. Local.
double class_scores_auc_hard(const ClassScores *s);
