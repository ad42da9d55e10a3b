// bench_svd.c - the LAPACKE / ScaLAPACK crossover for Fed-CMP's CRAA SVD (docs/svd_paths.md): the
// thin SVD (s, U, Vt, all min(M, N) triplets) of M = [Δ_1 | … | Δ_K], K parties' (d_out, d_in)
// updates, with rank 0 the cloud hosting none and ranks 1 .. np − 1 hosting the parties in even
// contiguous blocks (one rank: rank 0 hosts them all).
//
// lapacke:   the party blocks gathered to rank 0 (MPI_Gatherv), assembled into the row-major
//            (d_out, K·d_in) matrix, linalg_svd_thin (LAPACKE_dgesdd) on rank 0
// scalapack: pdsvd_cols on a P × Q grid (default np × 1: the transposed matrix is tall), the
//            blocks going straight from their hosts into the block-cyclic layout, U, s, Vt
//            gathered to rank 0
// Each is timed between barriers (the slowest rank counts), median of `reps`; the two paths'
// singular values are compared (sv_rel_diff = max |σ_a − σ_b| / σ_1; the benchmark exits 1 above
// 1e-9). One line per size:
//   bench svd m=<M> n=<N> np=<p> grid=<PxQ> lapacke_ms=<a> scalapack_ms=<b> ratio=<a/b>
//   sv_rel_diff=<d>
// Usage: mpirun -np R bench_svd [sizes=32x512,64x1024 parties=8 reps=3 grid=<np>x1 nb=64]
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "core/common.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "tensor/linalg.h"
#include "tensor/pdsvd.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Parties [first, first + count) of rank q: rank 0 none (unless alone), the others an even split.
static void hosted(int K, int q, int size, int *first, int *count) {
    if (size == 1) {
        *first = 0, *count = K;
        return;
    }
    const int hosts = size - 1, base = K / hosts, extra = K % hosts, h = q - 1;
    if (q == 0) {
        *first = *count = 0;
        return;
    }
    *first = h * base + MIN(h, extra), *count = base + (h < extra);
}

// One size: returns 0 when the two paths agree.
static int bench_one(int M, int N, int K, int reps, int P, int Q, int nb, int rank, int size) {
    const int d_in = N / K, R = MIN(M, N);
    int first, count;
    hosted(K, rank, size, &first, &count);
    const size_t blk = (size_t)M * d_in;
    double *mine = xmalloc(MAX((size_t)1, (size_t)count * blk) * sizeof(double));
    for (int p = 0; p < count; p++) {
        Rng r;
        rng_init(&r, 11, 0, (uint32_t)(first + p), RNG_TEST);
        for (size_t i = 0; i < blk; i++)
            mine[(size_t)p * blk + i] = 2.0 * rng_uniform(&r) - 1.0;
    }
    double *s_a = xmalloc((size_t)R * sizeof(double)), *s_b = xmalloc((size_t)R * sizeof(double));
    double *u = NULL, *vt = NULL, *all = NULL, *a = NULL;
    int *cnt = NULL, *dsp = NULL;
    if (rank == 0) {
        u = xmalloc((size_t)M * R * sizeof(double)), vt = xmalloc((size_t)R * N * sizeof(double));
        all = xmalloc((size_t)M * N * sizeof(double)), a = xmalloc((size_t)M * N * sizeof(double));
        cnt = xmalloc((size_t)size * sizeof(int)), dsp = xmalloc((size_t)size * sizeof(int));
        for (int q = 0, off = 0; q < size; q++) {
            int f, c;
            hosted(K, q, size, &f, &c);
            cnt[q] = c * (int)blk, dsp[q] = off, off += cnt[q];
        }
    }
    double *t_a = xmalloc((size_t)reps * sizeof(double)),
           *t_b = xmalloc((size_t)reps * sizeof(double));
    PdsvdGrid *g = pdsvd_grid_create_shape(MPI_COMM_WORLD, P, Q);
    PdsvdCols cols = {mine, first * d_in, count * d_in, d_in};
    for (int rep = 0; rep < reps; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Gatherv(mine, count * (int)blk, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, 0,
                    MPI_COMM_WORLD);
        if (rank == 0) {
            for (int p = 0; p < K; p++) // party-major blocks into the row-major (M, N)
                for (int i = 0; i < M; i++)
                    memcpy(a + (size_t)i * N + (size_t)p * d_in,
                           all + (size_t)p * blk + (size_t)i * d_in, (size_t)d_in * sizeof(double));
            linalg_svd_thin(u, s_a, vt, a, M, N);
        }
        t_a[rep] = bench_lap(MPI_COMM_WORLD, t0);
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        pdsvd_cols(g, s_b, u, vt, &cols, M, N, R, nb, 0);
        t_b[rep] = bench_lap(MPI_COMM_WORLD, t0);
    }
    pdsvd_grid_destroy(g);
    int bad = 0;
    if (rank == 0) {
        double d = 0;
        for (int k = 0; k < R; k++)
            d = MAX(d, (s_a[k] > s_b[k] ? s_a[k] - s_b[k] : s_b[k] - s_a[k]) / s_a[0]);
        bad = !(d < 1e-9);
        double la = 1e3 * median(t_a, reps), sc = 1e3 * median(t_b, reps);
        printf("bench svd m=%d n=%d np=%d grid=%dx%d lapacke_ms=%.1f scalapack_ms=%.1f ratio=%.3f "
               "sv_rel_diff=%.1e\n",
               M, N, size, P, Q, la, sc, la / sc, d);
        fflush(stdout);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    xfree(mine), xfree(s_a), xfree(s_b), xfree(u), xfree(vt), xfree(all), xfree(a), xfree(cnt);
    xfree(dsp), xfree(t_a), xfree(t_b);
    return bad;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int K = atoi(bench_arg(argc, argv, "parties", "8")),
              reps = atoi(bench_arg(argc, argv, "reps", "3"));
    const int nb = atoi(bench_arg(argc, argv, "nb", "64"));
    char dflt[32], err[256];
    snprintf(dflt, sizeof dflt, "%dx1", size);
    int P, Q;
    if (pdsvd_grid_parse("grid", bench_arg(argc, argv, "grid", dflt), size, &P, &Q, err,
                         sizeof err)) {
        if (rank == 0) fprintf(stderr, "bench_svd: %s\n", err);
        MPI_Finalize();
        return 2;
    }
    char sizes[1024];
    snprintf(sizes, sizeof sizes, "%s", bench_arg(argc, argv, "sizes", "32x512,64x1024"));
    if (rank == 0) {
        FILE *f = fopen("/proc/loadavg", "r");
        char load[128] = "?\n";
        if (f && !fgets(load, sizeof load, f)) snprintf(load, sizeof load, "?\n");
        if (f) fclose(f);
        printf("# bench_svd: %d parties, rank 0 the cloud, nb %d, median of %d; load average %s", K,
               nb, reps, load);
    }
    int bad = 0;
    for (char *tok = strtok(sizes, ","); tok; tok = strtok(NULL, ",")) {
        int M = 0, N = 0;
        if (sscanf(tok, "%dx%d", &M, &N) != 2 || M < 1 || N < K || N % K) {
            if (rank == 0)
                fprintf(stderr, "bench_svd: size '%s': expected MxN, N a multiple of %d\n", tok, K);
            bad = 1;
            break;
        }
        bad |= bench_one(M, N, K, MAX(1, reps), P, Q, nb, rank, size);
    }
    MPI_Finalize();
    return bad;
}
