// test_party_model.c - the parties' small model: the backward against central finite differences
// over every parameter tensor (dense and token encoders, fusion, head) with some modalities
// missing; a missing modality neither changes the output nor gets a gradient; backward accumulates;
// a fill row stands in for a missing block exactly; the extra gradient on u (drep) against FD.
#include <check.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/party_model.h"

enum { B = 5, D = 6, K = 4, T = 3, V = 7, IN0 = 9, IN1 = 4 };

typedef struct {
    PartyModel pm;
    PmWork w;
    ModelInput in;
    float *params, *grads, x0[B * IN0], x1[B * IN1];
    int ids[B * T];
    uint8_t mask[B * 3];
    float g[B * K];  // loss = <logits, g>
    float gu[B * D]; // and, when use_gu, + <u, gu>
    int use_gu;
} Ctx;

static void ctx_init(Ctx *c) {
    PmConfig pc = {.n_mod = 3,
                   .kind = {MODEL_DENSE, MODEL_TOKENS, MODEL_DENSE},
                   .in_dim = {IN0, T, IN1},
                   .vocab = {0, V, 0},
                   .D = D,
                   .K = K};
    pm_init(&c->pm, &pc);
    pm_work_init(&c->w, &c->pm, B);
    c->params = xcalloc_aligned(c->pm.n_params * sizeof(float));
    c->grads = xcalloc_aligned(c->pm.n_params * sizeof(float));
    Rng r;
    rng_init(&r, 3, 0, 0, RNG_TEST);
    pm_init_params(&c->pm, c->params, &r);
    fill_uniform(c->x0, B * IN0, -1, 1, 30);
    fill_uniform(c->x1, B * IN1, -1, 1, 31);
    fill_uniform(c->g, B * K, -1, 1, 32);
    fill_uniform(c->gu, B * D, -1, 1, 33);
    c->use_gu = 0;
    for (int i = 0; i < B * T; i++)
        c->ids[i] = (i * 5) % (V + 1) - 1; // some -1 padding
    // Row 1 misses modality 0, row 3 misses 1 and 2, row 4 has nothing.
    const uint8_t mask[B * 3] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
    memcpy(c->mask, mask, sizeof mask);
    memset(&c->in, 0, sizeof c->in);
    c->in.B = B;
    c->in.dense[0] = c->x0;
    c->in.tokens[1] = c->ids;
    c->in.dense[2] = c->x1;
    c->in.mask = c->mask;
}

static void ctx_free(Ctx *c) {
    pm_work_free(&c->w);
    xfree(c->params), xfree(c->grads);
}

static double model_loss(void *ctx) {
    Ctx *c = ctx;
    pm_forward(&c->pm, c->params, &c->in, &c->w);
    return dot_double(c->w.logits, c->g, B * K) +
           (c->use_gu ? dot_double(c->w.u, c->gu, B * D) : 0);
}

// A backward from row 1 alone (which misses modality 0) leaves encoder 0's gradient zero.
static void assert_row1_leaves_encoder0_alone(Ctx *c) {
    memset(c->w.dlogits, 0, sizeof c->g);
    for (int k = 0; k < K; k++)
        c->w.dlogits[1 * K + k] = 1.f;
    pm_backward(&c->pm, c->params, c->grads, &c->in, &c->w);
    for (size_t i = c->pm.enc_w[0]; i < c->pm.enc_b[0] + D; i++)
        ck_assert_msg(c->grads[i] == 0.f, "encoder 0 gradient %zu = %g", i, c->grads[i]);
}

