// replay.c - a standalone main for a fuzz harness (make test, make asan; docs/fuzzing.md): feeds
// every file named on the command line, and every regular file of every directory named there
// (sorted by name), to LLVMFuzzerTestOneInput, printing each name before its run so that a crash
// names its input. A directory that does not exist holds no inputs. Exits 0 after the last input
// with "replayed N inputs"; a crash or a broken contract in the harness ends it (abort) first.
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// realloc that ends the program when memory runs out.
static void *grow(void *p, size_t bytes) {
    void *q = realloc(p, bytes);
    if (!q) {
        fprintf(stderr, "replay: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return q;
}

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = grow(NULL, cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) buf = grow(buf, cap *= 2);
    }
    fclose(f);
    printf("replay: %s (%zu bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 1;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 16;
    char **names = grow(NULL, cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; // ., .., and hidden files (.gitkeep)
        if (n == cap) names = grow(names, (cap *= 2) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) count += run_file(path);
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv) {
    int count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            count += run_dir(argv[i]);
        else if (stat(argv[i], &st) == 0)
            count += run_file(argv[i]);
    }
    printf("replayed %d inputs\n", count);
    return 0;
}
