// config.c - the mmcollab option table, its parse, its text form and --help (see config.h).
#include "cli/config.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define C(f) offsetof(Config, f)
#define NEUTRAL OPT_RESUME_NEUTRAL

static const OptSpec core_opts[] = {
    {"config", OPT_STRING, C(config), "", 0, 0, 0, NULL,
     "file of 'key = value' lines ([section] prefixes keys); the command line overrides it",
     NEUTRAL},
    {"out", OPT_STRING, C(out), "runs/demo", 0, 0, 0, NULL,
     "run directory: run.h5, metrics.csv, ckpt/ (not empty, not /)", NEUTRAL},
    {"method", OPT_STRING, C(method), "fedavg", 0, 0, 0, NULL, "collaboration method (see below)",
     0},
    {"model", OPT_STRING, C(model), "party", 0, 0, 0, NULL, "the parties' model kind (see below)",
     0},
    {"trainable", OPT_STRING, C(trainable), "", 0, 0, 0, NULL,
     "the tensors parties train and exchange: \"\" = the model's default trainable ones, all, or "
     "comma-separated tensor-name prefixes (e.g. head,fuse); the others stay as initialised",
     0},
    {"data", OPT_STRING, C(data), "data/avfmnist_small.h5", 0, 0, 0, NULL,
     "dataset file (datasets/README.md; make data builds them); must exist", OPT_FILE},
    {"data-unverified", OPT_BOOL, C(data_unverified), "false", 0, 0, 0, NULL,
     "read a --data file that has no digest file (FILE.sha256) unchecked, every size bounded (a "
     "digest that does not match is refused all the same)",
     NEUTRAL},
    {"scenario", OPT_STRING, C(scenario), "bomm-random", 0, 0, 0, NULL,
     "heterogeneity preset (datasets/README.md, Scenarios)", 0},
    {"parties", OPT_INT, C(parties), "4", OPT_LO | OPT_HI, 1, 100000, NULL,
     "number of parties (at most the training rows)", 0},
    {"sample", OPT_INT, C(sample), "0", OPT_LO | OPT_HI, 0, 100000, NULL,
     "parties sampled per round, the same set at any -np and on resume (0 = every party; at most "
     "--parties)",
     0},
    {"party-dropout", OPT_DOUBLE, C(party_dropout), "0", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "probability that a sampled party's update never arrives (it trains, then drops out)", 0},
    {"rounds", OPT_INT, C(rounds), "6", OPT_LO | OPT_HI, 1, 1000000, NULL, "communication rounds",
     NEUTRAL},
    {"seed", OPT_I64, C(seed), "1", OPT_LO, 0, 0, NULL,
     "seed of every random stream the --seed.<stream> options leave at -1", 0},
    {"seed.split", OPT_I64, C(seed_split), "-1", OPT_LO, -1, 0, NULL,
     "seed of the scenario's partition: rows, labels and modality masks per party (-1 = --seed)",
     0},
    {"seed.init", OPT_I64, C(seed_init), "-1", OPT_LO, -1, 0, NULL,
     "seed of parameter initialisation, the parties' and the cloud's models (-1 = --seed)", 0},
    {"seed.train", OPT_I64, C(seed_train), "-1", OPT_LO, -1, 0, NULL,
     "seed of training: batch order, dropout, rows selected for upload (-1 = --seed)", 0},
    {"seed.sample", OPT_I64, C(seed_sample), "-1", OPT_LO, -1, 0, NULL,
     "seed of the round's parties (--sample) and of party dropout (-1 = --seed)", 0},
    {"resume", OPT_CHOICE, C(resume), "never", 0, 0, 0, "never|auto|fresh-if-none",
     "auto: continue from the newest valid checkpoint in <out>/ckpt (start at round 0 when there "
     "is none; refuse when there are checkpoints but none is usable); fresh-if-none: as auto, but "
     "start again from round 0 when none is usable (keeping them as *.damaged)",
     NEUTRAL},
    {"stop-after", OPT_INT, C(stop_after), "0", OPT_LO | OPT_HI, 0, 1000000, NULL,
     "checkpoint and exit with code 3 after this round, as on SIGUSR1 (0 = off; tests)", NEUTRAL},
    {"term-grace", OPT_DOUBLE, C(term_grace), "0.5", OPT_LO | OPT_HI, 0, 86400, NULL,
     "seconds a rank waits after SIGTERM for the round to end (then its checkpoint, exit 3) "
     "before it exits 3 at once, resuming from the last checkpoint: mpirun kills 1 s after its "
     "TERM reaches the ranks (docs/signals.md)",
     NEUTRAL},
    {"local-epochs", OPT_INT, C(local_epochs), "1", OPT_LO | OPT_HI, 1, 10000, NULL,
     "passes over its data per party and round", 0},
    {"batch-size", OPT_INT, C(batch_size), "32", OPT_LO | OPT_HI, 1, 65536, NULL,
     "minibatch size (the work buffers of every rank are sized for it)", 0},
    {"lr", OPT_DOUBLE, C(lr), "0.001", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10, NULL, "learning rate",
     0},
    {"optimizer", OPT_CHOICE, C(optimizer), "adamw", 0, 0, 0, "adamw|sgd",
     "party optimizer (state reset every round for federated methods)", 0},
    {"adam-beta2", OPT_DOUBLE, C(adam_beta2), "0.999", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "AdamW's beta2 (FedMLLM: 0.95)", 0},
    {"lr-schedule", OPT_CHOICE, C(lr_schedule), "constant", 0, 0, 0, "constant|cosine",
     "cosine: the round's peak rate follows a cosine over the rounds with linear warm-up, and "
     "within each party's local training a cosine over its steps with the same warm-up share "
     "(FedMLLM's schedule)",
     0},
    {"warmup", OPT_DOUBLE, C(warmup), "0.01", OPT_LO | OPT_HI, 0, 1, NULL,
     "share of the rounds (and of a party's steps) of linear warm-up under --lr-schedule=cosine",
     0},
    {"prox", OPT_CHOICE, C(prox), "off", 0, 0, 0, "off|all|adaptive",
     "a proximal term (prox.mu/2)(prox.weight)|w - w_global|^2 added to any method's local loss: "
     "all = on every trainable tensor; adaptive = FedMLLM's layer-selective one, only on tensors "
     "of the language model's layers prox.free .. L-1-prox.free",
     0},
    {"prox.mu", OPT_DOUBLE, C(prox_mu), "0.01", OPT_LO | OPT_HI, 0, 10000, NULL,
     "proximal weight mu", 0},
    {"prox.weight", OPT_DOUBLE, C(prox_weight), "0.1", OPT_LO | OPT_HI, 0, 10000, NULL,
     "extra factor mu_w of the proximal term (FedMLLM's adaptive: 0.1)", 0},
    {"prox.free", OPT_INT, C(prox_free), "1", OPT_LO | OPT_HI, 0, 1000, NULL,
     "adaptive: the first and last prox.free layers stay unregularised", 0},
    {"momentum", OPT_DOUBLE, C(momentum), "0.9", OPT_LO | OPT_HI, 0, 1, NULL, "SGD momentum", 0},
    {"weight-decay", OPT_DOUBLE, C(weight_decay), "0", OPT_LO | OPT_HI, 0, 10, NULL,
     "decoupled weight decay", 0},
    {"clip", OPT_DOUBLE, C(clip), "5", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "global gradient-norm clip (0 = off)", 0},
    {"width", OPT_INT, C(width), "64", OPT_LO | OPT_HI, 2, 4096, NULL, "the parties' model width D",
     0},
    {"val-fraction", OPT_DOUBLE, C(val_fraction), "0.1", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "share of the train split's entities held out for validation (never trained on; the same "
     "rows for every seed)",
     0},
    {"public-fraction", OPT_DOUBLE, C(public_fraction), "0", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1,
     NULL,
     "share of the remaining train entities held out as public data no party holds (a base "
     "model's pre-training data: pass the value it was built with)",
     0},
    {"eval-split", OPT_CHOICE, C(eval_split), "test", 0, 0, 0, "test|validation",
     "the rows every evaluation series reads: tune on validation, report test", 0},
    {"max-train", OPT_I64, C(max_train), "0", OPT_LO, 0, 0, NULL,
     "use the first N training samples (0 = all)", 0},
    {"max-test", OPT_I64, C(max_test), "0", OPT_LO, 0, 0, NULL,
     "use the first N evaluation samples (test or validation; 0 = all)", 0},
    {"eval-every", OPT_INT, C(eval_every), "1", OPT_LO | OPT_HI, 1, 1000000, NULL,
     "evaluate every N rounds", NEUTRAL},
    {"ckpt-every", OPT_INT, C(ckpt_every), "1", OPT_LO | OPT_HI, 1, 1000000, NULL,
     "checkpoint every N rounds (and at the end and on a signal)", NEUTRAL},
    {"ckpt-keep", OPT_INT, C(ckpt_keep), "3", OPT_LO | OPT_HI, 1, 1000, NULL, "checkpoints kept",
     NEUTRAL},
    {"blas-threads", OPT_INT, C(blas_threads), "1", OPT_LO | OPT_HI, 1, 1024, NULL,
     "OpenBLAS threads per rank, set before any BLAS call whatever OPENBLAS_NUM_THREADS says (the "
     "thread count can change sums' order; a resume under another count warns)",
     NEUTRAL},
    {"log-level", OPT_CHOICE, C(log_level), "info", 0, 0, 0, "error|warn|info|debug",
     "log verbosity", NEUTRAL},
};
#define N_CORE ((int)(sizeof core_opts / sizeof core_opts[0]))

