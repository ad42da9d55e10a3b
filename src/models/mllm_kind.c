// mllm_kind.c - the tiny multimodal LLM under the model contract (see mllm_kind.h).
#include "models/mllm_kind.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "data/prompts.h"
#include "models/mllm_file.h"
#include "models/mllm_text.h"

#define MASKS (1 << MODEL_MAX_MOD)
#define WORDS_CAP 1024
#define QUESTION_CAP 2048

typedef struct {
    Mllm mm;
    MllmVocab voc;
    float *base; // (n_params) the base model's weights, adapters zero
    int n_mod, K, task;
    int enc_of[MODEL_MAX_MOD]; // spec modality -> encoder, -1 for the token modality
    int text_mod;              // the token modality, -1 when none
    int text_len;              // its word slots per sample
    const char *const *words;  // its vocabulary (borrowed from the dataset)
    char *question[MASKS];     // the task question per modality mask (owned)
    int Tmax;                  // the longest sequence a sample can make
    int letter[PROMPT_MAX_CLASSES];
} MllmKind;

typedef struct {
    MllmWork mw;
    int *ids, *len, *slot[MLLM_MAX_ENC]; // (Bmax, Tmax), (Bmax), (Bmax) each
    const float *enc_in[MLLM_MAX_ENC];
    const float *tok_in[MLLM_MAX_ENC]; // mllm_kind_set_tokens
    MllmBatch batch;
    float *dlast; // (Bmax, D)
    char *words, *text;
} KindWork;

static const float *head_row(const MllmKind *k, const float *params, int id) {
    const LlamaLM *lm = &k->mm.lm;
    return params + (lm->c.tied ? lm->tok_emb : lm->head) + (size_t)id * lm->c.D;
}

// The words of row b's text, pads skipped, joined by spaces into out (WORDS_CAP).
static void row_words(const MllmKind *k, const int *tok, char *out) {
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < k->text_len; i++) {
        if (tok[i] < 0) continue;
        int w = snprintf(out + used, WORDS_CAP - used, "%s%s", used ? " " : "", k->words[tok[i]]);
        if (w < 0 || (size_t)w >= WORDS_CAP - used) break;
        used += (size_t)w;
    }
}

// Row b's sequence into the batch; returns its length.
static int build_row(const MllmKind *k, const ModelInput *in, KindWork *kw, int b) {
    uint8_t has[MLLM_MAX_ENC] = {0};
    int mask = 0;
    for (int m = 0; m < k->n_mod; m++) {
        int present = in->mask ? in->mask[(size_t)b * k->n_mod + m] : 1;
        mask |= present << m;
        if (present && k->enc_of[m] >= 0) has[k->enc_of[m]] = 1;
    }
    MllmSeq s;
    mllm_seq_begin(&s, kw->ids + (size_t)b * k->Tmax, k->Tmax, &k->mm, &k->voc, has);
    kw->words[0] = 0;
    if (k->text_mod >= 0 && (mask >> k->text_mod & 1))
        row_words(k, in->tokens[k->text_mod] + (size_t)b * k->text_len, kw->words);
    CHECK(mllm_question_text(kw->text, QUESTION_CAP + WORDS_CAP, kw->words, k->question[mask]) >= 0,
          "mllm: the question text is too long");
    mllm_seq_text(&s, &k->voc, kw->text);
    CHECK(!s.overflow, "mllm: row %d's prompt is longer than the context of %d tokens", b, k->Tmax);
    for (int e = 0; e < k->mm.c.n_enc; e++)
        kw->slot[e][b] = s.slot[e];
    return s.n;
}

static void forward(const Model *m, const float *params, const ModelInput *in, ModelWork *w) {
    const MllmKind *k = m->impl;
    KindWork *kw = w->impl;
    const int B = in->B, D = k->mm.c.lm.D;
    for (int b = 0; b < B; b++)
        kw->len[b] = build_row(k, in, kw, b);
    const int T = mllm_rows_pack(kw->ids, NULL, kw->len, B, k->Tmax);
    for (int m2 = 0; m2 < k->n_mod; m2++)
        if (k->enc_of[m2] >= 0) kw->enc_in[k->enc_of[m2]] = in->dense[m2];
    kw->batch = (MllmBatch){.B = B, .T = T, .ids = kw->ids, .len = kw->len};
    for (int e = 0; e < k->mm.c.n_enc; e++)
        kw->batch.enc_in[e] = kw->enc_in[e], kw->batch.slot[e] = kw->slot[e],
        kw->batch.tok_in[e] = kw->tok_in[e];
    mllm_forward(&k->mm, params, &kw->batch, &kw->mw, w->train_rng);
    for (int b = 0; b < B; b++) {
        const float *h = mllm_hidden(&kw->mw, &k->mm, b, kw->len[b] - 1);
        memcpy(w->rep + (size_t)b * D, h, (size_t)D * sizeof(float));
        for (int c = 0; c < k->K; c++) {
            const float *e = head_row(k, params, k->letter[c]);
            float s = 0;
            for (int d = 0; d < D; d++)
                s += h[d] * e[d];
            w->logits[(size_t)b * k->K + c] = s;
        }
    }
    memset(w->dlogits, 0, (size_t)B * k->K * sizeof(float));
    memset(w->drep, 0, (size_t)B * D * sizeof(float));
}

