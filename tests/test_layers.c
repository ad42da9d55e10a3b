// test_layers.c - the source tree's dependencies flow one way (docs/architecture.md): every
// `#include "dir/..."` in src/<module>/ names a module that module may use. core ← tensor ← nn ←
// models; comm and io beside them; data beside them over io (io/seal.h: the digest beside each
// dataset file); cli over data; train over models and data; protocols over
// all of those and agg (Fed-CMP's aggregation); methods over protocols; fl over everything but
// apps. A new include that breaks the order fails here with the file and line.
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *module, *may_use; // space-separated, the module itself included
} LAYERS[] = {
    {"core", "core"},
    {"tensor", "core tensor"},
    {"nn", "core tensor nn"},
    {"models", "core tensor nn data io models"},
    {"data", "core io data"},
    {"comm", "core comm"},
    {"io", "core io"},
    {"cli", "core data cli"},
    {"privacy", "core privacy"},
    {"agg", "core tensor comm agg"},
    {"secagg", "core comm secagg"},
    {"train", "core tensor nn models data io train"},
    {"protocols", "core tensor nn models data comm io train agg protocols"},
    {"methods", "core tensor nn models data comm io train agg protocols methods"},
    {"fl", "core tensor nn models data comm io cli train protocols methods privacy agg secagg fl"},
    {"apps", "core tensor nn models data comm io cli train protocols methods privacy agg secagg fl "
             "apps"},
};

static int allowed(const char *may_use, const char *dep) {
    char words[256];
    snprintf(words, sizeof words, " %s ", may_use);
    char key[72];
    snprintf(key, sizeof key, " %s ", dep);
    return strstr(words, key) != NULL;
}

// Every include of one file: "<path>:<line>: includes <dep>" into bad when not allowed.
static int check_file(const char *path, const char *may_use, char *bad, size_t cap) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char line[512], dep[64];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (sscanf(line, "#include \"%63[^/\"]/", dep) != 1) continue;
        if (allowed(may_use, dep)) continue;
        size_t used = strlen(bad);
        snprintf(bad + used, cap - used, "%s:%d: includes %s/\n", path, lineno, dep);
        n++;
    }
    fclose(f);
    return n;
}

START_TEST(test_includes_follow_the_layers) {
    char bad[4096] = "";
    int n = 0, files = 0;
    for (size_t k = 0; k < sizeof LAYERS / sizeof LAYERS[0]; k++) {
        char dir[64];
        snprintf(dir, sizeof dir, "src/%s", LAYERS[k].module);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "no %s (run from the repository root)", dir);
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 3 || (strcmp(e->d_name + len - 2, ".c") && strcmp(e->d_name + len - 2, ".h")))
                continue;
            char path[384];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            n += check_file(path, LAYERS[k].may_use, bad, sizeof bad);
            files++;
        }
        closedir(d);
    }
    ck_assert_int_gt(files, 100);
    ck_assert_msg(n == 0, "%d includes against the layers:\n%s", n, bad);
}
END_TEST

START_TEST(test_every_module_is_in_the_table) {
    DIR *d = opendir("src");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int known = 0;
        for (size_t k = 0; k < sizeof LAYERS / sizeof LAYERS[0]; k++)
            known |= !strcmp(LAYERS[k].module, e->d_name);
        ck_assert_msg(known, "src/%s has no place in the layers", e->d_name);
    }
    closedir(d);
}
END_TEST

Suite *layers_suite(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("includes");
    tcase_add_test(tc, test_includes_follow_the_layers);
    tcase_add_test(tc, test_every_module_is_in_the_table);
    suite_add_tcase(s, tc);
    return s;
}
