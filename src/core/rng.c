// rng.c - Philox4x32-10 and the distributions built on it. See rng.h.
#include "core/rng.h"

#include <math.h>

#include "core/die.h"

// Multipliers and Weyl key increments from the Random123 reference (philox.h).
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void rng_init(Rng *r, uint64_t seed, uint32_t round, uint32_t party, uint32_t purpose) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->stream[0] = round;
    r->stream[1] = party;
    r->stream[2] = purpose;
    r->block = 0;
    r->pos = 4;
    r->buf[0] = r->buf[1] = r->buf[2] = r->buf[3] = 0;
}

uint32_t rng_u32(Rng *r) {
    if (r->pos == 4) {
        CHECK(r->block <= UINT32_MAX,
              "random stream (round %u, party %u, purpose %u) exhausted after 2^34 words",
              r->stream[0], r->stream[1], r->stream[2]);
        const uint32_t ctr[4] = {(uint32_t)r->block, r->stream[0], r->stream[1], r->stream[2]};
        philox4x32_10(r->buf, ctr, r->key);
        r->block++;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

float rng_uniform(Rng *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint32_t rng_below(Rng *r, uint32_t n) {
    CHECK(n > 0, "n = %u must be positive", n);
    // Reject the top partial bucket so that every residue is equally likely.
    uint32_t limit = UINT32_MAX - (UINT32_MAX % n + 1) % n;
    uint32_t x;
    do
        x = rng_u32(r);
    while (x > limit);
    return x % n;
}

float rng_normal(Rng *r) {
    // u1 in (0, 1] so that log(u1) is finite; 32-bit resolution is ample in double.
    double u1 = ((double)rng_u32(r) + 1.0) * (1.0 / 4294967296.0);
    double u2 = (double)rng_u32(r) * (1.0 / 4294967296.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void rng_fill_uniform(Rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rng_uniform(r);
}

void rng_fill_normal(Rng *r, float *x, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i++)
        x[i] = mean + std * rng_normal(r);
}

uint64_t rng_words_drawn(const Rng *r) {
    return r->block == 0 ? 0 : ((r->block - 1) << 2) + r->pos;
}

void rng_shuffle(Rng *r, int64_t *a, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint32_t)(i + 1)), tmp = a[i];
        a[i] = a[j], a[j] = tmp;
    }
}

void rng_shuffle_wide(Rng *r, int64_t *a, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t hi = rng_u32(r), lo = rng_u32(r);
        int64_t j = (int64_t)(((hi << 32) | lo) % (uint64_t)(i + 1)), tmp = a[i];
        a[i] = a[j], a[j] = tmp;
    }
}

void rng_sample_prefix(Rng *r, int64_t *idx, int64_t n, int64_t k) {
    CHECK(k >= 0 && k <= n && n <= (int64_t)UINT32_MAX, "sample %lld of %lld", (long long)k,
          (long long)n);
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t j = 0; j < k; j++) {
        int64_t p = j + (int64_t)rng_below(r, (uint32_t)(n - j)), tmp = idx[j];
        idx[j] = idx[p], idx[p] = tmp;
    }
}
