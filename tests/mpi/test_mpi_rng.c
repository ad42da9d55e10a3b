// test_mpi_rng.c - a stream named by (seed, round, party, purpose) draws the same numbers on every
// rank, whichever rank draws it: the basis of -np independent results.
#include <check.h>
#include <mpi.h>

#include "core/rng.h"
#include "mpi_helpers.h"

START_TEST(test_party_stream_is_identical_on_every_rank) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    enum { N = 64 };
    uint32_t mine[N], root[N];
    Rng r;
    rng_init(&r, 2026, 4, 17, RNG_SHUFFLE);
    for (int i = 0; i < N; i++)
        mine[i] = rng_u32(&r);
    for (int i = 0; i < N; i++)
        root[i] = mine[i];
    MPI_Bcast(root, N, MPI_UINT32_T, 0, MPI_COMM_WORLD);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= mine[i] == root[i];
    ck_assert_all_ranks(ok, "party 17's stream differs between ranks");
}
END_TEST

Suite *mpi_rng_suite(void) {
    Suite *s = suite_create("mpi_rng");
    TCase *tc = tcase_create("streams");
    tcase_add_test(tc, test_party_stream_is_identical_on_every_rank);
    suite_add_tcase(s, tc);
    return s;
}
