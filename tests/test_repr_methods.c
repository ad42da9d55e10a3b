// test_repr_methods.c - the representation-level terms of FedProto and MOON (methods/fedproto.c,
// methods/moon.c, docs/methods.md §5.2): their gradients on u (drep) against central finite
// differences in double, their values against hand-computed cases, FedProto's nearest-prototype
// inference, the first-round / no-prototype
// cases that must add nothing, and bad labels dying with the row named.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/config.h"
#include "fl/run.h"
#include "helpers.h"
#include "methods/method.h"
#include "protocols/repr.h"

#define FD_H 1e-3     /* u of order 1: float rounding of ±h stays ~1e-4 relative */
#define TOL_HAND 1e-6 /* double sums of float inputs against closed forms */

enum { B = 3, D = 5, K = 4 };

static int parse_rc(RunConfig *c, int argc, char **argv, char *err) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    return config_parse(c, &methods, &models, argc, argv, err, 512);
}

static void parse(RunConfig *c, const char *method, const char *opt) {
    char err[512], arg[64];
    snprintf(arg, sizeof arg, "--method=%s", method);
    char *argv[] = {"m", arg, (char *)opt};
    ck_assert_msg(parse_rc(c, opt ? 3 : 2, argv, err) == OPT_OK, "%s", err);
}

// The method's representation term with the parsed options.
static double term(const Method *m, float *drep, const RepBatch *b, const RunConfig *rc) {
    return ((const ReprExt *)m->ext)->term(drep, b, rc->method_opts);
}

typedef struct {
    const Method *m;
    RunConfig cfg;
    RepBatch b;
    float u[B * D], drep[B * D];
} Case;

static double case_loss(void *ctx) {
    Case *c = ctx;
    float scratch[B * D] = {0};
    return term(c->m, scratch, &c->b, &c->cfg);
}

// The term's drep (from zero) at the current u.
static void case_grad(Case *c) {
    memset(c->drep, 0, sizeof c->drep);
    term(c->m, c->drep, &c->b, &c->cfg);
}

START_TEST(test_moon_contrastive_gradient_matches_finite_differences) {
    static Case c;
    static float glob[B * D], prev[B * D];
    const int labels[B] = {0, 1, 3};
    c.m = method_find("moon");
    ck_assert_ptr_nonnull(c.m);
    parse(&c.cfg, "moon", "--moon.mu=2.5");
    fill_uniform(c.u, B * D, 0.1f, 1.5f, 1); // post-ReLU: non-negative
    fill_uniform(glob, B * D, 0.f, 1.f, 2);
    fill_uniform(prev, B * D, -1.f, 1.f, 3);
    c.b = (RepBatch){
        .B = B, .D = D, .K = K, .labels = labels, .u = c.u, .u_glob = glob, .u_prev = prev};
    case_grad(&c);
    Rng rng;
    rng_init(&rng, 1234, 0, 0, RNG_TEST);
    fd_check(case_loss, &c, c.u, c.drep, B * D, FD_H, 64, &rng);
    // drep accumulates: a second call doubles it.
    float once[B * D];
    memcpy(once, c.drep, sizeof once);
    term(c.m, c.drep, &c.b, &c.cfg);
    for (int i = 0; i < B * D; i++)
        ck_assert_float_eq_tol(c.drep[i], 2 * once[i], 1e-7);
}
END_TEST

