// shamir.h - Shamir secret sharing of a 32-byte secret over the prime field GF(2^61 - 1).
//
// A secret is cut into SHAMIR_LIMBS limbs of at most 7 bytes (little-endian: bytes 0..6, 7..13,
// 14..20, 21..27, 28..31), each below 2^56 < p; limb k is the constant term of its own random
// polynomial of degree t - 1, and share i is the five polynomials' values at xs[i]. Any t shares
// give the secret back by Lagrange interpolation at 0; t - 1 shares are independent of it (every
// coefficient is uniform in the field). The secure aggregation indexes shares by party id + 1.
//
// Why this field, not GF(2^8) byte-wise: the x of a share must be a distinct non-zero field element
// per party, and --parties goes to 100000 (GF(2^8) stops at 255, GF(2^16) at 65535). A Mersenne
// prime makes the reduction a shift and an add over a 128-bit product, with no table lookups
// (constant time). The cost is 40 bytes per share instead of 32. A limb that decodes to 2^56 or
// more (2^32 for the last) cannot be a secret's: combining wrong or too few shares is detected so
// with probability 1 - 2^-49.
//
// Coefficients come from a ChaCha20 stream keyed by the caller's 32-byte key (libsodium's
// crypto_stream_chacha20), so the same key gives the same shares: runs are reproducible. The key
// must be as secret as the secret itself.
//
// Sources: A. Shamir, "How to share a secret", CACM 22(11), 1979; the use for secure aggregation:
// Bonawitz et al., CCS 2017, §4. The limb layout and the field are [I] reconstruction.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SHAMIR_SECRET 32               // bytes of a secret
#define SHAMIR_LIMBS 5                 // field elements per share
#define SHAMIR_P 0x1fffffffffffffffULL // 2^61 - 1
#define SHAMIR_MAX_X (SHAMIR_P - 1)    // largest x a share may have

// shares (n, SHAMIR_LIMBS) = the values at xs[i] (n, distinct, in [1, SHAMIR_MAX_X]) of the
// secret's polynomials of degree t - 1, coefficients drawn from the ChaCha20 stream of key. CHECKs
// 1 <= t <= n and the xs. Local.
void shamir_split(uint64_t *shares, const uint8_t secret[SHAMIR_SECRET], const uint64_t *xs, int n,
                  int t, const uint8_t key[32]);

// lambda (t) = the Lagrange coefficients at 0 of the points xs (t, distinct, non-zero):
// lambda_i = Π_{j≠i} x_j / (x_j - x_i) mod p. One set serves every secret shared among the same
// holders. CHECKs t >= 1 and the xs. Local.
void shamir_lagrange(uint64_t *lambda, const uint64_t *xs, int t);

// secret = Σ_i lambda_i · share_i, share i at shares + i·stride (stride >= SHAMIR_LIMBS, in
// uint64 elements: a gathered table's row pitch). Returns 0, or -1 when a limb is out of a secret's
// range (the shares are not t consistent shares of one secret); secret is written either way.
// Local.
int shamir_combine_with(uint8_t secret[SHAMIR_SECRET], const uint64_t *shares, size_t stride,
                        const uint64_t *lambda, int t);

// shamir_lagrange then shamir_combine_with over shares (t, SHAMIR_LIMBS) at xs (t). Local.
int shamir_combine(uint8_t secret[SHAMIR_SECRET], const uint64_t *shares, const uint64_t *xs,
                   int t);
