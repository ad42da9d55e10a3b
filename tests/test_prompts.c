// test_prompts.c - data/facts.h and data/prompts.h: the facts' buckets on real rows of the
// AV-FashionMNIST CI subset, determinism, the answer of every instruction family parsed back from
// the string, yes/no balance, no instruction that is the parties' task, the task question's fixed
// options and modality phrase (and its augmented form, the same for every mask), the refusal of a
// too small buffer, and the corpus covering every family.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/facts.h"
#include "data/lexicon.h"
#include "data/prompts.h"
#include "helpers.h"

#define QCAP 1024
#define N_DRAWS 3000       /* instruction draws per statistical test */
#define TOL_YES_SHARE 0.04 /* |yes share - 1/2| over ~1,500 yes/no draws: ~3.5 binomial sigma */

static const char *const MODS[] = {"image", "audio", "text"};
static const char *const FASHION[LEX_CLASSES] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};

// AV-FashionMNIST's modalities (image, audio, text) by hand, without a file.
static FactsSource avfm_source(void) {
    FactsSource s = {.n_mod = 3,
                     .mod_kind = {FACTS_MOD_IMAGE, FACTS_MOD_AUDIO, FACTS_MOD_TEXT},
                     .image_mod = 0,
                     .audio_mod = 1,
                     .text_mod = 2,
                     .meta_rate = -1,
                     .meta_pitch = -1,
                     .meta_variant = -1,
                     .pad_id = -1};
    return s;
}

// Random facts: a non-empty modality mask, a label, buckets for the present image and audio.
static void draw_facts(SampleFacts *f, Rng *rng) {
    memset(f, 0, sizeof *f);
    f->n_mod = 3;
    f->mod_kind[0] = FACTS_MOD_IMAGE;
    f->mod_kind[1] = FACTS_MOD_AUDIO;
    f->mod_kind[2] = FACTS_MOD_TEXT;
    unsigned mask = 1u + rng_below(rng, 7);
    for (int m = 0; m < 3; m++)
        f->present[m] = mask >> m & 1u;
    f->label = (int)rng_below(rng, LEX_CLASSES);
    f->img_size = f->present[0] ? (int)rng_below(rng, 3) : -1;
    f->img_tone = f->present[0] ? (int)rng_below(rng, 2) : -1;
    f->aud_rate = f->present[1] ? (int)rng_below(rng, 2) : -1;
    f->aud_pitch = f->present[1] ? (int)rng_below(rng, 2) : -1;
    f->aud_voice = f->present[1] ? (int)rng_below(rng, 2) : -1;
    if (f->present[2]) snprintf(f->text, sizeof f->text, "cheap %s", lexicon_synonym(f->label, 0));
}

// Splits "stem (A) x (B) y" into stem and options; returns the option count.
static int parse(const char *q, char *stem, char opt[][256]) {
    const char *a = strstr(q, " (A) ");
    ck_assert_msg(a != NULL, "no options in \"%s\"", q);
    memcpy(stem, q, (size_t)(a - q));
    stem[a - q] = '\0';
    int n = 0;
    while (a) {
        char next[6] = {' ', '(', (char)('A' + n + 1), ')', ' ', '\0'};
        const char *start = a + 5, *b = strstr(start, next);
        size_t len = b ? (size_t)(b - start) : strlen(start);
        ck_assert_uint_lt(len, 256);
        memcpy(opt[n], start, len);
        opt[n][len] = '\0';
        n++;
        a = b;
    }
    return n;
}

// The set phrase of the present modalities ("image and text").
static void truth_mods(const SampleFacts *f, char *out) {
    const char *w[3] = {NULL, NULL, NULL};
    int n = 0;
    for (int m = 0; m < 3; m++)
        if (f->present[m]) w[n++] = MODS[m];
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0) strcat(out, i == n - 1 ? " and " : ", ");
        strcat(out, w[i]);
    }
}

static const char *coarse_of_phrase(const char *stem) {
    static const char *const t[][2] = {{"is this something you wear on your feet", "shoe"},
                                       {"is this something you wear on your upper body", "top"},
                                       {"is this something that covers your legs", "clothing"},
                                       {"is this something you carry", "bag"}};
    for (int i = 0; i < 4; i++)
        if (strncmp(stem, t[i][0], strlen(t[i][0])) == 0) return t[i][1];
    ck_abort_msg("unknown coarse question \"%s\"", stem);
    return NULL;
}

