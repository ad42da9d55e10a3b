// bpe.h - a byte-level BPE tokenizer: training, encoding, decoding, serialization.
//
// Vocabulary: ids 0..S-1 are the caller's special tokens (strings such as "<pad>", "<bos>",
// "<image>"), ids S..S+255 are the 256 bytes (byte x is id S + x), and id S + 256 + m is the m-th
// learned merge, up to V = S + 256 + M. Byte-level, so any byte string encodes and there is no
// "<unk>".
//
// Pre-splitting (GPT-2 style, on bytes, no regex): the text is cut into chunks and merges never
// cross a chunk. A byte is a letter (ASCII letters and every byte >= 0x80, so UTF-8 sequences stay
// inside words), a digit, whitespace (space, \t, \n, \v, \f, \r) or other. A chunk is one space
// followed by a run of letters, digits or others ("␣the", "␣42", "␣..."), or a run of one class; a
// whitespace run followed by a non-space gives its last space to the next chunk when that space is
// a ' ' (GPT-2's \s+(?!\S)). The chunks tile the text, so decoding is exact. GPT-2's contraction
// rules ('s, 't, ...) are left out.
//
// Training is the classic algorithm: count the chunks, count adjacent pairs weighted by chunk
// counts, merge the most frequent pair, repeat. Ties go to the smallest (left id, right id), so the
// merges are the same on any machine. Pair counts are updated incrementally (only the chunks that
// hold the merged pair are recounted) and the best pair comes from a max-heap with lazy deletion.
// Training stops early when no pair occurs at least twice (a pair seen once is memorisation), so
// the final V may be below the target.
//
// Encoding applies the merges of a chunk by rank, lowest rank first (each step merges every
// occurrence of the lowest-ranked adjacent pair, left to right), which reproduces training's
// segmentation.
//
// Sources: Sennrich, Haddow & Birch 2016 (BPE for subwords); Radford et al. 2019 (GPT-2,
// byte-level BPE and its pre-split); [I] reconstruction of the byte-class pre-split.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BPE_MAX_SPECIALS 256     // S limit (a file claiming more is refused)
#define BPE_MAX_SPECIAL_LEN 64   // bytes of one special string, NUL excluded
#define BPE_MAX_TOKEN_BYTES 4096 // longest byte string one token may decode to (load refuses more)

// Encoding flags.
#define BPE_SPECIALS_AS_BYTES 0 // the default: "<bos>" in the text is 5 bytes, never id 1
#define BPE_ALLOW_SPECIALS 1    // an exact special string in the text becomes its id

typedef struct {
    int n_specials;  // S
    char **specials; // (S) owned NUL-terminated strings, id i is specials[i]
    int n_merges;    // M
    int32_t *merges; // (M, 2) (left id, right id); merge m makes id S + 256 + m; left, right < it
    int vocab_size;  // V = S + 256 + M
    size_t *tok_off; // (V + 1) token v decodes to tok_bytes[tok_off[v] .. tok_off[v+1])
    uint8_t *tok_bytes;
    size_t rank_cap;    // power of two, >= 2M: open-addressed (left, right) -> merge rank
    uint64_t *rank_key; // (rank_cap) ((uint64)left << 32 | right) + 1; 0 marks an empty slot
    int32_t *rank_val;  // (rank_cap) merge rank m
} Bpe;

// Trains b (caller storage, overwritten without freeing: pass a zeroed or freed Bpe) on texts
// (n_texts NUL-terminated strings; their chunks are counted together) up to vocab_size =
// S + 256 + M tokens, specials (n_specials strings, copied) taking ids 0..S-1. Deterministic.
// Local. CHECKs: pointers, n_texts >= 0, 0 <= n_specials <= BPE_MAX_SPECIALS, each special
// non-empty, at most BPE_MAX_SPECIAL_LEN bytes and distinct, vocab_size >= S + 256.
void bpe_train(Bpe *b, const char *const *texts, int n_texts, int vocab_size,
               const char *const *specials, int n_specials);

// Encodes n bytes of text (may contain NUL) into ids (cap); returns the token count. ids == NULL
// with cap == 0 only counts. flags: BPE_SPECIALS_AS_BYTES or BPE_ALLOW_SPECIALS (the longest
// special string matching at a position wins). Local. CHECKs: b trained or loaded, pointers, the
// count fits cap (naming both).
int bpe_encode_n(const Bpe *b, const char *text, size_t n, int flags, int *ids, int cap);
// bpe_encode_n over the NUL-terminated text with BPE_SPECIALS_AS_BYTES.
int bpe_encode(const Bpe *b, const char *text, int *ids, int cap);

// Decodes ids (n) into out (cap): writes the bytes then a NUL; returns the byte count (NUL
// excluded; the bytes may hold NULs of their own). A special decodes to its string. out == NULL
// with cap == 0 only counts. Local. CHECKs: every id in [0, V) (naming the id and its position),
// the bytes plus NUL fit cap.
size_t bpe_decode(const Bpe *b, const int *ids, int n, char *out, size_t cap);

// Serialization. The arrays to store are b->specials (S strings) and b->merges ((M, 2) int32);
// bpe_from_arrays rebuilds a Bpe from them, bpe_save / bpe_load go through one flat byte buffer
// (for one HDF5 dataset of bytes): "MMCBPE1\0", u32 S, u32 M, per special u32 length + bytes,
// M pairs of i32, all little-endian.
//
// bpe_from_arrays: fills b (caller storage, as bpe_train) from copies of the arrays. Returns 0, or
// -1 with a one-line message in err (err_cap) and b left zeroed when: S or M out of range, a
// special empty, too long or repeated, a merge naming a special, an id not below its own
// (S + 256 + m), a pair merged twice, or a token longer than BPE_MAX_TOKEN_BYTES. Local.
int bpe_from_arrays(Bpe *b, const char *const *specials, int n_specials, const int32_t *merges,
                    int n_merges, char *err, size_t err_cap);
// Writes the flat buffer into buf (cap); returns its size. buf == NULL with cap == 0 only sizes.
// Local. CHECKs: the size fits cap.
size_t bpe_save(const Bpe *b, uint8_t *buf, size_t cap);
// Reads a flat buffer of n bytes into b (caller storage). Returns 0, or -1 with a message in err
// (bad magic, truncated, trailing bytes, or any bpe_from_arrays refusal) and b zeroed. Local.
int bpe_load(Bpe *b, const uint8_t *buf, size_t n, char *err, size_t err_cap);

// Releases everything b owns; safe on a zeroed Bpe, leaves it zeroed. Local.
void bpe_free(Bpe *b);
