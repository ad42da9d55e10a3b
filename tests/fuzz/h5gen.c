// h5gen.c - see h5gen.h.
#include "h5gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_MAX_ELEMS (1 << 15) // larger datasets stay unwritten (fill values): cheap on disk
#define HUGE_LOG2_MAX 40          // huge rows go up to 2^40, a huge row up to 2^34 elements

hid_t fz_vlen_str(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

hid_t fz_fixed_str(size_t size, H5T_str_t pad) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, size ? size : 1);
    H5Tset_strpad(t, pad);
    return t;
}

// Creates attribute name of ftype over space and writes buf as mtype (nothing when buf is NULL).
static void attr_put(hid_t loc, const char *name, hid_t ftype, hid_t space, hid_t mtype,
                     const void *buf) {
    hid_t a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && buf) H5Awrite(a, mtype, buf);
    if (a >= 0) H5Aclose(a);
}

// count strings as fixed-length strings of size bytes with padding pad.
static void fixed_attr(hid_t loc, const char *name, hid_t space, int count, const char *const *s,
                       size_t size, H5T_str_t pad) {
    hid_t t = fz_fixed_str(size, pad);
    char *buf = calloc((size_t)count + 1, size ? size : 1);
    for (int i = 0; i < count; i++)
        memcpy(buf + (size_t)i * size, s[i], strlen(s[i]) < size ? strlen(s[i]) : size);
    attr_put(loc, name, t, space, t, buf);
    free(buf);
    H5Tclose(t);
}

static void vlen_attr(hid_t loc, const char *name, hid_t space, const char *const *s, int utf8) {
    hid_t t = fz_vlen_str();
    if (!utf8) H5Tset_cset(t, H5T_CSET_ASCII);
    attr_put(loc, name, t, space, t, s);
    H5Tclose(t);
}

void fz_str_attr(FuzzIn *in, hid_t loc, const char *name, int n, const char *const *s,
                 FzStrForm form) {
    unsigned mode = fz_mode(in, 14);
    if ((mode == 3 || mode == 4 || mode == 9 || mode == 13) && fuzz_avoid("str-nopad")) mode = 0;
    if ((mode == 6 || mode == 7 || mode == 8 || mode == 10) && n < 0 && fuzz_avoid("str-array"))
        mode = 0;
    if ((mode == 6 || mode == 7 || mode == 12 || (mode == 2 && form == FZ_FIXED)) &&
        fuzz_avoid("vlen"))
        mode = 0;
    int count = n < 0 ? 1 : n;
    char own[40][64];
    const char *mine[40] = {0};
    if (mode == 8 || mode == 10) { // other strings: another count, the input's bytes, or empty
        count = (int)fz_pick(in, 40);
        n = count == 1 && fz_u8(in) & 1 ? -1 : count;
        for (int i = 0; i < count; i++)
            mine[i] = mode == 10 ? "" : fz_str(in, own[i], sizeof own[i]);
        s = mine;
        mode = fz_pick(in, 5); // then written in the ordinary form or one of the fixed ones
        if ((mode == 3 || mode == 4) && fuzz_avoid("str-nopad")) mode = 0;
        if (mode == 2 && form == FZ_FIXED && fuzz_avoid("vlen")) mode = 0;
    }
    hsize_t dim = (hsize_t)count, dims2[2] = {(hsize_t)count, 1};
    hid_t space = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    size_t longest = 0;
    for (int i = 0; i < count; i++)
        longest = strlen(s[i]) > longest ? strlen(s[i]) : longest;
    if (mode == 2) mode = form == FZ_VLEN ? 2 : 15; // "the other form"
    switch (mode) {
    case 1: // missing
        break;
    case 3: // null-padded, filled: no terminator
        fixed_attr(loc, name, space, count, s, longest ? longest : 1, H5T_STR_NULLPAD);
        break;
    case 4:
        fixed_attr(loc, name, space, count, s, longest + 1, H5T_STR_SPACEPAD);
        break;
    case 9:
        fixed_attr(loc, name, space, count, s, 1, H5T_STR_NULLTERM);
        break;
    case 13: // long, mostly padding
        fixed_attr(loc, name, space, count, s, 1 + fz_bits(in, 2), H5T_STR_NULLPAD);
        break;
    case 5: { // an integer
        int32_t v = (int32_t)fz_bits(in, 4);
        hid_t sc = H5Screate(H5S_SCALAR);
        attr_put(loc, name, H5T_STD_I32LE, sc, H5T_NATIVE_INT32, &v);
        H5Sclose(sc);
        break;
    }
    case 6: { // a null dataspace
        hid_t t = fz_vlen_str(), ns = H5Screate(H5S_NULL);
        attr_put(loc, name, t, ns, t, NULL);
        H5Sclose(ns);
        H5Tclose(t);
        break;
    }
    case 7: { // 2-D
        hid_t s2 = H5Screate_simple(2, dims2, NULL);
        vlen_attr(loc, name, s2, s, 1);
        H5Sclose(s2);
        break;
    }
    case 11: { // a float
        double v = (double)(int64_t)fz_bits(in, 8);
        hid_t sc = H5Screate(H5S_SCALAR);
        attr_put(loc, name, H5T_IEEE_F64LE, sc, H5T_NATIVE_DOUBLE, &v);
        H5Sclose(sc);
        break;
    }
    case 12:
        vlen_attr(loc, name, space, s, 0);
        break;
    case 2: // the other form: variable length for fixed-form writers (mode 15), fixed for vlen
        fixed_attr(loc, name, space, count, s, longest + 1, H5T_STR_NULLTERM);
        break;
    case 15:
        vlen_attr(loc, name, space, s, 1);
        break;
    default: // ordinary
        if (form == FZ_VLEN)
            vlen_attr(loc, name, space, s, 1);
        else
            fixed_attr(loc, name, space, count, s, longest + 1, H5T_STR_NULLTERM);
    }
    H5Sclose(space);
}

