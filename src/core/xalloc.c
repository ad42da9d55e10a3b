// xalloc.c - see xalloc.h.
#include "core/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) die_at(file, line, "xmalloc", "out of memory allocating %zu bytes", n);
    return p;
}

void *xcalloc_at(size_t count, size_t size, const char *file, int line) {
    if (size && count > SIZE_MAX / size)
        die_at(file, line, "xcalloc", "size overflow: %zu x %zu bytes", count, size);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die_at(file, line, "xcalloc", "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *xcalloc_aligned_at(size_t n, const char *file, int line) {
    void *p = NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded < n || posix_memalign(&p, 64, rounded ? rounded : 64) != 0)
        die_at(file, line, "xcalloc_aligned", "out of memory allocating %zu aligned bytes", n);
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

void xfree(void *p) { free(p); }

char *xstrdup_at(const char *s, const char *file, int line) {
    if (!s) die_at(file, line, "xstrdup", "string is NULL");
    size_t n = strlen(s) + 1;
    char *p = xmalloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}
