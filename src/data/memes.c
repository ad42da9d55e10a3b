// memes.c - the memes dataset: image scores, generated texts, labels and the builder (memes.h).
#include "data/memes.h"

#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/dsfile.h"
#include "data/lexicon.h"

#define IMG 28
#define BLOCK 1024 // rows per read/append: the builder's memory is a few MB whatever the source

// Footwear +2, trouser/dress +1, T-shirt/bag -1, pullover/coat/shirt -2 (memes.h says why).
static const int image_score[MEMES_CLASSES] = {-1, +1, -2, +1, -2, +2, -2, +2, -1, +2};

#define N_SUBJ 8
#define N_SYN 5
#define N_FILL 12
#define VOCAB (2 + N_SUBJ + 4 * N_SYN + N_FILL)
static const char *const vocab[VOCAB] = {
    "<pad>", "<unk>",
    // subjects: what the text is about, without saying which item it is
    "it", "that", "thing", "item", "piece", "outfit", "one", "stuff",
    // attitude words, strength +2, +1, -1, -2
    "love", "great", "amazing", "awesome", "perfect", //
    "nice", "fine", "good", "cute", "decent",         //
    "dull", "meh", "boring", "bland", "plain",        //
    "hate", "awful", "terrible", "ugly", "horrible",  //
    // fillers
    "this", "my", "look", "so", "really", "the", "a", "is", "just", "wow", "today", "lol"};
#define SUBJ0 2
#define ATT0 (SUBJ0 + N_SUBJ)
#define FILL0 (ATT0 + 4 * N_SYN)
static const int strengths[4] = {2, 1, -1, -2}; // attitude group g has strength strengths[g]

static const char *const meta_names[MEMES_N_META] = {"s_img", "s_txt", "fm_class"};
static const char *const class_names[2] = {"not hateful", "hateful"};

int memes_image_score(int c) {
    CHECK(c >= 0 && c < MEMES_CLASSES, "class %d of %d", c, MEMES_CLASSES);
    return image_score[c];
}

int memes_vocab_size(void) { return VOCAB; }

const char *memes_vocab_word(int id) {
    CHECK(id >= 0 && id < VOCAB, "word id %d of %d", id, VOCAB);
    return vocab[id];
}

int memes_word_strength(int id) {
    CHECK(id >= 0 && id < VOCAB, "word id %d of %d", id, VOCAB);
    return id >= ATT0 && id < FILL0 ? strengths[(id - ATT0) / N_SYN] : 0;
}

const char *const *memes_meta_names(void) { return meta_names; }

const char *const *memes_class_names(void) { return class_names; }

void memes_row(uint64_t seed, int64_t entity, int fm_class, int32_t *text, int32_t *label,
               int32_t *meta) {
    CHECK_PTR(text);
    CHECK_PTR(label);
    CHECK_PTR(meta);
    int s_img = memes_image_score(fm_class);
    Rng r;
    rng_init(&r, seed, (uint32_t)entity, MEMES_STREAM ^ (uint32_t)((uint64_t)entity >> 32),
             RNG_DATA);
    // The score and the coin come first, so the label never depends on how the words are drawn.
    int g = (int)rng_below(&r, 4), coin = (int)rng_below(&r, 2);
    int s_txt = strengths[g], sum = s_img + s_txt;
    *label = sum > 0 ? 1 : sum < 0 ? 0 : coin;
    meta[MEMES_META_S_IMG] = s_img;
    meta[MEMES_META_S_TXT] = s_txt;
    meta[MEMES_META_FM_CLASS] = fm_class;

    int32_t w[MEMES_TEXT_LEN];
    int n = 0, n_att = 1 + (int)rng_below(&r, 2);
    int a = (int)rng_below(&r, N_SYN);
    w[n++] = ATT0 + g * N_SYN + a;
    if (n_att == 2) // a different synonym of the same strength
        w[n++] = ATT0 + g * N_SYN + (a + 1 + (int)rng_below(&r, N_SYN - 1)) % N_SYN;
    w[n++] = SUBJ0 + (int)rng_below(&r, N_SUBJ);
    int n_fill = (int)rng_below(&r, (uint32_t)(MEMES_TEXT_LEN - n + 1));
    for (int k = 0; k < n_fill; k++)
        w[n++] = FILL0 + (int)rng_below(&r, N_FILL);
    for (int i = n - 1; i > 0; i--) { // Fisher-Yates: the attitude may stand anywhere
        int j = (int)rng_below(&r, (uint32_t)(i + 1)), t = w[i];
        w[i] = w[j], w[j] = t;
    }
    for (int i = 0; i < MEMES_TEXT_LEN; i++)
        text[i] = i < n ? w[i] : 0;
}

