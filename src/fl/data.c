// data.c - the parties' rows: the dataset file, the scenario's split, the hosted parties' rows and
// the cloud's global test set (run_impl.h).
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "data/holdout.h"
#include "fl/run_impl.h"

// The scenario over rows (n, ascending, into the role's file split): every rank computes all of it
// (cheap, and independent of the layout). The parties' indices are file rows.
static void split_scenario(Run *run, HoldoutRole role, const int64_t *rows, int64_t n,
                           Scenario *scn) {
    DsSplit split = holdout_split(role);
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
    if (role != HOLDOUT_TRAIN) sc.min_per_label = 0; // evaluation rows follow, without a floor

    int32_t *label = xmalloc((size_t)n * sizeof *label + 1);
    int64_t *entity = xmalloc((size_t)n * sizeof *entity + 1);
    int n_meta = dataset_n_meta(run->ds);
    int32_t *meta = n_meta ? xmalloc((size_t)n * (size_t)n_meta * sizeof *meta) : NULL;
    const char *meta_names[64];
    CHECK(n_meta <= 64, "%d meta columns", n_meta);
    for (int k = 0; k < n_meta; k++)
        meta_names[k] = dataset_meta_name(run->ds, k);
    dataset_read_labels_idx(run->ds, split, rows, n, label);
    dataset_read_entities_idx(run->ds, split, rows, n, entity);
    if (meta) dataset_read_meta_idx(run->ds, split, rows, n, meta);
    ScenarioData d = {.n = n,
                      .n_classes = dataset_n_classes(run->ds),
                      .n_modalities = n_mod,
                      .label = label,
                      .entity = entity,
                      .meta = meta,
                      .n_meta = n_meta,
                      .meta_names = meta_names,
                      .source = cfg->data};
    scenario_compute(scn, &sc, &d, config_seed(cfg, cfg->seed_split));
    // Rows that lost every modality (FedMLLM's "both can be missing") carry nothing to learn.
    for (int p = 0; p < run->P; p++) {
        ScenarioParty *sp = &scn->party[p];
        int64_t kept = 0;
        for (int64_t i = 0; i < sp->n; i++) // ascending positions map to ascending rows
            if (sp->mask[i]) sp->index[kept] = rows[sp->index[i]], sp->mask[kept++] = sp->mask[i];
        sp->n = kept;
    }
    xfree(label);
    xfree(entity);
    xfree(meta);
}

// The hosted parties' rows of a role into sets (count), one read over their union; returns the one
// allocation the sets are views into (xfree).
static void *load_parties(Run *run, HoldoutRole role, const Scenario *scn, SampleSet *sets) {
    size_t k = (size_t)run->count + 1;
    const int64_t **idx = xmalloc(k * sizeof *idx);
    const uint8_t **mask = xmalloc(k * sizeof *mask);
    int64_t *n = xmalloc(k * sizeof *n);
    for (int i = 0; i < run->count; i++) {
        const ScenarioParty *sp = &scn->party[run->first + i];
        idx[i] = sp->index, mask[i] = sp->mask, n[i] = sp->n;
    }
    void *pool = sampleset_load_parties(sets, run->count, &run->layout, run->ds,
                                        holdout_split(role), idx, mask, n);
    xfree(idx), xfree(mask), xfree(n);
    return pool;
}

// The layout and the model spec of the data run_open_inputs opened (inputs.c).
void run_open_data(Run *run) {
    CHECK(run->ds, "--data=%s is not open (run_open_inputs first)", run->cfg->data);
    samples_layout(&run->layout, run->ds);
    samples_model_spec(&run->spec, &run->layout, run->ds);
}

// The rows of a role (holdout.h), capped by --max-train (training) or --max-test (evaluation).
static int64_t role_rows(const Run *run, HoldoutRole role, int64_t **rows) {
    const Config *cfg = run->cfg;
    return holdout_rows(run->ds, role, (HoldoutFractions){cfg->val_fraction, cfg->public_fraction},
                        role == HOLDOUT_TRAIN ? cfg->max_train : cfg->max_test, rows);
}

void run_load_data(Run *run) {
    int P = run->P;
    HoldoutRole eval = run->eval_role;
    run->train = xcalloc((size_t)run->count + 1, sizeof *run->train);
    run->test = xcalloc((size_t)run->count + 1, sizeof *run->test);
    run->n_train = xcalloc((size_t)P, sizeof *run->n_train);
    int64_t *rows, n = role_rows(run, HOLDOUT_TRAIN, &rows);
    split_scenario(run, HOLDOUT_TRAIN, rows, n, &run->scn_train);
    xfree(rows);
    run->train_rows = load_parties(run, HOLDOUT_TRAIN, &run->scn_train, run->train);
    n = role_rows(run, eval, &rows);
    CHECK(n > 0, "--eval-split=%s: %s has no %s rows (--val-fraction=%g)", holdout_role_name(eval),
          run->cfg->data, holdout_role_name(eval), run->cfg->val_fraction);
    split_scenario(run, eval, rows, n, &run->scn_test);
    run->test_rows = load_parties(run, eval, &run->scn_test, run->test);
    run->n_train_total = 0;
    for (int p = 0; p < P; p++)
        run->n_train[p] = run->scn_train.party[p].n, run->n_train_total += run->n_train[p];
    CHECK(run->n_train_total > 0, "scenario %s leaves no training rows of %s", run->cfg->scenario,
          run->cfg->data);
    if (run->rank == 0) { // the whole evaluation set, every modality
        uint8_t *all = xmalloc((size_t)n + 1);
        memset(all, (1u << run->layout.n_mod) - 1, (size_t)n);
        sampleset_load(&run->global_test, &run->layout, run->ds, holdout_split(eval), rows, all, n);
        xfree(all);
    }
    xfree(rows);
}

void run_free_data(Run *run) {
    xfree(run->train_rows), xfree(run->test_rows); // the hosted sets are views into these
    xfree(run->train), xfree(run->test), xfree(run->n_train);
    sampleset_free(&run->global_test);
    scenario_free(&run->scn_train);
    scenario_free(&run->scn_test);
    dataset_close(run->ds);
}
