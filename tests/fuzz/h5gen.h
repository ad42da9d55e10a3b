// h5gen.h - writers of well-formed HDF5 objects with hostile content, for the harnesses behind
// the integrity gates (fuzz_dataset.c, fuzz_ckpt.c; docs/fuzzing.md).
//
// Each writer has an ordinary form (what the project's own writers produce: data/dsfile.c,
// io/ckpt.c, io/runfile.c) and lets the input choose a deviation: another type, class, size or
// dataspace, a missing object, another count, hostile values. HDF5 refusing a deviation (an
// impossible combination) just leaves the object out. Nothing here dies: errors are ignored,
// identifiers are closed before returning (but the dataset fz_dataset returns).
#pragma once

#include <hdf5.h>
#include <stdint.h>

#include "harness.h"

// What a dataset holds: chooses its memory type, its ordinary values and its hostile ones.
typedef enum {
    FZ_LABEL,  // int32, ordinary i % limit, hostile: outside [0, limit)
    FZ_ENTITY, // int64, ordinary i
    FZ_META,   // int32, small
    FZ_U8,     // uint8
    FZ_TOKEN,  // int32, ordinary < limit, hostile: outside [0, limit)
    FZ_F32,    // float, ordinary in [0, 1), hostile: NaN, Inf, huge
    FZ_F64,    // double
    FZ_I64,    // int64, ordinary small counts
    FZ_U32,    // uint32
} FzWhat;

// Ordinary string attributes: variable-length UTF-8 (data/dsfile.c) or fixed-length
// null-terminated of the string's size (io/runfile.c h5_attr_str, checkpoints).
typedef enum { FZ_VLEN, FZ_FIXED } FzStrForm;

hid_t fz_vlen_str(void);
hid_t fz_fixed_str(size_t size, H5T_str_t pad);

// n strings s as attribute name of loc (n < 0: a scalar of s[0]) in the ordinary form, or a
// deviation: missing, the other form, fixed-length null-padded without a terminator or
// space-padded or of size 1 or long, an integer or float, a null or 2-D dataspace, ASCII, other
// strings (another count, the input's bytes, empty ones).
void fz_str_attr(FuzzIn *in, hid_t loc, const char *name, int n, const char *const *s,
                 FzStrForm form);
// A scalar number attribute of file type ftype holding v, or: missing, another integer type
// (sizes, signs, big-endian), a float, a string, an array of two, a null dataspace, the input's
// value, a special value (-1, 0, 2^31, 2^40, INT64_MIN, ...), NaN.
void fz_num_attr(FuzzIn *in, hid_t loc, const char *name, hid_t ftype, int64_t v);
// A scalar float attribute (file type float32), or: missing, an integer, NaN/Inf/negative/huge,
// float64 big-endian.
void fz_float_attr(FuzzIn *in, hid_t loc, const char *name, float v);

// Creates loc/name (intermediate groups made as needed) of file type ftype and shape dims (rank
// 1..4, dims[0] the rows), chunked + shuffle + deflate and written with ordinary values (limit:
// the class or vocabulary count for FZ_LABEL / FZ_TOKEN), as the project writes it; or, chosen
// by the input: missing, a group or a dangling soft link in its place; another type (other
// integers and floats, strings, a compound, an array type); another shape (a row more or fewer,
// a dimension fewer or more, a dimension of 0, huge rows or a huge row that are never written,
// a null or scalar dataspace, unlimited maxdims, the input's row count); a contiguous or compact
// layout; a fill value that is hostile; hostile values at a few places, or the input's bytes, or
// nothing written. Returns the open dataset (the caller adds attributes and closes it), or -1.
hid_t fz_dataset(FuzzIn *in, hid_t loc, const char *name, hid_t ftype, int rank,
                 const hsize_t *dims, FzWhat what, int limit);
