// dataset.c - the validating reader of dataset files (dataset.h): opening, the structure checks
// and closing. Its other files: dataset_scan.c (content scans), dataset_h5.c (HDF5 primitives),
// dataset_info.c (description), dataset_rows.c (row readers); dataset_impl.h what they share.
//
// Validation never dies: every problem in the file becomes "<path>: <problem>" for the caller, with
// HDF5's own error printing switched off while probing. The gate (dataset_gate.c) runs before HDF5
// opens the file; then every size the file declares is bounded before anything is allocated or
// divided by it (dsfile.h's DS_MAX_*), so a hostile but well-formed file (--data-unverified) is
// refused naming the object. Reads after a good open use H5_CHECK and CHECK.
#include "data/dataset.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "data/dataset_impl.h"

#define CHUNK_CACHE_BYTES (4 << 20)

const char *const ds_split_name[2] = {"train", "test"};

// Writes "<path>: <message>" into err; returns -1 so that callers can `return ds_fail(...)`.
int ds_fail(const Dataset *ds, char *err, size_t cap, const char *fmt, ...) {
    if (!err || cap == 0) return -1;
    int k = snprintf(err, cap, "%s: ", ds->path);
    if (k < 0 || (size_t)k >= cap) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, cap - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static int attr_problem(const Dataset *ds, char *err, size_t cap, int rc, const char *obj,
                        const char *attr, const char *want) {
    if (rc == -1) return ds_fail(ds, err, cap, "missing attribute %s on %s", attr, obj);
    return ds_fail(ds, err, cap, "wrong dtype for attribute %s on %s: expected %s", attr, obj,
                   want);
}

// The fixed-length strings of attribute attr on obj (objname for messages), at most max_n; the
// count into *n, or ds_fail's -1 naming the attribute, the object and the problem.
static int read_strs(Dataset *ds, char *err, size_t cap, hid_t obj, const char *objname,
                     const char *attr, int max_n, char ***out, int *n) {
    *out = NULL, *n = 0;
    int rc = ds_read_strings(obj, attr, max_n, ds->file_bytes, out);
    if (rc == DS_STR_MISSING)
        return ds_fail(ds, err, cap, "missing attribute %s on %s", attr, objname);
    if (rc == DS_STR_TOO_MANY)
        return ds_fail(ds, err, cap, "attribute %s on %s: more than %d strings", attr, objname,
                       max_n);
    if (rc < 0)
        return ds_fail(ds, err, cap, "wrong dtype for attribute %s on %s: %s", attr, objname,
                       ds_str_problem(rc));
    *n = rc;
    return 0;
}

// What a dataset of rows x row_elems elements of elem_bytes each may hold, checked before anything
// is allocated for it: at most DS_MAX_ELEMS elements, at most the file's size when stored
// unfiltered (the bytes must be in the file; compressed ones can exceed it, DS_MAX_ELEMS bounds
// those), and stored chunks of at most DS_MAX_CHUNK_BYTES (HDF5 inflates a whole chunk per read).
static int check_storage(Dataset *ds, char *err, size_t cap, hid_t d, const char *gname,
                         const char *name, int64_t rows, int64_t row_elems, size_t elem_bytes) {
    if (rows > 0 && row_elems > DS_MAX_ELEMS / rows)
        return ds_fail(ds, err, cap,
                       "/%s/%s: %lld rows of %lld elements exceed the format's %lld elements per "
                       "dataset",
                       gname, name, (long long)rows, (long long)row_elems, (long long)DS_MAX_ELEMS);
    int64_t bytes = rows * row_elems * (int64_t)elem_bytes;
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0) return ds_fail(ds, err, cap, "/%s/%s: unreadable storage layout", gname, name);
    int filters = H5Pget_nfilters(dcpl);
    int chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    hsize_t chunk[32];
    int crank = chunked ? H5Pget_chunk(dcpl, 32, chunk) : 0;
    H5Pclose(dcpl);
    if (filters < 0 || crank < 0)
        return ds_fail(ds, err, cap, "/%s/%s: unreadable storage layout", gname, name);
    if (filters == 0 && bytes > ds->file_bytes)
        return ds_fail(ds, err, cap,
                       "/%s/%s: %lld rows of %lld bytes (%lld bytes, stored uncompressed) exceed "
                       "the file's %lld bytes",
                       gname, name, (long long)rows, (long long)(row_elems * (int64_t)elem_bytes),
                       (long long)bytes, (long long)ds->file_bytes);
    int64_t cbytes = (int64_t)elem_bytes;
    for (int i = 0; i < crank && cbytes <= DS_MAX_CHUNK_BYTES; i++)
        cbytes = chunk[i] > (hsize_t)DS_MAX_CHUNK_BYTES ? DS_MAX_CHUNK_BYTES + 1
                                                        : cbytes * (int64_t)chunk[i];
    if (cbytes > DS_MAX_CHUNK_BYTES)
        return ds_fail(ds, err, cap, "/%s/%s: stored chunks of more than %d bytes", gname, name,
                       DS_MAX_CHUNK_BYTES);
    return 0;
}

