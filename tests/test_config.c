// test_config.c - mmcollab's options: defaults run the demo, a method's options exist only with
// that method (and a foreign one is explained), an unknown method or model lists the registry, the
// bad values the issue names (scenario overrides included) are refused by key, every method's and
// model kind's options round-trip through a config file and through the text the ranks receive,
// and every registered method keeps the unit-level contract of its protocol. Every option of every
// table (core, scenario overrides, every method's and model kind's) has a range and refuses bad
// values by key; the rules between options and the files options name are checked when parsing.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "fl/run.h"
#include "methods/method.h"
#include "protocols/fedavg.h"
#include "protocols/repr.h"

static int parse(RunConfig *rc, char *err, int argc, char **argv) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    return config_parse(rc, &methods, &models, argc, argv, err, 512);
}

// The text value of key in rc (fails the test when the key is unknown).
static void value_of(const RunConfig *rc, const char *key, char *out, size_t cap) {
    OptSet s;
    void *base;
    run_config_optset(rc, &s);
    const OptSpec *o = optset_find(&s, key, &base);
    ck_assert_msg(o != NULL, "no option %s", key);
    opts_format(o, base, out, cap);
}

START_TEST(test_defaults_are_the_demo_run) {
    RunConfig rc;
    char err[512] = "";
    ck_assert_msg(parse(&rc, err, 1, (char *[]){"mmcollab"}) == OPT_OK, "%s", err);
    ck_assert_str_eq(rc.c.method, "fedavg");
    ck_assert_str_eq(rc.c.model, "party");
    ck_assert_str_eq(rc.c.out, "runs/demo");
    ck_assert_int_eq(rc.c.parties, 4);
    ck_assert_int_eq(rc.c.sample, 0);
    ck_assert_str_eq(rc.c.resume, "never");
    ck_assert(isnan(rc.c.scn.alpha) && rc.c.scn.cross[0] == 0); // overrides unset
    run_config_free(&rc);
}
END_TEST

START_TEST(test_method_options_follow_the_method) {
    RunConfig rc;
    char err[512] = "", v[64];
    ck_assert_int_eq(parse(&rc, err, 3, (char *[]){"m", "--method=fedprox", "--fedprox.mu=0.5"}),
                     OPT_OK);
    value_of(&rc, "fedprox.mu", v, sizeof v);
    ck_assert_str_eq(v, "0.5");
    run_config_free(&rc);
    ck_assert_int_eq(parse(&rc, err, 2, (char *[]){"m", "--fedprox.mu=0.5"}), OPT_ERR_UNKNOWN_KEY);
    ck_assert_msg(strstr(err, "belongs to --method=fedprox") && strstr(err, "--method=fedavg"),
                  "%s", err);
    ck_assert_int_eq(parse(&rc, err, 2, (char *[]){"m", "--transformer.layers=3"}),
                     OPT_ERR_UNKNOWN_KEY);
    ck_assert_msg(strstr(err, "belongs to --model=transformer"), "%s", err);
}
END_TEST

START_TEST(test_bad_method_and_values_are_named) {
    RunConfig rc;
    char err[512] = "";
    ck_assert_int_eq(parse(&rc, err, 2, (char *[]){"m", "--method=fedsgd"}), OPT_ERR_BAD_VALUE);
    ck_assert_msg(strstr(err, "fedsgd") && strstr(err, "fedavg") && strstr(err, "local"), "%s",
                  err);
    ck_assert_int_eq(parse(&rc, err, 2, (char *[]){"m", "--model=cnn"}), OPT_ERR_BAD_VALUE);
    ck_assert_msg(strstr(err, "cnn") && strstr(err, "party") && strstr(err, "transformer"), "%s",
                  err);
    const char *bad[] = {"--rounds=-1",
                         "--parties=0",
                         "--lr=0",
                         "--momentum=1.5",
                         "--resume=sometimes",
                         "--batch-size=0",
                         "--party-dropout=1",
                         "--scenario.alpha=0",
                         "--scenario.missing=1.5",
                         "--scenario.cross=3:x",
                         "--scenario.min_per_label=-2",
                         "--scenario.overlap=nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char key[40];
        ck_assert_int_eq(parse(&rc, err, 2, (char *[]){"m", (char *)bad[i]}), OPT_ERR_BAD_VALUE);
        snprintf(key, sizeof key, "%.*s", (int)(strchr(bad[i], '=') - bad[i]), bad[i]);
        ck_assert_msg(strstr(err, key), "'%s' not named in: %s", key, err);
    }
}
END_TEST

