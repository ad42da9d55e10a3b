// cdcca_caption.c - CD-CCA's free-form task (cdcca.h): which rows ask for a caption, the caption
// prompt (the base model's: <bos> [media] "caption:"), greedy captioning with its confidence, the
// device's BLEU against reference captions, and the cloud's caption pseudo-labels and training.
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "data/bleu.h"
#include "models/mllm_kind.h"
#include "nn/distill.h"
#include "nn/loss.h"
#include "nn/uncertainty.h"
#include "protocols/cdcca_impl.h"

#define RNG_KEY_TASK 0x54534b00u // the task draw of a row
#define CAP_TEXT 512             // bytes of a caption's text
#define CAP_WORDS 64             // words of a caption scored by BLEU

int cd_caption_row(const Cdcca *c, int party, int64_t pos, int set, const uint8_t *mask) {
    if (c->o.captions <= 0) return 0;
    int media = 0;
    for (int e = 0; e < c->n_enc; e++)
        media |= mask[c->enc_mod[e]];
    if (!media) return 0; // nothing to describe: the row keeps the multiple-choice question
    // A pure function of (seed, row): the same row asks the same at any -np and in every method.
    const uint64_t seed = c->env.tc->seed;
    const uint32_t ctr[4] = {(uint32_t)pos, (uint32_t)party, (uint32_t)set, RNG_KEY_TASK};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    philox4x32_10(out, ctr, key);
    return (double)out[0] / 4294967296.0 < c->o.captions;
}

// The prompt of a row with encoders has[] into ids (cap); slot[e] = encoder e's first slot or -1.
// Returns its length.
static int caption_prompt(const Cdcca *c, const uint8_t *has, int *ids, int cap, int *slot) {
    MllmSeq q;
    const MllmVocab *v = mllm_kind_vocab(c->model);
    mllm_seq_begin(&q, ids, cap, c->mm, v, has);
    mllm_seq_text(&q, v, "caption:");
    CHECK(!q.overflow, "cdcca: a caption prompt does not fit %d tokens", cap);
    for (int e = 0; e < c->n_enc; e++)
        slot[e] = q.slot[e];
    return q.n;
}

void cd_caption_init(Cdcca *c) {
    if (c->o.captions <= 0) return;
    prompt_classes_fashion(&c->pc);
    CHECK(c->model->K == c->pc.K,
          "--cdcca.captions=%g: the captions name AV-FashionMNIST's %d items (the base model's "
          "words), and --data has %d classes (--cdcca.captions=0 leaves the free-form task out)",
          c->o.captions, c->pc.K, c->model->K);
    uint8_t has[MLLM_MAX_ENC];
    memset(has, 1, sizeof has);
    int ids[1024], slot[MLLM_MAX_ENC];
    c->cap_prompt = caption_prompt(c, has, ids, 1024, slot); // the longest: every encoder
    c->cap_T = c->cap_prompt + c->o.cap_len + 1;             // the prompt, the caption, <eos>
    const int Tw = mllm_kind_work(&c->net.w)->Tmax;
    CHECK(c->cap_T <= Tw,
          "--cdcca.cap-len=%d: a caption prompt of %d tokens and its caption do not fit the "
          "%d tokens the model's sequences have",
          c->o.cap_len, c->cap_prompt, Tw);
    llama_gen_init(&c->gen, &c->mm->lm, 1, c->cap_T);
    const int V = c->mm->c.lm.V;
    c->cap_logits = xmalloc((size_t)(c->o.cap_len + 1) * V * sizeof(float));
    c->facts = xcalloc((size_t)c->count + 1, sizeof *c->facts);
    for (int i = 0; i < c->count; i++) {
        const SampleSet *s = &c->env.test[i];
        c->facts[i] = xcalloc((size_t)s->n + 1, sizeof **c->facts);
        sampleset_facts(c->facts[i], s, c->env.layout, c->env.ds, c->env.test_split,
                        c->env.scn_test->party[c->first + i].index);
    }
}

