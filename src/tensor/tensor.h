// tensor.h - a non-owning view of a row-major float32 array with up to 4 dimensions (STYLE.md 9.8).
// Models keep parameters, gradients and activations in one arena each; Tensors name slices of it.
#pragma once

#include <stddef.h>

typedef struct Tensor {
    float *data;      // borrowed: points into an arena owned elsewhere
    int ndim;         // 1..4
    int shape[4];     // unused trailing entries are 1
    const char *name; // for messages and HDF5 dataset names; borrowed
} Tensor;

// Product of the shape. Local.
size_t tensor_numel(const Tensor *t);
// A view of data with the given shape (ndim 1..4; CHECKs positive sizes). Local.
Tensor tensor_view(float *data, const char *name, int ndim, const int *shape);
