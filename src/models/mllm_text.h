// mllm_text.h - how the tiny multimodal LLM's sequences are spelled: its tokenizer's special
// tokens, and one sample's sequence, the same for pre-training (base_model), fine-tuning and
// evaluation (--model=mllm), so the base model's instruction format is the one the parties use:
//
//   <bos> [<image> s s s s] [<audio> s ... s] text-part " answer:" → the answer token(s)
//
// where each [..] appears only when that modality is present, s are the encoder's slots (filled
// with its projected tokens), and the text part is "text: <words>. <question>" (or just the
// question, or a caption prompt). A multiple-choice answer is the byte token of its letter ('A' +
// option), so the options' logits are the LM's logits of those tokens at the last position.
#pragma once
#include "data/bpe.h"
#include "models/mllm.h"

// The special tokens, ids 0.. in this order.
#define MLLM_SPECIALS                                                                              \
    { "<pad>", "<bos>", "<eos>", "<image>", "<audio>" }
#define MLLM_N_SPECIALS 5
enum { MLLM_TOK_PAD = 0, MLLM_TOK_BOS = 1, MLLM_TOK_EOS = 2 };

typedef struct {
    Bpe bpe;                  // owned
    int marker[MLLM_MAX_ENC]; // the special before encoder e's slots ("<image>", "<audio>")
} MllmVocab;

// Binds the tokenizer (taken over: the caller's b is left zeroed) to m's encoders: each encoder's
// modality needs its marker special. Returns 0, or -1 with a message. Local.
int mllm_vocab_init(MllmVocab *v, Bpe *b, const Mllm *m, char *err, size_t cap);
void mllm_vocab_free(MllmVocab *v);
// The token id of answer letter 'A' + k (a byte token).
int mllm_letter_id(const MllmVocab *v, int k);

// A sequence being built in caller storage ids (cap); slot[e] = first slot of encoder e or -1.
typedef struct {
    int *ids;
    int cap, n;
    int slot[MLLM_MAX_ENC];
    int overflow; // set when something did not fit (the sequence is then unusable)
} MllmSeq;

// <bos>, then for every encoder e with has[e] its marker and n_tok slots (pad ids). Local.
void mllm_seq_begin(MllmSeq *s, int *ids, int cap, const Mllm *m, const MllmVocab *v,
                    const uint8_t *has);
// Appends the BPE encoding of text. Local.
void mllm_seq_text(MllmSeq *s, const MllmVocab *v, const char *text);
// Appends one id. Local.
void mllm_seq_push(MllmSeq *s, int id);
// Rows built with stride Tmax (ids, and tgt when not NULL) become a batch of stride T = the
// longest len: compacted in place, the tails padded (<pad> ids, -1 targets). Returns T. Local.
int mllm_rows_pack(int *ids, int *tgt, const int *len, int B, int Tmax);
// The text part of a question: "text: <words>. <question> answer:" into out (cap); words NULL or
// "" leaves out the text clause. Returns the length, -1 when cap is too small. Local.
int mllm_question_text(char *out, size_t cap, const char *words, const char *question);
