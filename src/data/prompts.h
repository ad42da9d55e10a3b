// prompts.h - the text side of issue 12's tiny multimodal LM: captions for alignment training
// (LLaVA stage 1, Liu et al. 2023 §4.1), instruction questions for instruction tuning (stage 2),
// and FedMLLM's task question with and without its prompt augmentation (Xu et al. 2024, §3.5).
//
// The strings are BPE-tokenised (data/bpe.h) for a ~0.1 M-parameter LM, so the language is short,
// lower-case and regular: a few fixed templates with slots filled from a sample's facts
// (data/facts.h). Every string is a pure function of its arguments and the Rng's state: the same
// stream gives the same string. No image/audio placeholders are written (the model inserts its
// tokens itself).
//
// Shared conventions:
//   - out/cap: the string is written NUL-terminated into out (cap bytes); the return is its length,
//     or -1 when cap is too small (out then holds an unspecified prefix; nothing is silently cut).
//   - Options follow the question as " (A) x (B) y ...": the answer is the option's index, its
//     letter 'A' + index. Yes/no answers are options too, "(A) yes (B) no" in random order.
//   - Instruction options are shuffled with the given Rng; the task question's are in class order.
// The instruction families never ask the parties' task (which item, over all class names), so the
// zero-shot evaluation is on a question the LM never saw: no instruction lists more than 4 items.
//
// Not here: tokenisation, the chat template around the strings. [I] reconstruction of the
// templates.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "data/facts.h"

#define PROMPT_MAX_CLASSES 26 // one letter per option
#define PROMPT_MAX_OPTIONS 26

// The words of a dataset's classes in captions and instructions. Transparent.
typedef struct {
    int K;
    const char *names[PROMPT_MAX_CLASSES];  // item word of each class ("sneaker"), borrowed
    const char *coarse[PROMPT_MAX_CLASSES]; // coarse word of each class ("shoe"), borrowed; all
                                            // NULL: no coarse-category questions
    const char *const *words; // the text modality's vocabulary (distractors of TEXTWORD), borrowed;
    int n_words;              // NULL / 0: no text-word questions
} PromptClasses;

// AV-FashionMNIST's: names = lexicon_synonym(c, 0) ("t-shirt", "pullover", ..., "ankle boot"),
// but "trouser" for class 1 (the captions put "a" before the name, and synonym 0 is the plural
// "trousers"), coarse = lexicon_coarse(c). Local.
void prompt_classes_fashion(PromptClasses *pc);

// The instruction families. Attribute families ask one bucket of the facts (as multiple choice over
// the kind's buckets, or yes/no); MODALITIES which modalities the sample has (multiple choice over
// 2-4 sets, or yes/no on one set); COARSE whether the item is in a coarse group (yes/no only, with
// a phrase per coarse word: "is this something you wear on your feet?"); CAPTION which of 2-4
// captions fits (one true, the others with another item or another attribute; multiple choice
// only); TEXTWORD which of 2-10 words is in the sample's text (multiple choice only: the one
// family with long option lists, so the model learns to find an option's letter among many; its
// distractors are vocabulary words other than the class names).
typedef enum {
    PROMPT_FAM_SIZE,
    PROMPT_FAM_TONE,
    PROMPT_FAM_RATE,
    PROMPT_FAM_PITCH,
    PROMPT_FAM_VOICE,
    PROMPT_FAM_MODALITIES,
    PROMPT_FAM_COARSE,
    PROMPT_FAM_CAPTION,
    PROMPT_FAM_TEXTWORD,
    PROMPT_N_FAMILIES
} PromptFamily;

// Caption templates per presence case (image only, audio only, image and audio, neither: the
// item alone, as for a text-only sample).
#define PROMPT_N_CAPTION_TEMPLATES 3

