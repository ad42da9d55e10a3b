// dataset_h5.c - the HDF5 primitives under the dataset reader (dataset_impl.h): type names for
// messages and dtype checks, string and numeric attributes, blocks of rows. They know nothing of
// the file layout and never die: problems come back as return codes.
#include <hdf5.h>
#include <stdint.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/dataset_impl.h"

void ds_free_strs(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++)
        xfree(s[i]);
    xfree(s);
}

// "uint8", "int32", "int64", "float32", "float64", "string", ... for messages and dtype checks.
const char *ds_type_name(hid_t t) {
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_INTEGER) {
        int sgn = H5Tget_sign(t) == H5T_SGN_2;
        switch (sz) {
        case 1:
            return sgn ? "int8" : "uint8";
        case 2:
            return sgn ? "int16" : "uint16";
        case 4:
            return sgn ? "int32" : "uint32";
        case 8:
            return sgn ? "int64" : "uint64";
        default:
            return "integer";
        }
    }
    if (c == H5T_FLOAT) return sz == 4 ? "float32" : sz == 8 ? "float64" : "float";
    if (c == H5T_STRING) return "string";
    return "other";
}

const char *ds_dtype_str(DsDtype t) {
    return t == DS_U8 ? "uint8" : t == DS_I32 ? "int32" : "float32";
}

// ---- strings from attributes and datasets (fixed length only, ASCII or UTF-8) ----

const char *ds_str_problem(int rc) {
    switch (rc) {
    case DS_STR_MISSING:
        return "missing";
    case DS_STR_NOT_STRING:
        return "not a string";
    case DS_STR_VARIABLE:
        return "variable-length strings (schema 2 stores fixed-length ones; variable-length ones "
               "live in HDF5's global heap, which no checksum covers)";
    case DS_STR_SHAPE:
        return "not a scalar or 1-D array";
    case DS_STR_TOO_MANY:
        return "more strings than the format allows";
    case DS_STR_TOO_LONG:
        return "strings wider than DS_MAX_STRING bytes, or more bytes than the file holds";
    default:
        return "unreadable (corrupt file?)";
    }
}

int ds_read_strings(hid_t obj, const char *attr, int max_n, int64_t max_bytes, char ***out) {
    hid_t h, t, space;
    if (attr) {
        if (H5Aexists(obj, attr) <= 0) return DS_STR_MISSING;
        h = H5Aopen(obj, attr, H5P_DEFAULT);
        if (h < 0) return DS_STR_MISSING;
        t = H5Aget_type(h), space = H5Aget_space(h);
    } else {
        h = obj;
        t = H5Dget_type(h), space = H5Dget_space(h);
    }
    int rc = 0;
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    size_t sz = t < 0 ? 0 : H5Tget_size(t);
    if (t < 0 || H5Tget_class(t) != H5T_STRING)
        rc = DS_STR_NOT_STRING;
    else if (H5Tis_variable_str(t) != 0) // never read: H5Aread would follow global-heap pointers
        rc = DS_STR_VARIABLE;
    else if (rank < 0 || rank > 1 || n < 0)
        rc = DS_STR_SHAPE;
    else if (n > max_n)
        rc = DS_STR_TOO_MANY;
    else if (sz < 1 || sz > DS_MAX_STRING || (int64_t)n * (int64_t)sz > max_bytes)
        rc = DS_STR_TOO_LONG; // every fixed-length string is stored in the file, uncompressed
    if (rc == 0) {
        // One more byte per string than stored: the null-padded file strings convert to
        // null-terminated ones without losing their last character.
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_size(m, sz + 1);
        H5Tset_strpad(m, H5T_STR_NULLTERM);
        H5Tset_cset(m, H5Tget_cset(t));
        char *buf = xcalloc((size_t)(n ? n : 1), sz + 1);
        herr_t e = attr ? H5Aread(h, m, buf) : H5Dread(h, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        H5Tclose(m);
        if (e < 0) {
            rc = DS_STR_UNREADABLE;
        } else {
            char **s = xcalloc((size_t)(n ? n : 1), sizeof *s);
            for (hssize_t i = 0; i < n; i++) {
                char *one = buf + (size_t)i * (sz + 1);
                one[sz] = '\0';
                s[i] = xstrdup(one);
            }
            *out = s, rc = (int)n;
        }
        xfree(buf);
    }
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    if (attr) H5Aclose(h);
    return rc;
}

// Scalar numeric attribute; want_class H5T_INTEGER or H5T_FLOAT. 0 ok, -1 missing, -2 wrong type.
int ds_read_num(hid_t obj, const char *attr, H5T_class_t want_class, hid_t mtype, void *out) {
    if (H5Aexists(obj, attr) <= 0) return -1;
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    int rc = 0;
    if (H5Tget_class(t) != want_class || H5Sget_simple_extent_npoints(space) != 1)
        rc = -2;
    else if (H5Aread(a, mtype, out) < 0)
        rc = -2;
    H5Sclose(space);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

// Reads rows [start, start + n) of d (rank dims) into out as mtype.
herr_t ds_read_block(hid_t d, hid_t mtype, int64_t start, int64_t n, void *out) {
    hid_t fs = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[1 + DS_MAX_DIMS], off[1 + DS_MAX_DIMS] = {0};
    H5Sget_simple_extent_dims(fs, dims, NULL);
    off[0] = (hsize_t)start;
    dims[0] = (hsize_t)n;
    herr_t e = 0;
    if (n > 0) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, dims, NULL);
        hid_t ms = H5Screate_simple(rank, dims, NULL);
        e = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, out);
        H5Sclose(ms);
    }
    H5Sclose(fs);
    return e;
}
