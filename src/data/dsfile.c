// dsfile.c - the one writer of mmcollab dataset files (format in dsfile.h and datasets/README.md).
//
// Determinism: rows are staged in memory and written one whole chunk at a time, in a canonical
// order that depends only on the spec and the row counts: splits in order (train, then test), and
// within a split, at every chunk boundary, the datasets in stored order (label, entity, meta,
// modalities). So the bytes do not depend on how a builder cuts its appends, nor on whether it
// interleaves the splits (test rows appended before train is full wait in memory). No timestamps
// are stored.
#include "data/dsfile.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "io/seal.h"

#define DS_CHUNK_TARGET_BYTES (256 * 1024) // per chunk: small enough for gathers of random rows
#define DS_CHUNK_MAX_ROWS 65536
#define DS_DEFLATE_LEVEL 1                  // level 4 took 3x the time for ~1% smaller SynMM files
#define DS_MAX_SETS (3 + DS_MAX_MODALITIES) // label, entity, meta, modalities

typedef struct {
    hid_t dset;         // -1 when absent (meta with n_meta == 0)
    size_t row_bytes;   // bytes per row in memory and in the file
    int64_t chunk_rows; // rows per chunk, a multiple of the split's unit
    int rank;           // dataset rank: 1 + per-sample dims
    hsize_t dims[1 + DS_MAX_DIMS];
    unsigned char *stage; // staged rows not yet written, from row `written`
    int64_t stage_cap;    // rows
} DsSet;

typedef struct {
    hid_t group;
    int64_t n;        // rows announced by the spec
    int64_t appended; // rows received
    int64_t written;  // rows written to the file (a multiple of the unit, or n)
    int64_t unit;     // chunk boundary step shared by all datasets of the split
    DsSet set[DS_MAX_SETS];
} DsSplitState;

struct DsWriter {
    char *path, *tmp;
    hid_t file;
    int n_classes, n_meta, n_modalities, vocab_size;
    DsModality mod[DS_MAX_MODALITIES];    // names/kinds borrowed only during create
    int is_text[DS_MAX_MODALITIES];       // token ids to check against the vocabulary
    char mod_name[DS_MAX_MODALITIES][64]; // for messages
    DsSplitState split[2];
};

static const char *split_name[2] = {"train", "test"};

static size_t dtype_size(DsDtype t) { return t == DS_U8 ? 1 : 4; }

static hid_t dtype_file(DsDtype t) {
    return t == DS_U8 ? H5T_STD_U8LE : t == DS_I32 ? H5T_STD_I32LE : H5T_IEEE_F32LE;
}
static hid_t dtype_mem(DsDtype t) {
    return t == DS_U8 ? H5T_NATIVE_UINT8 : t == DS_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
}

// ---- attributes ----

// A fixed-length, null-padded UTF-8 string type wide enough for the longest of n strings (at
// least one byte), and the strings packed into a zeroed buffer of n * its size (owned: xfree).
static hid_t fixed_str_type(int n, const char *const *s, char **packed) {
    size_t width = 1;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(s[i]);
        if (len > width) width = len;
    }
    char *buf = xcalloc((size_t)(n > 0 ? n : 1), width);
    for (int i = 0; i < n; i++)
        memcpy(buf + (size_t)i * width, s[i], strlen(s[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5_CHECK(t);
    H5_CHECK(H5Tset_size(t, width));
    H5_CHECK(H5Tset_strpad(t, H5T_STR_NULLPAD));
    H5_CHECK(H5Tset_cset(t, H5T_CSET_UTF8));
    *packed = buf;
    return t;
}

static void attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n,
                       const void *buf) {
    hsize_t dim = (hsize_t)n;
    hid_t space = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    H5_CHECK(space);
    hid_t a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Awrite(a, mtype, buf));
    H5_CHECK(H5Aclose(a));
    H5_CHECK(H5Sclose(space));
}

// A scalar string (n = -1) or an array of n strings, fixed-length.
static void attr_strs(hid_t loc, const char *name, int n, const char *const *s) {
    char *packed;
    hid_t t = fixed_str_type(n < 0 ? 1 : n, s, &packed);
    attr_write(loc, name, t, t, n, packed);
    H5_CHECK(H5Tclose(t));
    xfree(packed);
}
static void attr_str(hid_t loc, const char *name, const char *s) {
    const char *one[1] = {s ? s : ""};
    attr_strs(loc, name, -1, one);
}

// ---- create ----

