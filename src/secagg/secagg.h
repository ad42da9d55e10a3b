// secagg.h - secure aggregation in the exact fixed-point ring: the cloud sees only masked term
// vectors, and the unmasked sum is bit-identical to the plain one (docs/secagg.md).
//
// Every party's aggregation term is an int64 (comm/exact.h), and sums are exact, so masks added in
// Z/2^64 cancel bit for bit. Per round, each member p masks its vector v_p (n uint64) as
//   v_p += PRG(b_p) + Σ_{q>p} PRG(k_pq) − Σ_{q<p} PRG(k_pq)   (mod 2^64, q over the members)
// where k_pq comes from an X25519 agreement of p's and q's mask keys and b_p is p's self-mask seed.
// The pairwise masks cancel in the sum over all members; the cloud removes the self masks, and the
// pairwise masks a dropped member left behind, from Shamir shares (secagg/shamir.h) of b_p (for p
// that uploaded) or of the dropped member's mask key, held by the surviving members. Any threshold
// t of the survivors suffice; fewer end the round cleanly on every rank.
//
// Rounds of the protocol (Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving
// Machine Learning", CCS 2017, §4, the honest-but-curious version over the complete graph):
//   secagg_setup   AdvertiseKeys (hosts → cloud → everyone: two public keys per member) and
//                  ShareKeys (each member's shares for each other member, AEAD-encrypted for that
//                  member: hosts → cloud → hosts; the cloud routes what it cannot read)
//   secagg_mask    masking, local to the member's host
//   (the caller)   masked vectors to the cloud (comm_gather_parties) and their sum mod 2^64
//   secagg_unmask  the cloud's survivor set U (the caller's `uploaded`); the survivors' hosts send,
//                  per member, the share of b_p (p in U) or of p's mask key (p dropped), never
//                  both; the cloud reconstructs and subtracts
//
// Keys are derived from the stream (seed, round, party, RNG_SECAGG) of core/rng.h: the same at any
// -np and on resume, which also means whoever knows the run's seed can derive them. The simulation
// trades that for reproducibility; a deployment draws each party's seed from randombytes_buf
// (docs/secagg.md, threat model). Transfers go through comm/comm.h and are charged per party.
// The cost is O(m²) keys and shares for m members and O(m·n) keystream per member (SecAgg+'s
// sparse graph is not built).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"

typedef struct SecAgg SecAgg;

// Payload bytes per member and round, as charged (docs/secagg.md, cost):
#define SECAGG_PK_BYTES 64 // AdvertiseKeys: two X25519 public keys, up (the cloud sends m·64 down)
#define SECAGG_SHARE_BYTES 40 // one Shamir share of a 32-byte secret (five 8-byte field elements)
#define SECAGG_CT_BYTES 96    // ShareKeys: two shares + the AEAD tag, per other member, up and down

// ---- the threshold ----
// spec is --secagg.threshold: a fraction F in [0, 1), giving t = floor(F·m) + 1 for a round of m
// members (strictly more than F of them: the default 0.5 is a strict majority, as in SecAgg), or
// a whole count in [1, parties], giving t = spec in every round (a round of fewer members fails).
// Returns 0, or -1 with a message naming the option and the value in err (cap bytes). Local.
int secagg_threshold_check(double spec, int parties, char *err, size_t cap);
// t for m members under spec (valid per secagg_threshold_check; CHECKed). Local.
int secagg_threshold(double spec, int members);

// ---- the protocol ----
// Collective in spirit: every rank calls it with the same arguments (no transfer). parties must be
// the Comm's party count; threshold is CHECKed as secagg_threshold_check. Calls sodium_init
// (CHECKed). Owned by the caller: secagg_destroy frees and wipes the keys (Local).
SecAgg *secagg_create(Comm *c, int parties, double threshold, uint64_t seed);
void secagg_destroy(SecAgg *s);

// Collective: round set-up for members (P flags, 1 = the party takes part; the same on every rank,
// CHECKed by a digest): key derivation, AdvertiseKeys, ShareKeys. round >= 0 names the keys'
// stream; a later setup replaces the previous round's state. Returns 0, or -1 on every rank, with a
// message naming the counts in err (cap bytes), when the round has fewer members than the threshold
// (no transfer is made then). Charges each hosted member SECAGG_PK_BYTES + (m-1)·SECAGG_CT_BYTES up
// and m·SECAGG_PK_BYTES + (m-1)·SECAGG_CT_BYTES down.
int secagg_setup(SecAgg *s, int round, const uint8_t *members, char *err, size_t cap);

// The threshold t of the round set up last (0 before any). Local.
int secagg_round_threshold(const SecAgg *s);

// Local: hosted member `party` masks its term vector v (n, int64 terms read as uint64) in place,
// mod 2^64. Keystream in chunks: no allocation of n per member. CHECKs that a round is set up and
// that party is a member this rank hosts. Masking twice adds the mask twice.
void secagg_mask(SecAgg *s, int party, uint64_t *v, size_t n);

// Collective: uploaded (P flags, ⊆ the round's members, the same on every rank; CHECKed) is the
// set U whose masked vectors reached the cloud. On rank 0, sum (n) holds Σ_{p∈U} masked v_p mod
// 2^64 on entry and Σ_{p∈U} v_p mod 2^64 on return; other ranks pass n and may pass sum = NULL.
// Returns 0, or -1 on every rank, with a message naming the counts in err, when fewer than t
// members uploaded (sum untouched; no transfer is made). Charges each hosted survivor the list of
// U (4 bytes per survivor) down and m·SECAGG_SHARE_BYTES up. Once per setup (CHECKed): honest
// survivors answer one U per round, since shares for two different sets would hand the cloud both
// b_p and p's mask key for some p, and with them p's vector.
int secagg_unmask(SecAgg *s, const uint8_t *uploaded, uint64_t *sum, size_t n, char *err,
                  size_t cap);
