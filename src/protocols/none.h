// none.h - the protocol of a method that trains nothing: the global model stays as it was
// initialised (for a pre-trained model kind, the base model), is tested under the global protocol,
// and the personal protocol tests that same model on each party's rows (shape.no_finetune). The
// zero-shot row of a table.
#pragma once
#include "protocols/protocol.h"

extern const Protocol protocol_none;
