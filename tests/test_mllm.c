// test_mllm.c - the tiny multimodal LLM composed (models/mllm.h) and under the model contract
// (models/mllm_kind.h):
//   - every parameter's gradient of the next-token loss (encoders, pixel shuffle, projectors, LoRA,
//     the LM's base weights, the embedding and an untied head) against central differences, on a
//     batch whose rows have different lengths and modalities;
//   - a frozen selection leaves the other gradients untouched and gives the same LoRA gradients;
//   - right padding never changes a row's positions (causality);
//   - the kind with fresh adapters answers exactly as the base model (letter logits = the LM's
//     logits of the option letters at the last position), ignores the data of absent modalities,
//     and its contract backward matches central differences on the adapters;
//   - KV-cached greedy generation's first token is the argmax of the full forward's logits;
//   - bad inputs die with a message: a modality of another size, a prompt longer than the context,
//     a missing or foreign base file, a token id outside the vocabulary.
// The kind's tests read the tiny base model the Makefile builds (MMC_DATA_DIR/base/mllm_tiny.h5).
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "helpers.h"
#include "models/mllm.h"
#include "models/mllm_kind.h"
#include "models/mllm_text.h"
#include "train/samples.h"

#define FD_H 1e-2

// Two encoders of different grids and shuffles, a 2-layer LM with an untied head.
static void tiny_config(MllmConfig *c) {
    memset(c, 0, sizeof *c);
    c->n_enc = 2;
    c->enc[0] = (MllmEncConfig){"image", {1, 4, 4, 2, 2, 8, 1, 2}, 2, 1, 6}; // 2x2 grid -> 2 tokens
    c->enc[1] = (MllmEncConfig){"audio", {1, 6, 2, 2, 2, 8, 1, 2}, 1, 1, 5}; // 3x1 grid -> 3 tokens
    c->lm = (LlamaConfig){.V = 13,
                          .D = 8,
                          .L = 2,
                          .H = 2,
                          .F = 12,
                          .Tmax = 16,
                          .r = 2,
                          .alpha = 4,
                          .lora_p = 0,
                          .tied = 0,
                          .theta = 10000.0};
}

typedef struct {
    Mllm mm;
    MllmWork w;
    float *params, *grads;
    int ids[2 * 12], len[2], tgt[2 * 12], slot0[2], slot1[2];
    float img[2 * 16], aud[2 * 12];
    MllmBatch b;
    MllmTrain tr;
} Fixture;

static void fixture_init(Fixture *f) {
    memset(f, 0, sizeof *f);
    MllmConfig c;
    tiny_config(&c);
    mllm_init(&f->mm, &c);
    f->params = xcalloc(f->mm.n_params, sizeof(float));
    f->grads = xcalloc(f->mm.n_params, sizeof(float));
    Rng rng;
    rng_init(&rng, 7, 0, 0, RNG_TEST);
    mllm_init_params(&f->mm, f->params, &rng);
    // O(1) embeddings (RMSNorm of the N(0, 0.02) init is too curved for the step FD_H) and
    // non-zero adapters so their gradients flow everywhere
    for (size_t i = 0; i < (size_t)13 * 8; i++)
        f->params[f->mm.lm.tok_emb + i] *= 25.0f;
    for (int a = 0; a < 4; a++)
        for (size_t i = 0; i < (size_t)2 * 8 * 2; i++)
            f->params[f->mm.lm.lora_b[a] + i] = 0.3f * (rng_uniform(&rng) - 0.5f);
    fill_uniform(f->img, 32, 0, 1, 1);
    fill_uniform(f->aud, 24, -1, 1, 2);
    // row 0: <bos> img img | aud aud aud | 5 text tokens (12); row 1: <bos> aud aud aud + 4 (8)
    const int r0[12] = {1, 0, 0, 2, 0, 0, 0, 5, 6, 7, 8, 9}, r1[8] = {1, 0, 0, 0, 10, 11, 12, 3};
    for (int t = 0; t < 12; t++)
        f->ids[t] = r0[t], f->ids[12 + t] = t < 8 ? r1[t] : 4; // row 1 right-padded with id 4
    f->len[0] = 12, f->len[1] = 8;
    f->slot0[0] = 1, f->slot0[1] = -1; // image only in row 0
    f->slot1[0] = 4, f->slot1[1] = 1;
    for (int i = 0; i < 24; i++)
        f->tgt[i] = -1;
    f->tgt[6] = 5, f->tgt[8] = 7, f->tgt[10] = 9, f->tgt[11] = 2, f->tgt[12 + 4] = 11,
    f->tgt[12 + 7] = 2;
    f->b = (MllmBatch){.B = 2, .T = 12, .ids = f->ids, .len = f->len};
    f->b.enc_in[0] = f->img, f->b.enc_in[1] = f->aud;
    f->b.slot[0] = f->slot0, f->b.slot[1] = f->slot1;
    f->tr = (MllmTrain){.enc = 1, .proj = 1, .lm_base = 1, .emb = 1};
    mllm_work_init(&f->w, &f->mm, 2, 12);
}

