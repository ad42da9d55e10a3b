// test_memes.c - the memes dataset (data/memes.h): the rule row by row (scores, words, label, no
// class word in the vocabulary), the expected oracle figures, a build from the AV-FashionMNIST CI
// subset (images, entities and split kept, byte-identical rebuilds, oracle figures near the
// expected ones), the Makefile's data/memes_ci.h5 agreeing with it, and source errors that name
// the file.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/lexicon.h"
#include "data/memes.h"
#include "tmpdir.h"

#define TOL_EXACT 1e-12 // expected figures are sums of a few multiples of 1/80
// Oracle accuracies over n rows are binomial: 3.5 standard deviations (sd <= 0.5 / sqrt(n)).
#define TOL_ORACLE(n) (3.5 * 0.5 / sqrt((double)(n)))

static const char *data_dir(void) {
    return getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
}

START_TEST(test_memes_rule_row_by_row) {
    int count[5] = {0}; // image scores -2..2
    for (int c = 0; c < MEMES_CLASSES; c++)
        count[memes_image_score(c) + 2]++;
    ck_assert_int_eq(count[2], 0);
    ck_assert_int_eq(count[0], count[4]); // symmetric, so labels balance
    ck_assert_int_eq(count[1], count[3]);
    ck_assert_str_eq(memes_vocab_word(0), "<pad>");
    ck_assert_str_eq(memes_vocab_word(1), "<unk>");

    int64_t ties = 0, hateful = 0, n = 0;
    for (int64_t e = 0; e < 4000; e++) {
        int c = (int)(e % MEMES_CLASSES);
        int32_t text[MEMES_TEXT_LEN], label, meta[MEMES_N_META], text2[MEMES_TEXT_LEN], label2,
            meta2[MEMES_N_META];
        memes_row(12, e, c, text, &label, meta);
        memes_row(12, e, c, text2, &label2, meta2);
        ck_assert_mem_eq(text, text2, sizeof text);
        ck_assert_int_eq(label, label2);
        int s_img = meta[MEMES_META_S_IMG], s_txt = meta[MEMES_META_S_TXT];
        ck_assert_int_eq(s_img, memes_image_score(c));
        ck_assert_int_eq(meta[MEMES_META_FM_CLASS], c);
        ck_assert(s_txt == -2 || s_txt == -1 || s_txt == 1 || s_txt == 2);
        // The words: at least 2, padding only at the end, every attitude word of strength s_txt,
        // one or two of them.
        int words = 0, att = 0, pad_seen = 0;
        for (int k = 0; k < MEMES_TEXT_LEN; k++) {
            ck_assert(text[k] >= 0 && text[k] < memes_vocab_size());
            ck_assert_int_ne(text[k], 1); // <unk> is never written
            if (text[k] == 0) {
                pad_seen = 1;
                continue;
            }
            ck_assert_msg(!pad_seen, "row %lld: a word after padding", (long long)e);
            words++;
            int st = memes_word_strength(text[k]);
            if (st) {
                ck_assert_int_eq(st, s_txt);
                att++;
            }
        }
        ck_assert(words >= 2 && att >= 1 && att <= 2);
        int sum = s_img + s_txt;
        if (sum)
            ck_assert_int_eq(label, sum > 0);
        else
            ties++;
        hateful += label, n++;
    }
    // A quarter of the rows tie; the coin and the balance are fair.
    ck_assert_msg(ties > 850 && ties < 1150, "%lld ties of 4000", (long long)ties);
    ck_assert_msg(hateful > 1850 && hateful < 2150, "%lld hateful of %lld", (long long)hateful,
                  (long long)n);
}
END_TEST

