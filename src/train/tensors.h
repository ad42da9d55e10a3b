// tensors.h - a model's buffers (parameters, optimizer moments, per-party copies) as checkpoint
// fields, one dataset per named tensor (io/ckpt.h): "<prefix>/<tensor>" of the tensor's shape,
// stacked over rows (parties, slots) as (rows, shape...) where there are several, with the
// tensor's offset in the model's buffer as the "offset" attribute, so h5dump and h5py show names
// and shapes instead of one anonymous vector.
#pragma once
#include <stdint.h>

#include "io/ckpt.h"
#include "models/model.h"

// Appends one field per tensor of m, or per selected tensor when sel is not NULL, under prefix.
// data holds this rank's rows: rows > 0 stacks (rows, shape...) with this rank's rows
// [row0, row0 + nrows) (CKPT_OWN) or all of them (CKPT_SHARED / CKPT_CLOUD); rows == 0 is one
// unstacked row. A row is a model buffer of n_params floats (packed = 0) or a packed selection of
// sel->n floats (packed = 1, sel required). data may be NULL where this rank holds none. Local.
void model_ckpt_fields(CkptList *l, const char *prefix, const Model *m, const Selection *sel,
                       int packed, CkptScope scope, int64_t rows, int64_t row0, int64_t nrows,
                       float *data);
