// mllm_dump.c - everything the PyTorch twin of the tiny multimodal LLM (tests/torch/mllm_torch.py)
// needs to recompute it, and what the C side computed (issue 12, item 1):
//
//   mllm_dump --base=FILE --data=FILE --out=OUT.h5 [--rows=N] [--all-present]
//
// Builds --model=mllm through mllm_kind_create (LoRA r 4, α 4, dropout 0, projectors trainable)
// from the base file, sets every LoRA B to small random values (a fresh B = 0 would hide the
// adapters' paths and A's gradient), takes N (default 7) test rows of the data with the modality
// masks cycling through all seven non-empty ones (--all-present: every modality), and runs
//   1. the contract: model_loss_backward (CE over the option letters' logits at each row's last
//      position) with the default trainable selection (LoRA + projectors);
//   2. mllm_lm_loss with full-vocabulary random targets at a few positions per row, every gradient
//      on (encoders, projectors, LM base weights, tied embedding).
// The kind keeps its sequences private, so the probe rebuilds each row's ids as mllm_kind.c does
// (models/mllm_text.h, data/prompts.h) and CHECKs that its own forward gives the kind's letter
// logits bit for bit: the ids written are the ones the kind ran.
//
// OUT.h5: attribute config (mllm_config_text lines plus lora_r, lora_alpha); /params/<tensor name>
// every named tensor's values in its contract shape; /batch/{ids (B, T), len (B), slot_<enc> (B),
// enc_<enc> (B, H·W), labels (B), letters (K)}; /contract/{logits (B, K), loss, grad/<name>} for
// the selected tensors; /lm/{targets (B, T), logits (N, V) in row-major (b, t) order of the counted
// positions, loss, grad/<name>} for every tensor. Local; one process, no MPI.
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/prompts.h"
#include "models/mllm_file.h"
#include "models/mllm_kind.h"
#include "models/mllm_text.h"
#include "train/mllm_open.h"
#include "train/samples.h"

#define MAX_ROWS 64
#define TEXT_CAP 4096

static hid_t g_lcpl; // link creation: intermediate groups for names with '/'

static void write_f32(hid_t f, const char *name, int ndim, const hsize_t *dims, const float *v) {
    hid_t sp = H5Screate_simple(ndim, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, g_lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0, "mllm_dump: cannot create %s", name);
    CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0,
          "mllm_dump: cannot write %s", name);
    H5Dclose(ds), H5Sclose(sp);
}

static void write_i32(hid_t f, const char *name, int ndim, const hsize_t *dims, const int *v) {
    hid_t sp = H5Screate_simple(ndim, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_STD_I32LE, sp, g_lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0, "mllm_dump: cannot create %s", name);
    CHECK(H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0,
          "mllm_dump: cannot write %s", name);
    H5Dclose(ds), H5Sclose(sp);
}

static void write_scalar(hid_t f, const char *name, double v) {
    float x = (float)v;
    hsize_t one = 1;
    write_f32(f, name, 1, &one, &x);
}

// Every tensor of m (or only the selected ones) of buf under <group>/<tensor name>.
static void write_tensors(hid_t f, const char *group, const Model *m, const float *buf,
                          const Selection *sel) {
    char name[256];
    for (int t = 0; t < m->n_tensors; t++) {
        const ModelTensor *mt = &m->tensor[t];
        if (sel && !sel->on[t]) continue;
        hsize_t dims[4];
        for (int d = 0; d < mt->ndim; d++)
            dims[d] = (hsize_t)mt->shape[d];
        snprintf(name, sizeof name, "%s/%s", group, mt->name);
        write_f32(f, name, mt->ndim, dims, buf + mt->off);
    }
}

