// test_prox.c - the proximal term (train/prox.h) against hand values: every selected float under
// --prox=all, only the middle layers' slices of layer-stacked tensors under adaptive, nothing
// outside the selection; the composed hooks run the inner gradient term first; and the learning-
// rate schedule (train_lr) against Hugging Face's cosine-with-warm-up values.
#include <check.h>
#include <math.h>
#include <string.h>

#include "models/model.h"
#include "train/local.h"
#include "train/prox.h"

// A model layout only (no ops): "proj/w" (6) unstacked, "lm/lora" stacked over 4 layers of 3,
// "head" (2) not trainable.
static void toy_model(Model *m) {
    memset(m, 0, sizeof *m);
    int64_t s1[1] = {6}, s2[2] = {4, 3}, s3[1] = {2};
    model_add_tensor(m, "proj/w", 1, s1, 0, 1);
    model_add_tensor(m, "lm/lora", 2, s2, 6, 1);
    m->tensor[1].layers = 4;
    model_add_tensor(m, "head", 1, s3, 18, 0);
    m->n_params = 20;
}

static void select_all_trainable(const Model *m, Selection *s) {
    memset(s, 0, sizeof *s);
    for (int t = 0; t < m->n_tensors; t++)
        s->on[t] = (uint8_t)m->tensor[t].trainable;
}

START_TEST(test_prox_all_and_adaptive_hand_values) {
    Model m;
    toy_model(&m);
    Selection sel;
    select_all_trainable(&m, &sel);
    float w[20], g[20], grads[20];
    for (int i = 0; i < 20; i++)
        w[i] = (float)i, g[i] = (float)i - 2.0f; // w − g = 2 everywhere
    char err[256];
    ProxTerm p;
    // all: μ·μ_w = 0.5 · 0.1 on the 18 trainable floats, not on the head
    ck_assert_int_eq(prox_build(&p, &m, &sel, PROX_ALL, 0.5, 0.1, 1, err, sizeof err), 0);
    memset(grads, 0, sizeof grads);
    prox_apply(&p, grads, w, g);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq_tol(grads[i], i < 18 ? 0.1f : 0.0f, 1e-7f);
    ck_assert_double_eq_tol(prox_value(&p, w, g), 0.5 * 0.05 * 18 * 4, 1e-6);
    prox_free(&p);
    // adaptive, s = 1: layers 1 and 2 of lm/lora (floats 9..14) only
    ck_assert_int_eq(prox_build(&p, &m, &sel, PROX_ADAPTIVE, 0.5, 0.1, 1, err, sizeof err), 0);
    memset(grads, 0, sizeof grads);
    prox_apply(&p, grads, w, g);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq_tol(grads[i], i >= 9 && i < 15 ? 0.1f : 0.0f, 1e-7f);
    prox_free(&p);
    // s = 2 of 4 layers leaves nothing: an error naming the option
    ck_assert_int_eq(prox_build(&p, &m, &sel, PROX_ADAPTIVE, 0.5, 0.1, 2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "--prox.free=2"));
    // off: no runs
    ck_assert_int_eq(prox_build(&p, &m, &sel, PROX_OFF, 0.5, 0.1, 1, err, sizeof err), 0);
    ck_assert_int_eq(p.n_runs, 0);
    prox_free(&p);
}
END_TEST

static void inner_grad(void *ctx, float *grads, const float *params, const Selection *sel) {
    (void)params, (void)sel;
    *(int *)ctx += 1;
    grads[0] = 100.0f; // overwritten value must survive: the prox adds after it
}

START_TEST(test_prox_hooks_run_the_inner_term_first) {
    Model m;
    toy_model(&m);
    Selection sel;
    select_all_trainable(&m, &sel);
    ProxTerm p;
    char err[64];
    ck_assert_int_eq(prox_build(&p, &m, &sel, PROX_ALL, 1.0, 1.0, 0, err, sizeof err), 0);
    int calls = 0;
    PartyHooks inner = {.ctx = &calls, .grad = inner_grad};
    ProxHooks ph;
    float w[20] = {3.0f}, g[20] = {1.0f}, grads[20] = {0};
    const PartyHooks *h = prox_hooks(&ph, &inner, &p, g);
    ck_assert_ptr_null(h->fill);
    h->grad(h->ctx, grads, w, &sel);
    ck_assert_int_eq(calls, 1);
    ck_assert_float_eq_tol(grads[0], 102.0f, 1e-6f);
    prox_free(&p);
}
END_TEST

// Hugging Face: steps 0..w-1 ramp i/w, then ½(1 + cos(π (i − w)/(n − w))); rounds likewise.
START_TEST(test_train_lr_cosine_with_warmup) {
    TrainConfig tc = {.lr = 1e-3, .schedule = 1, .warmup = 0.1, .rounds = 10};
    ck_assert_double_eq_tol(train_lr(&tc, 1, 0, 20), 0.0, 1e-15);         // warm-up starts at 0
    ck_assert_double_eq_tol(train_lr(&tc, 1, 1, 20), 1e-3 * 0.5, 1e-15);  // w = 2
    ck_assert_double_eq_tol(train_lr(&tc, 1, 2, 20), 1e-3, 1e-15);        // peak
    ck_assert_double_eq_tol(train_lr(&tc, 1, 11, 20), 1e-3 * 0.5, 1e-12); // half-way: ½
    // round 6 of 10 (index 5, w = 1, ramp (0 + 1)/1 for round 1): ½(1 + cos(π·4/9)) of the peak
    double f = 0.5 * (1 + cos(M_PI * 4.0 / 9.0));
    ck_assert_double_eq_tol(train_lr(&tc, 6, 2, 20), 1e-3 * f, 1e-15);
    tc.schedule = 0;
    ck_assert_double_eq(train_lr(&tc, 6, 7, 20), 1e-3);
}
END_TEST

Suite *prox_suite(void) {
    Suite *s = suite_create("prox");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_prox_all_and_adaptive_hand_values);
    tcase_add_test(tc, test_prox_hooks_run_the_inner_term_first);
    tcase_add_test(tc, test_train_lr_cosine_with_warmup);
    suite_add_tcase(s, tc);
    return s;
}
