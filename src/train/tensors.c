// tensors.c - model buffers as named-tensor checkpoint fields (see tensors.h).
#include "train/tensors.h"

#include <stdio.h>
#include <string.h>

#include "core/die.h"

void model_ckpt_fields(CkptList *l, const char *prefix, const Model *m, const Selection *sel,
                       int packed, CkptScope scope, int64_t rows, int64_t row0, int64_t nrows,
                       float *data) {
    int64_t row_len = (int64_t)m->n_params;
    if (packed) {
        CHECK(sel, "%s: a packed buffer needs its selection", prefix);
        row_len = (int64_t)sel->n;
    }
    for (int t = 0; t < m->n_tensors; t++) {
        if (sel && !sel->on[t]) continue;
        const ModelTensor *x = &m->tensor[t];
        int64_t at = packed ? selection_packed_offset(m, sel, t) : (int64_t)x->off;
        char name[CKPT_NAME_MAX];
        snprintf(name, sizeof name, "%s/%s", prefix, x->name);
        CkptField *f =
            ckpt_list_add(l, name, CKPT_F32, scope, rows, (int64_t)x->n, data ? data + at : NULL);
        f->ndim = x->ndim;
        memcpy(f->dims, x->shape, sizeof f->dims);
        f->stride = rows > 0 ? row_len : 0;
        f->offset = (int64_t)x->off;
        if (scope == CKPT_OWN) f->row0 = row0, f->nrows = nrows;
    }
}