void cd_caption_free(Cdcca *c) {
    llama_gen_free(&c->gen);
    llama_gen_free(&c->tgen);
    for (int i = 0; c->facts && i < c->count; i++)
        xfree(c->facts[i]);
    xfree(c->facts), xfree(c->cap_logits);
}

int cd_caption_greedy(Cdcca *c, const Mllm *mm, const float *params, MllmWork *w, LlamaGen *g,
                      const uint8_t *has, const float *const *in, int tokens, int *out,
                      double *conf) {
    int ids[1024], slot[MLLM_MAX_ENC];
    const int T = caption_prompt(c, has, ids, 1024, slot);
    MllmBatch b = {.B = 1, .T = T, .ids = ids, .len = &T};
    for (int e = 0; e < mm->c.n_enc; e++) {
        b.slot[e] = &slot[e];
        if (tokens)
            b.tok_in[e] = in[e];
        else
            b.enc_in[e] = in[e];
    }
    mllm_forward(mm, params, &b, w, NULL); // w->x: the prompt's embeddings, media in place
    const LlamaLM *lm = &mm->lm;
    const int V = lm->c.V, D = lm->c.D;
    float hid[D], x[D];
    llama_prefill(lm, params, w->x, 1, T, g, hid);
    int n = 0;
    for (;;) {
        float *lg = c->cap_logits + (size_t)n * V;
        llama_head_forward(lm, params, hid, 1, lg);
        int best = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        out[n++] = best;
        if (best == MLLM_TOK_EOS || n == c->o.cap_len + 1) break;
        llama_embed(lm, params, &best, 1, x);
        llama_step(lm, params, x, 1, g, hid);
    }
    // the paper's confidence: the product over the generated tokens of the largest probability
    *conf = sequence_confidence(c->cap_logits, n, V);
    return out[n - 1] == MLLM_TOK_EOS ? n - 1 : n;
}

// ---- BLEU on words ----

// The words of s (lower-case already; periods dropped) into w (CAP_WORDS), returns their number.
static int split_words(const char *s, char w[][32]) {
    int n = 0;
    while (*s && n < CAP_WORDS) {
        while (*s == ' ' || *s == '.')
            s++;
        int k = 0;
        while (*s && *s != ' ' && *s != '.')
            if (k < 31)
                w[n][k++] = *s++;
            else
                s++;
        if (k) w[n][k] = 0, n++;
    }
    return n;
}

// The id of word x in dict (n words; appended when new).
static int intern(char dict[][32], int *n, const char *x) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(dict[i], x)) return i;
    memcpy(dict[*n], x, 32);
    return (*n)++;
}

void cd_caption_score(const Cdcca *c, BleuStats *s, const int *hyp, int n, const SampleFacts *f) {
    char text[CAP_TEXT], words[CAP_WORDS][32];
    char dict[(PROMPT_N_CAPTION_TEMPLATES + 1) * CAP_WORDS][32];
    int nd = 0, h[CAP_WORDS], r[PROMPT_N_CAPTION_TEMPLATES][CAP_WORDS];
    int rl[PROMPT_N_CAPTION_TEMPLATES];
    const int *refs[PROMPT_N_CAPTION_TEMPLATES];
    bpe_decode(&mllm_kind_vocab(c->model)->bpe, hyp, n, text, sizeof text);
    int hl = split_words(text, words);
    for (int k = 0; k < hl; k++)
        h[k] = intern(dict, &nd, words[k]);
    // every template of the row's case is a reference (the base model learned all three)
    SampleFacts g = *f;
    if (c->text_mod >= 0 && !c->o.text) g.present[c->text_mod] = 0, g.text[0] = 0;
    const char *name = g.label >= 0 && g.label < c->pc.K ? c->pc.names[g.label] : NULL;
    for (int t = 0; t < PROMPT_N_CAPTION_TEMPLATES; t++) {
        CHECK(prompt_caption_template(text, sizeof text, &g, name, t, 1) >= 0,
              "cdcca: a reference caption is too long");
        rl[t] = split_words(text, words);
        for (int k = 0; k < rl[t]; k++)
            r[t][k] = intern(dict, &nd, words[k]);
        refs[t] = r[t];
    }
    bleu_stats_add_refs(s, h, hl, refs, rl, PROMPT_N_CAPTION_TEMPLATES);
}