static const int64_t special_i64[] = {
    -1,        0,         1,   INT32_MAX, INT32_MIN, (int64_t)1 << 31, (int64_t)1 << 40,
    INT64_MAX, INT64_MIN, 255, 65536};

void fz_num_attr(FuzzIn *in, hid_t loc, const char *name, hid_t ftype, int64_t v) {
    const hid_t ints[] = {H5T_STD_I8LE,  H5T_STD_U8LE,  H5T_STD_I16LE, H5T_STD_U16LE, H5T_STD_I32BE,
                          H5T_STD_U32LE, H5T_STD_I64BE, H5T_STD_U64LE, H5T_STD_I64LE};
    unsigned mode = fz_mode(in, 10);
    if (mode == 5 && fuzz_avoid("num-array")) mode = 0;
    if (mode == 6 && fuzz_avoid("num-null")) mode = 0;
    if ((mode == 7 || mode == 8) && fuzz_avoid("num-value")) mode = 0;
    hid_t sc = H5Screate(H5S_SCALAR);
    hsize_t two = 2;
    switch (mode) {
    case 1: // missing
        break;
    case 2: // another integer type
        attr_put(loc, name, ints[fz_pick(in, sizeof ints / sizeof ints[0])], sc, H5T_NATIVE_INT64,
                 &v);
        break;
    case 3: { // a float
        double d = fz_u8(in) & 1 ? (double)v + 0.5 : (double)v;
        attr_put(loc, name, H5T_IEEE_F64LE, sc, H5T_NATIVE_DOUBLE, &d);
        break;
    }
    case 4: { // a string
        const char *s[1] = {"12"};
        fixed_attr(loc, name, sc, 1, s, 8, H5T_STR_NULLTERM);
        break;
    }
    case 5: { // an array of two
        int64_t two_v[2] = {v, (int64_t)fz_bits(in, 8)};
        hid_t sp = H5Screate_simple(1, &two, NULL);
        attr_put(loc, name, ftype, sp, H5T_NATIVE_INT64, two_v);
        H5Sclose(sp);
        break;
    }
    case 6: { // a null dataspace
        hid_t ns = H5Screate(H5S_NULL);
        attr_put(loc, name, ftype, ns, H5T_NATIVE_INT64, NULL);
        H5Sclose(ns);
        break;
    }
    case 7: { // the input's value
        int64_t w = (int64_t)fz_bits(in, 8);
        attr_put(loc, name, ftype, sc, H5T_NATIVE_INT64, &w);
        break;
    }
    case 8: { // a special value
        int64_t w = special_i64[fz_pick(in, sizeof special_i64 / sizeof special_i64[0])];
        attr_put(loc, name, ftype, sc, H5T_NATIVE_INT64, &w);
        break;
    }
    case 9: { // NaN as a 32-bit float
        float f = NAN;
        attr_put(loc, name, H5T_IEEE_F32LE, sc, H5T_NATIVE_FLOAT, &f);
        break;
    }
    default:
        attr_put(loc, name, ftype, sc, H5T_NATIVE_INT64, &v);
    }
    H5Sclose(sc);
}

