// test_mpi_fedproto.c - FedProto's exchange as protocols/repr.c exchange does it:
// each party accumulates per-class sums and counts of its fused representations u (one "modality",
// no mask) and proto_allreduce forms the global prototypes on every rank. A tiny case whose class
// means are exact in double, placed as comm/placement.h places parties (the cloud hosts none), must
// give the hand-computed prototypes and counts at any -np, and the payload bytes it charges.
#include <check.h>
#include <string.h>

#include "comm/placement.h"
#include "comm/proto_reduce.h"
#include "mpi_helpers.h"
#include "protocols/prototypes.h"

enum { PARTIES = 3, K = 3, D = 2 };

// Party 0: (1, 0) class 0, (3, 2) class 1; party 1: (5, 4) class 0; party 2: (0, 6) and (0, 1)
// class 1; class 2 nowhere. Global: class 0 = (3, 2), class 1 = (1, 3), class 2 invalid (zero).
static const float U[] = {1, 0, 3, 2, 5, 4, 0, 6, 0, 1};
static const int LABELS[] = {0, 1, 0, 1, 1};
static const int FIRST_ROW[PARTIES + 1] = {0, 2, 3, 5};

START_TEST(test_fedproto_global_prototypes_match_hand_values_at_any_np) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, PARTIES);
    int first, count = comm_hosted(c, &first);
    double sums[PARTIES * K * D] = {0}, protos[K * D];
    int64_t counts[PARTIES * K] = {0}, cnt[K];
    uint8_t valid[K];
    for (int i = 0; i < count; i++) {
        int p = first + i, r0 = FIRST_ROW[p];
        proto_accumulate(sums + i * K * D, counts + i * K, U + r0 * D, LABELS + r0, NULL,
                         FIRST_ROW[p + 1] - r0, D, K, 1, 0);
    }
    CommPay pay = {.up = proto_bytes_up(K, 1, D), .down = proto_bytes_down(K, 1, D)};
    proto_allreduce(c, protos, valid, cnt, sums, counts, count, K, 1, D, &pay);
    // Each party: its sums as floats and its counts up, the prototypes and validity bytes down.
    double bytes = K * D * sizeof(float) + K * sizeof(int64_t);
    int charged = 1;
    for (int i = 0; i < count; i++)
        charged &= comm_payload(c, i, COMM_UP) == bytes &&
                   comm_payload(c, i, COMM_DOWN) == K * D * sizeof(float) + K;
    comm_destroy(c);
    const double want[K * D] = {3, 2, 1, 3, 0, 0};
    const int64_t want_cnt[K] = {2, 3, 0};
    const uint8_t want_valid[K] = {1, 1, 0};
    int ok = memcmp(protos, want, sizeof want) == 0 && memcmp(cnt, want_cnt, sizeof cnt) == 0 &&
             memcmp(valid, want_valid, sizeof valid) == 0 && charged;
    ck_assert_all_ranks(ok,
                        "rank %d of %d: protos (%g %g | %g %g | %g %g), counts %lld %lld %lld, "
                        "or its payload",
                        rank, size, protos[0], protos[1], protos[2], protos[3], protos[4],
                        protos[5], (long long)cnt[0], (long long)cnt[1], (long long)cnt[2]);
}
END_TEST

Suite *mpi_fedproto_suite(void) {
    Suite *s = suite_create("mpi_fedproto");
    TCase *tc = tcase_create("exchange");
    tcase_add_test(tc, test_fedproto_global_prototypes_match_hand_values_at_any_np);
    suite_add_tcase(s, tc);
    return s;
}
