// local.c - every party trains its own model on its own data; nothing is exchanged (the lower
// bound every collaborative method must beat).
#include "protocols/local.h"
#include "methods/method.h"

const Method method_local = {
    .opt = {.name = "local",
            .summary = "local: each party alone, no collaboration (lower bound)",
            .provenance = "standard baseline"},
    .protocol = &protocol_local,
};
