// facts.h - what can be said in words about one sample of a dataset file: its class, which
// modalities it has, coarse attributes of its image (size, tone) and of its voice (rate, pitch,
// sex), and its text words. data/prompts.h turns these facts into captions and questions for the
// tiny multimodal LM of issue 12.
//
// Every attribute is a small bucket id (-1 = unknown: the modality is absent for this sample, or
// the dataset does not carry what the bucket needs), named by facts_bucket_word. The thresholds
// are constants measured once, so a sample's facts depend on its row only:
//   size  ink = fraction of image values > 0.5; tertiles of Fashion-MNIST's 60,000 training
//         images (/usr/share/datasets/fashion-mnist, measured 2026-12-06): 170 and 322 inked
//         pixels of 784 split them 33.2 / 33.4 / 33.3 %.
//   tone  mean value of the inked pixels; its median over the same images, 0.7432, splits them
//         50.0 / 50.0 % into "dark" (below) and "light".
//   rate  meta column "rate" (words per minute); median of AV-FashionMNIST's U{110..240}: "fast"
//         above 175 (49.7 % of the 10,000 training rows of data/avfmnist_small.h5).
//   pitch meta column "pitch" (0..100); median of U{15..85}: "high" above 50 (49.3 %).
//   voice meta column "variant" (AV-FashionMNIST's variant table, data/avfm.h): "female" for the
//         espeak-ng variants whose file says "gender female" (f1..f5, Alicia, linda, steph,
//         grandma, Annie; 32 % of those rows), "male" for the rest (their files say male or
//         nothing, and espeak-ng's default is male).
// The image thresholds were measured on Fashion-MNIST's white-on-black items; on other images
// (any size, values in [0, 1]) they are coarse buckets of the same measures, nothing more.
//
// Not here: the wording of captions and questions (data/prompts.h). [I] reconstruction.
#pragma once
#include <stdint.h>

#include "data/dataset.h"

#define FACTS_MAX_MOD 4    // dataset files hold 1..4 modalities (datasets/README.md)
#define FACTS_TEXT_CAP 128 // bytes of SampleFacts.text, NUL included

#define FACTS_INK_SMALL (170.0 / 784.0) // ink below: "small"
#define FACTS_INK_LARGE (322.0 / 784.0) // ink at or above: "large"; between: "medium"
#define FACTS_TONE_LIGHT 0.7432         // mean inked value at or above: "light", below: "dark"
#define FACTS_RATE_FAST 175             // rate above: "fast", else "slow"
#define FACTS_PITCH_HIGH 50             // pitch above: "high", else "low"

// The attribute kinds (bucket ids in brackets).
typedef enum {
    FACTS_SIZE,  // small (0), medium (1), large (2)
    FACTS_TONE,  // dark (0), light (1)
    FACTS_RATE,  // slow (0), fast (1)
    FACTS_PITCH, // low (0), high (1)
    FACTS_VOICE, // male (0), female (1)
    FACTS_N_KINDS
} FactsKind;

// What a modality is, from its "kind" attribute; facts_mod_word names it ("image", "audio",
// "text", "vector").
typedef enum { FACTS_MOD_VECTOR, FACTS_MOD_IMAGE, FACTS_MOD_AUDIO, FACTS_MOD_TEXT } FactsModKind;

typedef struct {
    int label;                          // class index, -1 unknown
    int n_mod;                          // the dataset's modalities, <= FACTS_MAX_MOD
    uint8_t present[FACTS_MAX_MOD];     // per modality: 1 when present for this sample
    uint8_t mod_kind[FACTS_MAX_MOD];    // per modality: FactsModKind
    int img_size, img_tone;             // bucket ids, -1 when no image
    int aud_rate, aud_pitch, aud_voice; // bucket ids, -1 when no audio or no such meta column
    char text[FACTS_TEXT_CAP]; // the text's words joined by single spaces, pads dropped ("" none)
} SampleFacts;

// Where a dataset's rows keep the facts: filled once per Dataset by facts_source_init, or by hand
// (tests). Transparent.
typedef struct {
    const Dataset *ds; // borrowed: the vocabulary of the text modality (NULL: no text words)
    int n_mod;
    uint8_t mod_kind[FACTS_MAX_MOD];         // FactsModKind per modality
    int image_mod, audio_mod, text_mod;      // the first modality of each kind, -1 when none
    int64_t image_elems, text_len;           // row_elems of those modalities (0 when none)
    int meta_rate, meta_pitch, meta_variant; // meta columns, -1 when absent
    int pad_id;                              // dataset_pad_id, -1 when none
} FactsSource;

// Reads the modality kinds, row sizes, meta columns and pad id of ds (which must outlive src).
// Local. CHECKs pointers and n_mod <= FACTS_MAX_MOD.
void facts_source_init(FactsSource *src, const Dataset *ds);

// f = the facts of one row. present (src->n_mod) or NULL = every modality present. image
// (src->image_elems floats in [0, 1], as dataset_read_features gives them), meta (dataset_n_meta
// int32) and text (src->text_len token ids, as dataset_read_tokens gives them) may each be NULL:
// the facts they carry become -1 / "". A modality whose present flag is 0 gives no facts even when
// its data is passed. Text words that would overflow FACTS_TEXT_CAP are dropped from the end
// (whole words). Local. CHECKs f, src, label >= -1 and token ids inside the vocabulary.
void facts_from_row(SampleFacts *f, const FactsSource *src, int label, const uint8_t *present,
                    const float *image, const int32_t *meta, const int32_t *text);

// The bucket of one measure (the thresholds above); -1 for a negative ink (no image). Local.
int facts_size_bucket(double ink);
int facts_tone_bucket(double mean_inked);

// Number of buckets of kind, and the word of bucket b (borrowed static string; NULL for b = -1).
// Local. CHECKs kind and -1 <= b < facts_n_buckets(kind).
int facts_n_buckets(int kind);
const char *facts_bucket_word(int kind, int bucket);
// The bucket id of kind in f (-1 unknown). Local. CHECKs f and kind.
int facts_bucket(const SampleFacts *f, int kind);

// "image", "audio", "text" or "vector" (borrowed static string). Local. CHECKs the kind.
const char *facts_mod_word(int mod_kind);
// 1 when f has a present modality of mod_kind. Local.
int facts_has(const SampleFacts *f, int mod_kind);
