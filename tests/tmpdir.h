// tmpdir.h - a private temporary directory per test, removed with its files (no subdirectories).
#pragma once

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Creates /tmp/<tag>.XXXXXX into dir (cap >= strlen(tag) + 12).
static inline void tmpdir_make(char *dir, size_t cap, const char *tag) {
    snprintf(dir, cap, "/tmp/%s.XXXXXX", tag);
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
}

// Removes every file in dir, then dir.
static inline void tmpdir_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