// Which parts the trainer reads gradients of (all when sel is NULL).
static MllmTrain train_parts(const Model *m, const Selection *sel) {
    MllmTrain tr = {0};
    for (int t = 0; t < m->n_tensors; t++) {
        if (sel && !sel->on[t]) continue;
        const char *n = m->tensor[t].name;
        if (!strncmp(n, "enc_", 4))
            tr.enc = 1;
        else if (!strncmp(n, "proj_", 5))
            tr.proj = 1;
        else if (!strcmp(n, "lm/tok_emb") || !strcmp(n, "lm/head"))
            tr.emb = 1;
        else if (!strstr(n, "/lora_"))
            tr.lm_base = 1;
    }
    return tr;
}

static void backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                     ModelWork *w) {
    const MllmKind *k = m->impl;
    KindWork *kw = w->impl;
    const int B = in->B, D = k->mm.c.lm.D, T = kw->batch.T;
    MllmTrain tr = train_parts(m, w->grad_sel);
    const LlamaLM *lm = &k->mm.lm;
    float *ghead = tr.emb ? grads + (lm->c.tied ? lm->tok_emb : lm->head) : NULL;
    memcpy(kw->dlast, w->drep, (size_t)B * D * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *h = w->rep + (size_t)b * D;
        float *dh = kw->dlast + (size_t)b * D;
        for (int c = 0; c < k->K; c++) {
            float g = w->dlogits[(size_t)b * k->K + c];
            const float *e = head_row(k, params, k->letter[c]);
            for (int d = 0; d < D; d++)
                dh[d] += g * e[d];
            if (ghead)
                for (int d = 0; d < D; d++)
                    ghead[(size_t)k->letter[c] * D + d] += g * h[d];
        }
    }
    memset(kw->mw.dhid, 0, (size_t)B * T * D * sizeof(float));
    for (int b = 0; b < B; b++)
        memcpy(kw->mw.dhid + ((size_t)b * T + kw->len[b] - 1) * D, kw->dlast + (size_t)b * D,
               (size_t)D * sizeof(float));
    mllm_backward(&k->mm, params, grads, &tr, &kw->batch, &kw->mw);
}

static void init_params(const Model *m, float *params, Rng *rng) {
    const MllmKind *k = m->impl;
    memcpy(params, k->base, m->n_params * sizeof(float));
    // fresh adapters: A as PyTorch's kaiming_uniform(a = √5) = U(±1/√in), B = 0 (PEFT)
    for (int t = 0; t < m->n_tensors; t++) {
        const ModelTensor *mt = &m->tensor[t];
        if (!strstr(mt->name, "/lora_")) continue;
        int is_a = mt->name[strlen(mt->name) - 1] == 'a';
        float bound = 1.0f / sqrtf((float)mt->shape[mt->ndim - 1]);
        for (size_t i = 0; i < mt->n; i++)
            params[mt->off + i] = is_a ? bound * (2.0f * rng_uniform(rng) - 1.0f) : 0.0f;
    }
}

static void work_init(const Model *m, ModelWork *w, int Bmax) {
    const MllmKind *k = m->impl;
    KindWork *kw = xcalloc(1, sizeof *kw);
    const int D = k->mm.c.lm.D;
    mllm_work_init(&kw->mw, &k->mm, Bmax, k->Tmax);
    kw->ids = xmalloc((size_t)Bmax * k->Tmax * sizeof(int));
    kw->len = xmalloc((size_t)Bmax * sizeof(int));
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        kw->slot[e] = xmalloc((size_t)Bmax * sizeof(int));
    kw->dlast = xmalloc((size_t)Bmax * D * sizeof(float));
    kw->words = xmalloc(WORDS_CAP);
    kw->text = xmalloc(QUESTION_CAP + WORDS_CAP);
    w->Bmax = Bmax;
    w->logits = xcalloc((size_t)Bmax * k->K, sizeof(float));
    w->probs = xcalloc((size_t)Bmax * k->K, sizeof(float));
    w->dlogits = xcalloc((size_t)Bmax * k->K, sizeof(float));
    w->rep = xcalloc((size_t)Bmax * D, sizeof(float));
    w->drep = xcalloc((size_t)Bmax * D, sizeof(float));
    w->impl = kw;
}

