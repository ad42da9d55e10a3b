// secagg.c - secure aggregation with pairwise masks and Shamir dropout recovery (see secagg.h).
#include "secagg/secagg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/common.h"
#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "secagg/shamir.h"

#define KEY 32                         // X25519 keys, mask seeds, derived keys
#define PLAIN (2 * SECAGG_SHARE_BYTES) // a share of s_p's secret key, then one of b_p
#define TAG crypto_aead_chacha20poly1305_IETF_ABYTES
#define CHUNK 2048 // uint64 per keystream chunk: 16 KB, a multiple of the 8 words of a block

_Static_assert(SECAGG_CT_BYTES == PLAIN + TAG, "a share ciphertext is two shares and a tag");
_Static_assert(SECAGG_SHARE_BYTES == 8 * SHAMIR_LIMBS, "a share is five 8-byte elements");

// What the KDF derives from a member's round seed (crypto_kdf subkey ids): append-only, the keys
// of a reproducible run depend on them.
enum { KDF_C = 1, KDF_S = 2, KDF_B = 3, KDF_SHARE_S = 4, KDF_SHARE_B = 5 };
static const char KDF_CTX[crypto_kdf_CONTEXTBYTES] = {'m', 'm', 'c', 's', 'e', 'c', 'a', 'g'};
static const char LABEL_MASK[] = "mmcollab-secagg-mask";   // pair mask keys k_pq
static const char LABEL_SHARE[] = "mmcollab-secagg-share"; // pair AEAD keys for the shares

struct SecAgg {
    Comm *c;
    int P;
    double spec; // --secagg.threshold
    uint64_t seed;
    int first, count; // hosted parties [first, first + count)

    // The round set up last.
    int round, ready, unmasked;
    int m, t;
    uint8_t *members; // (P) flags
    int *idx;         // (P) index among the members, -1 for a non-member
    int *ids;         // (m) member party ids, increasing
    uint8_t *pk_c;    // (m, KEY) public keys for the shares' encryption, every rank
    uint8_t *pk_s;    // (m, KEY) public mask keys, every rank
    // Hosted members, by hosted index i (rows of non-members unused):
    uint8_t *sk_c;  // (count, KEY)
    uint8_t *sk_s;  // (count, KEY)
    uint8_t *b;     // (count, KEY) self-mask seeds
    uint8_t *own;   // (count, PLAIN) the member's own shares of its secrets
    uint8_t *inbox; // (count, m - 1, SECAGG_CT_BYTES) ciphertexts from the other members, in order
    uint8_t *pair;  // (count, m, KEY) k_pq by member index q (own slot unused)
    uint8_t *aead;  // (count, m, KEY) share AEAD key with member q, kept for unmask's decryption
                    // (one X25519 per pair and round: at 100 members, recomputing cost 0.37 s)
};

// ---- small helpers ----

static void put_le64(uint8_t *out, uint64_t v) {
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)(v >> (8 * b));
}

// Spelled out, not looped: compilers merge this form into one load on little-endian machines (the
// loop form stayed byte by byte and halved the masking speed).
static uint64_t get_le64(const uint8_t *in) {
    return (uint64_t)in[0] | (uint64_t)in[1] << 8 | (uint64_t)in[2] << 16 | (uint64_t)in[3] << 24 |
           (uint64_t)in[4] << 32 | (uint64_t)in[5] << 40 | (uint64_t)in[6] << 48 |
           (uint64_t)in[7] << 56;
}

static void put_le32(uint8_t *out, uint32_t v) {
    for (int b = 0; b < 4; b++)
        out[b] = (uint8_t)(v >> (8 * b));
}

// Slot of member index j in the list of members other than member index i.
static int other_slot(int i, int j) { return j < i ? j : j - 1; }