// The text must not leak the image class: no vocabulary word is a word of any class name,
// synonym or coarse word of lexicon.h (split at spaces and hyphens).
START_TEST(test_memes_vocab_names_no_class) {
    for (int v = 2; v < memes_vocab_size(); v++) {
        const char *w = memes_vocab_word(v);
        for (int c = 0; c < LEX_CLASSES; c++)
            for (int k = -1; k < lexicon_n_synonyms(c); k++) {
                char buf[64];
                snprintf(buf, sizeof buf, "%s", k < 0 ? lexicon_coarse(c) : lexicon_synonym(c, k));
                for (char *tok = strtok(buf, " -"); tok; tok = strtok(NULL, " -"))
                    ck_assert_msg(strcmp(tok, w) != 0, "vocab word \"%s\" names class %d", w, c);
            }
    }
}
END_TEST

START_TEST(test_memes_expected_figures) {
    MemesOracle e;
    memes_expected(&e);
    ck_assert_double_eq_tol(e.hateful, 0.5, TOL_EXACT);
    ck_assert_double_eq_tol(e.acc_image, 0.775, TOL_EXACT);
    ck_assert_double_eq_tol(e.acc_text, 0.725, TOL_EXACT);
    ck_assert_double_eq_tol(e.acc_both, 0.875, TOL_EXACT);
}
END_TEST

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    ck_assert(fa && fb);
    int ca, cb, same = 1;
    do {
        ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
    } while (same && ca != EOF);
    fclose(fa), fclose(fb);
    return same;
}

// Rows of split s of two open files agree in the named pieces.
static void assert_same_rows(Dataset *a, int ma, Dataset *b, int mb, DsSplit s, size_t elem,
                             int64_t n) {
    size_t row = (size_t)dataset_modality(a, ma)->row_elems * elem;
    ck_assert_int_eq(row, (size_t)dataset_modality(b, mb)->row_elems * elem);
    char *x = xmalloc(row * (size_t)n), *y = xmalloc(row * (size_t)n);
    dataset_read_raw(a, s, ma, 0, n, x);
    dataset_read_raw(b, s, mb, 0, n, y);
    ck_assert_mem_eq(x, y, row * (size_t)n);
    xfree(x), xfree(y);
}