// ---- validation ----

// Opens obj/name as a dataset with the given dtype name and rank; checks dims[0] == n.
static int open_checked(Dataset *ds, char *err, size_t cap, hid_t group, const char *gname,
                        const char *name, const char *want_type, int want_rank, int64_t n,
                        hsize_t *dims, hid_t *out) {
    *out = -1;
    if (H5Lexists(group, name, H5P_DEFAULT) <= 0)
        return ds_fail(ds, err, cap, "missing dataset /%s/%s", gname, name);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 521, CHUNK_CACHE_BYTES, 1.0);
    hid_t d = H5Dopen2(group, name, dapl);
    H5Pclose(dapl);
    if (d < 0) return ds_fail(ds, err, cap, "/%s/%s is not a dataset", gname, name);
    *out = d;
    hid_t t = H5Dget_type(d);
    const char *tn = ds_type_name(t);
    H5Tclose(t);
    if (want_type && strcmp(tn, want_type))
        return ds_fail(ds, err, cap, "wrong dtype for /%s/%s: expected %s, found %s", gname, name,
                       want_type, tn);
    hid_t sp = H5Dget_space(d);
    int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t tmp[1 + DS_MAX_DIMS] = {0};
    // Only ranks the format has are read: the caller's dims hold 1 + DS_MAX_DIMS.
    if (rank >= 1 && rank <= 1 + DS_MAX_DIMS &&
        H5Sget_simple_extent_dims(sp, dims ? dims : tmp, NULL) < 0)
        rank = -1;
    if (sp >= 0) H5Sclose(sp);
    if (want_rank > 0 && rank != want_rank)
        return ds_fail(ds, err, cap, "wrong rank for /%s/%s: expected %d dimensions, found %d",
                       gname, name, want_rank, rank);
    if (rank < 1 || rank > 1 + DS_MAX_DIMS)
        return ds_fail(ds, err, cap,
                       "wrong rank for /%s/%s: %d dimensions (rows and at most %d per sample)",
                       gname, name, rank, DS_MAX_DIMS);
    hsize_t rows = dims ? dims[0] : tmp[0];
    if ((int64_t)rows != n)
        return ds_fail(ds, err, cap,
                       "mismatched lengths: /%s/%s has %lld rows but /%s has n = %lld", gname, name,
                       (long long)rows, gname, (long long)n);
    return 0;
}

