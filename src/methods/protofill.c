// protofill.c - prototype-fill: BoMM's harness (protocols/bomm.h) without the cloud's large model.
#include "methods/method.h"
#include "protocols/bomm.h"

BOMM_FILL_METHOD(protofill, FILL_PROTO,
                 "prototype-fill: a missing modality's block is the global prototype of the "
                 "row's pseudo-label (PmcmFL-style), FedAvg",
                 "PmcmFL (Bao et al., AAAI 2024) prototype masks, as a fill [S]");