// ---- the cloud ----

void cd_caption_teacher_init(Cdcca *c) {
    if (c->o.captions > 0) llama_gen_init(&c->tgen, &mllm_kind_mllm(&c->teacher)->lm, 1, c->cap_T);
}

void cd_caption_batch(const Cdcca *c, CapBatch *cb, const uint8_t *mask, const int *const *cap,
                      const int *cap_n, int B, int tokens) {
    const int nm = c->env.spec->n_mod, W = c->o.cap_len + 1;
    for (int b = 0; b < B; b++) {
        uint8_t has[MLLM_MAX_ENC] = {0};
        for (int e = 0; e < c->n_enc; e++)
            has[e] = mask[(size_t)b * nm + c->enc_mod[e]];
        int *ids = cb->ids + (size_t)b * cb->Tmax, *tgt = cb->tgt + (size_t)b * cb->Tmax;
        int slot[MLLM_MAX_ENC];
        int n = caption_prompt(c, has, ids, cb->Tmax, slot);
        const int prompt = n;
        for (int k = 0; k < cap_n[b]; k++)
            ids[n++] = cap[b][k];
        if (cap_n[b] < W) ids[n++] = MLLM_TOK_EOS; // the caption ended
        for (int t = 0; t < n; t++) // position t predicts token t + 1 from the prompt's end on
            tgt[t] = t + 1 >= prompt && t + 1 < n ? ids[t + 1] : -1;
        cb->len[b] = n;
        for (int e = 0; e < c->n_enc; e++)
            cb->slot[e][b] = slot[e];
    }
    const int T = mllm_rows_pack(cb->ids, cb->tgt, cb->len, B, cb->Tmax);
    cb->mb = (MllmBatch){.B = B, .T = T, .ids = cb->ids, .len = cb->len};
    for (int e = 0; e < c->n_enc; e++) {
        cb->mb.slot[e] = cb->slot[e];
        if (tokens)
            cb->mb.tok_in[e] = cb->in[e];
        else
            cb->mb.enc_in[e] = cb->in[e];
    }
}

void cd_caption_source(const Cdcca *c, SampleSet *s, const int64_t *rows, uint8_t *cap_mask,
                       int *cap, int *cap_n) {
    const int W = c->o.cap_len + 1;
    Rng g;
    rng_init(&g, c->env.tc->seed, RNG_KEY_TASK, 0, RNG_DATA);
    uint8_t *all = xmalloc((size_t)s->n + 1);
    for (int64_t j = 0; j < s->n; j++) {
        int mask = 0; // a non-empty set of the encoders' modalities, as the base model's captions
        while (!mask)
            for (int e = 0; e < c->n_enc; e++)
                if (rng_below(&g, 2)) mask |= 1 << c->enc_mod[e];
        cap_mask[j] = (uint8_t)mask;
    }
    // the facts of each row as its caption sees it (s's own masks stay: the question's)
    memcpy(all, s->mask, (size_t)s->n);
    memcpy(s->mask, cap_mask, (size_t)s->n);
    SampleFacts *f = xcalloc((size_t)s->n + 1, sizeof *f);
    sampleset_facts(f, s, c->env.layout, c->env.ds, DS_TRAIN, rows);
    memcpy(s->mask, all, (size_t)s->n);
    xfree(all);
    char text[CAP_TEXT];
    text[0] = ' ';
    for (int64_t j = 0; j < s->n; j++) {
        const char *name = f[j].label >= 0 && f[j].label < c->pc.K ? c->pc.names[f[j].label] : NULL;
        int t = (int)rng_below(&g, PROMPT_N_CAPTION_TEMPLATES);
        CHECK(prompt_caption_template(text + 1, sizeof text - 1, &f[j], name, t, 1) >= 0,
              "cdcca: a caption is too long");
        int n = bpe_encode(&mllm_kind_vocab(c->model)->bpe, text, NULL, 0);
        CHECK(n < W, "--cdcca.cap-len=%d: the caption \"%s\" has %d tokens", c->o.cap_len, text + 1,
              n);
        cap_n[j] = bpe_encode(&mllm_kind_vocab(c->model)->bpe, text, cap + (size_t)j * W, W);
    }
    xfree(f);
}

