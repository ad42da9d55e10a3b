// scenario_summary.c - prints a scenario's per-party table for a dataset file (and writes it as
// CSV).
//   build/bin/scenario_summary --data=FILE --scenario=NAME --parties=P --seed=S
//                              [--split=train|validation|test] [--val-fraction=0.1]
//                              [--set=key=value ...] [--csv=OUT] [--data-unverified[=true]]
// The rows are those mmcollab gives the role (data/holdout.h: training rows are the train split
// without the validation carve-out), so the table is the partition a run with the same --seed
// (or --seed.split), --parties and --val-fraction trains on. The CSV is what
// analysis/scenario_heatmap.py draws. The file passes the integrity gate first (data/dataset.h;
// --data-unverified reads one without a digest file, every size bounded).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/holdout.h"
#include "data/scenario.h"

#define MAX_SETS 32

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s --data=FILE --scenario=NAME [--parties=10] [--seed=42]\n"
            "          [--split=train|validation|test] [--val-fraction=0.1] [--set=key=value ...]\n"
            "          [--csv=OUT] [--data-unverified[=true]]\nscenarios:",
            argv0);
    for (int i = 0; SCENARIO_PRESETS[i]; i++)
        fprintf(stderr, " %s", SCENARIO_PRESETS[i]);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv) {
    const char *data = NULL, *name = NULL, *csv = NULL, *sets[MAX_SETS];
    int parties = 10, n_sets = 0;
    unsigned flags = DATASET_SKIP_SCAN;
    unsigned long long seed = 42;
    HoldoutRole role = HOLDOUT_TRAIN;
    double val_fraction = 0.1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--data=", 7))
            data = a + 7;
        else if (!strncmp(a, "--scenario=", 11))
            name = a + 11;
        else if (!strncmp(a, "--parties=", 10))
            parties = atoi(a + 10);
        else if (!strncmp(a, "--seed=", 7))
            seed = strtoull(a + 7, NULL, 10);
        else if (!strncmp(a, "--csv=", 6))
            csv = a + 6;
        else if (!strcmp(a, "--data-unverified") || !strcmp(a, "--data-unverified=true"))
            flags |= DATASET_UNVERIFIED;
        else if (!strcmp(a, "--split=test"))
            role = HOLDOUT_TEST;
        else if (!strcmp(a, "--split=validation"))
            role = HOLDOUT_VALIDATION;
        else if (!strcmp(a, "--split=train"))
            role = HOLDOUT_TRAIN;
        else if (!strncmp(a, "--val-fraction=", 15)) {
            val_fraction = strtod(a + 15, NULL);
            if (!(val_fraction >= 0 && val_fraction < 1)) {
                fprintf(stderr, "%s: --val-fraction=%s: expected a number in [0, 1)\n", argv[0],
                        a + 15);
                return 2;
            }
        } else if (!strncmp(a, "--set=", 6) && n_sets < MAX_SETS)
            sets[n_sets++] = a + 6;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    if (!data || !name) {
        usage(argv[0]);
        return 2;
    }
    char err[2048];
    Dataset *ds = dataset_open_flags(data, flags, err, sizeof err);
    if (!ds) {
        fprintf(stderr, "scenario_summary: %s\n", err);
        return 1;
    }
    const int M = dataset_n_modalities(ds), C = dataset_n_classes(ds), K = dataset_n_meta(ds);
    ScenarioConfig cfg;
    if (scenario_preset(&cfg, name, parties, M) != 0) {
        fprintf(stderr, "scenario_summary: unknown scenario '%s'\n", name);
        usage(argv[0]);
        dataset_close(ds);
        return 2;
    }
    for (int i = 0; i < n_sets; i++) {
        char key[64];
        const char *eq = strchr(sets[i], '=');
        if (!eq || (size_t)(eq - sets[i]) >= sizeof key) {
            fprintf(stderr, "scenario_summary: --set=%s is not key=value\n", sets[i]);
            dataset_close(ds);
            return 2;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
        scenario_config_set(&cfg, key, eq + 1);
    }
    int64_t *rows;
    const int64_t n = holdout_rows(ds, role, (HoldoutFractions){val_fraction, 0}, 0, &rows);
    const DsSplit split = holdout_split(role);
    int32_t *label = xmalloc((size_t)n * sizeof *label + 1);
    int64_t *entity = xmalloc((size_t)n * sizeof *entity + 1);
    int32_t *meta = K ? xmalloc((size_t)n * K * sizeof *meta + 1) : NULL;
    dataset_read_labels_idx(ds, split, rows, n, label);
    dataset_read_entities_idx(ds, split, rows, n, entity);
    if (K) dataset_read_meta_idx(ds, split, rows, n, meta);
    xfree(rows);
    const char *class_names[256], *mod_names[SCN_MAX_MODALITIES], *meta_names[64];
    CHECK(C <= 256 && K <= 64, "scenario_summary: %d classes / %d meta columns exceed the table", C,
          K);
    for (int c = 0; c < C; c++)
        class_names[c] = dataset_class_name(ds, c);
    for (int m = 0; m < M; m++)
        mod_names[m] = dataset_modality(ds, m)->name;
    for (int k = 0; k < K; k++)
        meta_names[k] = dataset_meta_name(ds, k);
    ScenarioData sd = {.n = n,
                       .n_classes = C,
                       .n_modalities = M,
                       .label = label,
                       .entity = entity,
                       .meta = meta,
                       .n_meta = K,
                       .meta_names = meta_names,
                       .source = data};
    Scenario s;
    scenario_compute(&s, &cfg, &sd, seed);
    printf("%s, %s rows (%lld samples), scenario %s, %d parties, seed %llu\n", dataset_name(ds),
           holdout_role_name(role), (long long)n, name, parties, seed);
    scenario_summary(stdout, &s, label, class_names, mod_names, 0);
    int rc = 0;
    if (csv) {
        FILE *f = fopen(csv, "w");
        if (f) {
            scenario_summary(f, &s, label, class_names, mod_names, 1);
            CHECK(fclose(f) == 0, "writing %s failed", csv);
            printf("wrote %s\n", csv);
        } else {
            fprintf(stderr, "scenario_summary: cannot write %s\n", csv);
            rc = 1;
        }
    }
    scenario_free(&s);
    xfree(label);
    xfree(entity);
    xfree(meta);
    dataset_close(ds);
    return rc;
}
