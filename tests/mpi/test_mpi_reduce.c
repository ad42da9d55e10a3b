// test_mpi_reduce.c - comm_reduce_sum_i64 and comm_allreduce_sum_i64 (node-local sums through
// shared memory, then across node leaders) equal a naive int64 sum, in rank order, of hand-made
// vectors that every rank rebuilds: values at the bound exact.h's exponents allow, negative ones,
// odd bits that no double holds, lengths that are multiples of nothing (one element to past two
// 4 MiB segments), for every root, on one node and in groups that stand for several nodes (leaders
// reducing through MPI, roots that are and are not leaders). Also: the other ranks' accumulators
// are left as they were, the mpi bytes count the leaders' messages only, and the exact chain
// (exact_add, reduce, exact_to_float) matches its serial twin.
#include <check.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/exact.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "mpi_helpers.h"

// Past two segments of comm.c's (1 << 19) elements, and no multiple of a slice or a block.
#define LONG_N (((size_t)1 << 20) + 12345)

// Rank r's element i. |v| <= 2^61 / size: the sum over ranks, in any grouping, stays inside the
// 2^61 bound exact_exponent leaves (and a factor 4 below int64's limits).
static int64_t value(int r, int size, size_t i) {
    int64_t cap = ((int64_t)1 << 61) / size;
    switch (i % 8) {
    case 0:
        return cap; // at the bound, every rank: the total is 2^61
    case 1:
        return -cap;
    case 2:
        return r % 2 ? cap : -cap;
    case 3:
        return ((int64_t)1 << 53) + 1 + r; // no double holds these
    case 4:
        return -1 - (int64_t)i;
    default: { // splitmix64 of (r, i): every bit pattern, +-2^60 / size
        uint64_t z = ((uint64_t)r << 40 ^ i) + 0x9e3779b97f4a7c15u;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        return ((int64_t)(z ^ (z >> 31)) >> 3) / size;
    }
    }
}

// Reduces vectors of length n with root (-1: allreduce) and checks the result on every rank.
static int check_sum(Comm *c, size_t n, int root) {
    int rank = comm_rank(c), size = comm_size(c);
    int64_t *acc = xmalloc(n * sizeof *acc + 1), *want = xcalloc(n + 1, sizeof *want);
    int64_t *mine = xmalloc(n * sizeof *mine + 1);
    for (size_t i = 0; i < n; i++)
        acc[i] = mine[i] = value(rank, size, i);
    for (int r = 0; r < size; r++) // the naive twin, in rank order
        for (size_t i = 0; i < n; i++)
            want[i] += value(r, size, i);
    if (root < 0)
        comm_allreduce_sum_i64(c, acc, n, NULL);
    else
        comm_reduce_sum_i64(c, acc, n, root, NULL);
    int ok = !memcmp(acc, root < 0 || rank == root ? want : mine, n * sizeof *acc);
    xfree(acc), xfree(want), xfree(mine);
    return ok;
}

// One party per host rank (the cloud, rank 0, hosts none): the placement needs no more.
static int parties(void) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size > 1 ? size - 1 : 1;
}

static const size_t lengths[] = {0, 1, 7, 13, 100, 4099, LONG_N};
enum { LENGTHS = sizeof lengths / sizeof lengths[0] };

static void check_every_root(Comm *c, const char *grouping) {
    int size = comm_size(c);
    for (int k = 0; k < LENGTHS; k++)
        for (int root = -1; root < size; root++)
            ck_assert_all_ranks(check_sum(c, lengths[k], root),
                                "%s: n = %zu, root %d (-1 = allreduce): not the naive sum",
                                grouping, lengths[k], root);
}

START_TEST(test_sums_equal_the_naive_int64_sum_on_one_node) {
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    check_every_root(c, "one node");
    comm_destroy(c);
}
END_TEST

// Groups of 2 at -np 3: {0, 1} share memory, {2} alone; groups of 1: the plain MPI reduce.
START_TEST(test_sums_equal_the_naive_int64_sum_across_groups) {
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    comm_set_reduce_groups(c, 2);
    check_every_root(c, "groups of 2");
    comm_set_reduce_groups(c, 1);
    check_every_root(c, "groups of 1");
    comm_set_reduce_groups(c, 0);
    check_every_root(c, "by node again");
    comm_destroy(c);
}
END_TEST

