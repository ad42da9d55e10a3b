// test_fedopt.c - the FedOpt server rules of both variants (docs/methods.md §3.4) against values
// worked out independently of the code: three rounds on the vector w = (1, −1) with pseudo-
// gradients Δ̄ = (1, 0), (0.5, 0), (−2, 0) (the party mean is w + Δ̄ each round), at the defaults
// τ 1e-3, β1 0.9, β2 0.99, η 1e-3 (fedmllm) or 1e-2 (reddi). The round-1 values are worked in the
// comments; rounds 2 and 3 were computed in double from the equations of §3.4, outside this code.
// Also: which mean (sample-weighted or uniform) each variant asks the driver for.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/config.h"
#include "fl/run.h"
#include "methods/method.h"
#include "protocols/fedavg.h"

#define TOL_HAND 2e-6 /* float32 steps on values near 1 against double hand values */

// Parses --method=name plus extra (may be NULL) into rc; the method's FedAvg extension.
static const FedavgExt *parse(RunConfig *rc, const char *name, const char *extra) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    char err[512], arg[64];
    snprintf(arg, sizeof arg, "--method=%s", name);
    char *argv[] = {"m", arg, (char *)extra};
    ck_assert_msg(config_parse(rc, &methods, &models, extra ? 3 : 2, argv, err, sizeof err) ==
                      OPT_OK,
                  "%s", err);
    const Method *m = method_find(name);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_eq(m->protocol, &protocol_fedavg);
    const FedavgExt *x = m->ext;
    ck_assert_int_eq(x->state_per_float, 2);
    return x;
}

// Three server steps of name (with extra options) from w = (1, −1); w0 after each into got.
static void three_rounds(const char *name, const char *extra, double got[3]) {
    RunConfig rc;
    const FedavgExt *x = parse(&rc, name, extra);
    float w[2] = {1.f, -1.f}, state[4];
    x->state_init(state, 2, rc.method_opts);
    const float d[3] = {1.f, 0.5f, -2.f};
    for (int t = 0; t < 3; t++) {
        const float mean[2] = {w[0] + d[t], w[1]};
        x->server(w, state, mean, 2, rc.method_opts, t + 1);
        got[t] = w[0];
        ck_assert_msg(w[1] == -1.f, "%s %s: a zero pseudo-gradient moved w1 to %g", name,
                      extra ? extra : "", w[1]);
    }
    run_config_free(&rc);
}

