// test_align.c - similarity distributions over prototypes by hand, Jensen–Shannon known values, the
// alignment test on constructed cases (each of its three conditions shown to be the one deciding),
// iterated mutual-best matching, and bad thresholds dying with their name and value.
#include <check.h>
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "helpers.h"
#include "protocols/align.h"

START_TEST(test_similarity_by_hand_two_classes_two_dims) {
    // One modality, P_0 = (1, 0), P_1 = (0, 2): cosines do not see the prototype norms.
    const double protos[2 * 2] = {1, 0, 0, 2};
    double q[2];
    const float e1[2] = {1, 1}; // cos = 1/√2 with both
    align_similarity(q, e1, protos, NULL, 2, 1, 2, 0, 0.1);
    ck_assert(fabs(q[0] - 0.5) < 1e-15 && fabs(q[1] - 0.5) < 1e-15);
    const float e2[2] = {3, 0}; // cos = (1, 0), τ = 0.5: logits (2, 0)
    align_similarity(q, e2, protos, NULL, 2, 1, 2, 0, 0.5);
    ck_assert_msg(fabs(q[0] - 1 / (1 + exp(-2.0))) < 1e-15, "q0 %.17g", q[0]);
    ck_assert(fabs(q[1] - 1 / (1 + exp(2.0))) < 1e-15);
    const float e3[2] = {1, 1.7320508f}; // cos = (1/2, √3/2), τ = 1
    align_similarity(q, e3, protos, NULL, 2, 1, 2, 0, 1.0);
    double l0 = 0.5, l1 = sqrt(3.0) / 2, want0 = exp(l0) / (exp(l0) + exp(l1));
    ck_assert_msg(fabs(q[0] - want0) < 1e-7 && fabs(q[0] + q[1] - 1) < 1e-15, "q0 %.17g want %.17g",
                  q[0], want0);
    // An invalid class gets exactly 0, the other everything; a zero prototype has cosine 0.
    const uint8_t valid[2] = {0, 1};
    align_similarity(q, e2, protos, valid, 2, 1, 2, 0, 0.5);
    ck_assert(q[0] == 0 && q[1] == 1);
    const double zero_p1[4] = {1, 0, 0, 0};
    align_similarity(q, e2, zero_p1, NULL, 2, 1, 2, 0, 0.5);
    ck_assert(fabs(q[0] - 1 / (1 + exp(-2.0))) < 1e-15);
}
END_TEST

START_TEST(test_jsd_known_values) {
    const double u[3] = {0.2, 0.3, 0.5}, a[2] = {1, 0}, b[2] = {0, 1}, h[2] = {0.5, 0.5};
    ck_assert(align_jsd(u, u, 3) == 0);
    ck_assert_msg(fabs(align_jsd(a, b, 2) - log(2.0)) < 1e-15, "%.17g", align_jsd(a, b, 2));
    // r = (3/4, 1/4): KL(a‖r) = ln 4/3, KL(h‖r) = ½ ln 4/3, JS = ¾ ln 4/3. Symmetric.
    ck_assert(fabs(align_jsd(a, h, 2) - 0.75 * log(4.0 / 3)) < 1e-15);
    ck_assert(align_jsd(a, h, 2) == align_jsd(h, a, 2));
}
END_TEST

// Four classes, two modalities, D = 8: P[c][m] is the basis vector c + 4m, so the modalities live
// in different subspaces and only the distributions over classes can be compared. Pf: the same
// values as float embeddings.
enum { K = 4, M = 2, D = 8 };
static double P[K * M * D];
static float Pf[K * M * D];

static void make_protos(void) {
    memset(P, 0, sizeof P);
    for (int c = 0; c < K; c++)
        for (int m = 0; m < M; m++)
            P[(c * M + m) * D + c + K * m] = 1;
    for (int i = 0; i < K * M * D; i++)
        Pf[i] = (float)P[i];
}

// out (D) = P[c][m] + noise·U(-1, 1) from test stream s.
static void sample(float *out, int c, int m, float noise, uint32_t s) {
    fill_uniform(out, D, -noise, noise, s);
    for (int d = 0; d < D; d++)
        out[d] += Pf[(c * M + m) * D + d];
}

static const AlignParams AP = {.tau = 0.1, .delta = 0.05, .kappa = 0.7};