void fz_float_attr(FuzzIn *in, hid_t loc, const char *name, float v) {
    static const float special[] = {NAN, INFINITY, -INFINITY, -1.0f, 0.0f, 1e38f, -0.0f, 1e-45f};
    unsigned mode = fz_mode(in, 5);
    if (mode == 1) return; // missing
    if (mode == 2) {       // an integer, through fz_num_attr's variants
        fz_num_attr(in, loc, name, H5T_STD_I32LE, (int64_t)v);
        return;
    }
    if (mode == 3) v = special[fz_pick(in, sizeof special / sizeof special[0])];
    hid_t sc = H5Screate(H5S_SCALAR);
    attr_put(loc, name, mode == 4 ? H5T_IEEE_F64BE : H5T_IEEE_F32LE, sc, H5T_NATIVE_FLOAT, &v);
    H5Sclose(sc);
}

// ---- datasets ----

static hid_t mem_type_of(FzWhat what) {
    switch (what) {
    case FZ_ENTITY:
    case FZ_I64:
        return H5T_NATIVE_INT64;
    case FZ_U8:
        return H5T_NATIVE_UINT8;
    case FZ_F32:
        return H5T_NATIVE_FLOAT;
    case FZ_F64:
        return H5T_NATIVE_DOUBLE;
    case FZ_U32:
        return H5T_NATIVE_UINT32;
    default:
        return H5T_NATIVE_INT32;
    }
}

// The ordinary value of element j of row i.
static double ordinary(FzWhat what, int limit, hsize_t i, hsize_t j) {
    switch (what) {
    case FZ_LABEL:
        return (double)(i % (hsize_t)(limit > 0 ? limit : 1));
    case FZ_ENTITY:
        return (double)i;
    case FZ_META:
        return (double)((i * 7 + j) % 5);
    case FZ_U8:
        return (double)((i * 31 + j) & 0xff);
    case FZ_TOKEN:
        return (double)((i + j) % (hsize_t)(limit > 0 ? limit : 1));
    case FZ_I64:
    case FZ_U32:
        return (double)(i + j + 1);
    default:
        return (double)((i * 13 + j) % 17) / 17.0;
    }
}

// A value that breaks what a reader may rely on: a label or token outside [0, limit), a
// non-finite float, the extremes of the types.
static double hostile(FuzzIn *in, FzWhat what, int limit) {
    static const double any[] = {-1, 2147483647.0, -2147483648.0, 1e300, NAN, INFINITY, -INFINITY};
    if (fz_pick(in, 4) == 0 && (what == FZ_LABEL || what == FZ_TOKEN)) return limit;
    return any[fz_pick(in, sizeof any / sizeof any[0])];
}

static int64_t clamp_i64(double v, double lo, double hi) {
    if (!isfinite(v)) return -1;
    return v >= hi ? (int64_t)hi : v <= lo ? (int64_t)lo : (int64_t)v;
}