static void fixture_free(Fixture *f) {
    mllm_work_free(&f->w);
    xfree(f->params), xfree(f->grads);
}

static double fixture_loss(void *ctx) {
    Fixture *f = ctx;
    return mllm_lm_loss(&f->mm, f->params, NULL, &f->tr, &f->b, f->tgt, 1.0, &f->w, NULL, NULL,
                        NULL);
}

START_TEST(test_mllm_gradients_match_central_differences) {
    Fixture f;
    fixture_init(&f);
    int64_t n;
    mllm_lm_loss(&f.mm, f.params, f.grads, &f.tr, &f.b, f.tgt, 1.0, &f.w, NULL, &n, NULL);
    ck_assert_int_eq(n, 6);
    Rng rng;
    rng_init(&rng, 3, 0, 0, RNG_TEST);
    // every part, each its own range so that none is skipped by the probe's draw
    size_t lm0 = f.mm.lm.base;
    fd_check(fixture_loss, &f, f.params, f.grads, f.mm.proj_begin, FD_H, 400, &rng);
    fd_check(fixture_loss, &f, f.params + f.mm.proj_begin, f.grads + f.mm.proj_begin,
             f.mm.proj_end - f.mm.proj_begin, FD_H, 400, &rng);
    fd_check(fixture_loss, &f, f.params + lm0, f.grads + lm0, f.mm.lm.n_params, FD_H, 600, &rng);
    fixture_free(&f);
}
END_TEST

// Only the adapters: the other gradients stay as they were, the adapters' equal the full run's.
START_TEST(test_mllm_frozen_parts_get_no_gradient) {
    Fixture f;
    fixture_init(&f);
    mllm_lm_loss(&f.mm, f.params, f.grads, &f.tr, &f.b, f.tgt, 1.0, &f.w, NULL, NULL, NULL);
    float *lora = xcalloc(f.mm.n_params, sizeof(float));
    for (size_t i = 0; i < f.mm.n_params; i++)
        lora[i] = 7.0f;
    MllmTrain only = {0};
    mllm_lm_loss(&f.mm, f.params, lora, &only, &f.b, f.tgt, 1.0, &f.w, NULL, NULL, NULL);
    const LlamaLM *lm = &f.mm.lm;
    size_t na = (size_t)lm->c.L * lm->c.r * lm->c.D;
    for (size_t i = 0; i < f.mm.n_params; i++) {
        int in_lora = 0;
        for (int a = 0; a < 4; a++)
            in_lora |= (i >= lm->lora_a[a] && i < lm->lora_a[a] + na) ||
                       (i >= lm->lora_b[a] && i < lm->lora_b[a] + na);
        if (in_lora)
            ck_assert_float_eq_tol(lora[i] - 7.0f, f.grads[i], 1e-5f);
        else
            ck_assert_float_eq(lora[i], 7.0f);
    }
    xfree(lora);
    fixture_free(&f);
}
END_TEST

// Row 1 alone (T = 8) and inside the padded batch (T = 12) have the same hidden states.
START_TEST(test_mllm_right_padding_changes_nothing) {
    Fixture f;
    fixture_init(&f);
    mllm_forward(&f.mm, f.params, &f.b, &f.w, NULL);
    float h[8 * 8];
    for (int t = 0; t < 8; t++)
        memcpy(h + t * 8, mllm_hidden(&f.w, &f.mm, 1, t), 8 * sizeof(float));
    int ids[8], len = 8, s0 = -1, s1 = 1;
    memcpy(ids, f.ids + 12, sizeof ids);
    MllmBatch one = {.B = 1, .T = 8, .ids = ids, .len = &len};
    one.enc_in[0] = f.img, one.enc_in[1] = f.aud + 12, one.slot[0] = &s0, one.slot[1] = &s1;
    mllm_forward(&f.mm, f.params, &one, &f.w, NULL);
    for (int t = 0; t < 8; t++)
        ck_assert_floats_near(mllm_hidden(&f.w, &f.mm, 0, t), h + t * 8, 8, 1e-5, 1e-5);
    fixture_free(&f);
}
END_TEST

