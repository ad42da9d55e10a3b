// config.h - the options of build/bin/mmcollab: one table (config.c) drives the parser, --help, the
// startup table, the run file's /config attributes and the checkpoint comparison (STYLE.md 9.12).
#pragma once
#include <stdint.h>

#include "cli/options.h"

typedef struct Config {
    char config[OPT_STR_MAX], out[OPT_STR_MAX], method[OPT_STR_MAX], data[OPT_STR_MAX];
    char scenario[OPT_STR_MAX], resume[OPT_STR_MAX], optimizer[OPT_STR_MAX];
    char log_level[OPT_STR_MAX];
    int parties, rounds, stop_after, local_epochs, batch_size, width;
    int ckpt_every, ckpt_keep, eval_every;
    int64_t seed, max_train, max_test;
    double lr, momentum, weight_decay, clip;
    // Scenario overrides, as text for scenario_config_set; "" keeps the preset's value.
    char scn_alpha[OPT_STR_MAX], scn_missing[OPT_STR_MAX], scn_cross[OPT_STR_MAX];
    char scn_hybrid_p[OPT_STR_MAX], scn_overlap[OPT_STR_MAX], scn_quantity[OPT_STR_MAX];
    char scn_min_per_label[OPT_STR_MAX];
    // The selected method's options (methods/method.h METHOD_OPT); 8-byte aligned.
    _Alignas(8) unsigned char method_opts[1024];
} Config;

// The option table for a method: the core options followed by that method's own. Borrowed (static
// storage, rebuilt per call). *n set.
const OptSpec *config_table(const char *method, int *n);

// Defaults, the --config file, the command line; the method is taken from either before parsing so
// that its options are known. Returns OPT_OK, OPT_HELP, or an error with a one-line message naming
// the key, the value, its origin and what was expected (also for an unknown method, or a key that
// belongs to another method). Local.
int config_parse(Config *cfg, int argc, char **argv, char *err, size_t cap);
// --help text for every method's options too.
void config_print_help(FILE *f);