// Each of the n strings non-NULL and at most DS_MAX_STRING bytes (what the reader accepts).
static void check_strs(const char *path, const char *what, int n, const char *const *s) {
    for (int i = 0; i < n; i++) {
        CHECK(s[i] != NULL, "%s: %s[%d] is NULL", path, what, i);
        CHECK(strlen(s[i]) <= DS_MAX_STRING, "%s: %s[%d] has %zu bytes (at most %d)", path, what, i,
              strlen(s[i]), DS_MAX_STRING);
    }
}

static void check_spec(const char *path, const DsSpec *s) {
    CHECK(s->n_classes >= 2 && s->n_classes <= DS_MAX_CLASSES, "%s: n_classes = %d, need 2..%d",
          path, s->n_classes, DS_MAX_CLASSES);
    CHECK_PTR(s->class_names);
    check_strs(path, "class_names", s->n_classes, s->class_names);
    const char *prov[5] = {s->name ? s->name : "", s->version ? s->version : "",
                           s->source ? s->source : "", s->licence ? s->licence : "",
                           s->builder ? s->builder : ""};
    check_strs(path, "name/version/source/licence/builder", 5, prov);
    CHECK(s->n_modalities >= 1 && s->n_modalities <= DS_MAX_MODALITIES,
          "%s: n_modalities = %d, need 1..%d", path, s->n_modalities, DS_MAX_MODALITIES);
    CHECK(s->n_meta >= 0 && s->n_meta <= DS_MAX_META && (s->n_meta == 0 || s->meta_names != NULL),
          "%s: n_meta = %d (at most %d) with meta_names %p", path, s->n_meta, DS_MAX_META,
          (const void *)s->meta_names);
    check_strs(path, "meta_names", s->n_meta, s->meta_names);
    CHECK(s->vocab_size >= 0 && s->vocab_size <= DS_MAX_VOCAB &&
              (s->vocab_size == 0 || s->vocab != NULL),
          "%s: vocab_size = %d (at most %d) with vocab %p", path, s->vocab_size, DS_MAX_VOCAB,
          (const void *)s->vocab);
    check_strs(path, "vocab", s->vocab_size, s->vocab);
    CHECK(s->n[DS_TRAIN] >= 1, "%s: n[train] = %lld: a dataset needs training rows", path,
          (long long)s->n[DS_TRAIN]);
    for (int sp = 0; sp < 2; sp++)
        CHECK(s->n[sp] >= 0 && s->n[sp] <= DS_MAX_ELEMS, "%s: n[%d] = %lld outside [0, %lld]", path,
              sp, (long long)s->n[sp], (long long)DS_MAX_ELEMS);
    for (int m = 0; m < s->n_modalities; m++) {
        const DsModality *md = &s->modalities[m];
        CHECK(md->name && md->name[0], "%s: modality %d has no name", path, m);
        CHECK(md->kind && (!strcmp(md->kind, "image") || !strcmp(md->kind, "audio") ||
                           !strcmp(md->kind, "text") || !strcmp(md->kind, "vector")),
              "%s: modality %s: kind \"%s\" is not image|audio|text|vector", path, md->name,
              md->kind ? md->kind : "(null)");
        CHECK(md->dtype == DS_U8 || md->dtype == DS_I32 || md->dtype == DS_F32,
              "%s: modality %s: dtype %d unknown", path, md->name, (int)md->dtype);
        CHECK(md->ndims >= 1 && md->ndims <= DS_MAX_DIMS, "%s: modality %s: ndims = %d, need 1..%d",
              path, md->name, md->ndims, DS_MAX_DIMS);
        int64_t row = 1;
        for (int d = 0; d < md->ndims; d++) {
            CHECK(md->dims[d] >= 1 && md->dims[d] <= DS_MAX_ROW_ELEMS,
                  "%s: modality %s: dims[%d] = %lld", path, md->name, d, (long long)md->dims[d]);
            row *= md->dims[d];
        }
        CHECK(row <= DS_MAX_ROW_ELEMS, "%s: modality %s: %lld elements per row (at most %d)", path,
              md->name, (long long)row, DS_MAX_ROW_ELEMS);
        for (int sp = 0; sp < 2; sp++)
            CHECK(s->n[sp] <= DS_MAX_ELEMS / row,
                  "%s: modality %s: %lld rows of %lld elements exceed %lld elements", path,
                  md->name, (long long)s->n[sp], (long long)row, (long long)DS_MAX_ELEMS);
        CHECK(isfinite(md->scale) && isfinite(md->offset) && md->scale >= 0,
              "%s: modality %s: scale %g offset %g", path, md->name, md->scale, md->offset);
        CHECK(md->scale == 0 || md->dtype == DS_U8,
              "%s: modality %s: scale %g set on a non-uint8 dtype", path, md->name, md->scale);
        CHECK(strcmp(md->kind, "text") || (md->dtype == DS_I32 && s->vocab_size > 0),
              "%s: text modality %s needs dtype int32 and a vocabulary (vocab_size %d)", path,
              md->name, s->vocab_size);
        for (int o = 0; o < m; o++)
            CHECK(strcmp(md->name, s->modalities[o].name), "%s: modality name %s repeated", path,
                  md->name);
        CHECK(strcmp(md->name, "label") && strcmp(md->name, "entity") && strcmp(md->name, "meta"),
              "%s: modality name %s is reserved", path, md->name);
    }
}

