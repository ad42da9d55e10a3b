// test_mm_large.c - the cloud's multimodal large model: the whole backward (logits and the pooled
// representation) against central finite differences at every parameter, with modalities missing
// in some rows, padding tokens and single-modality rows; a missing modality changes neither the
// output nor any gradient; backward accumulates; the CE path; the parameter table tiles the buffer;
// the default model is at least 10x the party model on the AV-FashionMNIST layout; bad configs die.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/mm_large.h"
#include "models/party_model.h"

// Small and odd: two dense modalities (3 tokens from 7 features, 1 token from 5) around a token
// modality of 5 ids; T = 9 tokens of width 8, 2 heads, 1 block.
enum { B = 6, D = 8, H = 2, K = 3, T1 = 5, V = 6, IN0 = 7, IN2 = 5, NT0 = 3, NT2 = 1 };

typedef struct {
    Model model;  // the MM-LM under the model contract
    ModelWork mw; // its work
    MmLarge *mm;  // = model.impl
    MmWork *w;    // = mw.impl
    ModelInput in;
    float *params, *grads, x0[B * IN0], x2[B * IN2];
    int ids[B * T1], labels[B];
    uint8_t mask[B * 3];
    float g[B * K], grep[B * D]; // loss = <logits, g> + <rep, grep>
    float weights[B];
} Ctx;

static void ctx_init(Ctx *c) {
    MmConfig mc = {.n_mod = 3,
                   .kind = {MODEL_DENSE, MODEL_TOKENS, MODEL_DENSE},
                   .in_dim = {IN0, T1, IN2},
                   .vocab = {0, V, 0},
                   .n_tok = {NT0, 0, NT2},
                   .D = D,
                   .L = 1,
                   .H = H,
                   .K = K};
    mm_large_create(&c->model, &mc, NULL);
    model_work_init(&c->model, &c->mw, B);
    c->mm = c->model.impl, c->w = c->mw.impl;
    c->params = xcalloc_aligned(c->mm->n_params * sizeof(float));
    c->grads = xcalloc_aligned(c->mm->n_params * sizeof(float));
    // Parameters of order 1 (not the 0.02 init), so every gradient is well above the FD floor.
    fill_uniform(c->params, c->mm->n_params, -0.5f, 0.5f, 40);
    fill_uniform(c->x0, B * IN0, -1, 1, 41);
    fill_uniform(c->x2, B * IN2, -1, 1, 42);
    fill_uniform(c->g, B * K, -1, 1, 43);
    fill_uniform(c->grep, B * D, -1, 1, 44);
    fill_uniform(c->weights, B, 0.5f, 2.f, 45);
    for (int i = 0; i < B * T1; i++)
        c->ids[i] = (i * 5) % (V + 1) - 1; // some -1 padding
    for (int b = 0; b < B; b++)
        c->labels[b] = (b * 2) % K;
    // Row 1 misses modality 0; row 2 has only the tokens; row 3 only modality 2; row 5 has
    // nothing (pools to zero).
    const uint8_t mask[B * 3] = {1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0};
    memcpy(c->mask, mask, sizeof mask);
    memset(&c->in, 0, sizeof c->in);
    c->in.B = B;
    c->in.dense[0] = c->x0;
    c->in.tokens[1] = c->ids;
    c->in.dense[2] = c->x2;
    c->in.mask = c->mask;
}

static void ctx_free(Ctx *c) {
    model_work_free(&c->model, &c->mw);
    model_free(&c->model);
    xfree(c->params), xfree(c->grads);
}

static double model_loss(void *ctx) {
    Ctx *c = ctx;
    mm_forward(c->mm, c->params, &c->in, c->w);
    return dot_double(c->w->logits, c->g, B * K) + dot_double(mm_rep(c->w), c->grep, B * D);
}

static void backward_g(Ctx *c) {
    mm_forward(c->mm, c->params, &c->in, c->w);
    memcpy(c->w->dlogits, c->g, sizeof c->g);
    memcpy(c->w->drep, c->grep, sizeof c->grep);
    mm_backward(c->mm, c->params, c->grads, &c->in, c->w);
}

