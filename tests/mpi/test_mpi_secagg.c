// test_mpi_secagg.c - secure aggregation (secagg/secagg.h) on real ranks: the hosts mask their
// parties' random int64 term vectors, comm_gather_parties brings the uploaded ones to the cloud,
// rank 0 sums them mod 2^64 and unmasks, and the result must equal the plain sum, recomputed on
// rank 0 from the terms' own streams, bit for bit: with no dropouts, with dropouts down to the
// threshold (fraction and count thresholds, a non-member among the parties), at any -np. Below the
// threshold, setup and unmask return -1 on every rank, naming the counts, and the ranks stay in
// step. A masked vector passes a chi-square test of uniform bytes its plain vector fails; the
// masked vectors are reproducible from the seed (a reference digest, the same at every -np); the
// payload is charged per member as the header states.
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "mpi_helpers.h"
#include "secagg/secagg.h"

enum { P = 7, N = 5003 }; // N crosses the 2048-word keystream chunks and is not a multiple of 8

// Chi-square of 256 byte bins at significance 0.001, df = 255 (Wilson–Hilferty: 330.5).
#define CHI2_255_P001 330.5

// Party p's terms of round `round`: signed, |term| < 2^57, so |Σ| over P parties < 2^62.
static void terms(int64_t *v, size_t n, int round, int p, int shift) {
    Rng r;
    rng_init(&r, 4321, (uint32_t)round, (uint32_t)p, RNG_TEST);
    for (size_t i = 0; i < n; i++) {
        uint64_t w = (uint64_t)rng_u32(&r) << 32 | rng_u32(&r);
        v[i] = (int64_t)w >> shift;
    }
}