static void work_free(ModelWork *w) {
    KindWork *kw = w->impl;
    if (kw) {
        mllm_work_free(&kw->mw);
        xfree(kw->ids), xfree(kw->len), xfree(kw->dlast), xfree(kw->words), xfree(kw->text);
        for (int e = 0; e < MLLM_MAX_ENC; e++)
            xfree(kw->slot[e]);
        xfree(kw);
    }
    xfree(w->logits), xfree(w->probs), xfree(w->dlogits), xfree(w->rep), xfree(w->drep);
    memset(w, 0, sizeof *w);
}

static void destroy(void *impl) {
    MllmKind *k = impl;
    mllm_vocab_free(&k->voc);
    xfree(k->base);
    for (int i = 0; i < MASKS; i++)
        xfree(k->question[i]);
    xfree(k);
}

static const ModelOps mllm_ops = {.kind = "mllm",
                                  .init_params = init_params,
                                  .work_init = work_init,
                                  .work_free = work_free,
                                  .forward = forward,
                                  .backward = backward,
                                  .destroy = destroy};

// The longest BPE encoding of one word of the text modality, with its leading space.
static int longest_word(const MllmKind *k, int n_words) {
    int longest = 1;
    char buf[512];
    for (int i = 0; i < n_words; i++) {
        snprintf(buf, sizeof buf, " %s", k->words[i]);
        int n = bpe_encode(&k->voc.bpe, buf, NULL, 0);
        if (n > longest) longest = n;
    }
    return longest;
}

// The questions per mask and the longest sequence any sample can make.
static void build_questions(MllmKind *k, const ModelSpec *spec, const MllmKindOpts *o) {
    const char *mod_names[MODEL_MAX_MOD];
    for (int m = 0; m < k->n_mod; m++)
        mod_names[m] = spec->mod_name[m];
    int augmented = !strcmp(o->prompt, "augmented");
    int longest_q = 0;
    for (int mask = 0; mask < (1 << k->n_mod); mask++) {
        uint8_t present[MODEL_MAX_MOD];
        for (int m = 0; m < k->n_mod; m++)
            present[m] = (uint8_t)(mask >> m & 1);
        k->question[mask] = xmalloc(QUESTION_CAP);
        CHECK(prompt_task(k->question[mask], QUESTION_CAP, spec->class_names, k->K, present,
                          mod_names, k->n_mod, augmented, k->task) >= 0,
              "mllm: the task question does not fit %d bytes", QUESTION_CAP);
        char text[QUESTION_CAP + 64];
        mllm_question_text(text, sizeof text, "x", k->question[mask]);
        int n = bpe_encode(&k->voc.bpe, text, NULL, 0);
        if (n > longest_q) longest_q = n;
    }
    int media = 1;
    for (int e = 0; e < k->mm.c.n_enc; e++)
        media += 1 + k->mm.n_tok[e];
    int words = k->text_mod >= 0 ? k->text_len * longest_word(k, spec->vocab[k->text_mod]) : 0;
    k->Tmax = media + longest_q + words;
    log_debug("mllm: prompts of up to %d tokens (%d of media, %d of question, %d of text)", k->Tmax,
              media, longest_q, words);
    CHECK(k->Tmax <= k->mm.c.lm.Tmax,
          "mllm: the longest prompt (%d tokens: %d of media, %d of question, up to %d of text) is "
          "longer than the base model's context of %d tokens",
          k->Tmax, media, longest_q, words, k->mm.c.lm.Tmax);
}

