// fuzz_config.c - the config-file readers: the input is the content of a `key = value` file with
// [sections] and # comments, read
//   1. by opts_read_file, the one reader of such files (every pair it passes on has a non-empty
//      key, and its errors name the file),
//   2. by config_parse through --config=FILE (every option validated, as rank 0 of mmcollab does),
//   3. as key=value text by config_read_text (what the other ranks read rank 0's text with).
// Nothing may crash, leak or read out of bounds; errors are one non-empty line; an accepted
// configuration names the method and model it chose, and its text (config_text) reads back to the
// same text (docs/conventions.md §12: formatting gives text that parses back to the same bits).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "core/options.h"
#include "harness.h"

typedef struct {
    const char *path;
    int pairs;
} Ctx;

static int on_pair(void *ctx, const char *key, const char *value, const char *origin, char *err,
                   size_t cap) {
    (void)err, (void)cap;
    Ctx *c = ctx;
    if (!key[0]) fuzz_fail("opts_read_file passed an empty key (%s)", origin);
    if (strncmp(origin, c->path, strlen(c->path)) != 0)
        fuzz_fail("origin '%s' does not name the file %s", origin, c->path);
    (void)strlen(value);
    c->pairs++;
    return OPT_OK;
}

// How many lines of text start with "key=" (config_read_text picks the method and model by them).
static int lines_setting(const char *text, const char *key) {
    size_t k = strlen(key);
    int n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += !strncmp(p, key, k) && p[k] == '=';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    char path[512], arg[600], err[1024] = "";
    fuzz_path(path, sizeof path, "job.cfg");
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        fuzz_fail("cannot write %s", path);
    // 1. the reader alone
    Ctx c = {path, 0};
    int rc = opts_read_file(path, on_pair, &c, err, sizeof err);
    if (rc != OPT_OK && !strstr(err, path))
        fuzz_fail("opts_read_file's error does not name the file: '%s'", err);
    // 2. a command line with --config=FILE
    snprintf(arg, sizeof arg, "--config=%s", path);
    char *argv[2] = {"mmcollab", arg};
    fuzz_check_parse(2, argv);
    // 3. the same bytes as rank 0's text
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    if ((lines_setting(text, "method") > 1 || lines_setting(text, "model") > 1) &&
        fuzz_avoid("dup-selector")) {
        free(text);
        return -1;
    }
    fuzz_check_text(text);
    free(text);
    return 0;
}
