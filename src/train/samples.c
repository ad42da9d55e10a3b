// samples.c - stored rows and their minibatches (see samples.h).
#include "train/samples.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

static size_t dtype_size(DsDtype t) { return t == DS_U8 ? 1 : 4; }

void samples_layout(SampleLayout *l, const Dataset *ds) {
    memset(l, 0, sizeof *l);
    l->n_mod = dataset_n_modalities(ds);
    CHECK(l->n_mod >= 1 && l->n_mod <= MODEL_MAX_MOD, "%s: %d modalities (1..%d supported)",
          dataset_path(ds), l->n_mod, MODEL_MAX_MOD);
    for (int m = 0; m < l->n_mod; m++) {
        const DatasetModality *dm = dataset_modality(ds, m);
        l->dtype[m] = dm->dtype;
        l->row_elems[m] = dm->row_elems;
        l->standardise[m] = dm->dtype == DS_U8 && dm->scale != 0;
        l->pad_id[m] = dm->dtype == DS_I32 ? dataset_pad_id(ds) : -1;
        l->has_pad[m] = l->pad_id[m] >= 0;
    }
}

void samples_model_spec(ModelSpec *c, const SampleLayout *l, const Dataset *ds) {
    memset(c, 0, sizeof *c);
    c->n_mod = l->n_mod;
    c->K = dataset_n_classes(ds);
    c->class_names = dataset_class_names(ds);
    for (int m = 0; m < l->n_mod; m++) {
        snprintf(c->mod_name[m], sizeof c->mod_name[m], "%s", dataset_modality(ds, m)->name);
        CHECK(l->row_elems[m] <= INT32_MAX, "%s: modality %s: %lld elements per row",
              dataset_path(ds), dataset_modality(ds, m)->name, (long long)l->row_elems[m]);
        c->in_dim[m] = (int)l->row_elems[m];
        if (l->dtype[m] == DS_I32) {
            c->kind[m] = MODEL_TOKENS;
            c->vocab[m] = dataset_vocab_size(ds);
            CHECK(c->vocab[m] > 0, "%s: token modality without a vocabulary", dataset_path(ds));
            c->words[m] = dataset_vocab_words(ds);
        } else {
            c->kind[m] = MODEL_DENSE;
        }
    }
}

void sampleset_load(SampleSet *s, const SampleLayout *l, const Dataset *ds, DsSplit split,
                    const int64_t *idx, const uint8_t *mask, int64_t n) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->label = xmalloc((size_t)n * sizeof *s->label);
    s->mask = xmalloc((size_t)n);
    if (n > 0) {
        dataset_read_labels_idx(ds, split, idx, n, s->label);
        memcpy(s->mask, mask, (size_t)n);
    }
    for (int m = 0; m < l->n_mod; m++) {
        s->raw[m] = xmalloc((size_t)n * (size_t)l->row_elems[m] * dtype_size(l->dtype[m]));
        if (n > 0) dataset_read_raw_idx(ds, split, m, idx, n, s->raw[m]);
    }
}

// Bytes rounded up to a multiple of 64: each array of the shared allocation starts on a cache line.
static size_t round64(size_t b) { return (b + 63) & ~(size_t)63; }

void *sampleset_load_parties(SampleSet *sets, int k, const SampleLayout *l, const Dataset *ds,
                             DsSplit split, const int64_t *const *idx, const uint8_t *const *mask,
                             const int64_t *n) {
    CHECK(k >= 0 && (k == 0 || (sets && idx && mask && n)), "sampleset_load_parties: k = %d", k);
    int64_t total = 0;
    for (int j = 0; j < k; j++) {
        CHECK(n[j] >= 0 && (n[j] == 0 || (idx[j] && mask[j])), "set %d: n = %lld", j,
              (long long)n[j]);
        total += n[j];
    }
    size_t rows = (size_t)total, at[MODEL_MAX_MOD + 2], bytes = 0;
    at[0] = bytes, bytes += round64(rows * sizeof(int32_t)); // labels
    at[1] = bytes, bytes += round64(rows);                   // masks
    for (int m = 0; m < l->n_mod; m++)
        at[2 + m] = bytes,
               bytes += round64(rows * (size_t)l->row_elems[m] * dtype_size(l->dtype[m]));
    char *pool = xcalloc_aligned(bytes + 1);
    int64_t *all = xmalloc(rows * sizeof *all + 1); // every set's rows, in set order
    int64_t off = 0;
    for (int j = 0; j < k; j++) {
        SampleSet *s = &sets[j];
        memset(s, 0, sizeof *s);
        s->n = n[j];
        s->label = (int32_t *)(pool + at[0]) + off;
        s->mask = (uint8_t *)(pool + at[1]) + off;
        for (int m = 0; m < l->n_mod; m++)
            s->raw[m] =
                pool + at[2 + m] + (size_t)off * (size_t)l->row_elems[m] * dtype_size(l->dtype[m]);
        if (n[j] > 0) {
            memcpy(all + off, idx[j], (size_t)n[j] * sizeof *all);
            memcpy(s->mask, mask[j], (size_t)n[j]);
        }
        off += n[j];
    }
    if (total > 0) {
        dataset_read_labels_idx(ds, split, all, total, (int32_t *)(pool + at[0]));
        for (int m = 0; m < l->n_mod; m++)
            dataset_read_raw_idx(ds, split, m, all, total, pool + at[2 + m]);
    }
    xfree(all);
    return pool;
}

void sampleset_free(SampleSet *s) {
    xfree(s->label);
    xfree(s->mask);
    for (int m = 0; m < MODEL_MAX_MOD; m++)
        xfree(s->raw[m]);
    memset(s, 0, sizeof *s);
}