// out = H(X25519(sk, pk_other) ‖ pk of the lower id ‖ pk of the higher ‖ both ids ‖ round), keyed
// by label: the same key from either side, bound to the pair, the round and its use.
static void agree(uint8_t out[KEY], const uint8_t sk[KEY], const uint8_t pk_mine[KEY],
                  const uint8_t pk_other[KEY], int id_mine, int id_other, int round,
                  const char *label) {
    uint8_t dh[KEY];
    CHECK(crypto_scalarmult(dh, sk, pk_other) == 0,
          "X25519 of parties %d and %d gives the zero point (a low-order public key)", id_mine,
          id_other);
    int mine_low = id_mine < id_other;
    uint8_t tail[12];
    put_le32(tail, (uint32_t)(mine_low ? id_mine : id_other));
    put_le32(tail + 4, (uint32_t)(mine_low ? id_other : id_mine));
    put_le32(tail + 8, (uint32_t)round);
    crypto_generichash_state st;
    crypto_generichash_init(&st, (const uint8_t *)label, strlen(label), KEY);
    crypto_generichash_update(&st, dh, KEY);
    crypto_generichash_update(&st, mine_low ? pk_mine : pk_other, KEY);
    crypto_generichash_update(&st, mine_low ? pk_other : pk_mine, KEY);
    crypto_generichash_update(&st, tail, sizeof tail);
    crypto_generichash_final(&st, out, KEY);
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(&st, sizeof st);
}

// AEAD nonce of the share ciphertext sender → receiver: the pair key serves both directions, the
// order of the ids keeps the two nonces apart.
static void share_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], int from,
                        int to) {
    memset(nonce, 0, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
    put_le32(nonce, (uint32_t)from);
    put_le32(nonce + 4, (uint32_t)to);
}

// Both ranks agree on flags (P) and round, or the run is broken: one 16-byte allreduce of a
// digest and its complement under MAX (equal everywhere iff max(h) = h = min(h)).
static void check_same_everywhere(Comm *c, const uint8_t *flags, int P, int round,
                                  const char *what) {
    uint64_t h = 1469598103934665603ULL;
    for (int p = 0; p < P; p++)
        h = (h ^ (flags[p] != 0)) * 1099511628211ULL;
    h = (h ^ (uint64_t)(uint32_t)round) * 1099511628211ULL;
    int64_t mine = (int64_t)(h >> 2), v[2] = {mine, -mine};
    comm_allreduce(c, v, 2, COMM_I64, COMM_MAX, NULL);
    CHECK(v[0] == mine && -v[1] == mine,
          "secagg round %d: the %s flags differ between ranks (every rank must pass the same)",
          round, what);
}

// Adds sign · PRG(key)[off + k] to v[k], k < len: ChaCha20's keystream (zero nonce: every key is
// used for one stream) from byte 8·off, read as little-endian uint64. off is a multiple of 8 words
// (one 64-byte block), so the block counter is off / 8.
static void prg_add(uint64_t *v, size_t len, size_t off, const uint8_t key[KEY], int sign,
                    uint8_t *ks) {
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    static const uint8_t zeros[CHUNK * 8] = {0};
    crypto_stream_chacha20_xor_ic(ks, zeros, (unsigned long long)(len * 8), nonce, off / 8, key);
    if (sign > 0)
        for (size_t k = 0; k < len; k++)
            v[k] += get_le64(ks + 8 * k);
    else
        for (size_t k = 0; k < len; k++)
            v[k] -= get_le64(ks + 8 * k);
}

// v (n) += Σ_j signs[j] · PRG(keys[j]) over n_keys keys (n_keys, KEY), chunk by chunk so that
// each chunk of v stays in cache while every stream passes over it.
static void prg_apply(uint64_t *v, size_t n, const uint8_t *keys, const int *signs, size_t n_keys) {
    uint8_t *ks = xmalloc(CHUNK * 8);
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t len = MIN((size_t)CHUNK, n - off);
        for (size_t j = 0; j < n_keys; j++)
            prg_add(v + off, len, off, keys + j * KEY, signs[j], ks);
    }
    sodium_memzero(ks, CHUNK * 8);
    xfree(ks);
}

// ---- the threshold ----

int secagg_threshold_check(double spec, int parties, char *err, size_t cap) {
    if (isfinite(spec) && spec >= 0 && spec < 1) return 0;
    if (isfinite(spec) && spec >= 1 && spec <= parties && spec == floor(spec)) return 0;
    snprintf(err, cap,
             "secagg.threshold = %g: must be a fraction in [0, 1) (t = floor(F·members) + 1 per "
             "round) or a whole count in [1, parties = %d]",
             spec, parties);
    return -1;
}

int secagg_threshold(double spec, int members) {
    CHECK(members >= 0, "members = %d", members);
    CHECK(isfinite(spec) && spec >= 0, "secagg threshold spec = %g", spec);
    if (spec >= 1) {
        CHECK(spec == floor(spec), "secagg threshold count %g is not whole", spec);
        return (int)spec;
    }
    return (int)floor(spec * (double)members) + 1;
}

