// config.h - the options of build/bin/mmcollab (docs/conventions.md §12): the core table, the
// scenario overrides, and the chosen method's and model kind's own options, each a typed struct.
// One option set drives the parser, --help, the startup table, run.h5's /config, the checkpoint
// comparison and the broadcast to the other ranks (as text that parses back to the same bits).
//
// The method and model registries are passed in (cli knows no method or model): each entry is an
// OptGroup (name, summary, options over its own struct of `size` bytes).
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "cli/security.h"
#include "core/options.h"
#include "data/scenario.h"

typedef struct Config {
    char config[OPT_STR_MAX], out[OPT_STR_MAX], method[OPT_STR_MAX], model[OPT_STR_MAX];
    char data[OPT_STR_MAX], scenario[OPT_STR_MAX], resume[OPT_STR_MAX], optimizer[OPT_STR_MAX];
    char log_level[OPT_STR_MAX], trainable[OPT_STR_MAX], eval_split[OPT_STR_MAX];
    char lr_schedule[OPT_STR_MAX], prox[OPT_STR_MAX];
    int parties, rounds, stop_after, local_epochs, batch_size, width, sample;
    int ckpt_every, ckpt_keep, eval_every, blas_threads;
    int data_unverified; // --data-unverified: a --data file without a digest file is read
    int64_t seed, max_train, max_test;
    // Each stream's seed (--seed.split, .init, .train, .sample); -1 = --seed (config_seed).
    int64_t seed_split, seed_init, seed_train, seed_sample;
    double lr, momentum, weight_decay, clip, party_dropout, val_fraction, public_fraction;
    double adam_beta2, warmup;
    double term_grace;           // --term-grace: seconds from SIGTERM to exit 3 (fl/signals.h)
    double prox_mu, prox_weight; // --prox.mu, --prox.weight
    int prox_free;               // --prox.free
    ScenarioOverrides scn;       // --scenario.<key>
    SecurityOpts sec;            // the federation's defences (cli/security.h)
} Config;

// The seed of one random stream: its override when set (>= 0), else --seed.
static inline uint64_t config_seed(const Config *c, int64_t stream_seed) {
    return (uint64_t)(stream_seed >= 0 ? stream_seed : c->seed);
}

// The groups one selector key (--method, --model) chooses from.
typedef struct {
    const OptGroup *const *group;
    int n;
} OptRegistry;

// A parsed run: the core options and the chosen groups with their typed option structs.
typedef struct {
    Config c;
    const OptGroup *method, *model; // borrowed from the registries
    void *method_opts, *model_opts; // owned: method->size and model->size bytes (NULL when 0)
} RunConfig;

// The option set of rc: core, scenario overrides, the method's, the model's (pointing into rc).
void run_config_optset(const RunConfig *rc, OptSet *s);
// Defaults, the --config file, the command line; the method and model are taken from either first
// so that their options are known. Then the rules between options (docs/options.md): --out not
// empty and not /, --sample <= --parties, validation rows for --eval-split=validation,
// --trainable's syntax, a known --scenario preset with valid overrides, and the chosen method's
// and model kind's validate. Returns OPT_OK, OPT_HELP, or an error with a one-line message naming
// the key, the value, its origin and what was expected (also for an unknown method or model, or a
// key that belongs to another method). On OPT_OK rc is set (run_config_free); else rc is left
// freed. Touches no file but the --config one. Local.
int config_parse(RunConfig *rc, const OptRegistry *methods, const OptRegistry *models, int argc,
                 char **argv, char *err, size_t cap);
// The files rc's options name (OPT_FILE: --data, --mllm.base) exist and are regular files:
// OPT_OK, or OPT_ERR_FILE naming the option and the path. Separate from config_parse, whose
// callers may parse defaults without the data (calibrate, tests); mmcollab's rank 0 calls both
// before broadcasting the verdict. Local.
int config_check_files(const RunConfig *rc, char *err, size_t cap);
// Every option of rc as "key=value" lines (malloc'd; free): what config_read_text reads back to
// the same bits.
char *config_text(const RunConfig *rc);
// rc from such text (origin names it in messages): the same checks as config_parse. Local.
int config_read_text(RunConfig *rc, const OptRegistry *methods, const OptRegistry *models,
                     const char *text, const char *origin, char *err, size_t cap);
void run_config_free(RunConfig *rc);
// --help: the core options, the scenario overrides, every method's and model kind's options.
void config_print_help(FILE *f, const OptRegistry *methods, const OptRegistry *models);
