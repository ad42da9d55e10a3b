// proto_reduce.c - exact, -np-independent reduction of prototype sums and counts (see
// proto_reduce.h).
#include "comm/proto_reduce.h"

#include <math.h>
#include <string.h>

#include "comm/exact.h"
#include "core/common.h"
#include "core/die.h"
#include "core/xalloc.h"

size_t proto_bytes_per_party(int K, int M, int D) {
    CHECK(K >= 1 && M >= 1 && D >= 1, "K=%d M=%d D=%d", K, M, D);
    return (size_t)K * M * D * sizeof(float) + (size_t)K * M * sizeof(int64_t);
}

size_t proto_allreduce(double *protos, uint8_t *valid, int64_t *counts_global, const double *sums,
                       const int64_t *counts, int n_local, int K, int M, int D, MPI_Comm comm) {
    CHECK_PTR(protos);
    CHECK(K >= 1 && M >= 1 && D >= 1 && n_local >= 0, "K=%d M=%d D=%d n_local=%d", K, M, D,
          n_local);
    CHECK(n_local == 0 || (sums != NULL && counts != NULL), "sums or counts is NULL, n_local=%d",
          n_local);
    size_t cells = (size_t)K * M, n = cells * D;
    CHECK_INT_COUNT(n);

    // Same shapes on every rank, or the reductions below would mismatch silently.
    int dims[3] = {K, M, D}, lo[3], hi[3];
    MPI_CHECK(MPI_Allreduce(dims, lo, 3, MPI_INT, MPI_MIN, comm));
    MPI_CHECK(MPI_Allreduce(dims, hi, 3, MPI_INT, MPI_MAX, comm));
    CHECK(memcmp(lo, hi, sizeof lo) == 0,
          "ranks disagree on (K, M, D): this rank (%d, %d, %d), min (%d, %d, %d), max (%d, %d, %d)",
          K, M, D, lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]);

    // The bound: Σ_k |sums_k[i]| <= parties · max_k max_i |sums_k[i]|; both factors are exact under
    // MPI, and neither depends on which rank hosts which party.
    double local_max = 0;
    for (size_t i = 0; i < (size_t)n_local * n; i++) {
        CHECK(isfinite(sums[i]), "sums[party %zu][%zu] = %g is not finite", i / n, i % n, sums[i]);
        local_max = MAX(local_max, fabs(sums[i]));
    }
    int parties;
    MPI_CHECK(MPI_Allreduce(&n_local, &parties, 1, MPI_INT, MPI_SUM, comm));
    int e = exact_exponent(exact_allreduce_max(local_max, comm) * MAX(parties, 1));

    int64_t *acc = xcalloc(n, sizeof *acc), *cnt = xcalloc(cells, sizeof *cnt);
    for (int k = 0; k < n_local; k++) {
        exact_add_f64(acc, sums + (size_t)k * n, 1.0, n, e);
        for (size_t cm = 0; cm < cells; cm++) {
            int64_t c = counts[(size_t)k * cells + cm];
            CHECK(c >= 0, "counts[party %d][%zu] = %lld is negative", k, cm, (long long)c);
            cnt[cm] += c;
        }
    }
    exact_allreduce(acc, n, comm);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, cnt, (int)cells, MPI_INT64_T, MPI_SUM, comm));

    for (size_t cm = 0; cm < cells; cm++) {
        if (valid) valid[cm] = cnt[cm] > 0;
        if (counts_global) counts_global[cm] = cnt[cm];
        if (cnt[cm] > 0)
            exact_to_double(protos + cm * D, acc + cm * D, (size_t)D, e, (double)cnt[cm]);
        else
            memset(protos + cm * D, 0, (size_t)D * sizeof *protos);
    }
    xfree(acc), xfree(cnt);
    return proto_bytes_per_party(K, M, D);
}
