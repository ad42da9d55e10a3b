// memes.h - "memes": a Hateful-Memes-like binary dataset (datasets/README.md, "Memes"). Each row
// keeps one Fashion-MNIST image of a source file (AV-FashionMNIST: image, entity, split) and gets
// a NEW generated text of MEMES_TEXT_LEN word slots and a NEW binary label, such that each modality
// alone is informative and both together are best.
//
// The rule ([I] reconstruction, in the spirit of Kiela et al. 2020, "The Hateful Memes Challenge",
// where neither the picture nor the caption alone decides):
//   s_img = memes_image_score(Fashion-MNIST class), a fixed table with values in {-2, -1, +1, +2},
//           symmetric: 3 classes at +2, 2 at +1, 2 at -1, 3 at -2;
//   s_txt uniform in {-2, -1, +1, +2}, drawn from the row's keyed stream: Philox (core/rng.h)
//           named (seed, entity low word, MEMES_STREAM ^ entity high word, RNG_DATA);
//   the text: one subject word, 1-2 attitude words of strength s_txt ("love" +2, "nice" +1,
//           "dull" -1, "hate" -2, five synonyms each) and 0-5 fillers ("this", "my", "look"...),
//           in random order, padded with "<pad>" (id 0). No word names or hints at the item class
//           (tested against every lexicon.h synonym and coarse word);
//   label y = 1 ("hateful") iff s_img + s_txt > 0; a tie (sum 0) takes a further keyed coin.
// Bayes accuracies with balanced classes (memes_expected): text alone 72.5 %, image alone 77.5 %,
// both 87.5 %, labels balanced (the sum is symmetric). Uniform s_img would give 75 % / 75 %, but
// 10 classes cannot split evenly over four values; the image side gets the larger share because a
// learned image classifier falls short of its oracle while the text words are read exactly.
// The table groups visually similar classes (footwear, pullover/coat/shirt) at one score, so image
// confusions within a group cost nothing.
//
// Deterministic: a row depends only on (seed, entity, class); the file bytes only on the source
// file and the seed (dsfile.h writes canonically). Rows with the same entity get the same text.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MEMES_TEXT_LEN 8
#define MEMES_CLASSES 10         // Fashion-MNIST classes of the source images
#define MEMES_STREAM 0x4d454d45u // "MEME": keeps the rows' streams apart from other builders'
#define MEMES_DEFAULT_SEED 12

// Meta columns (int32 per row), in this order; names from memes_meta_names.
enum {
    MEMES_META_S_IMG,    // image score, in {-2, -1, 1, 2}
    MEMES_META_S_TXT,    // text score, in {-2, -1, 1, 2}
    MEMES_META_FM_CLASS, // the image's Fashion-MNIST class (0..9), the source file's label
    MEMES_N_META
};

// The image score of Fashion-MNIST class c. CHECKs 0 <= c < MEMES_CLASSES. Local.
int memes_image_score(int c);

// The vocabulary: "<pad>" (0), "<unk>" (1), subject words, attitude words, fillers. Borrowed.
int memes_vocab_size(void);
const char *memes_vocab_word(int id);
// The attitude strength of word id, in {-2, -1, 1, 2}, or 0 when it is not an attitude word.
// CHECKs the id. Local.
int memes_word_strength(int id);
const char *const *memes_meta_names(void);  // (MEMES_N_META), borrowed
const char *const *memes_class_names(void); // {"not hateful", "hateful"}, borrowed

// One row: text (MEMES_TEXT_LEN) =, *label =, meta (MEMES_N_META) =, from the row's stream
// (seed, entity) and its image's Fashion-MNIST class fm_class. CHECKs pointers and the class.
// Local.
void memes_row(uint64_t seed, int64_t entity, int fm_class, int32_t *text, int32_t *label,
               int32_t *meta);

// Label balance and the accuracies of the three oracles over rows: image predicts y = 1 iff
// s_img > 0, text iff s_txt > 0, both iff s_img + s_txt > 0 (ties: 1, right half the time).
typedef struct {
    int64_t n;
    double hateful;   // share of label 1
    double acc_image; // the image oracle's accuracy
    double acc_text;
    double acc_both;
} MemesOracle;

// o = the figures of n rows from their labels (n) and meta (n, MEMES_N_META). Local.
void memes_oracle(MemesOracle *o, const int32_t *label, const int32_t *meta, int64_t n);
// o = the expected figures (n = 0) for balanced classes, from the table and the rule. Local.
void memes_expected(MemesOracle *o);

// Builds out from the source dataset file src (Fashion-MNIST images: a uint8 (28, 28) modality
// "image" and the 10 Fashion-MNIST classes, e.g. data/avfmnist_small.h5): every row of both splits
// in order, keeping its image and entity, with a new text, label and meta. Returns 0, or -1 with
// "<path>: <problem>" in err (cap bytes) when src cannot be opened or is not such a file (tier 3);
// write failures are tier 2 (dsfile.h). Local.
int memes_build(const char *src, const char *out, uint64_t seed, char *err, size_t cap);
// o[DS_TRAIN], o[DS_TEST] = the oracle figures of a built file, read back through dataset_open
// (the validating reader). Returns 0, or -1 with the reader's message in err. Local.
int memes_measure(const char *path, MemesOracle o[2], char *err, size_t cap);
