// test_mpi_gen_p2p.c - BoMM's generators reach exactly the hosts whose parties miss the target
// modality: each rank ends with precisely the blocks its parties need (and available), other
// blocks untouched (sentinels), for 7 parties with hand-set missing masks at any -np.
#include <check.h>
#include <string.h>

#include "comm/gen_p2p.h"
#include "comm/placement.h"
#include "mpi_helpers.h"

enum { PARTIES = 7, TARGETS = 3, BLOCK = 5 };

// Party p misses: 0 none, 1 {0}, 2 {1}, 3 {0, 2}, 4 none, 5 {2}, 6 {1, 2}.
static const uint8_t missing[PARTIES] = {0, 1, 2, 5, 0, 4, 6};

static void run_case(uint32_t available) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Placement pl;
    placement_init(&pl, PARTIES, size);
    float blocks[TARGETS * BLOCK];
    for (int i = 0; i < TARGETS * BLOCK; i++)
        blocks[i] = rank == 0 ? 100.f * (float)(i / BLOCK) + (float)(i % BLOCK) : -1.f;
    uint32_t got = gen_distribute(blocks, BLOCK, TARGETS, available, missing, &pl, MPI_COMM_WORLD);
    // Expected: the OR of the hosted parties' masks, restricted to what is available.
    int first, count = placement_block(&pl, rank, &first);
    uint32_t need = 0;
    for (int i = 0; i < count; i++)
        need |= missing[first + i];
    uint32_t expect = rank == 0 ? available : need & available;
    int ok = got == expect;
    for (int t = 0; t < TARGETS && rank != 0; t++)
        for (int k = 0; k < BLOCK; k++) {
            float v = blocks[t * BLOCK + k];
            ok &= (expect >> t & 1) ? v == 100.f * (float)t + (float)k : v == -1.f;
        }
    ck_assert_all_ranks(ok, "rank %d: got mask %u, expected %u (available %u)", rank, got, expect,
                        available);
}

START_TEST(test_generators_reach_exactly_the_hosts_missing_their_target) {
    run_case(7);
    run_case(5); // target 1 not trained yet: nobody receives it
    run_case(0);
}
END_TEST

START_TEST(test_rank_needs_is_the_or_of_hosted_parties) {
    Placement pl;
    placement_init(&pl, PARTIES, 3); // cloud + 2 hosts: parties 0-2 and 3-6
    ck_assert_uint_eq(gen_rank_needs(missing, &pl, 0), 0);
    ck_assert_uint_eq(gen_rank_needs(missing, &pl, 1), 3);
    ck_assert_uint_eq(gen_rank_needs(missing, &pl, 2), 7);
}
END_TEST

Suite *mpi_gen_p2p_suite(void) {
    Suite *s = suite_create("mpi_gen_p2p");
    TCase *tc = tcase_create("p2p");
    tcase_add_test(tc, test_generators_reach_exactly_the_hosts_missing_their_target);
    tcase_add_test(tc, test_rank_needs_is_the_or_of_hosted_parties);
    suite_add_tcase(s, tc);
    return s;
}
