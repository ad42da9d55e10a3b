// idx.c - gzip'd IDX reader (idx.h).
#include "data/idx.h"

#include <string.h>
#include <zlib.h>

#include "core/die.h"
#include "core/xalloc.h"

static void read_exact(gzFile f, void *buf, int64_t n, const char *path) {
    uint8_t *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1 << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        int err = 0;
        CHECK(got > 0, "%s: truncated or unreadable (%s)", path,
              got < 0 ? gzerror(f, &err) : "EOF");
        p += got;
        n -= got;
    }
}

void idx_read_first(IdxArray *a, const char *path, int64_t n_max) {
    CHECK_PTR(a);
    CHECK_PTR(path);
    memset(a, 0, sizeof(*a));
    gzFile f = gzopen(path, "rb");
    CHECK(f != NULL, "cannot open IDX file %s", path);
    uint8_t head[4];
    read_exact(f, head, 4, path);
    CHECK(head[0] == 0 && head[1] == 0 && head[2] == 0x08 && head[3] >= 1 &&
              head[3] <= IDX_MAX_DIMS,
          "%s: not a uint8 IDX file (magic %02x %02x %02x %02x)", path, head[0], head[1], head[2],
          head[3]);
    a->ndim = head[3];
    a->count = 1;
    for (int d = 0; d < a->ndim; d++) {
        uint8_t b[4];
        read_exact(f, b, 4, path);
        a->dims[d] = ((int64_t)b[0] << 24) | ((int64_t)b[1] << 16) | ((int64_t)b[2] << 8) | b[3];
        CHECK(a->dims[d] > 0, "%s: dimension %d is 0", path, d);
    }
    if (n_max >= 0 && a->dims[0] > n_max) a->dims[0] = n_max;
    for (int d = 0; d < a->ndim; d++)
        a->count *= a->dims[d];
    a->data = xmalloc((size_t)a->count);
    read_exact(f, a->data, a->count, path);
    gzclose(f);
}

void idx_read(IdxArray *a, const char *path) { idx_read_first(a, path, -1); }

void idx_free(IdxArray *a) {
    if (!a) return;
    xfree(a->data);
    memset(a, 0, sizeof(*a));
}