// Fed its encoders' own tokens (tok_in, by batch row), the model computes what it computes from
// the raw inputs, bit for bit, and runs no encoder.
START_TEST(test_mllm_tokens_in_equal_the_encoders) {
    Fixture f;
    fixture_init(&f);
    mllm_forward(&f.mm, f.params, &f.b, &f.w, NULL);
    float h[2 * 12 * 8];
    memcpy(h, f.w.lm.hid, sizeof h);
    // the shuffled tokens of each encoder, scattered to batch rows
    float *tok[2];
    for (int e = 0; e < 2; e++) {
        size_t sz = (size_t)f.mm.n_tok[e] * f.mm.in_proj[e];
        tok[e] = xcalloc(2 * sz, sizeof(float));
        for (int k = 0; k < f.w.n_rows[e]; k++)
            memcpy(tok[e] + (size_t)f.w.rows[e][k] * sz, f.w.shuf[e] + (size_t)k * sz,
                   sz * sizeof(float));
    }
    MllmBatch b = f.b;
    b.enc_in[0] = b.enc_in[1] = NULL, b.tok_in[0] = tok[0], b.tok_in[1] = tok[1];
    memset(f.w.vit[0].out, 0, sizeof(float)); // would change the result if an encoder ran
    mllm_forward(&f.mm, f.params, &b, &f.w, NULL);
    ck_assert_mem_eq(f.w.lm.hid, h, sizeof h);
    xfree(tok[0]), xfree(tok[1]);
    fixture_free(&f);
}
END_TEST

// The extra upstream gradients: with G on the hidden states and P on the projected tokens, the
// backward is the gradient of loss + <G, hid> + <P, proj> (central differences).
typedef struct {
    Fixture *f;
    const float *G, *P[2];
} AddCtx;

static double added_loss(void *ctx) {
    AddCtx *a = ctx;
    Fixture *f = a->f;
    double l = fixture_loss(f), s = 0;
    for (int i = 0; i < 2 * 12 * 8; i++)
        s += (double)a->G[i] * f->w.lm.hid[i];
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < f->w.n_rows[e] * f->mm.n_tok[e] * 8; i++)
            s += (double)a->P[e][i] * f->w.proj[e][i];
    return l + s;
}

START_TEST(test_mllm_added_gradients_match_central_differences) {
    Fixture f;
    fixture_init(&f);
    float G[2 * 12 * 8], P0[2 * 2 * 8], P1[2 * 3 * 8];
    fill_uniform(G, 2 * 12 * 8, -1, 1, 5);
    fill_uniform(P0, 2 * 2 * 8, -1, 1, 6);
    fill_uniform(P1, 2 * 3 * 8, -1, 1, 7);
    f.w.dhid_add = G, f.w.dproj_add[0] = P0, f.w.dproj_add[1] = P1;
    mllm_lm_loss(&f.mm, f.params, f.grads, &f.tr, &f.b, f.tgt, 1.0, &f.w, NULL, NULL, NULL);
    AddCtx a = {&f, G, {P0, P1}};
    Rng rng;
    rng_init(&rng, 4, 0, 0, RNG_TEST);
    fd_check(added_loss, &a, f.params, f.grads, f.mm.proj_begin, FD_H, 300, &rng);
    fd_check(added_loss, &a, f.params + f.mm.proj_begin, f.grads + f.mm.proj_begin,
             f.mm.proj_end - f.mm.proj_begin, FD_H, 300, &rng);
    fd_check(added_loss, &a, f.params + f.mm.lm.base, f.grads + f.mm.lm.base, f.mm.lm.n_params,
             FD_H, 300, &rng);
    fixture_free(&f);
}
END_TEST

// ---- the kind, on the tiny base file ----

typedef struct {
    Dataset *ds;
    SampleLayout sl;
    ModelSpec spec;
    MllmKindOpts o;
    SampleSet s;
    Batch b;
} KindData;

