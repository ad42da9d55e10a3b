// texttok.h - AV-FashionMNIST's text modality: short noisy token sequences about the class.
//
// The vocabulary is fixed: "<pad>" (id 0), "<unk>" (id 1), filler words, then every word of every
// lexicon synonym and coarse word, in lexicon order (lexicon.h). A sequence is a random synonym of
// the class (the class name is synonym 0), sometimes with its coarse word and filler words, then
// corrupted: each word dropped with p_drop (at least one stays), adjacent swaps, and each word
// replaced by a random vocabulary word with p_replace. Padded with 0 to the length L.
#pragma once
#include <stdint.h>

#include "core/rng.h"

#define TEXT_MAX_VOCAB 256
#define TEXT_PAD 0
#define TEXT_UNK 1

typedef struct {
    int size;                       // V
    char words[TEXT_MAX_VOCAB][24]; // (V) NUL-terminated
} TextVocab;

typedef struct {
    float p_drop;    // per-word dropout
    float p_swap;    // probability of one adjacent swap (applied twice)
    float p_replace; // per-word replacement by a random word
    float p_coarse;  // the coarse word is added
    int max_fillers; // 0..max_fillers filler words are inserted
} TextOpts;

// Fills v with the fixed vocabulary. Local.
void texttok_vocab(TextVocab *v);
// Id of word, or -1. Local.
int texttok_id(const TextVocab *v, const char *word);
// out (L) = a sequence for class label drawn from r; every id is in [0, V). CHECKs L in [1, 64].
void texttok_make(int32_t *out, int L, const TextVocab *v, int label, const TextOpts *o, Rng *r);
