// test_mpi_exact.c - a weighted mean of party vectors reduced across ranks equals, bit for bit, the
// serial computation over all parties: the basis of -np independent aggregation.
#include <check.h>
#include <math.h>
#include <mpi.h>
#include <string.h>

#include "comm/exact.h"
#include "core/rng.h"
#include "mpi_helpers.h"

enum { PARTIES = 11, N = 1000 };

static void party_data(int k, float *x, double *w) {
    Rng r;
    rng_init(&r, 5, 3, (uint32_t)k, RNG_TEST);
    rng_fill_normal(&r, x, N, 0.f, (float)(1 + k));
    *w = 1 + rng_below(&r, 1000);
}

START_TEST(test_reduced_mean_equals_serial_mean_bit_for_bit) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    static float x[N], mean[N], serial[N];
    static int64_t acc[N], acc_all[N];
    // Contiguous blocks of parties per rank, as the pipeline places them.
    int lo = PARTIES * rank / size, hi = PARTIES * (rank + 1) / size;
    double local_bound = 0, local_w = 0, w;
    for (int k = lo; k < hi; k++) {
        party_data(k, x, &w);
        double m = 0;
        for (int i = 0; i < N; i++)
            m = fmax(m, fabs(x[i]));
        local_bound = fmax(local_bound, m);
        local_w += w;
    }
    double total_w;
    MPI_Allreduce(&local_w, &total_w, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); // integers: exact
    int e = exact_exponent(exact_allreduce_max(local_bound, MPI_COMM_WORLD) * total_w);
    memset(acc, 0, sizeof acc);
    for (int k = lo; k < hi; k++)
        party_data(k, x, &w), exact_add(acc, x, w, N, e);
    exact_allreduce(acc, N, MPI_COMM_WORLD);
    exact_to_float(mean, acc, N, e, total_w);

    // Every rank recomputes the whole thing serially with the same exponent.
    memset(acc_all, 0, sizeof acc_all);
    for (int k = 0; k < PARTIES; k++)
        party_data(k, x, &w), exact_add(acc_all, x, w, N, e);
    exact_to_float(serial, acc_all, N, e, total_w);
    ck_assert_all_ranks(memcmp(mean, serial, sizeof mean) == 0,
                        "reduced mean differs from the serial mean at -np %d", size);
}
END_TEST

Suite *mpi_exact_suite(void) {
    Suite *s = suite_create("mpi_exact");
    TCase *tc = tcase_create("reduce");
    tcase_add_test(tc, test_reduced_mean_equals_serial_mean_bit_for_bit);
    suite_add_tcase(s, tc);
    return s;
}
