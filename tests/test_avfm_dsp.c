// test_avfm_dsp.c - AV-FashionMNIST's signal and text parts without speech: FFT against a naive
// DFT, log-mel of pure tones, the resampler keeps a tone's frequency, the IDX reader on the real
// Fashion-MNIST files, the lexicon against WordNet, text tokens inside the vocabulary.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "data/fft.h"
#include "data/idx.h"
#include "data/lexicon.h"
#include "data/logmel.h"
#include "data/resample.h"
#include "data/texttok.h"
#include "helpers.h"
#include "tmpdir.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"
#define TOL_FFT 1e-4 /* float32 radix-2 FFT of n = 64 values in [-1, 1] vs a double DFT */

START_TEST(test_fft_matches_naive_dft) {
    enum { N = 64 };
    float re[N], im[N], x[N], y[N];
    fill_uniform(x, N, -1, 1, 1);
    fill_uniform(y, N, -1, 1, 2);
    memcpy(re, x, sizeof(x));
    memcpy(im, y, sizeof(y));
    Fft f;
    fft_init(&f, N);
    fft_forward(&f, re, im);
    float wr[N], wi[N];
    for (int k = 0; k < N; k++) {
        double sr = 0, si = 0;
        for (int t = 0; t < N; t++) {
            double a = -2 * M_PI * k * t / N;
            sr += x[t] * cos(a) - y[t] * sin(a);
            si += x[t] * sin(a) + y[t] * cos(a);
        }
        wr[k] = (float)sr;
        wi[k] = (float)si;
    }
    ck_assert_floats_near(re, wr, N, TOL_FFT, TOL_FFT);
    ck_assert_floats_near(im, wi, N, TOL_FFT, TOL_FFT);
    fft_free(&f);
}
END_TEST

// The band whose triangle is highest at the tone's frequency must hold the largest log-mel in every
// frame (odd and even frames take different paths through the paired FFT).
static const float tones_hz[] = {300, 1000, 2500, 6000};
START_TEST(test_logmel_of_pure_tone_peaks_in_its_band) {
    float hz = tones_hz[_i];
    LogMel m;
    logmel_init(&m, 16000, 400, 160, 512, 40, 20, 8000);
    ck_assert_int_eq(logmel_frames(&m, 16000), 98);
    float *x = xmalloc(sizeof(float) * 16000), *out = xmalloc(sizeof(float) * 98 * 40);
    for (int t = 0; t < 16000; t++)
        x[t] = 0.5f * sinf(2 * (float)M_PI * hz * t / 16000);
    logmel_compute(&m, out, x, 16000, 1e-10f);
    // Adjacent triangles are linear in Hz over the same interval, so they cross at its midpoint:
    // the band that responds most to a tone is the one whose centre is nearest in Hz.
    int want = 0;
    for (int b = 1; b < 40; b++)
        if (fabsf(logmel_band_centre_hz(&m, b) - hz) < fabsf(logmel_band_centre_hz(&m, want) - hz))
            want = b;
    for (int t = 0; t < 98; t++) {
        int best = 0;
        for (int b = 1; b < 40; b++)
            if (out[t * 40 + b] > out[t * 40 + best]) best = b;
        ck_assert_msg(best == want,
                      "%g Hz frame %d: peak in band %d (centre %.0f Hz), want band %d (%.0f Hz)",
                      hz, t, best, logmel_band_centre_hz(&m, best), want,
                      logmel_band_centre_hz(&m, want));
    }
    ck_assert_msg(fabsf(logmel_band_centre_hz(&m, want) - hz) < 0.15f * hz + 60,
                  "band %d centre %.0f Hz is far from %g Hz", want, logmel_band_centre_hz(&m, want),
                  hz);
    xfree(x);
    xfree(out);
    logmel_free(&m);
}
END_TEST

START_TEST(test_logmel_of_silence_is_the_floor) {
    LogMel m;
    logmel_init(&m, 16000, 400, 160, 512, 40, 20, 8000);
    float *x = xcalloc(1000, sizeof(float)), out[5 * 40];
    ck_assert_int_eq(logmel_frames(&m, 1000), 1 + (1000 - 400) / 160);
    logmel_compute(&m, out, x, 1000, 1e-10f);
    for (int i = 0; i < 4 * 40; i++)
        ck_assert_float_eq_tol(out[i], logf(1e-10f), 1e-6);
    xfree(x);
    logmel_free(&m);
}
END_TEST

// Frequency by counting upward zero crossings over whole seconds.
static double crossings_hz(const float *x, int n, int rate) {
    int c = 0;
    for (int i = 1; i < n; i++)
        if (x[i - 1] < 0 && x[i] >= 0) c++;
    return (double)c * rate / n;
}

START_TEST(test_resampler_keeps_tone_frequency) {
    const int rin = 22050, rout = 16000, n = 2 * rin;
    ck_assert_int_eq(resample_len(n, rin, rout), (n - 1) * rout / rin + 1);
    ck_assert_int_eq(resample_len(0, rin, rout), 0);
    float *x = xmalloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        x[i] = sinf(2 * (float)M_PI * 440.0f * i / rin + 0.3f);
    int m = resample_len(n, rin, rout);
    float *y = xmalloc(sizeof(float) * m);
    resample_linear(y, x, n, rin, rout);
    ck_assert_double_eq_tol(crossings_hz(y, m, rout), 440.0, 1.0);
    // Linear interpolation of a 440 Hz sine at 22050 Hz is close to the exact sine at the new
    // times.
    for (int j = 0; j < m; j += 97)
        ck_assert_float_eq_tol(y[j], sinf(2 * (float)M_PI * 440.0f * j / rout + 0.3f), 0.01f);
    xfree(x);
    xfree(y);
}
END_TEST