static uint64_t fnv(const void *buf, size_t bytes) {
    const uint8_t *b = buf;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

typedef struct {
    int setup_rc, unmask_rc;
    char err[256];
    int ok;          // rank 0: the unmasked sum equals the plain one
    uint64_t digest; // rank 0: FNV of the unmasked sum
} Outcome;

// One round: members and uploaded (P flags), threshold spec, terms at shift 6.
static Outcome run_round(const uint8_t *members, const uint8_t *uploaded, double spec, int round,
                         uint64_t seed, size_t n) {
    Outcome o = {.ok = 1};
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    Comm *c = comm_create(MPI_COMM_WORLD, P);
    SecAgg *s = secagg_create(c, P, spec, seed);
    o.setup_rc = secagg_setup(s, round, members, o.err, sizeof o.err);
    if (o.setup_rc != 0) {
        secagg_destroy(s), comm_destroy(c);
        return o;
    }
    int first, count = comm_hosted(c, &first), up = 0, u = 0;
    for (int i = 0; i < count; i++)
        up += uploaded[first + i];
    int64_t per[P];
    for (int p = 0; p < P; p++)
        per[p] = uploaded[p] ? (int64_t)n : 0, u += uploaded[p];
    int64_t *send = xmalloc(((size_t)up + 1) * n * sizeof *send);
    for (int i = 0, k = 0; i < count; i++) {
        int p = first + i;
        if (!uploaded[p]) continue;
        terms(send + (size_t)k * n, n, round, p, 6);
        secagg_mask(s, p, (uint64_t *)(send + (size_t)k * n), n);
        k++;
    }
    int64_t *recv = rank == 0 ? xmalloc(((size_t)u + 1) * n * sizeof *recv) : NULL;
    comm_gather_parties(c, send, per, recv, COMM_I64, NULL);
    uint64_t *sum = rank == 0 ? xcalloc(n, sizeof *sum) : NULL;
    for (int k = 0; rank == 0 && k < u; k++)
        for (size_t i = 0; i < n; i++)
            sum[i] += (uint64_t)recv[(size_t)k * n + i];
    o.unmask_rc = secagg_unmask(s, uploaded, sum, n, o.err, sizeof o.err);
    if (rank == 0 && o.unmask_rc == 0) {
        int64_t *plain = xcalloc(n, sizeof *plain), *v = xmalloc(n * sizeof *v);
        for (int p = 0; p < P; p++) {
            if (!uploaded[p]) continue;
            terms(v, n, round, p, 6);
            for (size_t i = 0; i < n; i++)
                plain[i] += v[i]; // |Σ| < 2^62: no overflow
        }
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += sum[i] != (uint64_t)plain[i];
        o.ok = bad == 0;
        o.digest = fnv(sum, n * sizeof *sum);
        xfree(plain), xfree(v);
    }
    xfree(send), xfree(recv), xfree(sum);
    secagg_destroy(s), comm_destroy(c);
    return o;
}

static void flags(uint8_t *f, const char *bits) { // "1101..." → P flags
    for (int p = 0; p < P; p++)
        f[p] = bits[p] == '1';
}

START_TEST(test_no_dropouts_sum_is_bit_identical) {
    uint8_t all[P], some[P];
    flags(all, "1111111");
    Outcome o = run_round(all, all, 0.5, 0, 42, N);
    ck_assert_all_ranks(o.setup_rc == 0 && o.unmask_rc == 0 && o.ok,
                        "setup %d, unmask %d (%s), sum equal %d", o.setup_rc, o.unmask_rc, o.err,
                        o.ok);
    flags(some, "1111101"); // party 5 sits the round out: not a member
    o = run_round(some, some, 0.5, 1, 42, N);
    ck_assert_all_ranks(o.setup_rc == 0 && o.unmask_rc == 0 && o.ok,
                        "non-member: setup %d, unmask %d (%s), sum equal %d", o.setup_rc,
                        o.unmask_rc, o.err, o.ok);
}
END_TEST

START_TEST(test_dropouts_down_to_the_threshold) {
    uint8_t all[P], up[P];
    flags(all, "1111111");
    // 0.5 of 7 members: t = 4. Three drop, across both hosts at -np 3, party 0 among them.
    flags(up, "0110101");
    Outcome o = run_round(all, up, 0.5, 2, 42, N);
    ck_assert_all_ranks(o.setup_rc == 0 && o.unmask_rc == 0 && o.ok,
                        "t = 4, 4 uploaded: setup %d, unmask %d (%s), sum equal %d", o.setup_rc,
                        o.unmask_rc, o.err, o.ok);
    // A count threshold of 5 with the last two dropped, and one dropout next to a non-member.
    flags(up, "1111100");
    o = run_round(all, up, 5, 3, 42, N);
    ck_assert_all_ranks(o.setup_rc == 0 && o.unmask_rc == 0 && o.ok,
                        "t = 5, 5 uploaded: unmask %d (%s), sum equal %d", o.unmask_rc, o.err,
                        o.ok);
    uint8_t some[P];
    flags(some, "1101111"), flags(up, "1101011");
    o = run_round(some, up, 0.5, 4, 42, N);
    ck_assert_all_ranks(o.setup_rc == 0 && o.unmask_rc == 0 && o.ok,
                        "6 members, 5 uploaded: unmask %d (%s), sum equal %d", o.unmask_rc, o.err,
                        o.ok);
}
END_TEST

START_TEST(test_below_the_threshold_fails_on_every_rank) {
    uint8_t all[P], up[P];
    flags(all, "1111111"), flags(up, "0110100"); // 3 of 7 uploaded, t = 4
    Outcome o = run_round(all, up, 0.5, 5, 42, N);
    ck_assert_all_ranks(o.setup_rc == 0 && o.unmask_rc == -1 &&
                            strstr(o.err, "3 of 7 members uploaded") && strstr(o.err, "t = 4"),
                        "unmask %d: '%s'", o.unmask_rc, o.err);
    uint8_t five[P];
    flags(five, "1011101"); // 5 members under a count threshold of 6
    o = run_round(five, five, 6, 6, 42, N);
    ck_assert_all_ranks(o.setup_rc == -1 && strstr(o.err, "5 members") &&
                            strstr(o.err, "threshold t = 6"),
                        "setup %d: '%s'", o.setup_rc, o.err);
    uint8_t none[P] = {0};
    o = run_round(none, none, 0.5, 7, 42, N);
    ck_assert_all_ranks(o.setup_rc == -1 && strstr(o.err, "0 members"), "setup %d: '%s'",
                        o.setup_rc, o.err);
}
END_TEST

// Hosted party 0's vector at round 8 (terms at `shift`), masked or not, into out (n).
static void party0_vector(uint64_t *out, size_t n, uint64_t seed, int shift, int masked,
                          int *hosted) {
    Comm *c = comm_create(MPI_COMM_WORLD, P);
    SecAgg *s = secagg_create(c, P, 0.5, seed);
    uint8_t all[P];
    flags(all, "1111111");
    char err[256];
    ck_assert_all_ranks(secagg_setup(s, 8, all, err, sizeof err) == 0, "%s", err);
    int first, count = comm_hosted(c, &first);
    *hosted = count > 0 && first == 0;
    if (*hosted) {
        terms((int64_t *)out, n, 8, 0, shift);
        if (masked) secagg_mask(s, 0, out, n);
    }
    secagg_destroy(s), comm_destroy(c);
}

static double chi2_bytes(const uint64_t *v, size_t n) {
    double bins[256] = {0};
    const uint8_t *b = (const uint8_t *)v;
    for (size_t i = 0; i < n * 8; i++)
        bins[b[i]]++;
    double e = (double)n * 8 / 256, x2 = 0;
    for (int k = 0; k < 256; k++)
        x2 += (bins[k] - e) * (bins[k] - e) / e;
    return x2;
}

START_TEST(test_masked_vector_looks_uniform) {
    const size_t n = 1 << 17; // 1 MiB of bytes
    uint64_t *plain = xmalloc(n * 8), *masked = xmalloc(n * 8);
    int hosted;
    party0_vector(plain, n, 42, 44, 0, &hosted); // small terms (|x| < 2^20): far from uniform
    party0_vector(masked, n, 42, 44, 1, &hosted);
    int ok = 1;
    double x2_plain = 0, x2_masked = 0;
    size_t equal = 0;
    if (hosted) {
        x2_plain = chi2_bytes(plain, n), x2_masked = chi2_bytes(masked, n);
        for (size_t i = 0; i < n; i++)
            equal += plain[i] == masked[i];
        ok = x2_plain > CHI2_255_P001 && x2_masked < CHI2_255_P001 && equal == 0;
    }
    double shown[3] = {x2_plain, x2_masked, (double)equal}; // the host's figures, for the message
    MPI_Allreduce(MPI_IN_PLACE, shown, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    x2_plain = shown[0], x2_masked = shown[1], equal = (size_t)shown[2];
    ck_assert_all_ranks(ok, "chi2 plain %.1f (must fail), masked %.1f (must pass %.1f), %zu equal",
                        x2_plain, x2_masked, CHI2_255_P001, equal);
    xfree(plain), xfree(masked);
}
END_TEST

// FNV-1a of party 0's masked vector (N terms of round 8, shift 6, seed 42): keys and masks are a
// function of the seed alone, at any -np and in any later build.
#define MASKED_DIGEST 0xaa0f3278950ef48cULL

START_TEST(test_masks_are_reproducible) {
    uint64_t *a = xmalloc(N * 8), *b = xmalloc(N * 8), *c = xmalloc(N * 8);
    int hosted;
    party0_vector(a, N, 42, 6, 1, &hosted);
    party0_vector(b, N, 42, 6, 1, &hosted);
    party0_vector(c, N, 43, 6, 1, &hosted);
    int ok = 1;
    uint64_t d = 0;
    if (hosted) {
        d = fnv(a, N * 8);
        ok = !memcmp(a, b, N * 8) && memcmp(a, c, N * 8) && d == MASKED_DIGEST;
    }
    MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_UINT64_T, MPI_BOR, MPI_COMM_WORLD); // the host's digest
    ck_assert_all_ranks(ok,
                        "same seed equal, other seed different, digest 0x%llx (expected 0x%llx)",
                        (unsigned long long)d, (unsigned long long)MASKED_DIGEST);
    xfree(a), xfree(b), xfree(c);
}
END_TEST

START_TEST(test_payload_is_charged_per_member) {
    uint8_t some[P], up[P];
    flags(some, "1111011"), flags(up, "1011011"); // m = 6, u = 5
    const int m = 6, u = 5;
    Comm *c = comm_create(MPI_COMM_WORLD, P);
    SecAgg *s = secagg_create(c, P, 0.5, 42);
    char err[256];
    int rc = secagg_setup(s, 9, some, err, sizeof err);
    ck_assert_all_ranks(rc == 0 && secagg_round_threshold(s) == 4, "setup %d (%s), t = %d", rc, err,
                        secagg_round_threshold(s));
    int first, count = comm_hosted(c, &first), ok = 1;
    for (int i = 0; i < count; i++) { // a vector of 0 elements: only the protocol's bytes
        uint64_t none = 0;
        if (up[first + i]) secagg_mask(s, first + i, &none, 0);
    }
    rc = secagg_unmask(s, up, NULL, 0, err, sizeof err);
    for (int i = 0; i < count; i++) {
        int p = first + i;
        double e_up = some[p] ? SECAGG_PK_BYTES + (m - 1) * SECAGG_CT_BYTES : 0;
        double e_down = some[p] ? m * SECAGG_PK_BYTES + (m - 1) * SECAGG_CT_BYTES : 0;
        if (up[p]) e_up += m * SECAGG_SHARE_BYTES, e_down += 4 * u;
        ok &= comm_payload(c, i, COMM_UP) == e_up && comm_payload(c, i, COMM_DOWN) == e_down;
    }
    ck_assert_all_ranks(rc == 0 && ok, "unmask %d (%s); payload of a hosted party differs", rc,
                        err);
    secagg_destroy(s), comm_destroy(c);
}
END_TEST

Suite *mpi_secagg_suite(void) {
    Suite *s = suite_create("mpi_secagg");
    TCase *tc = tcase_create("secagg");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_no_dropouts_sum_is_bit_identical);
    tcase_add_test(tc, test_dropouts_down_to_the_threshold);
    tcase_add_test(tc, test_below_the_threshold_fails_on_every_rank);
    tcase_add_test(tc, test_masked_vector_looks_uniform);
    tcase_add_test(tc, test_masks_are_reproducible);
    tcase_add_test(tc, test_payload_is_charged_per_member);
    suite_add_tcase(s, tc);
    return s;
}
