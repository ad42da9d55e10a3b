// test_bpe.c - data/bpe.h: hand-worked merges (and their tie-break), the incremental trainer
// against a naive twin that recounts every pair at every merge, determinism, exact round trips
// (ASCII, UTF-8, empty, whitespace runs, random bytes), specials, save/load, refusal of damaged
// files, compression on English text, and the CHECKs of encode/decode.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/bpe.h"
#include "helpers.h"

#define MIN_COMPRESSION 1.5 /* bytes per token at V = 512 on the training text (measured ~2.9) */

static const char *const SPECIALS[] = {"<pad>", "<bos>", "<eos>", "<image>", "<audio>"};
#define N_SPECIALS 5

static const char ENGLISH[] =
    "The quick brown fox jumps over the lazy dog. The dog, which had been sleeping in the sun "
    "for most of the afternoon, opened one eye and watched the fox run across the field. It did "
    "not move. Foxes came and went, and the dog had long ago decided that chasing them was not "
    "worth the trouble.\n\n"
    "In the village below, the baker was already preparing the bread for the next morning. He "
    "worked through the night, as his father had done before him, and his father's father before "
    "that. The ovens were old but reliable, and the smell of the bread drifted up the hill to "
    "the farm where the dog lay in the sun.\n\n"
    "When the children came home from school, they ran to the bakery first. The baker always "
    "kept a few rolls aside for them, warm from the oven, and the children ate them on the steps "
    "while they talked about the day. Some of them wanted to be bakers when they grew up; others "
    "wanted to be farmers, or teachers, or to travel to the city and never come back.\n\n"
    "The teacher, who had lived in the city for many years before returning to the village, "
    "told them that the city was a place of noise and hurry, where nobody had the time to sit on "
    "the steps of a bakery and eat a warm roll. The children did not believe her. They thought "
    "the city must be wonderful, full of tall buildings and bright lights and people from every "
    "part of the world.\n\n"
    "Years later, some of the children did go to the city. Some of them stayed there, and some "
    "of them came back. The ones who came back often said that the teacher had been right, and "
    "the ones who stayed said that she had been wrong, and both of them were telling the truth "
    "about the lives they had chosen.\n";

static void train_english(Bpe *b, int V) {
    const char *texts[] = {ENGLISH};
    bpe_train(b, texts, 1, V, SPECIALS, N_SPECIALS);
}

static void assert_merges(const Bpe *b, const int32_t *want, int n) {
    ck_assert_int_eq(b->n_merges, n);
    for (int m = 0; m < n; m++) {
        ck_assert_msg(b->merges[2 * m] == want[2 * m] && b->merges[2 * m + 1] == want[2 * m + 1],
                      "merge %d is (%d, %d), expected (%d, %d)", m, b->merges[2 * m],
                      b->merges[2 * m + 1], want[2 * m], want[2 * m + 1]);
    }
}

// "aaab aaab ab" splits into "aaab", " aaab", " ab". Pairs: (a,a) 4, (a,b) 3, (' ',a) 2 -> merge
// (a,a)=256; then "X a b", " X a b", " a b": (a,b) 3 -> 257; then (X,Y) 2 -> 258; the rest occur
// once, so training stops at 3 merges, below the target.
START_TEST(test_hand_example_first_merges_in_order) {
    Bpe b = {0};
    const char *texts[] = {"aaab aaab ab"};
    bpe_train(&b, texts, 1, 256 + 10, NULL, 0);
    const int32_t want[] = {'a', 'a', 'a', 'b', 256, 257};
    assert_merges(&b, want, 3);
    ck_assert_int_eq(b.vocab_size, 259);
    int ids[8];
    ck_assert_int_eq(bpe_encode(&b, "aaab", ids, 8), 1);
    ck_assert_int_eq(ids[0], 258);
    ck_assert_int_eq(bpe_encode(&b, " ab", ids, 8), 2);
    ck_assert_int_eq(ids[0], ' ');
    ck_assert_int_eq(ids[1], 257);
    bpe_free(&b);

    // With two specials every byte and merge id moves up by 2.
    const char *sp[] = {"<pad>", "<bos>"};
    bpe_train(&b, texts, 1, 2 + 256 + 10, sp, 2);
    const int32_t want2[] = {2 + 'a', 2 + 'a', 2 + 'a', 2 + 'b', 258, 259};
    assert_merges(&b, want2, 3);
    bpe_free(&b);
}
END_TEST

