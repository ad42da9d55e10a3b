// lexicon.c - class names, curated WordNet synonyms and coarse words (lexicon.h).
#include "data/lexicon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"

static const char *const class_names[LEX_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

#define MAX_SYN 8
static const char *const synonyms[LEX_CLASSES][MAX_SYN] = {
    {"t-shirt", "tee shirt", "tee", "jersey", NULL},
    {"trousers", "pants", "slacks", "bell-bottoms", NULL},
    {"pullover", "sweater", "jumper", "slipover", "turtleneck", "sweatshirt", NULL},
    {"dress", "frock", "gown", "sundress", "shift", "sheath", NULL},
    {"coat", "jacket", "overcoat", "raincoat", "parka", "anorak", "trench coat", NULL},
    {"sandal", "flip-flop", "thong", "huarache", "espadrille", NULL},
    {"shirt", "dress shirt", "blouse", "polo shirt", "sport shirt", NULL},
    {"sneaker", "trainer", "running shoe", "gym shoe", "tennis shoe", "plimsoll", NULL},
    {"bag", "handbag", "purse", "pocketbook", "tote", "satchel", "shoulder bag", NULL},
    {"ankle boot", "boot", "bootee", "half boot", NULL},
};

static const char *const coarse[LEX_CLASSES] = {"top",  "clothing", "top",  "clothing", "top",
                                                "shoe", "top",      "shoe", "bag",      "shoe"};

static void check_class(int c) {
    CHECK(c >= 0 && c < LEX_CLASSES, "class %d of %d", c, LEX_CLASSES);
}

const char *lexicon_class_name(int c) {
    check_class(c);
    return class_names[c];
}

int lexicon_n_synonyms(int c) {
    check_class(c);
    int k = 0;
    while (k < MAX_SYN && synonyms[c][k])
        k++;
    return k;
}

const char *lexicon_synonym(int c, int k) {
    int n = lexicon_n_synonyms(c);
    CHECK(k >= 0 && k < n, "class %d has %d synonyms, asked for %d", c, n, k);
    return synonyms[c][k];
}

const char *lexicon_coarse(int c) {
    check_class(c);
    return coarse[c];
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int lexicon_wordnet_check(const char *wordnet_dir, const char **first_missing) {
    CHECK_PTR(wordnet_dir);
    CHECK_PTR(first_missing);
    *first_missing = NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/index.noun", wordnet_dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    // index.noun is sorted, one lemma per line as its first field; keep the lemmas for bsearch.
    size_t cap = 1 << 17, n = 0;
    char **lemmas = malloc(cap * sizeof(char *));
    CHECK_PTR(lemmas);
    char line[8192];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == ' ') continue; // licence header lines start with two spaces
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        if (n == cap) {
            cap *= 2;
            char **grown = realloc(lemmas, cap * sizeof(char *));
            CHECK(grown != NULL, "out of memory reading %s (%zu lemmas)", path, n);
            lemmas = grown;
        }
        lemmas[n] = strdup(line);
        CHECK_PTR(lemmas[n]);
        n++;
    }
    fclose(f);
    qsort(lemmas, n, sizeof(char *), cmp_str); // ensure strcmp order (the file's order is the same)
    int missing = 0;
    for (int c = 0; c < LEX_CLASSES; c++) {
        for (int k = 1; k < lexicon_n_synonyms(c); k++) {
            char key[64];
            snprintf(key, sizeof(key), "%s", synonyms[c][k]);
            for (char *p = key; *p; p++)
                if (*p == ' ') *p = '_';
            const char *kp = key;
            int found = bsearch(&kp, lemmas, n, sizeof(char *), cmp_str) != NULL;
            size_t len = strlen(key);
            if (!found && len > 1 && key[len - 1] == 's') {
                key[len - 1] = 0;
                found = bsearch(&kp, lemmas, n, sizeof(char *), cmp_str) != NULL;
            }
            if (!found) {
                if (!*first_missing) *first_missing = synonyms[c][k];
                missing++;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(lemmas[i]);
    free(lemmas);
    return missing;
}
