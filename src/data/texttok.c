// texttok.c - vocabulary and noisy token sequences (texttok.h).
#include "data/texttok.h"

#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "data/lexicon.h"

static const char *const fillers[] = {"a",   "the",  "this",  "my",  "new",
                                      "old", "nice", "cheap", "item"};

static void add_word(TextVocab *v, const char *w, size_t len) {
    char buf[24];
    CHECK(len > 0 && len < sizeof(buf), "word \"%.*s\" is empty or too long", (int)len, w);
    memcpy(buf, w, len);
    buf[len] = 0;
    if (texttok_id(v, buf) >= 0) return;
    CHECK(v->size < TEXT_MAX_VOCAB, "vocabulary full (%d)", TEXT_MAX_VOCAB);
    memcpy(v->words[v->size++], buf, len + 1);
}

static void add_phrase(TextVocab *v, const char *phrase) {
    const char *p = phrase;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) add_word(v, p, (size_t)(e - p));
        p = e;
    }
}

void texttok_vocab(TextVocab *v) {
    CHECK_PTR(v);
    memset(v, 0, sizeof(*v));
    add_word(v, "<pad>", 5);
    add_word(v, "<unk>", 5);
    for (size_t i = 0; i < ARRAY_LEN(fillers); i++)
        add_phrase(v, fillers[i]);
    for (int c = 0; c < LEX_CLASSES; c++) {
        for (int k = 0; k < lexicon_n_synonyms(c); k++)
            add_phrase(v, lexicon_synonym(c, k));
        add_phrase(v, lexicon_coarse(c));
    }
}

int texttok_id(const TextVocab *v, const char *word) {
    CHECK_PTR(v);
    CHECK_PTR(word);
    for (int i = 0; i < v->size; i++)
        if (strcmp(v->words[i], word) == 0) return i;
    return -1;
}

// Appends the ids of phrase's words to seq (n words so far, at most cap); returns the new n.
static int push_phrase(int32_t *seq, int n, int cap, const TextVocab *v, const char *phrase) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", phrase);
    for (char *tok = strtok(buf, " "); tok && n < cap; tok = strtok(NULL, " ")) {
        int id = texttok_id(v, tok);
        seq[n++] = id >= 0 ? id : TEXT_UNK;
    }
    return n;
}

void texttok_make(int32_t *out, int L, const TextVocab *v, int label, const TextOpts *o, Rng *r) {
    CHECK_PTR(out);
    CHECK_PTR(v);
    CHECK_PTR(o);
    CHECK_PTR(r);
    CHECK(L >= 1 && L <= 64, "L=%d not in [1, 64]", L);
    CHECK(label >= 0 && label < LEX_CLASSES, "label %d of %d", label, LEX_CLASSES);
    enum { CAP = 80 };
    int32_t seq[CAP];
    int n =
        push_phrase(seq, 0, CAP, v,
                    lexicon_synonym(label, (int)rng_below(r, (uint32_t)lexicon_n_synonyms(label))));
    if (rng_uniform(r) < o->p_coarse) n = push_phrase(seq, n, CAP, v, lexicon_coarse(label));
    int nf = o->max_fillers > 0 ? (int)rng_below(r, (uint32_t)o->max_fillers + 1) : 0;
    for (int f = 0; f < nf && n < CAP; f++) { // insert a filler at a random position
        int at = (int)rng_below(r, (uint32_t)n + 1);
        memmove(seq + at + 1, seq + at, sizeof(int32_t) * (size_t)(n - at));
        seq[at] = texttok_id(v, fillers[rng_below(r, (uint32_t)ARRAY_LEN(fillers))]);
        n++;
    }
    int kept = 0; // word dropout, keeping at least the last word seen if all would go
    for (int i = 0; i < n; i++) {
        int drop = rng_uniform(r) < o->p_drop;
        if (!drop || (kept == 0 && i == n - 1)) seq[kept++] = seq[i];
    }
    n = kept;
    for (int s = 0; s < 2; s++) {
        float u = rng_uniform(r);
        uint32_t at = rng_below(r, (uint32_t)n);
        if (u < o->p_swap && n >= 2 && at + 1 < (uint32_t)n) {
            int32_t t = seq[at];
            seq[at] = seq[at + 1];
            seq[at + 1] = t;
        }
    }
    for (int i = 0; i < n; i++) // replacement never draws <pad> or <unk>
        if (rng_uniform(r) < o->p_replace)
            seq[i] = 2 + (int32_t)rng_below(r, (uint32_t)v->size - 2);
    for (int i = 0; i < L; i++)
        out[i] = i < n ? seq[i] : TEXT_PAD;
}
