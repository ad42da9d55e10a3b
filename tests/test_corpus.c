// test_corpus.c - the WordNet gloss corpus (data/corpus.h): the parse on a small crafted WordNet
// directory (definition, examples, attributions, unterminated quotes, headwords, the licence
// preamble), then on the real WordNet 3.0 of wordnet-base: non-empty, deterministic, known glosses
// present, no header lines, lower-case, a stable digest, the byte limit, and errors that name the
// missing path.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/corpus.h"
#include "tmpdir.h"

static void write_file(const char *dir, const char *name, const char *text) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

#define PREAMBLE                                                                                   \
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"                \
    "  2 Princeton University under the following license.  \n"

START_TEST(test_corpus_parses_glosses) {
    char dir[64], err[512], *text;
    size_t len;
    tmpdir_make(dir, sizeof dir, "test_corpus");
    write_file(dir, "data.noun",
               PREAMBLE "00000100 03 n 02 red_shirt 0 Tee(a) 0 000 | A shirt that is RED; worn "
                        "in summer; \"he wore a red shirt\"; \"the permutations...taking "
                        "place\"- Henry Miller  \n");
    write_file(dir, "data.verb",
               PREAMBLE "00000200 29 v 01 ring 0 000 | make a sound; \"the Bell rang; \"it rang "
                        "twice\"  \n");
    write_file(dir, "data.adj", PREAMBLE "00000300 00 a 01 red 0 000 | of the colour of blood  \n");
    write_file(dir, "data.adv", PREAMBLE "00000400 02 r 01 loudly 0 000 | \"she sang loudly\"  \n");
    CorpusOpts o;
    corpus_opts_default(&o);
    o.wordnet_dir = dir;
    ck_assert_msg(corpus_build(&o, &text, &len, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(text, "a shirt that is red; worn in summer\n"
                           "he wore a red shirt\n"
                           "the permutations...taking place\n"
                           "make a sound\n"
                           "the bell rang\n"
                           "it rang twice\n"
                           "of the colour of blood\n"
                           "she sang loudly\n");
    ck_assert_uint_eq(len, strlen(text));
    xfree(text);
    o.headwords = 1;
    ck_assert_msg(corpus_build(&o, &text, &len, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(
        !strncmp(text, "red shirt, tee: a shirt that is red; worn in summer\nhe wore", 58), "%s",
        text);
    ck_assert_ptr_nonnull(strstr(text, "\nring: make a sound\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nshe sang loudly\n")); // no definition, no headword line
    xfree(text);

    // A file without synsets (the preamble alone) is not WordNet: the error names it.
    write_file(dir, "data.adv", PREAMBLE);
    ck_assert_int_eq(corpus_build(&o, &text, &len, err, sizeof err), -1);
    ck_assert_ptr_null(text);
    ck_assert_msg(strstr(err, "data.adv") && strstr(err, "no synset"), "%s", err);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_corpus_missing_dir_names_the_path) {
    CorpusOpts o;
    corpus_opts_default(&o);
    o.wordnet_dir = "/nonexistent/wordnet";
    char err[512], *text;
    size_t len;
    ck_assert_int_eq(corpus_build(&o, &text, &len, err, sizeof err), -1);
    ck_assert_ptr_null(text);
    ck_assert_uint_eq(len, 0);
    ck_assert_msg(strstr(err, "/nonexistent/wordnet/data.noun") && strstr(err, "wordnet-base"),
                  "%s", err);
}
END_TEST

START_TEST(test_corpus_from_wordnet) {
    CorpusOpts o;
    corpus_opts_default(&o);
    char err[512], *a, *b, ha[SHA256_HEX_LEN + 1], hb[SHA256_HEX_LEN + 1];
    size_t la, lb;
    ck_assert_msg(corpus_build(&o, &a, &la, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(corpus_build(&o, &b, &lb, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_gt(la, 1000000); // WordNet 3.0: about 8.8 MB of glosses
    ck_assert_uint_eq(la, lb);
    ck_assert_mem_eq(a, b, la);
    corpus_sha256_hex(a, la, ha);
    corpus_sha256_hex(b, lb, hb);
    ck_assert_str_eq(ha, hb);
    ck_assert_uint_eq(strlen(ha), SHA256_HEX_LEN);

    // Known glosses: a common noun's definition and its example, each a whole line.
    ck_assert_ptr_nonnull(strstr(a, "\na member of the genus canis (probably descended from the "
                                    "common wolf) that has been domesticated by man since "
                                    "prehistoric times; occurs in many breeds\n"
                                    "the dog barked all night\n"));
    ck_assert_ptr_nonnull(strstr(a, "\na close-fitting pullover shirt\n")); // jersey, T-shirt
    // No header lines, lower case, no quotes, no empty lines, every line ends in '\n'.
    ck_assert_ptr_null(strstr(a, "this software and database"));
    ck_assert_ptr_null(strstr(a, "princeton university under the following license"));
    ck_assert_int_eq(a[la - 1], '\n');
    ck_assert(a[0] != ' ' && a[0] != '\n');
    size_t bad = la; // the first offending byte (each ck_assert costs a message to the runner)
    for (size_t i = 0; i < la && bad == la; i++)
        if ((a[i] >= 'A' && a[i] <= 'Z') || a[i] == '"' ||
            (a[i] == '\n' && i + 1 < la && (a[i + 1] == '\n' || a[i + 1] == ' ')))
            bad = i;
    ck_assert_msg(bad == la, "byte %zu: \"%.40s\"", bad, a + (bad < la ? bad : 0));
    xfree(b);

    // The byte limit: a prefix of the full corpus, whole lines, within the limit.
    o.max_bytes = 100000;
    ck_assert_msg(corpus_build(&o, &b, &lb, err, sizeof err) == 0, "%s", err);
    ck_assert(lb <= 100000 && lb > 99000 && b[lb - 1] == '\n');
    ck_assert_mem_eq(a, b, lb);
    corpus_sha256_hex(b, lb, hb);
    ck_assert_str_ne(ha, hb);
    xfree(b);

    // Headwords: the same number of lines, the definition lines prefixed.
    o.max_bytes = 0;
    o.headwords = 1;
    ck_assert_msg(corpus_build(&o, &b, &lb, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(
        strstr(b, "\ndog, domestic dog, canis familiaris: a member of the genus"));
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < la; i++)
        na += a[i] == '\n';
    for (size_t i = 0; i < lb; i++)
        nb += b[i] == '\n';
    ck_assert_uint_eq(na, nb);
    xfree(a), xfree(b);
}
END_TEST

Suite *corpus_suite(void) {
    Suite *s = suite_create("corpus");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_corpus_parses_glosses);
    tcase_add_test(tc, test_corpus_missing_dir_names_the_path);
    tcase_add_test(tc, test_corpus_from_wordnet);
    suite_add_tcase(s, tc);
    return s;
}