void memes_oracle(MemesOracle *o, const int32_t *label, const int32_t *meta, int64_t n) {
    CHECK_PTR(o);
    CHECK(n == 0 || (label && meta), "label or meta is NULL for n = %lld rows", (long long)n);
    int64_t pos = 0, ok_i = 0, ok_t = 0, ok_b = 0;
    for (int64_t i = 0; i < n; i++) {
        const int32_t *m = meta + i * MEMES_N_META;
        int y = label[i], si = m[MEMES_META_S_IMG], st = m[MEMES_META_S_TXT];
        pos += y == 1;
        ok_i += (si > 0) == y;
        ok_t += (st > 0) == y;
        ok_b += (si + st >= 0) == y;
    }
    double d = n > 0 ? (double)n : 1.0;
    *o = (MemesOracle){.n = n,
                       .hateful = (double)pos / d,
                       .acc_image = (double)ok_i / d,
                       .acc_text = (double)ok_t / d,
                       .acc_both = (double)ok_b / d};
}

void memes_expected(MemesOracle *o) {
    CHECK_PTR(o);
    double pos = 0, ok_i = 0, ok_t = 0, ok_b = 0, w = 1.0 / (MEMES_CLASSES * 4);
    for (int c = 0; c < MEMES_CLASSES; c++)
        for (int g = 0; g < 4; g++) {
            int si = image_score[c], st = strengths[g], sum = si + st;
            double p1 = sum > 0 ? 1.0 : sum < 0 ? 0.0 : 0.5; // P(y = 1 | c, s_txt)
            pos += w * p1;
            ok_i += w * (si > 0 ? p1 : 1 - p1);
            ok_t += w * (st > 0 ? p1 : 1 - p1);
            ok_b += w * (sum >= 0 ? p1 : 1 - p1);
        }
    *o = (MemesOracle){
        .n = 0, .hateful = pos, .acc_image = ok_i, .acc_text = ok_t, .acc_both = ok_b};
}

// The source must hold the Fashion-MNIST images: a raw uint8 (28, 28) "image" modality and the
// 10 classes in Fashion-MNIST order. Returns the image modality's index, or -1 with err set.
static int check_source(const Dataset *ds, const char *src, char *err, size_t cap) {
    if (dataset_n_classes(ds) != MEMES_CLASSES) {
        snprintf(err, cap, "%s: %d classes, the Fashion-MNIST images need %d", src,
                 dataset_n_classes(ds), MEMES_CLASSES);
        return -1;
    }
    for (int c = 0; c < MEMES_CLASSES; c++)
        if (strcmp(dataset_class_name(ds, c), lexicon_class_name(c)) != 0) {
            snprintf(err, cap, "%s: class %d is \"%s\", Fashion-MNIST's is \"%s\"", src, c,
                     dataset_class_name(ds, c), lexicon_class_name(c));
            return -1;
        }
    int m = dataset_modality_index(ds, "image");
    const DatasetModality *dm = m >= 0 ? dataset_modality(ds, m) : NULL;
    if (!dm || dm->dtype != DS_U8 || dm->ndims != 2 || dm->dims[0] != IMG || dm->dims[1] != IMG ||
        dm->scale != 0) {
        snprintf(err, cap, "%s: no raw uint8 (28, 28) modality \"image\"", src);
        return -1;
    }
    return m;
}

