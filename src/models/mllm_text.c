// mllm_text.c - the tiny multimodal LLM's sequences (see mllm_text.h).
#include "models/mllm_text.h"

#include <stdio.h>
#include <string.h>

#include "core/die.h"

int mllm_vocab_init(MllmVocab *v, Bpe *b, const Mllm *m, char *err, size_t cap) {
    memset(v, 0, sizeof *v);
    static const char *const specials[] = MLLM_SPECIALS;
    if (b->n_specials < MLLM_N_SPECIALS) {
        snprintf(err, cap, "the tokenizer has %d special tokens, the model needs %d", b->n_specials,
                 MLLM_N_SPECIALS);
        return -1;
    }
    for (int i = 0; i < MLLM_N_SPECIALS; i++)
        if (strcmp(b->specials[i], specials[i])) {
            snprintf(err, cap, "special token %d is '%s', expected '%s'", i, b->specials[i],
                     specials[i]);
            return -1;
        }
    if (b->vocab_size != m->c.lm.V) {
        snprintf(err, cap, "the tokenizer has %d tokens, the language model %d", b->vocab_size,
                 m->c.lm.V);
        return -1;
    }
    for (int e = 0; e < m->c.n_enc; e++) {
        char want[MLLM_NAME_MAX + 3];
        snprintf(want, sizeof want, "<%s>", m->c.enc[e].name);
        v->marker[e] = -1;
        for (int i = 0; i < b->n_specials; i++)
            if (!strcmp(b->specials[i], want)) v->marker[e] = i;
        if (v->marker[e] < 0) {
            snprintf(err, cap, "the tokenizer has no %s token for encoder '%s'", want,
                     m->c.enc[e].name);
            return -1;
        }
    }
    v->bpe = *b;
    memset(b, 0, sizeof *b);
    return 0;
}

void mllm_vocab_free(MllmVocab *v) {
    bpe_free(&v->bpe);
    memset(v, 0, sizeof *v);
}

int mllm_letter_id(const MllmVocab *v, int k) { return v->bpe.n_specials + 'A' + k; }

void mllm_seq_push(MllmSeq *s, int id) {
    if (s->n < s->cap)
        s->ids[s->n++] = id;
    else
        s->overflow = 1;
}

void mllm_seq_begin(MllmSeq *s, int *ids, int cap, const Mllm *m, const MllmVocab *v,
                    const uint8_t *has) {
    *s = (MllmSeq){.ids = ids, .cap = cap};
    mllm_seq_push(s, MLLM_TOK_BOS);
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        s->slot[e] = -1;
    for (int e = 0; e < m->c.n_enc; e++) {
        if (!has[e]) continue;
        mllm_seq_push(s, v->marker[e]);
        s->slot[e] = s->n;
        for (int k = 0; k < m->n_tok[e]; k++)
            mllm_seq_push(s, MLLM_TOK_PAD);
    }
}

void mllm_seq_text(MllmSeq *s, const MllmVocab *v, const char *text) {
    int n = bpe_encode_n(&v->bpe, text, strlen(text), BPE_SPECIALS_AS_BYTES, NULL, 0);
    if (s->n + n > s->cap) {
        s->overflow = 1;
        return;
    }
    s->n += bpe_encode_n(&v->bpe, text, strlen(text), BPE_SPECIALS_AS_BYTES, s->ids + s->n,
                         s->cap - s->n);
}

int mllm_rows_pack(int *ids, int *tgt, const int *len, int B, int Tmax) {
    int T = 1;
    for (int b = 0; b < B; b++)
        T = len[b] > T ? len[b] : T;
    for (int b = 0; b < B; b++) { // destination rows never pass their sources: in place is safe
        memmove(ids + (size_t)b * T, ids + (size_t)b * Tmax, (size_t)len[b] * sizeof(int));
        if (tgt) memmove(tgt + (size_t)b * T, tgt + (size_t)b * Tmax, (size_t)len[b] * sizeof(int));
        for (int t = len[b]; t < T; t++) {
            ids[(size_t)b * T + t] = MLLM_TOK_PAD;
            if (tgt) tgt[(size_t)b * T + t] = -1;
        }
    }
    return T;
}

int mllm_question_text(char *out, size_t cap, const char *words, const char *question) {
    int w = words && words[0] ? snprintf(out, cap, "text: %s. %s answer:", words, question)
                              : snprintf(out, cap, "%s answer:", question);
    return w < 0 || (size_t)w >= cap ? -1 : w;
}
