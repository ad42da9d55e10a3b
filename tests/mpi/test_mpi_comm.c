// test_mpi_comm.c - the communication layer (comm/comm.h):
//   - a weighted mean of party vectors, summed in fixed point and reduced through the layer, equals
//     the serial computation bit for bit (the basis of -np independent aggregation);
//   - per-party gathers and scatters place uneven blocks in party order;
//   - every wrapper counts the MPI bytes it passes by the documented rule, and charges the payload
//     it is given to the hosted parties that take part;
//   - comm_take_ms: the time in a collective includes waiting for the last rank (here one that
//     sleeps 300 ms first), a nonblocking transfer's in comm_wait_all; each take restarts from 0.
#include <check.h>
#include <math.h>
#include <mpi.h>
#include <string.h>
#include <time.h>

#include "comm/comm.h"
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
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    static float x[N], mean[N], serial[N];
    static int64_t acc[N], acc_all[N];
    Comm *c = comm_create(MPI_COMM_WORLD, PARTIES);
    int lo, n = comm_hosted(c, &lo); // contiguous blocks of parties, as the pipeline places them
    double bound = 0, total_w = 0, w;
    for (int k = 0; k < PARTIES; k++) { // every rank knows the weights and the bound here
        party_data(k, x, &w);
        for (int i = 0; i < N; i++)
            bound = fmax(bound, fabs(x[i]));
        total_w += w;
    }
    int e = exact_exponent(bound * total_w);
    memset(acc, 0, sizeof acc);
    for (int k = lo; k < lo + n; k++)
        party_data(k, x, &w), exact_add(acc, x, w, N, e);
    comm_allreduce_sum_i64(c, acc, N, NULL);
    exact_to_float(mean, acc, N, e, total_w);
    // Every rank recomputes the whole thing serially with the same exponent.
    memset(acc_all, 0, sizeof acc_all);
    for (int k = 0; k < PARTIES; k++)
        party_data(k, x, &w), exact_add(acc_all, x, w, N, e);
    exact_to_float(serial, acc_all, N, e, total_w);
    comm_destroy(c);
    ck_assert_all_ranks(memcmp(mean, serial, sizeof mean) == 0,
                        "reduced mean differs from the serial mean at -np %d", size);
}
END_TEST

// Party p owns p % 3 elements (0, 1 or 2), each 100·p + j.
static int64_t party_len(int p) { return p % 3; }

START_TEST(test_party_blocks_travel_in_party_order_and_bytes_are_counted) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    Comm *c = comm_create(MPI_COMM_WORLD, PARTIES);
    int first, count = comm_hosted(c, &first);
    int64_t per[PARTIES], total = 0, mine = 0;
    double up[PARTIES];
    for (int p = 0; p < PARTIES; p++)
        per[p] = party_len(p), total += per[p], up[p] = 10.0 * p;
    int32_t send[2 * PARTIES], all[2 * PARTIES], back[2 * PARTIES];
    for (int i = 0; i < count; i++)
        for (int j = 0; j < party_len(first + i); j++)
            send[mine++] = 100 * (first + i) + j;
    uint8_t who[PARTIES];
    for (int p = 0; p < PARTIES; p++)
        who[p] = p % 2 == 0;
    CommPay pay = {.up_bytes = up, .down = 3, .who = who};
    comm_gather_parties(c, send, per, all, COMM_I32, &pay);
    int ok = 1, at = 0;
    if (rank == 0)
        for (int p = 0; p < PARTIES; p++)
            for (int j = 0; j < party_len(p); j++)
                ok &= all[at++] == 100 * p + j;
    ok &= !rank ? at == total : 1;
    // Back to the parties: each rank receives exactly its parties' blocks.
    for (int k = 0; k < total && rank == 0; k++)
        all[k] = -all[k];
    comm_scatter_parties(c, all, per, back, COMM_I32, NULL);
    for (int k = 0; k < mine; k++)
        ok &= back[k] == -send[k];
    // The payload: only the parties in `who`, up and down, as given.
    for (int i = 0; i < count; i++) {
        int p = first + i;
        ok &= comm_payload(c, i, COMM_UP) == (who[p] ? up[p] : 0);
        ok &= comm_payload(c, i, COMM_DOWN) == (who[p] ? 3 : 0);
    }
    // The MPI bytes by the rule: gather, every rank its part, the root the whole; scatter the
    // reverse; bcast the root sends, the others receive; allreduce both.
    uint64_t sent, recv;
    comm_mpi_bytes(c, &sent, &recv);
    uint64_t want_sent = 4 * (uint64_t)mine + (rank == 0 ? 4 * (uint64_t)total : 0);
    uint64_t want_recv = (rank == 0 ? 4 * (uint64_t)total : 0) + 4 * (uint64_t)mine;
    ok &= sent == want_sent && recv == want_recv;
    double d = rank;
    comm_bcast(c, &d, 1, COMM_F64, 0, NULL);
    int64_t x[3] = {1, 2, 3};
    comm_allreduce(c, x, 3, COMM_I64, COMM_SUM, NULL);
    comm_mpi_bytes(c, &sent, &recv);
    ok &= sent == want_sent + (rank == 0 ? 8 : 0) + 24 && recv == want_recv + (rank ? 8 : 0) + 24;
    ok &= d == 0 && x[2] == 3 * size;
    comm_destroy(c);
    ck_assert_all_ranks(ok, "rank %d of %d: blocks out of party order, or bytes miscounted", rank,
                        size);
}
END_TEST

START_TEST(test_transfer_time_includes_waiting_for_the_last_rank) {
    Comm *c = comm_create(MPI_COMM_WORLD, 4);
    int rank = comm_rank(c), size = comm_size(c);
    comm_barrier(c);
    comm_take_ms(c);
    ck_assert(comm_take_ms(c) == 0.0); // a take restarts from 0
    struct timespec nap = {0, 300 * 1000 * 1000};
    if (rank == size - 1) nanosleep(&nap, NULL); // outside MPI: not counted on this rank
    int32_t v = rank;
    comm_allreduce(c, &v, 1, COMM_I32, COMM_MAX, NULL);
    double waited = comm_take_ms(c);
    if (rank < size - 1)
        ck_assert_msg(waited >= 250, "rank %d waited %.1f ms", rank, waited);
    else
        ck_assert_msg(waited < 250, "the late rank counted its sleep: %.1f ms", waited);
    // Point to point: the post is immediate; the late sender makes the receiver wait in wait_all.
    comm_barrier(c);
    comm_take_ms(c);
    int32_t x = 7, y = 0;
    if (rank == 0) comm_irecv(c, &y, 1, COMM_I32, size - 1, 3, NULL);
    if (rank == size - 1) {
        nanosleep(&nap, NULL);
        comm_isend(c, &x, 1, COMM_I32, 0, 3, NULL);
    }
    comm_wait_all(c);
    waited = comm_take_ms(c);
    if (rank == 0) {
        ck_assert_int_eq(y, 7);
        ck_assert_msg(waited >= 250, "rank 0 waited %.1f ms in wait_all", waited);
    }
    comm_destroy(c);
}
END_TEST

Suite *mpi_comm_suite(void) {
    Suite *s = suite_create("mpi_comm");
    TCase *tc = tcase_create("comm");
    tcase_add_test(tc, test_reduced_mean_equals_serial_mean_bit_for_bit);
    tcase_add_test(tc, test_party_blocks_travel_in_party_order_and_bytes_are_counted);
    tcase_add_test(tc, test_transfer_time_includes_waiting_for_the_last_rank);
    suite_add_tcase(s, tc);
    return s;
}