static int check_root(Dataset *ds, char *err, size_t cap) {
    hid_t f = ds->file;
    int rc = ds_read_num(f, "schema", H5T_INTEGER, H5T_NATIVE_INT, &ds->schema);
    if (rc) return attr_problem(ds, err, cap, rc, "/", "schema", "an integer");
    if (ds->schema > DSFILE_SCHEMA)
        return ds_fail(ds, err, cap,
                       "schema version %d is newer than this reader's %d (update mmcollab)",
                       ds->schema, DSFILE_SCHEMA);
    if (ds->schema < 1) return ds_fail(ds, err, cap, "schema version %d is invalid", ds->schema);
    if (ds->schema < DSFILE_SCHEMA)
        return ds_fail(ds, err, cap,
                       "schema version %d stores variable-length strings, which this reader no "
                       "longer reads (HDF5 checks no checksum over them): rebuild the file with "
                       "its builder (make data; datasets/README.md)",
                       ds->schema);
    static const char *const strs[] = {"name", "version", "source", "licence", "builder"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        char **s = NULL;
        int n;
        if (read_strs(ds, err, cap, f, "/", strs[i], 1, &s, &n)) return -1;
        if (i == 0) ds->name = xstrdup(n > 0 ? s[0] : "");
        ds_free_strs(s, n);
    }
    rc = ds_read_num(f, "seed", H5T_INTEGER, H5T_NATIVE_UINT64, &ds->seed);
    if (rc) return attr_problem(ds, err, cap, rc, "/", "seed", "an integer");
    if (read_strs(ds, err, cap, f, "/", "classes", DS_MAX_CLASSES, &ds->classes, &ds->n_classes))
        return -1;
    if (ds->n_classes < 2)
        return ds_fail(ds, err, cap, "attribute classes on / lists %d classes, need 2..%d",
                       ds->n_classes, DS_MAX_CLASSES);
    if (read_strs(ds, err, cap, f, "/", "modalities", DS_MAX_MODALITIES, &ds->mod_names,
                  &ds->n_mod))
        return -1;
    if (ds->n_mod < 1)
        return ds_fail(ds, err, cap, "attribute modalities on / lists %d modalities, need 1..%d",
                       ds->n_mod, DS_MAX_MODALITIES);
    for (int m = 0; m < ds->n_mod; m++) {
        ds->mod[m].name = ds->mod_names[m];
        if (!ds->mod_names[m][0] || strchr(ds->mod_names[m], '/'))
            return ds_fail(ds, err, cap, "attribute modalities on /: \"%s\" is not a dataset name",
                           ds->mod_names[m]);
        for (int o = 0; o < m; o++)
            if (!strcmp(ds->mod_names[o], ds->mod_names[m]))
                return ds_fail(ds, err, cap, "modality %s listed twice", ds->mod_names[m]);
    }
    return 0;
}