// Creates one dataset of n rows of the given per-row shape; chunked + shuffle + deflate unless
// empty.
static void set_create(DsSet *st, hid_t group, const char *name, hid_t ftype, int64_t n, int rank,
                       const hsize_t *row_dims, size_t row_bytes, int64_t chunk_rows) {
    st->rank = rank;
    st->dims[0] = (hsize_t)n;
    for (int d = 1; d < rank; d++)
        st->dims[d] = row_dims[d - 1];
    st->row_bytes = row_bytes;
    st->chunk_rows = chunk_rows;
    hid_t space = H5Screate_simple(rank, st->dims, NULL);
    H5_CHECK(space);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(dcpl);
    H5_CHECK(H5Pset_obj_track_times(dcpl, 0));
    if (n > 0) {
        hsize_t chunk[1 + DS_MAX_DIMS];
        chunk[0] = (hsize_t)(chunk_rows < n ? chunk_rows : n);
        for (int d = 1; d < rank; d++)
            chunk[d] = st->dims[d];
        H5_CHECK(H5Pset_chunk(dcpl, rank, chunk));
        H5_CHECK(H5Pset_shuffle(dcpl));
        H5_CHECK(H5Pset_deflate(dcpl, DS_DEFLATE_LEVEL));
        H5_CHECK(H5Pset_fletcher32(dcpl)); // a damaged chunk fails its read instead of misleading
        H5_CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_INCR));
        H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    }
    st->dset = H5Dcreate2(group, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_CHECK(st->dset);
    H5_CHECK(H5Pclose(dcpl));
    H5_CHECK(H5Sclose(space));
}