// A one-sentence caption of f ("a small dark sneaker.", "a fast high female voice says sneaker.",
// "a large light coat and a slow low male voice saying coat."): the case follows which of image
// and audio are present ("a text about a coat." when neither), the template is drawn from rng,
// unknown buckets leave their word out, and f->text may be added ("the text says ..."). name is the
// item word (a singular class name or synonym: it follows "a"/"an"); NULL writes "item". Returns
// the length or -1 (cap). Local. CHECKs out, f, rng.
int prompt_caption(char *out, size_t cap, const SampleFacts *f, const char *name, Rng *rng);
// The same with the case's template t in [0, PROMPT_N_CAPTION_TEMPLATES) and without the text
// clause; period = 0 leaves out the final '.' (the captions of the CAPTION family). Local.
int prompt_caption_template(char *out, size_t cap, const SampleFacts *f, const char *name, int t,
                            int period);

// 1 when family fam can be asked about f: the attribute's bucket is known; MODALITIES needs >= 2
// modalities and one present; COARSE a known label with a coarse word and another coarse word in
// pc; CAPTION a known label (with K >= 2) or a known attribute. Local. CHECKs f, pc, fam.
int prompt_family_available(const SampleFacts *f, const PromptClasses *pc, int fam);

// One instruction question about f into q (qcap bytes), options included: a family drawn uniformly
// from the available ones, then its form (multiple choice or yes/no, each 1/2 where the family has
// both), then the question. For yes/no the answer is drawn first (yes with p = 1/2) and the asked
// value made to match, so yes and no are balanced. *n_options = the options written, *answer =
// the true one's index. Returns the length or -1 (qcap). Local. CHECKs pointers, pc->K in
// [1, PROMPT_MAX_CLASSES], f->label < pc->K, and that some family is available.
int prompt_instruction(char *q, size_t qcap, int *n_options, int *answer, const SampleFacts *f,
                       const PromptClasses *pc, Rng *rng);
// The same for one family and form (yes_no = 1: yes/no; ignored by COARSE, always yes/no, and
// CAPTION, always multiple choice). CHECKs that fam is available for f.
int prompt_instruction_family(char *q, size_t qcap, int *n_options, int *answer,
                              const SampleFacts *f, const PromptClasses *pc, int fam, int yes_no,
                              Rng *rng);

// FedMLLM's task question with its K options in class order (class c is option c, letter 'A' + c;
// class names lower-cased, '_' as ' '):
//   task 0: "what item is shown[ based on the image and text]? (A) t-shirt/top ... (J) ankle boot"
//   task 1: "is this meme hateful[ based on the image and text]? (A) not hateful (B) hateful"
// augmented = 0 names the present modalities (present (n_mod) flags, mod_names (n_mod) their words:
// "based on the text", "based on the image, audio and text"; no phrase when none is present);
// augmented = 1 (FedMLLM's prompt augmentation) never does, and appends ", without considering the
// modality" to the question instead, so the string is the same for every mask. Returns the length
// or -1 (qcap). Local. CHECKs pointers (present and mod_names are read only when augmented = 0
// and n_mod > 0, and may be NULL otherwise), 1 <= K <= PROMPT_MAX_CLASSES, 0 <= n_mod <=
// FACTS_MAX_MOD, task 0 or 1.
int prompt_task(char *q, size_t qcap, const char *const *class_names, int K, const uint8_t *present,
                const char *const *mod_names, int n_mod, int augmented, int task);

// A corpus for the tokenizer's training text: newline-separated strings covering every template
// family on facts drawn from seed (the modalities of src, the classes of pc): every caption
// template of every presence case for every class, `per_family` instructions of each available
// family and form, and the task question (task, task_names (K_task)) for every modality mask,
// plain and augmented (left out when task_names is NULL). Returns the length or -1 (cap). Local.
// CHECKs out, pc, src, per_family >= 1 and what the writers above CHECK.
int prompt_corpus(char *out, size_t cap, const PromptClasses *pc, const FactsSource *src,
                  const char *const *task_names, int K_task, int task, int per_family,
                  uint64_t seed);
