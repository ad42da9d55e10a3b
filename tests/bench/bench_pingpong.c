// bench_pingpong.c - the interconnect's latency and bandwidth (the alpha-beta model) between two
// ranks, for docs/scaling.md's projection (analysis/scaling_model.py reads the last line).
//
// Rank 0 sends s bytes to rank 1, which sends them back, for s = 8 B, 16 B, ..., 64 MiB (every
// power of two); one-way time t(s) = half the round trip, the median over reps (more reps for
// small messages). The fit t(s) = alpha + s / beta minimises the relative residuals
// sum ((alpha + s / beta - t) / t)^2 (weighted least squares, 2x2 normal equations): plain least
// squares would leave alpha to the 64 MiB points, whose noise is larger than alpha itself.
// Prints one line per size, then
//   bench pingpong alpha_us=<alpha in microseconds> beta_gbps=<beta in Gbit/s> btl=<OMPI_MCA_btl>
// The transport is Open MPI's choice: OMPI_MCA_btl=self,vader (shared memory) or self,tcp.
// Usage: mpirun -np 2 bench_pingpong [max=67108864] [reps=1000]; exactly 2 ranks.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// One-way seconds for n bytes: the median of reps round trips, halved (after 2 warm-up trips).
static double one_way(char *buf, long n, int reps, int rank) {
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = -2; i < reps; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(buf, (int)n, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, (int)n, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(buf, (int)n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, (int)n, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
        if (i >= 0) t[i] = (MPI_Wtime() - t0) / 2;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    double m = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    free(t);
    MPI_Bcast(&m, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD); // rank 0's clock decides
    return m;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long max = 64L << 20;
    int max_reps = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "max=", 4))
            max = atol(argv[i] + 4);
        else if (!strncmp(argv[i], "reps=", 5))
            max_reps = atoi(argv[i] + 5);
        else {
            if (rank == 0)
                fprintf(stderr, "bench_pingpong: unknown argument '%s' (max=, reps=)\n", argv[i]);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (size != 2 || max < 8 || max > (1L << 30) || max_reps < 1) {
        if (rank == 0)
            fprintf(stderr,
                    "bench_pingpong: needs exactly 2 ranks (got %d), 8 <= max <= 1 GiB "
                    "(got %ld), reps >= 1 (got %d)\n",
                    size, max, max_reps);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    char *buf = malloc((size_t)max);
    memset(buf, 1, (size_t)max);
    // Sums of the weighted normal equations for t = a + s * b, weight 1 / t^2.
    double S00 = 0, S01 = 0, S11 = 0, R0 = 0, R1 = 0;
    if (rank == 0) printf("%12s %8s %14s %12s\n", "bytes", "reps", "one-way us", "Gbit/s");
    for (long n = 8; n <= max; n *= 2) {
        long r = (64L << 20) / n;
        int reps = (int)(r < 5 ? 5 : r > max_reps ? max_reps : r);
        double t = one_way(buf, n, reps, rank), w = 1 / (t * t), s = (double)n;
        S00 += w, S01 += w * s, S11 += w * s * s, R0 += w * t, R1 += w * s * t;
        if (rank == 0) printf("%12ld %8d %14.3f %12.3f\n", n, reps, t * 1e6, s * 8 / t / 1e9);
    }
    double det = S00 * S11 - S01 * S01;
    double alpha = (R0 * S11 - S01 * R1) / det, inv_beta = (S00 * R1 - S01 * R0) / det;
    const char *btl = getenv("OMPI_MCA_btl");
    if (rank == 0)
        printf("bench pingpong alpha_us=%.3f beta_gbps=%.3f btl=%s\n", alpha * 1e6,
               8 / inv_beta / 1e9, btl ? btl : "(default)");
    free(buf);
    MPI_Finalize();
    return 0;
}
