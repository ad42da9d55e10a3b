// test_avfm.c - AV-FashionMNIST with speech: espeak-ng blocks are reproducible whatever ran before,
// generated samples are a function of (seed, split, index) only, train and test voices are
// disjoint, and the builder writes the same bytes serially and with 2 MPI ranks.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/avfm.h"
#include "data/speech.h"
#include "helpers.h"
#include "tmpdir.h"

#define FEAT (AVFM_FRAMES * AVFM_MELS)

static void make_reqs(SpeechReq *q, int n, int variant0) {
    static const char *const words[] = {"ankle boot", "pullover", "bag", "t-shirt"};
    for (int i = 0; i < n; i++) {
        snprintf(q[i].voice, sizeof q[i].voice, "%s+%s", avfm_accent(i % 6),
                 avfm_variant((variant0 + i) % 24));
        snprintf(q[i].text, sizeof q[i].text, "%s", words[i % 4]);
        q[i].rate = 110 + 13 * i;
        q[i].pitch = 20 + 7 * i;
        q[i].range = 30 + 5 * i;
    }
}

START_TEST(test_speech_same_block_gives_same_samples_after_other_blocks) {
    enum { N = 4 };
    Speech *sp = speech_start();
    SpeechReq q[N], other[N];
    make_reqs(q, N, 0);
    make_reqs(other, N, 9);
    int16_t *a[N], *b[N];
    int la[N], lb[N];
    for (int i = 0; i < N; i++) {
        a[i] = xmalloc(sizeof(int16_t) * SPEECH_MAX_SAMPLES);
        b[i] = xmalloc(sizeof(int16_t) * SPEECH_MAX_SAMPLES);
    }
    speech_block(sp, q, N, a, la);
    speech_block(sp, other, N, b, lb); // in one process, this would change the next utterances
    speech_block(sp, q, N, b, lb);
    for (int i = 0; i < N; i++) {
        ck_assert_int_gt(la[i], 2000); // a word is more than 0.1 s
        ck_assert_int_eq(la[i], lb[i]);
        ck_assert_mem_eq(a[i], b[i], sizeof(int16_t) * (size_t)la[i]);
        int peak = 0;
        for (int t = 0; t < la[i]; t++)
            peak = abs(a[i][t]) > peak ? abs(a[i][t]) : peak;
        ck_assert_int_gt(peak, 1000); // not silence
        xfree(a[i]);
        xfree(b[i]);
    }
    speech_stop(sp);
}
END_TEST

static void bad_voice(void *arg) {
    (void)arg;
    Speech *sp = speech_start();
    SpeechReq q;
    make_reqs(&q, 1, 0);
    snprintf(q.voice, sizeof q.voice, "xx-nonexistent+m1");
    int16_t *out[1] = {xmalloc(sizeof(int16_t) * SPEECH_MAX_SAMPLES)};
    int len[1];
    speech_block(sp, &q, 1, out, len);
}
START_TEST(test_speech_unknown_voice_dies_naming_it) {
    expect_die(bad_voice, NULL, "no voice", "xx-nonexistent+m1");
}
END_TEST

typedef struct {
    uint8_t *audio;
    int32_t *text, *meta;
} Out;

static Out gen(Avfm *g, int split, int64_t start, int64_t n, int64_t n_split,
               const uint8_t *labels) {
    Out o = {xmalloc((size_t)n * FEAT), xmalloc(sizeof(int32_t) * (size_t)n * AVFM_TEXT_LEN),
             xmalloc(sizeof(int32_t) * (size_t)n * AVFM_N_META)};
    avfm_generate(g, split, start, n, n_split, labels, o.audio, o.text, o.meta);
    return o;
}
static void out_free(Out *o) {
    xfree(o->audio);
    xfree(o->text);
    xfree(o->meta);
}

enum { NS = AVFM_BLOCK + 40 };
static uint8_t g_labels[NS];

