// test_model.c - the model contract (models/model.h) over the kinds: the named tensors tile each
// model's buffer with their shapes; the contract's forward and backward are the kind's own (same
// bits); selections take the default, "all" or name prefixes, merge adjacent tensors into one
// segment, pack and unpack exactly, and a prefix that names nothing is an error naming it; local
// training touches only the selected floats.
#include <check.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/generator.h"
#include "models/kinds.h"
#include "models/mm_large.h"
#include "models/party_model.h"
#include "train/local.h"

enum { B = 4 };

// Two dense modalities and a token one, 3 classes.
static ModelSpec spec3(void) {
    ModelSpec s = {.n_mod = 3,
                   .kind = {MODEL_DENSE, MODEL_DENSE, MODEL_TOKENS},
                   .in_dim = {5, 7, 3},
                   .vocab = {0, 0, 6},
                   .mod_name = {"image", "audio", "text"},
                   .K = 3};
    return s;
}

static void check_tiling(const Model *m) {
    size_t off = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const ModelTensor *x = &m->tensor[t];
        size_t n = 1;
        for (int d = 0; d < x->ndim; d++)
            n *= (size_t)x->shape[d];
        ck_assert_msg(x->off == off && x->n == n, "%s: [%zu, +%zu), expected at %zu with %zu",
                      x->name, x->off, x->n, off, n);
        for (int u = 0; u < t; u++)
            ck_assert_str_ne(x->name, m->tensor[u].name);
        off += x->n;
    }
    ck_assert_uint_eq(off, m->n_params);
}

START_TEST(test_every_kind_tiles_its_buffer_with_named_tensors) {
    ModelSpec s = spec3();
    Model pm, mm, gen;
    party_model_create(&pm, &s, 8);
    check_tiling(&pm);
    ck_assert_int_eq(pm.n_tensors, 2 + 2 + 1 + 4);
    const ModelTensor *w = model_tensor(&pm, "enc_audio/w"), *e = model_tensor(&pm, "enc_text/emb");
    ck_assert(w && w->ndim == 2 && w->shape[0] == 8 && w->shape[1] == 7);
    ck_assert(e && e->shape[0] == 6 && e->shape[1] == 8);
    MmConfig mc;
    mm_config_default(&mc, &s);
    mc.D = 8, mc.L = 2, mc.H = 2;
    mm_large_create(&mm, &mc, s.mod_name);
    check_tiling(&mm);
    ck_assert_ptr_nonnull(model_tensor(&mm, "enc_image/slots"));
    generator_create(&gen, &(GenConfig){.D = 4, .H = 6});
    check_tiling(&gen);
    for (int k = 0; model_kinds[k]; k++) { // the registry's kinds build from a spec
        // ... except mllm, which builds from a base-model file for the data's shapes
        // (tests/test_mllm.c checks its tiling on the tiny base model)
        if (!strcmp(model_kinds[k]->opt.name, "mllm")) continue;
        Model m;
        void *opts = xcalloc(1, model_kinds[k]->opt.size + 1);
        char err[256];
        ck_assert_int_eq(opts_set_defaults(model_kinds[k]->opt.opts, model_kinds[k]->opt.n_opts,
                                           opts, err, sizeof err),
                         OPT_OK);
        model_kinds[k]->create(&m, &s, 8, opts);
        check_tiling(&m);
        ck_assert_str_eq(m.ops->kind, model_kinds[k]->opt.name);
        model_free(&m);
        xfree(opts);
    }
    model_free(&pm), model_free(&mm), model_free(&gen);
}
END_TEST

START_TEST(test_the_contract_runs_the_kinds_own_forward_and_backward) {
    ModelSpec s = spec3();
    Model m;
    party_model_create(&m, &s, 8);
    float *params = xcalloc_aligned(m.n_params * sizeof(float));
    float *g1 = xcalloc_aligned(m.n_params * sizeof(float));
    float *g2 = xcalloc_aligned(m.n_params * sizeof(float));
    Rng r;
    rng_init(&r, 7, 0, 0, RNG_TEST);
    model_init_params(&m, params, &r);
    float x0[B * 5], x1[B * 7];
    int ids[B * 3] = {0, 1, 2, 3, 4, 5, -1, -1, 2, 1, 0, 3}, labels[B] = {0, 1, 2, 1};
    uint8_t mask[B * 3] = {1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0};
    fill_uniform(x0, B * 5, -1, 1, 60);
    fill_uniform(x1, B * 7, -1, 1, 61);
    ModelInput in = {.B = B, .dense = {x0, x1}, .tokens = {NULL, NULL, ids}, .mask = mask};
    ModelWork w;
    model_work_init(&m, &w, B);
    double loss = model_loss_backward(&m, params, g1, &in, &w, labels, NULL, NULL);
    // The kind's own functions, called directly.
    PmWork pw;
    pm_work_init(&pw, m.impl, B);
    pm_forward(m.impl, params, &in, &pw);
    ck_assert_mem_eq(pw.logits, w.logits, B * 3 * sizeof(float));
    memcpy(pw.dlogits, w.dlogits, B * 3 * sizeof(float));
    pm_backward(m.impl, params, g2, &in, &pw);
    ck_assert_mem_eq(g1, g2, m.n_params * sizeof(float));
    ck_assert(loss > 0);
    // encode + fuse = forward
    model_encode(&m, params, &in, &w);
    model_fuse(&m, params, &in, &w);
    ck_assert_mem_eq(pw.logits, w.logits, B * 3 * sizeof(float));
    pm_work_free(&pw);
    model_work_free(&m, &w);
    xfree(params), xfree(g1), xfree(g2);
    model_free(&m);
}
END_TEST

