// test_uncertainty.c - CD-CCA's uncertainty measures (nn/uncertainty.h) against naive twins and
// constructed inputs.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rng.h"
#include "helpers.h"
#include "nn/uncertainty.h"

// The product of the largest softmax probabilities, the naive way (float softmax per row).
static double naive_confidence(const float *z, int T, int V) {
    double prod = 1;
    for (int t = 0; t < T; t++) {
        double sum = 0, best = 0;
        for (int v = 0; v < V; v++)
            sum += exp(z[t * V + v]);
        for (int v = 0; v < V; v++)
            best = fmax(best, exp(z[t * V + v]) / sum);
        prod *= best;
    }
    return prod;
}

START_TEST(test_confidence_is_the_product_of_the_largest_probabilities) {
    enum { T = 5, V = 7 };
    float z[T * V];
    fill_uniform(z, T * V, -3, 3, 11);
    ck_assert_double_eq_tol(sequence_confidence(z, T, V), naive_confidence(z, T, V), 1e-12);
    // One certain token (a logit far above the rest) contributes 1; uniform logits 1/V each.
    float flat[2 * V] = {0};
    for (int v = 0; v < V; v++)
        flat[v] = v == 3 ? 80.0f : 0.0f;
    ck_assert_double_eq_tol(sequence_confidence(flat, 2, V), 1.0 / V, 1e-12);
    ck_assert_double_eq(sequence_confidence(z, 0, V), 1.0);
    // Huge logits stay finite (the naive twin would overflow).
    float big[V];
    for (int v = 0; v < V; v++)
        big[v] = 1e4f + (float)v;
    double c = sequence_confidence(big, 1, V);
    ck_assert(isfinite(c) && c > 0.5 && c < 1);
}
END_TEST

START_TEST(test_token_variance_matches_a_naive_twin_and_constructed_values) {
    enum { S = 10, L = 6, D = 4 };
    float x[S * L * D];
    fill_uniform(x, S * L * D, -2, 2, 12);
    double u[L];
    mc_token_variance(u, x, S, L, D);
    for (int l = 0; l < L; l++) {
        double acc = 0;
        for (int d = 0; d < D; d++) {
            double m = 0, q = 0;
            for (int s = 0; s < S; s++)
                m += x[(s * L + l) * D + d];
            m /= S;
            for (int s = 0; s < S; s++)
                q += pow(x[(s * L + l) * D + d] - m, 2);
            acc += q / S;
        }
        ck_assert_double_eq_tol(u[l], acc / D, 1e-12);
    }
    // Token l alternates between ±l in every feature: variance l^2; a constant token has 0.
    float y[2 * 3 * 2];
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < 3; l++)
            for (int d = 0; d < 2; d++)
                y[(s * 3 + l) * 2 + d] = (s ? 1.0f : -1.0f) * (float)l + 5.0f;
    double v[3];
    mc_token_variance(v, y, 2, 3, 2);
    for (int l = 0; l < 3; l++)
        ck_assert_double_eq_tol(v[l], (double)l * l, 1e-12);
}
END_TEST

START_TEST(test_the_r_L_most_uncertain_tokens_are_chosen_exactly) {
    enum { L = 16 };
    double u[L];
    uint32_t idx[2 * L];
    uint8_t sel[L];
    // A permutation of 0..15 as the uncertainties: the top k are the values >= 16 - k.
    for (int l = 0; l < L; l++)
        u[l] = (double)((l * 7 + 3) % L);
    const double rs[] = {0.25, 0.5, 0.75, 0, 1};
    for (int i = 0; i < 5; i++) {
        int k = top_uncertain_tokens(sel, u, L, rs[i], idx);
        ck_assert_int_eq(k, (int)lround(rs[i] * L));
        int n = 0;
        for (int l = 0; l < L; l++) {
            ck_assert_msg(sel[l] == (u[l] >= L - k), "r %g: token %d (u %g) chosen %d", rs[i], l,
                          u[l], sel[l]);
            n += sel[l];
        }
        ck_assert_int_eq(n, k);
    }
    // Ties go to the lower index: four equal values, two chosen.
    double tie[6] = {1, 5, 5, 0, 5, 5};
    ck_assert_int_eq(top_uncertain_tokens(sel, tie, 6, 2.0 / 6, idx), 2);
    ck_assert(sel[1] && sel[2] && !sel[4] && !sel[5] && !sel[0] && !sel[3]);
}
END_TEST

static void bad_r(void *arg) {
    (void)arg;
    double u[4] = {0};
    uint32_t idx[8];
    uint8_t sel[4];
    top_uncertain_tokens(sel, u, 4, 1.5, idx);
}

static void one_pass(void *arg) {
    (void)arg;
    float x[4] = {0};
    double u[2];
    mc_token_variance(u, x, 1, 2, 2);
}

START_TEST(test_bad_arguments_die_naming_the_value) {
    expect_die(bad_r, NULL, "top_uncertain_tokens", "r = 1.5");
    expect_die(one_pass, NULL, "mc_token_variance", "S = 1");
}
END_TEST

Suite *uncertainty_suite(void) {
    Suite *s = suite_create("uncertainty");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_confidence_is_the_product_of_the_largest_probabilities);
    tcase_add_test(tc, test_token_variance_matches_a_naive_twin_and_constructed_values);
    tcase_add_test(tc, test_the_r_L_most_uncertain_tokens_are_chosen_exactly);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_value);
    suite_add_tcase(s, tc);
    return s;
}