// Checks that option `answer` of q is the true one for f, for any family.
static void check_answer(const char *q, int n_options, int answer, const SampleFacts *f,
                         const PromptClasses *pc, int fam) {
    char stem[QCAP], opt[PROMPT_MAX_OPTIONS][256];
    int n = parse(q, stem, opt);
    ck_assert_int_eq(n, n_options);
    ck_assert_msg(answer >= 0 && answer < n, "answer %d of %d in \"%s\"", answer, n, q);
    int yes_no = n == 2 && ((!strcmp(opt[0], "yes") && !strcmp(opt[1], "no")) ||
                            (!strcmp(opt[0], "no") && !strcmp(opt[1], "yes")));
    const char *ans = opt[answer];
    size_t sl = strlen(stem);
    ck_assert_msg(sl > 0 && stem[sl - 1] == '?', "stem \"%s\" does not end in '?'", stem);
    if (fam <= PROMPT_FAM_VOICE) {
        const char *truth = facts_bucket_word(fam, facts_bucket(f, fam));
        if (yes_no) {
            stem[sl - 1] = '\0';
            const char *asked = strrchr(stem, ' ') + 1;
            ck_assert_str_eq(ans, strcmp(asked, truth) == 0 ? "yes" : "no");
        } else {
            ck_assert_int_eq(n, facts_n_buckets(fam));
            ck_assert_str_eq(ans, truth);
        }
    } else if (fam == PROMPT_FAM_MODALITIES) {
        char truth[64];
        truth_mods(f, truth);
        if (yes_no) {
            ck_assert_msg(strncmp(stem, "are the inputs ", 15) == 0, "\"%s\"", stem);
            stem[sl - 1] = '\0';
            ck_assert_str_eq(ans, strcmp(stem + 15, truth) == 0 ? "yes" : "no");
        } else {
            ck_assert_str_eq(ans, truth);
            for (int i = 0; i < n; i++)
                ck_assert_msg(i == answer || strcmp(opt[i], truth) != 0, "two true in \"%s\"", q);
        }
    } else if (fam == PROMPT_FAM_TEXTWORD) {
        ck_assert(!yes_no);
        ck_assert_msg(n >= 2 && n <= 10, "%d words", n);
        for (int i = 0; i < n; i++) { // exactly the answer is one of the text's words
            char pad[160];
            ck_assert(strlen(opt[i]) < sizeof pad - 2);
            snprintf(pad, sizeof pad, " %.150s ", opt[i]);
            char text[160];
            snprintf(text, sizeof text, " %s ", f->text);
            ck_assert_msg((strstr(text, pad) != NULL) == (i == answer), "option %d of \"%s\"", i,
                          q);
        }
    } else if (fam == PROMPT_FAM_COARSE) {
        ck_assert(yes_no);
        const char *asked = coarse_of_phrase(stem);
        ck_assert_str_eq(ans, strcmp(asked, pc->coarse[f->label]) == 0 ? "yes" : "no");
    } else {
        ck_assert(!yes_no);
        ck_assert_msg(n >= 2 && n <= 4, "%d captions", n);
        char cap[3][256];
        for (int t = 0; t < 3; t++)
            prompt_caption_template(cap[t], 256, f, pc->names[f->label], t, 0);
        for (int i = 0; i < n; i++) {
            int is_true =
                !strcmp(opt[i], cap[0]) || !strcmp(opt[i], cap[1]) || !strcmp(opt[i], cap[2]);
            ck_assert_msg(is_true == (i == answer), "option %d of \"%s\" (answer %d)", i, q,
                          answer);
        }
    }
}

// A text vocabulary for the TEXTWORD family: AV-FashionMNIST-like words.
static const char *const VOCAB[] = {"<pad>",   "<unk>",   "a",      "the",     "this",  "my",
                                    "new",     "old",     "nice",   "cheap",   "item",  "tee",
                                    "shirt",   "jersey",  "slacks", "sweater", "frock", "parka",
                                    "sneaker", "handbag", "boot",   "sandal"};

