// test_robust.c - robust aggregation (src/agg/robust.h): screening's verdicts and clipping, the
// median, trimmed mean and (multi-)Krum against hand-computed cases and a naive twin, their
// independence of the order of the updates (bits), Krum's precondition, and the time each rule
// takes at n = 318,410, K = 10 (the size issue 14 sets).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg/robust.h"
#include "core/rng.h"
#include "core/timer.h"
#include "helpers.h"

#define TOL_HAND 1e-6    /* hand-computed values: exact in float but for thirds (one rounding) */
#define TOL_CLIP 0x1p-20 /* clipped norm below the bound by at most the 2^-22 shrink + rounding */
#define TIME_LIMIT_MS 1000.0 /* per rule at n = 318,410, K = 10; measured 16-37 ms at load 3 */

static RobustOpts opts_of(RobustRule rule) {
    return (RobustOpts){.rule = rule, .norm_bound = 0, .trim = 0, .krum_f = 0, .krum_m = 1};
}

// ---- screening ----

START_TEST(test_screen_rejects_nonfinite_before_range_and_norm) {
    float x[4] = {1, 2, 100, NAN}; // out of range too, but non-finite wins
    double nrm = 0;
    ck_assert_int_eq(robust_screen(x, 4, 4.0, 1.0, 1, &nrm), VERDICT_NONFINITE);
    ck_assert(isnan(nrm));
    float y[3] = {INFINITY, 0, 0};
    ck_assert_int_eq(robust_screen(y, 3, INFINITY, 0, 0, &nrm), VERDICT_NONFINITE);
    float z[3] = {0, -INFINITY, 0};
    ck_assert_int_eq(robust_screen(z, 3, 4.0, 0, 0, NULL), VERDICT_NONFINITE);
    ck_assert(x[0] == 1 && x[2] == 100); // nothing written
}
END_TEST

START_TEST(test_screen_range_is_strictly_above_cap) {
    float at[3] = {4, -4, 0}, above[3] = {0, -4.0001f, 0};
    ck_assert_int_eq(robust_screen(at, 3, 4.0, 0, 0, NULL), VERDICT_KEPT);
    ck_assert_int_eq(robust_screen(above, 3, 4.0, 0, 0, NULL), VERDICT_OUT_OF_RANGE);
    ck_assert_int_eq(robust_screen(above, 3, INFINITY, 0, 0, NULL), VERDICT_KEPT);
}
END_TEST

// (3, 4) has norm 5 exactly. Bound 5: kept. Bound 4.9: rejected without clip (untouched), clipped
// with: (3, 4)·0.98 = (2.94, 3.92), norm 4.9 within the clip tolerance and not above.
START_TEST(test_screen_norm_bound_rejects_or_clips) {
    float x[2] = {3, 4};
    double nrm = 0;
    ck_assert_int_eq(robust_screen(x, 2, 4096, 5.0, 0, &nrm), VERDICT_KEPT);
    ck_assert(nrm == 5.0);
    ck_assert_int_eq(robust_screen(x, 2, 4096, 4.9, 0, &nrm), VERDICT_NORM);
    ck_assert(nrm == 5.0 && x[0] == 3 && x[1] == 4);
    ck_assert_int_eq(robust_screen(x, 2, 4096, 0, 0, &nrm), VERDICT_KEPT); // 0: no bound
    ck_assert_int_eq(robust_screen(x, 2, 4096, 4.9, 1, &nrm), VERDICT_CLIPPED);
    ck_assert(nrm == 5.0); // the norm before clipping
    ck_assert_double_eq_tol(x[0], 2.94, TOL_HAND);
    ck_assert_double_eq_tol(x[1], 3.92, TOL_HAND);
    double after = sqrt((double)x[0] * x[0] + (double)x[1] * x[1]);
    ck_assert_msg(after <= 4.9 && after >= 4.9 * (1 - TOL_CLIP), "clipped norm %.17g", after);
    ck_assert_int_eq(robust_screen(x, 2, 4096, 4.9, 1, &nrm), VERDICT_KEPT); // now inside
}
END_TEST