// The modality m of split sp: dtype, per-sample shape, kind, quantisation; train defines, test must
// agree.
static int check_modality(Dataset *ds, char *err, size_t cap, int sp, hid_t g, int m) {
    const char *gname = ds_split_name[sp], *name = ds->mod_names[m];
    hsize_t dims[1 + DS_MAX_DIMS];
    hid_t d;
    if (open_checked(ds, err, cap, g, gname, name, NULL, 0, ds->split[sp].n, dims, &d)) {
        ds->split[sp].mod[m] = d;
        return -1;
    }
    ds->split[sp].mod[m] = d;
    hid_t t = H5Dget_type(d);
    const char *tn = ds_type_name(t);
    H5Tclose(t);
    DsDtype dt;
    if (!strcmp(tn, "uint8"))
        dt = DS_U8;
    else if (!strcmp(tn, "int32"))
        dt = DS_I32;
    else if (!strcmp(tn, "float32"))
        dt = DS_F32;
    else
        return ds_fail(ds, err, cap,
                       "wrong dtype for /%s/%s: expected uint8, int32 or float32, found %s", gname,
                       name, tn);
    hid_t space = H5Dget_space(d);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (space >= 0) H5Sclose(space);
    if (rank < 2 || rank > 1 + DS_MAX_DIMS)
        return ds_fail(ds, err, cap,
                       "wrong rank for /%s/%s: expected 2 or 3 dimensions (N, d1[, d2]), found %d",
                       gname, name, rank);
    // Per-sample dims: each at least 1 (a width 0 divides by zero downstream), and their product
    // bounded before anyone multiplies rows by it.
    int64_t row_elems = 1;
    for (int i = 1; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > DS_MAX_ROW_ELEMS)
            return ds_fail(ds, err, cap,
                           "/%s/%s: per-sample dimension %d is %llu, need 1..%d (width %s)", gname,
                           name, i, (unsigned long long)dims[i], DS_MAX_ROW_ELEMS,
                           dims[i] < 1 ? "0" : "too large");
        row_elems *= (int64_t)dims[i];
        if (row_elems > DS_MAX_ROW_ELEMS)
            return ds_fail(ds, err, cap, "/%s/%s: more than %d elements per sample", gname, name,
                           DS_MAX_ROW_ELEMS);
    }
    hid_t ft = H5Dget_type(d);
    size_t elem_bytes = ft < 0 ? 0 : H5Tget_size(ft);
    if (ft >= 0) H5Tclose(ft);
    if (check_storage(ds, err, cap, d, gname, name, ds->split[sp].n, row_elems, elem_bytes))
        return -1;
    char **kind = NULL;
    char obj[DS_MAX_STRING + 16];
    snprintf(obj, sizeof obj, "/%s/%s", gname, name);
    int rc;
    if (read_strs(ds, err, cap, d, obj, "kind", 1, &kind, &rc)) return -1;
    char k[16];
    snprintf(k, sizeof k, "%s", rc > 0 ? kind[0] : "");
    ds_free_strs(kind, rc);
    if (strcmp(k, "image") && strcmp(k, "audio") && strcmp(k, "text") && strcmp(k, "vector"))
        return ds_fail(ds, err, cap, "/%s/%s: kind \"%s\" is not image|audio|text|vector", gname,
                       name, k);
    if (!strcmp(k, "text") && dt != DS_I32)
        return ds_fail(ds, err, cap,
                       "wrong dtype for /%s/%s: a text modality must be int32, found %s", gname,
                       name, tn);
    float scale = 0, offset = 0;
    int rs = ds_read_num(d, "scale", H5T_FLOAT, H5T_NATIVE_FLOAT, &scale);
    int ro = ds_read_num(d, "offset", H5T_FLOAT, H5T_NATIVE_FLOAT, &offset);
    if (rs == -2 || ro == -2)
        return ds_fail(ds, err, cap,
                       "wrong dtype for attribute scale/offset on /%s/%s: expected float", gname,
                       name);
    if ((rs == 0) != (ro == 0))
        return ds_fail(ds, err, cap,
                       "missing attribute %s on /%s/%s (scale and offset go together)",
                       rs ? "scale" : "offset", gname, name);
    if (rs == 0 && (dt != DS_U8 || !isfinite(scale) || !isfinite(offset) || scale < 0))
        return ds_fail(
            ds, err, cap,
            "/%s/%s: quantisation scale %g offset %g on %s (need finite, scale >= 0, uint8)", gname,
            name, scale, offset, tn);
    DatasetModality *md = &ds->mod[m];
    if (sp == 0) {
        md->dtype = dt;
        md->ndims = rank - 1;
        md->row_elems = row_elems;
        for (int i = 0; i < md->ndims; i++)
            md->dims[i] = (int64_t)dims[1 + i];
        md->scale = scale, md->offset = offset;
        ds->mod_kind[m] = xstrdup(k);
        md->kind = ds->mod_kind[m];
        return 0;
    }
    if (dt != md->dtype)
        return ds_fail(ds, err, cap, "wrong dtype for /test/%s: %s, but /train/%s is %s", name, tn,
                       name, ds_dtype_str(md->dtype));
    int same = rank - 1 == md->ndims && strcmp(k, md->kind) == 0 && scale == md->scale &&
               offset == md->offset;
    for (int i = 0; same && i < md->ndims; i++)
        same = md->dims[i] == (int64_t)dims[1 + i];
    if (!same)
        return ds_fail(ds, err, cap,
                       "/test/%s differs from /train/%s in per-sample shape, kind or quantisation",
                       name, name);
    return 0;
}