START_TEST(test_every_family_answer_points_at_the_true_option) {
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    pc.words = VOCAB, pc.n_words = (int)(sizeof VOCAB / sizeof VOCAB[0]);
    Rng rng;
    rng_init(&rng, 11, 0, 0, RNG_TEST);
    int asked[PROMPT_N_FAMILIES] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
        SampleFacts f;
        draw_facts(&f, &rng);
        int fam = (int)rng_below(&rng, PROMPT_N_FAMILIES), yn = (int)rng_below(&rng, 2);
        if (!prompt_family_available(&f, &pc, fam)) continue;
        char q[QCAP];
        int n_opt, ans;
        int len = prompt_instruction_family(q, QCAP, &n_opt, &ans, &f, &pc, fam, yn, &rng);
        ck_assert_int_eq(len, (int)strlen(q));
        check_answer(q, n_opt, ans, &f, &pc, fam);
        asked[fam]++;
    }
    for (int fam = 0; fam < PROMPT_N_FAMILIES; fam++)
        ck_assert_msg(asked[fam] > 20, "family %d asked %d times", fam, asked[fam]);
}
END_TEST

START_TEST(test_yes_no_is_balanced_and_no_instruction_is_the_task) {
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    Rng rng;
    rng_init(&rng, 12, 0, 0, RNG_TEST);
    int yn = 0, yes = 0, fams = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        SampleFacts f;
        draw_facts(&f, &rng);
        char q[QCAP], stem[QCAP], opt[PROMPT_MAX_OPTIONS][256];
        int n_opt, ans;
        ck_assert_int_ge(prompt_instruction(q, QCAP, &n_opt, &ans, &f, &pc, &rng), 0);
        int n = parse(q, stem, opt);
        ck_assert_int_le(n, 4);
        ck_assert_msg(strstr(q, "what item") == NULL, "\"%s\"", q);
        int n_class_options = 0; // options naming a class
        for (int k = 0; k < n; k++) {
            int names_one = 0;
            for (int c = 0; c < LEX_CLASSES; c++)
                names_one |= strstr(opt[k], lexicon_synonym(c, 0)) != NULL;
            n_class_options += names_one;
        }
        ck_assert_msg(n_class_options < 5, "\"%s\" lists %d class names", q, n_class_options);
        if (n == 2 && (!strcmp(opt[0], "yes") || !strcmp(opt[0], "no"))) {
            yn++;
            yes += !strcmp(opt[ans], "yes");
        }
        fams += strstr(q, "caption") != NULL;
    }
    double share = (double)yes / yn;
    ck_assert_msg(yn > N_DRAWS / 4, "only %d yes/no questions of %d", yn, N_DRAWS);
    ck_assert_msg(share > 0.5 - TOL_YES_SHARE && share < 0.5 + TOL_YES_SHARE,
                  "yes share %.3f over %d yes/no questions", share, yn);
    ck_assert_int_gt(fams, 0);
}
END_TEST

START_TEST(test_same_stream_gives_the_same_strings) {
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    char a[QCAP], b[QCAP];
    int distinct = 0;
    char first[QCAP] = "";
    for (uint64_t seed = 0; seed < 20; seed++) {
        Rng r1, r2, rf;
        rng_init(&rf, seed, 0, 0, RNG_TEST);
        SampleFacts f;
        draw_facts(&f, &rf);
        rng_init(&r1, seed, 1, 0, RNG_DATA);
        r2 = r1;
        ck_assert_int_eq(prompt_caption(a, QCAP, &f, "sneaker", &r1),
                         prompt_caption(b, QCAP, &f, "sneaker", &r2));
        ck_assert_str_eq(a, b);
        int n1, n2, a1, a2;
        prompt_instruction(a, QCAP, &n1, &a1, &f, &pc, &r1);
        prompt_instruction(b, QCAP, &n2, &a2, &f, &pc, &r2);
        ck_assert_str_eq(a, b);
        ck_assert_int_eq(a1, a2);
        ck_assert_int_eq(n1, n2);
        if (seed == 0) strcpy(first, a);
        distinct += strcmp(first, a) != 0;
    }
    ck_assert_int_gt(distinct, 10); // and different streams differ
}
END_TEST