// A long random update clipped to several bounds: the norm after (in double, index order, as the
// screen computes it) is never above the bound and within TOL_CLIP below it.
START_TEST(test_screen_clip_lands_on_the_bound) {
    enum { N = 100003 };
    float *x = malloc(N * sizeof *x);
    const double bounds[] = {1e-3, 0.7, 1.0, 3.3, 150.0};
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        fill_uniform(x, N, -1.f, 1.f, (uint32_t)b);
        double before;
        ck_assert_int_eq(robust_screen(x, N, 4096, bounds[b], 1, &before), VERDICT_CLIPPED);
        ck_assert(before > bounds[b]);
        double after;
        ck_assert_int_eq(robust_screen(x, N, 4096, 0, 0, &after), VERDICT_KEPT);
        ck_assert_msg(after <= bounds[b] && after >= bounds[b] * (1 - TOL_CLIP),
                      "bound %g: clipped norm %.17g", bounds[b], after);
    }
    // A bound among float's subnormals: rounding is coarse there, the shrink still ends at or
    // below the bound (here: the zero vector or close to it).
    fill_uniform(x, N, -1.f, 1.f, 9);
    ck_assert_int_eq(robust_screen(x, N, 4096, 1e-44, 1, NULL), VERDICT_CLIPPED);
    double after;
    robust_screen(x, N, 4096, 0, 0, &after);
    ck_assert_msg(after <= 1e-44, "subnormal bound: clipped norm %g", after);
    free(x);
}
END_TEST

// ---- hand-computed order statistics ----

// Five updates of three coordinates (rows = parties 0..4):
//   p0 [  1, 0, -2]   p1 [2, 5, -1]   p2 [3, 1, 0]   p3 [100, 2, 8]   p4 [-50, 3, 10]
// sorted per coordinate: c0 -50 1 2 3 100 | c1 0 1 2 3 5 | c2 -2 -1 0 8 10
static const float FIVE[5][3] = {{1, 0, -2}, {2, 5, -1}, {3, 1, 0}, {100, 2, 8}, {-50, 3, 10}};
static const double W5[5] = {0.2, 0.2, 0.2, 0.2, 0.2};
static const int ID5[5] = {0, 1, 2, 3, 4};

// Median: K = 5 → the middle values (2, 2, 0). K = 4 (p0..p3): c0 1 2 3 100 → 2.5, c1 0 1 2 5 →
// 1.5, c2 -2 -1 0 8 → -0.5.
START_TEST(test_median_by_hand) {
    RobustOpts o = opts_of(ROBUST_MEDIAN);
    float out[3];
    RobustVerdict v[5] = {VERDICT_NORM, VERDICT_NORM, VERDICT_NORM, VERDICT_NORM, VERDICT_NORM};
    robust_aggregate(&o, out, v, &FIVE[0][0], W5, ID5, 5, 3);
    ck_assert(out[0] == 2 && out[1] == 2 && out[2] == 0);
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(v[k], VERDICT_KEPT);
    robust_aggregate(&o, out, NULL, &FIVE[0][0], W5, ID5, 4, 3);
    ck_assert(out[0] == 2.5f && out[1] == 1.5f && out[2] == -0.5f);
}
END_TEST

