// idx.h - reader of gzip'd IDX files (the MNIST / Fashion-MNIST format), through zlib.
//
// Format: 2 zero bytes, a dtype byte (0x08 = uint8, the only one read here), a byte ndim, then ndim
// big-endian uint32 dimensions, then the data in row-major order. Plain (uncompressed) files read
// too, since gzread passes them through.
#pragma once
#include <stdint.h>

#define IDX_MAX_DIMS 4

typedef struct {
    int ndim;
    int64_t dims[IDX_MAX_DIMS];
    int64_t count; // product of dims
    uint8_t *data; // (dims...) row-major, owned
} IdxArray;

// Reads the whole file into a (zeroed) a. CHECKs: the file opens, the header is a uint8 IDX header
// with 1 <= ndim <= IDX_MAX_DIMS, the data is complete. Local.
void idx_read(IdxArray *a, const char *path);
// Reads the first n_max items (dims[0] is cut to at most n_max); n_max < 0 reads everything.
void idx_read_first(IdxArray *a, const char *path, int64_t n_max);
// Frees a->data and zeroes a; safe on a zeroed struct.
void idx_free(IdxArray *a);
