// zerofill.c - zero-fill: BoMM's harness (protocols/bomm.h) without the cloud's large model.
#include "methods/method.h"
#include "protocols/bomm.h"

BOMM_FILL_METHOD(
    zerofill, FILL_ZERO,
    "zero-fill: a missing modality's block is zero, in the collaboration harness (= FedAvg)",
    "completion baseline (BoMM §1.8 baselines)");
