// sha256.h - SHA-256 (FIPS 180-4), streaming: the provenance digests of run files (the data file,
// the build's uncommitted changes). Local, no allocation; a Sha256 is a plain value.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64 // hex digits; a buffer needs SHA256_HEX_LEN + 1

typedef struct {
    uint32_t h[8];
    uint64_t bytes;    // message length so far
    uint8_t block[64]; // the pending partial block
    size_t used;       // bytes in block
} Sha256;

void sha256_init(Sha256 *s);
// Appends n bytes (any split: the digest depends on the concatenation only).
void sha256_update(Sha256 *s, const void *data, size_t n);
// The 32-byte digest; s must be re-initialised before further use.
void sha256_final(Sha256 *s, uint8_t out[32]);
// Lower-case hex of a digest into hex (SHA256_HEX_LEN + 1 bytes, NUL-terminated).
void sha256_hex(const uint8_t digest[32], char *hex);
// The hex digest of a whole file, read in 1 MiB pieces. 0, or -1 with errno set (hex left "").
int sha256_file_hex(const char *path, char *hex);
