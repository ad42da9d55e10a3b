// tensor.c - see tensor.h.
#include "tensor/tensor.h"

#include "core/die.h"

size_t tensor_numel(const Tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

Tensor tensor_view(float *data, const char *name, int ndim, const int *shape) {
    CHECK(ndim >= 1 && ndim <= 4, "tensor %s: ndim = %d, expected 1..4", name, ndim);
    Tensor t = {.data = data, .ndim = ndim, .shape = {1, 1, 1, 1}, .name = name};
    for (int i = 0; i < ndim; i++) {
        CHECK(shape[i] > 0, "tensor %s: shape[%d] = %d, expected > 0", name, i, shape[i]);
        t.shape[i] = shape[i];
    }
    return t;
}
