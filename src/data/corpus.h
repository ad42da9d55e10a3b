// corpus.h - English text for pre-training the tiny language model, from Debian packages: the
// glosses of WordNet 3.0 (package wordnet-base, /usr/share/wordnet; WordNet 3.0 licence,
// BSD-like, (c) 2006 Princeton University; datasets/README.md "Text corpus").
//
// For every synset of data.noun, data.verb, data.adj and data.adv, in that order and in file
// order, the gloss after '|' is split into its definition (everything before the first quoted
// example) and its quoted examples; each becomes one line, lower-cased (ASCII), with the quotes,
// the attributions after a closing quote ("... world"- Henry Miller) and stray quotes removed.
// The licence preamble (lines starting with two spaces) and any other line that is not a synset
// are skipped. With headwords, a definition line starts with the synset's words ("dog, domestic
// dog, canis familiaris: a member of ..."), underscores as spaces and adjective markers such as
// "(a)" dropped, so the model also sees which word a definition is of.
//
// No other package is read ([I] decision, checked against Debian 12's archive): dict-gcide
// (Webster 1913 + GPL-3 additions, 17 MB) and dict-devil (Bierce, public domain) are archaic or
// satirical English, fortunes is quotations of mixed content, and tuxpaint-stamps-default, whose
// stamp descriptions are the short object sentences wanted, is a 161 MB download for about a
// thousand lines. WordNet's own examples already describe objects, clothing, colours and sounds.
//
// Deterministic: the same files and options give the same bytes (corpus_sha256_hex names them).
#pragma once
#include <stddef.h>

#include "core/sha256.h"

#define CORPUS_WORDNET_DIR "/usr/share/wordnet"

typedef struct {
    const char *wordnet_dir; // the WordNet 3.0 database files (data.noun, ...)
    size_t max_bytes;        // 0: everything; else the corpus ends at the last whole line within
    int headwords;           // 1: definition lines start with "word, word: " (default 0)
} CorpusOpts;

// o = the defaults: CORPUS_WORDNET_DIR, no limit, no headwords. Local.
void corpus_opts_default(CorpusOpts *o);

// *out = the corpus, one line per definition or example, each ending in '\n', NUL-terminated
// (owned by the caller: xfree), *len = its bytes without the NUL. Returns 0, or -1 with
// "<path>: <reason>" in err (cap bytes) when a WordNet file cannot be read or holds no synset
// (tier 3; *out = NULL, *len = 0). CHECKs its pointers. Local.
int corpus_build(const CorpusOpts *o, char **out, size_t *len, char *err, size_t cap);

// hex = the SHA-256 of text[0..len) in lower-case hex (SHA256_HEX_LEN + 1 bytes): the data digest
// a model trained on the corpus records. Local.
void corpus_sha256_hex(const char *text, size_t len, char *hex);
