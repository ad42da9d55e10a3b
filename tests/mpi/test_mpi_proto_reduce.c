// test_mpi_proto_reduce.c - global prototypes reduced across ranks equal, bit for bit, the serial
// computation over all parties (the same call on MPI_COMM_SELF with every party), whatever the
// placement: contiguous blocks as comm/placement.h places them (the cloud hosts none), and a
// round-robin placement. Also close to the plain double mean, and empty cells flagged everywhere.
#include <check.h>
#include <math.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/placement.h"
#include "comm/proto_reduce.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "mpi_helpers.h"
#include "protocols/prototypes.h"

enum { PARTIES = 7, K = 5, M = 2, D = 16, CELLS = K * M, N = CELLS * D };

// Party k's sums and counts: 20 + 13k samples, labels in [0, K - 1) (class K - 1 never appears),
// random masks with modality 1 absent at party 3, embeddings at scale (1 + k)·2^(12·(k mod 3)):
// sums of parties of different scales need more than 53 bits, so summing parties in double first
// (per rank, which depends on placement) would round differently from the exact per-party fixed
// point.
static void party_sums(int k, double *sums, int64_t *counts) {
    Rng r;
    rng_init(&r, 9, 1, (uint32_t)k, RNG_TEST);
    int n = 20 + 13 * k;
    float *emb = xmalloc((size_t)n * D * sizeof(float));
    int *labels = xmalloc((size_t)n * sizeof(int));
    uint8_t *mask = xmalloc((size_t)n * M);
    for (int i = 0; i < n; i++) {
        labels[i] = (int)rng_below(&r, K - 1);
        mask[i * M + 0] = rng_below(&r, 4) != 0;
        mask[i * M + 1] = k != 3 && rng_below(&r, 2);
    }
    memset(sums, 0, N * sizeof *sums);
    memset(counts, 0, CELLS * sizeof *counts);
    for (int m = 0; m < M; m++) {
        rng_fill_normal(&r, emb, (size_t)n * D, 0.3f * m, ldexpf((float)(1 + k), 12 * (k % 3)));
        proto_accumulate(sums, counts, emb, labels, mask, n, D, K, M, m);
    }
    xfree(emb), xfree(labels), xfree(mask);
}

// protos/valid/counts from the parties in list[0..n) reduced on comm.
static void reduce(double *protos, uint8_t *valid, int64_t *cnt, const int *list, int n,
                   MPI_Comm world) {
    Comm *comm = comm_create(world, PARTIES);
    double *sums = xmalloc((size_t)(n ? n : 1) * N * sizeof(double));
    int64_t *counts = xmalloc((size_t)(n ? n : 1) * CELLS * sizeof(int64_t));
    for (int i = 0; i < n; i++)
        party_sums(list[i], sums + (size_t)i * N, counts + (size_t)i * CELLS);
    proto_allreduce(comm, protos, valid, cnt, sums, counts, n, K, M, D, NULL);
    xfree(sums), xfree(counts);
    comm_destroy(comm);
}

START_TEST(test_global_prototypes_equal_serial_bit_for_bit) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    static double protos[N], serial[N], robin[N];
    static uint8_t valid[CELLS], valid_serial[CELLS], valid_robin[CELLS];
    static int64_t cnt[CELLS], cnt_serial[CELLS], cnt_robin[CELLS];
    int all[PARTIES], mine[PARTIES], n_mine = 0, first;
    for (int k = 0; k < PARTIES; k++)
        all[k] = k;

    Placement pl;
    placement_init(&pl, PARTIES, size);
    int n_block = placement_block(&pl, rank, &first);
    for (int i = 0; i < n_block; i++)
        mine[i] = first + i;
    reduce(protos, valid, cnt, mine, n_block, MPI_COMM_WORLD);
    // Round-robin over every rank, the cloud included, in reverse order within a rank.
    for (int k = PARTIES - 1; k >= 0; k--)
        if (k % size == rank) mine[n_mine++] = k;
    reduce(robin, valid_robin, cnt_robin, mine, n_mine, MPI_COMM_WORLD);
    reduce(serial, valid_serial, cnt_serial, all, PARTIES, MPI_COMM_SELF);

    ck_assert_all_ranks(memcmp(protos, serial, sizeof protos) == 0 &&
                            memcmp(valid, valid_serial, sizeof valid) == 0 &&
                            memcmp(cnt, cnt_serial, sizeof cnt) == 0,
                        "block placement differs from the serial prototypes at -np %d", size);
    ck_assert_all_ranks(memcmp(robin, serial, sizeof robin) == 0 &&
                            memcmp(valid_robin, valid_serial, sizeof valid) == 0 &&
                            memcmp(cnt_robin, cnt_serial, sizeof cnt) == 0,
                        "round-robin placement differs from the serial prototypes at -np %d", size);

    // Against the plain mean in double (fixed point rounds each term by 2^-(e+1)).
    static double sums_all[N], abs_all[N], s[N];
    static int64_t counts_all[CELLS], c[CELLS];
    memset(sums_all, 0, sizeof sums_all), memset(abs_all, 0, sizeof abs_all);
    memset(counts_all, 0, sizeof counts_all);
    for (int k = 0; k < PARTIES; k++) {
        party_sums(k, s, c);
        for (int i = 0; i < N; i++)
            sums_all[i] += s[i], abs_all[i] += fabs(s[i]);
        for (int i = 0; i < CELLS; i++)
            counts_all[i] += c[i];
    }
    int ok = 1;
    for (int cm = 0; cm < CELLS; cm++) {
        int c_cls = cm / M;
        int want_valid = c_cls != K - 1; // class K - 1 never appears; the rest at some party
        ok &= cnt[cm] == counts_all[cm] && valid[cm] == (counts_all[cm] > 0) &&
              valid[cm] == want_valid;
        for (int d = 0; d < D; d++) {
            double ref = counts_all[cm] ? sums_all[cm * D + d] / counts_all[cm] : 0;
            double scale = counts_all[cm] ? abs_all[cm * D + d] / counts_all[cm] : 0;
            ok &= fabs(protos[cm * D + d] - ref) <= 1e-13 * (1 + scale);
        }
    }
    ck_assert_all_ranks(ok, "prototypes differ from the double mean or the valid flags at -np %d",
                        size);
}
END_TEST

Suite *mpi_proto_reduce_suite(void) {
    Suite *s = suite_create("mpi_proto_reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_test(tc, test_global_prototypes_equal_serial_bit_for_bit);
    suite_add_tcase(s, tc);
    return s;
}
