// data.c - the parties' rows: the dataset file, the scenario's split, the hosted parties' rows and
// the cloud's global test set (run_impl.h).
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"

// The scenario of one split: every rank computes all of it (cheap, and independent of the layout).
static void split_scenario(Run *run, DsSplit split, int64_t n, Scenario *scn) {
    const Config *cfg = run->cfg;
    ScenarioConfig sc;
    int n_mod = run->layout.n_mod;
    if (scenario_preset(&sc, cfg->scenario, run->P, n_mod) != 0) {
        char names[1024] = "";
        for (int i = 0; SCENARIO_PRESETS[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     SCENARIO_PRESETS[i]);
        CHECK(0, "--scenario=%s: unknown preset; expected one of %s", cfg->scenario, names);
    }
    scenario_apply_overrides(&sc, &cfg->scn);
    if (split == DS_TEST) sc.min_per_label = 0; // test rows follow the split, without a floor

    int32_t *label = xmalloc((size_t)n * sizeof *label + 1);
    int64_t *entity = xmalloc((size_t)n * sizeof *entity + 1);
    int n_meta = dataset_n_meta(run->ds);
    int32_t *meta = n_meta ? xmalloc((size_t)n * (size_t)n_meta * sizeof *meta) : NULL;
    const char *meta_names[64];
    CHECK(n_meta <= 64, "%d meta columns", n_meta);
    for (int k = 0; k < n_meta; k++)
        meta_names[k] = dataset_meta_name(run->ds, k);
    dataset_read_labels(run->ds, split, 0, n, label);
    dataset_read_entities(run->ds, split, 0, n, entity);
    if (meta) dataset_read_meta(run->ds, split, 0, n, meta);
    ScenarioData d = {.n = n,
                      .n_classes = dataset_n_classes(run->ds),
                      .n_modalities = n_mod,
                      .label = label,
                      .entity = entity,
                      .meta = meta,
                      .n_meta = n_meta,
                      .meta_names = meta_names};
    scenario_compute(scn, &sc, &d, config_seed(cfg, cfg->seed_split));
    // Rows that lost every modality (FedMLLM's "both can be missing") carry nothing to learn.
    for (int p = 0; p < run->P; p++) {
        ScenarioParty *sp = &scn->party[p];
        int64_t kept = 0;
        for (int64_t i = 0; i < sp->n; i++)
            if (sp->mask[i]) sp->index[kept] = sp->index[i], sp->mask[kept++] = sp->mask[i];
        sp->n = kept;
    }
    xfree(label);
    xfree(entity);
    xfree(meta);
}

static void load_parties(Run *run, DsSplit split, const Scenario *scn, SampleSet *sets) {
    for (int i = 0; i < run->count; i++) {
        const ScenarioParty *sp = &scn->party[run->first + i];
        sampleset_load(&sets[i], &run->layout, run->ds, split, sp->index, sp->mask, sp->n);
    }
}

// Rank 0 validates the whole file (a full scan); the others trust it and skip the scan.
static void open_data(Run *run) {
    const Config *cfg = run->cfg;
    char err[1024] = "";
    if (run->rank == 0) {
        run->ds = dataset_open(cfg->data, err, sizeof err);
        if (!run->ds && access(cfg->data, F_OK) != 0)
            die_set_hint("build the datasets with 'make data' (datasets/README.md), or pass "
                         "--data=FILE");
        CHECK(run->ds, "--data: %s", err);
    }
    comm_barrier(run->comm);
    if (run->rank != 0) {
        run->ds = dataset_open_flags(cfg->data, DATASET_SKIP_SCAN, err, sizeof err);
        CHECK(run->ds, "--data: %s", err);
    }
    samples_layout(&run->layout, run->ds);
    samples_model_spec(&run->spec, &run->layout, run->ds);
}

static int64_t split_rows(const Run *run, DsSplit split) {
    int64_t n = dataset_n(run->ds, split),
            cap = split == DS_TRAIN ? run->cfg->max_train : run->cfg->max_test;
    return cap > 0 && cap < n ? cap : n;
}

void run_load_data(Run *run) {
    open_data(run);
    int P = run->P;
    run->train = xcalloc((size_t)run->count + 1, sizeof *run->train);
    run->test = xcalloc((size_t)run->count + 1, sizeof *run->test);
    run->n_train = xcalloc((size_t)P, sizeof *run->n_train);
    split_scenario(run, DS_TRAIN, split_rows(run, DS_TRAIN), &run->scn_train);
    load_parties(run, DS_TRAIN, &run->scn_train, run->train);
    split_scenario(run, DS_TEST, split_rows(run, DS_TEST), &run->scn_test);
    load_parties(run, DS_TEST, &run->scn_test, run->test);
    run->n_train_total = 0;
    for (int p = 0; p < P; p++)
        run->n_train[p] = run->scn_train.party[p].n, run->n_train_total += run->n_train[p];
    CHECK(run->n_train_total > 0, "scenario %s leaves no training rows", run->cfg->scenario);
    if (run->rank == 0) {
        int64_t n = split_rows(run, DS_TEST);
        int64_t *idx = xmalloc((size_t)n * sizeof *idx);
        uint8_t *all = xmalloc((size_t)n);
        for (int64_t i = 0; i < n; i++)
            idx[i] = i, all[i] = (uint8_t)((1u << run->layout.n_mod) - 1);
        sampleset_load(&run->global_test, &run->layout, run->ds, DS_TEST, idx, all, n);
        xfree(idx);
        xfree(all);
    }
}

void run_free_data(Run *run) {
    for (int i = 0; i < run->count; i++) {
        sampleset_free(&run->train[i]);
        sampleset_free(&run->test[i]);
    }
    xfree(run->train), xfree(run->test), xfree(run->n_train);
    sampleset_free(&run->global_test);
    scenario_free(&run->scn_train);
    scenario_free(&run->scn_test);
    dataset_close(run->ds);
}