START_TEST(test_moon_term_matches_hand_values_and_skips_without_previous_model) {
    RunConfig cfg;
    parse(&cfg, "moon", NULL); // mu 1, tau 0.5
    const Method *m = method_find("moon");
    // Row 0: u = u_glob, u_prev orthogonal: ℓ = log(1 + e^{(0 − 1)/0.5}) = log(1 + e^-2).
    // Row 1: u = u_prev, u_glob opposite: ℓ = log(1 + e^{(1 − (−1))/0.5}) = log(1 + e^4).
    const float u[2 * 2] = {1, 0, 0, 2}, glob[2 * 2] = {3, 0, 0, -1}, prev[2 * 2] = {0, 5, 0, 1};
    const int labels[2] = {0, 0};
    float drep[2 * 2] = {0};
    RepBatch b = {.B = 2, .D = 2, .K = 1, .labels = labels, .u = u, .u_glob = glob, .u_prev = prev};
    double want = (log1p(exp(-2.0)) + log1p(exp(4.0))) / 2;
    ck_assert_double_eq_tol(term(m, drep, &b, &cfg), want, TOL_HAND);
    // Row 0: ∂cos(u, u_glob)/∂u = 0 at u ∥ u_glob; ∂cos(u, u_prev)/∂u = u_prev/(|u||u_prev|) = (0,
    // 1) times σ(−2)/(τ·B).
    double s = 1 / (1 + exp(2.0));
    ck_assert_double_eq_tol(drep[0], 0, TOL_HAND);
    ck_assert_double_eq_tol(drep[1], s / (0.5 * 2), TOL_HAND);
    // The party's first round: no previous model, no term.
    float zero[2 * 2] = {0};
    memset(drep, 0, sizeof drep);
    b.u_glob = b.u_prev = NULL;
    ck_assert_double_eq(term(m, drep, &b, &cfg), 0.0);
    ck_assert_mem_eq(drep, zero, sizeof drep);
}
END_TEST

START_TEST(test_fedproto_regulariser_gradient_matches_finite_differences) {
    static Case c;
    static double protos[K * D];
    const int labels[B] = {0, 2, 3};
    const uint8_t valid[K] = {1, 1, 1, 0}; // row 2's class has no prototype
    c.m = method_find("fedproto");
    ck_assert_ptr_nonnull(c.m);
    parse(&c.cfg, "fedproto", "--fedproto.lambda=0.7");
    fill_uniform(c.u, B * D, 0.f, 2.f, 4);
    float pf[K * D];
    fill_uniform(pf, K * D, 0.f, 2.f, 5);
    for (int i = 0; i < K * D; i++)
        protos[i] = pf[i];
    c.b = (RepBatch){
        .B = B, .D = D, .K = K, .labels = labels, .u = c.u, .protos = protos, .proto_valid = valid};
    case_grad(&c);
    Rng rng;
    rng_init(&rng, 1234, 0, 1, RNG_TEST);
    fd_check(case_loss, &c, c.u, c.drep, B * D, FD_H, 64, &rng);
    for (int j = 0; j < D; j++) // the class without a prototype sends nothing
        ck_assert_float_eq(c.drep[2 * D + j], 0.f);
}
END_TEST

START_TEST(test_fedproto_regulariser_matches_hand_values) {
    RunConfig cfg;
    parse(&cfg, "fedproto", "--fedproto.lambda=2");
    const Method *m = method_find("fedproto");
    // Rows (1, 2) of class 0 with P = (0, 0), (3, 4) of class 2 with P = (3, 5), (9, 9) of class 1
    // without a prototype; the mean over B = 3 rows and D = 2 dims (nn.MSELoss):
    // λ · (5 + 1 + 0) / (3·2) = 2; drep = 2λ/(3·2) · (u − P) = (2/3)(u − P).
    const float u[3 * 2] = {1, 2, 3, 4, 9, 9};
    const int labels[3] = {0, 2, 1};
    const double protos[3 * 2] = {0, 0, 7, 7, 3, 5};
    const uint8_t valid[3] = {1, 0, 1};
    float drep[3 * 2] = {0};
    RepBatch b = {
        .B = 3, .D = 2, .K = 3, .labels = labels, .u = u, .protos = protos, .proto_valid = valid};
    ck_assert_double_eq_tol(term(m, drep, &b, &cfg), 2.0, TOL_HAND);
    const float want[3 * 2] = {2.f / 3, 4.f / 3, 0, -2.f / 3, 0, 0};
    ck_assert_floats_near(drep, want, 6, 1e-6, 1e-6);
    // Before the first exchange (no prototypes): no term.
    float zero[3 * 2] = {0};
    memset(drep, 0, sizeof drep);
    b.protos = NULL, b.proto_valid = NULL;
    ck_assert_double_eq(term(m, drep, &b, &cfg), 0.0);
    ck_assert_mem_eq(drep, zero, sizeof drep);
}
END_TEST