// A valid value of o other than its default (the option's round trip must move something).
static void other_value(const OptSpec *o, char *buf, size_t cap) {
    double d = o->def[0] ? strtod(o->def, NULL) : 0;
    switch (o->type) {
    case OPT_BOOL:
        snprintf(buf, cap, "%s", !strcmp(o->def, "true") ? "false" : "true");
        break;
    case OPT_INT:
    case OPT_I64: { // doubled: keeps a multiple a multiple (bomm.mm-width of bomm.mm-heads)
        long long v = d ? 2 * (long long)d : 1;
        if ((o->range & OPT_HI) && v > o->hi) v = (long long)d - 1;
        snprintf(buf, cap, "%lld", v);
        break;
    }
    case OPT_DOUBLE:
        snprintf(buf, cap, "%.17g",
                 (o->range & OPT_HI) ? (o->lo + o->hi) / 2 + 1e-3 * (o->hi - o->lo)
                                     : d * 2 + 0.125);
        break;
    case OPT_CHOICE:
        snprintf(buf, cap, "%s", strrchr(o->choices, '|') + 1);
        break;
    case OPT_RATIOS:
        snprintf(buf, cap, "1:2");
        break;
    case OPT_STRING:
        snprintf(buf, cap, "x");
        break;
    }
}

// Every option of a group set on the command line, then through a config file and through the
// broadcast text: the same values, bit for bit.
static void round_trip(const char *selector, const OptGroup *g) {
    char args[64][OPT_STR_MAX + 64], err[512], path[64], v[OPT_STR_MAX];
    char *argv[66] = {"m"};
    int argc = 1;
    snprintf(args[0], sizeof args[0], "--%s=%s", selector, g->name);
    argv[argc++] = args[0];
    ck_assert_int_le(g->n_opts, 62);
    for (int i = 0; i < g->n_opts; i++) {
        other_value(&g->opts[i], v, sizeof v);
        snprintf(args[i + 1], sizeof args[i + 1], "--%s=%s", g->opts[i].key, v);
        argv[argc++] = args[i + 1];
    }
    RunConfig a, b, c;
    ck_assert_msg(parse(&a, err, argc, argv) == OPT_OK, "%s %s: %s", selector, g->name, err);
    char *text = config_text(&a);
    snprintf(path, sizeof path, "/tmp/mmc_cfg_%d.cfg", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (char *line = text; *line;) { // "key=value" lines as "key = value"
        char *eq = strchr(line, '='), *nl = strchr(line, '\n');
        fprintf(f, "%.*s = %.*s\n", (int)(eq - line), line, (int)(nl - eq - 1), eq + 1);
        line = nl + 1;
    }
    fclose(f);
    char cfgarg[96];
    snprintf(cfgarg, sizeof cfgarg, "--config=%s", path);
    ck_assert_msg(parse(&b, err, 2, (char *[]){"m", cfgarg}) == OPT_OK, "%s: %s", g->name, err);
    unlink(path);
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    ck_assert_msg(config_read_text(&c, &methods, &models, text, "text", err, sizeof err) == OPT_OK,
                  "%s: %s", g->name, err);
    OptSet sa, sb, sc;
    run_config_optset(&a, &sa), run_config_optset(&b, &sb), run_config_optset(&c, &sc);
    char keys[512];
    ck_assert_msg(optset_diff(&sa, &sb, OPT_RESUME_NEUTRAL, NULL, NULL, keys, sizeof keys) == 0,
                  "%s %s: the config file changed %s", selector, g->name, keys);
    ck_assert_msg(optset_diff(&sa, &sc, 0, NULL, NULL, keys, sizeof keys) == 0,
                  "%s %s: the text changed %s", selector, g->name, keys);
    free(text);
    run_config_free(&a), run_config_free(&b), run_config_free(&c);
}

START_TEST(test_every_method_and_model_option_round_trips_through_files_and_text) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    for (int i = 0; i < methods.n; i++)
        round_trip("method", methods.group[i]);
    for (int i = 0; i < models.n; i++)
        round_trip("model", models.group[i]);
}
END_TEST