void cd_caption_batch_init(CapBatch *cb, const Cdcca *c, int Bmax) {
    memset(cb, 0, sizeof *cb);
    cb->Tmax = c->cap_T;
    cb->ids = xmalloc((size_t)Bmax * cb->Tmax * sizeof(int));
    cb->tgt = xmalloc((size_t)Bmax * cb->Tmax * sizeof(int));
    cb->len = xmalloc((size_t)Bmax * sizeof(int));
    for (int e = 0; e < c->n_enc; e++)
        cb->slot[e] = xmalloc((size_t)Bmax * sizeof(int));
}

void cd_caption_batch_free(CapBatch *cb) {
    xfree(cb->ids), xfree(cb->tgt), xfree(cb->len);
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        xfree(cb->slot[e]);
    memset(cb, 0, sizeof *cb);
}

double cd_caption_logit_kd(const Cdcca *c, const CapBatch *cb, MllmWork *sw, const MllmWork *tw,
                           float *kd_h) {
    const Mllm *tm = mllm_kind_mllm(&c->teacher);
    const LlamaLM *sl = &c->mm->lm, *tl = &tm->lm;
    const int B = cb->mb.B, T = cb->mb.T, Ds = sl->c.D, Dt = tl->c.D, V = sl->c.V;
    CHECK(tl->c.V == V, "cdcca: the teacher's vocabulary has %d tokens, the student's %d", tl->c.V,
          V);
    int N = 0;
    for (int j = 0; j < B * T; j++)
        N += cb->tgt[j] >= 0;
    memset(kd_h, 0, (size_t)B * T * Ds * sizeof(float));
    sw->dhid_add = kd_h;
    if (!N) return 0;
    float *hs = xmalloc((size_t)N * Ds * sizeof(float)), *ht = xmalloc((size_t)N * Dt * 4);
    float *ls = xmalloc((size_t)N * V * 4), *lt = xmalloc((size_t)N * V * 4);
    float *p = xmalloc((size_t)N * V * 4), *q = xmalloc((size_t)N * V * 4);
    float *dh = xcalloc((size_t)N * Ds, sizeof(float));
    int k = 0;
    for (int j = 0; j < B * T; j++) // the caption's positions, as the CE reads them
        if (cb->tgt[j] >= 0) {
            memcpy(hs + (size_t)k * Ds, sw->lm.hid + (size_t)j * Ds, Ds * sizeof(float));
            memcpy(ht + (size_t)k * Dt, tw->lm.hid + (size_t)j * Dt, Dt * sizeof(float));
            k++;
        }
    llama_head_forward(sl, c->net.params, hs, N, ls);
    llama_head_forward(tl, c->tnet.params, ht, N, lt);
    const float Tt = (float)c->o.kd_t;
    double loss = kl_div_forward(p, q, ls, lt, Tt, N, V);
    memset(ls, 0, (size_t)N * V * sizeof(float)); // now dlogits
    kl_div_backward(ls, p, q, Tt, N, V, 1.0);
    llama_head_backward(sl, c->net.params, NULL, dh, ls, hs, N);
    k = 0;
    for (int j = 0; j < B * T; j++)
        if (cb->tgt[j] >= 0)
            memcpy(kd_h + (size_t)j * Ds, dh + (size_t)k++ * Ds, Ds * sizeof(float));
    xfree(hs), xfree(ht), xfree(ls), xfree(lt), xfree(p), xfree(q), xfree(dh);
    return loss;
}
