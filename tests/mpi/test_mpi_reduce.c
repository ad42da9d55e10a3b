// test_mpi_reduce.c - comm_reduce_sum_i64, comm_allreduce_sum_i64 and sum.h's comm_acc_reduce
// (node-local sums through shared memory, then across node leaders; the CommAcc also converted to
// float and double) equal a naive int64 sum, in rank order, of hand-made
// vectors that every rank rebuilds: values at the bound exact.h's exponents allow, negative ones,
// odd bits that no double holds, lengths that are multiples of nothing (one element to past two
// 4 MiB segments), for every root, on one node and in groups that stand for several nodes (leaders
// reducing through MPI, roots that are and are not leaders). Also: the other ranks' accumulators
// (and the CommAccs) are left as they were, the mpi bytes count the leaders' messages only, and the
// exact chain (exact_add, reduce, exact_to_float) matches its serial twin.
#include <check.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/exact.h"
#include "comm/sum.h"
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

// How a sum is taken: comm_reduce_sum_i64 / comm_allreduce_sum_i64 of a private accumulator, or
// comm_acc_reduce of a CommAcc to each type.
typedef enum { PRIVATE, ACC_I64, ACC_F32, ACC_F64, HOWS } How;
static const char *const how_name[] = {"private", "CommAcc i64", "CommAcc f32", "CommAcc f64"};
#define CONV_E 40 // CommAcc's conversions: 2^61 / 2^40, inexact divisor
#define CONV_DIVISOR 3.0

// Reduces vectors of length n with root (-1: allreduce) as how says and checks the result on
// every rank: the naive sum (converted by exact.h on its own), the accumulators left as they were,
// and a rank that does not want the result untouched.
static int check_sum(Comm *c, size_t n, int root, How how) {
    int rank = comm_rank(c), size = comm_size(c), wants = root < 0 || rank == root;
    int64_t *want = xcalloc(n + 1, sizeof *want), *mine = xmalloc(n * sizeof *mine + 1);
    for (size_t i = 0; i < n; i++)
        mine[i] = value(rank, size, i);
    for (int r = 0; r < size; r++) // the naive twin, in rank order
        for (size_t i = 0; i < n; i++)
            want[i] += value(r, size, i);
    int ok;
    if (how == PRIVATE) {
        int64_t *acc = xmalloc(n * sizeof *acc + 1);
        memcpy(acc, mine, n * sizeof *acc);
        if (root < 0)
            comm_allreduce_sum_i64(c, acc, n, NULL);
        else
            comm_reduce_sum_i64(c, acc, n, root, NULL);
        ok = !memcmp(acc, wants ? want : mine, n * sizeof *acc);
        xfree(acc);
    } else {
        static const CommType type[] = {COMM_I64, COMM_I64, COMM_F32, COMM_F64};
        CommAcc *a = comm_acc_create(c, n);
        memcpy(comm_acc_ints(a, CONV_E), mine, n * sizeof *mine);
        void *got = wants ? xmalloc(n * sizeof(int64_t) + 1) : NULL;
        void *twin = xmalloc(n * sizeof(int64_t) + 1);
        if (how == ACC_F32) exact_to_float(twin, want, n, CONV_E, CONV_DIVISOR);
        if (how == ACC_F64) exact_to_double(twin, want, n, CONV_E, CONV_DIVISOR);
        if (how == ACC_I64) memcpy(twin, want, n * sizeof *want);
        comm_acc_reduce(a, root, type[how], CONV_E, CONV_DIVISOR, got, NULL);
        ok = !memcmp(comm_acc_ints(a, CONV_E), mine, n * sizeof *mine) &&
             (!wants || !memcmp(got, twin, n * comm_type_size(type[how])));
        comm_acc_free(a);
        xfree(got), xfree(twin);
    }
    xfree(want), xfree(mine);
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
    for (int how = 0; how < HOWS; how++)
        for (int k = 0; k < LENGTHS; k++)
            for (int root = -1; root < size; root++)
                ck_assert_all_ranks(check_sum(c, lengths[k], root, (How)how),
                                    "%s, %s: n = %zu, root %d (-1 = allreduce): not the naive sum",
                                    grouping, how_name[how], lengths[k], root);
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

// What a reduce (a CommAcc's when acc) adds to this rank's mpi bytes, after a first call has split
// the Comm.
static void reduce_bytes(Comm *c, size_t n, int root, int acc, uint64_t *sent, uint64_t *recv) {
    int64_t *priv = xcalloc(n, sizeof *priv);
    CommAcc *a = comm_acc_create(c, n);
    comm_reduce_sum_i64(c, priv, n, root, NULL);
    uint64_t s0, r0;
    comm_mpi_bytes(c, &s0, &r0);
    if (acc)
        comm_acc_reduce(a, root, COMM_F32, 0, 1.0, comm_rank(c) == root ? priv : NULL, NULL);
    else
        comm_reduce_sum_i64(c, priv, n, root, NULL);
    comm_mpi_bytes(c, sent, recv);
    *sent -= s0, *recv -= r0;
    comm_acc_free(a);
    xfree(priv);
}

START_TEST(test_mpi_bytes_count_the_leaders_messages) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    const size_t n = 1000;
    uint64_t sent, recv;
    for (int acc = 0; acc <= 1; acc++) {
        comm_set_reduce_groups(c, 0);
        reduce_bytes(c, n, 0, acc, &sent, &recv); // one node: shared memory only
        ck_assert_all_ranks(sent == 0 && recv == 0, "one node, %s: %llu sent, %llu received",
                            how_name[acc], (unsigned long long)sent, (unsigned long long)recv);
        comm_set_reduce_groups(c, 2); // leaders: the even ranks; root 1's leader is rank 0
        reduce_bytes(c, n, 1, acc, &sent, &recv);
        int leader = rank % 2 == 0 && size > 2; // at -np 2, one group: nothing leaves it
        ck_assert_all_ranks(
            sent == (leader ? 8 * n : 0) && recv == (leader && rank == 0 ? 8 * n : 0),
            "groups of 2, root 1, %s: rank %d %llu sent, %llu received", how_name[acc], rank,
            (unsigned long long)sent, (unsigned long long)recv);
    }
    comm_destroy(c);
}
END_TEST