// "ab ab cd cd": "ab" 1, " ab" 1, " cd" 2. Count 2 ties among (' ',c), (a,b), (c,d): the smallest
// (left, right) is (' ',c) = (32, 99). Then (a,b) 2 and (256,d) 2 tie: (97,98) first.
START_TEST(test_ties_go_to_the_smallest_pair) {
    Bpe b = {0};
    const char *texts[] = {"ab ab cd cd"};
    bpe_train(&b, texts, 1, 256 + 10, NULL, 0);
    const int32_t want[] = {' ', 'c', 'a', 'b', 256, 'd'};
    assert_merges(&b, want, 3);
    bpe_free(&b);
}
END_TEST

// ---- the naive twin: same pre-split rule, every pair recounted at every merge ----

static int cls(unsigned char c) {
    if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 0;
    if (c >= '0' && c <= '9') return 1;
    if (strchr(" \t\n\v\f\r", c) && c) return 2;
    return 3;
}

typedef struct {
    int n, len[4096], count[4096];
    int32_t sym[4096][64];
} NaiveWords;

static int same_word(const NaiveWords *w, int k, const unsigned char *s, size_t n, int S) {
    if (w->len[k] != (int)n) return 0;
    for (size_t q = 0; q < n; q++)
        if (w->sym[k][q] != S + s[q]) return 0;
    return 1;
}

static void naive_train(const char *text, int S, int V, int32_t *merges, int *M) {
    static NaiveWords w;
    memset(&w, 0, sizeof w);
    const unsigned char *s = (const unsigned char *)text;
    const size_t n = strlen(text);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        if (s[i] == ' ' && i + 1 < n && cls(s[i + 1]) != 2) j++;
        const int c = cls(s[j]);
        j++;
        while (j < n && cls(s[j]) == c)
            j++;
        if (c == 2 && j < n && j - i > 1 && s[j - 1] == ' ') j--;
        int k = 0;
        while (k < w.n && !same_word(&w, k, s + i, j - i, S))
            k++;
        if (k == w.n) {
            ck_assert_int_lt(j - i, 64);
            w.len[w.n] = (int)(j - i);
            for (size_t q = 0; q < j - i; q++)
                w.sym[w.n][q] = S + s[i + q];
            w.n++;
        }
        w.count[k]++;
        i = j;
    }
    *M = 0;
    int *cnt = calloc((size_t)V * V, sizeof *cnt);
    while (S + 256 + *M < V) {
        memset(cnt, 0, (size_t)V * V * sizeof *cnt);
        for (int k = 0; k < w.n; k++)
            for (int q = 0; q + 1 < w.len[k]; q++)
                cnt[w.sym[k][q] * V + w.sym[k][q + 1]] += w.count[k];
        int best = -1; // row-major scan: the first maximum is the smallest (left, right)
        for (int p = 0; p < V * V; p++)
            if (best < 0 || cnt[p] > cnt[best]) best = p;
        if (cnt[best] < 2) break;
        const int l = best / V, r = best % V, t = S + 256 + *M;
        merges[2 * *M] = l;
        merges[2 * *M + 1] = r;
        (*M)++;
        for (int k = 0; k < w.n; k++) {
            int o = 0;
            for (int q = 0; q < w.len[k]; q++) {
                if (q + 1 < w.len[k] && w.sym[k][q] == l && w.sym[k][q + 1] == r) {
                    w.sym[k][o++] = t;
                    q++;
                } else {
                    w.sym[k][o++] = w.sym[k][q];
                }
            }
            w.len[k] = o;
        }
    }
    free(cnt);
}