// ---- life cycle ----

// Frees the round's state, wiping the secrets.
static void round_free(SecAgg *s) {
    size_t cnt = (size_t)s->count, m = (size_t)s->m;
    if (s->sk_c) sodium_memzero(s->sk_c, cnt * KEY);
    if (s->sk_s) sodium_memzero(s->sk_s, cnt * KEY);
    if (s->b) sodium_memzero(s->b, cnt * KEY);
    if (s->own) sodium_memzero(s->own, cnt * PLAIN);
    if (s->pair) sodium_memzero(s->pair, cnt * m * KEY);
    if (s->aead) sodium_memzero(s->aead, cnt * m * KEY);
    xfree(s->ids), xfree(s->pk_c), xfree(s->pk_s), xfree(s->sk_c), xfree(s->sk_s), xfree(s->b);
    xfree(s->own), xfree(s->inbox), xfree(s->pair), xfree(s->aead);
    s->ids = NULL, s->pk_c = s->pk_s = s->sk_c = s->sk_s = s->b = s->own = s->inbox = NULL;
    s->pair = s->aead = NULL;
    s->ready = s->unmasked = 0, s->m = s->t = 0;
}

SecAgg *secagg_create(Comm *c, int parties, double threshold, uint64_t seed) {
    CHECK_PTR(c);
    CHECK(parties == comm_placement(c)->parties, "secagg for %d parties on a Comm of %d", parties,
          comm_placement(c)->parties);
    char err[256];
    CHECK(secagg_threshold_check(threshold, parties, err, sizeof err) == 0, "%s", err);
    CHECK(sodium_init() >= 0, "sodium_init failed (libsodium cannot start)");
    SecAgg *s = xcalloc(1, sizeof *s);
    s->c = c, s->P = parties, s->spec = threshold, s->seed = seed;
    s->count = comm_hosted(c, &s->first);
    s->members = xcalloc((size_t)parties, 1);
    s->idx = xmalloc((size_t)parties * sizeof *s->idx);
    return s;
}

void secagg_destroy(SecAgg *s) {
    if (!s) return;
    round_free(s);
    xfree(s->members), xfree(s->idx);
    xfree(s);
}

int secagg_round_threshold(const SecAgg *s) { return s->ready ? s->t : 0; }

// ---- setup ----

// Hosted member p (hosted index i, member index mi): keys and self-mask seed from its round seed,
// its shares of s_p's secret key and of b_p for every member (own row kept, the others encrypted
// into out (m - 1, SECAGG_CT_BYTES) in member order). Needs every member's public keys.
static void member_keys(SecAgg *s, int p, int i, uint8_t master[crypto_kdf_KEYBYTES]) {
    Rng rng;
    rng_init(&rng, s->seed, (uint32_t)s->round, (uint32_t)p, RNG_SECAGG);
    for (int w = 0; w < 8; w++) // Philox is not a cryptographic generator: see secagg.h
        put_le32(master + 4 * w, rng_u32(&rng));
    uint8_t *skc = s->sk_c + (size_t)i * KEY, *sks = s->sk_s + (size_t)i * KEY;
    crypto_kdf_derive_from_key(skc, KEY, KDF_C, KDF_CTX, master);
    crypto_kdf_derive_from_key(sks, KEY, KDF_S, KDF_CTX, master);
    crypto_kdf_derive_from_key(s->b + (size_t)i * KEY, KEY, KDF_B, KDF_CTX, master);
}