// Numeric options without an upper bound, each with its reason (docs/options.md). Any other
// OPT_INT / OPT_I64 / OPT_DOUBLE must declare OPT_LO and OPT_HI: a new option without a range fails
// test_every_option_of_every_table_refuses_bad_values_by_key.
static const struct {
    const char *key, *reason;
} unbounded[] = {
    {"seed", "every non-negative int64 names a stream; nothing is sized by it"},
    {"seed.split", "a seed (-1 = --seed)"},
    {"seed.init", "a seed (-1 = --seed)"},
    {"seed.train", "a seed (-1 = --seed)"},
    {"seed.sample", "a seed (-1 = --seed)"},
    {"max-train", "a cap on rows: above the data's count it means all of them"},
    {"max-test", "a cap on rows: above the data's count it means all of them"},
};

static const char *unbounded_reason(const char *key) {
    for (size_t i = 0; i < sizeof unbounded / sizeof unbounded[0]; i++)
        if (!strcmp(unbounded[i].key, key)) return unbounded[i].reason;
    return NULL;
}

// "--selector=name --key=value" parses to OPT_ERR_BAD_VALUE naming the key; *n counts the cases.
// --config is read as a file before anything else: OPT_ERR_FILE naming the path.
static void expect_refused(const char *selector, const char *key, const char *value, int *n) {
    RunConfig rc;
    char err[512] = "", arg[OPT_STR_MAX + 400];
    snprintf(arg, sizeof arg, "--%s=%s", key, value);
    char *argv[3] = {"m", (char *)(selector ? selector : arg), arg};
    int code = parse(&rc, err, selector ? 3 : 2, argv), is_file = !strcmp(key, "config");
    ck_assert_msg(code == (is_file ? OPT_ERR_FILE : OPT_ERR_BAD_VALUE), "%s %s: returned %d (%s)",
                  selector ? selector : "", arg, code, err);
    char named[160], named2[160]; // "--key=value: ..." or "--key: ..."
    snprintf(named, sizeof named, is_file ? "%.40s" : "--%s=", is_file ? value : key);
    snprintf(named2, sizeof named2, "--%s:", key);
    ck_assert_msg(strstr(err, named) || strstr(err, named2), "%s: the message does not name %s: %s",
                  arg, named, err);
    (*n)++;
}

