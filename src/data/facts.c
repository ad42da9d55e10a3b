// facts.c - a sample's facts in bucket form (facts.h).
#include "data/facts.h"

#include <string.h>

#include "core/die.h"
#include "data/avfm.h"

static const char *const size_words[] = {"small", "medium", "large"};
static const char *const tone_words[] = {"dark", "light"};
static const char *const rate_words[] = {"slow", "fast"};
static const char *const pitch_words[] = {"low", "high"};
static const char *const voice_words[] = {"male", "female"};
static const char *const *const kind_words[FACTS_N_KINDS] = {size_words, tone_words, rate_words,
                                                             pitch_words, voice_words};
static const int kind_n[FACTS_N_KINDS] = {3, 2, 2, 2, 2};
static const char *const mod_words[] = {"vector", "image", "audio", "text"};

// espeak-ng variants whose voice file says "gender female" (voices/!v/*, espeak-ng-data 1.51).
static const char *const female_variants[] = {"f1",     "f2",    "f3",    "f4",      "f5",
                                              "Alicia", "linda", "steph", "grandma", "Annie"};

static int mod_kind_of(const char *kind) {
    for (int k = 0; k < 4; k++)
        if (strcmp(kind, mod_words[k]) == 0) return k;
    return FACTS_MOD_VECTOR;
}

void facts_source_init(FactsSource *src, const Dataset *ds) {
    CHECK_PTR(src);
    CHECK_PTR(ds);
    memset(src, 0, sizeof *src);
    src->n_mod = dataset_n_modalities(ds);
    CHECK(src->n_mod >= 1 && src->n_mod <= FACTS_MAX_MOD, "%d modalities, facts hold 1..%d",
          src->n_mod, FACTS_MAX_MOD);
    src->image_mod = src->audio_mod = src->text_mod = -1;
    for (int m = 0; m < src->n_mod; m++) {
        const DatasetModality *dm = dataset_modality(ds, m);
        int k = mod_kind_of(dm->kind);
        src->mod_kind[m] = (uint8_t)k;
        if (k == FACTS_MOD_IMAGE && src->image_mod < 0) {
            src->image_mod = m;
            src->image_elems = dm->row_elems;
        } else if (k == FACTS_MOD_AUDIO && src->audio_mod < 0) {
            src->audio_mod = m;
        } else if (k == FACTS_MOD_TEXT && src->text_mod < 0) {
            src->text_mod = m;
            src->text_len = dm->row_elems;
        }
    }
    src->ds = src->text_mod >= 0 ? ds : NULL;
    int has_meta = dataset_n_meta(ds) > 0;
    src->meta_rate = has_meta ? dataset_meta_index(ds, "rate") : -1;
    src->meta_pitch = has_meta ? dataset_meta_index(ds, "pitch") : -1;
    src->meta_variant = has_meta ? dataset_meta_index(ds, "variant") : -1;
    src->pad_id = dataset_pad_id(ds);
}

int facts_size_bucket(double ink) {
    if (ink < 0) return -1;
    return ink < FACTS_INK_SMALL ? 0 : ink < FACTS_INK_LARGE ? 1 : 2;
}

int facts_tone_bucket(double mean_inked) {
    if (mean_inked < 0) return -1;
    return mean_inked >= FACTS_TONE_LIGHT ? 1 : 0;
}

static int voice_bucket(int variant) {
    if (variant < 0 || variant >= AVFM_N_VARIANTS) return -1;
    const char *name = avfm_variant(variant);
    for (size_t i = 0; i < sizeof female_variants / sizeof *female_variants; i++)
        if (strcmp(name, female_variants[i]) == 0) return 1;
    return 0;
}

static void image_facts(SampleFacts *f, const float *image, int64_t n) {
    int64_t inked = 0;
    double sum = 0; // double: a row's sum of up to n values, order-independent enough for a median
    for (int64_t i = 0; i < n; i++)
        if (image[i] > 0.5f) {
            inked++;
            sum += image[i];
        }
    f->img_size = facts_size_bucket((double)inked / (double)n);
    // An image without ink is "dark": nothing in it is bright.
    f->img_tone = facts_tone_bucket(inked ? sum / (double)inked : 0.0);
}

