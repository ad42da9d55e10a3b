// corpus.c - the WordNet gloss corpus (corpus.h).
#include "data/corpus.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/die.h"
#include "core/xalloc.h"

static const char *const files[4] = {"data.noun", "data.verb", "data.adj", "data.adv"};

void corpus_opts_default(CorpusOpts *o) {
    CHECK_PTR(o);
    *o = (CorpusOpts){.wordnet_dir = CORPUS_WORDNET_DIR, .max_bytes = 0, .headwords = 0};
}

// The output: a buffer sized once from the input files' sizes (every line of the corpus is
// shorter than the line of the file it comes from), and the byte limit.
typedef struct {
    char *buf;
    size_t len, cap, limit;
    int full; // a line did not fit under limit: nothing more is added
} Out;

// Appends prefix (may be NULL) and s[0..n), trimmed of spaces and ';', lower-cased with the quotes
// removed, then '\n', when anything of s is left and it fits. A line longer than its input cannot
// happen (see Out).
static void emit(Out *o, const char *prefix, const char *s, size_t n) {
    while (n > 0 && isspace((unsigned char)*s))
        s++, n--;
    while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == ';'))
        n--;
    if (n == 0 || o->full) return;
    size_t start = o->len, pl = prefix ? strlen(prefix) : 0;
    CHECK(o->len + pl + n + 2 <= o->cap, "corpus line of %zu bytes overflows %zu of %zu", pl + n,
          o->len, o->cap);
    for (size_t i = 0; i < pl + n; i++) {
        char c = i < pl ? prefix[i] : s[i - pl];
        if (c != '"') o->buf[o->len++] = (char)tolower((unsigned char)c);
    }
    o->buf[o->len++] = '\n';
    if (o->limit && o->len > o->limit) { // the line does not fit: drop it and stop
        o->len = start;
        o->full = 1;
    }
    o->buf[o->len] = 0;
}

// "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023 @ ..." -> "dog, domestic dog,
// canis familiaris: " in head (cap bytes; lower-cased by emit).
static void headwords(const char *line, char *head, size_t cap) {
    char words[1024];
    int n_words = 0;
    snprintf(words, sizeof words, "%s", line);
    char *save = NULL, *tok = strtok_r(words, " ", &save);
    for (int f = 0; tok && f < 3; f++) // offset, lex_filenum, ss_type
        tok = strtok_r(NULL, " ", &save);
    if (tok) n_words = (int)strtol(tok, NULL, 16);
    size_t used = 0;
    head[0] = 0;
    for (int w = 0; w < n_words; w++) {
        char *word = strtok_r(NULL, " ", &save);
        if (!word || !strtok_r(NULL, " ", &save)) break; // each word is followed by its lex_id
        char *paren = strchr(word, '(');                 // adjective markers: long(a), (p), (ip)
        if (paren) *paren = 0;
        for (char *c = word; *c; c++)
            if (*c == '_') *c = ' ';
        int k = snprintf(head + used, cap - used, "%s%s", w ? ", " : "", word);
        if (k < 0 || (size_t)k >= cap - used) break;
        used += (size_t)k;
    }
    if (used + 3 < cap) memcpy(head + used, ": ", 3);
}

// One synset line: its definition and each quoted example as lines.
static void gloss_lines(Out *o, const char *line, int with_head) {
    const char *g = strstr(line, " | ");
    if (!g) return;
    g += 3;
    size_t n = strlen(g);
    // Examples start at the first quote that opens a segment (at the start or after ';').
    const char *ex = NULL;
    for (const char *p = g; *p && !ex; p++) {
        if (*p != '"') continue;
        const char *q = p;
        while (q > g && q[-1] == ' ')
            q--;
        if (q == g || q[-1] == ';') ex = p;
    }
    char head[1024] = "";
    if (with_head) headwords(line, head, sizeof head);
    emit(o, head, g, ex ? (size_t)(ex - g) : n);
    // Examples are separated by `; "`; a segment runs to its last quote, dropping what follows
    // it (attributions) unless it has no closing quote.
    while (ex) {
        const char *s = ex + 1, *next = strstr(s, "; \"");
        const char *end = next ? next : g + n;
        const char *close = end;
        while (close > s && close[-1] != '"')
            close--;
        emit(o, NULL, s, close > s ? (size_t)(close - 1 - s) : (size_t)(end - s));
        ex = next ? next + 2 : NULL;
    }
}

int corpus_build(const CorpusOpts *o, char **out, size_t *len, char *err, size_t cap) {
    CHECK_PTR(o);
    CHECK_PTR(o->wordnet_dir);
    CHECK_PTR(out);
    CHECK_PTR(len);
    CHECK_PTR(err);
    *out = NULL, *len = 0;
    char path[4][1024];
    size_t total = 0;
    for (int f = 0; f < 4; f++) {
        snprintf(path[f], sizeof path[f], "%s/%s", o->wordnet_dir, files[f]);
        struct stat st;
        if (stat(path[f], &st) != 0) {
            snprintf(err, cap, "%s: %s (WordNet 3.0: Debian wordnet-base, scripts/deps.sh data)",
                     path[f], strerror(errno));
            return -1;
        }
        total += (size_t)st.st_size;
    }
    Out ob = {.cap = total + 2, .limit = o->max_bytes};
    ob.buf = xmalloc(ob.cap);
    ob.buf[0] = 0;
    char *line = NULL;
    size_t line_cap = 0;
    for (int f = 0; f < 4 && !ob.full; f++) {
        FILE *fp = fopen(path[f], "r");
        if (!fp) {
            snprintf(err, cap, "%s: %s", path[f], strerror(errno));
            free(line), xfree(ob.buf);
            return -1;
        }
        int64_t synsets = 0;
        while (!ob.full && getline(&line, &line_cap, fp) >= 0) {
            // Synset lines start with their 8-digit byte offset; the licence preamble with "  ".
            if (!isdigit((unsigned char)line[0])) continue;
            line[strcspn(line, "\n")] = 0;
            gloss_lines(&ob, line, o->headwords);
            synsets++;
        }
        fclose(fp);
        if (synsets == 0 && !ob.full) {
            snprintf(err, cap, "%s: no synset lines (not a WordNet 3.0 data file)", path[f]);
            free(line), xfree(ob.buf);
            return -1;
        }
    }
    free(line); // getline's buffer comes from malloc
    *out = ob.buf, *len = ob.len;
    return 0;
}

void corpus_sha256_hex(const char *text, size_t len, char *hex) {
    CHECK(text || len == 0, "text is NULL with len = %zu", len);
    CHECK_PTR(hex);
    Sha256 s;
    uint8_t d[32];
    sha256_init(&s);
    sha256_update(&s, text, len);
    sha256_final(&s, d);
    sha256_hex(d, hex);
}