// Row b's ids as mllm_kind.c's build_row spells them; returns its length, slots into slot[e].
static int build_row(const Mllm *mm, const MllmVocab *voc, const ModelSpec *spec,
                     const ModelInput *in, int b, int *ids, int cap, int *slot) {
    uint8_t has[MLLM_MAX_ENC] = {0}, present[MODEL_MAX_MOD];
    const char *mod_names[MODEL_MAX_MOD];
    int text_mod = -1;
    char words[TEXT_CAP] = "", question[TEXT_CAP], text[2 * TEXT_CAP];
    for (int m = 0; m < spec->n_mod; m++) {
        present[m] = in->mask[(size_t)b * spec->n_mod + m];
        mod_names[m] = spec->mod_name[m];
        if (spec->kind[m] == MODEL_TOKENS)
            text_mod = m;
        else if (present[m])
            has[mllm_encoder(mm, spec->mod_name[m])] = 1;
    }
    if (text_mod >= 0 && present[text_mod]) {
        size_t used = 0;
        const int *tok = in->tokens[text_mod] + (size_t)b * spec->in_dim[text_mod];
        for (int i = 0; i < spec->in_dim[text_mod]; i++) {
            if (tok[i] < 0) continue;
            int w = snprintf(words + used, sizeof words - used, "%s%s", used ? " " : "",
                             spec->words[text_mod][tok[i]]);
            CHECK(w > 0 && (size_t)w < sizeof words - used, "mllm_dump: row %d's words", b);
            used += (size_t)w;
        }
    }
    int task = spec->K == 2 && strstr(spec->class_names[1], "hateful") ? 1 : 0;
    CHECK(prompt_task(question, sizeof question, spec->class_names, spec->K, present, mod_names,
                      spec->n_mod, 0, task) >= 0,
          "mllm_dump: the question of row %d", b);
    CHECK(mllm_question_text(text, sizeof text, words, question) >= 0, "mllm_dump: row %d", b);
    MllmSeq s;
    mllm_seq_begin(&s, ids, cap, mm, voc, has);
    mllm_seq_text(&s, voc, text);
    CHECK(!s.overflow, "mllm_dump: row %d does not fit %d tokens", b, cap);
    for (int e = 0; e < mm->c.n_enc; e++)
        slot[e] = s.slot[e];
    return s.n;
}

// The test rows the dump takes: every third, with masks cycling through the non-empty ones
// (all_present: every modality in every row).
static void dump_rows(int64_t *idx, uint8_t *mask, int rows, int n_mod, int all_present) {
    const int full = (1 << n_mod) - 1;
    for (int i = 0; i < rows; i++)
        idx[i] = 3 * i, mask[i] = (uint8_t)(all_present ? full : full - i % full);
}