static void member_shares(SecAgg *s, int p, int i, const uint8_t master[crypto_kdf_KEYBYTES],
                          uint8_t *out) {
    int m = s->m, mi = s->idx[p];
    uint64_t *xs = xmalloc((size_t)m * sizeof *xs);
    for (int j = 0; j < m; j++)
        xs[j] = (uint64_t)s->ids[j] + 1;
    // Two coefficient keys: with one, the shares of s_p and b_p at the same x would differ by
    // exactly s_p − b_p, and each holder would learn it.
    uint8_t key_s[KEY], key_b[KEY];
    crypto_kdf_derive_from_key(key_s, KEY, KDF_SHARE_S, KDF_CTX, master);
    crypto_kdf_derive_from_key(key_b, KEY, KDF_SHARE_B, KDF_CTX, master);
    uint64_t *sh_s = xmalloc((size_t)m * SHAMIR_LIMBS * sizeof *sh_s);
    uint64_t *sh_b = xmalloc((size_t)m * SHAMIR_LIMBS * sizeof *sh_b);
    shamir_split(sh_s, s->sk_s + (size_t)i * KEY, xs, m, s->t, key_s);
    shamir_split(sh_b, s->b + (size_t)i * KEY, xs, m, s->t, key_b);
    uint8_t plain[PLAIN], nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    for (int j = 0; j < m; j++) {
        for (int k = 0; k < SHAMIR_LIMBS; k++) {
            put_le64(plain + 8 * k, sh_s[(size_t)j * SHAMIR_LIMBS + k]);
            put_le64(plain + SECAGG_SHARE_BYTES + 8 * k, sh_b[(size_t)j * SHAMIR_LIMBS + k]);
        }
        if (j == mi) {
            memcpy(s->own + (size_t)i * PLAIN, plain, PLAIN);
            continue;
        }
        uint8_t *key = s->aead + ((size_t)i * m + j) * KEY;
        agree(key, s->sk_c + (size_t)i * KEY, s->pk_c + (size_t)mi * KEY, s->pk_c + (size_t)j * KEY,
              p, s->ids[j], s->round, LABEL_SHARE);
        share_nonce(nonce, p, s->ids[j]);
        unsigned long long clen = 0;
        crypto_aead_chacha20poly1305_ietf_encrypt(out + (size_t)other_slot(mi, j) * SECAGG_CT_BYTES,
                                                  &clen, plain, PLAIN, NULL, 0, NULL, nonce, key);
        CHECK(clen == SECAGG_CT_BYTES, "share ciphertext of %llu bytes, expected %d", clen,
              SECAGG_CT_BYTES);
    }
    // The pair mask keys, for secagg_mask.
    for (int j = 0; j < m; j++)
        if (j != mi)
            agree(s->pair + ((size_t)i * m + j) * KEY, s->sk_s + (size_t)i * KEY,
                  s->pk_s + (size_t)mi * KEY, s->pk_s + (size_t)j * KEY, p, s->ids[j], s->round,
                  LABEL_MASK);
    sodium_memzero(plain, sizeof plain);
    sodium_memzero(key_s, sizeof key_s), sodium_memzero(key_b, sizeof key_b);
    sodium_memzero(sh_s, (size_t)m * SHAMIR_LIMBS * sizeof *sh_s);
    sodium_memzero(sh_b, (size_t)m * SHAMIR_LIMBS * sizeof *sh_b);
    xfree(xs), xfree(sh_s), xfree(sh_b);
}

