// bench_secagg.c - the cost of one secure-aggregation round (secagg/secagg.h) against the plain
// aggregation of the same int64 terms, at the party model's size (n = 318,410) for 10 members.
//
// plain:  each host adds its parties' term vectors into one accumulator, comm_reduce_sum_i64 to
//         the cloud (the driver's path, fl/round.c, without the exact_add that both paths share)
// secagg: secagg_setup, secagg_mask of every hosted member, comm_gather_parties of the masked
//         vectors, their sum mod 2^64 on rank 0, secagg_unmask (no dropout, and `drop` dropouts)
// Each phase is timed between barriers (the slowest rank counts), median of `reps`; the unmasked
// sum is checked against the plain one every time (the benchmark exits 1 otherwise).
// Usage: mpirun -np R bench_secagg [members=10 n=318410 reps=5 drop=3]
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "secagg/secagg.h"

static double now(void) { return MPI_Wtime(); }

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void terms(int64_t *v, size_t n, int p) {
    Rng r;
    rng_init(&r, 7, 0, (uint32_t)p, RNG_TEST);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)((uint64_t)rng_u32(&r) << 32 | rng_u32(&r)) >> 8;
}

// Barrier, then the slowest rank's time since t0 (after a barrier at t0).
static double lap(Comm *c, double t0) {
    double dt = now() - t0, mx = 0;
    MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, comm_mpi(c));
    return mx;
}

static long arg(int argc, char **argv, const char *key, long dflt) {
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
            return strtol(argv[i] + k + 1, NULL, 10);
    return dflt;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const int P = (int)arg(argc, argv, "members", 10), reps = (int)arg(argc, argv, "reps", 5);
    const int drop = (int)arg(argc, argv, "drop", 3);
    const size_t n = (size_t)arg(argc, argv, "n", 318410);
    Comm *c = comm_create(MPI_COMM_WORLD, P);
    const int rank = comm_rank(c);
    int first, count = comm_hosted(c, &first);
    int64_t *mine = xmalloc((size_t)(count ? count : 1) * n * sizeof *mine);
    for (int i = 0; i < count; i++)
        terms(mine + (size_t)i * n, n, first + i);
    int64_t *acc = xmalloc(n * sizeof *acc), *masked = xmalloc((size_t)(count ? count : 1) * n * 8);
    int64_t *all = rank == 0 ? xmalloc((size_t)P * n * sizeof *all) : NULL;
    uint64_t *sum = rank == 0 ? xmalloc(n * sizeof *sum) : NULL;
    int64_t *plain = rank == 0 ? xmalloc(n * sizeof *plain) : NULL;
    int64_t *per = xmalloc((size_t)P * sizeof *per);
    uint8_t *members = xmalloc((size_t)P), *up = xmalloc((size_t)P);
    memset(members, 1, (size_t)P);
    double *t_plain = xmalloc((size_t)reps * 8), *t_setup = xmalloc((size_t)reps * 8);
    double *t_mask = xmalloc((size_t)reps * 8), *t_gather = xmalloc((size_t)reps * 8);
    double *t_unmask = xmalloc((size_t)reps * 8), *t_unmask_d = xmalloc((size_t)reps * 8);
    int bad = 0;
    char err[256];
    for (int r = 0; r < reps; r++) {
        for (int dropped = 0; dropped <= 1; dropped++) {
            int nd = dropped ? drop : 0;
            for (int p = 0; p < P; p++) // the last nd parties drop after ShareKeys
                up[p] = p < P - nd;
            // plain
            MPI_Barrier(comm_mpi(c));
            double t0 = now();
            memset(acc, 0, n * sizeof *acc);
            for (int i = 0; i < count; i++)
                if (up[first + i])
                    for (size_t k = 0; k < n; k++)
                        acc[k] += mine[(size_t)i * n + k];
            comm_reduce_sum_i64(c, acc, n, 0, NULL);
            double tp = lap(c, t0);
            if (rank == 0) memcpy(plain, acc, n * sizeof *acc);
            // secagg
            SecAgg *s = secagg_create(c, P, 0.5, 42);
            MPI_Barrier(comm_mpi(c));
            t0 = now();
            if (secagg_setup(s, r, members, err, sizeof err)) bad = 1;
            double ts = lap(c, t0);
            t0 = now();
            memcpy(masked, mine, (size_t)count * n * 8);
            for (int i = 0, k = 0; i < count; i++)
                if (up[first + i]) {
                    if (k != i) memcpy(masked + (size_t)k * n, masked + (size_t)i * n, n * 8);
                    secagg_mask(s, first + i, (uint64_t *)(masked + (size_t)k++ * n), n);
                }
            double tm = lap(c, t0);
            t0 = now();
            for (int p = 0; p < P; p++)
                per[p] = up[p] ? (int64_t)n : 0;
            comm_gather_parties(c, masked, per, all, COMM_I64, NULL);
            if (rank == 0) {
                memset(sum, 0, n * sizeof *sum);
                for (int p = 0; p < P - nd; p++)
                    for (size_t k = 0; k < n; k++)
                        sum[k] += (uint64_t)all[(size_t)p * n + k];
            }
            double tg = lap(c, t0);
            t0 = now();
            if (secagg_unmask(s, up, sum, n, err, sizeof err)) bad = 1;
            double tu = lap(c, t0);
            if (rank == 0 && memcmp(sum, plain, n * 8)) bad = 1;
            secagg_destroy(s);
            if (!dropped) {
                t_plain[r] = tp, t_setup[r] = ts, t_mask[r] = tm, t_gather[r] = tg;
                t_unmask[r] = tu;
            } else {
                t_unmask_d[r] = tu;
            }
        }
    }
    int bad_all = 0;
    MPI_Allreduce(&bad, &bad_all, 1, MPI_INT, MPI_LOR, comm_mpi(c));
    if (rank == 0) {
        double pl = median(t_plain, reps), se = median(t_setup, reps), ma = median(t_mask, reps);
        double ga = median(t_gather, reps), un = median(t_unmask, reps);
        double und = median(t_unmask_d, reps);
        printf("bench secagg ranks=%d members=%d n=%zu reps=%d (median ms, slowest rank)\n",
               comm_size(c), P, n, reps);
        printf("  plain reduce           %8.2f\n", 1e3 * pl);
        printf("  secagg setup           %8.2f\n", 1e3 * se);
        printf("  secagg mask (hosts)    %8.2f  (%d members, %d streams of n each)\n", 1e3 * ma, P,
               P);
        printf("  gather + sum mod 2^64  %8.2f\n", 1e3 * ga);
        printf("  secagg unmask          %8.2f  (no dropout: %d streams)\n", 1e3 * un, P);
        printf("  secagg unmask, %d drop %8.2f  (%d + %d·%d streams)\n", drop, 1e3 * und, P - drop,
               drop, P - drop);
        printf("  secagg total           %8.2f  = %.1f x plain (no dropout)\n",
               1e3 * (se + ma + ga + un), (se + ma + ga + un) / pl);
        printf("  result %s\n", bad_all ? "WRONG: unmasked sum != plain sum" : "unmasked == plain");
    }
    xfree(mine), xfree(acc), xfree(masked), xfree(all), xfree(sum), xfree(plain), xfree(per);
    xfree(members), xfree(up), xfree(t_plain), xfree(t_setup), xfree(t_mask), xfree(t_gather);
    xfree(t_unmask), xfree(t_unmask_d);
    comm_destroy(c);
    MPI_Finalize();
    return bad_all ? 1 : 0;
}