static const OptGroup *find_group(const OptRegistry *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->group[i]->name, name)) return r->group[i];
    return NULL;
}

static void group_names(const OptRegistry *r, char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < r->n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", r->group[i]->name);
        used += w > 0 ? (size_t)w : 0;
    }
}

void run_config_optset(const RunConfig *rc, OptSet *s) {
    memset(s, 0, sizeof *s);
    optset_add(s, core_opts, N_CORE, (void *)&rc->c);
    optset_add(s, scenario_override_opts, scenario_n_override_opts, (void *)&rc->c.scn);
    optset_add(s, security_opts, security_n_opts, (void *)&rc->c.sec);
    if (rc->method && rc->method->n_opts)
        optset_add(s, rc->method->opts, rc->method->n_opts, rc->method_opts);
    if (rc->model && rc->model->n_opts)
        optset_add(s, rc->model->opts, rc->model->n_opts, rc->model_opts);
}

void run_config_free(RunConfig *rc) {
    xfree(rc->method_opts), xfree(rc->model_opts);
    memset(rc, 0, sizeof *rc);
}

// Chooses the groups by name and allocates their option structs. OPT_OK or an error naming the
// registry's entries.
static int choose(RunConfig *rc, const OptRegistry *methods, const OptRegistry *models,
                  const char *method, const char *model, char *err, size_t cap) {
    char names[1024];
    memset(rc, 0, sizeof *rc);
    rc->method = find_group(methods, method);
    rc->model = find_group(models, model);
    if (!rc->method || !rc->model) {
        const OptRegistry *r = rc->method ? models : methods;
        group_names(r, names, sizeof names);
        snprintf(err, cap, "--%s=%s: unknown %s; expected one of %s",
                 rc->method ? "model" : "method", rc->method ? model : method,
                 rc->method ? "model kind" : "method", names);
        return OPT_ERR_BAD_VALUE;
    }
    rc->method_opts = rc->method->size ? xcalloc(1, rc->method->size) : NULL;
    rc->model_opts = rc->model->size ? xcalloc(1, rc->model->size) : NULL;
    return OPT_OK;
}

