// kinds.h - the model kinds a run can give its parties (--model), each with its typed options.
//
//   party        the small multimodal model (party_model.h): per-modality encoders of width
//                --width, concatenation fusion, a head; encode/fuse split (completion works)
//   transformer  the multimodal transformer classifier of mm_large.h on the raw modalities: dense
//                modalities become transformer.tokens tokens each, token modalities one token per
//                id; width --width, transformer.layers pre-LN blocks of transformer.heads heads
//
// Adding a kind: one entry here and a *_create under the model contract; the driver needs no edit.
#pragma once

#include "core/options.h"
#include "models/model.h"

typedef struct ModelKind {
    OptGroup opt; // name = the --model value; options "<name>.<option>" into a struct of opt.size
    // Builds m for the data spec, with width D and the kind's options (opt.size bytes). CHECKs the
    // combination (naming the option). Local.
    void (*create)(Model *m, const ModelSpec *spec, int D, const void *opts);
    // The file create reads parameters from, with the kind's options (NULL or "": none; the
    // member itself may be NULL). The driver passes it through the integrity gate (io/seal.h) on
    // rank 0 before any rank calls create, and records the digest as Model.pretrained_sha256.
    const char *(*input_file)(const void *opts);
} ModelKind;

extern const ModelKind *const model_kinds[]; // NULL-terminated
extern const int model_n_kinds;
// The kind with that name, or NULL.
const ModelKind *model_kind_find(const char *name);