START_TEST(test_server_rules_match_hand_values) {
    static const struct {
        const char *name, *variant;
        double w[3];
    } cases[] = {
        // fedmllm. Round 1: m = Δ̄ = 1 (seeded), so FedAvgM lands on the mean, 2.
        {"fedavgm", NULL, {2.0, 2.95, 3.605}},
        // v = 1e-6 + 1; w = 1 + 1e-3·1/(√1.000001 + 1e-3) (no momentum)
        {"fedadagrad", NULL, {1.000999000, 1.001445814, 1.000573324}},
        // m = 1; v = 0.99·1e-6 + 0.01·m² = 0.01000099; w = 1 + 1e-3/(√v + 1e-3)
        {"fedadam", NULL, {1.009900505, 1.016756160, 1.021044314}},
        // m = 1; v = 1e-6 − 0.01·m²·sign(1e-6 − 1) = 0.010001; w = 1 + 1e-3/(√v + 1e-3)
        {"fedyogi", NULL, {1.009900500, 1.016738241, 1.020999884}},
        // reddi. Round 1: m = 0.1·Δ̄ = 0.1 from m₀ = 0; FedAvgM w = 1 + m.
        {"fedavgm", "reddi", {1.1, 1.24, 1.166}},
        // v = 1e-6 + Δ̄² = 1.000001; w = 1 + 1e-2·0.1/(√v + 1e-3)
        {"fedadagrad", "reddi", {1.000999000, 1.002250079, 1.001927258}},
        // v = 0.99·1e-6 + 0.01·Δ̄² = 0.01000099; w = 1 + 1e-2·0.1/(√v + 1e-3)
        {"fedadam", "reddi", {1.009900505, 1.022360490, 1.019138077}},
        // v = 1e-6 + 0.01·Δ̄² = 0.010001; w = 1 + 1e-2·0.1/(√v + 1e-3)
        {"fedyogi", "reddi", {1.009900500, 1.022310982, 1.019095421}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char extra[64];
        if (cases[i].variant)
            snprintf(extra, sizeof extra, "--%s.variant=%s", cases[i].name, cases[i].variant);
        double got[3];
        three_rounds(cases[i].name, cases[i].variant ? extra : NULL, got);
        for (int t = 0; t < 3; t++)
            ck_assert_msg(fabs(got[t] - cases[i].w[t]) < TOL_HAND,
                          "%s %s round %d: w0 = %.9f, hand %.9f", cases[i].name,
                          cases[i].variant ? cases[i].variant : "fedmllm", t + 1, got[t],
                          cases[i].w[t]);
    }
}
END_TEST

START_TEST(test_eta_option_overrides_the_variants_default) {
    // fedadagrad, fedmllm, η = 0.5: w = 1 + 0.5·1/(√1.000001 + 1e-3), round 1.
    double got[3];
    three_rounds("fedadagrad", "--fedadagrad.eta=0.5", got);
    ck_assert_msg(fabs(got[0] - (1 + 0.5 / (sqrt(1.000001) + 1e-3))) < TOL_HAND, "w0 = %.9f",
                  got[0]);
}
END_TEST

START_TEST(test_weighting_follows_the_variant_unless_set) {
    static const struct {
        const char *name, *extra;
        int uniform;
    } cases[] = {
        {"fedavgm", NULL, 0},    // FedMLLM's code weights FedAvgM by samples
        {"fedadagrad", NULL, 1}, // ... and averages the adaptive rules' models unweighted
        {"fedadam", NULL, 1},
        {"fedyogi", NULL, 1},
        {"fedavgm", "--fedavgm.variant=reddi", 1}, // Reddi et al.: 1/|S| Σ Δ_i
        {"fedadam", "--fedadam.variant=reddi", 1},
        {"fedadam", "--fedadam.weighted=true", 0},
        {"fedavgm", "--fedavgm.weighted=false", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RunConfig rc;
        const FedavgExt *x = parse(&rc, cases[i].name, cases[i].extra);
        ck_assert_ptr_nonnull(x->uniform);
        ck_assert_msg(x->uniform(rc.method_opts) == cases[i].uniform, "%s %s: uniform %d",
                      cases[i].name, cases[i].extra ? cases[i].extra : "", !cases[i].uniform);
        run_config_free(&rc);
    }
    // FedAvg itself stays sample-weighted.
    const FedavgExt *fedavg = method_find("fedavg")->ext;
    ck_assert_ptr_null(fedavg->uniform);
}
END_TEST

START_TEST(test_bad_variant_is_refused_naming_the_option) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig rc;
    char err[512];
    char *argv[] = {"m", "--method=fedyogi", "--fedyogi.variant=adam"};
    ck_assert_int_eq(config_parse(&rc, &methods, &models, 3, argv, err, sizeof err),
                     OPT_ERR_BAD_VALUE);
    ck_assert_msg(strstr(err, "fedyogi.variant") && strstr(err, "adam"), "%s", err);
}
END_TEST

Suite *fedopt_suite(void) {
    Suite *s = suite_create("fedopt");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_server_rules_match_hand_values);
    tcase_add_test(tc, test_eta_option_overrides_the_variants_default);
    tcase_add_test(tc, test_weighting_follows_the_variant_unless_set);
    tcase_add_test(tc, test_bad_variant_is_refused_naming_the_option);
    suite_add_tcase(s, tc);
    return s;
}