// An unknown key that another method or model kind defines: say so.
static void explain_foreign_key(const OptRegistry *r, const char *what, const char *chosen,
                                char *err, size_t cap) {
    for (int i = 0; i < r->n; i++) {
        const OptGroup *g = r->group[i];
        for (int j = 0; j < g->n_opts; j++) {
            char quoted[96];
            snprintf(quoted, sizeof quoted, "'%s'", g->opts[j].key);
            if (strstr(err, quoted)) {
                char copy[512];
                snprintf(copy, sizeof copy, "%s", err);
                snprintf(err, cap, "%s; it belongs to --%s=%s, this run has --%s=%s", copy, what,
                         g->name, what, chosen);
                return;
            }
        }
    }
}

// --trainable: "", "all" or comma-separated non-empty prefixes (the names are checked against the
// model when it is built).
static int trainable_ok(const char *v) {
    if (!v[0]) return 1;
    for (const char *p = v;; p++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0) return 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] == ' ' || p[i] == '\t') return 0;
        if (!comma) return 1;
        p = comma;
    }
}

// The rules between the core options (docs/options.md), then the chosen groups' own.
static int validate(const RunConfig *rc, const OptSet *s, char *err, size_t cap) {
    const Config *c = &rc->c;
    if (!c->out[0]) {
        snprintf(err, cap,
                 "--out=: the run directory is empty (an unset shell variable?); "
                 "refusing to write the run into /ckpt, /run.h5 and /metrics.csv");
        return OPT_ERR_BAD_VALUE;
    }
    if (strspn(c->out, "/") == strlen(c->out)) {
        snprintf(err, cap,
                 "--out=%s: the run directory is the root directory; name a directory "
                 "of its own",
                 c->out);
        return OPT_ERR_BAD_VALUE;
    }
    if (c->sample > c->parties) {
        snprintf(err, cap, "--sample=%d exceeds --parties=%d", c->sample, c->parties);
        return OPT_ERR_BAD_VALUE;
    }
    if (!strcmp(c->eval_split, "validation") && c->val_fraction <= 0) {
        snprintf(err, cap,
                 "--eval-split=validation with --val-fraction=%g: there are no "
                 "validation rows; give --val-fraction > 0",
                 c->val_fraction);
        return OPT_ERR_BAD_VALUE;
    }
    if (!trainable_ok(c->trainable)) {
        snprintf(err, cap,
                 "--trainable=%s: expected \"\", all, or comma-separated tensor-name "
                 "prefixes without spaces or empty items",
                 c->trainable);
        return OPT_ERR_BAD_VALUE;
    }
    if (scenario_overrides_check(c->scenario, &c->scn, c->parties, 0, err, cap) != 0)
        return OPT_ERR_BAD_VALUE;
    int code = security_check(&c->sec, c->parties, c->sample, err, cap);
    if (code != OPT_OK) return code;
    if (rc->method->validate) {
        code = rc->method->validate(rc->method_opts, s, err, cap);
        if (code != OPT_OK) return code;
    }
    if (rc->model->validate) return rc->model->validate(rc->model_opts, s, err, cap);
    return OPT_OK;
}

