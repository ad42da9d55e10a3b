// build_corpus.c - writes the WordNet gloss corpus (data/corpus.h) to a text file for inspection
// and prints its size, line count and SHA-256 (the digest a model trained on it records).
//   build/bin/build_corpus --out=/tmp/corpus.txt [--wordnet-dir=DIR] [--max-bytes=N] [--headwords]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "core/xalloc.h"
#include "data/corpus.h"

static const char *usage =
    "usage: build_corpus [options]\n"
    "  --out=PATH          output text file (default corpus.txt)\n"
    "  --wordnet-dir=DIR   WordNet 3.0 database (default " CORPUS_WORDNET_DIR ")\n"
    "  --max-bytes=N       stop at the last whole line within N bytes (default: all)\n"
    "  --headwords         definition lines start with the synset's words (\"dog, ...: \")\n"
    "  --help\n";

int main(int argc, char **argv) {
    CorpusOpts o;
    corpus_opts_default(&o);
    const char *out = "corpus.txt";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strncmp(a, "--out=", 6) && a[6])
            out = a + 6;
        else if (!strncmp(a, "--wordnet-dir=", 14) && a[14])
            o.wordnet_dir = a + 14;
        else if (!strcmp(a, "--headwords"))
            o.headwords = 1;
        else if (!strncmp(a, "--max-bytes=", 12) && a[12] &&
                 (o.max_bytes = strtoull(a + 12, &end, 10), !*end)) {
        } else {
            fprintf(stderr, "build_corpus: bad option \"%s\"\n%s", a, usage);
            return 2;
        }
    }
    double t0 = timer_now_ms();
    char err[1200], hex[SHA256_HEX_LEN + 1];
    char *text;
    size_t len;
    if (corpus_build(&o, &text, &len, err, sizeof err) != 0) {
        fprintf(stderr, "build_corpus: %s\n", err);
        return 1;
    }
    corpus_sha256_hex(text, len, hex);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "build_corpus: cannot write %s\n", out);
        return 1;
    }
    printf("corpus: %s -> %s: %zu lines, %.2f MB, sha256 %s, %.2f s\n", o.wordnet_dir, out, lines,
           (double)len / 1e6, hex, (timer_now_ms() - t0) / 1e3);
    xfree(text);
    return 0;
}
