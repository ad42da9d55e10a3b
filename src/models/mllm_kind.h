// mllm_kind.h - the tiny multimodal LLM under the model contract (--model=mllm): FedMLLM's
// classification-as-multiple-choice. Each sample becomes one sequence (models/mllm_text.h): its
// present image/audio as encoder tokens, its text words, and the task question with the classes
// as options "(A) ... (B) ..." (data/prompts.h prompt_task); the class logits are the LM's logits
// of the option letters at the last position, so training is the LM's cross-entropy on the answer
// token restricted to the option letters, and the prediction is constrained decoding over them.
//
// The weights start from a base-model file (models/mllm_file.h, stage "final") with fresh LoRA
// adapters (rank, α, dropout from the options) on q, k, v, o of every decoder layer; the default
// trainable selection is the adapters (and the projectors with mllm.train_proj=1, FedMLLM's
// modules_to_save). A missing modality drops its tokens and its phrase from the prompt.
#pragma once
#include "models/mllm.h"
#include "models/mllm_text.h"
#include "models/model.h"

#include "core/options.h"

typedef struct {
    char base[OPT_STR_MAX];   // the base-model file
    char prompt[OPT_STR_MAX]; // "plain" | "augmented" (FedMLLM's prompt augmentation)
    int train_proj;           // 1: the projectors are trainable too
    int lora_r;               // adapter rank
    double lora_alpha, lora_dropout;
} MllmKindOpts;

// Builds m for the data spec from the base-model file: CHECKs (naming the file and the problem)
// that every dense modality of spec has an encoder of its size, at most one token modality with its
// words known, K in [2, 26] with class names, and that the longest possible prompt fits the
// context. Local.
void mllm_kind_create(Model *m, const ModelSpec *spec, const MllmKindOpts *o);

// The parts a caller needs beyond the model contract (CD-CCA reads the encoders' tokens before the
// projector, feeds uploaded tokens, and distils hidden states). All Local; m must be of this kind
// and w a work of it.
// The multimodal LLM's layout. Borrowed.
const Mllm *mllm_kind_mllm(const Model *m);
// The LLM's work of w (its shuf/proj/rows/hid buffers after a forward; dhid_add/dproj_add for the
// next backward). Borrowed.
MllmWork *mllm_kind_work(ModelWork *w);
// The sequences of the last forward (ids, len, slots). Borrowed.
const MllmBatch *mllm_kind_batch(const ModelWork *w);
// From the next forward on, encoder e reads tok[e] (B, n_tok, in_proj) by batch row instead of
// running on the input's dense rows (MllmBatch.tok_in); tok NULL or tok[e] NULL = run the encoder.
// The modalities present are still the input's mask. tok (MLLM_MAX_ENC entries) is borrowed.
void mllm_kind_set_tokens(ModelWork *w, const float *const *tok);
// The token id of option k's letter.
int mllm_kind_letter(const Model *m, int k);
// The tokenizer and its special tokens (free-form prompts and captions). Borrowed.
const MllmVocab *mllm_kind_vocab(const Model *m);
// The parts an mllm backward computes weight gradients for when the trainable floats are sel's
// (NULL = every tensor): what a caller of mllm_backward / mllm_lm_loss passes for the same floats.
MllmTrain mllm_kind_train(const Model *m, const Selection *sel);