static int finish(RunConfig *rc, const OptRegistry *methods, const OptRegistry *models, int rc_in,
                  char *err, size_t cap) {
    if (rc_in == OPT_OK) {
        OptSet s;
        run_config_optset(rc, &s);
        rc_in = validate(rc, &s, err, cap);
    }
    if (rc_in == OPT_ERR_UNKNOWN_KEY) {
        explain_foreign_key(methods, "method", rc->method->name, err, cap);
        explain_foreign_key(models, "model", rc->model->name, err, cap);
    }
    if (rc_in != OPT_OK) run_config_free(rc);
    return rc_in;
}

int config_parse(RunConfig *rc, const OptRegistry *methods, const OptRegistry *models, int argc,
                 char **argv, char *err, size_t cap) {
    char method[OPT_STR_MAX] = "fedavg", model[OPT_STR_MAX] = "party";
    opts_prescan(argc, argv, "method", method, sizeof method);
    opts_prescan(argc, argv, "model", model, sizeof model);
    int rc_code = choose(rc, methods, models, method, model, err, cap);
    if (rc_code != OPT_OK) {
        for (int i = 1; i < argc; i++) // --help works whatever else is wrong
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return OPT_HELP;
        return rc_code;
    }
    OptSet s;
    run_config_optset(rc, &s);
    return finish(rc, methods, models, optset_parse(&s, argc, argv, err, cap), err, cap);
}