DsWriter *dsfile_create(const char *path, const DsSpec *spec) {
    CHECK_PTR(path);
    CHECK_PTR(spec);
    check_spec(path, spec);
    DsWriter *w = xcalloc(1, sizeof *w);
    size_t len = strlen(path);
    w->path = xmalloc(len + 1);
    memcpy(w->path, path, len + 1);
    w->tmp = xmalloc(len + 5);
    snprintf(w->tmp, len + 5, "%s.tmp", path);
    w->n_classes = spec->n_classes;
    w->n_meta = spec->n_meta;
    w->n_modalities = spec->n_modalities;
    w->vocab_size = spec->vocab_size;
    memcpy(w->mod, spec->modalities, sizeof w->mod);

    // No timestamps anywhere: track_times off on the root group (fcpl), groups and datasets.
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5_CHECK(fcpl);
    H5_CHECK(H5Pset_obj_track_times(fcpl, 0));
    // The 1.10 file format: checksums over every metadata block (object headers, chunk indexes,
    // superblock), so that HDF5 itself refuses most damage even in a file read unverified.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_CHECK(fapl);
    H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110));
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (w->file < 0) die_h5_at(__FILE__, __LINE__, __func__, w->tmp); // names the path
    H5_CHECK(H5Pclose(fcpl));
    H5_CHECK(H5Pclose(fapl));

    hid_t root = w->file;
    int schema = DSFILE_SCHEMA;
    attr_write(root, "schema", H5T_STD_I32LE, H5T_NATIVE_INT, -1, &schema);
    attr_str(root, "name", spec->name);
    attr_str(root, "version", spec->version);
    attr_str(root, "source", spec->source);
    attr_str(root, "licence", spec->licence);
    attr_str(root, "builder", spec->builder);
    attr_write(root, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, -1, &spec->seed);
    attr_strs(root, "classes", spec->n_classes, spec->class_names);
    const char *mnames[DS_MAX_MODALITIES];
    for (int m = 0; m < spec->n_modalities; m++)
        mnames[m] = spec->modalities[m].name;
    attr_strs(root, "modalities", spec->n_modalities, mnames);

    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5_CHECK(gcpl);
    H5_CHECK(H5Pset_obj_track_times(gcpl, 0));
    if (spec->vocab_size > 0) {
        hsize_t v = (hsize_t)spec->vocab_size;
        hid_t space = H5Screate_simple(1, &v, NULL);
        H5_CHECK(space);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5_CHECK(dcpl);
        H5_CHECK(H5Pset_obj_track_times(dcpl, 0));
        char *packed;
        hid_t t = fixed_str_type(spec->vocab_size, spec->vocab, &packed);
        hid_t d = H5Dcreate2(root, "vocab", t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5_CHECK(d);
        H5_CHECK(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, packed));
        H5_CHECK(H5Dclose(d));
        H5_CHECK(H5Tclose(t));
        xfree(packed);
        H5_CHECK(H5Pclose(dcpl));
        H5_CHECK(H5Sclose(space));
    }

    for (int sp = 0; sp < 2; sp++) {
        DsSplitState *s = &w->split[sp];
        s->n = spec->n[sp];
        s->group = H5Gcreate2(root, split_name[sp], H5P_DEFAULT, gcpl, H5P_DEFAULT);
        H5_CHECK(s->group);
        attr_write(s->group, "n", H5T_STD_I64LE, H5T_NATIVE_INT64, -1, &s->n);

        // The unit: rows per chunk of the widest dataset; narrower ones take a multiple of it.
        size_t row_bytes[DS_MAX_SETS] = {4, 8, (size_t)spec->n_meta * 4};
        size_t widest = 8;
        for (int m = 0; m < spec->n_modalities; m++) {
            const DsModality *md = &spec->modalities[m];
            size_t rb = dtype_size(md->dtype);
            for (int d = 0; d < md->ndims; d++)
                rb *= (size_t)md->dims[d];
            row_bytes[3 + m] = rb;
            if (rb > widest) widest = rb;
        }
        if (row_bytes[2] > widest) widest = row_bytes[2];
        int64_t unit = (int64_t)(DS_CHUNK_TARGET_BYTES / widest);
        if (unit < 1) unit = 1;
        if (unit > DS_CHUNK_MAX_ROWS) unit = DS_CHUNK_MAX_ROWS;
        s->unit = unit;
        for (int k = 0; k < DS_MAX_SETS; k++) {
            s->set[k].dset = -1;
            if (k >= 3 + spec->n_modalities || row_bytes[k] == 0) continue;
            int64_t mult = (int64_t)(DS_CHUNK_TARGET_BYTES / row_bytes[k]) / unit;
            if (mult < 1) mult = 1;
            if (mult * unit > DS_CHUNK_MAX_ROWS)
                mult = DS_CHUNK_MAX_ROWS / unit > 0 ? DS_CHUNK_MAX_ROWS / unit : 1;
            int64_t crows = mult * unit;
            if (k == 0) {
                set_create(&s->set[k], s->group, "label", H5T_STD_I32LE, s->n, 1, NULL, 4, crows);
            } else if (k == 1) {
                set_create(&s->set[k], s->group, "entity", H5T_STD_I64LE, s->n, 1, NULL, 8, crows);
            } else if (k == 2) {
                hsize_t kdim = (hsize_t)spec->n_meta;
                set_create(&s->set[k], s->group, "meta", H5T_STD_I32LE, s->n, 2, &kdim,
                           row_bytes[k], crows);
                attr_strs(s->set[k].dset, "columns", spec->n_meta, spec->meta_names);
            } else {
                const DsModality *md = &spec->modalities[k - 3];
                hsize_t rd[DS_MAX_DIMS];
                for (int d = 0; d < md->ndims; d++)
                    rd[d] = (hsize_t)md->dims[d];
                set_create(&s->set[k], s->group, md->name, dtype_file(md->dtype), s->n,
                           1 + md->ndims, rd, row_bytes[k], crows);
                attr_str(s->set[k].dset, "kind", md->kind);
                if (md->dtype == DS_U8 && md->scale != 0) {
                    attr_write(s->set[k].dset, "scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, -1,
                               &md->scale);
                    attr_write(s->set[k].dset, "offset", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, -1,
                               &md->offset);
                }
            }
        }
    }
    H5_CHECK(H5Pclose(gcpl));
    // Names and kinds are the caller's: keep only what append needs.
    for (int m = 0; m < w->n_modalities; m++) {
        w->is_text[m] = !strcmp(w->mod[m].kind, "text");
        snprintf(w->mod_name[m], sizeof w->mod_name[m], "%s", w->mod[m].name);
        w->mod[m].name = w->mod[m].kind = NULL;
    }
    return w;
}

