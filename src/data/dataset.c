// dataset.c - the validating reader of dataset files (dataset.h): opening, the structure checks
// and closing. Its other files: dataset_scan.c (content scans), dataset_h5.c (HDF5 primitives),
// dataset_info.c (description), dataset_rows.c (row readers); dataset_impl.h what they share.
//
// Validation never dies: every problem in the file becomes "<path>: <problem>" for the caller, with
// HDF5's own error printing switched off while probing. Reads after a good open use H5_CHECK and
// CHECK.
#include "data/dataset.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t tmp[8];
    if (rank >= 1 && rank <= 8) H5Sget_simple_extent_dims(sp, dims ? dims : tmp, NULL);
    H5Sclose(sp);
    if (want_rank > 0 && rank != want_rank)
        return ds_fail(ds, err, cap, "wrong rank for /%s/%s: expected %d dimensions, found %d",
                       gname, name, want_rank, rank);
    if (rank < 1) return ds_fail(ds, err, cap, "/%s/%s has no rows (rank %d)", gname, name, rank);
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
    static const char *const strs[] = {"name", "version", "source", "licence", "builder"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        char **s = NULL;
        rc = ds_read_strings(f, strs[i], &s);
        if (rc < 0) return attr_problem(ds, err, cap, rc, "/", strs[i], "a string");
        if (i == 0) ds->name = xstrdup(rc > 0 ? s[0] : "");
        ds_free_strs(s, rc);
    }
    rc = ds_read_num(f, "seed", H5T_INTEGER, H5T_NATIVE_UINT64, &ds->seed);
    if (rc) return attr_problem(ds, err, cap, rc, "/", "seed", "an integer");
    rc = ds_read_strings(f, "classes", &ds->classes);
    if (rc < 0) return attr_problem(ds, err, cap, rc, "/", "classes", "a string array");
    ds->n_classes = rc;
    if (rc < 1) return ds_fail(ds, err, cap, "attribute classes on / is empty");
    rc = ds_read_strings(f, "modalities", &ds->mod_names);
    if (rc < 0) return attr_problem(ds, err, cap, rc, "/", "modalities", "a string array");
    ds->n_mod = rc;
    if (rc < 1 || rc > DS_MAX_MODALITIES)
        return ds_fail(ds, err, cap, "attribute modalities on / lists %d modalities, need 1..%d",
                       rc, DS_MAX_MODALITIES);
    for (int m = 0; m < ds->n_mod; m++) {
        ds->mod[m].name = ds->mod_names[m];
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
    hsize_t dims[8];
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
    int rank = H5Sget_simple_extent_ndims(space);
    H5Sclose(space);
    if (rank < 2 || rank > 1 + DS_MAX_DIMS)
        return ds_fail(ds, err, cap,
                       "wrong rank for /%s/%s: expected 2 or 3 dimensions (N, d1[, d2]), found %d",
                       gname, name, rank);
    char **kind = NULL;
    int rc = ds_read_strings(d, "kind", &kind);
    if (rc < 0)
        return ds_fail(ds, err, cap, "%s attribute kind on /%s/%s",
                       rc == -1 ? "missing" : "wrong dtype for", gname, name);
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
        md->row_elems = 1;
        for (int i = 0; i < md->ndims; i++)
            md->dims[i] = (int64_t)dims[1 + i], md->row_elems *= md->dims[i];
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
    else if (s->n < 0)
        rc = ds_fail(ds, err, cap, "/%s: n = %lld < 0", gname, (long long)s->n);
    if (!rc) rc = open_checked(ds, err, cap, g, gname, "label", "int32", 1, s->n, NULL, &s->label);
    if (!rc)
        rc = open_checked(ds, err, cap, g, gname, "entity", "int64", 1, s->n, NULL, &s->entity);
    if (!rc) {
        int has_meta = H5Lexists(g, "meta", H5P_DEFAULT) > 0;
        if (sp == 1 && has_meta != (ds->n_meta > 0))
            rc = has_meta ? ds_fail(ds, err, cap, "/test/meta exists but /train/meta does not")
                          : ds_fail(ds, err, cap, "missing dataset /test/meta (/train has meta)");
        if (!rc && has_meta) {
            hsize_t dims[2];
            rc = open_checked(ds, err, cap, g, gname, "meta", "int32", 2, s->n, dims, &s->meta);
            char **cols = NULL;
            int nc = rc ? 0 : ds_read_strings(s->meta, "columns", &cols);
            if (!rc && nc < 0)
                rc = ds_fail(ds, err, cap, "%s attribute columns on /%s/meta",
                             nc == -1 ? "missing" : "wrong dtype for", gname);
            if (!rc && (hsize_t)nc != dims[1])
                rc = ds_fail(
                    ds, err, cap,
                    "mismatched lengths: /%s/meta has %llu columns but attribute columns names %d",
                    gname, (unsigned long long)dims[1], nc);
            if (!rc && sp == 0) ds->meta_names = cols, ds->n_meta = nc, cols = NULL;
            if (!rc && sp == 1) {
                int same = nc == ds->n_meta;
                for (int i = 0; same && i < nc; i++)
                    same = !strcmp(cols[i], ds->meta_names[i]);
                if (!same)
                    rc =
                        ds_fail(ds, err, cap, "/test/meta columns differ from /train/meta columns");
            }
            ds_free_strs(cols, nc > 0 ? nc : 0);
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
        int rc = ds_read_strings(d, NULL, &ds->vocab);
        H5Dclose(d);
        if (rc < 0)
            return ds_fail(ds, err, cap, "wrong dtype for /vocab: expected a 1-D string dataset");
        if (rc < 1) return ds_fail(ds, err, cap, "/vocab is empty");
        ds->vocab_size = rc;
    }
    for (int sp = 0; sp < 2; sp++) {
        if (ds_scan_labels(ds, err, cap, sp)) return -1;
        if (flags & DATASET_SKIP_SCAN) continue;
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