START_TEST(test_captions_cover_each_presence_case) {
    SampleFacts f = {.label = 7, .n_mod = 3, .mod_kind = {1, 2, 3}, .present = {1, 0, 0}};
    f.img_size = 0, f.img_tone = 0, f.aud_rate = -1, f.aud_pitch = -1, f.aud_voice = -1;
    char c[QCAP];
    prompt_caption_template(c, QCAP, &f, "sneaker", 0, 1);
    ck_assert_str_eq(c, "a small dark sneaker.");
    f.present[0] = 0, f.present[1] = 1, f.img_size = f.img_tone = -1;
    f.aud_rate = 1, f.aud_pitch = 1, f.aud_voice = 1;
    prompt_caption_template(c, QCAP, &f, "sneaker", 0, 1);
    ck_assert_str_eq(c, "a fast high female voice says sneaker.");
    f.present[0] = 1, f.img_size = 2, f.img_tone = 1;
    prompt_caption_template(c, QCAP, &f, "ankle boot", 2, 0);
    ck_assert_str_eq(c, "you see a large light ankle boot and hear a fast high female voice say "
                        "ankle boot");
    f.present[0] = f.present[1] = 0, f.present[2] = 1, f.img_size = -1;
    snprintf(f.text, sizeof f.text, "new anorak");
    Rng rng;
    rng_init(&rng, 3, 0, 0, RNG_TEST);
    prompt_caption(c, QCAP, &f, "anorak", &rng);
    ck_assert_msg(strstr(c, "an anorak.") && strstr(c, " the text says new anorak."), "\"%s\"", c);
}
END_TEST

START_TEST(test_task_prompt_has_fixed_options_and_follows_the_mask) {
    char q[QCAP], stem[QCAP], opt[PROMPT_MAX_OPTIONS][256];
    uint8_t present[3] = {1, 0, 1};
    prompt_task(q, QCAP, FASHION, 10, present, MODS, 3, 0, 0);
    ck_assert_int_eq(parse(q, stem, opt), 10);
    ck_assert_str_eq(stem, "what item is shown based on the image and text?");
    const char *want[10] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                            "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};
    for (int c = 0; c < 10; c++)
        ck_assert_str_eq(opt[c], want[c]);
    const char *stems[8] = {"what item is shown?",
                            "what item is shown based on the image?",
                            "what item is shown based on the audio?",
                            "what item is shown based on the image and audio?",
                            "what item is shown based on the text?",
                            "what item is shown based on the image and text?",
                            "what item is shown based on the audio and text?",
                            "what item is shown based on the image, audio and text?"};
    char aug0[QCAP];
    for (unsigned mask = 0; mask < 8; mask++) {
        for (int m = 0; m < 3; m++)
            present[m] = mask >> m & 1u;
        prompt_task(q, QCAP, FASHION, 10, present, MODS, 3, 0, 0);
        parse(q, stem, opt);
        ck_assert_str_eq(stem, stems[mask]);
        ck_assert_str_eq(opt[9], "ankle boot"); // the order never depends on the mask
        prompt_task(q, QCAP, FASHION, 10, present, MODS, 3, 1, 0);
        if (mask == 0) strcpy(aug0, q);
        ck_assert_str_eq(q, aug0);
    }
    parse(aug0, stem, opt);
    ck_assert_str_eq(stem, "what item is shown, without considering the modality?");
    const char *memes[2] = {"not_hateful", "Hateful"};
    const char *meme_mods[2] = {"image", "text"};
    uint8_t p2[2] = {1, 1};
    prompt_task(q, QCAP, memes, 2, p2, meme_mods, 2, 0, 1);
    ck_assert_str_eq(q, "is this meme hateful based on the image and text? (A) not hateful (B) "
                        "hateful");
}
END_TEST

START_TEST(test_too_small_buffers_return_minus_one) {
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    FactsSource src = avfm_source();
    char q[4096];
    uint8_t present[3] = {1, 1, 1};
    int n = prompt_task(q, sizeof q, FASHION, 10, present, MODS, 3, 0, 0);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(prompt_task(q, (size_t)n, FASHION, 10, present, MODS, 3, 0, 0), -1);
    ck_assert_int_eq(prompt_task(q, (size_t)n + 1, FASHION, 10, present, MODS, 3, 0, 0), n);
    Rng rng;
    rng_init(&rng, 5, 0, 0, RNG_TEST);
    for (int i = 0; i < 200; i++) {
        SampleFacts f;
        draw_facts(&f, &rng);
        Rng r2 = rng, r3 = rng;
        int n_opt, ans;
        n = prompt_instruction(q, sizeof q, &n_opt, &ans, &f, &pc, &rng);
        ck_assert_int_eq(prompt_instruction(q, (size_t)n, &n_opt, &ans, &f, &pc, &r2), -1);
        ck_assert_int_eq(prompt_instruction(q, (size_t)n + 1, &n_opt, &ans, &f, &pc, &r3), n);
        r2 = rng, r3 = rng;
        n = prompt_caption(q, sizeof q, &f, "coat", &rng);
        ck_assert_int_eq(prompt_caption(q, (size_t)n, &f, "coat", &r2), -1);
        ck_assert_int_eq(prompt_caption(q, (size_t)n + 1, &f, "coat", &r3), n);
    }
    size_t cap = 1 << 16;
    char *big = xmalloc(cap);
    n = prompt_corpus(big, cap, &pc, &src, FASHION, 10, 0, 2, 9);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(prompt_corpus(big, (size_t)n, &pc, &src, FASHION, 10, 0, 2, 9), -1);
    ck_assert_int_eq(prompt_corpus(big, (size_t)n + 1, &pc, &src, FASHION, 10, 0, 2, 9), n);
    xfree(big);
}
END_TEST