int secagg_setup(SecAgg *s, int round, const uint8_t *members, char *err, size_t cap) {
    CHECK_PTR(s);
    CHECK_PTR(members);
    CHECK(round >= 0, "secagg round %d < 0", round);
    check_same_everywhere(s->c, members, s->P, round, "member");
    round_free(s);
    int m = 0;
    for (int p = 0; p < s->P; p++)
        m += members[p] != 0;
    int t = secagg_threshold(s->spec, m);
    if (m < t) {
        snprintf(err, cap,
                 "secure aggregation, round %d: %d members, fewer than the threshold t = %d "
                 "(secagg.threshold = %g): the round cannot be masked",
                 round, m, t, s->spec);
        return -1;
    }
    const int P = s->P, rank = comm_rank(s->c);
    const size_t cnt = (size_t)s->count;
    s->round = round, s->m = m, s->t = t;
    s->ids = xmalloc((size_t)m * sizeof *s->ids);
    for (int p = 0, j = 0; p < P; p++) {
        s->members[p] = members[p] != 0;
        s->idx[p] = s->members[p] ? j : -1;
        if (s->members[p]) s->ids[j++] = p;
    }
    s->pk_c = xmalloc((size_t)m * KEY), s->pk_s = xmalloc((size_t)m * KEY);
    s->sk_c = xmalloc(cnt * KEY), s->sk_s = xmalloc(cnt * KEY), s->b = xmalloc(cnt * KEY);
    s->own = xmalloc(cnt * PLAIN);
    s->pair = xcalloc(cnt * (size_t)m, KEY), s->aead = xcalloc(cnt * (size_t)m, KEY);
    int64_t *per = xmalloc((size_t)P * sizeof *per);
    uint8_t(*master)[crypto_kdf_KEYBYTES] = xmalloc(cnt * sizeof *master);

    // AdvertiseKeys: the hosted members' (pk_c, pk_s), gathered in party order, then broadcast.
    int hosted_members = 0;
    for (int i = 0; i < s->count; i++)
        hosted_members += s->members[s->first + i];
    uint8_t *adv = xmalloc((size_t)MAX(hosted_members, 1) * SECAGG_PK_BYTES);
    for (int i = 0, k = 0; i < s->count; i++) {
        int p = s->first + i;
        if (!s->members[p]) continue;
        member_keys(s, p, i, master[i]);
        CHECK(crypto_scalarmult_base(adv + (size_t)k * SECAGG_PK_BYTES,
                                     s->sk_c + (size_t)i * KEY) == 0,
              "X25519 public key of party %d", p);
        CHECK(crypto_scalarmult_base(adv + (size_t)k * SECAGG_PK_BYTES + KEY,
                                     s->sk_s + (size_t)i * KEY) == 0,
              "X25519 public key of party %d", p);
        k++;
    }
    for (int p = 0; p < P; p++)
        per[p] = s->members[p] ? SECAGG_PK_BYTES : 0;
    uint8_t *all = xmalloc((size_t)m * SECAGG_PK_BYTES);
    CommPay up = {.up = SECAGG_PK_BYTES, .who = s->members};
    comm_gather_parties(s->c, adv, per, all, COMM_U8, &up);
    CommPay down = {.down = (double)m * SECAGG_PK_BYTES, .who = s->members};
    comm_bcast(s->c, all, (size_t)m * SECAGG_PK_BYTES, COMM_U8, 0, &down);
    for (int j = 0; j < m; j++) {
        memcpy(s->pk_c + (size_t)j * KEY, all + (size_t)j * SECAGG_PK_BYTES, KEY);
        memcpy(s->pk_s + (size_t)j * KEY, all + (size_t)j * SECAGG_PK_BYTES + KEY, KEY);
    }
    xfree(adv), xfree(all);

    // ShareKeys: each hosted member's (m - 1) ciphertexts to the cloud, which re-orders them by
    // receiver and scatters them back: every host receives, per hosted member, one ciphertext
    // from each other member, in member order.
    const size_t row = (size_t)(m - 1) * SECAGG_CT_BYTES; // one member's out- or inbox
    uint8_t *outbox = xmalloc(MAX((size_t)hosted_members * row, 1));
    for (int i = 0, k = 0; i < s->count; i++) {
        int p = s->first + i;
        if (!s->members[p]) continue;
        member_shares(s, p, i, master[i], outbox + (size_t)k++ * row);
    }
    sodium_memzero(master, cnt * sizeof *master);
    xfree(master);
    for (int p = 0; p < P; p++)
        per[p] = s->members[p] ? (int64_t)row : 0;
    uint8_t *routed = NULL, *by_receiver = NULL;
    if (rank == 0) routed = xmalloc(MAX((size_t)m * row, 1));
    CommPay up_ct = {.up = (double)row, .who = s->members};
    comm_gather_parties(s->c, outbox, per, routed, COMM_U8, &up_ct);
    if (rank == 0) { // ciphertext sender j → receiver q moves from row j to row q
        by_receiver = xmalloc(MAX((size_t)m * row, 1));
        for (int j = 0; j < m; j++)
            for (int q = 0; q < m; q++)
                if (q != j)
                    memcpy(by_receiver + (size_t)q * row +
                               (size_t)other_slot(q, j) * SECAGG_CT_BYTES,
                           routed + (size_t)j * row + (size_t)other_slot(j, q) * SECAGG_CT_BYTES,
                           SECAGG_CT_BYTES);
    }
    uint8_t *inbox = xmalloc(MAX((size_t)hosted_members * row, 1));
    CommPay down_ct = {.down = (double)row, .who = s->members};
    comm_scatter_parties(s->c, by_receiver, per, inbox, COMM_U8, &down_ct);
    // Spread the received rows to hosted indices (non-members' rows unused).
    s->inbox = xmalloc(MAX(cnt * row, 1));
    for (int i = 0, k = 0; i < s->count; i++)
        if (s->members[s->first + i])
            memcpy(s->inbox + (size_t)i * row, inbox + (size_t)k++ * row, row);
    xfree(outbox), xfree(routed), xfree(by_receiver), xfree(inbox), xfree(per);
    s->ready = 1;
    return 0;
}