// Samples depend on (seed, split, index) only: a range gives the same bytes after other ranges were
// generated, and a shorter split (a --subset build) is a prefix of a longer one.
START_TEST(test_avfm_samples_are_reproducible_and_subset_is_prefix) {
    for (int i = 0; i < NS; i++)
        g_labels[i] = (uint8_t)((i * 7) % 10);
    Speech *sp = speech_start();
    AvfmOpts o;
    avfm_opts_default(&o, 42);
    Avfm g;
    avfm_init(&g, &o, sp);
    Out a = gen(&g, 0, AVFM_BLOCK, 40, NS, g_labels + AVFM_BLOCK); // the last, partial block
    Out full = gen(&g, 0, 0, NS, NS, g_labels);
    Out b = gen(&g, 0, AVFM_BLOCK, 40, NS, g_labels + AVFM_BLOCK);
    ck_assert_mem_eq(a.audio, b.audio, 40 * FEAT);
    ck_assert_mem_eq(a.text, b.text, sizeof(int32_t) * 40 * AVFM_TEXT_LEN);
    ck_assert_mem_eq(a.meta, b.meta, sizeof(int32_t) * 40 * AVFM_N_META);
    ck_assert_mem_eq(full.audio + (size_t)AVFM_BLOCK * FEAT, a.audio, 40 * FEAT);
    Out sub = gen(&g, 0, 0, 30, 30, g_labels); // --subset=30
    ck_assert_mem_eq(sub.audio, full.audio, 30 * FEAT);
    ck_assert_mem_eq(sub.meta, full.meta, sizeof(int32_t) * 30 * AVFM_N_META);
    // The audio is not constant (speech and noise are there) and differs between samples.
    ck_assert_int_ne(memcmp(full.audio, full.audio + FEAT, FEAT), 0);
    int lo = 255, hi = 0;
    for (size_t k = 0; k < FEAT; k++) {
        lo = full.audio[k] < lo ? full.audio[k] : lo;
        hi = full.audio[k] > hi ? full.audio[k] : hi;
    }
    ck_assert_int_gt(hi - lo, 40);
    for (int i = 0; i < NS; i++) { // meta within the configured ranges
        const int32_t *m = full.meta + (size_t)i * AVFM_N_META;
        ck_assert_int_ge(m[AVFM_META_RATE], o.rate_lo);
        ck_assert_int_le(m[AVFM_META_RATE], o.rate_hi);
        ck_assert_int_ge(m[AVFM_META_SNR_CDB], (int)(o.snr_db_lo * 100));
        ck_assert_int_le(m[AVFM_META_SNR_CDB], (int)(o.snr_db_hi * 100));
        ck_assert_int_gt(m[AVFM_META_SPEECH_LEN], 1600);
        ck_assert_int_eq(m[AVFM_META_WORD], 0);
    }
    out_free(&a);
    out_free(&b);
    out_free(&full);
    out_free(&sub);
    avfm_free(&g);
    speech_stop(sp);
}
END_TEST

