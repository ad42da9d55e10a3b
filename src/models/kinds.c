// kinds.c - the model kinds' table and their options (see kinds.h).
#include "models/kinds.h"

#include <stddef.h>
#include <string.h>

#include "core/die.h"
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
    {"transformer.layers", OPT_INT, T_OPT(layers), "2", OPT_LO, 1, 0, NULL, "pre-LN blocks", 0},
    {"transformer.heads", OPT_INT, T_OPT(heads), "4", OPT_LO, 1, 0, NULL,
     "attention heads (--width must be a multiple)", 0},
    {"transformer.tokens", OPT_INT, T_OPT(tokens), "4", OPT_LO, 1, 0, NULL,
     "tokens per dense modality (token modalities: one per id)", 0},
};
#undef T_OPT

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
            .size = sizeof(TransformerOpts)},
    .create = transformer_create,
};

const ModelKind *const model_kinds[] = {&kind_party, &kind_transformer, NULL};
const int model_n_kinds = (int)(sizeof model_kinds / sizeof model_kinds[0]) - 1;

const ModelKind *model_kind_find(const char *name) {
    for (int i = 0; model_kinds[i]; i++)
        if (!strcmp(model_kinds[i]->opt.name, name)) return model_kinds[i];
    return NULL;
}
