// proto_reduce.c - exact, -np-independent reduction of prototype sums and counts (see
// proto_reduce.h).
#include "comm/proto_reduce.h"

#include <math.h>
#include <string.h>

#include "comm/exact.h"
#include "core/common.h"
#include "core/die.h"
#include "core/xalloc.h"

double proto_bytes_up(int K, int M, int D) {
    CHECK(K >= 1 && M >= 1 && D >= 1, "K=%d M=%d D=%d", K, M, D);
    return (double)K * M * D * sizeof(float) + (double)K * M * sizeof(int64_t);
}

double proto_bytes_down(int K, int M, int D) {
    CHECK(K >= 1 && M >= 1 && D >= 1, "K=%d M=%d D=%d", K, M, D);
    return (double)K * M * D * sizeof(float) + (double)K * M;
}

void proto_allreduce(Comm *c, double *protos, uint8_t *valid, int64_t *counts_global,
                     const double *sums, const int64_t *counts, int n_local, int K, int M, int D,
                     const CommPay *pay) {
    CHECK_PTR(protos);
    CHECK(K >= 1 && M >= 1 && D >= 1 && n_local >= 0, "K=%d M=%d D=%d n_local=%d", K, M, D,
          n_local);
    CHECK(n_local == 0 || (sums != NULL && counts != NULL), "sums or counts is NULL, n_local=%d",
          n_local);
    size_t cells = (size_t)K * M, n = cells * D;
    CHECK_INT_COUNT(n);

    // Same shapes on every rank, or the reductions below would mismatch silently.
    int32_t lo[3] = {K, M, D}, hi[3] = {K, M, D};
    comm_allreduce(c, lo, 3, COMM_I32, COMM_MIN, NULL);
    comm_allreduce(c, hi, 3, COMM_I32, COMM_MAX, NULL);
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
    int32_t parties = n_local;
    comm_allreduce(c, &parties, 1, COMM_I32, COMM_SUM, NULL);
    comm_allreduce(c, &local_max, 1, COMM_F64, COMM_MAX, NULL); // max is order-independent
    int e = exact_exponent(local_max * MAX(parties, 1));

    int64_t *acc = xcalloc(n, sizeof *acc), *cnt = xcalloc(cells, sizeof *cnt);
    for (int k = 0; k < n_local; k++) {
        exact_add_f64(acc, sums + (size_t)k * n, 1.0, n, e);
        for (size_t cm = 0; cm < cells; cm++) {
            int64_t nk = counts[(size_t)k * cells + cm];
            CHECK(nk >= 0, "counts[party %d][%zu] = %lld is negative", k, cm, (long long)nk);
            cnt[cm] += nk;
        }
    }
    comm_allreduce_sum_i64(c, acc, n, pay);
    comm_allreduce_sum_i64(c, cnt, cells, NULL);

    for (size_t cm = 0; cm < cells; cm++) {
        if (valid) valid[cm] = cnt[cm] > 0;
        if (counts_global) counts_global[cm] = cnt[cm];
        if (cnt[cm] > 0)
            exact_to_double(protos + cm * D, acc + cm * D, (size_t)D, e, (double)cnt[cm]);
        else
            memset(protos + cm * D, 0, (size_t)D * sizeof *protos);
    }
    xfree(acc), xfree(cnt);
}