// Bad values for one option, from its type and range.
static int refuse_bad_values(const char *selector, const OptSpec *o) {
    int n = 0, number = o->type == OPT_INT || o->type == OPT_I64 || o->type == OPT_DOUBLE;
    char v[64];
    if (number) {
        ck_assert_msg((o->range & OPT_LO) && ((o->range & OPT_HI) || unbounded_reason(o->key)),
                      "--%s: no range: declare OPT_LO and OPT_HI (docs/options.md), or list it as "
                      "unbounded with a reason in this test",
                      o->key);
        expect_refused(selector, o->key, "abc", &n);
        expect_refused(selector, o->key, "1x", &n);
        if (!(o->flags & OPT_UNSET_OK)) expect_refused(selector, o->key, "", &n);
        // Just outside each bound: the bound itself when open, one step beyond when closed.
        double step = o->type == OPT_DOUBLE ? 1e-9 * (1 + fabs(o->lo)) : 1;
        snprintf(v, sizeof v, "%.17g", (o->range & OPT_LO_OPEN) ? o->lo : o->lo - step);
        expect_refused(selector, o->key, v, &n);
        if (o->range & OPT_HI) {
            step = o->type == OPT_DOUBLE ? 1e-9 * (1 + fabs(o->hi)) : 1;
            snprintf(v, sizeof v, "%.17g", (o->range & OPT_HI_OPEN) ? o->hi : o->hi + step);
            expect_refused(selector, o->key, v, &n);
        }
        if (o->type == OPT_DOUBLE) {
            expect_refused(selector, o->key, "nan", &n);
            expect_refused(selector, o->key, "inf", &n);
            expect_refused(selector, o->key, "-inf", &n);
            expect_refused(selector, o->key, "1e999", &n);
        } else {
            expect_refused(selector, o->key, "1.5", &n);
            expect_refused(selector, o->key, "99999999999999999999", &n);
        }
    } else if (o->type == OPT_BOOL) {
        expect_refused(selector, o->key, "maybe", &n);
        expect_refused(selector, o->key, "", &n);
    } else if (o->type == OPT_CHOICE) {
        expect_refused(selector, o->key, "not-a-choice", &n);
        if (!(o->flags & OPT_UNSET_OK)) expect_refused(selector, o->key, "", &n);
    } else if (o->type == OPT_RATIOS) {
        expect_refused(selector, o->key, "a:b", &n);
        expect_refused(selector, o->key, "-1:2", &n);
        expect_refused(selector, o->key, "nan:1", &n);
        expect_refused(selector, o->key, "1::2", &n);
    }
    // Any type: a value over OPT_STR_MAX characters.
    char longv[OPT_STR_MAX + 8];
    memset(longv, '7', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    expect_refused(selector, o->key, longv, &n);
    return n;
}

START_TEST(test_every_option_of_every_table_refuses_bad_values_by_key) {
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig rc;
    char err[512];
    ck_assert_int_eq(parse(&rc, err, 1, (char *[]){"m"}), OPT_OK);
    OptSet core;
    run_config_optset(&rc, &core); // core and scenario overrides (fedavg and party: no options)
    int cases = 0, options = 0;
    for (int t = 0; t < core.n; t++)
        for (int i = 0; i < core.t[t].n; i++, options++)
            cases += refuse_bad_values(NULL, &core.t[t].spec[i]);
    run_config_free(&rc);
    const OptRegistry *regs[2] = {&methods, &models};
    for (int r = 0; r < 2; r++)
        for (int g = 0; g < regs[r]->n; g++) {
            char sel[96];
            snprintf(sel, sizeof sel, "--%s=%s", r ? "model" : "method", regs[r]->group[g]->name);
            for (int i = 0; i < regs[r]->group[g]->n_opts; i++, options++)
                cases += refuse_bad_values(sel, &regs[r]->group[g]->opts[i]);
        }
    ck_assert_int_ge(options, 100);
    ck_assert_int_ge(cases, 6 * options);
    // Every unbounded entry names a real option (the list cannot go stale).
    for (size_t i = 0; i < sizeof unbounded / sizeof unbounded[0]; i++)
        ck_assert_msg(optset_find(&core, unbounded[i].key, NULL), "unbounded %s: no such option",
                      unbounded[i].key);
}
END_TEST

// The rules between options and the string options' own rules: refused when parsing, by key.
START_TEST(test_rules_between_options_are_checked_when_parsing) {
    const struct {
        const char *a, *b, *needle;
    } bad[] = {
        {"--out=", NULL, "--out=: the run directory is empty"},
        {"--out=/", NULL, "--out=/:"},
        {"--out=///", NULL, "--out=///:"},
        {"--sample=5", NULL, "--sample=5 exceeds --parties=4"},
        {"--scenario=bogus", NULL, "--scenario=bogus: unknown preset; expected one of iid"},
        {"--scenario.cross=1:1:1:1:1", NULL, "--scenario.cross=1:1:1:1:1: more than 4"},
        {"--scenario.cross=2000:1", NULL, "--scenario.cross=2000:1: ratio 2000 above 1000"},
        {"--scenario=bomm-crossmodal", "--scenario.hybrid_p=0.5", "cross and hybrid_p=0.5"},
        {"--scenario=fedmllm-hybrid0.7", "--scenario.cross=3:7", "--scenario=fedmllm-hybrid0.7"},
        {"--eval-split=validation", "--val-fraction=0", "--val-fraction=0: there are no"},
        {"--trainable=head,,fuse", NULL, "--trainable=head,,fuse"},
        {"--trainable=head, fuse", NULL, "--trainable=head, fuse"},
        {"--method=bomm", "--bomm.mm-width=65",
         "--bomm.mm-width=65 is not a multiple of "
         "--bomm.mm-heads=4"},
        {"--model=transformer", "--transformer.heads=5",
         "--width=64 is not a multiple of "
         "--transformer.heads=5"},
        {"--model=transformer", "--width=66", "--width=66 is not a multiple"},
        {"--method=nope", NULL, "--method=nope: unknown method"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RunConfig rc;
        char err[512] = "";
        char *argv[3] = {"m", (char *)bad[i].a, (char *)bad[i].b};
        int code = parse(&rc, err, bad[i].b ? 3 : 2, argv);
        ck_assert_msg(code == OPT_ERR_BAD_VALUE, "%s %s: returned %d (%s)", bad[i].a,
                      bad[i].b ? bad[i].b : "", code, err);
        ck_assert_msg(strstr(err, bad[i].needle), "%s %s: '%s' lacks '%s'", bad[i].a,
                      bad[i].b ? bad[i].b : "", err, bad[i].needle);
    }
    // The same rules for the text the other ranks and a resume read.
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig rc;
    char err[512];
    ck_assert_int_eq(config_read_text(&rc, &methods, &models, "out=/\n", "text", err, sizeof err),
                     OPT_ERR_BAD_VALUE);
    ck_assert_msg(strstr(err, "--out=/"), "%s", err);
    // A key given twice: the last line wins, and the method's option tables are the last one's
    // (the first line's tables with the second's name read past the method's struct: a fuzz find).
    ck_assert_msg(config_read_text(&rc, &methods, &models,
                                   "method=fedavg\nmethod=fedprox\nfedprox.mu=0.5\n", "text", err,
                                   sizeof err) == OPT_OK,
                  "%s", err);
    ck_assert_str_eq(rc.method->name, "fedprox");
    ck_assert_str_eq(rc.c.method, "fedprox");
    run_config_free(&rc);
    ck_assert_int_eq(config_read_text(&rc, &methods, &models,
                                      "method=fedprox\nfedprox.mu=0.5\nmethod=fedavg\n", "text",
                                      err, sizeof err),
                     OPT_ERR_UNKNOWN_KEY);
    // Values at the rules' edges pass.
    ck_assert_msg(parse(&rc, err, 3, (char *[]){"m", "--sample=4", "--out=/tmp/x"}) == OPT_OK, "%s",
                  err);
    run_config_free(&rc);
}
END_TEST

// The files options name: checked once the parse is done (config_check_files), by option and path.
START_TEST(test_data_and_base_files_must_exist_and_be_regular) {
    RunConfig rc;
    char err[512] = "", path[96];
    snprintf(path, sizeof path, "/tmp/mmc_cfg_data_%d.h5", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    const struct {
        const char *a, *b, *needle, *why;
    } bad[] = {
        {"--data=/nonexistent/x.h5", NULL, "--data=/nonexistent/x.h5", "No such file"},
        {"--data=/tmp", NULL, "--data=/tmp", "a directory"},
        {"--data=/dev/zero", NULL, "--data=/dev/zero", "a character device"},
        {"--model=mllm", "--mllm.base=/nonexistent/b.h5", "--mllm.base=/nonexistent/b.h5",
         "No such file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char arg[128];
        snprintf(arg, sizeof arg, "--data=%s", path);
        char *argv[4] = {"m", arg, (char *)bad[i].a, (char *)bad[i].b};
        ck_assert_msg(parse(&rc, err, bad[i].b ? 4 : 3, argv) == OPT_OK, "%s", err);
        ck_assert_int_eq(config_check_files(&rc, err, sizeof err), OPT_ERR_FILE);
        ck_assert_msg(strstr(err, bad[i].needle) && strstr(err, bad[i].why), "%s: %s", bad[i].a,
                      err);
        run_config_free(&rc);
    }
    char arg[128];
    snprintf(arg, sizeof arg, "--data=%s", path);
    ck_assert_int_eq(parse(&rc, err, 2, (char *[]){"m", arg}), OPT_OK);
    ck_assert_msg(config_check_files(&rc, err, sizeof err) == OPT_OK, "%s", err);
    run_config_free(&rc);
    unlink(path);
}
END_TEST

// The unit-level contract every registered method keeps.
START_TEST(test_every_registered_method_keeps_the_contract) {
    ck_assert_int_ge(method_count, 4);
    for (int i = 0; i < method_count; i++) {
        const Method *m = method_registry[i];
        const char *name = m->opt.name;
        ck_assert_ptr_eq(method_find(name), m);
        ck_assert_msg(m->opt.summary && m->opt.provenance && m->protocol,
                      "%s: summary/provenance/"
                      "protocol",
                      name);
        ck_assert_msg(m->protocol->create && m->protocol->destroy, "%s: protocol ops", name);
        if (i > 0)
            ck_assert_msg(strcmp(method_registry[i - 1]->opt.name, name) < 0, "registry order");
        for (int j = 0; j < m->opt.n_opts; j++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s.", name);
            ck_assert_msg(strncmp(m->opt.opts[j].key, prefix, strlen(prefix)) == 0,
                          "%s: option %s lacks the prefix", name, m->opt.opts[j].key);
            ck_assert_msg(m->opt.opts[j].offset < m->opt.size, "%s: option %s outside its struct",
                          name, m->opt.opts[j].key);
        }
        RunConfig rc;
        char err[512], arg[64];
        snprintf(arg, sizeof arg, "--method=%s", name);
        ck_assert_msg(parse(&rc, err, 2, (char *[]){"m", arg}) == OPT_OK, "%s", err);
        enum { N = 9 };
        if (m->protocol == &protocol_fedavg) { // identical parties are a fixed point
            const FedavgExt *x = m->ext;
            float global[N], mean[N], grads[N] = {0}, state[4 * N] = {0};
            for (int k = 0; k < N; k++)
                global[k] = mean[k] = 0.25f * (float)k - 1.f;
            ck_assert_int_le(x->state_per_float, 4);
            if (x->state_init) x->state_init(state, N, rc.method_opts);
            if (x->server) x->server(global, state, mean, N, rc.method_opts, 1);
            for (int k = 0; k < N; k++)
                ck_assert_msg(global[k] == mean[k], "%s: not a fixed point at %d", name, k);
            if (x->grad) { // the term vanishes at the global model
                x->grad(grads, global, global, N, rc.method_opts);
                for (int k = 0; k < N; k++)
                    ck_assert_msg(grads[k] == 0.f, "%s: gradient term at w_global", name);
            }
        }
        if (m->protocol == &protocol_repr) { // the term vanishes where every reference equals u
            const ReprExt *x = m->ext;
            enum { RB = 3, RD = 3 };
            float u[RB * RD], drep[RB * RD] = {0};
            double protos[RB * RD];
            const int labels[RB] = {0, 1, 2};
            const uint8_t valid[RB] = {1, 1, 1};
            for (int k = 0; k < RB * RD; k++)
                u[k] = 0.5f + 0.25f * (float)k, protos[k] = u[k];
            RepBatch b = {.B = RB,
                          .D = RD,
                          .K = RB,
                          .labels = labels,
                          .u = u,
                          .u_glob = u,
                          .u_prev = u,
                          .protos = protos,
                          .proto_valid = valid};
            double loss = x->term(drep, &b, rc.method_opts);
            ck_assert_msg(isfinite(loss), "%s: term %g", name, loss);
            for (int k = 0; k < RB * RD; k++)
                ck_assert_msg(fabsf(drep[k]) <= 1e-7f, "%s: drep[%d] = %g at the references", name,
                              k, (double)drep[k]);
        }
        run_config_free(&rc);
    }
}
END_TEST

START_TEST(test_fedprox_term_adds_mu_times_distance) {
    RunConfig rc;
    char err[512];
    ck_assert_int_eq(parse(&rc, err, 3, (char *[]){"m", "--method=fedprox", "--fedprox.mu=0.5"}),
                     OPT_OK);
    float w[3] = {1, 2, 3}, g0[3] = {0, 0, 0}, grads[3] = {1, 1, 1};
    const FedavgExt *x = method_find("fedprox")->ext;
    x->grad(grads, w, g0, 3, rc.method_opts);
    ck_assert(grads[0] == 1.5f && grads[1] == 2.f && grads[2] == 2.5f); // 1 + 0.5·w
    run_config_free(&rc);
}
END_TEST

Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_are_the_demo_run);
    tcase_add_test(tc, test_method_options_follow_the_method);
    tcase_add_test(tc, test_bad_method_and_values_are_named);
    tcase_add_test(tc, test_every_method_and_model_option_round_trips_through_files_and_text);
    tcase_add_test(tc, test_every_registered_method_keeps_the_contract);
    tcase_add_test(tc, test_fedprox_term_adds_mu_times_distance);
    tcase_add_test(tc, test_every_option_of_every_table_refuses_bad_values_by_key);
    tcase_add_test(tc, test_rules_between_options_are_checked_when_parsing);
    tcase_add_test(tc, test_data_and_base_files_must_exist_and_be_regular);
    suite_add_tcase(s, tc);
    return s;
}