START_TEST(test_corpus_covers_every_family) {
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    FactsSource src = avfm_source();
    size_t cap = 1 << 16;
    char *a = xmalloc(cap), *b = xmalloc(cap);
    int n = prompt_corpus(a, cap, &pc, &src, FASHION, 10, 0, 2, 1);
    ck_assert_int_eq(prompt_corpus(b, cap, &pc, &src, FASHION, 10, 0, 2, 1), n);
    ck_assert_str_eq(a, b);
    const char *must[] = {"a picture of a",
                          "the audio is a",
                          "you see a",
                          "a text about a",
                          "the text says",
                          "what size is the item",
                          "how bright is the item",
                          "how fast does the voice",
                          "how high is the voice",
                          "what kind of voice",
                          "is the voice",
                          "is the item in the image",
                          "which inputs",
                          "are the inputs",
                          "is this something",
                          "which caption fits",
                          "based on the image, audio and text",
                          "without considering the modality",
                          "(A) yes",
                          "(B) yes"};
    for (size_t i = 0; i < sizeof must / sizeof *must; i++)
        ck_assert_msg(strstr(a, must[i]) != NULL, "the corpus lacks \"%s\"", must[i]);
    for (char *p = a; *p; p++)
        ck_assert_msg(*p == '\n' || (*p >= ' ' && *p < 127), "byte %d", *p);
    xfree(a);
    xfree(b);
}
END_TEST