static void kind_data(KindData *k, int n) {
    char path[512], err[1024];
    const char *dir = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    snprintf(path, sizeof path, "%s/avfmnist_ci.h5", dir);
    k->ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(k->ds != NULL, "%s", err);
    samples_layout(&k->sl, k->ds);
    samples_model_spec(&k->spec, &k->sl, k->ds);
    memset(&k->o, 0, sizeof k->o);
    snprintf(k->o.base, sizeof k->o.base, "%s/base/mllm_tiny.h5", dir);
    snprintf(k->o.prompt, sizeof k->o.prompt, "plain");
    k->o.lora_r = 2, k->o.lora_alpha = 2, k->o.lora_dropout = 0;
    int64_t idx[16];
    uint8_t mask[16];
    for (int i = 0; i < n; i++)
        idx[i] = i, mask[i] = (uint8_t)(i % 3 == 0 ? 7 : i % 3 == 1 ? 5 : 2); // all, img+txt, aud
    sampleset_load(&k->s, &k->sl, k->ds, DS_TEST, idx, mask, n);
    batch_init(&k->b, &k->sl, n);
    sampleset_batch(&k->s, &k->sl, NULL, 0, n, &k->b);
}

static void kind_data_free(KindData *k) {
    batch_free(&k->b);
    sampleset_free(&k->s);
    dataset_close(k->ds);
}

START_TEST(test_mllm_kind_fresh_adapters_answer_as_the_base_and_ignore_absent_data) {
    KindData k;
    kind_data(&k, 6);
    Model m;
    mllm_kind_create(&m, &k.spec, &k.o);
    ck_assert_int_eq(m.K, 10);
    size_t off = 0; // the named tensors tile the buffer
    for (int t = 0; t < m.n_tensors; t++) {
        ck_assert_uint_eq(m.tensor[t].off, off);
        off += m.tensor[t].n;
    }
    ck_assert_uint_eq(off, m.n_params);
    float *p = xcalloc_aligned(m.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, 1, 0, 0, RNG_INIT);
    model_init_params(&m, p, &rng);
    ModelWork w;
    model_work_init(&m, &w, 6);
    model_forward(&m, p, &k.b.in, &w);
    float logits[60];
    memcpy(logits, w.logits, sizeof logits);
    // absent modalities' data: scrambled, nothing changes
    for (int b = 0; b < 6; b++)
        for (int mod = 0; mod < 3; mod++)
            if (!k.b.in.mask[b * 3 + mod] && k.b.dense[mod])
                for (int i = 0; i < k.spec.in_dim[mod]; i++)
                    k.b.dense[mod][(size_t)b * k.spec.in_dim[mod] + i] = 0.5f;
    model_forward(&m, p, &k.b.in, &w);
    ck_assert_mem_eq(logits, w.logits, sizeof logits);
    // adapters with B = 0 change nothing: zeroing A too gives the same bits
    for (int t = 0; t < m.n_tensors; t++)
        if (strstr(m.tensor[t].name, "/lora_"))
            memset(p + m.tensor[t].off, 0, m.tensor[t].n * sizeof(float));
    model_forward(&m, p, &k.b.in, &w);
    ck_assert_mem_eq(logits, w.logits, sizeof logits);
    model_work_free(&m, &w);
    xfree(p);
    model_free(&m);
    kind_data_free(&k);
}
END_TEST

typedef struct {
    Model *m;
    ModelWork *w;
    KindData *k;
    float *p;
} KindFd;

static double kind_loss(void *ctx) {
    KindFd *c = ctx;
    return model_loss_backward(c->m, c->p, NULL, &c->k->b.in, c->w, c->k->b.label, NULL, NULL);
}

START_TEST(test_mllm_kind_backward_matches_central_differences) {
    KindData k;
    kind_data(&k, 4);
    k.o.train_proj = 1;
    Model m;
    mllm_kind_create(&m, &k.spec, &k.o);
    float *p = xcalloc_aligned(m.n_params * sizeof(float));
    float *g = xcalloc_aligned(m.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, 2, 0, 0, RNG_INIT);
    model_init_params(&m, p, &rng);
    for (int t = 0; t < m.n_tensors; t++) // non-zero B so that A's gradient is not zero
        if (strstr(m.tensor[t].name, "/lora_") &&
            m.tensor[t].name[strlen(m.tensor[t].name) - 1] == 'b')
            for (size_t i = 0; i < m.tensor[t].n; i++)
                p[m.tensor[t].off + i] = 0.2f * (rng_uniform(&rng) - 0.5f);
    Selection sel;
    char err[256];
    ck_assert_int_eq(model_select(&m, "", &sel, err, sizeof err), 0);
    ModelWork w;
    model_work_init(&m, &w, 4);
    w.grad_sel = &sel;
    model_loss_backward(&m, p, g, &k.b.in, &w, k.b.label, NULL, NULL);
    KindFd c = {&m, &w, &k, p};
    Rng probe;
    rng_init(&probe, 5, 0, 0, RNG_TEST);
    for (int s = 0; s < sel.n_segs; s++)
        fd_check(kind_loss, &c, p + sel.seg[s].offset, g + sel.seg[s].offset, sel.seg[s].n, FD_H,
                 120, &probe);
    model_work_free(&m, &w);
    xfree(p), xfree(g);
    model_free(&m);
    kind_data_free(&k);
}
END_TEST