// Element k of buf (what's memory type) from a double.
static void store(void *buf, FzWhat what, size_t k, double v) {
    switch (what) {
    case FZ_F32:
        ((float *)buf)[k] = (float)v;
        break;
    case FZ_F64:
        ((double *)buf)[k] = v;
        break;
    case FZ_ENTITY:
    case FZ_I64:
        ((int64_t *)buf)[k] = clamp_i64(v, -9.2e18, 9.2e18);
        break;
    case FZ_U8:
        ((uint8_t *)buf)[k] = (uint8_t)clamp_i64(v, 0, 255);
        break;
    case FZ_U32:
        ((uint32_t *)buf)[k] = (uint32_t)clamp_i64(v, 0, 4294967295.0);
        break;
    default:
        ((int32_t *)buf)[k] = (int32_t)clamp_i64(v, -2147483648.0, 2147483647.0);
    }
}

// Another element type: the input picks one of these, or a string, compound or array type.
static hid_t other_type(FuzzIn *in, hid_t ordinary_type) {
    const hid_t others[] = {H5T_STD_U8LE,   H5T_STD_I8LE,   H5T_STD_I16LE, H5T_STD_I32LE,
                            H5T_STD_I32BE,  H5T_STD_U32LE,  H5T_STD_I64LE, H5T_IEEE_F32LE,
                            H5T_IEEE_F32BE, H5T_IEEE_F64LE, H5T_STD_U64BE, H5T_STD_I64BE,
                            H5T_IEEE_F64BE, H5T_STD_U16LE,  H5T_STD_U64LE, H5T_STD_B8LE};
    unsigned which = fz_pick(in, 5);
    if (which == 2 && fuzz_avoid("vlen")) which = 0;
    switch (which) {
    case 1:
        return fz_fixed_str(4, H5T_STR_NULLPAD);
    case 2:
        return fz_vlen_str();
    case 3: { // a compound of one member of the ordinary type
        hid_t t = H5Tcreate(H5T_COMPOUND, H5Tget_size(ordinary_type));
        H5Tinsert(t, "v", 0, ordinary_type);
        return t;
    }
    case 4: { // an array of 2
        hsize_t two = 2;
        return H5Tarray_create2(ordinary_type, 1, &two);
    }
    default:
        return H5Tcopy(others[fz_pick(in, sizeof others / sizeof others[0])]);
    }
}