// ---- append ----

static hid_t set_mem_type(const DsWriter *w, int k) {
    if (k == 0 || k == 2) return H5T_NATIVE_INT32;
    if (k == 1) return H5T_NATIVE_INT64;
    return dtype_mem(w->mod[k - 3].dtype);
}

// Writes the first `rows` staged rows of dataset k to file rows [from, from + rows).
static void write_rows(DsWriter *w, DsSplitState *s, int k, int64_t from, int64_t rows) {
    DsSet *st = &s->set[k];
    hsize_t start[1 + DS_MAX_DIMS] = {0}, count[1 + DS_MAX_DIMS];
    start[0] = (hsize_t)from;
    count[0] = (hsize_t)rows;
    for (int d = 1; d < st->rank; d++)
        count[d] = st->dims[d];
    hid_t fspace = H5Dget_space(st->dset);
    H5_CHECK(fspace);
    H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
    hid_t mspace = H5Screate_simple(st->rank, count, NULL);
    H5_CHECK(mspace);
    H5_CHECK(H5Dwrite(st->dset, set_mem_type(w, k), mspace, fspace, H5P_DEFAULT, st->stage));
    H5_CHECK(H5Sclose(mspace));
    H5_CHECK(H5Sclose(fspace));
}

// Writes every whole chunk staged, in the canonical order (see the file comment).
static void pump(DsWriter *w) {
    for (int sp = 0; sp < 2; sp++) {
        DsSplitState *s = &w->split[sp];
        // Advance unit by unit so that the order of chunk writes depends only on row counts.
        while (s->written < s->appended) {
            int64_t next = s->written + s->unit;
            if (next > s->n) next = s->n;
            if (s->appended < next) break;
            for (int k = 0; k < DS_MAX_SETS; k++) {
                DsSet *st = &s->set[k];
                if (st->dset < 0) continue;
                // This dataset's staged rows start at the last chunk boundary it wrote.
                int64_t base = (s->written / st->chunk_rows) * st->chunk_rows;
                if (next % st->chunk_rows != 0 && next != s->n) continue;
                int64_t rows = next - base;
                write_rows(w, s, k, base, rows);
                // Slide what is left (nothing, since appended rows beyond next stay) to the front.
                int64_t rest = s->appended - next;
                memmove(st->stage, st->stage + (size_t)rows * st->row_bytes,
                        (size_t)rest * st->row_bytes);
            }
            s->written = next;
        }
        if (s->written < s->n) return; // later splits wait until this one is complete
    }
}

static void stage_reserve(DsSet *st, int64_t rows) {
    if (rows <= st->stage_cap) return;
    int64_t cap = st->stage_cap ? st->stage_cap : 1;
    while (cap < rows)
        cap *= 2;
    unsigned char *p = xmalloc((size_t)cap * st->row_bytes);
    if (st->stage) memcpy(p, st->stage, (size_t)st->stage_cap * st->row_bytes);
    xfree(st->stage);
    st->stage = p;
    st->stage_cap = cap;
}