START_TEST(test_memes_build_from_ci_subset) {
    char dir[64], a[96], b[96], src[512], err[1024];
    tmpdir_make(dir, sizeof dir, "test_memes");
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    snprintf(src, sizeof src, "%s/avfmnist_ci.h5", data_dir());
    ck_assert_msg(memes_build(src, a, MEMES_DEFAULT_SEED, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(memes_build(src, b, MEMES_DEFAULT_SEED, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(same_bytes(a, b), "two builds differ");

    Dataset *m = dataset_open(a, err, sizeof err), *s = dataset_open(src, err, sizeof err);
    ck_assert_msg(m && s, "%s", err);
    ck_assert_str_eq(dataset_name(m), "memes");
    ck_assert_int_eq(dataset_n_classes(m), 2);
    ck_assert_str_eq(dataset_class_name(m, 0), "not hateful");
    ck_assert_str_eq(dataset_class_name(m, 1), "hateful");
    ck_assert_int_eq(dataset_n_modalities(m), 2);
    ck_assert_str_eq(dataset_modality(m, 0)->name, "image");
    ck_assert_str_eq(dataset_modality(m, 1)->name, "text");
    ck_assert_int_eq(dataset_modality(m, 1)->row_elems, MEMES_TEXT_LEN);
    ck_assert_int_eq(dataset_pad_id(m), 0);
    ck_assert_int_eq(dataset_meta_index(m, "s_img"), MEMES_META_S_IMG);
    ck_assert_int_eq(dataset_meta_index(m, "s_txt"), MEMES_META_S_TXT);
    for (int sp = 0; sp < 2; sp++) { // the source's split, images, entities; fm_class = its label
        DsSplit split = sp ? DS_TEST : DS_TRAIN;
        int64_t n = dataset_n(s, split);
        ck_assert_int_eq(dataset_n(m, split), n);
        assert_same_rows(m, 0, s, dataset_modality_index(s, "image"), split, 1, n);
        int64_t *em = xmalloc(sizeof(int64_t) * (size_t)n),
                *es = xmalloc(sizeof(int64_t) * (size_t)n);
        int32_t *ls = xmalloc(sizeof(int32_t) * (size_t)n);
        int32_t *meta = xmalloc(sizeof(int32_t) * (size_t)n * MEMES_N_META);
        dataset_read_entities(m, split, 0, n, em);
        dataset_read_entities(s, split, 0, n, es);
        ck_assert_mem_eq(em, es, sizeof(int64_t) * (size_t)n);
        dataset_read_labels(s, split, 0, n, ls);
        dataset_read_meta(m, split, 0, n, meta);
        for (int64_t i = 0; i < n; i++)
            ck_assert_int_eq(meta[i * MEMES_N_META + MEMES_META_FM_CLASS], ls[i]);
        xfree(em), xfree(es), xfree(ls), xfree(meta);
    }
    dataset_close(s);
    dataset_close(m);

    MemesOracle o[2], e;
    ck_assert_msg(memes_measure(a, o, err, sizeof err) == 0, "%s", err);
    memes_expected(&e);
    for (int sp = 0; sp < 2; sp++) {
        double tol = TOL_ORACLE(o[sp].n);
        ck_assert_msg(o[sp].hateful > 0.5 - tol && o[sp].hateful < 0.5 + tol,
                      "split %d: %.3f "
                      "hateful",
                      sp, o[sp].hateful);
        ck_assert_double_eq_tol(o[sp].acc_image, e.acc_image, tol);
        ck_assert_double_eq_tol(o[sp].acc_text, e.acc_text, tol);
        ck_assert_double_eq_tol(o[sp].acc_both, e.acc_both, tol);
        ck_assert(o[sp].acc_both > o[sp].acc_image && o[sp].acc_both > o[sp].acc_text);
    }

    // The Makefile's data/memes_ci.h5 (make test builds it) is this build: same rows.
    char built[512];
    snprintf(built, sizeof built, "%s/memes_ci.h5", data_dir());
    Dataset *f = dataset_open(built, err, sizeof err);
    m = dataset_open(a, err, sizeof err);
    ck_assert_msg(f != NULL, "%s (make data/memes_ci.h5 builds it)", err);
    for (int sp = 0; sp < 2; sp++) {
        DsSplit split = sp ? DS_TEST : DS_TRAIN;
        ck_assert_int_eq(dataset_n(f, split), dataset_n(m, split));
        assert_same_rows(f, 1, m, 1, split, sizeof(int32_t), dataset_n(m, split));
    }
    dataset_close(f);
    dataset_close(m);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_memes_source_errors_name_the_file) {
    char dir[64], out[96], src[512], err[1024];
    tmpdir_make(dir, sizeof dir, "test_memes_err");
    snprintf(out, sizeof out, "%s/out.h5", dir);
    ck_assert_int_eq(memes_build("/nonexistent/avfm.h5", out, 1, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "/nonexistent/avfm.h5") != NULL, "%s", err);
    snprintf(src, sizeof src, "%s/landsat.h5", data_dir()); // 6 classes, no image
    ck_assert_int_eq(memes_build(src, out, 1, err, sizeof err), -1);
    ck_assert_msg(strstr(err, src) && strstr(err, "classes"), "%s", err);
    ck_assert_int_ne(access(out, F_OK), 0); // nothing written
    tmpdir_remove(dir);
}
END_TEST

Suite *memes_suite(void) {
    Suite *s = suite_create("memes");
    TCase *tc = tcase_create("memes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_memes_rule_row_by_row);
    tcase_add_test(tc, test_memes_vocab_names_no_class);
    tcase_add_test(tc, test_memes_expected_figures);
    tcase_add_test(tc, test_memes_build_from_ci_subset);
    tcase_add_test(tc, test_memes_source_errors_name_the_file);
    suite_add_tcase(s, tc);
    return s;
}