#define CHAIN_E 48 // the driver's exponent in model space: terms below 2^51 take the fast path

// Rank r's vectors in the chain test: 1, 2, 0, 1, 2, ... (one, kept in float; two, folded into
// ints; nothing).
static int chain_count(int r) { return (r + 1) % 3; }

// Rank r's k-th float vector of the chain test: x in [-4, 4], at ±4 at 0 and 1, and in every
// second vector one term of 16, whose weight·16·2^48 >= 2^51 leaves exact_add's fast path.
static void chain_vector(float *x, size_t n, int r, int k) {
    Rng g;
    rng_init(&g, 4, (uint32_t)k, (uint32_t)r, RNG_TEST);
    rng_fill_uniform(&g, x, n, -4.f, 4.f);
    x[0] = 4.f, x[1] = -4.f;
    if (k == 1) x[n - 2] = 16.f;
}

// Rank r adds chain_count(r) vectors with weights (r + 1) / total, which sum to 1 over every rank
// and vector; the reduce (comm_reduce_sum_i64 of a private
// exact_add chain, then exact_to_float; comm_acc_reduce to float) gives the bits of the serial
// sum over every rank's vectors, for every root, on one node and in groups of 2.
START_TEST(test_exact_chain_matches_its_serial_twin) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t n = 3 * 256 + 11;
    float *x = xmalloc(n * sizeof *x), *got = xmalloc(n * sizeof *got);
    float *want = xmalloc(n * sizeof *want);
    int64_t *acc = xcalloc(n, sizeof *acc), *all = xcalloc(n, sizeof *all);
    double total = 0;
    for (int r = 0; r < size; r++)
        total += chain_count(r) * (r + 1);
    int e = CHAIN_E; // Σ w |x| <= 16: far below exact_exponent's bound
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    CommAcc *a = comm_acc_create(c, n);
    for (int r = 0; r < size; r++)
        for (int k = 0; k < chain_count(r); k++) {
            chain_vector(x, n, r, k);
            double w = (r + 1) / total;
            exact_add(all, x, w, n, e);
            if (r == rank) exact_add(acc, x, w, n, e), comm_acc_add(a, x, w, e);
        }
    exact_to_float(want, all, n, e, 1.0);
    comm_reduce_sum_i64(c, acc, n, 0, NULL);
    int ok = 1;
    if (rank == 0) {
        exact_to_float(got, acc, n, e, 1.0);
        ok = !memcmp(got, want, n * sizeof *got) && got[0] == 4.f && got[1] == -4.f;
    }
    ck_assert_all_ranks(ok, "the reduced exact sum differs from the serial one");
    for (int groups = 0; groups <= 2; groups += 2) {
        if (groups) { // the accumulator keeps what it holds across a regrouping
            comm_acc_free(a);
            comm_set_reduce_groups(c, groups);
            a = comm_acc_create(c, n);
            for (int k = 0; k < chain_count(rank); k++) {
                chain_vector(x, n, rank, k);
                comm_acc_add(a, x, (rank + 1) / total, e);
            }
        }
        for (int root = -1; root < size; root++) {
            memset(got, 0xff, n * sizeof *got);
            comm_acc_reduce(a, root, COMM_F32, e, 1.0, root < 0 || rank == root ? got : NULL, NULL);
            ck_assert_all_ranks((root >= 0 && rank != root) || !memcmp(got, want, n * sizeof *got),
                                "groups of %d, root %d: comm_acc_reduce's float sum differs from "
                                "the serial one",
                                groups, root);
        }
    }
    comm_acc_clear(a); // the sum of nothing
    comm_acc_reduce(a, -1, COMM_F32, e, 1.0, got, NULL);
    int zero = 1;
    for (size_t i = 0; i < n; i++)
        zero &= got[i] == 0;
    ck_assert_all_ranks(zero, "the sum of cleared accumulators is not 0");
    comm_acc_free(a);
    comm_destroy(c);
    xfree(x), xfree(got), xfree(want), xfree(acc), xfree(all);
}
END_TEST