int64_t sampleset_bytes(const SampleSet *s, const SampleLayout *l) {
    int64_t row = 0;
    for (int m = 0; m < l->n_mod; m++)
        row += l->row_elems[m] * (int64_t)dtype_size(l->dtype[m]);
    return s->n * row;
}

void batch_init(Batch *b, const SampleLayout *l, int Bmax) {
    CHECK(Bmax > 0, "Bmax = %d", Bmax);
    memset(b, 0, sizeof *b);
    b->Bmax = Bmax;
    for (int m = 0; m < l->n_mod; m++) {
        size_t elems = (size_t)Bmax * (size_t)l->row_elems[m];
        if (l->dtype[m] == DS_I32) {
            b->tokens[m] = xmalloc(elems * sizeof(int));
            b->in.tokens[m] = b->tokens[m];
        } else {
            b->dense[m] = xcalloc_aligned(elems * sizeof(float));
            b->in.dense[m] = b->dense[m];
        }
    }
    b->mask = xmalloc((size_t)Bmax * (size_t)l->n_mod);
    b->label = xmalloc((size_t)Bmax * sizeof(int));
    b->in.mask = b->mask;
}

void batch_free(Batch *b) {
    for (int m = 0; m < MODEL_MAX_MOD; m++)
        xfree(b->dense[m]), xfree(b->tokens[m]);
    xfree(b->mask);
    xfree(b->label);
    memset(b, 0, sizeof *b);
}

// (q - mean) / (std + eps) over one sample, statistics in double; eps keeps a constant row finite.
static void standardise_row(float *dst, const uint8_t *src, size_t E) {
    double sum = 0, sq = 0;
    for (size_t e = 0; e < E; e++)
        sum += src[e], sq += (double)src[e] * src[e];
    double mean = sum / (double)E, var = sq / (double)E - mean * mean;
    float inv = (float)(1.0 / (sqrt(var > 0 ? var : 0) + 1.0)); // eps: one quantisation step
    for (size_t e = 0; e < E; e++)
        dst[e] = ((float)src[e] - (float)mean) * inv;
}

void sampleset_batch(const SampleSet *s, const SampleLayout *l, const int64_t *order, int64_t start,
                     int B, Batch *b) {
    CHECK(B >= 1 && B <= b->Bmax, "B = %d outside 1..%d", B, b->Bmax);
    CHECK(start >= 0 && start + B <= s->n, "rows [%lld, %lld) outside %lld", (long long)start,
          (long long)(start + B), (long long)s->n);
    b->B = b->in.B = B;
    for (int i = 0; i < B; i++) {
        int64_t r = order ? order[start + i] : start + i;
        b->label[i] = s->label[r];
        for (int m = 0; m < l->n_mod; m++) {
            int present = (s->mask[r] >> m) & 1;
            size_t E = (size_t)l->row_elems[m];
            b->mask[(size_t)i * (size_t)l->n_mod + (size_t)m] = (uint8_t)present;
            if (l->dtype[m] == DS_I32) {
                int *dst = b->tokens[m] + (size_t)i * E;
                const int32_t *src = (const int32_t *)s->raw[m] + (size_t)r * E;
                int pad = l->has_pad[m] ? l->pad_id[m] : -1;
                for (size_t e = 0; e < E; e++) // padding and a missing text: no token
                    dst[e] = present && src[e] != pad ? src[e] : -1;
            } else if (l->dtype[m] == DS_U8) {
                float *dst = b->dense[m] + (size_t)i * E;
                const uint8_t *src = (const uint8_t *)s->raw[m] + (size_t)r * E;
                if (present && l->standardise[m])
                    standardise_row(dst, src, E);
                else
                    for (size_t e = 0; e < E; e++)
                        dst[e] = present ? (float)src[e] * (1.f / 255.f) : 0.f;
            } else {
                float *dst = b->dense[m] + (size_t)i * E;
                const float *src = (const float *)s->raw[m] + (size_t)r * E;
                if (present)
                    memcpy(dst, src, E * sizeof(float));
                else
                    memset(dst, 0, E * sizeof(float));
            }
        }
    }
}

void sampleset_facts(SampleFacts *f, const SampleSet *s, const SampleLayout *l, const Dataset *ds,
                     DsSplit split, const int64_t *idx) {
    CHECK(f && s && l && ds && (idx || s->n == 0), "sampleset_facts: NULL argument");
    FactsSource src;
    facts_source_init(&src, ds);
    const int n_meta = dataset_n_meta(ds);
    int32_t *meta = n_meta && s->n ? xmalloc((size_t)s->n * n_meta * sizeof *meta) : NULL;
    if (meta) dataset_read_meta_idx(ds, split, idx, s->n, meta);
    Batch b;
    batch_init(&b, l, 64);
    for (int64_t at = 0; at < s->n; at += 64) {
        int B = (int)(s->n - at < 64 ? s->n - at : 64);
        sampleset_batch(s, l, NULL, at, B, &b);
        for (int i = 0; i < B; i++) {
            int64_t row = at + i;
            uint8_t present[FACTS_MAX_MOD];
            for (int m = 0; m < src.n_mod; m++)
                present[m] = (uint8_t)(s->mask[row] >> m & 1);
            const float *img =
                src.image_mod >= 0 ? b.dense[src.image_mod] + (size_t)i * src.image_elems : NULL;
            const int32_t *txt = src.text_mod >= 0
                                     ? (const int32_t *)s->raw[src.text_mod] + row * src.text_len
                                     : NULL;
            facts_from_row(&f[row], &src, s->label[row], present, img,
                           meta ? meta + row * n_meta : NULL, txt);
        }
    }
    batch_free(&b);
    xfree(meta);
}