static int check_split(Dataset *ds, char *err, size_t cap, int sp) {
    const char *gname = ds_split_name[sp];
    SplitH *s = &ds->split[sp];
    if (H5Lexists(ds->file, gname, H5P_DEFAULT) <= 0)
        return ds_fail(ds, err, cap, "missing group /%s", gname);
    hid_t g = H5Gopen2(ds->file, gname, H5P_DEFAULT);
    if (g < 0) return ds_fail(ds, err, cap, "/%s is not a group", gname);
    char obj[16];
    snprintf(obj, sizeof obj, "/%s", gname);
    int rc = ds_read_num(g, "n", H5T_INTEGER, H5T_NATIVE_INT64, &s->n);
    if (rc)
        rc = attr_problem(ds, err, cap, rc, obj, "n", "an integer");
    else if (s->n < 0 || s->n > DS_MAX_ELEMS)
        rc = ds_fail(ds, err, cap, "/%s: n = %lld outside [0, %lld]", gname, (long long)s->n,
                     (long long)DS_MAX_ELEMS);
    else if (sp == DS_TRAIN && s->n == 0)
        rc = ds_fail(ds, err, cap, "/train: n = 0: the file has no training rows");
    if (!rc) rc = open_checked(ds, err, cap, g, gname, "label", "int32", 1, s->n, NULL, &s->label);
    if (!rc) rc = check_storage(ds, err, cap, s->label, gname, "label", s->n, 1, 4);
    if (!rc)
        rc = open_checked(ds, err, cap, g, gname, "entity", "int64", 1, s->n, NULL, &s->entity);
    if (!rc) rc = check_storage(ds, err, cap, s->entity, gname, "entity", s->n, 1, 8);
    if (!rc) {
        int has_meta = H5Lexists(g, "meta", H5P_DEFAULT) > 0;
        if (sp == 1 && has_meta != (ds->n_meta > 0))
            rc = has_meta ? ds_fail(ds, err, cap, "/test/meta exists but /train/meta does not")
                          : ds_fail(ds, err, cap, "missing dataset /test/meta (/train has meta)");
        if (!rc && has_meta) {
            hsize_t dims[1 + DS_MAX_DIMS];
            rc = open_checked(ds, err, cap, g, gname, "meta", "int32", 2, s->n, dims, &s->meta);
            char **cols = NULL;
            int nc = 0;
            char mobj[16];
            snprintf(mobj, sizeof mobj, "/%s/meta", gname);
            if (!rc)
                rc = read_strs(ds, err, cap, s->meta, mobj, "columns", DS_MAX_META, &cols, &nc);
            if (!rc && nc < 1)
                rc = ds_fail(ds, err, cap, "/%s/meta: attribute columns names no column", gname);
            if (!rc && (hsize_t)nc != dims[1])
                rc = ds_fail(
                    ds, err, cap,
                    "mismatched lengths: /%s/meta has %llu columns but attribute columns names %d",
                    gname, (unsigned long long)dims[1], nc);
            if (!rc) rc = check_storage(ds, err, cap, s->meta, gname, "meta", s->n, nc, 4);
            if (!rc && sp == 0) ds->meta_names = cols, ds->n_meta = nc, cols = NULL;
            if (!rc && sp == 1) {
                int same = nc == ds->n_meta;
                for (int i = 0; same && i < nc; i++)
                    same = !strcmp(cols[i], ds->meta_names[i]);
                if (!same)
                    rc =
                        ds_fail(ds, err, cap, "/test/meta columns differ from /train/meta columns");
            }
            ds_free_strs(cols, nc);
        }
    }
    for (int m = 0; !rc && m < ds->n_mod; m++)
        rc = check_modality(ds, err, cap, sp, g, m);
    H5Gclose(g);
    return rc;
}

