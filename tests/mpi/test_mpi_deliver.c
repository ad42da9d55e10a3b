// test_mpi_deliver.c - the cloud's blocks (BoMM's generators) reach exactly the hosts whose parties
// need them: each rank ends with precisely the blocks its parties need (and available), other
// blocks untouched (sentinels), for 7 parties with hand-set masks at any -np; the payload is
// charged to the parties that receive something, the MPI bytes to the ranks that pass them.
#include <check.h>
#include <string.h>

#include "comm/deliver.h"
#include "mpi_helpers.h"

enum { PARTIES = 7, TARGETS = 3, BLOCK = 5 };

// Party p misses: 0 none, 1 {0}, 2 {1}, 3 {0, 2}, 4 none, 5 {2}, 6 {1, 2}.
static const uint8_t missing[PARTIES] = {0, 1, 2, 5, 0, 4, 6};

static void run_case(uint32_t available) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, PARTIES);
    float blocks[TARGETS * BLOCK];
    for (int i = 0; i < TARGETS * BLOCK; i++)
        blocks[i] = rank == 0 ? 100.f * (float)(i / BLOCK) + (float)(i % BLOCK) : -1.f;
    double down[PARTIES];
    for (int p = 0; p < PARTIES; p++)
        down[p] = (double)__builtin_popcount(missing[p] & available);
    CommPay pay = {.down_bytes = down};
    uint32_t got = deliver_blocks(c, blocks, BLOCK, TARGETS, available, missing, &pay);
    // Expected: the OR of the hosted parties' masks, restricted to what is available.
    int first, count = comm_hosted(c, &first);
    uint32_t need = 0;
    for (int i = 0; i < count; i++)
        need |= missing[first + i];
    uint32_t expect = rank == 0 ? available : need & available;
    int ok = got == expect;
    for (int i = 0; i < count; i++) // the payload: as the caller stated it, per hosted party
        ok &= comm_payload(c, i, COMM_DOWN) == down[first + i] && comm_payload(c, i, COMM_UP) == 0;
    uint64_t sent, recv, blocks_to_me = (uint64_t)__builtin_popcount(expect) * BLOCK * 4;
    comm_mpi_bytes(c, &sent, &recv);
    if (rank != 0) ok &= sent == 0 && recv == blocks_to_me;
    for (int t = 0; t < TARGETS && rank != 0; t++)
        for (int k = 0; k < BLOCK; k++) {
            float v = blocks[t * BLOCK + k];
            ok &= (expect >> t & 1) ? v == 100.f * (float)t + (float)k : v == -1.f;
        }
    ck_assert_all_ranks(ok, "rank %d: got mask %u, expected %u (available %u), or its bytes", rank,
                        got, expect, available);
    comm_destroy(c);
}

START_TEST(test_generators_reach_exactly_the_hosts_missing_their_target) {
    run_case(7);
    run_case(5); // target 1 not trained yet: nobody receives it
    run_case(0);
}
END_TEST

START_TEST(test_rank_needs_is_the_or_of_hosted_parties) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, PARTIES);
    if (size == 3) { // cloud + 2 hosts: parties 0-2 and 3-6
        ck_assert_uint_eq(deliver_rank_needs(c, missing, 0), 0);
        ck_assert_uint_eq(deliver_rank_needs(c, missing, 1), 3);
        ck_assert_uint_eq(deliver_rank_needs(c, missing, 2), 7);
    }
    comm_destroy(c);
}
END_TEST

Suite *mpi_deliver_suite(void) {
    Suite *s = suite_create("mpi_deliver");
    TCase *tc = tcase_create("deliver");
    tcase_add_test(tc, test_generators_reach_exactly_the_hosts_missing_their_target);
    tcase_add_test(tc, test_rank_needs_is_the_or_of_hosted_parties);
    suite_add_tcase(s, tc);
    return s;
}