// What a reduce adds to this rank's mpi bytes, after a first call has split the Comm.
static void reduce_bytes(Comm *c, size_t n, int root, uint64_t *sent, uint64_t *recv) {
    int64_t *acc = xcalloc(n, sizeof *acc);
    comm_reduce_sum_i64(c, acc, n, root, NULL);
    uint64_t s0, r0;
    comm_mpi_bytes(c, &s0, &r0);
    comm_reduce_sum_i64(c, acc, n, root, NULL);
    comm_mpi_bytes(c, sent, recv);
    *sent -= s0, *recv -= r0;
    xfree(acc);
}

START_TEST(test_mpi_bytes_count_the_leaders_messages) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    const size_t n = 1000;
    uint64_t sent, recv;
    reduce_bytes(c, n, 0, &sent, &recv); // one node: shared memory only
    ck_assert_all_ranks(sent == 0 && recv == 0, "one node: %llu sent, %llu received",
                        (unsigned long long)sent, (unsigned long long)recv);
    comm_set_reduce_groups(c, 2); // leaders: the even ranks; root 1's leader is rank 0
    reduce_bytes(c, n, 1, &sent, &recv);
    int leader = rank % 2 == 0 && size > 2; // at -np 2, one group: nothing leaves it
    ck_assert_all_ranks(sent == (leader ? 8 * n : 0) && recv == (leader && rank == 0 ? 8 * n : 0),
                        "groups of 2, root 1: rank %d %llu sent, %llu received", rank,
                        (unsigned long long)sent, (unsigned long long)recv);
    comm_destroy(c);
}
END_TEST

// exact_add of each rank's float vector (weights n_k / N, terms at the exponent's bound), the
// reduce, exact_to_float on the root: the bits of the serial sum over every rank's vector.
START_TEST(test_exact_chain_matches_its_serial_twin) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t n = 3 * 256 + 11;
    float *x = xmalloc(n * sizeof *x), *got = xmalloc(n * sizeof *got);
    float *want = xmalloc(n * sizeof *want);
    int64_t *acc = xcalloc(n, sizeof *acc), *all = xcalloc(n, sizeof *all);
    double total = 0.5 * size * (size + 1);
    int e = exact_exponent(4.0); // Σ w |x| <= 4: x in [-4, 4], weights summing to 1
    for (int r = 0; r < size; r++) {
        Rng g;
        rng_init(&g, 4, 0, (uint32_t)r, RNG_TEST);
        rng_fill_uniform(&g, x, n, -4.f, 4.f);
        x[0] = 4.f, x[1] = -4.f; // at the bound on every rank
        exact_add(all, x, (r + 1) / total, n, e);
        if (r == rank) exact_add(acc, x, (r + 1) / total, n, e);
    }
    exact_to_float(want, all, n, e, 1.0);
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    comm_reduce_sum_i64(c, acc, n, 0, NULL);
    int ok = 1;
    if (rank == 0) {
        exact_to_float(got, acc, n, e, 1.0);
        ok = !memcmp(got, want, n * sizeof *got) && got[0] == 4.f && got[1] == -4.f;
    }
    ck_assert_all_ranks(ok, "the reduced exact sum differs from the serial one");
    comm_destroy(c);
    xfree(x), xfree(got), xfree(want), xfree(acc), xfree(all);
}
END_TEST

Suite *mpi_reduce_suite(void) {
    Suite *s = suite_create("mpi_reduce");
    TCase *tc = tcase_create("reduce");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sums_equal_the_naive_int64_sum_on_one_node);
    tcase_add_test(tc, test_sums_equal_the_naive_int64_sum_across_groups);
    tcase_add_test(tc, test_mpi_bytes_count_the_leaders_messages);
    tcase_add_test(tc, test_exact_chain_matches_its_serial_twin);
    suite_add_tcase(s, tc);
    return s;
}
