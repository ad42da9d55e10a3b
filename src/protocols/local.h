// local.h - local training: every party keeps its own model and optimizer state and trains alone;
// nothing is exchanged (the lower bound every collaborative method must beat).
#pragma once

#include "protocols/protocol.h"

extern const Protocol protocol_local;
