// test_fedopt.c - the FedOpt server rules against values worked by hand (docs/methods.md §3.4),
// with defaults eta 0.01, tau 0.001, beta1 0.9, beta2 0.99: global w = (1, -1), party mean
// (2, -1), so the pseudo-gradient is d = (1, 0).
#include <check.h>
#include <math.h>
#include <stdio.h>

#include "cli/config.h"
#include "fl/run.h"
#include "methods/method.h"
#include "protocols/fedavg.h"

#define TOL_HAND 1e-6 /* float32 arithmetic against 7-digit hand values */

static void one_step(const char *name, float w[2], int round, float state[4]) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig rc;
    char err[512], arg[64];
    snprintf(arg, sizeof arg, "--method=%s", name);
    ck_assert_int_eq(config_parse(&rc, &methods, &models, 2, (char *[]){"m", arg}, err, sizeof err),
                     OPT_OK);
    const Method *m = method_find(name);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_eq(m->protocol, &protocol_fedavg);
    const FedavgExt *x = m->ext;
    ck_assert_int_eq(x->state_per_float, 2);
    if (round == 1) x->state_init(state, 2, rc.method_opts);
    const float mean[2] = {2.f, -1.f};
    x->server(w, state, mean, 2, rc.method_opts, round);
    run_config_free(&rc);
}

START_TEST(test_server_rules_match_hand_values) {
    struct {
        const char *name;
        double w0;
    } cases[] = {
        // m = 0.1, v = 0.99·1e-6 + 0.01·0.01: 1 + 0.01·0.1 / (√1.0099e-4 + 0.001)
        {"fedadam", 1.0905029},
        // v = 1e-6 + 1: 1 + 0.01·1 / (√1.000001 + 0.001)
        {"fedadagrad", 1.0099900},
        // v = 1e-6 − 0.01·0.01·sign(1e-6 − 0.01) = 1.01e-4: 1 + 0.001 / (√1.01e-4 + 0.001)
        {"fedyogi", 1.0904987},
        // round 1: m = d, w + m = the mean
        {"fedavgm", 2.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float w[2] = {1.f, -1.f}, state[4];
        one_step(cases[i].name, w, 1, state);
        ck_assert_msg(fabs(w[0] - cases[i].w0) < TOL_HAND, "%s: w0 = %.7f, hand %.7f",
                      cases[i].name, w[0], cases[i].w0);
        ck_assert_msg(w[1] == -1.f, "%s: a zero pseudo-gradient moved w1", cases[i].name);
    }
}
END_TEST

START_TEST(test_fedavgm_momentum_carries_to_the_next_round) {
    float w[2] = {1.f, -1.f}, state[4];
    one_step("fedavgm", w, 1, state); // w = (2, -1), m = (1, 0)
    w[0] = 1.5f;                      // mean (2, -1) again: d = (0.5, 0)
    one_step("fedavgm", w, 2, state); // m = 0.9·1 + 0.1·0.5 = 0.95; w = 1.5 + 0.95
    ck_assert(fabs(w[0] - 2.45) < TOL_HAND);
}
END_TEST

Suite *fedopt_suite(void) {
    Suite *s = suite_create("fedopt");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_server_rules_match_hand_values);
    tcase_add_test(tc, test_fedavgm_momentum_carries_to_the_next_round);
    suite_add_tcase(s, tc);
    return s;
}