// ---- mask ----

void secagg_mask(SecAgg *s, int party, uint64_t *v, size_t n) {
    CHECK_PTR(s);
    CHECK(s->ready, "secagg_mask(party %d) before a round is set up", party);
    CHECK(party >= s->first && party < s->first + s->count,
          "secagg_mask: party %d is not hosted on rank %d (hosts %d..%d)", party, comm_rank(s->c),
          s->first, s->first + s->count - 1);
    CHECK(s->members[party], "secagg_mask: party %d is not a member of round %d", party, s->round);
    CHECK(n == 0 || v != NULL, "v is NULL with n = %zu", n);
    int i = party - s->first, mi = s->idx[party], m = s->m;
    // keys (m, KEY): b_p first, then k_pq for q != p, + for q > p and − for q < p.
    uint8_t *keys = xmalloc((size_t)m * KEY);
    int *signs = xmalloc((size_t)m * sizeof *signs);
    memcpy(keys, s->b + (size_t)i * KEY, KEY);
    signs[0] = 1;
    for (int j = 0, k = 1; j < m; j++) {
        if (j == mi) continue;
        memcpy(keys + (size_t)k * KEY, s->pair + ((size_t)i * m + j) * KEY, KEY);
        signs[k++] = j > mi ? 1 : -1;
    }
    prg_apply(v, n, keys, signs, (size_t)m);
    sodium_memzero(keys, (size_t)m * KEY);
    xfree(keys), xfree(signs);
}

// ---- unmask ----