START_TEST(test_same_class_pairs_are_matched_across_modalities) {
    make_protos();
    const int ca[5] = {0, 1, 2, 3, 1}, cb[4] = {2, 0, 3, 1};
    float ea[5 * D], eb[4 * D];
    for (int i = 0; i < 5; i++)
        sample(ea + i * D, ca[i], 0, 0.1f, 10 + i);
    for (int i = 0; i < 4; i++)
        sample(eb + i * D, cb[i], 1, 0.1f, 20 + i);
    AlignPair pairs[4];
    int n = align_match(pairs, ea, 5, 0, eb, 4, 1, P, NULL, K, M, D, &AP);
    ck_assert_int_eq(n, 4); // every b has one same-class a; of the two class-1 a's one wins
    int b_seen[4] = {0};
    for (int i = 0; i < n; i++) {
        ck_assert_msg(ca[pairs[i].a] == cb[pairs[i].b] && pairs[i].label == ca[pairs[i].a],
                      "pair %d: a=%d (class %d) b=%d (class %d) label %d", i, pairs[i].a,
                      ca[pairs[i].a], pairs[i].b, cb[pairs[i].b], pairs[i].label);
        ck_assert(pairs[i].jsd < AP.delta && pairs[i].confidence > AP.kappa);
        ck_assert(fabs(pairs[i].weight - exp(-pairs[i].jsd / AP.delta)) < 1e-15);
        ck_assert(i == 0 || pairs[i].a > pairs[i - 1].a);
        b_seen[pairs[i].b]++;
    }
    for (int b = 0; b < 4; b++)
        ck_assert_int_eq(b_seen[b], 1);
}
END_TEST

START_TEST(test_different_class_pairs_are_rejected) {
    make_protos();
    float ea[2 * D], eb[2 * D];
    sample(ea, 0, 0, 0.1f, 30), sample(ea + D, 1, 0, 0.1f, 31);
    sample(eb, 2, 1, 0.1f, 32), sample(eb + D, 3, 1, 0.1f, 33);
    AlignPair pairs[2];
    ck_assert_int_eq(align_match(pairs, ea, 2, 0, eb, 2, 1, P, NULL, K, M, D, &AP), 0);
    // Confident on both sides, but on different classes: argmax and JS both refuse.
    double qa[K], qb[K];
    align_similarity(qa, ea, P, NULL, K, M, D, 0, AP.tau);
    align_similarity(qb, eb, P, NULL, K, M, D, 1, AP.tau);
    AlignVerdict v;
    ck_assert_int_eq(align_test(&v, qa, qb, K, &AP), 0);
    ck_assert(v.label == -1 && v.weight == 0 && v.confidence > AP.kappa && v.jsd > 0.6);
}
END_TEST

START_TEST(test_each_condition_decides_on_its_own) {
    make_protos();
    double qa[K], qb[K];
    AlignVerdict v;
    // κ: halfway between classes 0 and 1 in both modalities: identical distributions (JS 0), same
    // argmax (the tie goes to class 0), but max q = 1/2.
    float ha[D] = {0}, hb[D] = {0};
    ha[0] = ha[1] = 1, hb[4] = hb[5] = 1;
    align_similarity(qa, ha, P, NULL, K, M, D, 0, AP.tau);
    align_similarity(qb, hb, P, NULL, K, M, D, 1, AP.tau);
    ck_assert_msg(fabs(qa[0] - 0.5) < 1e-3 && qa[0] == qb[0], "qa0 %.17g qb0 %.17g", qa[0], qb[0]);
    ck_assert_int_eq(align_test(&v, qa, qb, K, &AP), 0);
    ck_assert(v.jsd == 0 && v.label == -1);
    AlignParams low_kappa = AP;
    low_kappa.kappa = 0.4;
    ck_assert_int_eq(align_test(&v, qa, qb, K, &low_kappa), 1);
    ck_assert(v.label == 0 && v.weight == 1);

    // δ: the same class, both confident, but a leans towards class 1: passes only when δ > JS.
    float la[D] = {0};
    la[0] = 1, la[1] = 0.6f;
    align_similarity(qa, la, P, NULL, K, M, D, 0, AP.tau);
    align_similarity(qb, Pf + (0 * M + 1) * D, P, NULL, K, M, D, 1, AP.tau);
    AlignParams p = {.tau = AP.tau, .delta = 1, .kappa = 0.5};
    align_test(&v, qa, qb, K, &p);
    double js = v.jsd;
    ck_assert_msg(js > 1e-3 && js < 0.5 && v.confidence > 0.5, "js %g conf %g", js, v.confidence);
    p.delta = 2 * js;
    ck_assert_int_eq(align_test(&v, qa, qb, K, &p), 1);
    p.delta = js; // strict: JS < δ
    ck_assert_int_eq(align_test(&v, qa, qb, K, &p), 0);
    p.delta = 0;
    ck_assert_int_eq(align_test(&v, qa, qb, K, &p), 0);
}
END_TEST

