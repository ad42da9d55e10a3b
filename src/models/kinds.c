// kinds.c - the model kinds' table and their options (see kinds.h).
#include "models/kinds.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "models/mllm_kind.h"
#include "models/mm_large.h"
#include "models/party_model.h"

static void party_create(Model *m, const ModelSpec *spec, int D, const void *opts) {
    (void)opts;
    party_model_create(m, spec, D);
}

static const ModelKind kind_party = {
    .opt = {.name = "party",
            .summary = "the parties' small multimodal model: an encoder per modality, "
                       "concatenation fusion, a head"},
    .create = party_create,
};

typedef struct {
    int layers, heads, tokens;
} TransformerOpts;

#define T_OPT(f) offsetof(TransformerOpts, f)
static const OptSpec transformer_opts[] = {
    {"transformer.layers", OPT_INT, T_OPT(layers), "2", OPT_LO | OPT_HI, 1, 64, NULL,
     "pre-LN blocks", 0},
    {"transformer.heads", OPT_INT, T_OPT(heads), "4", OPT_LO | OPT_HI, 1, 64, NULL,
     "attention heads (--width must be a multiple)", 0},
    {"transformer.tokens", OPT_INT, T_OPT(tokens), "4", OPT_LO | OPT_HI, 1, 64, NULL,
     "tokens per dense modality (token modalities: one per id)", 0},
};
#undef T_OPT

static int transformer_validate(const void *opts, const OptSet *set, char *err, size_t cap) {
    const TransformerOpts *o = opts;
    const int *width = optset_value(set, "width");
    if (width && *width % o->heads != 0) {
        snprintf(err, cap, "--width=%d is not a multiple of --transformer.heads=%d", *width,
                 o->heads);
        return OPT_ERR_BAD_VALUE;
    }
    return OPT_OK;
}

static void transformer_create(Model *m, const ModelSpec *spec, int D, const void *opts) {
    const TransformerOpts *o = opts;
    CHECK(D % o->heads == 0, "--width=%d is not a multiple of --transformer.heads=%d", D, o->heads);
    MmConfig c;
    mm_config_default(&c, spec);
    c.D = D, c.L = o->layers, c.H = o->heads;
    for (int i = 0; i < c.n_mod; i++)
        if (c.kind[i] == MODEL_DENSE) c.n_tok[i] = o->tokens;
    mm_large_create(m, &c, spec->mod_name);
}

static const ModelKind kind_transformer = {
    .opt = {.name = "transformer",
            .summary = "a multimodal transformer classifier over modality tokens (pre-LN blocks, "
                       "masked mean-pool, head)",
            .opts = transformer_opts,
            .n_opts = (int)(sizeof transformer_opts / sizeof transformer_opts[0]),
            .size = sizeof(TransformerOpts),
            .validate = transformer_validate},
    .create = transformer_create,
};

#define L_OPT(f) offsetof(MllmKindOpts, f)
static const OptSpec mllm_opts[] = {
    {"mllm.base", OPT_STRING, L_OPT(base), "data/base/mllm.h5", 0, 0, 0, NULL,
     "the base-model file (make base-model); must exist", OPT_FILE},
    {"mllm.prompt", OPT_CHOICE, L_OPT(prompt), "plain", 0, 0, 0, "plain|augmented",
     "augmented: FedMLLM's prompt augmentation (one wording for every modality mix)", 0},
    {"mllm.train_proj", OPT_INT, L_OPT(train_proj), "0", OPT_LO | OPT_HI, 0, 1, NULL,
     "1: the projectors are trained and exchanged with the adapters (FedMLLM's modules_to_save)",
     0},
    {"mllm.lora_r", OPT_INT, L_OPT(lora_r), "4", OPT_LO | OPT_HI, 1, 1024, NULL,
     "LoRA rank on q, k, v, o of every decoder layer", 0},
    {"mllm.lora_alpha", OPT_DOUBLE, L_OPT(lora_alpha), "4", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10000,
     NULL, "LoRA alpha (scale alpha/r)", 0},
    {"mllm.lora_dropout", OPT_DOUBLE, L_OPT(lora_dropout), "0.05", OPT_LO | OPT_HI | OPT_HI_OPEN, 0,
     1, NULL, "dropout on the adapters' input while training", 0},
};
#undef L_OPT

static void mllm_create(Model *m, const ModelSpec *spec, int D, const void *opts) {
    (void)D; // the base model fixes the widths
    mllm_kind_create(m, spec, opts);
}

static const char *mllm_input_file(const void *opts) { return ((const MllmKindOpts *)opts)->base; }

static const ModelKind kind_mllm = {
    .opt = {.name = "mllm",
            .summary =
                "the tiny multimodal LLM (ViT encoders, projector, LLaMA-style decoder) from "
                "a base-model file, LoRA-tuned; classes as multiple-choice options "
                "(--width is ignored)",
            .opts = mllm_opts,
            .n_opts = (int)(sizeof mllm_opts / sizeof mllm_opts[0]),
            .size = sizeof(MllmKindOpts)},
    .create = mllm_create,
    .input_file = mllm_input_file,
};

const ModelKind *const model_kinds[] = {&kind_party, &kind_transformer, &kind_mllm, NULL};
const int model_n_kinds = (int)(sizeof model_kinds / sizeof model_kinds[0]) - 1;

const ModelKind *model_kind_find(const char *name) {
    for (int i = 0; model_kinds[i]; i++)
        if (!strcmp(model_kinds[i]->opt.name, name)) return model_kinds[i];
    return NULL;
}