// Round after round on one accumulator, as the driver does: a rank that does not want a sum goes
// on to the next round's vector while the root may still be reading this one (a small sum has no
// barrier), so every round's result must still be that round's. The root moves from round to
// round, and every fourth round is an allreduce.
START_TEST(test_rounds_on_one_accumulator_keep_each_rounds_sum) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, parties());
    const size_t lens[] = {40, 3000}; // at -np 2 and 3 a small sum, and one that is not
    for (int k = 0; k < 2; k++) {
        size_t n = lens[k];
        CommAcc *a = comm_acc_create(c, n);
        float *x = xmalloc(n * sizeof *x), *got = xmalloc(n * sizeof *got);
        int bad = -1;
        for (int round = 0; round < 3000 / (int)(1 + n / 64) + 20; round++) { // every rank
            // runs every round: a rank that stopped would leave the others waiting
            for (size_t i = 0; i < n; i++) // small integers: every sum is exact in float
                x[i] = (float)((round * 7 + rank * 3 + (int)i) % 64);
            comm_acc_clear(a);
            if ((round + rank) % 5) comm_acc_add(a, x, 1.0, CHAIN_E); // some ranks add nothing
            int root = round % 4 == 3 ? -1 : round % size;
            comm_acc_reduce(a, root, COMM_F32, CHAIN_E, 1.0, got, NULL);
            if (root >= 0 && rank != root) continue;
            for (size_t i = 0; i < n && bad < 0; i++) {
                int want = 0;
                for (int r = 0; r < size; r++)
                    want += (round + r) % 5 ? (round * 7 + r * 3 + (int)i) % 64 : 0;
                if (got[i] != (float)want) bad = round;
            }
        }
        ck_assert_all_ranks(bad < 0, "n = %zu: round %d's sum is not that round's", n, bad);
        comm_acc_free(a);
        xfree(x), xfree(got);
    }
    comm_destroy(c);
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
    tcase_add_test(tc, test_rounds_on_one_accumulator_keep_each_rounds_sum);
    suite_add_tcase(s, tc);
    return s;
}