static void text_facts(SampleFacts *f, const FactsSource *src, const int32_t *text) {
    size_t len = 0;
    int V = dataset_vocab_size(src->ds);
    for (int64_t t = 0; t < src->text_len; t++) {
        int id = text[t];
        CHECK(id >= 0 && id < V, "token %d at position %lld outside the vocabulary (V=%d)", id,
              (long long)t, V);
        if (id == src->pad_id) continue;
        const char *w = dataset_vocab_word(src->ds, id);
        size_t wl = strlen(w), need = len + (len > 0) + wl;
        if (need >= FACTS_TEXT_CAP) break; // whole words only (facts.h)
        if (len > 0) f->text[len++] = ' ';
        memcpy(f->text + len, w, wl);
        len += wl;
    }
    f->text[len] = '\0';
}

void facts_from_row(SampleFacts *f, const FactsSource *src, int label, const uint8_t *present,
                    const float *image, const int32_t *meta, const int32_t *text) {
    CHECK_PTR(f);
    CHECK_PTR(src);
    CHECK(label >= -1, "label %d", label);
    CHECK(src->n_mod >= 1 && src->n_mod <= FACTS_MAX_MOD, "n_mod %d", src->n_mod);
    memset(f, 0, sizeof *f);
    f->label = label;
    f->n_mod = src->n_mod;
    for (int m = 0; m < src->n_mod; m++) {
        f->present[m] = present ? (present[m] != 0) : 1;
        f->mod_kind[m] = src->mod_kind[m];
    }
    f->img_size = f->img_tone = -1;
    f->aud_rate = f->aud_pitch = f->aud_voice = -1;
    if (image && src->image_mod >= 0 && f->present[src->image_mod] && src->image_elems > 0)
        image_facts(f, image, src->image_elems);
    if (meta && src->audio_mod >= 0 && f->present[src->audio_mod]) {
        if (src->meta_rate >= 0) f->aud_rate = meta[src->meta_rate] > FACTS_RATE_FAST;
        if (src->meta_pitch >= 0) f->aud_pitch = meta[src->meta_pitch] > FACTS_PITCH_HIGH;
        if (src->meta_variant >= 0) f->aud_voice = voice_bucket(meta[src->meta_variant]);
    }
    if (text && src->ds && src->text_mod >= 0 && f->present[src->text_mod])
        text_facts(f, src, text);
}

static void check_kind(int kind) {
    CHECK(kind >= 0 && kind < FACTS_N_KINDS, "kind %d of %d", kind, FACTS_N_KINDS);
}

int facts_n_buckets(int kind) {
    check_kind(kind);
    return kind_n[kind];
}

const char *facts_bucket_word(int kind, int bucket) {
    check_kind(kind);
    CHECK(bucket >= -1 && bucket < kind_n[kind], "bucket %d of kind %d (%d buckets)", bucket, kind,
          kind_n[kind]);
    return bucket < 0 ? NULL : kind_words[kind][bucket];
}

int facts_bucket(const SampleFacts *f, int kind) {
    CHECK_PTR(f);
    check_kind(kind);
    switch (kind) {
    case FACTS_SIZE:
        return f->img_size;
    case FACTS_TONE:
        return f->img_tone;
    case FACTS_RATE:
        return f->aud_rate;
    case FACTS_PITCH:
        return f->aud_pitch;
    default:
        return f->aud_voice;
    }
}

const char *facts_mod_word(int mod_kind) {
    CHECK(mod_kind >= 0 && mod_kind < 4, "modality kind %d", mod_kind);
    return mod_words[mod_kind];
}

int facts_has(const SampleFacts *f, int mod_kind) {
    CHECK_PTR(f);
    for (int m = 0; m < f->n_mod; m++)
        if (f->present[m] && f->mod_kind[m] == mod_kind) return 1;
    return 0;
}