// The inference of one batch by fedproto's logits with the options opt (NULL = defaults).
static void fedproto_infer(const char *opt, float *logits, const RepBatch *b) {
    RunConfig cfg;
    parse(&cfg, "fedproto", opt);
    const ReprExt *x = method_find("fedproto")->ext;
    ck_assert_ptr_nonnull(x->logits);
    x->logits(logits, b, cfg.method_opts);
}

START_TEST(test_fedproto_infers_the_nearest_valid_prototype) {
    // Prototypes P0 = (0, 0), P1 = (1, 1) (invalid: no party had class 1), P2 = (4, 0).
    // Row (1, 1): distances² 2, –, 10: class 0 (P1 would be nearer, but it is not valid).
    // Row (3, 1): distances² 10, –, 2: class 2. Logits are −distance².
    const float u[2 * 2] = {1, 1, 3, 1};
    const double protos[3 * 2] = {0, 0, 1, 1, 4, 0};
    const uint8_t valid[3] = {1, 0, 1};
    RepBatch b = {.B = 2, .D = 2, .K = 3, .u = u, .protos = protos, .proto_valid = valid};
    float logits[2 * 3] = {0};
    fedproto_infer(NULL, logits, &b); // default: infer=proto
    const float want[2 * 3] = {-2, -1e30f, -10, -10, -1e30f, -2};
    ck_assert_mem_eq(logits, want, sizeof want);
    for (int i = 0; i < 2; i++) { // the prediction the CE's argmax takes
        int best = 0;
        for (int c = 1; c < 3; c++)
            if (logits[i * 3 + c] > logits[i * 3 + best]) best = c;
        ck_assert_int_eq(best, i == 0 ? 0 : 2);
    }
    // infer=head leaves the head's logits.
    float head[2 * 3] = {5, 6, 7, 8, 9, 10}, same[2 * 3];
    memcpy(same, head, sizeof head);
    fedproto_infer("--fedproto.infer=head", head, &b);
    ck_assert_mem_eq(head, same, sizeof head);
}
END_TEST

static void fedproto_bad_label(void *arg) {
    (void)arg;
    RunConfig cfg;
    char err[512];
    parse_rc(&cfg, 2, (char *[]){"m", "--method=fedproto"}, err);
    const float u[2] = {0, 0};
    const int labels[2] = {0, 5};
    const double protos[2] = {0, 0};
    const uint8_t valid[2] = {1, 1};
    float drep[2];
    RepBatch b = {
        .B = 2, .D = 1, .K = 2, .labels = labels, .u = u, .protos = protos, .proto_valid = valid};
    term(method_find("fedproto"), drep, &b, &cfg);
}

START_TEST(test_fedproto_bad_label_dies_naming_the_row) {
    expect_die(fedproto_bad_label, NULL, "fedproto_term", "labels[1] = 5", "[0, 2)");
}
END_TEST

START_TEST(test_moon_tau_must_be_positive) {
    RunConfig c;
    char err[512];
    ck_assert_int_ne(parse_rc(&c, 3, (char *[]){"m", "--method=moon", "--moon.tau=0"}, err),
                     OPT_OK);
    ck_assert_msg(strstr(err, "moon.tau"), "%s", err);
}
END_TEST

Suite *repr_methods_suite(void) {
    Suite *s = suite_create("repr_methods");
    TCase *tc = tcase_create("terms");
    tcase_add_test(tc, test_moon_contrastive_gradient_matches_finite_differences);
    tcase_add_test(tc, test_moon_term_matches_hand_values_and_skips_without_previous_model);
    tcase_add_test(tc, test_fedproto_regulariser_gradient_matches_finite_differences);
    tcase_add_test(tc, test_fedproto_regulariser_matches_hand_values);
    tcase_add_test(tc, test_fedproto_infers_the_nearest_valid_prototype);
    tcase_add_test(tc, test_fedproto_bad_label_dies_naming_the_row);
    tcase_add_test(tc, test_moon_tau_must_be_positive);
    suite_add_tcase(s, tc);
    return s;
}
