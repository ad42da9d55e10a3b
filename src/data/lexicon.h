// lexicon.h - the words AV-FashionMNIST speaks and writes: Fashion-MNIST class names, synonyms and
// coarse words.
//
// The synonyms are a built-in list curated by hand from WordNet 3.0 (Debian wordnet-base) synsets
// and direct hyponyms of each class's noun, with senses checked (WordNet's sense 1 of "jersey" is
// New Jersey; "T-shirt" is a hyponym of "shirt", so it is kept in class 0 only).
// lexicon_wordnet_check confirms each synonym is a WordNet noun, so the list can be audited against
// the package files.
#pragma once

#define LEX_CLASSES 10

// Fashion-MNIST label names (stored in the dataset file), e.g. "T-shirt/top". Borrowed.
const char *lexicon_class_name(int c);
// Synonyms of class c; synonym 0 is the spoken class name ("t-shirt", "ankle boot"). Borrowed.
int lexicon_n_synonyms(int c);
const char *lexicon_synonym(int c, int k);
// The coarse word of class c: "top" (0, 2, 4, 6), "clothing" (1, 3), "shoe" (5, 7, 9), "bag" (8).
const char *lexicon_coarse(int c);
// Counts the synonyms k >= 1 that are not nouns in <wordnet_dir>/index.noun (spaces as '_', and a
// trailing "s" may be dropped: WordNet lists "trouser"); names the first miss in *first_missing
// (borrowed, NULL if none). Returns -1 when index.noun cannot be opened. Local.
int lexicon_wordnet_check(const char *wordnet_dir, const char **first_missing);
