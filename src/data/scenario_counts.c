// scenario_counts.c - what a computed split holds, per party (scenario.h): rows per class and per
// modality and empty rows (scenario_counts), and the table of them with the achieved entity overlap
// (scenario_summary), as text or CSV. Reads the Scenario only; no random draws.
#include "data/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

void scenario_counts(const Scenario *s, const int32_t *label, int64_t *per_class, int64_t *per_mod,
                     int64_t *empty) {
    CHECK_PTR(s);
    CHECK(per_class == NULL || label != NULL, "scenario_counts: per_class needs label");
    const int K = s->n_parties, C = s->n_classes, M = s->n_modalities;
    if (per_class) memset(per_class, 0, (size_t)K * (size_t)C * sizeof *per_class);
    if (per_mod) memset(per_mod, 0, (size_t)K * (size_t)M * sizeof *per_mod);
    if (empty) memset(empty, 0, (size_t)K * sizeof *empty);
    for (int k = 0; k < K; k++) {
        const ScenarioParty *pp = &s->party[k];
        for (int64_t j = 0; j < pp->n; j++) {
            if (per_class) per_class[(size_t)k * C + label[pp->index[j]]]++;
            for (int m = 0; m < M && per_mod; m++)
                if ((pp->mask[j] >> m) & 1u) per_mod[(size_t)k * M + m]++;
            if (empty && pp->mask[j] == 0) empty[k]++;
        }
    }
}

void scenario_summary(FILE *f, const Scenario *s, const int32_t *label,
                      const char *const *class_names, const char *const *modality_names, int csv) {
    CHECK_PTR(f);
    CHECK_PTR(s);
    CHECK_PTR(label);
    const int K = s->n_parties, C = s->n_classes, M = s->n_modalities;
    int64_t *pc = xmalloc((size_t)K * C * sizeof *pc), *pm = xmalloc((size_t)K * M * sizeof *pm);
    int64_t *pe = xmalloc((size_t)K * sizeof *pe);
    scenario_counts(s, label, pc, pm, pe);
    char name[64];
    if (csv) {
        fprintf(f, "party,samples");
        for (int c = 0; c < C; c++)
            fprintf(f, ",class:%s",
                    class_names ? class_names[c] : (snprintf(name, sizeof name, "c%d", c), name));
        for (int m = 0; m < M; m++)
            fprintf(f, ",mod:%s",
                    modality_names ? modality_names[m]
                                   : (snprintf(name, sizeof name, "m%d", m), name));
        fprintf(f, ",empty\n");
    } else {
        fprintf(f, "%5s %7s |", "party", "rows");
        for (int c = 0; c < C; c++) {
            if (class_names)
                snprintf(name, sizeof name, "%.6s", class_names[c]);
            else
                snprintf(name, sizeof name, "c%d", c);
            fprintf(f, " %6s", name);
        }
        fprintf(f, " |");
        for (int m = 0; m < M; m++) {
            if (modality_names)
                snprintf(name, sizeof name, "%.7s", modality_names[m]);
            else
                snprintf(name, sizeof name, "m%d", m);
            fprintf(f, " %7s", name);
        }
        fprintf(f, " | %6s\n", "empty");
    }
    for (int k = 0; k < K; k++) {
        fprintf(f, csv ? "%d,%lld" : "%5d %7lld |", k, (long long)s->party[k].n);
        for (int c = 0; c < C; c++)
            fprintf(f, csv ? ",%lld" : " %6lld", (long long)pc[(size_t)k * C + c]);
        if (!csv) fprintf(f, " |");
        for (int m = 0; m < M; m++)
            fprintf(f, csv ? ",%lld" : " %7lld", (long long)pm[(size_t)k * M + m]);
        fprintf(f, csv ? ",%lld\n" : " | %6lld\n", (long long)pe[k]);
    }
    if (!csv)
        fprintf(f,
                "entities %lld, split across parties by modality %lld (%.2f %%), unassigned %lld\n",
                (long long)s->n_entities, (long long)s->n_split_entities,
                s->n_entities ? 100.0 * (double)s->n_split_entities / (double)s->n_entities : 0.0,
                (long long)s->n_unassigned);
    free(pc);
    free(pm);
    free(pe);
}