START_TEST(test_matching_takes_the_mutual_best_first) {
    make_protos();
    // a0 is class 0 leaning towards class 1 (passes with b0 alone); a1 is exactly class 0, as is
    // b0.
    float ea[2 * D] = {0};
    ea[0] = 1, ea[1] = 0.3f, ea[D + 0] = 1;
    const float *eb = Pf + (0 * M + 1) * D;
    AlignPair pairs[1];
    ck_assert_int_eq(align_match(pairs, ea, 1, 0, eb, 1, 1, P, NULL, K, M, D, &AP), 1);
    ck_assert(pairs[0].a == 0 && pairs[0].b == 0 && pairs[0].jsd > 0);
    ck_assert_int_eq(align_match(pairs, ea, 2, 0, eb, 1, 1, P, NULL, K, M, D, &AP), 1);
    ck_assert(pairs[0].a == 1 && pairs[0].b == 0 && pairs[0].jsd == 0 && pairs[0].label == 0);
    // Empty sides match nothing.
    ck_assert_int_eq(align_match(pairs, ea, 0, 0, eb, 1, 1, P, NULL, K, M, D, &AP), 0);
    ck_assert_int_eq(align_match(pairs, ea, 2, 0, eb, 0, 1, P, NULL, K, M, D, &AP), 0);
}
END_TEST

START_TEST(test_matching_iterates_mutual_best_matches) {
    make_protos();
    // a0 leans to class 1, a1 and b0 are exactly class 0, b1 leans to class 2 (more than a0 to 1).
    // Mutual best: only (a1, b0), since a0 and b1 both prefer the exact ones. Greedy: then (a0,
    // b1).
    float ea[2 * D] = {0}, eb[2 * D] = {0};
    ea[0] = 1, ea[1] = 0.3f, ea[D + 0] = 1;
    eb[4] = 1, eb[D + 4] = 1, eb[D + 6] = 0.4f;
    AlignPair pairs[2];
    ck_assert_int_eq(align_match(pairs, ea, 2, 0, eb, 2, 1, P, NULL, K, M, D, &AP), 2);
    ck_assert(pairs[0].a == 0 && pairs[0].b == 1 && pairs[0].label == 0 && pairs[0].jsd > 0);
    ck_assert(pairs[1].a == 1 && pairs[1].b == 0 && pairs[1].jsd == 0 && pairs[1].weight == 1);
    // Different classes stay unmatched however many rounds.
    float ec[D] = {0};
    ec[4 + 3] = 1;
    ck_assert_int_eq(align_match(pairs, ea, 2, 0, ec, 1, 1, P, NULL, K, M, D, &AP), 0);
}
END_TEST

static void run_with(void *arg) {
    const AlignParams *ap = arg;
    make_protos();
    float e[D] = {1};
    AlignPair pairs[1];
    align_match(pairs, e, 1, 0, Pf, 1, 1, P, NULL, K, M, D, ap);
}

static void tau_for_similarity(void *arg) {
    (void)arg;
    make_protos();
    double q[K];
    align_similarity(q, Pf, P, NULL, K, M, D, 0, -0.5);
}

static void no_valid_class(void *arg) {
    (void)arg;
    make_protos();
    const uint8_t valid[K * M] = {1, 0, 1, 0, 1, 0, 1, 0}; // modality 1 has no prototype
    double q[K];
    align_similarity(q, Pf, P, valid, K, M, D, 1, 0.1);
}

static void not_a_distribution(void *arg) {
    (void)arg;
    const double p[2] = {0.5, 0.6}, q[2] = {0.5, 0.5};
    align_jsd(p, q, 2);
}

START_TEST(test_bad_thresholds_die_with_name_and_value) {
    AlignParams tau0 = {.tau = 0, .delta = 0.05, .kappa = 0.7};
    AlignParams taun = {.tau = NAN, .delta = 0.05, .kappa = 0.7};
    AlignParams deltan = {.tau = 0.1, .delta = -0.25, .kappa = 0.7};
    AlignParams kappa_hi = {.tau = 0.1, .delta = 0.05, .kappa = 1.5};
    AlignParams kappa_lo = {.tau = 0.1, .delta = 0.05, .kappa = -0.125};
    expect_die(run_with, &tau0, "align_params_check", "tau = 0");
    expect_die(run_with, &taun, "tau = nan");
    expect_die(run_with, &deltan, "delta = -0.25");
    expect_die(run_with, &kappa_hi, "kappa = 1.5");
    expect_die(run_with, &kappa_lo, "kappa = -0.125");
    expect_die(tau_for_similarity, NULL, "align_similarity", "tau = -0.5");
    expect_die(no_valid_class, NULL, "no valid prototype in modality 1");
    expect_die(not_a_distribution, NULL, "align_jsd", "p sums to 1.1");
}
END_TEST

Suite *align_suite(void) {
    Suite *s = suite_create("align");
    TCase *tc = tcase_create("gpa");
    tcase_add_test(tc, test_similarity_by_hand_two_classes_two_dims);
    tcase_add_test(tc, test_jsd_known_values);
    tcase_add_test(tc, test_same_class_pairs_are_matched_across_modalities);
    tcase_add_test(tc, test_different_class_pairs_are_rejected);
    tcase_add_test(tc, test_each_condition_decides_on_its_own);
    tcase_add_test(tc, test_matching_takes_the_mutual_best_first);
    tcase_add_test(tc, test_matching_iterates_mutual_best_matches);
    tcase_add_test(tc, test_bad_thresholds_die_with_name_and_value);
    suite_add_tcase(s, tc);
    return s;
}