START_TEST(test_incremental_training_matches_naive_twin) {
    const int V = N_SPECIALS + 256 + 300;
    Bpe b = {0};
    train_english(&b, V);
    int32_t *naive = malloc(2 * 300 * sizeof *naive);
    int M = 0;
    naive_train(ENGLISH, N_SPECIALS, V, naive, &M);
    ck_assert_int_gt(M, 100);
    assert_merges(&b, naive, M);
    free(naive);
    bpe_free(&b);
}
END_TEST

START_TEST(test_training_is_deterministic) {
    Bpe a = {0}, b = {0};
    train_english(&a, 700);
    train_english(&b, 700);
    ck_assert_int_eq(a.n_merges, b.n_merges);
    ck_assert_int_gt(a.n_merges, 0);
    ck_assert(memcmp(a.merges, b.merges, 2 * (size_t)a.n_merges * sizeof *a.merges) == 0);
    bpe_free(&a);
    bpe_free(&b);
}
END_TEST

static void assert_round_trip(const Bpe *b, const char *text, size_t n) {
    int *ids = malloc((n + 1) * sizeof *ids);
    const int k = bpe_encode_n(b, text, n, BPE_SPECIALS_AS_BYTES, ids, (int)n + 1);
    ck_assert_int_le(k, (int)n);
    ck_assert_int_eq(bpe_encode_n(b, text, n, BPE_SPECIALS_AS_BYTES, NULL, 0), k);
    for (int i = 0; i < k; i++)
        ck_assert_int_ge(ids[i], N_SPECIALS); // specials never come from bytes by default
    char *out = malloc(n + 1);
    ck_assert_uint_eq(bpe_decode(b, ids, k, NULL, 0), n);
    ck_assert_uint_eq(bpe_decode(b, ids, k, out, n + 1), n);
    ck_assert_msg(memcmp(out, text, n) == 0 && out[n] == '\0', "round trip differs for %zu bytes",
                  n);
    free(out);
    free(ids);
}

