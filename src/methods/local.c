// local.c - every party trains its own model on its own data; nothing is exchanged (the lower
// bound every collaborative method must beat).
#include "methods/method.h"

const FlMethod fl_method_local = {
    .name = "local",
    .summary = "local: each party alone, no collaboration (lower bound)",
    .provenance = "standard baseline",
    .kind = METHOD_LOCAL,
};
