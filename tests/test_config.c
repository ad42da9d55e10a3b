// test_config.c - mmcollab's option table: defaults run the demo, a method's options exist only
// with that method (and a foreign one is explained), an unknown method lists the registry, and the
// bad values the issue names are refused by key.
#include <check.h>
#include <math.h>
#include <string.h>

#include "cli/config.h"
#include "methods/method.h"

static int parse(Config *c, char *err, int argc, char **argv) {
    return config_parse(c, argc, argv, err, 512);
}

START_TEST(test_defaults_are_the_demo_run) {
    Config c;
    char err[512] = "";
    ck_assert_msg(parse(&c, err, 1, (char *[]){"mmcollab"}) == OPT_OK, "%s", err);
    ck_assert_str_eq(c.method, "fedavg");
    ck_assert_str_eq(c.out, "runs/demo");
    ck_assert_int_eq(c.parties, 4);
    ck_assert_str_eq(c.resume, "never");
}
END_TEST

START_TEST(test_method_options_follow_the_method) {
    Config c;
    char err[512] = "";
    ck_assert_int_eq(parse(&c, err, 3, (char *[]){"m", "--method=fedprox", "--fedprox.mu=0.5"}),
                     OPT_OK);
    ck_assert(*(const double *)c.method_opts == 0.5);
    ck_assert_int_eq(parse(&c, err, 2, (char *[]){"m", "--fedprox.mu=0.5"}), OPT_ERR_UNKNOWN_KEY);
    ck_assert_msg(strstr(err, "belongs to --method=fedprox") && strstr(err, "--method=fedavg"),
                  "%s", err);
}
END_TEST

START_TEST(test_bad_method_and_values_are_named) {
    Config c;
    char err[512] = "";
    ck_assert_int_eq(parse(&c, err, 2, (char *[]){"m", "--method=fedsgd"}), OPT_ERR_BAD_VALUE);
    ck_assert_msg(strstr(err, "fedsgd") && strstr(err, "fedavg") && strstr(err, "local"), "%s",
                  err);
    const char *bad[] = {"--rounds=-1",    "--parties=0",        "--lr=0",
                         "--momentum=1.5", "--resume=sometimes", "--batch-size=0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char key[32];
        ck_assert_int_eq(parse(&c, err, 2, (char *[]){"m", (char *)bad[i]}), OPT_ERR_BAD_VALUE);
        snprintf(key, sizeof key, "%.*s", (int)(strchr(bad[i], '=') - bad[i]), bad[i]);
        ck_assert_msg(strstr(err, key), "'%s' not named in: %s", key, err);
    }
}
END_TEST

// The contract every registered method must keep.
START_TEST(test_every_registered_method_keeps_the_contract) {
    ck_assert_int_ge(fl_n_methods, 4);
    for (int i = 0; i < fl_n_methods; i++) {
        const FlMethod *m = fl_methods[i];
        ck_assert_ptr_eq(method_find(m->name), m);
        ck_assert_msg(m->summary && m->provenance, "%s: summary/provenance", m->name);
        if (i > 0) ck_assert_msg(strcmp(fl_methods[i - 1]->name, m->name) < 0, "registry order");
        for (int j = 0; j < m->n_opts; j++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s.", m->name);
            ck_assert_msg(strncmp(m->opts[j].key, prefix, strlen(prefix)) == 0,
                          "%s: option %s lacks the prefix", m->name, m->opts[j].key);
        }
        ck_assert_msg(m->kind != METHOD_FEDERATED || m->server_update,
                      "%s: federated without server_update", m->name);
        ck_assert_msg(m->kind != METHOD_COLLAB || (m->server_update && m->collab_settings),
                      "%s: collaboration without server_update or collab_settings", m->name);
        // Defaults parse; identical parties are a fixed point; the hook vanishes at the global.
        Config c;
        char err[512], arg[64];
        snprintf(arg, sizeof arg, "--method=%s", m->name);
        ck_assert_msg(config_parse(&c, 2, (char *[]){"m", arg}, err, sizeof err) == OPT_OK, "%s",
                      err);
        enum { N = 9 };
        float global[N], mean[N], grads[N] = {0}, state[4 * N] = {0};
        for (int k = 0; k < N; k++)
            global[k] = mean[k] = 0.25f * (float)k - 1.f;
        if (m->server_state_floats) ck_assert_int_le(m->server_state_floats(N), 4 * N);
        if (m->server_init) m->server_init(state, N, &c);
        if (m->server_update) {
            m->server_update(global, state, mean, N, &c, 1);
            for (int k = 0; k < N; k++)
                ck_assert_msg(global[k] == mean[k], "%s: not a fixed point at %d", m->name, k);
        }
        if (m->party_grad_hook) {
            m->party_grad_hook(grads, global, global, N, &c);
            for (int k = 0; k < N; k++)
                ck_assert_msg(grads[k] == 0.f, "%s: hook at w_global", m->name);
        }
        // A representation term vanishes (to rounding) where every reference equals u.
        if (m->party_rep_loss) {
            enum { RB = 3, RD = 3 };
            float u[RB * RD], drep[RB * RD] = {0};
            double protos[RB * RD];
            const int labels[RB] = {0, 1, 2};
            const uint8_t valid[RB] = {1, 1, 1};
            for (int k = 0; k < RB * RD; k++)
                u[k] = 0.5f + 0.25f * (float)k, protos[k] = u[k];
            RepBatch b = {.B = RB,
                          .D = RD,
                          .K = RB,
                          .labels = labels,
                          .u = u,
                          .u_glob = u,
                          .u_prev = u,
                          .protos = protos,
                          .proto_valid = valid};
            double loss = m->party_rep_loss(drep, &b, &c);
            ck_assert_msg(isfinite(loss), "%s: term %g", m->name, loss);
            for (int k = 0; k < RB * RD; k++)
                ck_assert_msg(fabsf(drep[k]) <= 1e-7f, "%s: drep[%d] = %g at the references",
                              m->name, k, (double)drep[k]);
        }
    }
}
END_TEST

START_TEST(test_fedprox_hook_adds_mu_times_distance) {
    Config c;
    char err[512];
    ck_assert_int_eq(config_parse(&c, 3, (char *[]){"m", "--method=fedprox", "--fedprox.mu=0.5"},
                                  err, sizeof err),
                     OPT_OK);
    float w[3] = {1, 2, 3}, g0[3] = {0, 0, 0}, grads[3] = {1, 1, 1};
    method_find("fedprox")->party_grad_hook(grads, w, g0, 3, &c);
    ck_assert(grads[0] == 1.5f && grads[1] == 2.f && grads[2] == 2.5f); // 1 + 0.5·w
}
END_TEST

Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_are_the_demo_run);
    tcase_add_test(tc, test_method_options_follow_the_method);
    tcase_add_test(tc, test_bad_method_and_values_are_named);
    tcase_add_test(tc, test_every_registered_method_keeps_the_contract);
    tcase_add_test(tc, test_fedprox_hook_adds_mu_times_distance);
    suite_add_tcase(s, tc);
    return s;
}
