// zerofill.c - zero-fill: BoMM's harness (src/fl/collab.c) without the cloud's large model.
#include "methods/method.h"

COLLAB_FILL_METHOD(
    zerofill, FILL_ZERO,
    "zero-fill: a missing modality's block is zero, in the collaboration harness (= FedAvg)",
    "completion baseline (research/methods.md §1.8)");
