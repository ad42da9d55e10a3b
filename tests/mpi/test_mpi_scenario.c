// test_mpi_scenario.c - a scenario computed by real ranks: each rank computes the split itself and
// keeps the parties it hosts (k % size == rank); the hashes of those parties, summed across ranks,
// must equal rank 0's hashes of its own full split, for every preset.
#include <check.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "data/scenario.h"
#include "mpi_helpers.h"

enum { N = 6000, C = 10, M = 2, K = 7 };

// FNV-1a over a party's rows (index, mask, stage, chunk) and its modality set.
static uint64_t party_hash(const ScenarioParty *p) {
    uint64_t h = 1469598103934665603ULL;
#define MIX(v)                                                                                     \
    do {                                                                                           \
        h ^= (uint64_t)(v);                                                                        \
        h *= 1099511628211ULL;                                                                     \
    } while (0)
    MIX(p->n);
    MIX(p->modalities);
    for (int64_t j = 0; j < p->n; j++) {
        MIX(p->index[j]);
        MIX(p->mask[j]);
        MIX(p->stage[j] + 128);
        MIX(p->chunk[j]);
    }
#undef MIX
    return h;
}

START_TEST(test_ranks_compute_the_same_parties_as_one_process) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int32_t *label = xmalloc(N * sizeof *label);
    int64_t *entity = xmalloc(N * sizeof *entity);
    for (int i = 0; i < N; i++) {
        entity[i] = i / 2;
        label[i] = (int32_t)(((unsigned)(i / 2) * 7919u) % C);
    }
    ScenarioData sd = {.n = N, .n_classes = C, .n_modalities = M, .label = label, .entity = entity};
    int ok = 1;
    for (int p = 0; SCENARIO_PRESETS[p]; p++) {
        ScenarioConfig cfg;
        ok &= scenario_preset(&cfg, SCENARIO_PRESETS[p], K, M) == 0;
        Scenario s;
        scenario_compute(&s, &cfg, &sd, 31);
        uint64_t mine[K] = {0}, sum[K], ref[K];
        for (int k = 0; k < K; k++) {
            if (k % size == rank) mine[k] = party_hash(&s.party[k]);
            ref[k] = party_hash(&s.party[k]);
        }
        MPI_Allreduce(mine, sum, K, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        MPI_Bcast(ref, K, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        for (int k = 0; k < K; k++)
            ok &= sum[k] == ref[k];
        scenario_free(&s);
    }
    ck_assert_all_ranks(ok, "rank %d of %d: a party's split differs from rank 0's", rank, size);
    free(label);
    free(entity);
}
END_TEST

Suite *mpi_scenario_suite(void) {
    Suite *s = suite_create("mpi_scenario");
    TCase *tc = tcase_create("ranks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ranks_compute_the_same_parties_as_one_process);
    suite_add_tcase(s, tc);
    return s;
}
