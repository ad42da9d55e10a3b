// mllm_open.c - the tiny multimodal LLM for a dataset file (see mllm_open.h).
#include "train/mllm_open.h"

#include <stdio.h>
#include <string.h>

#include "core/die.h"

void mllm_open(MllmOpened *o, const char *base, const char *data, unsigned ds_flags, int train_proj,
               double lora_dropout) {
    memset(o, 0, sizeof *o);
    char err[1024];
    o->ds = dataset_open_flags(data, ds_flags, err, sizeof err);
    CHECK(o->ds, "%s", err);
    samples_layout(&o->sl, o->ds);
    samples_model_spec(&o->spec, &o->sl, o->ds);
    MllmKindOpts k = {.train_proj = train_proj,
                      .lora_r = MLLM_OPEN_LORA_R,
                      .lora_alpha = MLLM_OPEN_LORA_ALPHA,
                      .lora_dropout = lora_dropout};
    snprintf(k.base, sizeof k.base, "%s", base);
    snprintf(k.prompt, sizeof k.prompt, "plain");
    mllm_kind_create(&o->m, &o->spec, &k);
}

void mllm_open_free(MllmOpened *o) {
    model_free(&o->m);
    dataset_close(o->ds);
    memset(o, 0, sizeof *o);
}
