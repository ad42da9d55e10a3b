// xalloc.h - allocation that cannot return NULL: a failure is a tier-2 error naming the size.
#pragma once

#include <stddef.h>

// Owned; free with xfree. n == 0 returns a valid unique pointer.
void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t count, size_t size, const char *file, int line);
// 64-byte aligned (cache line / AVX-512), contents zeroed. Owned; free with xfree.
void *xcalloc_aligned_at(size_t n, const char *file, int line);
void xfree(void *p);
// A copy of the string s. Owned; free with xfree.
char *xstrdup_at(const char *s, const char *file, int line);
#define xstrdup(s) xstrdup_at((s), __FILE__, __LINE__)

#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(count, size) xcalloc_at((count), (size), __FILE__, __LINE__)
#define xcalloc_aligned(n) xcalloc_aligned_at((n), __FILE__, __LINE__)
