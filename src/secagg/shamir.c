// shamir.c - Shamir sharing over GF(2^61 - 1) (see shamir.h).
#include "secagg/shamir.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/die.h"
#include "core/xalloc.h"

// Limb k holds bytes [7k, 7k + 7) of the secret (the last one 4 bytes).
static const int LIMB_BYTES[SHAMIR_LIMBS] = {7, 7, 7, 7, 4};

// a·b mod p for a, b < p: the 122-bit product folded at bit 61 (2^61 ≡ 1), twice, then one
// conditional subtraction. No branch on secret data but the last compare (a cmov in practice).
static uint64_t mulmod(uint64_t a, uint64_t b) {
    unsigned __int128 z = (unsigned __int128)a * b;
    uint64_t r = (uint64_t)(z & SHAMIR_P) + (uint64_t)(z >> 61);
    r = (r & SHAMIR_P) + (r >> 61);
    return r >= SHAMIR_P ? r - SHAMIR_P : r;
}

static uint64_t addmod(uint64_t a, uint64_t b) {
    uint64_t r = a + b; // < 2^62: no wrap
    return r >= SHAMIR_P ? r - SHAMIR_P : r;
}

static uint64_t submod(uint64_t a, uint64_t b) { return addmod(a, SHAMIR_P - b); }

// a^(p-2) = a^-1 (Fermat), a != 0.
static uint64_t invmod(uint64_t a) {
    uint64_t r = 1, e = SHAMIR_P - 2;
    while (e) {
        if (e & 1) r = mulmod(r, a);
        a = mulmod(a, a);
        e >>= 1;
    }
    return r;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// CHECKs xs (n) distinct and in [1, SHAMIR_MAX_X]: sorted copy, O(n log n) for 10^5 parties.
static void check_xs(const uint64_t *xs, int n) {
    uint64_t *s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, xs, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_u64);
    for (int i = 0; i < n; i++) {
        CHECK(s[i] >= 1 && s[i] <= SHAMIR_MAX_X, "share x = %llu outside [1, 2^61 - 2]",
              (unsigned long long)s[i]);
        CHECK(i == 0 || s[i] != s[i - 1], "share x = %llu appears twice among %d",
              (unsigned long long)s[i], n);
    }
    xfree(s);
}

// Uniform field elements from the ChaCha20 stream of key: 61-bit words, the one value p rejected.
typedef struct {
    const uint8_t *key;
    uint64_t block; // next 64-byte block of the stream
    uint8_t buf[64];
    int pos; // next unread byte of buf (64 = empty)
} Coeffs;

static uint64_t next_coeff(Coeffs *g) {
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    static const uint8_t zeros[64] = {0};
    for (;;) {
        if (g->pos == 64) {
            crypto_stream_chacha20_xor_ic(g->buf, zeros, 64, nonce, g->block++, g->key);
            g->pos = 0;
        }
        uint64_t w = 0;
        for (int b = 0; b < 8; b++)
            w |= (uint64_t)g->buf[g->pos + b] << (8 * b);
        g->pos += 8;
        w &= SHAMIR_P;
        if (w < SHAMIR_P) return w;
    }
}

void shamir_split(uint64_t *shares, const uint8_t secret[SHAMIR_SECRET], const uint64_t *xs, int n,
                  int t, const uint8_t key[32]) {
    CHECK_PTR(shares);
    CHECK_PTR(secret);
    CHECK_PTR(xs);
    CHECK_PTR(key);
    CHECK(t >= 1 && t <= n, "threshold t = %d outside [1, n = %d]", t, n);
    CHECK(sodium_init() >= 0, "sodium_init failed");
    check_xs(xs, n);
    // coef (SHAMIR_LIMBS, t): limb k's polynomial, constant term first.
    uint64_t *coef = xmalloc((size_t)SHAMIR_LIMBS * (size_t)t * sizeof *coef);
    Coeffs g = {.key = key, .pos = 64};
    for (int k = 0, off = 0; k < SHAMIR_LIMBS; off += LIMB_BYTES[k], k++) {
        uint64_t limb = 0;
        for (int b = 0; b < LIMB_BYTES[k]; b++)
            limb |= (uint64_t)secret[off + b] << (8 * b);
        coef[(size_t)k * t] = limb;
        for (int j = 1; j < t; j++)
            coef[(size_t)k * t + j] = next_coeff(&g);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < SHAMIR_LIMBS; k++) { // Horner from the top coefficient
            const uint64_t *c = coef + (size_t)k * t;
            uint64_t y = c[t - 1];
            for (int j = t - 2; j >= 0; j--)
                y = addmod(mulmod(y, xs[i]), c[j]);
            shares[(size_t)i * SHAMIR_LIMBS + k] = y;
        }
    sodium_memzero(coef, (size_t)SHAMIR_LIMBS * (size_t)t * sizeof *coef);
    xfree(coef);
}

void shamir_lagrange(uint64_t *lambda, const uint64_t *xs, int t) {
    CHECK_PTR(lambda);
    CHECK_PTR(xs);
    CHECK(t >= 1, "t = %d shares: at least one is needed", t);
    check_xs(xs, t);
    for (int i = 0; i < t; i++) {
        uint64_t num = 1, den = 1;
        for (int j = 0; j < t; j++) {
            if (j == i) continue;
            num = mulmod(num, xs[j]);
            den = mulmod(den, submod(xs[j], xs[i]));
        }
        lambda[i] = mulmod(num, invmod(den));
    }
}

int shamir_combine_with(uint8_t secret[SHAMIR_SECRET], const uint64_t *shares, size_t stride,
                        const uint64_t *lambda, int t) {
    CHECK_PTR(secret);
    CHECK_PTR(shares);
    CHECK_PTR(lambda);
    CHECK(t >= 1 && stride >= SHAMIR_LIMBS, "t = %d, stride = %zu (at least %d)", t, stride,
          SHAMIR_LIMBS);
    int ok = 1;
    for (int k = 0, off = 0; k < SHAMIR_LIMBS; off += LIMB_BYTES[k], k++) {
        uint64_t y = 0;
        for (int i = 0; i < t; i++) {
            uint64_t s = shares[(size_t)i * stride + (size_t)k];
            CHECK(s < SHAMIR_P, "share %d limb %d = %llu is not a field element", i, k,
                  (unsigned long long)s);
            y = addmod(y, mulmod(lambda[i], s));
        }
        ok &= (y >> (8 * LIMB_BYTES[k])) == 0;
        for (int b = 0; b < LIMB_BYTES[k]; b++)
            secret[off + b] = (uint8_t)(y >> (8 * b));
    }
    return ok ? 0 : -1;
}

int shamir_combine(uint8_t secret[SHAMIR_SECRET], const uint64_t *shares, const uint64_t *xs,
                   int t) {
    CHECK(t >= 1, "t = %d shares: at least one is needed", t);
    uint64_t *lambda = xmalloc((size_t)t * sizeof *lambda);
    shamir_lagrange(lambda, xs, t);
    int rc = shamir_combine_with(secret, shares, SHAMIR_LIMBS, lambda, t);
    xfree(lambda);
    return rc;
}
