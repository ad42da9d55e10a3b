// bench_reduce.c - the cost of exact aggregation (comm/exact.h) against a plain float reduce of
// the same vectors, for n parameters at this -np.
//
// exact: what the driver does for a round (fl/round.c, fl/upload.c, fl/aggregate.c): each rank
//        clears its accumulator (comm/sum.h's CommAcc, in node-shared memory) and adds its float
//        vector (weight n_k/N, exponent 48 as in model space; one party a rank, so it stays a
//        float vector); comm_acc_reduce sums exactly and converts to float on rank 0 (on every
//        rank for the allreduce variant).
// float: MPI_Reduce (MPI_Allreduce) of the float vectors with MPI_SUM to rank 0 (every rank).
// Each measurement starts after a barrier and ends when the slowest rank is done; the two paths
// alternate within a rep, and the best of the reps is printed (on a shared machine the other
// processes only ever add time, so the minimum is the steadiest estimate of each path's cost). The
// exact result is checked against the float one (relative 1e-5) and, across reps, against itself
// bit for bit; exits 1 otherwise. Usage: mpirun -np R bench_reduce
// [sizes=1000,10000,100000,1000000,10000000 reps=9 op=both]
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "comm/comm.h"
#include "comm/exact.h"
#include "comm/sum.h"
#include "core/rng.h"
#include "core/xalloc.h"

#define EXPONENT 48 // fl/upload.c's PARAM_EXP

static double best(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

// One size, one op: the best ms of both paths; *bad set when a result is wrong.
static void point(Comm *c, size_t n, int reps, int all, double *exact_ms, double *float_ms,
                  int *bad) {
    MPI_Comm comm = comm_mpi(c);
    int rank = comm_rank(c), size = comm_size(c);
    int out_here = all || rank == 0;
    float *x = xmalloc(n * sizeof *x + 1);
    Rng rng;
    rng_init(&rng, 11, 0, (uint32_t)rank, RNG_TEST);
    rng_fill_uniform(&rng, x, n, -1.0f, 1.0f);
    // n_k / N with n_k = rank + 1: fractional weights, as the driver's.
    double weight = (double)(rank + 1) / (0.5 * size * (size + 1));
    CommAcc *sum = comm_acc_create(c, n);
    float *ex = out_here ? xmalloc(n * sizeof *ex + 1) : NULL;
    float *fl = out_here ? xmalloc(n * sizeof *fl + 1) : NULL;
    float *first = out_here ? xmalloc(n * sizeof *first + 1) : NULL;
    float *xw = xmalloc(n * sizeof *xw + 1); // the float path sums weight·x, like the exact one
    for (size_t i = 0; i < n; i++)
        xw[i] = (float)(weight * x[i]);
    double *te = xmalloc((size_t)reps * sizeof *te), *tf = xmalloc((size_t)reps * sizeof *tf);
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(comm);
        double t0 = MPI_Wtime();
        comm_acc_clear(sum);
        comm_acc_add(sum, x, weight, EXPONENT);
        comm_acc_reduce(sum, all ? -1 : 0, COMM_F32, EXPONENT, 1.0, ex, NULL);
        te[r] = bench_lap(comm, t0);

        MPI_Barrier(comm);
        t0 = MPI_Wtime();
        if (all)
            MPI_Allreduce(xw, fl, (int)n, MPI_FLOAT, MPI_SUM, comm);
        else
            MPI_Reduce(xw, fl, (int)n, MPI_FLOAT, MPI_SUM, 0, comm);
        tf[r] = bench_lap(comm, t0);

        if (out_here) {
            if (r == 0) memcpy(first, ex, n * sizeof *ex);
            if (memcmp(first, ex, n * sizeof *ex)) *bad = 1;
            for (size_t i = 0; i < n; i++)
                if (!(fabsf(ex[i] - fl[i]) <= 1e-5f * (1 + fabsf(ex[i])))) *bad = 1;
        }
    }
    *exact_ms = 1e3 * best(te, reps), *float_ms = 1e3 * best(tf, reps);
    comm_acc_free(sum);
    xfree(x), xfree(ex), xfree(fl), xfree(first), xfree(xw), xfree(te), xfree(tf);
}

// The local passes alone, in ns per element.
static void kernels(size_t n) {
    float *x = xmalloc(n * sizeof *x + 1), *out = xmalloc(n * sizeof *out + 1);
    int64_t *acc = xcalloc_aligned(n * sizeof *acc + 1);
    Rng rng;
    rng_init(&rng, 11, 0, 0, RNG_TEST);
    rng_fill_uniform(&rng, x, n, -1.0f, 1.0f);
    double t[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r < 50; r++) {
        double t0 = MPI_Wtime();
        memset(acc, 0, n * sizeof *acc);
        double t1 = MPI_Wtime();
        exact_add(acc, x, 0.3, n, EXPONENT);
        double t2 = MPI_Wtime();
        exact_to_float(out, acc, n, EXPONENT, 1.0);
        double t3 = MPI_Wtime();
        exact_to_float(out, acc, n, EXPONENT, 3.0);
        double t4 = MPI_Wtime();
        exact_set(acc, x, 0.3, n, EXPONENT);
        double t5 = MPI_Wtime();
        if (!exact_copy_fast(out, x, 0.3, n, EXPONENT)) abort();
        double t6 = MPI_Wtime();
        double dt[6] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5};
        for (int k = 0; k < 6; k++)
            t[k] = dt[k] < t[k] ? dt[k] : t[k];
    }
    printf("bench reduce kernels n=%zu memset_ns=%.2f exact_add_ns=%.2f to_float_ns=%.2f "
           "to_float_div3_ns=%.2f exact_set_ns=%.2f copy_fast_ns=%.2f\n",
           n, 1e9 * t[0] / n, 1e9 * t[1] / n, 1e9 * t[2] / n, 1e9 * t[3] / n, 1e9 * t[4] / n,
           1e9 * t[5] / n);
    xfree(x), xfree(out), xfree(acc);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const char *sizes = bench_arg(argc, argv, "sizes", "1000,10000,100000,1000000,10000000");
    const int reps = atoi(bench_arg(argc, argv, "reps", "9"));
    const char *op = bench_arg(argc, argv, "op", "both");
    int world_size;
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    Comm *c = comm_create(MPI_COMM_WORLD, world_size > 1 ? world_size - 1 : 1); // parties: unused
    int rank = comm_rank(c), bad = 0;
    size_t kn = (size_t)strtod(bench_arg(argc, argv, "kernels", "0"), NULL);
    if (rank == 0 && kn > 0) kernels(kn);
    for (int all = 0; all <= 1; all++) {
        if (strcmp(op, "both") && strcmp(op, all ? "allreduce" : "reduce")) continue;
        for (const char *s = sizes; *s;) {
            char *end;
            size_t n = (size_t)strtod(s, &end);
            double a, b;
            point(c, n, reps, all, &a, &b, &bad);
            if (rank == 0)
                printf("bench reduce params=%zu ranks=%d op=%s exact_ms=%.4f float_ms=%.4f "
                       "ratio=%.2f\n",
                       n, comm_size(c), all ? "allreduce" : "reduce", a, b, a / b);
            fflush(stdout);
            s = *end == ',' ? end + 1 : end;
        }
    }
    int bad_all = 0;
    MPI_Allreduce(&bad, &bad_all, 1, MPI_INT, MPI_LOR, comm_mpi(c));
    if (rank == 0 && bad_all)
        printf("bench reduce: WRONG result (exact != float, or not stable)\n");
    comm_destroy(c);
    MPI_Finalize();
    return bad_all ? 1 : 0;
}