START_TEST(test_avfm_test_voices_are_disjoint_from_train_voices) {
    for (int v = 0; v < AVFM_N_ACCENTS * AVFM_N_VARIANTS; v++)
        ck_assert(!(avfm_voice_in_split(v, 0) && avfm_voice_in_split(v, 1)));
    for (int i = 0; i < NS; i++)
        g_labels[i] = (uint8_t)(i % 10);
    Speech *sp = speech_start();
    AvfmOpts o;
    avfm_opts_default(&o, 3);
    o.words = AVFM_WORDS_SYNONYM;
    Avfm g;
    avfm_init(&g, &o, sp);
    Out tr = gen(&g, 0, 0, 200, 200, g_labels), te = gen(&g, 1, 0, 200, 200, g_labels);
    int accents[2][AVFM_N_ACCENTS] = {{0}}, variants[2][AVFM_N_VARIANTS] = {{0}}, synonyms = 0;
    for (int i = 0; i < 200; i++) {
        const int32_t *mt = tr.meta + (size_t)i * AVFM_N_META,
                      *me = te.meta + (size_t)i * AVFM_N_META;
        ck_assert(avfm_voice_in_split(mt[AVFM_META_VOICE], 0));
        ck_assert(avfm_voice_in_split(me[AVFM_META_VOICE], 1));
        accents[0][mt[AVFM_META_ACCENT]] = accents[1][me[AVFM_META_ACCENT]] = 1;
        variants[0][mt[AVFM_META_VARIANT]] = variants[1][me[AVFM_META_VARIANT]] = 1;
        synonyms += mt[AVFM_META_WORD] > 0;
    }
    for (int a = 0; a < AVFM_N_ACCENTS; a++)
        ck_assert(!(accents[0][a] && accents[1][a]));
    for (int v = 0; v < AVFM_N_VARIANTS; v++)
        ck_assert(!(variants[0][v] && variants[1][v]));
    ck_assert_int_gt(synonyms, 50); // --words=synonym speaks more than the class names
    out_free(&tr);
    out_free(&te);
    avfm_free(&g);
    speech_stop(sp);
}
END_TEST

static void misaligned(void *arg) {
    (void)arg;
    Speech *sp = speech_start();
    AvfmOpts o;
    avfm_opts_default(&o, 1);
    Avfm g;
    avfm_init(&g, &o, sp);
    gen(&g, 0, 10, 20, 1000, g_labels);
}
START_TEST(test_avfm_rejects_a_range_not_aligned_to_blocks) {
    expect_die(misaligned, NULL, "not aligned to blocks of 256");
}
END_TEST

static int run(const char *cmd) {
    int rc = system(cmd);
    return rc;
}

// Train 600 = 3 blocks and test 300 = 2 blocks, so both ranks build parts of both splits.
START_TEST(test_avfm_builder_serial_and_two_ranks_write_identical_bytes) {
    const char *bin = getenv("MMC_BIN_DIR") ? getenv("MMC_BIN_DIR") : "build/bin";
    char dir[64], cmd[1024];
    tmpdir_make(dir, sizeof dir, "avfm_build");
    const char *args = "--subset=600 --test-subset=300 --seed=9";
    snprintf(cmd, sizeof cmd, "%s/build_avfmnist %s --out=%s/serial.h5 > %s/log 2>&1", bin, args,
             dir, dir);
    ck_assert_msg(run(cmd) == 0, "serial build failed: %s", cmd);
    snprintf(cmd, sizeof cmd,
             "timeout 300 mpirun --oversubscribe -np 2 %s/build_avfmnist %s --out=%s/np2.h5 >> "
             "%s/log 2>&1",
             bin, args, dir, dir);
    ck_assert_msg(run(cmd) == 0, "2-rank build failed: %s", cmd);
    snprintf(cmd, sizeof cmd, "cmp -s %s/serial.h5 %s/np2.h5", dir, dir);
    ck_assert_msg(run(cmd) == 0, "serial and 2-rank files differ (%s)", dir);
    snprintf(cmd, sizeof cmd, "grep -q 'wrote .*serial.h5' %s/log", dir);
    ck_assert_msg(run(cmd) == 0, "the builder did not print its size and time");
    tmpdir_remove(dir);
}
END_TEST

Suite *avfm_suite(void) {
    Suite *s = suite_create("avfm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_speech_same_block_gives_same_samples_after_other_blocks);
    tcase_add_test(tc, test_speech_unknown_voice_dies_naming_it);
    tcase_add_test(tc, test_avfm_samples_are_reproducible_and_subset_is_prefix);
    tcase_add_test(tc, test_avfm_test_voices_are_disjoint_from_train_voices);
    tcase_add_test(tc, test_avfm_rejects_a_range_not_aligned_to_blocks);
    tcase_add_test(tc, test_avfm_builder_serial_and_two_ranks_write_identical_bytes);
    suite_add_tcase(s, tc);
    return s;
}
