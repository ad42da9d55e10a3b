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

// ---- strings from attributes and datasets (variable or fixed length, ASCII or UTF-8) ----

// Reads the strings of attribute `attr` of obj (attr NULL: obj is a string dataset). Returns the
// count, -1 when missing, -2 when not strings, -3 when not a scalar or 1-D array.
int ds_read_strings(hid_t obj, const char *attr, char ***out) {
    hid_t h, t, space;
    if (attr) {
        if (H5Aexists(obj, attr) <= 0) return -1;
        h = H5Aopen(obj, attr, H5P_DEFAULT);
        if (h < 0) return -1;
        t = H5Aget_type(h), space = H5Aget_space(h);
    } else {
        h = obj;
        t = H5Dget_type(h), space = H5Dget_space(h);
    }
    int rc = 0;
    int rank = H5Sget_simple_extent_ndims(space);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(t) != H5T_STRING)
        rc = -2;
    else if (rank > 1 || n < 0 || n > INT32_MAX)
        rc = -3;
    if (rc == 0) {
        char **s = xcalloc((size_t)(n ? n : 1), sizeof *s);
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_cset(m, H5Tget_cset(t));
        if (H5Tis_variable_str(t) > 0) {
            H5Tset_size(m, H5T_VARIABLE);
            char **v = xcalloc((size_t)(n ? n : 1), sizeof *v);
            herr_t e = attr ? H5Aread(h, m, v) : H5Dread(h, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            for (hssize_t i = 0; i < n; i++) {
                s[i] = xstrdup(e >= 0 && v[i] ? v[i] : "");
                if (v[i]) H5free_memory(v[i]);
            }
            xfree(v);
            if (e < 0) rc = -2;
        } else {
            size_t sz = H5Tget_size(t);
            H5Tset_size(m, sz);
            char *buf = xcalloc((size_t)(n ? n : 1), sz);
            herr_t e =
                attr ? H5Aread(h, m, buf) : H5Dread(h, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            for (hssize_t i = 0; i < n; i++) {
                s[i] = xmalloc(sz + 1);
                memcpy(s[i], buf + (size_t)i * sz, sz);
                s[i][sz] = '\0';
            }
            xfree(buf);
            if (e < 0) rc = -2;
        }
        H5Tclose(m);
        if (rc == 0)
            *out = s, rc = (int)n;
        else
            ds_free_strs(s, (int)n);
    }
    H5Sclose(space);
    H5Tclose(t);
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
