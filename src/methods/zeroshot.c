// zeroshot.c - the model as initialised, never trained on the parties' data: for the multimodal
// LLM (--model=mllm) the pre-trained base model answering the parties' task zero-shot.
#include "methods/method.h"
#include "protocols/none.h"

const Method method_zeroshot = {
    .opt = {.name = "zeroshot",
            .summary = "zeroshot: the initial (pre-trained) model, no training (lower bound)",
            .provenance = "standard baseline (FedMLLM's zero-shot row)"},
    .protocol = &protocol_none,
};
