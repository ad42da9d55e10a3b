// bench_args.h - what the MPI benchmarks of tests/bench/ share: key=value arguments and the slowest
// rank's time.
#pragma once
#include <mpi.h>
#include <string.h>

// The value of key=value among argv[1..], else dflt. Borrowed (argv's or dflt).
static inline const char *bench_arg(int argc, char **argv, const char *key, const char *dflt) {
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=') return argv[i] + k + 1;
    return dflt;
}

// Collective over comm: the slowest rank's seconds since t0 (MPI_Wtime; every rank left a barrier
// at t0).
static inline double bench_lap(MPI_Comm comm, double t0) {
    double dt = MPI_Wtime() - t0, mx = 0;
    MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, comm);
    return mx;
}