// Trimmed mean, K = 5. trim 0.2 → t = 1: c0 mean(1, 2, 3) = 2, c1 mean(1, 2, 3) = 2, c2
// mean(-1, 0, 8) = 7/3. trim 0 → the plain mean: c0 56/5 = 11.2, c1 11/5 = 2.2, c2 15/5 = 3.
// trim 0.45 → t = floor(2.25) = 2: the median. K = 4, trim 0.3 → t = 1: c0 mean(2, 3) = 2.5.
START_TEST(test_trimmed_mean_by_hand) {
    RobustOpts o = opts_of(ROBUST_TRIMMED_MEAN);
    float out[3];
    o.trim = 0.2;
    robust_aggregate(&o, out, NULL, &FIVE[0][0], W5, ID5, 5, 3);
    ck_assert(out[0] == 2 && out[1] == 2);
    ck_assert_double_eq_tol(out[2], 7.0 / 3, TOL_HAND);
    o.trim = 0;
    robust_aggregate(&o, out, NULL, &FIVE[0][0], W5, ID5, 5, 3);
    ck_assert_double_eq_tol(out[0], 11.2, TOL_HAND);
    ck_assert_double_eq_tol(out[1], 2.2, TOL_HAND);
    ck_assert(out[2] == 3);
    o.trim = 0.45;
    robust_aggregate(&o, out, NULL, &FIVE[0][0], W5, ID5, 5, 3);
    ck_assert(out[0] == 2 && out[1] == 2 && out[2] == 0);
    o.trim = 0.3;
    robust_aggregate(&o, out, NULL, &FIVE[0][0], W5, ID5, 4, 3);
    ck_assert(out[0] == 2.5f && out[1] == 1.5f && out[2] == -0.5f);
}
END_TEST

// Krum, K = 5, f = 1: each score sums the K - f - 2 = 2 smallest squared distances.
//   rows  r0 (0,0)  r1 (1,0)  r2 (0,1)  r3 (1,1)  r4 (10,10), party ids 5 2 8 6 0, weights 1 2 4 3
//   5 d(r0,·) 1 1 2 200 → 2     d(r1,·) 1 2 1 181 → 2     d(r2,·) 1 2 1 181 → 2 d(r3,·) 2 1 1 162 →
//   2     d(r4,·) 200 181 181 162 → 343
// Four tie at 2: ties go by party id, 2 (r1) < 5 (r0) < 6 (r3) < 8 (r2). Krum (m = 1) → r1 = (1,
// 0). Multi-Krum m = 3 → r1, r0, r3: (2·(1,0) + 1·(0,0) + 3·(1,1)) / 6 = (5/6, 1/2).
static const float SQUARE[5][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {10, 10}};
static const int SQ_ID[5] = {5, 2, 8, 6, 0};
static const double SQ_W[5] = {1, 2, 4, 3, 5};

START_TEST(test_krum_by_hand_ties_by_party_id) {
    RobustOpts o = opts_of(ROBUST_KRUM);
    o.krum_f = 1;
    float out[2];
    RobustVerdict v[5];
    robust_aggregate(&o, out, v, &SQUARE[0][0], SQ_W, SQ_ID, 5, 2);
    ck_assert(out[0] == 1 && out[1] == 0);
    const RobustVerdict want1[5] = {VERDICT_NOT_SELECTED, VERDICT_KEPT, VERDICT_NOT_SELECTED,
                                    VERDICT_NOT_SELECTED, VERDICT_NOT_SELECTED};
    for (int k = 0; k < 5; k++)
        ck_assert_msg(v[k] == want1[k], "krum row %d: verdict %s", k, robust_verdict_name(v[k]));
    o.krum_m = 3;
    robust_aggregate(&o, out, v, &SQUARE[0][0], SQ_W, SQ_ID, 5, 2);
    ck_assert_double_eq_tol(out[0], 5.0 / 6, TOL_HAND);
    ck_assert(out[1] == 0.5f);
    const RobustVerdict want3[5] = {VERDICT_KEPT, VERDICT_KEPT, VERDICT_NOT_SELECTED, VERDICT_KEPT,
                                    VERDICT_NOT_SELECTED};
    for (int k = 0; k < 5; k++)
        ck_assert_msg(v[k] == want3[k], "multi-krum row %d: verdict %s", k,
                      robust_verdict_name(v[k]));
}
END_TEST

// ---- against a naive twin, and permutation invariance ----