// The probe's whole run (tests/bench/bench_mllm.c calls it too, with MLLM_DUMP_NO_MAIN).
static int dump_main(int argc, char **argv) {
    const char *base = NULL, *data = NULL, *out = NULL;
    int rows = 7, all_present = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--base=", 7))
            base = argv[i] + 7;
        else if (!strncmp(argv[i], "--data=", 7))
            data = argv[i] + 7;
        else if (!strncmp(argv[i], "--out=", 6))
            out = argv[i] + 6;
        else if (!strncmp(argv[i], "--rows=", 7))
            rows = atoi(argv[i] + 7);
        else if (!strcmp(argv[i], "--all-present"))
            all_present = 1;
        else
            CHECK(0,
                  "usage: mllm_dump --base=FILE --data=FILE --out=OUT.h5 [--rows=N] "
                  "[--all-present] (not '%s')",
                  argv[i]);
    }
    CHECK(base && data && out, "mllm_dump: --base, --data and --out are required");
    CHECK(rows >= 1 && rows <= MAX_ROWS, "mllm_dump: --rows=%d must be in 1..%d", rows, MAX_ROWS);
    char err[1024];

    // ---- the kind on N test rows ----
    MllmOpened op;
    mllm_open(&op, base, data, 0, 1, 0.0);
    Dataset *ds = op.ds; // the parts, owned as before: model_free(&m) and dataset_close(ds)
    SampleLayout sl = op.sl;
    ModelSpec spec = op.spec;
    Model m = op.m;
    int64_t idx[MAX_ROWS];
    uint8_t mask[MAX_ROWS];
    dump_rows(idx, mask, rows, spec.n_mod, all_present);
    SampleSet s;
    sampleset_load(&s, &sl, ds, DS_TEST, idx, mask, rows);
    Batch bt;
    batch_init(&bt, &sl, rows);
    sampleset_batch(&s, &sl, NULL, 0, rows, &bt);

    float *p = xcalloc_aligned(m.n_params * sizeof(float));
    float *g = xcalloc_aligned(m.n_params * sizeof(float));
    float *g2 = xcalloc_aligned(m.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, 12, 0, 0, RNG_TEST);
    model_init_params(&m, p, &rng);
    for (int t = 0; t < m.n_tensors; t++) { // trained-looking adapters: B != 0
        const ModelTensor *mt = &m.tensor[t];
        if (strstr(mt->name, "/lora_") && mt->name[strlen(mt->name) - 1] == 'b')
            for (size_t i = 0; i < mt->n; i++)
                p[mt->off + i] = 0.2f * (rng_uniform(&rng) - 0.5f);
    }
    Selection sel;
    CHECK(model_select(&m, "", &sel, err, sizeof err) == 0, "mllm_dump: %s", err);
    ModelWork w;
    model_work_init(&m, &w, rows);
    w.grad_sel = &sel;
    double closs = model_loss_backward(&m, p, g, &bt.in, &w, bt.label, NULL, NULL);
    const int K = m.K;
    CHECK(K >= 2 && K <= 26, "mllm_dump: %d classes", K);

    // ---- the same model, composed by hand: the ids the kind ran, and the LM loss ----
    MllmConfig c;
    memset(&c, 0, sizeof c);
    c.lm.theta = 10000.0;
    CHECK(mllm_file_read_config(base, &c, err, sizeof err) == 0, "mllm_dump: %s", err);
    c.lm.r = MLLM_OPEN_LORA_R, c.lm.alpha = MLLM_OPEN_LORA_ALPHA, c.lm.lora_p = 0;
    Mllm mm;
    mllm_init(&mm, &c);
    Model lay; // the layout must be the kind's: same names at the same offsets
    memset(&lay, 0, sizeof lay);
    mllm_add_tensors(&mm, &lay, 1);
    CHECK(mm.n_params == m.n_params && lay.n_tensors == m.n_tensors,
          "mllm_dump: the hand-built model has %zu floats in %d tensors, the kind %zu in %d",
          mm.n_params, lay.n_tensors, m.n_params, m.n_tensors);
    for (int t = 0; t < m.n_tensors; t++)
        CHECK(!strcmp(lay.tensor[t].name, m.tensor[t].name) && lay.tensor[t].off == m.tensor[t].off,
              "mllm_dump: tensor %d is %s in the kind, %s by hand", t, m.tensor[t].name,
              lay.tensor[t].name);
    Bpe bpe = {0};
    CHECK(mllm_file_read_tokenizer(base, &bpe, err, sizeof err) == 0, "mllm_dump: %s", err);
    MllmVocab voc;
    CHECK(mllm_vocab_init(&voc, &bpe, &mm, err, sizeof err) == 0, "mllm_dump: %s", err);
    const int Tcap = c.lm.Tmax, V = c.lm.V, ne = c.n_enc;
    int *rowids = xmalloc((size_t)rows * Tcap * sizeof(int)), len[MAX_ROWS];
    int slot[MLLM_MAX_ENC][MAX_ROWS], T = 1;
    for (int b = 0; b < rows; b++) {
        int sl_b[MLLM_MAX_ENC];
        len[b] = build_row(&mm, &voc, &spec, &bt.in, b, rowids + (size_t)b * Tcap, Tcap, sl_b);
        for (int e = 0; e < ne; e++)
            slot[e][b] = sl_b[e];
        if (len[b] > T) T = len[b];
    }
    int *ids = xmalloc((size_t)rows * T * sizeof(int)), *tgt = xmalloc((size_t)rows * T * 4);
    for (int b = 0; b < rows; b++)
        for (int t = 0; t < T; t++)
            ids[b * T + t] = t < len[b] ? rowids[(size_t)b * Tcap + t] : MLLM_TOK_PAD;
    MllmBatch mb = {.B = rows, .T = T, .ids = ids, .len = len};
    const float *enc_in[MLLM_MAX_ENC] = {0};
    for (int i = 0; i < spec.n_mod; i++) {
        int e = spec.kind[i] == MODEL_DENSE ? mllm_encoder(&mm, spec.mod_name[i]) : -1;
        if (e >= 0) enc_in[e] = bt.in.dense[i];
    }
    for (int e = 0; e < ne; e++)
        mb.enc_in[e] = enc_in[e], mb.slot[e] = slot[e];
    MllmWork mw;
    mllm_work_init(&mw, &mm, rows, T);
    mllm_forward(&mm, p, &mb, &mw, NULL);
    int letters[32] = {0};
    for (int k = 0; k < K; k++)
        letters[k] = mllm_letter_id(&voc, k);
    for (int b = 0; b < rows; b++) {
        const float *h = mllm_hidden(&mw, &mm, b, len[b] - 1);
        for (int k = 0; k < K; k++) {
            const float *e = p + mm.lm.tok_emb + (size_t)letters[k] * c.lm.D;
            float v = 0;
            for (int d = 0; d < c.lm.D; d++)
                v += h[d] * e[d];
            CHECK(v == w.logits[b * K + k],
                  "mllm_dump: row %d option %d: the rebuilt sequence gives %.9g, the kind %.9g "
                  "(mllm_kind.c's prompt changed?)",
                  b, k, (double)v, (double)w.logits[b * K + k]);
        }
    }
    // full-vocabulary targets: the last position, and 4 random earlier ones per row
    for (int i = 0; i < rows * T; i++)
        tgt[i] = -1;
    for (int b = 0; b < rows; b++) {
        tgt[b * T + len[b] - 1] = letters[bt.label[b]];
        for (int j = 0; j < 4; j++)
            tgt[b * T + (int)rng_below(&rng, (uint32_t)len[b] - 1)] =
                (int)rng_below(&rng, (uint32_t)V);
    }
    MllmTrain all = {.enc = 1, .proj = 1, .lm_base = 1, .emb = 1};
    int64_t N = 0;
    mllm_lm_loss(&mm, p, NULL, &all, &mb, tgt, 1.0, &mw, NULL, &N, NULL);
    float *lm_logits = xmalloc((size_t)N * V * sizeof(float));
    memcpy(lm_logits, mw.logits, (size_t)N * V * sizeof(float));
    double lloss = mllm_lm_loss(&mm, p, g2, &all, &mb, tgt, 1.0, &mw, NULL, NULL, NULL);

    // ---- the file ----
    g_lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(g_lcpl, 1);
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0, "mllm_dump: cannot create %s", out);
    char cfg[4096];
    CHECK(mllm_config_text(&c, cfg, sizeof cfg - 64) == 0, "mllm_dump: config text");
    snprintf(cfg + strlen(cfg), 64, "lora_r=%d\nlora_alpha=%g\n", c.lm.r, (double)c.lm.alpha);
    hid_t ty = H5Tcopy(H5T_C_S1), asp = H5Screate(H5S_SCALAR);
    H5Tset_size(ty, strlen(cfg) + 1);
    hid_t at = H5Acreate2(f, "config", ty, asp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, ty, cfg);
    H5Aclose(at), H5Sclose(asp), H5Tclose(ty);
    write_tensors(f, "params", &m, p, NULL);
    hsize_t bt_dims[2] = {(hsize_t)rows, (hsize_t)T}, nb = (hsize_t)rows, nk = (hsize_t)K;
    write_i32(f, "batch/ids", 2, bt_dims, ids);
    write_i32(f, "batch/len", 1, &nb, len);
    write_i32(f, "batch/labels", 1, &nb, bt.label);
    write_i32(f, "batch/letters", 1, &nk, letters);
    for (int e = 0; e < ne; e++) {
        char name[128];
        snprintf(name, sizeof name, "batch/slot_%s", c.enc[e].name);
        write_i32(f, name, 1, &nb, slot[e]);
        hsize_t d2[2] = {(hsize_t)rows, (hsize_t)c.enc[e].vit.H * c.enc[e].vit.W};
        snprintf(name, sizeof name, "batch/enc_%s", c.enc[e].name);
        float *zero = NULL;
        if (!enc_in[e]) zero = xcalloc(d2[0] * d2[1], sizeof(float));
        write_f32(f, name, 2, d2, enc_in[e] ? enc_in[e] : zero);
        xfree(zero);
    }
    hsize_t lg[2] = {(hsize_t)rows, (hsize_t)K};
    write_f32(f, "contract/logits", 2, lg, w.logits);
    write_scalar(f, "contract/loss", closs);
    write_tensors(f, "contract/grad", &m, g, &sel);
    write_i32(f, "lm/targets", 2, bt_dims, tgt);
    hsize_t ll[2] = {(hsize_t)N, (hsize_t)V};
    write_f32(f, "lm/logits", 2, ll, lm_logits);
    write_scalar(f, "lm/loss", lloss);
    write_tensors(f, "lm/grad", &m, g2, NULL);
    H5Fclose(f), H5Pclose(g_lcpl);
    printf("mllm_dump: %d rows of up to %d tokens, %lld LM targets, contract loss %.6f, LM loss "
           "%.6f -> %s\n",
           rows, T, (long long)N, closs, lloss, out);

    mllm_work_free(&mw);
    mllm_vocab_free(&voc);
    model_work_free(&m, &w);
    model_free(&m);
    batch_free(&bt);
    sampleset_free(&s);
    dataset_close(ds);
    xfree(p), xfree(g), xfree(g2), xfree(rowids), xfree(ids), xfree(tgt), xfree(lm_logits);
    return 0;
}

#ifndef MLLM_DUMP_NO_MAIN
int main(int argc, char **argv) { return dump_main(argc, argv); }
#endif
