// mllm_open.h - the tiny multimodal LLM for a dataset file, as the tools outside a run build it
// (base_model's zero-shot figures, the PyTorch probe, the benchmark): the file opened and
// validated, its layout and model spec, and --model=mllm from a base-model file with the given
// adapter settings and the plain prompt. Local.
#pragma once
#include "data/dataset.h"
#include "models/mllm_kind.h"
#include "train/samples.h"

// The adapters' rank and α (the kind's defaults, models/kinds.c).
#define MLLM_OPEN_LORA_R 4
#define MLLM_OPEN_LORA_ALPHA 4.0f

typedef struct {
    Dataset *ds; // owned (mllm_open_free closes it)
    SampleLayout sl;
    ModelSpec spec; // borrows the dataset's words and class names
    Model m;
} MllmOpened;

// CHECKs (naming the file) that data opens (dataset_open_flags with ds_flags: the integrity gate
// unless DATASET_GATED) and the kind builds from base. lora_dropout in [0, 1).
void mllm_open(MllmOpened *o, const char *base, const char *data, unsigned ds_flags, int train_proj,
               double lora_dropout);
void mllm_open_free(MllmOpened *o);