hid_t fz_dataset(FuzzIn *in, hid_t loc, const char *name, hid_t ftype, int rank,
                 const hsize_t *dims_in, FzWhat what, int limit) {
    unsigned link = fz_mode(in, 4);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    if (link == 1) { // missing
        H5Pclose(lcpl);
        return -1;
    }
    if (link == 2 || link == 3) { // a group, or a dangling soft link, in its place
        if (link == 2) {
            hid_t g = H5Gcreate2(loc, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            if (g >= 0) H5Gclose(g);
        } else {
            H5Lcreate_soft("/nowhere", loc, name, lcpl, H5P_DEFAULT);
        }
        H5Pclose(lcpl);
        return -1;
    }
    hsize_t dims[4] = {0}, maxdims[4], chunk[4];
    for (int d = 0; d < rank; d++)
        dims[d] = dims_in[d];
    hid_t t = fz_mode(in, 2) ? other_type(in, ftype) : H5Tcopy(ftype);
    int space_kind = 0; // 0 simple, 1 scalar, 2 null
    int huge = 0, unlimited = 0;
    unsigned shape = fz_mode(in, 10);
    if ((shape == 5 || shape == 6 || shape == 9) && fuzz_avoid("huge")) shape = 0;
    if (shape == 4 && fuzz_avoid("zero-dim")) shape = 0;
    switch (shape) {
    case 1: // one row more or fewer
        dims[0] = fz_u8(in) & 1 ? dims[0] + 1 : dims[0] ? dims[0] - 1 : 0;
        break;
    case 2: // one dimension fewer
        if (rank > 1)
            rank--;
        else
            space_kind = 1;
        break;
    case 3: // one dimension more
        if (rank < 4) dims[rank++] = fz_pick(in, 4);
        break;
    case 4: // a dimension of 0: width 0, or no rows
        dims[rank > 1 ? 1 + fz_pick(in, (unsigned)rank - 1) : 0] = 0;
        break;
    case 5: // huge rows, never written
        dims[0] = (hsize_t)1 << (10 + fz_pick(in, HUGE_LOG2_MAX - 9));
        huge = 1;
        break;
    case 6: // a huge row (or huge rows for a 1-D dataset), never written
        dims[rank > 1 ? rank - 1 : 0] = (hsize_t)1 << (10 + fz_pick(in, 25));
        huge = 1;
        break;
    case 7:
        space_kind = 2;
        break;
    case 8: // extendible
        unlimited = 1;
        break;
    case 9: // the input's row count
        dims[0] = (hsize_t)fz_bits(in, 4);
        huge = dims[0] > WRITE_MAX_ELEMS;
        break;
    }
    hsize_t total = 1;
    for (int d = 0; d < rank; d++)
        total = dims[d] && total > UINT64_MAX / dims[d] ? UINT64_MAX : total * dims[d];
    if (space_kind) total = space_kind == 1 ? 1 : 0;
    // the layout: chunked as data/dsfile.c does (whole rows, capped), contiguous, or compact
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    unsigned layout = fz_mode(in, 4);
    if (huge || unlimited || total > WRITE_MAX_ELEMS) layout = 0;
    hid_t space;
    if (space_kind)
        space = H5Screate(space_kind == 1 ? H5S_SCALAR : H5S_NULL);
    else {
        for (int d = 0; d < rank; d++)
            maxdims[d] = unlimited || (huge && d == 0) ? H5S_UNLIMITED : dims[d];
        space = H5Screate_simple(rank, dims, maxdims);
    }
    if (space_kind == 0 && (layout == 0 || layout == 3) && total > 0) {
        hsize_t elems = 1;
        for (int d = rank - 1; d >= 0; d--) {
            chunk[d] = dims[d] ? dims[d] : 1;
            if (chunk[d] > 4096) chunk[d] = 4096;
            if (d == 0 && elems * chunk[0] > 65536) chunk[0] = 65536 / elems ? 65536 / elems : 1;
            elems *= chunk[d];
        }
        H5Pset_chunk(dcpl, rank, chunk);
        if (layout == 0) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 1);
        }
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_INCR);
    } else if (layout == 2 && space_kind == 0 && total * H5Tget_size(t) < 32768) {
        H5Pset_layout(dcpl, H5D_COMPACT);
    }
    H5T_class_t cls = H5Tget_class(t);
    if (fz_mode(in, 2) && cls != H5T_STRING && cls != H5T_COMPOUND && cls != H5T_ARRAY) {
        uint64_t raw[2] = {0, 0}; // a hostile fill value, read wherever nothing was written
        store(raw, what, 0, hostile(in, what, limit));
        H5Pset_fill_value(dcpl, mem_type_of(what), raw);
    }
    hid_t d = H5Dcreate2(loc, name, t, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    unsigned values = fz_mode(in, 4); // ordinary, hostile at places, the input's bytes, none
    if (d >= 0 && space_kind == 0 && !huge && total > 0 && total <= WRITE_MAX_ELEMS &&
        values != 3) {
        void *buf = calloc((size_t)total, 8);
        hsize_t per = rank > 1 && dims[0] ? total / dims[0] : 1;
        for (hsize_t k = 0; k < total; k++)
            store(buf, what, (size_t)k, ordinary(what, limit, k / per, k % per));
        if (values == 1)
            for (int r = 1 + (int)fz_pick(in, 4); r > 0; r--)
                store(buf, what, (size_t)(fz_bits(in, 2) % total), hostile(in, what, limit));
        if (values == 2)
            for (size_t k = 0; k < (size_t)total * H5Tget_size(mem_type_of(what)); k++)
                ((uint8_t *)buf)[k] = (uint8_t)fz_u8(in);
        H5Dwrite(d, mem_type_of(what), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
    }
    H5Sclose(space);
    H5Tclose(t);
    return d;
}