int secagg_unmask(SecAgg *s, const uint8_t *uploaded, uint64_t *sum, size_t n, char *err,
                  size_t cap) {
    CHECK_PTR(s);
    CHECK_PTR(uploaded);
    CHECK(s->ready, "secagg_unmask before a round is set up");
    const int P = s->P, m = s->m, t = s->t, rank = comm_rank(s->c);
    check_same_everywhere(s->c, uploaded, P, s->round, "uploaded");
    CHECK(!s->unmasked,
          "secagg_unmask called twice in round %d: the survivors answer one uploaded set per "
          "round (shares for two sets would reveal a member's masks)",
          s->round);
    s->unmasked = 1;
    int u = 0;
    for (int p = 0; p < P; p++) {
        CHECK(!uploaded[p] || s->members[p],
              "secagg round %d: party %d uploaded but is not a member", s->round, p);
        u += uploaded[p] != 0;
    }
    if (u < t) {
        snprintf(err, cap,
                 "secure aggregation, round %d: %d of %d members uploaded, fewer than the "
                 "threshold t = %d: the dropped members' masks cannot be removed",
                 s->round, u, m, t);
        return -1;
    }
    CHECK(rank != 0 || n == 0 || sum != NULL, "sum is NULL on rank 0 with n = %zu", n);
    uint8_t *in_u = xmalloc((size_t)P);
    for (int p = 0; p < P; p++)
        in_u[p] = uploaded[p] != 0;
    CommPay announce = {.down = 4.0 * u, .who = in_u}; // the cloud's list of U, no transfer
    comm_charge_pay(s->c, &announce);

    // Each hosted survivor q: per member p in order, its share of b_p (p in U) or of p's mask key
    // (p dropped), never both.
    int hosted_u = 0;
    for (int i = 0; i < s->count; i++)
        hosted_u += in_u[s->first + i];
    const size_t row = (size_t)m * SECAGG_SHARE_BYTES;
    uint8_t *send = xmalloc(MAX((size_t)hosted_u * row, 1));
    uint8_t plain[PLAIN], nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    for (int i = 0, k = 0; i < s->count; i++) {
        int q = s->first + i, qi = s->idx[q];
        if (!in_u[q]) continue;
        for (int j = 0; j < m; j++) {
            int p = s->ids[j];
            if (j == qi) {
                memcpy(plain, s->own + (size_t)i * PLAIN, PLAIN);
            } else {
                const uint8_t *key = s->aead + ((size_t)i * m + j) * KEY;
                share_nonce(nonce, p, q);
                const uint8_t *ct =
                    s->inbox + ((size_t)i * (size_t)(m - 1) + other_slot(qi, j)) * SECAGG_CT_BYTES;
                CHECK(crypto_aead_chacha20poly1305_ietf_decrypt(
                          plain, NULL, NULL, ct, SECAGG_CT_BYTES, NULL, 0, nonce, key) == 0,
                      "secagg round %d: party %d's shares for party %d fail authentication",
                      s->round, p, q);
            }
            memcpy(send + (size_t)k * row + (size_t)j * SECAGG_SHARE_BYTES,
                   plain + (in_u[p] ? SECAGG_SHARE_BYTES : 0), SECAGG_SHARE_BYTES);
        }
        k++;
    }
    sodium_memzero(plain, sizeof plain);
    int64_t *per = xmalloc((size_t)P * sizeof *per);
    for (int p = 0; p < P; p++)
        per[p] = in_u[p] ? (int64_t)row : 0;
    uint8_t *got = rank == 0 ? xmalloc((size_t)u * row) : NULL;
    CommPay up = {.up = (double)row, .who = in_u};
    comm_gather_parties(s->c, send, per, got, COMM_U8, &up);
    sodium_memzero(send, MAX((size_t)hosted_u * row, 1));
    xfree(send), xfree(per);

    if (rank == 0) {
        // The first t survivors' shares (any t would do): table (t, m, SHAMIR_LIMBS).
        uint64_t *xs = xmalloc((size_t)t * sizeof *xs), *lambda = xmalloc((size_t)t * sizeof *xs);
        uint64_t *table = xmalloc((size_t)t * (size_t)m * SHAMIR_LIMBS * sizeof *table);
        for (int p = 0, r = 0; p < P && r < t; p++) {
            if (!in_u[p]) continue;
            xs[r] = (uint64_t)p + 1;
            for (size_t e = 0; e < (size_t)m * SHAMIR_LIMBS; e++)
                table[(size_t)r * m * SHAMIR_LIMBS + e] = get_le64(got + (size_t)r * row + 8 * e);
            r++;
        }
        shamir_lagrange(lambda, xs, t);
        // The streams to subtract: b_p for p in U; per dropped d and survivor p, k_pd with the
        // sign p added it with (+ when d > p), so subtracted with the opposite one.
        size_t d_count = (size_t)(m - u), n_keys = (size_t)u + d_count * (size_t)u;
        uint8_t *keys = xmalloc(n_keys * KEY), secret[KEY], pk[KEY];
        int *signs = xmalloc(n_keys * sizeof *signs);
        size_t k = 0;
        for (int j = 0; j < m; j++) {
            int p = s->ids[j];
            CHECK(shamir_combine_with(secret, table + (size_t)j * SHAMIR_LIMBS,
                                      (size_t)m * SHAMIR_LIMBS, lambda, t) == 0,
                  "secagg round %d: the shares of party %d's %s do not combine", s->round, p,
                  in_u[p] ? "self-mask seed" : "mask key");
            if (in_u[p]) {
                memcpy(keys + k * KEY, secret, KEY), signs[k++] = -1;
                continue;
            }
            CHECK(crypto_scalarmult_base(pk, secret) == 0 &&
                      sodium_memcmp(pk, s->pk_s + (size_t)j * KEY, KEY) == 0,
                  "secagg round %d: dropped party %d's mask key, rebuilt from %d shares, does not "
                  "match its public key",
                  s->round, p, t);
            for (int j2 = 0; j2 < m; j2++) {
                int q = s->ids[j2];
                if (!in_u[q]) continue;
                agree(keys + k * KEY, secret, s->pk_s + (size_t)j * KEY, s->pk_s + (size_t)j2 * KEY,
                      p, q, s->round, LABEL_MASK);
                signs[k++] = p > q ? -1 : 1;
            }
        }
        CHECK(k == n_keys, "secagg: %zu streams to remove, expected %zu", k, n_keys);
        prg_apply(sum, n, keys, signs, n_keys);
        sodium_memzero(keys, n_keys * KEY), sodium_memzero(secret, sizeof secret);
        sodium_memzero(table, (size_t)t * (size_t)m * SHAMIR_LIMBS * sizeof *table);
        xfree(xs), xfree(lambda), xfree(table), xfree(keys), xfree(signs);
        sodium_memzero(got, (size_t)u * row);
        xfree(got);
    }
    xfree(in_u);
    return 0;
}
