// robust.h - robust aggregation kernels: screening one update (finiteness, range, L2 norm bound
// with reject or clip), and the cloud's order statistics over K updates (coordinate-wise median,
// coordinate-wise trimmed mean, Krum / multi-Krum). docs/robust.md.
//
// Pure arithmetic on arrays: no MPI, no options, no logging. The driver (src/fl) screens each
// party's update on its host, gathers the admitted updates at the cloud in party order, calls
// robust_aggregate, and records the verdicts. The weighted mean of the non-order-statistic rules
// (none, reject, clip) is not here: it stays comm/exact.h's distributed exact sum.
//
// Exactness: the result never depends on the order the K updates are given in, nor on -np. Values
// are sorted under a total order (the float's bits as an ordered integer, ties broken by party id),
// and every sum runs in that canonical order (sorted values; party-id order for Krum's distances
// and average), in double, rounded once to float.
//
// Sources: coordinate-wise median and trimmed mean: Yin, Chen, Ramchandran, Bartlett, "Byzantine-
// Robust Distributed Learning: Towards Optimal Statistical Rates", ICML 2018 (unweighted, as
// there). Krum and multi-Krum: Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning with
// Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017, §4 (score = Σ of the squared
// distances to the K − f − 2 nearest; multi-Krum averages the m best). Norm bounding: Sun et al.,
// "Can You Really Backdoor Federated Learning?", 2019. The weighted multi-Krum average and the
// tie-breaking are [I] reconstruction.
#pragma once

#include <stddef.h>

// The rules of --robust. Written to run files by name: append-only.
typedef enum RobustRule {
    ROBUST_NONE,         // weighted mean, nothing screened but finiteness and range
    ROBUST_REJECT,       // weighted mean of the updates with ‖Δ‖ <= norm_bound
    ROBUST_CLIP,         // weighted mean after scaling each ‖Δ‖ down to at most norm_bound
    ROBUST_MEDIAN,       // coordinate-wise median
    ROBUST_TRIMMED_MEAN, // coordinate-wise trimmed mean
    ROBUST_KRUM,         // Krum / multi-Krum
} RobustRule;
#define ROBUST_RULE_COUNT 6
// The valid names, for error and help messages.
#define ROBUST_RULE_NAMES "none, reject, clip, median, trimmed-mean, krum"

typedef struct RobustOpts {
    RobustRule rule;
    double norm_bound; // reject/clip (and any rule, before it): L2 bound on ‖Δ‖; 0 = off
    double trim;       // trimmed mean: fraction cut at each end, in [0, 0.5)
    int krum_f;        // Krum: assumed attackers f >= 0; needs K > 2f + 2 updates
    int krum_m;        // multi-Krum: the m best averaged, 1 <= m <= K − f (1 = Krum)
} RobustOpts;

// What happened to one party's update. Written to run files: append-only.
typedef enum RobustVerdict {
    VERDICT_KEPT,         // used as sent
    VERDICT_NONFINITE,    // a NaN or an Inf: rejected
    VERDICT_OUT_OF_RANGE, // some |Δ[i]| > cap: rejected
    VERDICT_NORM,         // ‖Δ‖ > norm_bound without clipping: rejected
    VERDICT_CLIPPED,      // ‖Δ‖ > norm_bound, scaled down to the bound: used
    VERDICT_NOT_SELECTED, // Krum: not among the m best scores
    VERDICT_TRIMMED,      // reserved: median and trimmed mean cut per coordinate, never per party
} RobustVerdict;
#define ROBUST_VERDICT_COUNT 7