START_TEST(test_party_model_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    memcpy(c.w.dlogits, c.g, sizeof c.g);
    pm_backward(&c.pm, c.params, c.grads, &c.in, &c.w);
    Rng r;
    rng_init(&r, 9, 0, 0, RNG_TEST);
    // h = 1e-3: a step of 1e-2 crosses ReLU kinks of this small random model.
    fd_check(model_loss, &c, c.params, c.grads, c.pm.n_params, 1e-3, 400, &r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_missing_modality_changes_nothing_and_gets_no_gradient) {
    Ctx c;
    ctx_init(&c);
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    float before[B * K];
    memcpy(before, c.w.logits, sizeof before);
    // Change modality 0's input of row 1 (missing there): the output must not move.
    for (int k = 0; k < IN0; k++)
        c.x0[1 * IN0 + k] += 5.f;
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    ck_assert_mem_eq(before, c.w.logits, sizeof before);
    // Only row 1 has dlogits: modality 0's encoder gets no gradient from it.
    assert_row1_leaves_encoder0_alone(&c);
    ctx_free(&c);
}
END_TEST

START_TEST(test_party_model_backward_accumulates) {
    Ctx c;
    ctx_init(&c);
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    memcpy(c.w.dlogits, c.g, sizeof c.g);
    pm_backward(&c.pm, c.params, c.grads, &c.in, &c.w);
    float *once = xmalloc(c.pm.n_params * sizeof(float));
    memcpy(once, c.grads, c.pm.n_params * sizeof(float));
    pm_backward(&c.pm, c.params, c.grads, &c.in, &c.w);
    for (size_t i = 0; i < c.pm.n_params; i++)
        once[i] *= 2.f;
    ck_assert_floats_near(c.grads, once, c.pm.n_params, 1e-6, 1e-6);
    xfree(once);
    ctx_free(&c);
}
END_TEST

START_TEST(test_fill_stands_in_for_a_missing_block) {
    Ctx c;
    ctx_init(&c);
    float fill0[B * D];
    fill_uniform(fill0, B * D, -1, 1, 40);
    c.in.fill[0] = fill0;
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    // Row 1 misses modality 0: its z block is fill0's row 1; present rows keep their h.
    ck_assert_mem_eq(c.w.z + 1 * 3 * D, fill0 + 1 * D, D * sizeof(float));
    ck_assert_mem_eq(c.w.z + 0 * 3 * D, c.w.h[0] + 0 * D, D * sizeof(float));
    // Modality 1 has no fill: row 3's block stays zero.
    for (int k = 0; k < D; k++)
        ck_assert(c.w.z[3 * 3 * D + 1 * D + k] == 0.f);
    // The fill is a constant: encoder 0 gets no gradient from row 1.
    assert_row1_leaves_encoder0_alone(&c);
    ctx_free(&c);
}
END_TEST

START_TEST(test_representation_gradient_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    float fill2[B * D];
    fill_uniform(fill2, B * D, -1, 1, 41);
    c.in.fill[2] = fill2;
    c.use_gu = 1;
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    memcpy(c.w.dlogits, c.g, sizeof c.g);
    memcpy(c.w.drep, c.gu, sizeof c.gu);
    pm_backward(&c.pm, c.params, c.grads, &c.in, &c.w);
    Rng r;
    rng_init(&r, 10, 0, 0, RNG_TEST);
    fd_check(model_loss, &c, c.params, c.grads, c.pm.n_params, 1e-3, 400, &r);
    // pm_forward zeroes drep: a later backward sees only what the caller adds.
    pm_forward(&c.pm, c.params, &c.in, &c.w);
    for (int k = 0; k < B * D; k++)
        ck_assert(c.w.drep[k] == 0.f);
    ctx_free(&c);
}
END_TEST

Suite *party_model_suite(void) {
    Suite *s = suite_create("party_model");
    TCase *tc = tcase_create("grad");
    tcase_add_test(tc, test_party_model_backward_matches_finite_differences);
    tcase_add_test(tc, test_missing_modality_changes_nothing_and_gets_no_gradient);
    tcase_add_test(tc, test_party_model_backward_accumulates);
    tcase_add_test(tc, test_fill_stands_in_for_a_missing_block);
    tcase_add_test(tc, test_representation_gradient_matches_finite_differences);
    suite_add_tcase(s, tc);
    return s;
}