static int validate(Dataset *ds, unsigned flags, char *err, size_t cap) {
    if (access(ds->path, F_OK) != 0)
        return ds_fail(ds, err, cap, "cannot open: %s", strerror(errno));
    if (access(ds->path, R_OK) != 0)
        return ds_fail(ds, err, cap, "cannot read: %s", strerror(errno));
    if (!(flags & DATASET_GATED)) {
        if (dataset_gate(ds->path, (flags & DATASET_UNVERIFIED) != 0, ds->sha256, &ds->file_bytes,
                         err, cap) < 0)
            return -1; // the gate's message names the file
    } else {
        // The caller's gate read it; only its size is needed here (and never a FIFO's bytes).
        struct stat st;
        if (stat(ds->path, &st) != 0 || !S_ISREG(st.st_mode))
            return ds_fail(ds, err, cap, "not a regular file");
        ds->file_bytes = (int64_t)st.st_size;
    }
    htri_t is = H5Fis_hdf5(ds->path);
    if (is <= 0)
        return ds_fail(ds, err, cap,
                       "not an HDF5 file (no HDF5 signature; wrong file or truncated)");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    ds->file = H5Fopen(ds->path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (ds->file < 0)
        return ds_fail(ds, err, cap, "HDF5 cannot open it: truncated or corrupt file");
    if (check_root(ds, err, cap)) return -1;
    int has_text = 0;
    for (int sp = 0; sp < 2; sp++)
        if (check_split(ds, err, cap, sp)) return -1;
    for (int m = 0; m < ds->n_mod; m++)
        has_text |= !strcmp(ds->mod[m].kind, "text");
    if (has_text) {
        if (H5Lexists(ds->file, "vocab", H5P_DEFAULT) <= 0)
            return ds_fail(ds, err, cap, "missing dataset /vocab (the file has a text modality)");
        hid_t d = H5Dopen2(ds->file, "vocab", H5P_DEFAULT);
        if (d < 0) return ds_fail(ds, err, cap, "/vocab is not a dataset");
        int rc = ds_read_strings(d, NULL, DS_MAX_VOCAB, ds->file_bytes, &ds->vocab);
        H5Dclose(d);
        if (rc == DS_STR_TOO_MANY)
            return ds_fail(ds, err, cap, "/vocab: more than %d words", DS_MAX_VOCAB);
        if (rc < 0)
            return ds_fail(ds, err, cap,
                           "wrong dtype for /vocab: expected a 1-D string dataset: %s",
                           ds_str_problem(rc));
        if (rc < 1) return ds_fail(ds, err, cap, "/vocab is empty");
        ds->vocab_size = rc;
    }
    for (int sp = 0; sp < 2; sp++) {
        if (ds_scan_labels(ds, err, cap, sp)) return -1;
        if (flags & DATASET_SKIP_SCAN) continue;
        if (ds_scan_rows(ds, err, cap, sp)) return -1;
        for (int m = 0; m < ds->n_mod; m++)
            if (ds_scan_features(ds, err, cap, sp, m)) return -1;
    }
    return 0;
}

Dataset *dataset_open(const char *path, char *err, size_t cap) {
    return dataset_open_flags(path, 0, err, cap);
}

Dataset *dataset_open_flags(const char *path, unsigned flags, char *err, size_t cap) {
    CHECK_PTR(path);
    Dataset *ds = xcalloc(1, sizeof *ds);
    ds->path = xstrdup(path);
    ds->file = -1;
    for (int sp = 0; sp < 2; sp++) {
        SplitH *s = &ds->split[sp];
        s->label = s->entity = s->meta = -1;
        for (int m = 0; m < DS_MAX_MODALITIES; m++)
            s->mod[m] = -1;
    }
    if (err && cap) err[0] = '\0';
    // Probing missing objects is normal here: keep HDF5 from printing its error stack.
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = validate(ds, flags, err, cap);
    H5Eset_auto2(H5E_DEFAULT, func, data);
    if (rc) {
        dataset_close(ds);
        return NULL;
    }
    return ds;
}

void dataset_close(Dataset *ds) {
    if (!ds) return;
    for (int sp = 0; sp < 2; sp++) {
        SplitH *s = &ds->split[sp];
        if (s->label >= 0) H5Dclose(s->label);
        if (s->entity >= 0) H5Dclose(s->entity);
        if (s->meta >= 0) H5Dclose(s->meta);
        for (int m = 0; m < DS_MAX_MODALITIES; m++)
            if (s->mod[m] >= 0) H5Dclose(s->mod[m]);
    }
    if (ds->file >= 0) H5Fclose(ds->file);
    ds_free_strs(ds->classes, ds->n_classes);
    ds_free_strs(ds->mod_names, ds->n_mod);
    for (int m = 0; m < DS_MAX_MODALITIES; m++)
        xfree(ds->mod_kind[m]);
    ds_free_strs(ds->vocab, ds->vocab_size);
    ds_free_strs(ds->meta_names, ds->n_meta);
    xfree(ds->name);
    xfree(ds->path);
    xfree(ds);
}
