// config.c - the mmcollab option table and its parse (see config.h).
#include "cli/config.h"

#include <stdio.h>
#include <string.h>

#include "methods/method.h"

#define C(f) offsetof(Config, f)
#define NEUTRAL OPT_RESUME_NEUTRAL

static const OptSpec core_opts[] = {
    {"config", OPT_STRING, C(config), "", 0, 0, 0, NULL,
     "file of 'key = value' lines ([section] prefixes keys); the command line overrides it",
     NEUTRAL},
    {"out", OPT_STRING, C(out), "runs/demo", 0, 0, 0, NULL,
     "run directory: run.h5, metrics.csv, ckpt/", NEUTRAL},
    {"method", OPT_STRING, C(method), "fedavg", 0, 0, 0, NULL, "collaboration method (see below)",
     0},
    {"data", OPT_STRING, C(data), "data/avfmnist_small.h5", 0, 0, 0, NULL,
     "dataset file (datasets/README.md; make data builds them)", 0},
    {"scenario", OPT_STRING, C(scenario), "bomm-random", 0, 0, 0, NULL,
     "heterogeneity preset (datasets/README.md, Scenarios)", 0},
    {"parties", OPT_INT, C(parties), "4", OPT_LO, 1, 0, NULL, "number of parties", 0},
    {"rounds", OPT_INT, C(rounds), "6", OPT_LO, 1, 0, NULL, "communication rounds", NEUTRAL},
    {"seed", OPT_I64, C(seed), "1", OPT_LO, 0, 0, NULL, "seed of every random stream", 0},
    {"resume", OPT_CHOICE, C(resume), "never", 0, 0, 0, "never|auto",
     "auto: continue from the newest valid checkpoint in <out>/ckpt", NEUTRAL},
    {"stop-after", OPT_INT, C(stop_after), "0", OPT_LO, 0, 0, NULL,
     "checkpoint and exit with code 3 after this round, as on SIGUSR1 (0 = off; tests)", NEUTRAL},
    {"local-epochs", OPT_INT, C(local_epochs), "1", OPT_LO, 1, 0, NULL,
     "passes over its data per party and round", 0},
    {"batch-size", OPT_INT, C(batch_size), "32", OPT_LO, 1, 0, NULL, "minibatch size", 0},
    {"lr", OPT_DOUBLE, C(lr), "0.001", OPT_LO | OPT_LO_OPEN, 0, 0, NULL, "learning rate", 0},
    {"optimizer", OPT_CHOICE, C(optimizer), "adamw", 0, 0, 0, "adamw|sgd",
     "party optimizer (state reset every round for federated methods)", 0},
    {"momentum", OPT_DOUBLE, C(momentum), "0.9", OPT_LO | OPT_HI, 0, 1, NULL, "SGD momentum", 0},
    {"weight-decay", OPT_DOUBLE, C(weight_decay), "0", OPT_LO, 0, 0, NULL, "decoupled weight decay",
     0},
    {"clip", OPT_DOUBLE, C(clip), "5", OPT_LO, 0, 0, NULL, "global gradient-norm clip (0 = off)",
     0},
    {"width", OPT_INT, C(width), "64", OPT_LO, 2, 0, NULL, "small model width D", 0},
    {"max-train", OPT_I64, C(max_train), "0", OPT_LO, 0, 0, NULL,
     "use the first N training samples (0 = all)", 0},
    {"max-test", OPT_I64, C(max_test), "0", OPT_LO, 0, 0, NULL,
     "use the first N test samples (0 = all)", 0},
    {"eval-every", OPT_INT, C(eval_every), "1", OPT_LO, 1, 0, NULL, "evaluate every N rounds",
     NEUTRAL},
    {"ckpt-every", OPT_INT, C(ckpt_every), "1", OPT_LO, 1, 0, NULL,
     "checkpoint every N rounds (and at the end and on a signal)", NEUTRAL},
    {"ckpt-keep", OPT_INT, C(ckpt_keep), "3", OPT_LO, 1, 0, NULL, "checkpoints kept", NEUTRAL},
    {"log-level", OPT_CHOICE, C(log_level), "info", 0, 0, 0, "error|warn|info|debug",
     "log verbosity", NEUTRAL},
    {"scenario.alpha", OPT_STRING, C(scn_alpha), "", 0, 0, 0, NULL,
     "override: Dirichlet label-skew alpha (> 0)", 0},
    {"scenario.missing", OPT_STRING, C(scn_missing), "", 0, 0, 0, NULL,
     "override: per-sample missing rate per modality, in [0, 1]", 0},
    {"scenario.cross", OPT_STRING, C(scn_cross), "", 0, 0, 0, NULL,
     "override: cross-modal party split, e.g. 3:7", 0},
    {"scenario.hybrid_p", OPT_STRING, C(scn_hybrid_p), "", 0, 0, 0, NULL,
     "override: per-party modality presence p, in [0, 1]", 0},
    {"scenario.overlap", OPT_STRING, C(scn_overlap), "", 0, 0, 0, NULL,
     "override: fraction of entities split across parties by modality", 0},
    {"scenario.quantity", OPT_STRING, C(scn_quantity), "", 0, 0, 0, NULL,
     "override: quantity skew (party sizes ~ Dirichlet(q); 0 = off)", 0},
    {"scenario.min_per_label", OPT_STRING, C(scn_min_per_label), "", 0, 0, 0, NULL,
     "override: minimum samples per party and label", 0},
};
#define N_CORE ((int)(sizeof core_opts / sizeof core_opts[0]))
#define MAX_OPTS (N_CORE + 32)