int memes_build(const char *src, const char *out, uint64_t seed, char *err, size_t cap) {
    CHECK_PTR(src);
    CHECK_PTR(out);
    CHECK_PTR(err);
    // The source was validated when it was built; labels are still checked, features not rescanned.
    Dataset *ds = dataset_open_flags(src, DATASET_SKIP_SCAN, err, cap);
    if (!ds) return -1;
    int mi = check_source(ds, src, err, cap);
    if (mi < 0) {
        dataset_close(ds);
        return -1;
    }
    // The source's base name only: the file's bytes depend on the source's content, not its path.
    const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    char source[1024];
    snprintf(source, sizeof source,
             "images and entities of %s (Fashion-MNIST, Debian dataset-fashion-mnist "
             "0.0~git20200523.55506a9-1); text and labels generated by src/data/memes.c",
             base);
    DsSpec spec = {
        .name = "memes",
        .version = "1",
        .source = source,
        .licence = "images Expat (MIT) (c) 2017 Zalando SE (Fashion-MNIST); text and labels: "
                   "program output of build_memes (no third-party text)",
        .builder = "build_memes",
        .seed = seed,
        .n_classes = 2,
        .class_names = class_names,
        .n_modalities = 2,
        .modalities =
            {{.name = "image", .kind = "image", .dtype = DS_U8, .ndims = 2, .dims = {IMG, IMG}},
             {.name = "text",
              .kind = "text",
              .dtype = DS_I32,
              .ndims = 1,
              .dims = {MEMES_TEXT_LEN}}},
        .vocab_size = VOCAB,
        .vocab = vocab,
        .n_meta = MEMES_N_META,
        .meta_names = meta_names,
        .n = {dataset_n(ds, DS_TRAIN), dataset_n(ds, DS_TEST)}};
    DsWriter *w = dsfile_create(out, &spec);
    uint8_t *img = xmalloc((size_t)BLOCK * IMG * IMG);
    int32_t *fm = xmalloc(sizeof(int32_t) * BLOCK), *label = xmalloc(sizeof(int32_t) * BLOCK);
    int32_t *text = xmalloc(sizeof(int32_t) * BLOCK * MEMES_TEXT_LEN);
    int32_t *meta = xmalloc(sizeof(int32_t) * BLOCK * MEMES_N_META);
    int64_t *entity = xmalloc(sizeof(int64_t) * BLOCK);
    for (int s = 0; s < 2; s++) {
        DsSplit split = s == 0 ? DS_TRAIN : DS_TEST;
        for (int64_t start = 0; start < spec.n[s]; start += BLOCK) {
            int64_t n = MIN((int64_t)BLOCK, spec.n[s] - start);
            dataset_read_raw(ds, split, mi, start, n, img);
            dataset_read_labels(ds, split, start, n, fm);
            dataset_read_entities(ds, split, start, n, entity);
            for (int64_t i = 0; i < n; i++)
                memes_row(seed, entity[i], fm[i], text + i * MEMES_TEXT_LEN, label + i,
                          meta + i * MEMES_N_META);
            DsRows rows = {
                .n = n, .label = label, .entity = entity, .meta = meta, .data = {img, text}};
            dsfile_append(w, split, &rows);
        }
    }
    dsfile_close(w);
    xfree(img), xfree(fm), xfree(label), xfree(text), xfree(meta), xfree(entity);
    dataset_close(ds);
    return 0;
}

int memes_measure(const char *path, MemesOracle o[2], char *err, size_t cap) {
    CHECK_PTR(path);
    CHECK_PTR(o);
    Dataset *ds = dataset_open(path, err, cap);
    if (!ds) return -1;
    int ok = dataset_n_meta(ds) == MEMES_N_META;
    for (int k = 0; ok && k < MEMES_N_META; k++)
        ok = !strcmp(dataset_meta_name(ds, k), meta_names[k]);
    if (!ok) {
        snprintf(err, cap, "%s: meta columns are not s_img, s_txt, fm_class (not a memes file)",
                 path);
        dataset_close(ds);
        return -1;
    }
    for (int s = 0; s < 2; s++) {
        DsSplit split = s == 0 ? DS_TRAIN : DS_TEST;
        int64_t n = dataset_n(ds, split);
        int32_t *label = xmalloc(sizeof(int32_t) * (size_t)MAX(n, 1));
        int32_t *meta = xmalloc(sizeof(int32_t) * (size_t)MAX(n, 1) * MEMES_N_META);
        if (n > 0) {
            dataset_read_labels(ds, split, 0, n, label);
            dataset_read_meta(ds, split, 0, n, meta);
        }
        memes_oracle(&o[s], label, meta, n);
        xfree(label), xfree(meta);
    }
    dataset_close(ds);
    return 0;
}