START_TEST(test_round_trips_are_exact) {
    Bpe b = {0};
    train_english(&b, 512);
    const char *cases[] = {
        "",
        "The baker worked through the night.",
        ENGLISH,
        "Größe, naïve café — 日本語のテキスト, emoji 🙂🙂 and Ελληνικά.",
        "   leading\t\ttabs  and   runs \n\n\n  of\r\n whitespace   ",
        " ",
        "\n",
        "x  ",
        "<bos>not a special<eos>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_round_trip(&b, cases[i], strlen(cases[i]));
    Rng r;
    rng_init(&r, 1234, 0, 0, 0);
    char bytes[3000];
    for (int t = 0; t < 5; t++) {
        const size_t n = 1 + rng_below(&r, sizeof bytes);
        for (size_t i = 0; i < n; i++)
            bytes[i] = (char)rng_below(&r, 256); // NULs included
        assert_round_trip(&b, bytes, n);
    }
    bpe_free(&b);
}
END_TEST

START_TEST(test_specials_map_to_their_ids_only_when_allowed) {
    Bpe b = {0};
    train_english(&b, 512);
    const char *text = "<bos>the dog<image><eos>";
    int ids[64];
    const int k = bpe_encode_n(&b, text, strlen(text), BPE_ALLOW_SPECIALS, ids, 64);
    ck_assert_int_ge(k, 4);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(ids[k - 2], 3);
    ck_assert_int_eq(ids[k - 1], 2);
    for (int i = 1; i < k - 2; i++)
        ck_assert_int_ge(ids[i], N_SPECIALS);
    char out[128];
    ck_assert_uint_eq(bpe_decode(&b, ids, k, out, sizeof out), strlen(text));
    ck_assert_str_eq(out, text);
    // The middle equals the plain encoding of "the dog".
    int plain[64];
    ck_assert_int_eq(bpe_encode(&b, "the dog", plain, 64), k - 3);
    ck_assert(memcmp(plain, ids + 1, (size_t)(k - 3) * sizeof *ids) == 0);
    // Default: the same text has no special id.
    const int k2 = bpe_encode(&b, text, ids, 64);
    ck_assert_int_gt(k2, k);
    for (int i = 0; i < k2; i++)
        ck_assert_int_ge(ids[i], N_SPECIALS);
    const int pad[] = {0, 4};
    ck_assert_uint_eq(bpe_decode(&b, pad, 2, out, sizeof out), 12);
    ck_assert_str_eq(out, "<pad><audio>");
    bpe_free(&b);
}
END_TEST

START_TEST(test_save_load_gives_the_same_encodings) {
    Bpe b = {0}, c = {0};
    train_english(&b, 600);
    const size_t n = bpe_save(&b, NULL, 0);
    uint8_t *buf = malloc(n);
    ck_assert_uint_eq(bpe_save(&b, buf, n), n);
    char err[256] = "";
    ck_assert_msg(bpe_load(&c, buf, n, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.vocab_size, b.vocab_size);
    ck_assert_int_eq(c.n_specials, N_SPECIALS);
    for (int i = 0; i < N_SPECIALS; i++)
        ck_assert_str_eq(c.specials[i], SPECIALS[i]);
    const char *texts[] = {ENGLISH, "Größe 42 <eos> foo   bar"};
    for (int t = 0; t < 2; t++) {
        const size_t len = strlen(texts[t]);
        int *x = malloc((len + 1) * sizeof *x), *y = malloc((len + 1) * sizeof *y);
        const int kx = bpe_encode_n(&b, texts[t], len, BPE_ALLOW_SPECIALS, x, (int)len + 1);
        const int ky = bpe_encode_n(&c, texts[t], len, BPE_ALLOW_SPECIALS, y, (int)len + 1);
        ck_assert_int_eq(kx, ky);
        ck_assert(memcmp(x, y, (size_t)kx * sizeof *x) == 0);
        free(x);
        free(y);
    }
    // The arrays route gives the same tokenizer too.
    Bpe d = {0};
    ck_assert_int_eq(bpe_from_arrays(&d, (const char *const *)b.specials, b.n_specials, b.merges,
                                     b.n_merges, err, sizeof err),
                     0);
    ck_assert_uint_eq(bpe_save(&d, NULL, 0), n);
    bpe_free(&d);
    bpe_free(&c);
    bpe_free(&b);
    free(buf);
}
END_TEST

static void assert_load_refused(const uint8_t *buf, size_t n, const char *needle) {
    Bpe c;
    memset(&c, 0xab, sizeof c);
    char err[256] = "";
    ck_assert_int_eq(bpe_load(&c, buf, n, err, sizeof err), -1);
    ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
    ck_assert_ptr_null(c.merges); // left zeroed
    ck_assert_int_eq(c.vocab_size, 0);
}

START_TEST(test_damaged_files_are_refused_with_a_message) {
    Bpe b = {0};
    train_english(&b, 400);
    const size_t n = bpe_save(&b, NULL, 0);
    uint8_t *buf = malloc(n), *bad = malloc(n);
    bpe_save(&b, buf, n);
    const size_t merges_at = n - 8 * (size_t)b.n_merges;

    memcpy(bad, buf, n); // merge 10's left id points at itself
    const int32_t self = N_SPECIALS + 256 + 10;
    for (int i = 0; i < 4; i++)
        bad[merges_at + 80 + i] = (uint8_t)(self >> (8 * i));
    assert_load_refused(bad, n, "bpe merge 10 is");
    memcpy(bad, buf, n); // merge 3's right id names special 1
    bad[merges_at + 28] = 1;
    bad[merges_at + 29] = bad[merges_at + 30] = bad[merges_at + 31] = 0;
    assert_load_refused(bad, n, "bpe merge 3 is");
    memcpy(bad, buf, n); // merge 7 repeats merge 0
    memcpy(bad + merges_at + 56, buf + merges_at, 8);
    assert_load_refused(bad, n, "repeats the pair");
    assert_load_refused(buf, n - 3, "after the specials"); // truncated
    assert_load_refused(buf, 5, "does not start");
    memcpy(bad, buf, n);
    bad[0] = 'X';
    assert_load_refused(bad, n, "does not start");
    memcpy(bad, buf, n); // special 0's length runs off the end
    bad[16] = 0xff;
    assert_load_refused(bad, n, "special 0");

    // Arrays: a doubling chain would decode to 2^13 bytes.
    int32_t chain[2 * 13];
    chain[0] = chain[1] = 'a';
    for (int m = 1; m < 13; m++)
        chain[2 * m] = chain[2 * m + 1] = 256 + m - 1;
    Bpe c = {0};
    char err[256] = "";
    ck_assert_int_eq(bpe_from_arrays(&c, NULL, 0, chain, 12, err, sizeof err), 0);
    bpe_free(&c);
    ck_assert_int_eq(bpe_from_arrays(&c, NULL, 0, chain, 13, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "makes a token of 8192 bytes"));
    const char *dup[] = {"<a>", "<a>"};
    ck_assert_int_eq(bpe_from_arrays(&c, dup, 2, NULL, 0, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "repeats special 0"));
    bpe_free(&b);
    free(buf);
    free(bad);
}
END_TEST

START_TEST(test_english_compresses_more_than_1_5x_at_V_512) { // target V; see below
    Bpe b = {0};
    train_english(&b, 512);
    // The text is small: training stops when no pair occurs twice, at V = 430.
    ck_assert_int_gt(b.vocab_size, 400);
    ck_assert_int_le(b.vocab_size, 512);
    const size_t n = strlen(ENGLISH);
    int *ids = malloc(n * sizeof *ids);
    const int k = bpe_encode(&b, ENGLISH, ids, (int)n);
    const double ratio = (double)n / k;
    ck_assert_msg(ratio > MIN_COMPRESSION, "compression %.3f (%zu bytes, %d tokens)", ratio, n, k);
    free(ids);
    bpe_free(&b);
}
END_TEST

static Bpe *g_bpe; // the forked child's tokenizer (expect_die runs fn in a child)
static void encode_small_cap(void *arg) {
    int ids[3];
    (void)arg;
    bpe_encode(g_bpe, "the city and the village", ids, 3);
}
static void decode_bad_id(void *arg) {
    const int ids[] = {10, 9999};
    char out[64];
    (void)arg;
    bpe_decode(g_bpe, ids, 2, out, sizeof out);
}
static void decode_small_out(void *arg) {
    const int ids[] = {0, 1};
    char out[6];
    (void)arg;
    bpe_decode(g_bpe, ids, 2, out, sizeof out);
}

START_TEST(test_bad_calls_die_with_a_message) {
    Bpe b = {0};
    train_english(&b, 400);
    g_bpe = &b;
    expect_die(encode_small_cap, NULL, "bpe_encode_n", "needs", "cap=3");
    expect_die(decode_bad_id, NULL, "bpe_decode", "id 9999 at position 1", "V=400");
    expect_die(decode_small_out, NULL, "bpe_decode", "needs 10 bytes", "cap=6");
    bpe_free(&b);
    bpe_free(&b); // safe twice
}
END_TEST

Suite *bpe_suite(void) {
    Suite *s = suite_create("bpe");
    TCase *tc = tcase_create("bpe");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hand_example_first_merges_in_order);
    tcase_add_test(tc, test_ties_go_to_the_smallest_pair);
    tcase_add_test(tc, test_incremental_training_matches_naive_twin);
    tcase_add_test(tc, test_training_is_deterministic);
    tcase_add_test(tc, test_round_trips_are_exact);
    tcase_add_test(tc, test_specials_map_to_their_ids_only_when_allowed);
    tcase_add_test(tc, test_save_load_gives_the_same_encodings);
    tcase_add_test(tc, test_damaged_files_are_refused_with_a_message);
    tcase_add_test(tc, test_english_compresses_more_than_1_5x_at_V_512);
    tcase_add_test(tc, test_bad_calls_die_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}