// KV-cached greedy generation from a row's embedded sequence (media slots filled): its first
// token is the argmax of the full forward's logits at the row's last position.
START_TEST(test_mllm_greedy_first_token_is_the_forward_argmax) {
    Fixture f;
    fixture_init(&f);
    mllm_forward(&f.mm, f.params, &f.b, &f.w, NULL);
    float logits[13];
    llama_head_forward(&f.mm.lm, f.params, mllm_hidden(&f.w, &f.mm, 0, 11), 1, logits);
    int best = 0;
    for (int v = 1; v < 13; v++)
        if (logits[v] > logits[best]) best = v;
    LlamaGen g;
    llama_gen_init(&g, &f.mm.lm, 1, 16);
    int out[4];
    int n = llama_generate(&f.mm.lm, f.params, f.w.x, 12, 2, -1, 0.0f, NULL, out, &g);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(out[0], best);
    llama_gen_free(&g);
    fixture_free(&f);
}
END_TEST

// ---- bad inputs ----

static void die_wrong_size(void *arg) {
    KindData *k = arg;
    k->spec.in_dim[0] = 100;
    Model m;
    mllm_kind_create(&m, &k->spec, &k->o);
}

static void die_missing_file(void *arg) {
    KindData *k = arg;
    snprintf(k->o.base, sizeof k->o.base, "/nonexistent/mllm.h5");
    Model m;
    mllm_kind_create(&m, &k->spec, &k->o);
}

static void die_long_prompt(void *arg) {
    KindData *k = arg;
    static const char *names[26];
    static char buf[26][64];
    for (int c = 0; c < 26; c++) {
        memset(buf[c], 'a' + c, 60);
        buf[c][60] = 0;
        names[c] = buf[c];
    }
    k->spec.K = 26, k->spec.class_names = names;
    Model m;
    mllm_kind_create(&m, &k->spec, &k->o);
}

static void die_foreign_base(void *arg) {
    KindData *k = arg;
    const char *dir = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    snprintf(k->o.base, sizeof k->o.base, "%s/landsat.h5", dir); // an HDF5 file, not a base
    Model m;
    mllm_kind_create(&m, &k->spec, &k->o);
}

static void die_bad_token(void *arg) {
    Fixture *f = arg;
    f->ids[3] = 13; // V = 13
    mllm_forward(&f->mm, f->params, &f->b, &f->w, NULL);
}

START_TEST(test_mllm_bad_inputs_die_with_a_message) {
    KindData k;
    kind_data(&k, 2);
    expect_die(die_wrong_size, &k, "encoder reads 1x28x28 values, the data has 100");
    expect_die(die_missing_file, &k, "/nonexistent/mllm.h5", "make base-model");
    expect_die(die_long_prompt, &k, "longer than the base model's context");
    expect_die(die_foreign_base, &k, "landsat.h5", "format");
    kind_data_free(&k);
    Fixture f;
    fixture_init(&f);
    expect_die(die_bad_token, &f, "13");
    fixture_free(&f);
}
END_TEST

Suite *mllm_suite(void) {
    Suite *s = suite_create("mllm");
    TCase *tc = tcase_create("mllm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mllm_gradients_match_central_differences);
    tcase_add_test(tc, test_mllm_frozen_parts_get_no_gradient);
    tcase_add_test(tc, test_mllm_right_padding_changes_nothing);
    tcase_add_test(tc, test_mllm_tokens_in_equal_the_encoders);
    tcase_add_test(tc, test_mllm_added_gradients_match_central_differences);
    tcase_add_test(tc, test_mllm_kind_fresh_adapters_answer_as_the_base_and_ignore_absent_data);
    tcase_add_test(tc, test_mllm_kind_backward_matches_central_differences);
    tcase_add_test(tc, test_mllm_greedy_first_token_is_the_forward_argmax);
    tcase_add_test(tc, test_mllm_bad_inputs_die_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}