// Facts of the first 2,000 training rows of the CI subset: the size tertiles and the median splits
// hold about their share (the constants were measured on the full training split).
START_TEST(test_facts_buckets_on_real_rows) {
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/avfmnist_ci.h5",
             getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data");
    Dataset *ds = dataset_open_flags(path, DATASET_SKIP_SCAN, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    FactsSource src;
    facts_source_init(&src, ds);
    ck_assert_int_eq(src.image_elems, 784);
    ck_assert_int_ge(src.meta_variant, 0);
    int64_t n = dataset_n(ds, DS_TRAIN), L = src.text_len, M = dataset_n_meta(ds);
    float *img = xmalloc((size_t)(n * 784) * sizeof *img);
    int32_t *meta = xmalloc((size_t)(n * M) * sizeof *meta);
    int32_t *txt = xmalloc((size_t)(n * L) * sizeof *txt), *lab = xmalloc((size_t)n * sizeof *lab);
    dataset_read_features(ds, DS_TRAIN, src.image_mod, 0, n, img);
    dataset_read_meta(ds, DS_TRAIN, 0, n, meta);
    dataset_read_tokens(ds, DS_TRAIN, src.text_mod, 0, n, txt);
    dataset_read_labels(ds, DS_TRAIN, 0, n, lab);
    int count[FACTS_N_KINDS][3] = {{0}};
    for (int64_t i = 0; i < n; i++) {
        SampleFacts f;
        facts_from_row(&f, &src, lab[i], NULL, img + i * 784, meta + i * M, txt + i * L);
        for (int k = 0; k < FACTS_N_KINDS; k++) {
            ck_assert_int_ge(facts_bucket(&f, k), 0);
            count[k][facts_bucket(&f, k)]++;
        }
        ck_assert_msg(f.text[0] && !strstr(f.text, "<pad>") && f.text[0] != ' ', "\"%s\"", f.text);
    }
    for (int b = 0; b < 3; b++)
        ck_assert_msg(count[FACTS_SIZE][b] > 0.27 * n && count[FACTS_SIZE][b] < 0.40 * n,
                      "size %d: %d of %lld", b, count[FACTS_SIZE][b], (long long)n);
    for (int k = FACTS_TONE; k <= FACTS_PITCH; k++)
        ck_assert_msg(count[k][1] > 0.42 * n && count[k][1] < 0.58 * n, "kind %d: %d of %lld", k,
                      count[k][1], (long long)n);
    ck_assert_msg(count[FACTS_VOICE][1] > 0.2 * n && count[FACTS_VOICE][1] < 0.45 * n,
                  "female %d of %lld", count[FACTS_VOICE][1], (long long)n);

    // Absent modalities give no facts; a 2-modality image+text source without meta (the memes
    // layout) leaves the audio facts unknown.
    SampleFacts f;
    uint8_t present[3] = {0, 0, 1};
    facts_from_row(&f, &src, 3, present, img, meta, txt);
    ck_assert_int_eq(f.img_size, -1);
    ck_assert_int_eq(f.aud_rate, -1);
    ck_assert(f.text[0] != '\0');
    FactsSource memes = {.n_mod = 2,
                         .mod_kind = {FACTS_MOD_IMAGE, FACTS_MOD_TEXT},
                         .image_mod = 0,
                         .audio_mod = -1,
                         .text_mod = 1,
                         .image_elems = 784,
                         .meta_rate = -1,
                         .meta_pitch = -1,
                         .meta_variant = -1,
                         .pad_id = -1};
    facts_from_row(&f, &memes, 1, NULL, img, NULL, NULL);
    ck_assert_int_ge(f.img_size, 0);
    ck_assert_int_eq(f.aud_voice, -1);
    ck_assert_str_eq(f.text, "");
    xfree(img);
    xfree(meta);
    xfree(txt);
    xfree(lab);
    dataset_close(ds);
}
END_TEST

START_TEST(test_bucket_words_and_thresholds) {
    ck_assert_str_eq(facts_bucket_word(FACTS_SIZE, 2), "large");
    ck_assert_ptr_null(facts_bucket_word(FACTS_VOICE, -1));
    ck_assert_int_eq(facts_size_bucket(169.0 / 784.0), 0);
    ck_assert_int_eq(facts_size_bucket(170.0 / 784.0), 1);
    ck_assert_int_eq(facts_size_bucket(322.0 / 784.0), 2);
    ck_assert_int_eq(facts_size_bucket(-1), -1);
    ck_assert_int_eq(facts_tone_bucket(0.7432), 1);
    ck_assert_int_eq(facts_tone_bucket(0.74), 0);
}
END_TEST

static void ask_missing_family(void *arg) {
    (void)arg;
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    SampleFacts f = {.label = 1, .n_mod = 1, .mod_kind = {FACTS_MOD_TEXT}, .present = {1}};
    f.img_size = f.img_tone = f.aud_rate = f.aud_pitch = f.aud_voice = -1;
    char q[QCAP];
    int n, a;
    Rng rng;
    rng_init(&rng, 1, 0, 0, RNG_TEST);
    prompt_instruction_family(q, QCAP, &n, &a, &f, &pc, PROMPT_FAM_SIZE, 0, &rng);
}

static void task_too_many_classes(void *arg) {
    (void)arg;
    const char *names[27];
    for (int c = 0; c < 27; c++)
        names[c] = "x";
    char q[QCAP];
    prompt_task(q, QCAP, names, 27, NULL, NULL, 0, 0, 0);
}

START_TEST(test_bad_calls_die_with_a_message) {
    expect_die(ask_missing_family, NULL, "prompt_instruction_family", "family 0");
    expect_die(task_too_many_classes, NULL, "prompt_task", "K=27");
}
END_TEST

Suite *prompts_suite(void) {
    Suite *s = suite_create("prompts");
    TCase *tc = tcase_create("prompts");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_every_family_answer_points_at_the_true_option);
    tcase_add_test(tc, test_yes_no_is_balanced_and_no_instruction_is_the_task);
    tcase_add_test(tc, test_same_stream_gives_the_same_strings);
    tcase_add_test(tc, test_captions_cover_each_presence_case);
    tcase_add_test(tc, test_task_prompt_has_fixed_options_and_follows_the_mask);
    tcase_add_test(tc, test_too_small_buffers_return_minus_one);
    tcase_add_test(tc, test_corpus_covers_every_family);
    tcase_add_test(tc, test_facts_buckets_on_real_rows);
    tcase_add_test(tc, test_bucket_words_and_thresholds);
    tcase_add_test(tc, test_bad_calls_die_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}
