// build_memes.c - builds the memes dataset (memes.h, datasets/README.md "Memes") from an
// AV-FashionMNIST file: its images, entities and split, with a new generated text and label.
//   build/bin/build_memes --from=data/avfmnist_small.h5 --out=data/memes.h5 [--seed=S]
// Then reads the file back through the validating reader and prints the label balance and the
// three oracle accuracies next to the expected ones.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/timer.h"
#include "data/memes.h"

static const char *usage =
    "usage: build_memes [options]\n"
    "  --from=PATH   source AV-FashionMNIST file (default data/avfmnist_small.h5)\n"
    "  --out=PATH    output file (default data/memes.h5)\n"
    "  --seed=S      key of the rows' text streams (default 12)\n"
    "  --help\n";

static void print_oracle(const char *what, const MemesOracle *o) {
    printf("  %-8s %6lld rows  hateful %5.1f %%  oracle accuracy: image %5.1f %%  text %5.1f %%  "
           "both %5.1f %%\n",
           what, (long long)o->n, 100 * o->hateful, 100 * o->acc_image, 100 * o->acc_text,
           100 * o->acc_both);
}

int main(int argc, char **argv) {
    const char *src = "data/avfmnist_small.h5", *out = "data/memes.h5";
    unsigned long long seed = MEMES_DEFAULT_SEED;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strncmp(a, "--from=", 7) && a[7])
            src = a + 7;
        else if (!strncmp(a, "--out=", 6) && a[6])
            out = a + 6;
        else if (!strncmp(a, "--seed=", 7) && a[7] && (seed = strtoull(a + 7, &end, 10), !*end)) {
        } else {
            fprintf(stderr, "build_memes: bad option \"%s\"\n%s", a, usage);
            return 2;
        }
    }
    double t0 = timer_now_ms();
    char err[1024];
    if (memes_build(src, out, seed, err, sizeof err) != 0) {
        fprintf(stderr, "build_memes: %s\n", err);
        return 1;
    }
    double t_build = timer_now_ms() - t0;
    MemesOracle o[2], e;
    if (memes_measure(out, o, err, sizeof err) != 0) {
        fprintf(stderr, "build_memes: the written file does not read back: %s\n", err);
        return 1;
    }
    memes_expected(&e);
    struct stat st;
    long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
    printf("memes: %s -> %s (seed %llu), %.1f MB, built in %.2f s, checked in %.2f s\n", src, out,
           seed, (double)bytes / 1e6, t_build / 1e3, (timer_now_ms() - t0 - t_build) / 1e3);
    print_oracle("train", &o[0]);
    print_oracle("test", &o[1]);
    print_oracle("expected", &e);
    return 0;
}