// The rule's name as --robust spells it / NULL out of range. Static strings. Local.
const char *robust_rule_name(RobustRule rule);
// *out = the rule named name; returns 0, or -1 (leaving *out) when no rule has that name (the
// caller's message lists ROBUST_RULE_NAMES). CHECKs its pointers. Local.
int robust_rule_from_name(const char *name, RobustRule *out);
// "kept", "nonfinite", "out-of-range", "norm", "clipped", "not-selected", "trimmed" / NULL out of
// range. Local.
const char *robust_verdict_name(RobustVerdict v);
// 1 for the verdicts whose update is used (kept, clipped), else 0. Local.
int robust_verdict_admits(RobustVerdict v);
// 1 when the rule needs every party's update in the clear at the cloud (median, trimmed mean,
// Krum): these run in robust_aggregate and cannot run on masked (secure-aggregated) updates.
// Local.
int robust_rule_needs_updates(RobustRule rule);

// Validates opts for K updates (K = 0: the fields alone, before the round's K is known): the rule
// in range, norm_bound finite and >= 0 (and > 0 for reject and clip), trim in [0, 0.5),
// krum_f >= 0, krum_m >= 1, and with K > 0: K >= 1, Krum's K > 2f + 2 and m <= K − f. Returns 0, or
// -1 with a one-line message in msg (cap bytes) naming the field, its value and the rule. Local.
int robust_opts_check(const RobustOpts *opts, int K, char *msg, size_t cap);

// Screens one update, delta (n), on the party's host before upload. In one pass in index order:
// any NaN or Inf → VERDICT_NONFINITE; else any |delta[i]| > cap → VERDICT_OUT_OF_RANGE; else the
// L2 norm (squares summed in double in index order: deterministic). With norm_bound > 0 and
// norm > norm_bound: clip = 0 → VERDICT_NORM (delta untouched); clip = 1 → delta is scaled in
// place, delta[i] = (float)(delta[i] · (norm_bound / norm)) (the factor in double, each element
// rounded once), and while rounding leaves the new norm above the bound the factor shrinks by
// 2^-22, doubling each pass (at worst to 0), so the clipped norm is <= norm_bound always and >=
// norm_bound · (1 − 2^-20) for bounds above float's subnormals → VERDICT_CLIPPED. Else
// VERDICT_KEPT. *norm (may be NULL) = the norm before clipping (NaN or Inf for a non-finite
// update). Only CLIPPED writes delta. CHECKs delta (n > 0), cap > 0 (INFINITY: no range check),
// norm_bound finite and >= 0 (0: no bound). Local.
RobustVerdict robust_screen(float *delta, size_t n, double cap, double norm_bound, int clip,
                            double *norm);

// The cloud's order statistics over K admitted updates: out (n) = the aggregate update.
// delta (K, n) row-major, row k from party party[k] (distinct ids, any order); w (K) their
// weights (finite, > 0; only Krum uses them, renormalised over the selected).
//   ROBUST_MEDIAN:       out[i] = the median of the K values delta[·][i] (even K: the mean of the
//                        two middle values, in double).
//   ROBUST_TRIMMED_MEAN: t = floor(trim · K) values cut at each end of delta[·][i] sorted, out[i] =
//                        the mean of the K − 2t others (summed in sorted order, in double).
//   ROBUST_KRUM:         d(j, k) = Σ_i (delta[j][i] − delta[k][i])² in double, index order;
//                        score(k) = the sum of its K − f − 2 smallest d(k, ·), ascending; the m
//                        lowest (score, party id) are selected; out = Σ w_k delta[k] / Σ w_k over
//                        them, in double in party-id order.
// verdict (K, may be NULL) = VERDICT_KEPT for every update but Krum's unselected
// (VERDICT_NOT_SELECTED). Every value must be finite (robust_screen first): CHECKed with the party
// and index. The result's bits do not depend on the order of the rows (with their ids and
// weights). Works in blocks of ROBUST_BLOCK coordinates: scratch O(K · ROBUST_BLOCK + K²),
// allocated and freed inside. CHECKs the rule (median, trimmed mean or Krum), robust_opts_check's
// conditions for K (Krum: "K > 2f + 2"), the pointers, n > 0. Local (the cloud's rank).
#define ROBUST_BLOCK 1024
void robust_aggregate(const RobustOpts *opts, float *out, RobustVerdict *verdict,
                      const float *delta, const double *w, const int *party, int K, size_t n);
