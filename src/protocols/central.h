// central.h - the centralized baseline: the cloud trains the global model on the pooled training
// rows of every party (with the same missing-modality masks), the upper bound that ignores
// privacy. The rows travel once: each party's payload in round 1 is its stored rows; the
// simulation reads them on the cloud from the dataset file instead of sending them.
#pragma once

#include "protocols/protocol.h"

extern const Protocol protocol_central;
