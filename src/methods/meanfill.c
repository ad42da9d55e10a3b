// meanfill.c - mean-fill: BoMM's harness (src/fl/collab.c) without the cloud's large model.
#include "methods/method.h"

COLLAB_FILL_METHOD(
    meanfill, FILL_MEAN,
    "mean-fill: a missing modality's block is that modality's global mean embedding, FedAvg",
    "completion baseline (research/methods.md §1.8)");