int config_check_files(const RunConfig *rc, char *err, size_t cap) {
    OptSet s;
    run_config_optset(rc, &s);
    return optset_check_files(&s, err, cap);
}

char *config_text(const RunConfig *rc) {
    OptSet s;
    run_config_optset(rc, &s);
    return optset_serialize(&s);
}

// The value of `key=` in text's lines into out; 0 when absent.
// The last one: later lines win when the text is applied, so the option tables chosen from this
// value are those of the value the text ends with.
static int text_value(const char *text, const char *key, char *out, size_t cap) {
    size_t k = strlen(key);
    int found = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > k && !strncmp(p, key, k) && p[k] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - k - 1), p + k + 1);
            found = 1;
        }
        p += len + (nl ? 1 : 0);
    }
    return found;
}

int config_read_text(RunConfig *rc, const OptRegistry *methods, const OptRegistry *models,
                     const char *text, const char *origin, char *err, size_t cap) {
    char method[OPT_STR_MAX] = "fedavg", model[OPT_STR_MAX] = "party";
    text_value(text, "method", method, sizeof method);
    text_value(text, "model", model, sizeof model);
    int code = choose(rc, methods, models, method, model, err, cap);
    if (code != OPT_OK) return code;
    OptSet s;
    run_config_optset(rc, &s);
    code = optset_defaults(&s, err, cap);
    char *copy = xmalloc(strlen(text) + 1);
    memcpy(copy, text, strlen(text) + 1);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line && code == OPT_OK;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, cap, "%s: '%s': expected key=value", origin, line);
            code = OPT_ERR_SYNTAX;
            break;
        }
        *eq = 0;
        code = optset_set(&s, line, eq + 1, origin, err, cap);
    }
    xfree(copy);
    return finish(rc, methods, models, code, err, cap);
}

static void print_groups(FILE *f, const char *title, const char *key, const OptRegistry *r) {
    fprintf(f, "\n%s (--%s=<name>):\n", title, key);
    for (int i = 0; i < r->n; i++) {
        const OptGroup *g = r->group[i];
        fprintf(f, "  %-12s %s", g->name, g->summary);
        if (g->provenance) fprintf(f, " [%s]", g->provenance);
        fprintf(f, "\n");
        for (int j = 0; j < g->n_opts; j++) {
            const OptSpec *o = &g->opts[j];
            char rng[96];
            opts_range_text(o, rng, sizeof rng);
            fprintf(f, "      --%s=<%s> %s [default: %s%s%s]\n", o->key,
                    o->type == OPT_CHOICE ? o->choices : opts_type_name(o->type), o->help,
                    o->def[0] ? o->def : "\"\"", rng[0] ? "; " : "", rng);
        }
    }
}

void config_print_help(FILE *f, const OptRegistry *methods, const OptRegistry *models) {
    opts_print_help(core_opts, N_CORE, f,
                    "usage: mpirun -np R build/bin/mmcollab [--config=FILE] [--key=value ...]\n"
                    "Rank 0 is the cloud; ranks 1..R-1 host contiguous blocks of parties.\n"
                    "Exit codes: 0 done, 1 error, 2 bad options or input files (found before "
                    "anything is written), 3 stopped by a signal or --stop-after at a checkpoint "
                    "(requeue and resume with --resume=auto; docs/signals.md).");
    fprintf(f, "\nScenario overrides (\"\" keeps the preset's value):\n");
    opts_print_help(scenario_override_opts, scenario_n_override_opts, f, NULL);
    fprintf(f, "\nDefences of the federation (docs/security.md):\n");
    opts_print_help(security_opts, security_n_opts, f, NULL);
    print_groups(f, "Methods", "method", methods);
    print_groups(f, "Model kinds", "model", models);
}