enum { PK = 7, PN = 3001 }; // 3 blocks, the last partial

// PK updates near 0 from the test stream, one far outlier (row 3), values tied across parties at
// every 7th coordinate, and ±0 at coordinate 5.
static void make_updates(float *x, double *w, int *id) {
    Rng r;
    rng_init(&r, 99, 0, 0, RNG_TEST);
    for (int k = 0; k < PK; k++) {
        rng_fill_normal(&r, x + (size_t)k * PN, PN, 0.f, 0.1f);
        w[k] = 1 + rng_below(&r, 100);
        id[k] = 10 + 3 * k;
    }
    for (size_t i = 0; i < PN; i++)
        x[3 * PN + i] += 5.f;
    for (size_t i = 0; i < PN; i += 7)
        for (int k = 1; k < PK; k++)
            x[(size_t)k * PN + i] = x[i];
    for (int k = 0; k < PK; k++)
        x[(size_t)k * PN + 5] = k % 2 ? -0.f : 0.f;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// The naive twin: each coordinate's values sorted with qsort, reduced in double.
static double coord_ref(const float *x, int K, size_t i, int t, int median) {
    float v[PK] = {0};
    for (int k = 0; k < K; k++)
        v[k] = x[(size_t)k * PN + i];
    qsort(v, (size_t)K, sizeof *v, cmp_float);
    if (median) return K % 2 ? v[K / 2] : ((double)v[K / 2 - 1] + v[K / 2]) / 2;
    double s = 0;
    for (int k = t; k < K - t; k++)
        s += v[k];
    return s / (K - 2 * t);
}

START_TEST(test_coordinatewise_match_the_naive_twin) {
    static float x[PK * PN], out[PN];
    double w[PK];
    int id[PK];
    make_updates(x, w, id);
    RobustOpts o = opts_of(ROBUST_MEDIAN);
    robust_aggregate(&o, out, NULL, x, w, id, PK, PN);
    for (size_t i = 0; i < PN; i++)
        ck_assert_msg(out[i] == (float)coord_ref(x, PK, i, 0, 1), "median[%zu] %g vs %g", i,
                      (double)out[i], coord_ref(x, PK, i, 0, 1));
    o.rule = ROBUST_TRIMMED_MEAN;
    o.trim = 0.3; // t = 2 of 7
    robust_aggregate(&o, out, NULL, x, w, id, PK, PN);
    for (size_t i = 0; i < PN; i++)
        ck_assert_msg(fabs(out[i] - coord_ref(x, PK, i, 2, 0)) <= TOL_HAND, "trimmed[%zu] %g vs %g",
                      i, (double)out[i], coord_ref(x, PK, i, 2, 0));
}
END_TEST

// Multi-Krum with m = K - f: the outlier (row 3) and one more drop out (f = 2, m = 5), and the
// output is the weighted mean of the rows marked kept, computed here in double.
START_TEST(test_multi_krum_is_the_weighted_mean_of_the_selected) {
    static float x[PK * PN], out[PN];
    double w[PK];
    int id[PK];
    make_updates(x, w, id);
    RobustOpts o = opts_of(ROBUST_KRUM);
    o.krum_f = 2;
    o.krum_m = PK - 2;
    RobustVerdict v[PK];
    robust_aggregate(&o, out, v, x, w, id, PK, PN);
    ck_assert_int_eq(v[3], VERDICT_NOT_SELECTED);
    int kept = 0;
    double wsum = 0;
    for (int k = 0; k < PK; k++)
        if (v[k] == VERDICT_KEPT) kept++, wsum += w[k];
    ck_assert_int_eq(kept, PK - 2);
    for (size_t i = 0; i < PN; i++) {
        double s = 0;
        for (int k = 0; k < PK; k++)
            if (v[k] == VERDICT_KEPT) s += w[k] * x[(size_t)k * PN + i];
        ck_assert_msg(fabs(out[i] - s / wsum) <= TOL_HAND, "multi-krum[%zu] %g vs %g", i,
                      (double)out[i], s / wsum);
    }
}
END_TEST

// Every rule gives the same bits, and the same verdict per party id, whatever order the rows come
// in (ids and weights moving with them): reversed and shuffled.
START_TEST(test_order_of_the_updates_changes_no_bit) {
    static float x[PK * PN], y[PK * PN], out_x[PN], out_y[PN];
    double w[PK], wy[PK];
    int id[PK], idy[PK];
    make_updates(x, w, id);
    RobustOpts rules[4] = {opts_of(ROBUST_MEDIAN), opts_of(ROBUST_TRIMMED_MEAN),
                           opts_of(ROBUST_KRUM), opts_of(ROBUST_KRUM)};
    rules[1].trim = 0.2;
    rules[2].krum_f = 2;
    rules[3].krum_f = 1, rules[3].krum_m = 4;
    Rng r;
    rng_init(&r, 7, 0, 0, RNG_TEST);
    for (int trial = 0; trial < 4; trial++) {
        int64_t perm[PK];
        for (int k = 0; k < PK; k++)
            perm[k] = trial == 0 ? PK - 1 - k : k;
        if (trial > 0) rng_shuffle(&r, perm, PK);
        for (int k = 0; k < PK; k++) {
            memcpy(y + (size_t)k * PN, x + (size_t)perm[k] * PN, PN * sizeof *x);
            wy[k] = w[perm[k]];
            idy[k] = id[perm[k]];
        }
        for (int q = 0; q < 4; q++) {
            RobustVerdict vx[PK], vy[PK];
            robust_aggregate(&rules[q], out_x, vx, x, w, id, PK, PN);
            robust_aggregate(&rules[q], out_y, vy, y, wy, idy, PK, PN);
            ck_assert_msg(memcmp(out_x, out_y, sizeof out_x) == 0, "rule %s (case %d), order %d",
                          robust_rule_name(rules[q].rule), q, trial);
            for (int k = 0; k < PK; k++)
                ck_assert_int_eq(vy[k], vx[perm[k]]);
        }
    }
}
END_TEST

// Values that cancel: 2^60 + 1 - 2^60 is 0 or 1 in double depending on the order of the sums, so
// any sum in the order the rows came in shows. Every permutation of five rows (ids and weights
// moving with them), for the plain trimmed mean (trim 0: all values) and multi-Krum with m = K
// (all rows, weighted).
START_TEST(test_cancelling_sums_do_not_depend_on_order) {
    enum { K = 5, N = 3 };
    const float x[K][N] = {{0x1p60f, 1, 0.5f},
                           {1, -0x1p60f, 1},
                           {-0x1p60f, 0.5f, 0x1p60f},
                           {1, 0x1p60f, -0x1p60f},
                           {0.5f, 1, 1}};
    const double w[K] = {1, 3, 1, 2, 1};
    const int id[K] = {4, 0, 3, 1, 2};
    RobustOpts rules[2] = {opts_of(ROBUST_TRIMMED_MEAN), opts_of(ROBUST_KRUM)};
    rules[1].krum_m = K;
    for (int q = 0; q < 2; q++) {
        float ref[N];
        robust_aggregate(&rules[q], ref, NULL, &x[0][0], w, id, K, N);
        int64_t perm[K];
        for (int p = 0; p < 120; p++) { // p in the factorial number system: every permutation
            int rest = p, left[K] = {0, 1, 2, 3, 4}, nleft = K;
            for (int k = 0; k < K; k++) {
                int j = rest % nleft;
                rest /= nleft;
                perm[k] = left[j];
                left[j] = left[--nleft];
            }
            float y[K][N], out[N];
            double wy[K];
            int idy[K];
            for (int k = 0; k < K; k++) {
                memcpy(y[k], x[perm[k]], sizeof y[k]);
                wy[k] = w[perm[k]], idy[k] = id[perm[k]];
            }
            robust_aggregate(&rules[q], out, NULL, &y[0][0], wy, idy, K, N);
            ck_assert_msg(memcmp(out, ref, sizeof out) == 0,
                          "%s, permutation %d: (%g %g %g) vs (%g %g %g)",
                          robust_rule_name(rules[q].rule), p, (double)out[0], (double)out[1],
                          (double)out[2], (double)ref[0], (double)ref[1], (double)ref[2]);
        }
    }
}
END_TEST

// ---- preconditions ----

static void krum_too_few(void *arg) {
    (void)arg;
    RobustOpts o = opts_of(ROBUST_KRUM);
    o.krum_f = 1;
    float out[2];
    robust_aggregate(&o, out, NULL, &SQUARE[0][0], SQ_W, SQ_ID, 4, 2); // 4 is not > 2·1 + 2
}

static void nan_update(void *arg) {
    (void)arg;
    RobustOpts o = opts_of(ROBUST_MEDIAN);
    float x[3][2] = {{0, 0}, {1, NAN}, {2, 2}};
    const int id[3] = {4, 9, 6};
    const double w[3] = {1, 1, 1};
    float out[2];
    robust_aggregate(&o, out, NULL, &x[0][0], w, id, 3, 2);
}

static void weighted_mean_rule(void *arg) {
    (void)arg;
    RobustOpts o = opts_of(ROBUST_CLIP);
    o.norm_bound = 1;
    float out[2];
    robust_aggregate(&o, out, NULL, &SQUARE[0][0], SQ_W, SQ_ID, 5, 2);
}

START_TEST(test_krum_needs_more_than_2f_plus_2_updates) {
    expect_die(krum_too_few, NULL, "K > 2f + 2 = 4", "got K = 4", "f = 1");
    RobustOpts o = opts_of(ROBUST_KRUM);
    o.krum_f = 1;
    char msg[256] = "";
    ck_assert_int_eq(robust_opts_check(&o, 5, msg, sizeof msg), 0);
    ck_assert_int_eq(robust_opts_check(&o, 4, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "K > 2f + 2 = 4") && strstr(msg, "K = 4"), "%s", msg);
    o.krum_m = 5; // m <= K - f = 4
    ck_assert_int_eq(robust_opts_check(&o, 5, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "m = 5") && strstr(msg, "K - f"), "%s", msg);
}
END_TEST

START_TEST(test_bad_inputs_and_options_are_named) {
    expect_die(nan_update, NULL, "party 9", "index 1", "screen updates first");
    expect_die(weighted_mean_rule, NULL, "clip", "weighted mean");
    char msg[256];
    RobustOpts o = opts_of(ROBUST_TRIMMED_MEAN);
    o.trim = 0.5;
    ck_assert_int_eq(robust_opts_check(&o, 0, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "trim = 0.5") && strstr(msg, "[0, 0.5)"), "%s", msg);
    o = opts_of(ROBUST_REJECT);
    ck_assert_int_eq(robust_opts_check(&o, 0, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "reject") && strstr(msg, "norm bound"), "%s", msg);
    o.norm_bound = -1;
    ck_assert_int_eq(robust_opts_check(&o, 0, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "norm bound = -1"), "%s", msg);
    o.norm_bound = 2;
    ck_assert_int_eq(robust_opts_check(&o, 0, msg, sizeof msg), 0);
}
END_TEST

START_TEST(test_names_round_trip) {
    for (int r = 0; r < ROBUST_RULE_COUNT; r++) {
        RobustRule got = ROBUST_NONE;
        ck_assert_int_eq(robust_rule_from_name(robust_rule_name((RobustRule)r), &got), 0);
        ck_assert_int_eq(got, r);
        ck_assert_ptr_nonnull(strstr(ROBUST_RULE_NAMES, robust_rule_name((RobustRule)r)));
    }
    RobustRule keep = ROBUST_KRUM;
    ck_assert_int_eq(robust_rule_from_name("trimmed_mean", &keep), -1);
    ck_assert_int_eq(robust_rule_from_name("Median", &keep), -1);
    ck_assert_int_eq(keep, ROBUST_KRUM);
    ck_assert_ptr_null(robust_rule_name((RobustRule)ROBUST_RULE_COUNT));
    for (int v = 0; v < ROBUST_VERDICT_COUNT; v++)
        ck_assert_ptr_nonnull(robust_verdict_name((RobustVerdict)v));
    ck_assert_str_eq(robust_verdict_name(VERDICT_NOT_SELECTED), "not-selected");
    ck_assert(robust_verdict_admits(VERDICT_CLIPPED) && !robust_verdict_admits(VERDICT_NORM));
    ck_assert(robust_rule_needs_updates(ROBUST_KRUM) && !robust_rule_needs_updates(ROBUST_CLIP));
}
END_TEST

// ---- time ----

// n = 318,410, K = 10: each rule well under a second. Prints the figures.
START_TEST(test_time_at_the_mlp_size) {
    const size_t n = 318410;
    const int K = 10;
    float *x = malloc((size_t)K * n * sizeof *x), *out = malloc(n * sizeof *out);
    double w[10];
    int id[10];
    for (int k = 0; k < K; k++) {
        fill_uniform(x + (size_t)k * n, n, -0.01f, 0.01f, (uint32_t)k);
        w[k] = 0.1, id[k] = k;
    }
    RobustOpts rules[4] = {opts_of(ROBUST_MEDIAN), opts_of(ROBUST_TRIMMED_MEAN),
                           opts_of(ROBUST_KRUM), opts_of(ROBUST_KRUM)};
    rules[1].trim = 0.2;
    rules[2].krum_f = 2;
    rules[3].krum_f = 2, rules[3].krum_m = 5;
    const char *label[4] = {"median", "trimmed-mean 0.2", "krum f=2", "multi-krum f=2 m=5"};
    for (int q = 0; q < 4; q++) {
        double t0 = timer_now_ms();
        robust_aggregate(&rules[q], out, NULL, x, w, id, K, n);
        double ms = timer_now_ms() - t0;
        printf("robust: %-20s n = %zu, K = %d: %.1f ms\n", label[q], n, K, ms);
        ck_assert_msg(ms < TIME_LIMIT_MS, "%s took %.0f ms", label[q], ms);
    }
    double t0 = timer_now_ms(), nrm;
    robust_screen(x, n, 4096, 1e-3, 1, &nrm);
    printf("robust: %-20s n = %zu: %.2f ms\n", "screen + clip", n, timer_now_ms() - t0);
    free(out);
    free(x);
}
END_TEST

Suite *robust_suite(void) {
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_screen_rejects_nonfinite_before_range_and_norm);
    tcase_add_test(tc, test_screen_range_is_strictly_above_cap);
    tcase_add_test(tc, test_screen_norm_bound_rejects_or_clips);
    tcase_add_test(tc, test_screen_clip_lands_on_the_bound);
    tcase_add_test(tc, test_median_by_hand);
    tcase_add_test(tc, test_trimmed_mean_by_hand);
    tcase_add_test(tc, test_krum_by_hand_ties_by_party_id);
    tcase_add_test(tc, test_coordinatewise_match_the_naive_twin);
    tcase_add_test(tc, test_multi_krum_is_the_weighted_mean_of_the_selected);
    tcase_add_test(tc, test_order_of_the_updates_changes_no_bit);
    tcase_add_test(tc, test_cancelling_sums_do_not_depend_on_order);
    tcase_add_test(tc, test_krum_needs_more_than_2f_plus_2_updates);
    tcase_add_test(tc, test_bad_inputs_and_options_are_named);
    tcase_add_test(tc, test_names_round_trip);
    tcase_add_test(tc, test_time_at_the_mlp_size);
    suite_add_tcase(s, tc);
    return s;
}
