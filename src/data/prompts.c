// prompts.c - captions, instruction questions and the task question (prompts.h).
#include "data/prompts.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "data/lexicon.h"

// ---- a bounded string builder: records overflow instead of truncating ----
typedef struct {
    char *p;
    size_t cap, len;
    int over;
} Sb;

static void sb_init(Sb *b, char *p, size_t cap) {
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->over = cap == 0;
    if (cap) p[0] = '\0';
}

static void sb_raw(Sb *b, const char *s) {
    size_t n = strlen(s);
    if (b->over || b->len + n + 1 > b->cap) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static int sb_done(const Sb *b) { return b->over ? -1 : (int)b->len; }

// The article slot: "a" or "an" by the next word's first letter ("an ankle boot").
static const char ART[] = "a";

// Appends the words of w (NULL or "" = a slot left empty) separated by single spaces; punctuation
// words (",", ".") attach to the word before.
static void sb_words(Sb *b, const char *const *w, int n) {
    for (int i = 0; i < n; i++) {
        const char *s = w[i];
        if (!s || !s[0]) continue;
        if (s == ART) {
            const char *next = NULL;
            for (int j = i + 1; j < n && !next; j++)
                if (w[j] && w[j][0] && w[j] != ART) next = w[j];
            s = next && strchr("aeiou", next[0]) ? "an" : "a";
        }
        int punct = strchr(",.?:", s[0]) != NULL;
        if (!punct && b->len > 0 && !b->over && b->p[b->len - 1] != ' ') sb_raw(b, " ");
        sb_raw(b, s);
    }
}

// "a", "a and b", "a, b and c".
static void sb_join(Sb *b, const char *const *w, int n) {
    for (int i = 0; i < n; i++) {
        if (i > 0) sb_raw(b, i == n - 1 ? " and " : ", ");
        sb_raw(b, w[i]);
    }
}

static void sb_options(Sb *b, const char *const *opt, int n) {
    CHECK(n >= 1 && n <= PROMPT_MAX_OPTIONS, "%d options", n);
    for (int i = 0; i < n; i++) {
        char letter[6] = {' ', '(', (char)('A' + i), ')', ' ', '\0'};
        sb_raw(b, letter);
        sb_raw(b, opt[i]);
    }
}

// Fisher–Yates over a[0..n).
static void shuffle_int(Rng *rng, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint32_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

// Writes opt[perm[i]] as option i; returns the position of opt[0] (the true one).
static int sb_shuffled(Sb *b, const char *const *opt, int n, Rng *rng) {
    int perm[PROMPT_MAX_OPTIONS];
    const char *ord[PROMPT_MAX_OPTIONS];
    for (int i = 0; i < n; i++)
        perm[i] = i;
    shuffle_int(rng, perm, n);
    int answer = -1;
    for (int i = 0; i < n; i++) {
        ord[i] = opt[perm[i]];
        if (perm[i] == 0) answer = i;
    }
    sb_options(b, ord, n);
    return answer;
}

// ---- classes ----
void prompt_classes_fashion(PromptClasses *pc) {
    CHECK_PTR(pc);
    memset(pc, 0, sizeof *pc);
    pc->K = LEX_CLASSES;
    for (int c = 0; c < LEX_CLASSES; c++) {
        pc->names[c] = lexicon_synonym(c, 0);
        pc->coarse[c] = lexicon_coarse(c);
    }
    pc->names[1] = "trouser"; // Fashion-MNIST's own singular: the captions say "a large trouser"
}

// ---- captions ----
int prompt_caption_template(char *out, size_t cap, const SampleFacts *f, const char *name, int t,
                            int period) {
    CHECK_PTR(out);
    CHECK_PTR(f);
    CHECK(t >= 0 && t < PROMPT_N_CAPTION_TEMPLATES, "template %d of %d", t,
          PROMPT_N_CAPTION_TEMPLATES);
    const char *nm = name ? name : "item";
    const char *sz = facts_bucket_word(FACTS_SIZE, f->img_size);
    const char *tn = facts_bucket_word(FACTS_TONE, f->img_tone);
    const char *rt = facts_bucket_word(FACTS_RATE, f->aud_rate);
    const char *pt = facts_bucket_word(FACTS_PITCH, f->aud_pitch);
    const char *vc = facts_bucket_word(FACTS_VOICE, f->aud_voice);
    const char *end = period ? "." : NULL;
    int img = facts_has(f, FACTS_MOD_IMAGE), aud = facts_has(f, FACTS_MOD_AUDIO);
    if (!img) sz = tn = NULL; // an absent modality's buckets say nothing, whatever they hold
    if (!aud) rt = pt = vc = NULL;
    // Each case's templates differ only in their frame, so the slots stay in one order.
    const char *frames[4][PROMPT_N_CAPTION_TEMPLATES][2] = {
        {{NULL, NULL}, {"a picture of", NULL}, {"the image shows", NULL}},  // image
        {{NULL, "says"}, {"the audio is", "saying"}, {"you hear", "say"}},  // audio
        {{NULL, "saying"}, {"a picture of", "saying"}, {"you see", "say"}}, // image and audio
        {{NULL, NULL}, {"a text about", NULL}, {"this is about", NULL}},    // neither
    };
    int c = img && aud ? 2 : img ? 0 : aud ? 1 : 3;
    const char *pre = frames[c][t][0], *verb = frames[c][t][1];
    Sb b;
    sb_init(&b, out, cap);
    if (c == 0 || c == 3) {
        const char *w[] = {pre, ART, sz, tn, nm, end};
        sb_words(&b, w, 6);
    } else if (c == 1) {
        const char *w[] = {pre, ART, rt, pt, vc, "voice", verb, nm, end};
        sb_words(&b, w, 9);
    } else {
        const char *hear = t == 2 ? "and hear" : "and";
        const char *w[] = {pre, ART, sz, tn, nm, hear, ART, rt, pt, vc, "voice", verb, nm, end};
        sb_words(&b, w, 14);
    }
    return sb_done(&b);
}

int prompt_caption(char *out, size_t cap, const SampleFacts *f, const char *name, Rng *rng) {
    CHECK_PTR(rng);
    int t = (int)rng_below(rng, PROMPT_N_CAPTION_TEMPLATES);
    int n = prompt_caption_template(out, cap, f, name, t, 1);
    // The text's words, always when they are all there is, else half of the time.
    int only_text = !facts_has(f, FACTS_MOD_IMAGE) && !facts_has(f, FACTS_MOD_AUDIO);
    int with_text = f->text[0] && (int)rng_below(rng, 2) == 0;
    if (n < 0 || !f->text[0] || !(only_text || with_text)) return n;
    Sb b = {out, cap, (size_t)n, 0};
    const char *w[] = {" the text says", f->text, "."};
    sb_raw(&b, w[0]);
    sb_words(&b, w + 1, 2);
    return sb_done(&b);
}

// ---- instruction families ----
static int n_present(const SampleFacts *f) {
    int k = 0;
    for (int m = 0; m < f->n_mod; m++)
        k += f->present[m] != 0;
    return k;
}

// A coarse word as a question phrase; the groups of lexicon_coarse overlap in plain English
// ("clothing" holds trousers and dresses, not tops), so each gets a phrase that fits only its own.
static void coarse_phrase(Sb *b, const char *coarse) {
    static const char *const table[][2] = {{"shoe", "something you wear on your feet"},
                                           {"top", "something you wear on your upper body"},
                                           {"clothing", "something that covers your legs"},
                                           {"bag", "something you carry"}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(coarse, table[i][0]) == 0) {
            sb_raw(b, table[i][1]);
            return;
        }
    const char *w[] = {ART, coarse};
    sb_words(b, w, 2);
}

// The distinct coarse words of pc other than mine, into other (returns how many).
static int other_coarse(const PromptClasses *pc, const char *mine, const char **other) {
    int n = 0;
    for (int c = 0; c < pc->K; c++) {
        const char *w = pc->coarse[c];
        if (!w || strcmp(w, mine) == 0) continue;
        int seen = 0;
        for (int i = 0; i < n && !seen; i++)
            seen = strcmp(other[i], w) == 0;
        if (!seen) other[n++] = w;
    }
    return n;
}

int prompt_family_available(const SampleFacts *f, const PromptClasses *pc, int fam) {
    CHECK_PTR(f);
    CHECK_PTR(pc);
    CHECK(fam >= 0 && fam < PROMPT_N_FAMILIES, "family %d of %d", fam, PROMPT_N_FAMILIES);
    if (fam <= PROMPT_FAM_VOICE) return facts_bucket(f, fam) >= 0;
    if (fam == PROMPT_FAM_MODALITIES) return f->n_mod >= 2 && n_present(f) > 0;
    int known = f->label >= 0 && f->label < pc->K;
    if (fam == PROMPT_FAM_COARSE) {
        const char *other[PROMPT_MAX_CLASSES];
        return known && pc->coarse[f->label] && other_coarse(pc, pc->coarse[f->label], other) > 0;
    }
    if (fam == PROMPT_FAM_TEXTWORD) return f->text[0] && pc->words && pc->n_words >= 12;
    int attr = 0;
    for (int k = 0; k < FACTS_N_KINDS; k++)
        attr |= facts_bucket(f, k) >= 0;
    return (known && pc->K >= 2) || attr;
}

// Options "yes"/"no" in random order for a drawn answer; returns the answer's index.
static int sb_yes_no(Sb *b, int yes, Rng *rng) {
    int yes_first = (int)rng_below(rng, 2) == 0;
    const char *opt[2] = {yes_first ? "yes" : "no", yes_first ? "no" : "yes"};
    sb_options(b, opt, 2);
    return yes == yes_first ? 0 : 1;
}

static int ask_attribute(Sb *b, const SampleFacts *f, int kind, int yes_no, Rng *rng, int *n_opt) {
    static const char *const mc[FACTS_N_KINDS] = {
        "what size is the item in the image?", "how bright is the item in the image?",
        "how fast does the voice speak?", "how high is the voice?", "what kind of voice is it?"};
    int truth = facts_bucket(f, kind), nb = facts_n_buckets(kind);
    if (yes_no) {
        int yes = (int)rng_below(rng, 2) == 0;
        int asked = truth;
        if (!yes) { // another bucket, uniformly
            asked = (int)rng_below(rng, (uint32_t)(nb - 1));
            asked += asked >= truth;
        }
        const char *w[] = {kind <= FACTS_TONE ? "is the item in the image" : "is the voice",
                           facts_bucket_word(kind, asked), "?"};
        sb_words(b, w, 3);
        *n_opt = 2;
        return sb_yes_no(b, yes, rng);
    }
    const char *opt[PROMPT_MAX_OPTIONS]; // the true bucket first, then the others in order
    int n = 0;
    opt[n++] = facts_bucket_word(kind, truth);
    for (int k = 0; k < nb; k++)
        if (k != truth) opt[n++] = facts_bucket_word(kind, k);
    sb_raw(b, mc[kind]);
    *n_opt = nb;
    return sb_shuffled(b, opt, nb, rng);
}

// The words of modality set mask ("image and audio") into buf.
static void mask_phrase(char *buf, size_t cap, const SampleFacts *f, unsigned mask) {
    const char *w[FACTS_MAX_MOD];
    int n = 0;
    for (int m = 0; m < f->n_mod; m++)
        if (mask >> m & 1u) w[n++] = facts_mod_word(f->mod_kind[m]);
    Sb b;
    sb_init(&b, buf, cap);
    sb_join(&b, w, n);
    CHECK(!b.over, "modality phrase longer than %zu bytes", cap);
}

static int ask_modalities(Sb *b, const SampleFacts *f, int yes_no, Rng *rng, int *n_opt) {
    unsigned truth = 0;
    for (int m = 0; m < f->n_mod; m++)
        truth |= (unsigned)(f->present[m] != 0) << m;
    int others[1 << FACTS_MAX_MOD], n_others = 0; // the other non-empty sets
    for (unsigned s = 1; s < 1u << f->n_mod; s++)
        if (s != truth) others[n_others++] = (int)s;
    shuffle_int(rng, others, n_others);
    char words[4][64];
    if (yes_no) {
        int yes = (int)rng_below(rng, 2) == 0;
        mask_phrase(words[0], sizeof words[0], f, yes ? truth : (unsigned)others[0]);
        const char *w[] = {"are the inputs", words[0], "?"};
        sb_words(b, w, 3);
        *n_opt = 2;
        return sb_yes_no(b, yes, rng);
    }
    int n = 2 + (int)rng_below(rng, 3); // 2..4 options
    if (n > n_others + 1) n = n_others + 1;
    const char *opt[4];
    for (int i = 0; i < n; i++) {
        mask_phrase(words[i], sizeof words[i], f, i == 0 ? truth : (unsigned)others[i - 1]);
        opt[i] = words[i];
    }
    sb_raw(b, "which inputs does this sample have?");
    *n_opt = n;
    return sb_shuffled(b, opt, n, rng);
}

static int ask_coarse(Sb *b, const SampleFacts *f, const PromptClasses *pc, Rng *rng, int *n_opt) {
    const char *mine = pc->coarse[f->label], *other[PROMPT_MAX_CLASSES];
    int n_other = other_coarse(pc, mine, other);
    int yes = (int)rng_below(rng, 2) == 0;
    const char *asked = yes ? mine : other[rng_below(rng, (uint32_t)n_other)];
    sb_raw(b, "is this ");
    coarse_phrase(b, asked);
    sb_raw(b, "?");
    *n_opt = 2;
    return sb_yes_no(b, yes, rng);
}

#define CAPTION_LEN 256 // bytes of one candidate caption
#define CAPTION_TRIES 32

// One distractor: f with another item or another bucket of one known attribute.
static void mutate(SampleFacts *g, const SampleFacts *f, const PromptClasses *pc, Rng *rng) {
    int kinds[FACTS_N_KINDS + 1], n = 0;
    if (f->label >= 0 && pc->K >= 2) kinds[n++] = FACTS_N_KINDS; // "the item"
    for (int k = 0; k < FACTS_N_KINDS; k++)
        if (facts_bucket(f, k) >= 0) kinds[n++] = k;
    *g = *f;
    int k = kinds[rng_below(rng, (uint32_t)n)];
    int nb = k == FACTS_N_KINDS ? pc->K : facts_n_buckets(k);
    int cur = k == FACTS_N_KINDS ? f->label : facts_bucket(f, k);
    int v = (int)rng_below(rng, (uint32_t)(nb - 1));
    v += v >= cur;
    int *slot[FACTS_N_KINDS + 1] = {&g->img_size,  &g->img_tone,  &g->aud_rate,
                                    &g->aud_pitch, &g->aud_voice, &g->label};
    *slot[k] = v;
}

static int ask_caption(Sb *b, const SampleFacts *f, const PromptClasses *pc, Rng *rng, int *n_opt) {
    char cand[4][CAPTION_LEN];
    const char *opt[4];
    int t = (int)rng_below(rng, PROMPT_N_CAPTION_TEMPLATES); // one frame for all: no style cue
    int want = 2 + (int)rng_below(rng, 3), n = 0;
    for (int tries = 0; n < want && tries < CAPTION_TRIES; tries++) {
        SampleFacts g = *f;
        if (n > 0) mutate(&g, f, pc, rng);
        const char *name = g.label >= 0 ? pc->names[g.label] : NULL;
        int len = prompt_caption_template(cand[n], CAPTION_LEN, &g, name, t, 0);
        CHECK(len >= 0, "a caption of class %d is longer than %d bytes", g.label, CAPTION_LEN);
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(cand[i], cand[n]) == 0;
        if (!dup) opt[n] = cand[n], n++;
    }
    CHECK(n >= 2, "no distractor caption after %d tries (label %d)", CAPTION_TRIES, f->label);
    sb_raw(b, "which caption fits this sample?");
    *n_opt = n;
    return sb_shuffled(b, opt, n, rng);
}

#define TEXTWORD_MAX 10
#define TEXTWORD_TRIES 200

// 1 when w is one of the space-separated words of text.
static int in_text(const char *text, const char *w) {
    size_t n = strlen(w);
    for (const char *p = text; (p = strstr(p, w)) != NULL; p += n)
        if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

static int is_class_name(const PromptClasses *pc, const char *w) {
    for (int c = 0; c < pc->K; c++)
        if (!strcmp(pc->names[c], w)) return 1;
    return 0;
}

static int ask_textword(Sb *b, const SampleFacts *f, const PromptClasses *pc, Rng *rng,
                        int *n_opt) {
    char words[FACTS_TEXT_CAP], *tok[FACTS_TEXT_CAP / 2];
    snprintf(words, sizeof words, "%s", f->text);
    int nt = 0;
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
        tok[nt++] = w;
    CHECK(nt > 0, "a text-word question about a text without words (\"%s\")", f->text);
    const char *opt[TEXTWORD_MAX];
    opt[0] = tok[rng_below(rng, (uint32_t)nt)];
    int want = 2 + (int)rng_below(rng, TEXTWORD_MAX - 1), n = 1;
    for (int tries = 0; n < want && tries < TEXTWORD_TRIES; tries++) {
        const char *w = pc->words[rng_below(rng, (uint32_t)pc->n_words)];
        int bad = w[0] == '<' || in_text(f->text, w) || is_class_name(pc, w);
        for (int i = 0; i < n && !bad; i++)
            bad = strcmp(opt[i], w) == 0;
        if (!bad) opt[n++] = w;
    }
    sb_raw(b, "which word is in the text?");
    *n_opt = n;
    return sb_shuffled(b, opt, n, rng);
}

static void check_classes(const SampleFacts *f, const PromptClasses *pc) {
    CHECK_PTR(f);
    CHECK_PTR(pc);
    CHECK(pc->K >= 1 && pc->K <= PROMPT_MAX_CLASSES, "K=%d classes (1..%d)", pc->K,
          PROMPT_MAX_CLASSES);
    CHECK(f->label >= -1 && f->label < pc->K, "label %d with K=%d", f->label, pc->K);
    CHECK(f->n_mod >= 0 && f->n_mod <= FACTS_MAX_MOD, "n_mod %d", f->n_mod);
    for (int c = 0; c < pc->K; c++)
        CHECK(pc->names[c] != NULL, "class %d has no name", c);
}

int prompt_instruction_family(char *q, size_t qcap, int *n_options, int *answer,
                              const SampleFacts *f, const PromptClasses *pc, int fam, int yes_no,
                              Rng *rng) {
    CHECK_PTR(q);
    CHECK_PTR(n_options);
    CHECK_PTR(answer);
    CHECK_PTR(rng);
    check_classes(f, pc);
    CHECK(prompt_family_available(f, pc, fam), "family %d cannot be asked of this sample", fam);
    Sb b;
    sb_init(&b, q, qcap);
    int a;
    if (fam <= PROMPT_FAM_VOICE)
        a = ask_attribute(&b, f, fam, yes_no, rng, n_options);
    else if (fam == PROMPT_FAM_MODALITIES)
        a = ask_modalities(&b, f, yes_no, rng, n_options);
    else if (fam == PROMPT_FAM_COARSE)
        a = ask_coarse(&b, f, pc, rng, n_options);
    else if (fam == PROMPT_FAM_TEXTWORD)
        a = ask_textword(&b, f, pc, rng, n_options);
    else
        a = ask_caption(&b, f, pc, rng, n_options);
    *answer = a;
    return sb_done(&b);
}

int prompt_instruction(char *q, size_t qcap, int *n_options, int *answer, const SampleFacts *f,
                       const PromptClasses *pc, Rng *rng) {
    check_classes(f, pc);
    CHECK_PTR(rng);
    int avail[PROMPT_N_FAMILIES], n = 0;
    for (int fam = 0; fam < PROMPT_N_FAMILIES; fam++)
        if (prompt_family_available(f, pc, fam)) avail[n++] = fam;
    CHECK(n > 0, "no instruction family can be asked of this sample (label %d)", f->label);
    int fam = avail[rng_below(rng, (uint32_t)n)];
    int yes_no = (int)rng_below(rng, 2); // COARSE and CAPTION have one form and ignore it
    return prompt_instruction_family(q, qcap, n_options, answer, f, pc, fam, yes_no, rng);
}

// ---- FedMLLM's task question ----
int prompt_task(char *q, size_t qcap, const char *const *class_names, int K, const uint8_t *present,
                const char *const *mod_names, int n_mod, int augmented, int task) {
    CHECK_PTR(q);
    CHECK_PTR(class_names);
    CHECK(K >= 1 && K <= PROMPT_MAX_CLASSES, "K=%d classes (1..%d)", K, PROMPT_MAX_CLASSES);
    CHECK(n_mod >= 0 && n_mod <= FACTS_MAX_MOD, "n_mod %d (0..%d)", n_mod, FACTS_MAX_MOD);
    CHECK(task == 0 || task == 1, "task %d (0 item, 1 hateful meme)", task);
    if (n_mod > 0 && !augmented) {
        CHECK_PTR(present);
        CHECK_PTR(mod_names);
    }
    Sb b;
    sb_init(&b, q, qcap);
    sb_raw(&b, task == 0 ? "what item is shown" : "is this meme hateful");
    if (augmented) {
        sb_raw(&b, ", without considering the modality");
    } else {
        const char *w[FACTS_MAX_MOD];
        int n = 0;
        for (int m = 0; m < n_mod; m++)
            if (present[m]) w[n++] = mod_names[m];
        if (n > 0) {
            sb_raw(&b, " based on the ");
            sb_join(&b, w, n);
        }
    }
    sb_raw(&b, "?");
    for (int c = 0; c < K && !b.over; c++) {
        CHECK(class_names[c] != NULL, "class %d has no name", c);
        char letter[6] = {' ', '(', (char)('A' + c), ')', ' ', '\0'};
        sb_raw(&b, letter);
        size_t start = b.len;
        sb_raw(&b, class_names[c]);
        for (size_t i = start; i < b.len && !b.over; i++)
            b.p[i] = b.p[i] == '_' ? ' ' : (char)tolower((unsigned char)b.p[i]);
    }
    return sb_done(&b);
}

// ---- the tokenizer corpus ----
// Random facts over src's modalities: mask (0 = random non-empty), label c, random buckets for the
// present image and audio.
static void random_facts(SampleFacts *f, const FactsSource *src, unsigned mask, int c, Rng *rng) {
    memset(f, 0, sizeof *f);
    f->label = c;
    f->n_mod = src->n_mod;
    if (!mask) mask = 1u + rng_below(rng, (1u << src->n_mod) - 1u);
    for (int m = 0; m < src->n_mod; m++) {
        f->present[m] = mask >> m & 1u;
        f->mod_kind[m] = src->mod_kind[m];
    }
    int img = facts_has(f, FACTS_MOD_IMAGE), aud = facts_has(f, FACTS_MOD_AUDIO);
    f->img_size = img ? (int)rng_below(rng, 3) : -1;
    f->img_tone = img ? (int)rng_below(rng, 2) : -1;
    f->aud_rate = aud ? (int)rng_below(rng, 2) : -1;
    f->aud_pitch = aud ? (int)rng_below(rng, 2) : -1;
    f->aud_voice = aud ? (int)rng_below(rng, 2) : -1;
}

// Appends one line written by the caller into (b->p + b->len, room); n is what it returned.
static void sb_line(Sb *b, int n) {
    if (n < 0 || b->len + (size_t)n + 2 > b->cap) {
        b->over = 1;
        return;
    }
    b->len += (size_t)n;
    sb_raw(b, "\n");
}

#define ROOM(b) ((b)->over ? 0 : (b)->cap - (b)->len)

int prompt_corpus(char *out, size_t cap, const PromptClasses *pc, const FactsSource *src,
                  const char *const *task_names, int K_task, int task, int per_family,
                  uint64_t seed) {
    CHECK_PTR(out);
    CHECK_PTR(pc);
    CHECK_PTR(src);
    CHECK(per_family >= 1, "per_family %d", per_family);
    CHECK(src->n_mod >= 1 && src->n_mod <= FACTS_MAX_MOD, "n_mod %d", src->n_mod);
    Rng rng;
    rng_init(&rng, seed, 0, 0, RNG_DATA);
    Sb b;
    sb_init(&b, out, cap);
    SampleFacts f;
    // Captions: each presence case the modalities allow (image, audio, both, other) per class.
    unsigned img = 0, aud = 0, rest = 0;
    for (int m = 0; m < src->n_mod; m++) {
        unsigned bit = 1u << m;
        if (src->mod_kind[m] == FACTS_MOD_IMAGE)
            img |= bit;
        else if (src->mod_kind[m] == FACTS_MOD_AUDIO)
            aud |= bit;
        else
            rest |= bit;
    }
    const unsigned cases[4] = {img, aud, img && aud ? img | aud : 0, rest};
    for (int c = 0; c < pc->K; c++)
        for (int k = 0; k < 4; k++) {
            if (!cases[k]) continue;
            random_facts(&f, src, cases[k], c, &rng);
            for (int t = 0; t < PROMPT_N_CAPTION_TEMPLATES; t++)
                sb_line(&b, prompt_caption_template(b.p + b.len, ROOM(&b), &f, pc->names[c], t, 1));
            if (src->text_mod >= 0 && (rest >> src->text_mod & 1u)) {
                f.present[src->text_mod] = 1;
                snprintf(f.text, sizeof f.text, "%s", pc->names[c]);
                sb_line(&b, prompt_caption(b.p + b.len, ROOM(&b), &f, pc->names[c], &rng));
            }
        }
    // Instructions: per_family of each family and form, on random facts that allow it.
    for (int fam = 0; fam < PROMPT_N_FAMILIES; fam++)
        for (int yn = 0; yn < 2; yn++) {
            if ((fam == PROMPT_FAM_COARSE && !yn) ||
                ((fam == PROMPT_FAM_CAPTION || fam == PROMPT_FAM_TEXTWORD) && yn))
                continue;
            for (int i = 0; i < per_family; i++)
                for (int tries = 0; tries < 16; tries++) {
                    random_facts(&f, src, 0, (int)rng_below(&rng, (uint32_t)pc->K), &rng);
                    if (!prompt_family_available(&f, pc, fam)) continue;
                    int n_opt, ans;
                    sb_line(&b, prompt_instruction_family(b.p + b.len, ROOM(&b), &n_opt, &ans, &f,
                                                          pc, fam, yn, &rng));
                    break;
                }
        }
    // The task question for every mask, then its augmented form (the same for all masks).
    if (task_names && K_task > 0) {
        const char *mod_names[FACTS_MAX_MOD];
        for (int m = 0; m < src->n_mod; m++)
            mod_names[m] = facts_mod_word(src->mod_kind[m]);
        for (unsigned mask = 0; mask < 1u << src->n_mod; mask++) {
            uint8_t present[FACTS_MAX_MOD];
            for (int m = 0; m < src->n_mod; m++)
                present[m] = mask >> m & 1u;
            sb_line(&b, prompt_task(b.p + b.len, ROOM(&b), task_names, K_task, present, mod_names,
                                    src->n_mod, 0, task));
        }
        sb_line(&b, prompt_task(b.p + b.len, ROOM(&b), task_names, K_task, NULL, NULL, src->n_mod,
                                1, task));
    }
    return sb_done(&b);
}