const OptSpec *config_table(const char *method, int *n) {
    static OptSpec table[MAX_OPTS];
    memcpy(table, core_opts, sizeof core_opts);
    *n = N_CORE;
    const FlMethod *m = method ? method_find(method) : NULL;
    for (int i = 0; m && i < m->n_opts && *n < MAX_OPTS; i++)
        table[(*n)++] = m->opts[i];
    return table;
}

// An unknown key that another method defines: say so.
static void explain_foreign_key(const char *method, const char *err_in, char *err, size_t cap) {
    for (int i = 0; i < fl_n_methods; i++) {
        const FlMethod *m = fl_methods[i];
        for (int j = 0; j < m->n_opts; j++) {
            char quoted[96];
            snprintf(quoted, sizeof quoted, "'%s'", m->opts[j].key);
            if (strstr(err_in, quoted)) {
                char copy[512];
                snprintf(copy, sizeof copy, "%s", err_in);
                snprintf(err, cap, "%s; it belongs to --method=%s, this run has --method=%s", copy,
                         m->name, method);
                return;
            }
        }
    }
}

int config_parse(Config *cfg, int argc, char **argv, char *err, size_t cap) {
    char method[OPT_STR_MAX] = "fedavg", names[512];
    opts_prescan(argc, argv, "method", method, sizeof method);
    memset(cfg, 0, sizeof *cfg);
    int n;
    const OptSpec *table = config_table(method, &n);
    int rc = opts_parse(table, n, cfg, argc, argv, err, cap);
    if (rc == OPT_ERR_UNKNOWN_KEY) explain_foreign_key(method, err, err, cap);
    if (rc != OPT_OK) return rc;
    if (!method_find(cfg->method)) {
        method_names(names, sizeof names);
        snprintf(err, cap, "--method=%s: unknown method; expected one of %s", cfg->method, names);
        return OPT_ERR_BAD_VALUE;
    }
    return OPT_OK;
}

void config_print_help(FILE *f) {
    int n;
    const OptSpec *table = config_table(NULL, &n);
    opts_print_help(table, n, f,
                    "usage: mpirun -np R build/bin/mmcollab [--config=FILE] [--key=value ...]\n"
                    "Rank 0 is the cloud; ranks 1..R-1 host contiguous blocks of parties.\n"
                    "Exit codes: 0 done, 1 error, 3 stopped on a signal or --stop-after with a "
                    "checkpoint written (requeue and resume with --resume=auto).");
    fprintf(f, "\nMethods:\n");
    for (int i = 0; i < fl_n_methods; i++) {
        const FlMethod *m = fl_methods[i];
        fprintf(f, "  %-12s %s [%s]\n", m->name, m->summary, m->provenance);
        for (int j = 0; j < m->n_opts; j++)
            fprintf(f, "      --%s=<%s> %s [default: %s]\n", m->opts[j].key,
                    m->opts[j].type == OPT_DOUBLE ? "number" : "value", m->opts[j].help,
                    m->opts[j].def);
    }
}
