// meanfill.c - mean-fill: BoMM's harness (protocols/bomm.h) without the cloud's large model.
#include "methods/method.h"
#include "protocols/bomm.h"

BOMM_FILL_METHOD(
    meanfill, FILL_MEAN,
    "mean-fill: a missing modality's block is that modality's global mean embedding, FedAvg",
    "completion baseline (BoMM §1.8 baselines)");