START_TEST(test_selections_pick_merge_pack_and_name_bad_prefixes) {
    ModelSpec s = spec3();
    Model m;
    party_model_create(&m, &s, 8);
    Selection sel;
    char err[512] = "";
    ck_assert_int_eq(model_select(&m, "", &sel, err, sizeof err), 0);
    ck_assert_int_eq(sel.n_segs, 1); // every tensor, adjacent: one segment
    ck_assert_uint_eq(sel.n, m.n_params);
    ck_assert_int_eq(model_select(&m, "head,enc_image", &sel, err, sizeof err), 0);
    const ModelTensor *hw = model_tensor(&m, "head/w"), *hb = model_tensor(&m, "head/b");
    const ModelTensor *iw = model_tensor(&m, "enc_image/w"), *ib = model_tensor(&m, "enc_image/b");
    ck_assert_int_eq(sel.n_segs, 2);
    ck_assert_uint_eq(sel.n, hw->n + hb->n + iw->n + ib->n);
    ck_assert_uint_eq(sel.seg[0].offset, iw->off);
    ck_assert_uint_eq(sel.seg[1].offset, hw->off);
    ck_assert_int_eq(selection_packed_offset(&m, &sel, 0), 0);
    ck_assert_int_eq(selection_packed_offset(&m, &sel, m.n_tensors - 2), (int64_t)(iw->n + ib->n));
    ck_assert_int_eq(selection_packed_offset(&m, &sel, 2), -1); // enc_audio/w: not selected
    float *p = xcalloc(m.n_params, sizeof(float)), *q = xcalloc(m.n_params, sizeof(float));
    float *packed = xcalloc(sel.n, sizeof(float));
    for (size_t k = 0; k < m.n_params; k++)
        p[k] = (float)k;
    selection_pack(&sel, p, packed);
    ck_assert(packed[0] == (float)iw->off && packed[sel.n - 1] == (float)(m.n_params - 1));
    selection_unpack(&sel, packed, q);
    for (size_t k = 0; k < m.n_params; k++) {
        int in = (k >= iw->off && k < ib->off + ib->n) || k >= hw->off;
        ck_assert(q[k] == (in ? p[k] : 0.f));
    }
    ck_assert_int_ne(model_select(&m, "head,blocks", &sel, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "'blocks'") && strstr(err, "fuse/w"), "%s", err);
    xfree(p), xfree(q), xfree(packed);
    model_free(&m);
}
END_TEST

START_TEST(test_local_training_touches_only_the_selection) {
    ModelSpec s = {.n_mod = 1, .kind = {MODEL_DENSE}, .in_dim = {5}, .K = 3};
    snprintf(s.mod_name[0], sizeof s.mod_name[0], "x");
    Model m;
    party_model_create(&m, &s, 6);
    Selection sel;
    char err[256];
    ck_assert_int_eq(model_select(&m, "fuse,head/b", &sel, err, sizeof err), 0);
    float *params = xcalloc_aligned(m.n_params * sizeof(float));
    Rng r;
    rng_init(&r, 9, 0, 0, RNG_TEST);
    model_init_params(&m, params, &r);
    float *before = xmalloc(m.n_params * sizeof(float));
    memcpy(before, params, m.n_params * sizeof(float));
    // Eight rows of one modality; the layout as samples.h would give it for float32 features.
    SampleLayout l = {.n_mod = 1, .dtype = {DS_F32}, .row_elems = {5}};
    SampleSet set = {.n = 8};
    set.label = xmalloc(8 * sizeof *set.label);
    set.mask = xmalloc(8);
    set.raw[0] = xmalloc(8 * 5 * sizeof(float));
    fill_uniform(set.raw[0], 8 * 5, -1, 1, 62);
    for (int i = 0; i < 8; i++)
        set.label[i] = i % 3, set.mask[i] = 1;
    OptState opt = {xcalloc_aligned(m.n_params * sizeof(float)),
                    xcalloc_aligned(m.n_params * sizeof(float)), 0};
    TrainConfig tc = {.seed = 1, .epochs = 2, .lr = 0.05, .clip = 5};
    TrainScratch ts;
    train_scratch_init(&ts, &m, &l, 4);
    EvalStats st;
    train_local(&m, &sel, params, &opt, &set, &l, &tc, 1, 0, NULL, &ts, &st);
    ck_assert_int_eq(st.n, 16);
    for (int t = 0; t < m.n_tensors; t++) {
        const ModelTensor *x = &m.tensor[t];
        int same = memcmp(params + x->off, before + x->off, x->n * sizeof(float)) == 0;
        ck_assert_msg(same == !sel.on[t], "%s: %s", x->name,
                      same ? "a selected tensor did not train" : "a frozen tensor moved");
    }
    train_scratch_free(&ts, &m);
    sampleset_free(&set);
    xfree(opt.m), xfree(opt.v), xfree(params), xfree(before);
    model_free(&m);
}
END_TEST

Suite *model_suite(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("contract");
    tcase_add_test(tc, test_every_kind_tiles_its_buffer_with_named_tensors);
    tcase_add_test(tc, test_the_contract_runs_the_kinds_own_forward_and_backward);
    tcase_add_test(tc, test_selections_pick_merge_pack_and_name_bad_prefixes);
    tcase_add_test(tc, test_local_training_touches_only_the_selection);
    suite_add_tcase(s, tc);
    return s;
}