START_TEST(test_mm_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    backward_g(&c);
    Rng r;
    rng_init(&r, 9, 0, 0, RNG_TEST);
    // Every parameter (max_probe = n_params): GELU and LayerNorm are smooth, h = 1e-2 is safe.
    fd_check(model_loss, &c, c.params, c.grads, c.mm->n_params, 1e-2, c.mm->n_params, &r);
    ctx_free(&c);
}
END_TEST

static double ce_loss(void *ctx) {
    Ctx *c = ctx;
    return model_loss_backward(&c->model, c->params, NULL, &c->in, &c->mw, c->labels, c->weights,
                               NULL);
}

START_TEST(test_mm_ce_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    int64_t correct = 0;
    double loss = model_loss_backward(&c.model, c.params, c.grads, &c.in, &c.mw, c.labels,
                                      c.weights, &correct);
    ck_assert(isfinite(loss) && loss > 0.0);
    ck_assert(correct >= 0 && correct <= B);
    Rng r;
    rng_init(&r, 10, 0, 0, RNG_TEST);
    fd_check(ce_loss, &c, c.params, c.grads, c.mm->n_params, 1e-2, 300, &r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_mm_missing_modality_changes_nothing_and_gets_no_gradient) {
    Ctx c;
    ctx_init(&c);
    backward_g(&c);
    float logits[B * K], rep[B * D];
    memcpy(logits, c.w->logits, sizeof logits);
    memcpy(rep, c.w->rep, sizeof rep);
    float *grads0 = xmalloc(c.mm->n_params * sizeof(float));
    memcpy(grads0, c.grads, c.mm->n_params * sizeof(float));
    // Change the inputs of every missing (row, modality) and the padding ids' value: neither the
    // output nor any gradient may move, bit for bit.
    for (int k = 0; k < IN0; k++)
        c.x0[1 * IN0 + k] += 5.f, c.x0[3 * IN0 + k] -= 3.f;
    for (int k = 0; k < IN2; k++)
        c.x2[2 * IN2 + k] += 7.f, c.x2[5 * IN2 + k] = 1e3f;
    for (int s = 0; s < T1; s++)
        c.ids[3 * T1 + s] = (c.ids[3 * T1 + s] + 2) % V;
    for (int i = 0; i < B * T1; i++)
        if (c.ids[i] < 0) c.ids[i] = -7;
    memset(c.grads, 0, c.mm->n_params * sizeof(float));
    backward_g(&c);
    ck_assert_mem_eq(logits, c.w->logits, sizeof logits);
    ck_assert_mem_eq(rep, c.w->rep, sizeof rep);
    ck_assert_mem_eq(grads0, c.grads, c.mm->n_params * sizeof(float));
    // Gradient only from row 1 (modality 0 missing): modality 0's encoder and its modality
    // embedding get exactly nothing, modality 2's do get something.
    mm_forward(c.mm, c.params, &c.in, c.w);
    for (int k = 0; k < K; k++)
        c.w->dlogits[1 * K + k] = 1.f + (float)k;
    memset(c.grads, 0, c.mm->n_params * sizeof(float));
    mm_backward(c.mm, c.params, c.grads, &c.in, c.w);
    size_t end0 = c.mm->mod_emb[0] + (size_t)NT0 * D;
    for (size_t i = c.mm->enc_w[0]; i < end0; i++)
        ck_assert_msg(c.grads[i] == 0.f, "modality 0 gradient %zu = %g", i, c.grads[i]);
    double g2 = 0.0;
    for (size_t i = c.mm->enc_w[2]; i < c.mm->mod_emb[2] + (size_t)NT2 * D; i++)
        g2 += fabs(c.grads[i]);
    ck_assert_msg(g2 > 0.0, "modality 2 (present in row 1) got no gradient");
    xfree(grads0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_mm_empty_row_is_the_bias_path) {
    // Row 5 has no modality: rep = LN_f(0) = lnfb, so the logits are head(lnfb).
    Ctx c;
    ctx_init(&c);
    mm_forward(c.mm, c.params, &c.in, c.w);
    ck_assert_floats_near(c.w->rep + 5 * D, c.params + c.mm->lnfb, D, 0.0, 0.0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_mm_backward_accumulates) {
    Ctx c;
    ctx_init(&c);
    backward_g(&c);
    float *once = xmalloc(c.mm->n_params * sizeof(float));
    memcpy(once, c.grads, c.mm->n_params * sizeof(float));
    mm_backward(c.mm, c.params, c.grads, &c.in, c.w);
    for (size_t i = 0; i < c.mm->n_params; i++)
        once[i] *= 2.f;
    ck_assert_floats_near(c.grads, once, c.mm->n_params, 1e-6, 1e-6);
    xfree(once);
    ctx_free(&c);
}
END_TEST

START_TEST(test_mm_tensors_tile_the_buffer) {
    Ctx c;
    ctx_init(&c);
    const Model *m = &c.model;
    // 2 dense (w, b, slots) + tokens (emb, slots) + 12 per-layer + lnf w, b + head w, b.
    ck_assert_int_eq(m->n_tensors, 3 + 2 + 3 + 12 + 4);
    size_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensor[i];
        ck_assert_msg(t->off == off, "%s starts at %zu, expected %zu", t->name, t->off, off);
        ck_assert_msg(t->n > 0, "%s is empty", t->name);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(t->name, m->tensor[j].name);
        off += t->n;
    }
    ck_assert_uint_eq(off, c.mm->n_params);
    ck_assert_int_eq(c.mm->T, NT0 + T1 + NT2);
    const ModelTensor *q = model_tensor(m, "blocks/qkvw"); // stacked over the L blocks
    ck_assert(q && q->ndim == 3 && q->shape[0] == 1 && q->shape[1] == 3 * D && q->shape[2] == D);
    ctx_free(&c);
}
END_TEST

// The AV-FashionMNIST layout: image 784, audio 98 x 40 log-mel, 8 text tokens over 66 words.
static void avfm_spec(ModelSpec *s) {
    memset(s, 0, sizeof *s);
    s->n_mod = 3;
    s->kind[0] = MODEL_DENSE, s->in_dim[0] = 784;
    s->kind[1] = MODEL_DENSE, s->in_dim[1] = 98 * 40;
    s->kind[2] = MODEL_TOKENS, s->in_dim[2] = 8, s->vocab[2] = 66;
    s->K = 10;
}

START_TEST(test_mm_default_is_ten_times_the_party_model) {
    ModelSpec spec;
    avfm_spec(&spec);
    Model pm, mm;
    party_model_create(&pm, &spec, 64);
    MmConfig mc;
    mm_config_default(&mc, &spec);
    mm_large_create(&mm, &mc, NULL);
    double ratio = (double)mm.n_params / (double)pm.n_params;
    printf("mm_large: AV-FashionMNIST layout: MM-LM (D %d, L %d, H %d, T %d) %zu params, party "
           "model (D 64) %zu params, ratio %.2f\n",
           mc.D, mc.L, mc.H, ((MmLarge *)mm.impl)->T, mm.n_params, pm.n_params, ratio);
    ck_assert_msg(ratio >= 10.0, "MM-LM / party model = %.2f < 10", ratio);
    // One forward and backward at the defaults (T = 24 tokens): finite, and every tensor learns.
    ModelWork w;
    model_work_init(&mm, &w, 2);
    float *params = xcalloc_aligned(mm.n_params * sizeof(float));
    float *grads = xcalloc_aligned(mm.n_params * sizeof(float));
    Rng r;
    rng_init(&r, 1, 0, 0, RNG_INIT);
    model_init_params(&mm, params, &r);
    float *img = xcalloc(2 * 784, sizeof(float)), *aud = xcalloc(2 * 3920, sizeof(float));
    fill_uniform(img, 2 * 784, -1, 1, 50);
    fill_uniform(aud, 2 * 3920, -1, 1, 51);
    int ids[16] = {2, 3, 4, 0, 0, 0, 0, 0, 5, 6, 7, 8, 9, 10, 11, 12};
    int labels[2] = {3, 7};
    ModelInput in = {.B = 2, .dense = {img, aud}, .tokens = {NULL, NULL, ids}};
    double loss = model_loss_backward(&mm, params, grads, &in, &w, labels, NULL, NULL);
    ck_assert_msg(isfinite(loss) && fabs(loss - log(10.0)) < 1.0, "initial CE %g", loss);
    for (int i = 0; i < mm.n_tensors; i++) {
        const ModelTensor *t = &mm.tensor[i];
        double s = 0.0;
        for (size_t k = 0; k < t->n; k++)
            s += fabs(grads[t->off + k]);
        ck_assert_msg(isfinite(s) && s > 0.0, "%s: |grad| sum %g", t->name, s);
    }
    xfree(img), xfree(aud), xfree(params), xfree(grads);
    model_work_free(&mm, &w);
    model_free(&mm), model_free(&pm);
}
END_TEST

// ---- bad input ----

static MmConfig good_config(void) {
    MmConfig mc = {.n_mod = 2,
                   .kind = {MODEL_DENSE, MODEL_TOKENS},
                   .in_dim = {4, 3},
                   .vocab = {0, 5},
                   .n_tok = {2, 0},
                   .D = 8,
                   .L = 1,
                   .H = 2,
                   .K = 3};
    return mc;
}

static void die_heads(void *arg) {
    (void)arg;
    MmConfig mc = good_config();
    mc.H = 3;
    MmLarge m;
    mm_init(&m, &mc);
}

static void die_dense_tokens(void *arg) {
    (void)arg;
    MmConfig mc = good_config();
    mc.n_tok[0] = 0;
    MmLarge m;
    mm_init(&m, &mc);
}

static void die_token_count(void *arg) {
    (void)arg;
    MmConfig mc = good_config();
    mc.n_tok[1] = 2;
    MmLarge m;
    mm_init(&m, &mc);
}

static void die_classes(void *arg) {
    (void)arg;
    MmConfig mc = good_config();
    mc.K = 1;
    MmLarge m;
    mm_init(&m, &mc);
}

static void die_forward(void *arg) {
    const int *which = arg;
    MmConfig mc = good_config();
    MmLarge m;
    mm_init(&m, &mc);
    MmWork w;
    mm_work_init(&w, &m, 2);
    float *params = xcalloc(m.n_params, sizeof(float));
    float x[3 * 4] = {0};
    int ids[3 * 3] = {0, 1, 2, 3, 4, -1, 0, 0, 0};
    if (*which == 0) ids[4] = 5; // id == V
    ModelInput in = {.B = *which == 1 ? 3 : 2, .dense = {x}, .tokens = {NULL, ids}};
    if (*which == 2) in.dense[0] = NULL;
    mm_forward(&m, params, &in, &w);
}

START_TEST(test_mm_bad_config_and_input_die) {
    expect_die(die_heads, NULL, "mm_init", "D = 8 is not a multiple of H = 3");
    expect_die(die_dense_tokens, NULL, "mm_init", "dense modality 0: n_tok = 0");
    expect_die(die_token_count, NULL, "mm_init", "token modality 1: n_tok = 2", "needs 3");
    expect_die(die_classes, NULL, "mm_init", "K = 1");
    int which[3] = {0, 1, 2};
    expect_die(die_forward, &which[0], "mm_forward", "modality 1 row 1 token 1: id 5 >= V = 5");
    expect_die(die_forward, &which[1], "mm_forward", "batch B = 3 outside 1..Bmax = 2");
    expect_die(die_forward, &which[2], "mm_forward", "modality 0: dense input is NULL");
}
END_TEST

Suite *mm_large_suite(void) {
    Suite *s = suite_create("mm_large");
    TCase *tc = tcase_create("grad");
    tcase_add_test(tc, test_mm_backward_matches_finite_differences);
    tcase_add_test(tc, test_mm_ce_backward_matches_finite_differences);
    tcase_add_test(tc, test_mm_missing_modality_changes_nothing_and_gets_no_gradient);
    tcase_add_test(tc, test_mm_empty_row_is_the_bias_path);
    tcase_add_test(tc, test_mm_backward_accumulates);
    tcase_add_test(tc, test_mm_tensors_tile_the_buffer);
    tcase_add_test(tc, test_mm_default_is_ten_times_the_party_model);
    tcase_add_test(tc, test_mm_bad_config_and_input_die);
    suite_add_tcase(s, tc);
    return s;
}
