// centralized.c - the cloud trains one model on the pooled training data of every party (with the
// same missing-modality masks): the upper bound, which ignores privacy.
#include "methods/method.h"
#include "protocols/central.h"

const Method method_centralized = {
    .opt = {.name = "centralized",
            .summary = "centralized: all party data pooled on the cloud (upper bound)",
            .provenance = "standard baseline"},
    .protocol = &protocol_central,
};