void dsfile_append(DsWriter *w, DsSplit split, const DsRows *rows) {
    CHECK_PTR(w);
    CHECK_PTR(rows);
    CHECK(split == DS_TRAIN || split == DS_TEST, "%s: split %d is not DS_TRAIN or DS_TEST", w->tmp,
          (int)split);
    DsSplitState *s = &w->split[split];
    int64_t n = rows->n;
    CHECK(n >= 0 && s->appended + n <= s->n,
          "%s: /%s: appending %lld rows after %lld exceeds n = %lld", w->tmp, split_name[split],
          (long long)n, (long long)s->appended, (long long)s->n);
    if (n == 0) return;
    CHECK_PTR(rows->label);
    CHECK_PTR(rows->entity);
    CHECK(w->n_meta == 0 || rows->meta != NULL, "%s: /%s: meta is NULL but n_meta = %d", w->tmp,
          split_name[split], w->n_meta);
    for (int64_t i = 0; i < n; i++)
        CHECK(rows->label[i] >= 0 && rows->label[i] < w->n_classes,
              "%s: /%s: row %lld: label %d outside [0, %d)", w->tmp, split_name[split],
              (long long)(s->appended + i), rows->label[i], w->n_classes);
    for (int m = 0; m < w->n_modalities; m++) {
        const DsModality *md = &w->mod[m];
        CHECK(rows->data[m] != NULL, "%s: /%s: data[%d] (%s) is NULL", w->tmp, split_name[split], m,
              w->mod_name[m]);
        size_t per = 1;
        for (int d = 0; d < md->ndims; d++)
            per *= (size_t)md->dims[d];
        size_t total = per * (size_t)n;
        if (md->dtype == DS_F32) {
            const float *x = rows->data[m];
            for (size_t j = 0; j < total; j++)
                CHECK(isfinite(x[j]), "%s: /%s/%s: row %lld element %zu is %g (not finite)", w->tmp,
                      split_name[split], w->mod_name[m],
                      (long long)(s->appended + (int64_t)(j / per)), j % per, x[j]);
        } else if (w->is_text[m]) {
            // Token ids of a text modality index the vocabulary.
            const int32_t *x = rows->data[m];
            for (size_t j = 0; j < total; j++)
                CHECK(x[j] >= 0 && x[j] < w->vocab_size,
                      "%s: /%s/%s: row %lld token %d outside [0, %d)", w->tmp, split_name[split],
                      w->mod_name[m], (long long)(s->appended + (int64_t)(j / per)), x[j],
                      w->vocab_size);
        }
    }
    // Stage the rows after the ones already staged for each dataset.
    const void *src[DS_MAX_SETS] = {rows->label, rows->entity, rows->meta};
    for (int m = 0; m < w->n_modalities; m++)
        src[3 + m] = rows->data[m];
    for (int k = 0; k < DS_MAX_SETS; k++) {
        DsSet *st = &s->set[k];
        if (st->dset < 0) continue;
        int64_t base = (s->written / st->chunk_rows) * st->chunk_rows;
        int64_t have = s->appended - base;
        stage_reserve(st, have + n);
        memcpy(st->stage + (size_t)have * st->row_bytes, src[k], (size_t)n * st->row_bytes);
    }
    s->appended += n;
    pump(w);
}

// ---- close ----

static void release(DsWriter *w) {
    for (int sp = 0; sp < 2; sp++) {
        DsSplitState *s = &w->split[sp];
        for (int k = 0; k < DS_MAX_SETS; k++) {
            if (s->set[k].dset >= 0) H5Dclose(s->set[k].dset);
            xfree(s->set[k].stage);
        }
        if (s->group >= 0) H5Gclose(s->group);
    }
    if (w->file >= 0) H5Fclose(w->file);
    w->file = -1;
}

static void free_writer(DsWriter *w) {
    xfree(w->path);
    xfree(w->tmp);
    xfree(w);
}

void dsfile_close(DsWriter *w) {
    CHECK_PTR(w);
    for (int sp = 0; sp < 2; sp++) {
        const DsSplitState *s = &w->split[sp];
        if (s->appended != s->n) {
            // Leave nothing behind under either name, then report the builder's bug.
            release(w);
            remove(w->tmp);
            die_at(__FILE__, __LINE__, __func__,
                   "%s: /%s got %lld of its %lld rows; file discarded", w->path, split_name[sp],
                   (long long)s->appended, (long long)s->n);
        }
    }
    pump(w);
    for (int sp = 0; sp < 2; sp++)
        CHECK(w->split[sp].written == w->split[sp].n, "%s: /%s: wrote %lld of %lld rows (internal)",
              w->path, split_name[sp], (long long)w->split[sp].written, (long long)w->split[sp].n);
    for (int sp = 0; sp < 2; sp++) {
        DsSplitState *s = &w->split[sp];
        for (int k = 0; k < DS_MAX_SETS; k++) {
            if (s->set[k].dset >= 0) H5_CHECK(H5Dclose(s->set[k].dset));
            s->set[k].dset = -1;
            xfree(s->set[k].stage);
            s->set[k].stage = NULL;
        }
        H5_CHECK(H5Gclose(s->group));
        s->group = -1;
    }
    H5_CHECK(H5Fclose(w->file));
    w->file = -1;
    char err[SEAL_PATH_MAX + 256];
    CHECK(seal_publish(w->tmp, w->path, NULL, err, sizeof err) == 0, "publishing %s: %s", w->path,
          err);
    free_writer(w);
}

void dsfile_discard(DsWriter *w) {
    CHECK_PTR(w);
    release(w);
    remove(w->tmp);
    free_writer(w);
}
