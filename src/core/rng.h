// rng.h - counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Random123").
//
// A stream is named by (seed, round, party, purpose): the 64-bit seed is the Philox key and the
// counter is (block, round, party, purpose). Streams with different names never overlap, and the
// n-th number of a stream does not depend on what other streams drew, so a resumed run and a run on
// another rank layout draw the same numbers (docs/architecture.md §2). A stream holds 2^32 blocks
// of 4 words.
#pragma once

#include <stddef.h>
#include <stdint.h>

// What a stream is for. Written to checkpoints: append-only.
typedef enum RngPurpose {
    RNG_INIT = 0,          // parameter initialisation
    RNG_DROPOUT = 1,       // dropout and MC-dropout masks
    RNG_DATA = 2,          // data generation, augmentation
    RNG_SHUFFLE = 3,       // batch order
    RNG_PARTITION = 4,     // party splits, modality masks
    RNG_SAMPLE = 5,        // choice of the round's parties
    RNG_TEST = 6,          // tests and benchmarks
    RNG_SELECT = 7,        // rows a party uploads, rows a generator is preference-trained on
    RNG_DROPOUT_PARTY = 8, // whether a sampled party's update arrives (--party-dropout)
    RNG_SECAGG = 9,        // secure aggregation's keys and self masks (src/secagg)
    RNG_ATTACK = 10,       // the attack simulator: who attacks, the noise attack (src/agg/attack.h)
    RNG_STRAGGLER = 11,    // a party's simulated speed in a round (--straggler.deadline)
    RNG_DP_NOISE = 12,     // the Gaussian noise of client-level DP on the aggregate (--dp.clip)
    RNG_SECAGG_DROP = 13,  // whether a secure-aggregation member vanishes (--secagg.drop)
} RngPurpose;

// Transparent so that a checkpoint can store it; use the functions to draw.
typedef struct Rng {
    uint32_t key[2];    // the seed
    uint32_t stream[3]; // round, party, purpose: counter words 1..3
    uint64_t block;     // next block to compute: counter word 0 (< 2^32)
    uint32_t buf[4];    // output of block - 1
    uint32_t pos;       // next unread word of buf (4 = empty)
} Rng;

// The bare bijection: out = Philox4x32-10(ctr, key). Local.
void philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

// Starts stream (seed, round, party, purpose) at its first number. Local.
void rng_init(Rng *r, uint64_t seed, uint32_t round, uint32_t party, uint32_t purpose);
// Next raw 32-bit word. CHECKs that the stream is not exhausted (2^34 words).
uint32_t rng_u32(Rng *r);
// Uniform in [0, 1) with 24 random bits (every float is exactly representable).
float rng_uniform(Rng *r);
// Uniform integer in [0, n), unbiased (rejection). n > 0.
uint32_t rng_below(Rng *r, uint32_t n);
// Standard normal (Box-Muller in double, two words per draw).
float rng_normal(Rng *r);
// x[i] = uniform in [lo, hi) / normal(mean, std), i < n.
void rng_fill_uniform(Rng *r, float *x, size_t n, float lo, float hi);
void rng_fill_normal(Rng *r, float *x, size_t n, float mean, float std);
// Number of words drawn so far from this stream (for logs and tests).
uint64_t rng_words_drawn(const Rng *r);

// ---- permutations and samples ----
// Two shuffles that draw differently, each kept for the numbers of the runs that use it:
// rng_shuffle draws rng_below(i + 1) per step (unbiased); rng_shuffle_wide draws a 64-bit word
// (high word first) modulo i + 1 (the local training order since the first version). Both are
// Fisher–Yates from the end over a[0..n). Local.
void rng_shuffle(Rng *r, int64_t *a, int64_t n);
void rng_shuffle_wide(Rng *r, int64_t *a, int64_t n);
// idx[0..k) = a uniform sample of k of [0, n) without replacement, in draw order (partial
// Fisher–Yates from the front, rng_below draws); idx has room for n and ends as a permutation of
// [0, n). CHECKs 0 <= k <= n < 2^32. Local.
void rng_sample_prefix(Rng *r, int64_t *idx, int64_t n, int64_t k);
