// config_check.c - see config_check.h.
#include "config_check.h"

#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "fl/run.h"
#include "harness.h"

static OptRegistry methods, models;

static void registries(void) {
    if (!methods.n) fl_registries(&methods, &models);
}

static void check_error(int code, const char *err, const char *what) {
    if (code == OPT_OK || code == OPT_HELP) return;
    if (!err[0]) fuzz_fail("%s returned %d with an empty message", what, code);
    if (strchr(err, '\n')) fuzz_fail("%s: the message is not one line: '%s'", what, err);
}

// The invariants of an accepted configuration and its round trip through text.
static void check_accepted(const RunConfig *rc, const char *what) {
    if (!rc->method || !rc->model) fuzz_fail("%s: accepted without a method or model", what);
    if (strcmp(rc->c.method, rc->method->name) || strcmp(rc->c.model, rc->model->name))
        fuzz_fail("%s: --method=%s --model=%s, but the option tables of %s and %s were chosen",
                  what, rc->c.method, rc->c.model, rc->method->name, rc->model->name);
    char *text = config_text(rc), err[1024] = "";
    RunConfig back;
    int code = config_read_text(&back, &methods, &models, text, "round trip", err, sizeof err);
    if (code != OPT_OK)
        fuzz_fail("%s: the text of an accepted configuration does not read back: %s\n%s", what, err,
                  text);
    char *again = config_text(&back);
    if (strcmp(text, again))
        fuzz_fail("%s: the text changed in a round trip:\n%s\n--- became ---\n%s", what, text,
                  again);
    free(again);
    free(text);
    run_config_free(&back);
}

void fuzz_check_parse(int argc, char **argv) {
    registries();
    RunConfig rc;
    char err[1024] = "";
    int code = config_parse(&rc, &methods, &models, argc, argv, err, sizeof err);
    check_error(code, err, "config_parse");
    if (code != OPT_OK) return;
    check_accepted(&rc, "config_parse");
    run_config_free(&rc);
}

void fuzz_check_text(const char *text) {
    registries();
    RunConfig rc;
    char err[1024] = "";
    int code = config_read_text(&rc, &methods, &models, text, "rank 0's text", err, sizeof err);
    check_error(code, err, "config_read_text");
    if (code != OPT_OK) return;
    check_accepted(&rc, "config_read_text");
    run_config_free(&rc);
}