START_TEST(test_idx_reads_real_fashion_mnist_headers) {
    IdxArray a = {0};
    idx_read(&a, FMNIST "train-labels-idx1-ubyte.gz");
    ck_assert_int_eq(a.ndim, 1);
    ck_assert_int_eq(a.dims[0], 60000);
    const uint8_t first[10] = {9, 0, 0, 3, 0,
                               2, 7, 2, 5, 5}; // the first labels of Fashion-MNIST's train file
    ck_assert_mem_eq(a.data, first, 10);
    int count[10] = {0};
    for (int i = 0; i < 60000; i++) {
        ck_assert_int_lt(a.data[i], 10);
        count[a.data[i]]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(count[c], 6000);
    idx_free(&a);
    idx_read(&a, FMNIST "t10k-images-idx3-ubyte.gz");
    ck_assert_int_eq(a.ndim, 3);
    ck_assert_int_eq(a.dims[0], 10000);
    ck_assert_int_eq(a.dims[1], 28);
    ck_assert_int_eq(a.dims[2], 28);
    ck_assert_int_eq(a.count, 10000 * 28 * 28);
    idx_free(&a);
    idx_read_first(&a, FMNIST "train-images-idx3-ubyte.gz", 5);
    ck_assert_int_eq(a.dims[0], 5);
    ck_assert_int_eq(a.count, 5 * 28 * 28);
    idx_free(&a);
    idx_free(&a); // safe twice
}
END_TEST

static char g_path[256];
static void read_bad(void *arg) {
    (void)arg;
    IdxArray a;
    idx_read(&a, g_path);
}
START_TEST(test_idx_rejects_a_file_that_is_not_idx) {
    char dir[64];
    tmpdir_make(dir, sizeof dir, "avfm_idx");
    snprintf(g_path, sizeof g_path, "%s/bad.idx", dir);
    FILE *f = fopen(g_path, "wb");
    fputs("PK\x03\x04 not an idx file", f);
    fclose(f);
    expect_die(read_bad, NULL, "not a uint8 IDX file", "bad.idx");
    snprintf(g_path, sizeof g_path, "%s/missing.gz", dir);
    expect_die(read_bad, NULL, "cannot open IDX file", "missing.gz");
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_lexicon_synonyms_are_wordnet_nouns) {
    const char *miss = NULL;
    int n = lexicon_wordnet_check("/usr/share/wordnet", &miss);
    ck_assert_msg(n == 0, "%d synonyms are not WordNet nouns, first \"%s\"", n, miss ? miss : "");
    ck_assert_int_eq(lexicon_wordnet_check("/nonexistent", &miss), -1);
    ck_assert_str_eq(lexicon_synonym(9, 0), "ankle boot");
    ck_assert_str_eq(lexicon_class_name(0), "T-shirt/top");
    ck_assert_str_eq(lexicon_coarse(7), "shoe");
}
END_TEST

START_TEST(test_text_tokens_stay_in_vocabulary_and_name_the_class) {
    TextVocab v;
    texttok_vocab(&v);
    ck_assert_int_eq(texttok_id(&v, "<pad>"), TEXT_PAD);
    ck_assert_int_eq(texttok_id(&v, "<unk>"), TEXT_UNK);
    for (int a = 0; a < v.size; a++)
        for (int b = a + 1; b < v.size; b++)
            ck_assert_str_ne(v.words[a], v.words[b]);
    TextOpts o = {
        .p_drop = 0.2f, .p_swap = 0.3f, .p_replace = 0.1f, .p_coarse = 0.2f, .max_fillers = 2};
    // With no replacement the sequence holds only class words, fillers and pads, pads at the end.
    TextOpts clean = o;
    clean.p_replace = 0;
    for (int i = 0; i < 2000; i++) {
        Rng r;
        rng_init(&r, 5, 0, (uint32_t)i, RNG_TEST);
        int label = i % 10, L = 8;
        int32_t seq[8];
        texttok_make(seq, L, &v, label, i % 2 ? &o : &clean, &r);
        int seen_pad = 0, n_words = 0;
        for (int t = 0; t < L; t++) {
            ck_assert_int_ge(seq[t], 0);
            ck_assert_int_lt(seq[t], v.size);
            ck_assert_int_ne(seq[t], TEXT_UNK);
            if (seq[t] == TEXT_PAD)
                seen_pad = 1;
            else {
                ck_assert_msg(!seen_pad, "sample %d: a word after padding", i);
                n_words++;
            }
        }
        ck_assert_int_ge(n_words, 1);
    }
    Rng a, b;
    rng_init(&a, 5, 0, 7, RNG_TEST);
    rng_init(&b, 5, 0, 7, RNG_TEST);
    int32_t s1[8], s2[8];
    texttok_make(s1, 8, &v, 3, &o, &a);
    texttok_make(s2, 8, &v, 3, &o, &b);
    ck_assert_mem_eq(s1, s2, sizeof s1);
}
END_TEST

Suite *avfm_dsp_suite(void) {
    Suite *s = suite_create("avfm_dsp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fft_matches_naive_dft);
    tcase_add_loop_test(tc, test_logmel_of_pure_tone_peaks_in_its_band, 0, 4);
    tcase_add_test(tc, test_logmel_of_silence_is_the_floor);
    tcase_add_test(tc, test_resampler_keeps_tone_frequency);
    tcase_add_test(tc, test_idx_reads_real_fashion_mnist_headers);
    tcase_add_test(tc, test_idx_rejects_a_file_that_is_not_idx);
    tcase_add_test(tc, test_lexicon_synonyms_are_wordnet_nouns);
    tcase_add_test(tc, test_text_tokens_stay_in_vocabulary_and_name_the_class);
    suite_add_tcase(s, tc);
    return s;
}
