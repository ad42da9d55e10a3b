// mllm_stages.h - the four training stages of the tiny multimodal LLM's base model (make
// base-model; LLaVA-1.5's recipe at toy size, Liu et al. 2023 §4):
//
//   1 text      the LM alone, next-token loss on a text corpus (every LM weight trains)
//   2 encoders  each ViT with a temporary mean-pool + linear head, supervised on the labels of
//               the public rows (the head is thrown away)
//   3 align     LLaVA stage 1: encoders and LM frozen, the projectors learn to caption; the loss is
//               on the caption tokens and <eos>
//   4 instruct  LLaVA stage 2: projectors and the LM's base weights (no LoRA: the full model is
//               tuned and kept) on multiple-choice and yes/no questions about attributes,
//               modalities and captions; the loss is on the answer letter
//   4' tune     the teacher's stage 4 (CD-CCA's cloud model, docs/mllm.md "The teacher"): the
//               same weights on a mixture of the instructions, the parties' 10-way item question
//               exactly as --model=mllm asks it and stage 3's captions, since the teacher
//               pseudo-labels both on the devices' stream
//
// Every stage is deterministic given its seed; each step is AdamW on the stage's selection with
// a cosine schedule (5 % warm-up), global-norm clipping. Curves are appended to the caller's
// arrays. Local (one process; BLAS threads as the caller set them).
#pragma once
#include <stdint.h>

#include "data/dataset.h"
#include "data/facts.h"
#include "data/prompts.h"
#include "models/mllm_text.h"
#include "models/model.h"
#include "train/samples.h"

typedef struct {
    int steps, batch;
    double lr, weight_decay, clip;
} StageOpts;

// The rows a stage reads: loaded once, with their facts. Owned (stage_rows_free).
typedef struct {
    SampleSet set;      // every modality present
    SampleFacts *facts; // (n)
    int64_t n;
} StageRows;

// What every stage shares. Borrowed pointers.
typedef struct {
    const Mllm *mm;
    const Model *layout; // the named tensors of mm (no ops): selections and the file
    const MllmVocab *voc;
    const SampleLayout *sl;
    const PromptClasses *pc;
    int mod_of_enc[MLLM_MAX_ENC]; // the data modality each encoder reads
    int text_mod;                 // the data's token modality, -1 none
    uint64_t seed;
    // the task question's spelling, read by stage_teacher_tune only (NULL / 0 otherwise): the
    // data's class names (task_K of them) and its modality names, as --model=mllm passes them to
    // prompt_task
    const char *const *task_classes;
    int task_K;
    const char *mod_name[FACTS_MAX_MOD];
} StageEnv;

// Loads rows idx (n) of split with every modality present and computes their facts. Local.
void stage_rows_load(StageRows *r, const Dataset *ds, const SampleLayout *sl, DsSplit split,
                     const int64_t *idx, int64_t n);
// The same with each row's modalities from mask (n bitmasks, NULL = every one). Local.
void stage_rows_load_masked(StageRows *r, const Dataset *ds, const SampleLayout *sl, DsSplit split,
                            const int64_t *idx, const uint8_t *mask, int64_t n);
void stage_rows_free(StageRows *r);

// Stage 3's captions for a caller's own training loop (Fed-CMP's parties train the projectors):
// sequences of a row's own image and audio (its mask; a row with neither is an error), "caption:"
// and a caption of its facts (a template and wording drawn from rng), the loss on the caption
// tokens and <eos>. Owned (stage_captions_free); env is borrowed and must outlive it.
typedef struct StageCaptions StageCaptions;
StageCaptions *stage_captions_create(const StageEnv *env, int Bmax);
void stage_captions_free(StageCaptions *c);
// The mean caption loss of rows idx (B <= Bmax) of rows and the counted tokens in *n (may be
// NULL); grads (may be NULL: loss only) += the projectors' gradient. drop: LoRA dropout (NULL =
// none). Local.
double stage_captions_loss(StageCaptions *c, const float *params, float *grads,
                           const StageRows *rows, const int64_t *idx, int B, Rng *rng, Rng *drop,
                           int64_t *n);
// The caption perplexity over every row of val once, its draws from stream (fixed: the same
// captions for every caller). Local.
double stage_captions_ppl(StageCaptions *c, const float *params, const StageRows *val,
                          uint32_t stream);

// A curve: (step, value) pairs appended by the stages. Owned (curve_free).
typedef struct {
    int n, cap;
    double *step, *value;
} Curve;
void curve_add(Curve *c, double step, double value);
void curve_free(Curve *c);

// Stage 1 on a token stream (n tokens; documents separated by <bos>): windows of T tokens; returns
// the final training loss. val (nv tokens): *val_ppl = exp(mean CE) over its windows. Local.
double stage_text(const StageEnv *env, float *params, const int *tokens, int64_t n, int T,
                  const int *val, int64_t nv, const StageOpts *o, Curve *loss, double *val_ppl);
// Stage 2 for encoder e: returns the validation accuracy of its probe on val.
double stage_encoder(const StageEnv *env, float *params, int e, const StageRows *train,
                     const StageRows *val, const StageOpts *o, Curve *loss);
// Stage 3: returns the caption perplexity on val (each row with image, audio or both).
double stage_align(const StageEnv *env, float *params, const StageRows *train, const StageRows *val,
                   const StageOpts *o, Curve *loss);
// Stage 4: returns the accuracy of the answer letter (greedy over the whole vocabulary) on val's
// instruction questions.
double stage_instruct(const StageEnv *env, float *params, const StageRows *train,
                      const StageRows *val, const StageOpts *o, Curve *loss);

// The figures of stage_teacher_tune on val, each task on every row once with its own fixed draws.
typedef struct {
    double items_acc;    // the item question's answer letter (greedy over the whole vocabulary)
    double caption_ppl;  // perplexity of the caption tokens and <eos>
    double instruct_acc; // stage 4's questions
} TeacherTuneFigures;

// Stage 4' (the teacher): projectors and the LM's base weights; each training row draws its task:
// the item question (p 0.4; a random non-empty mix of the data's modalities, the text clause when
// text is present, the plain prompt with p 3/4 else the augmented one, as --model=mllm spells
// them), a caption (p 0.3, stage 3's prompt) or an instruction (p 0.3, stage 4's). CHECKs that
// env names the task's classes and modalities. Returns fig->items_acc.
double stage_teacher_tune(const StageEnv *env, float *params, const StageRows *train,
                          const StageRows *val, const StageOpts *o, Curve *loss,
                          TeacherTuneFigures *fig);