void mllm_kind_create(Model *m, const ModelSpec *spec, const MllmKindOpts *o) {
    char err[1024];
    MllmKind *k = xcalloc(1, sizeof *k);
    MllmConfig c;
    memset(&c, 0, sizeof c);
    c.lm.theta = 10000.0;
    CHECK(mllm_file_read_config(o->base, &c, err, sizeof err) == 0, "--mllm.base: %s", err);
    c.lm.r = o->lora_r, c.lm.alpha = (float)o->lora_alpha, c.lm.lora_p = (float)o->lora_dropout;
    mllm_init(&k->mm, &c);
    Bpe bpe = {0};
    CHECK(mllm_file_read_tokenizer(o->base, &bpe, err, sizeof err) == 0, "--mllm.base: %s", err);
    CHECK(mllm_vocab_init(&k->voc, &bpe, &k->mm, err, sizeof err) == 0, "--mllm.base=%s: %s",
          o->base, err);
    // the data against the base model
    k->n_mod = spec->n_mod, k->K = spec->K, k->text_mod = -1;
    CHECK(spec->K >= 2 && spec->K <= PROMPT_MAX_CLASSES && spec->class_names,
          "mllm: the data has %d classes (named: %s); multiple choice needs 2..%d named ones",
          spec->K, spec->class_names ? "yes" : "no", PROMPT_MAX_CLASSES);
    for (int i = 0; i < k->K; i++)
        k->letter[i] = mllm_letter_id(&k->voc, i);
    for (int i = 0; i < spec->n_mod; i++) {
        k->enc_of[i] = -1;
        if (spec->kind[i] == MODEL_TOKENS) {
            CHECK(k->text_mod < 0, "mllm: the data has two token modalities");
            CHECK(spec->words[i], "mllm: the words of modality '%s' are unknown",
                  spec->mod_name[i]);
            k->text_mod = i, k->text_len = spec->in_dim[i], k->words = spec->words[i];
            continue;
        }
        int e = mllm_encoder(&k->mm, spec->mod_name[i]);
        CHECK(e >= 0, "--mllm.base=%s has no encoder for the data's modality '%s'", o->base,
              spec->mod_name[i]);
        const VitConfig *vc = &c.enc[e].vit;
        CHECK(spec->in_dim[i] == vc->C * vc->H * vc->W,
              "--mllm.base=%s: its '%s' encoder reads %dx%dx%d values, the data has %d", o->base,
              spec->mod_name[i], vc->C, vc->H, vc->W, spec->in_dim[i]);
        k->enc_of[i] = e;
    }
    k->task = k->K == 2 && strstr(spec->class_names[1], "hateful") ? 1 : 0;
    build_questions(k, spec, o);
    // the layout and the base weights
    memset(m, 0, sizeof *m);
    m->ops = &mllm_ops;
    m->impl = k;
    m->n_params = k->mm.n_params;
    m->n_mod = spec->n_mod, m->K = spec->K, m->rep_dim = c.lm.D;
    mllm_add_tensors(&k->mm, m, o->train_proj);
    m->pretrained = 1;
    // pretrained_sha256 stays "": the caller's integrity gate hashed the file (fl: rank 0's).
    m->pretrain_val_fraction = mllm_file_attr_f64(o->base, "val_fraction");
    m->pretrain_public_fraction = mllm_file_attr_f64(o->base, "public_fraction");
    CHECK(!isnan(m->pretrain_val_fraction) && !isnan(m->pretrain_public_fraction),
          "--mllm.base=%s records no val_fraction/public_fraction", o->base);
    k->base = xcalloc_aligned(m->n_params * sizeof(float));
    CHECK(mllm_file_read_stage(o->base, "final", m, k->base, 1, err, sizeof err) == 0,
          "--mllm.base: %s", err);
}

const Mllm *mllm_kind_mllm(const Model *m) {
    CHECK(m && m->ops == &mllm_ops, "mllm_kind_mllm: not an mllm model");
    return &((const MllmKind *)m->impl)->mm;
}

MllmWork *mllm_kind_work(ModelWork *w) {
    CHECK(w && w->impl, "mllm_kind_work: no work");
    return &((KindWork *)w->impl)->mw;
}

const MllmBatch *mllm_kind_batch(const ModelWork *w) {
    CHECK(w && w->impl, "mllm_kind_batch: no work");
    return &((const KindWork *)w->impl)->batch;
}

void mllm_kind_set_tokens(ModelWork *w, const float *const *tok) {
    KindWork *kw = w->impl;
    CHECK(kw, "mllm_kind_set_tokens: no work");
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        kw->tok_in[e] = tok ? tok[e] : NULL;
}

const MllmVocab *mllm_kind_vocab(const Model *m) {
    CHECK(m && m->ops == &mllm_ops, "mllm_kind_vocab: not an mllm model");
    return &((const MllmKind *)m->impl)->voc;
}

MllmTrain mllm_kind_train(const Model *m, const Selection *sel) {
    CHECK(m && m->ops == &mllm_ops, "mllm_kind_train: not an mllm model");
    return train_parts(m, sel);
}

int mllm_kind_letter(const Model *m, int k) {
    const MllmKind *mk = m->impl;
    CHECK(m->ops == &mllm_ops && k >= 0 && k < mk->K, "mllm_kind_letter: option %d", k);
    return mk->letter[k];
}
