// test_shift.c - CD-CCA's shifting stream (data/shift.h): stage 0 is the identity; the rotation
// helper at 0, 90, 180 and 270 degrees against index permutations; the stretch at 1 and 2; the same
// row id is shifted identically wherever it sits in a batch; every stage changes real
// AV-FashionMNIST image and audio rows (avfmnist_ci.h5 in MMC_DATA_DIR, through train/samples.h as
// the model sees them) and the stages differ from each other; values stay finite; the text's change
// rate is within a binomial bound of q; bad stages die naming the stage.
//
// SHIFT_TABLE=1 prints, per stage, the mean/std of the shifted rows against the source and the
// text's change rate (the table of docs/stream.md).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/dataset.h"
#include "data/shift.h"
#include "helpers.h"
#include "train/samples.h"

// A stage must move a row by at least this much on average, in units of the row's std: noise
// alone at the smallest level (0.3 std) moves it by ~0.24 std, a contrast of 0.8 by ~0.16 std.
#define SHIFT_FLOOR 0.1
// Two stages must differ from each other by at least this much (same units).
#define STAGE_GAP 0.1
// Binomial bound on a change rate: this many standard deviations of the count.
#define BINOM_SIGMAS 5.0
// Bilinear interpolation of a linear ramp is exact: float rounding of coordinates near 4 only.
#define TOL_INTERP 1e-5

enum { ROWS = 128 };

// ---- helpers ----

static void fill_rows(float *x, size_t n, uint32_t stream) { fill_uniform(x, n, 0, 1, stream); }

static double mean_abs_diff(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)a[i] - b[i]);
    return s / (double)n;
}

static void moments(const float *x, size_t n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(ss / (double)n);
}

// ---- the helpers of the ops ----

START_TEST(test_rotation_by_multiples_of_90_is_a_permutation) {
    enum { S = 7, H = 5, W = 8 };
    float in[S * S], out[S * S];
    fill_rows(in, S * S, 1);
    shift_rotate(out, in, S, S, 0, -5);
    ck_assert(memcmp(out, in, sizeof in) == 0);
    shift_rotate(out, in, S, S, 90, -5); // counter-clockwise as displayed
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++)
            ck_assert_float_eq(out[i * S + j], in[j * S + (S - 1 - i)]);
    shift_rotate(out, in, S, S, -90, -5); // = 270
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++)
            ck_assert_float_eq(out[i * S + j], in[(S - 1 - j) * S + i]);
    float r[H * W], o[H * W];
    fill_rows(r, H * W, 2);
    shift_rotate(o, r, H, W, 180, -5); // a non-square image turned half-way
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            ck_assert_float_eq(o[i * W + j], r[(H - 1 - i) * W + (W - 1 - j)]);
    // 90 degrees on the non-square image brings in the fill where the source is outside.
    shift_rotate(o, r, H, W, 90, -5);
    ck_assert_float_eq(o[0], -5);
}
END_TEST

START_TEST(test_rotation_interpolates_bilinearly) {
    // A linear ramp rotated by 45 degrees: interior points equal the ramp at the rotated
    // coordinate (bilinear interpolation is exact on a linear function).
    enum { S = 9 };
    float in[S * S], out[S * S];
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++)
            in[i * S + j] = (float)j;
    shift_rotate(out, in, S, S, 45, 0);
    double c = cos(M_PI / 4), s = sin(M_PI / 4);
    for (int i = 3; i <= 5; i++)
        for (int j = 3; j <= 5; j++) {
            double x = 4 + (j - 4) * c - (i - 4) * s;
            ck_assert_double_eq_tol(out[i * S + j], x, TOL_INTERP);
        }
}
END_TEST

START_TEST(test_stretch_by_one_is_identity_and_by_two_takes_every_other_frame) {
    enum { H = 9, W = 3 };
    float in[H * W], out[H * W], bg[W] = {-7, -8, -9};
    fill_rows(in, H * W, 3);
    shift_stretch(out, in, H, W, 1, bg);
    ck_assert(memcmp(out, in, sizeof in) == 0);
    shift_stretch(out, in, H, W, 2, bg); // centre frame 4: out[t] = in[4 + 2 (t - 4)]
    for (int t = 0; t < H; t++)
        for (int m = 0; m < W; m++) {
            int src = 4 + 2 * (t - 4);
            float want = src >= 0 && src < H ? in[src * W + m] : bg[m];
            ck_assert_float_eq(out[t * W + m], want);
        }
}
END_TEST

// ---- the stages on synthetic rows ----

START_TEST(test_stage_0_is_the_identity) {
    enum { B = 4, H = 28, W = 28, T = 8 };
    static float x[B * H * W], y[B * H * W];
    int tok[B * T], tok0[B * T];
    int64_t id[B] = {0, 5, 9, 1000};
    fill_rows(x, sizeof x / sizeof x[0], 4);
    memcpy(y, x, sizeof x);
    shift_dense(0, "image", y, B, H, W, id, 1);
    shift_dense(0, "audio", y, B, H, W, id, 1);
    ck_assert(memcmp(x, y, sizeof x) == 0);
    for (int i = 0; i < B * T; i++)
        tok[i] = tok0[i] = i % 5 == 4 ? -1 : 2 + i % 60;
    shift_tokens(0, tok, B, T, 66, id, 1);
    ck_assert(memcmp(tok, tok0, sizeof tok) == 0);
    ck_assert_str_eq(shift_stage_name(0), "source");
}
END_TEST

START_TEST(test_an_unknown_modality_is_left_unchanged) {
    enum { B = 2, H = 4, W = 6 };
    float x[B * H * W], y[B * H * W];
    int64_t id[B] = {1, 2};
    fill_rows(x, B * H * W, 5);
    memcpy(y, x, sizeof x);
    for (int s = 1; s <= shift_n_stages(); s++) {
        shift_dense(s, "vector", y, B, H, W, id, 1);
        shift_dense(s, "Image", y, B, H, W, id, 1); // names are exact
    }
    ck_assert(memcmp(x, y, sizeof x) == 0);
}
END_TEST

START_TEST(test_a_row_is_shifted_the_same_anywhere_in_any_batch) {
    enum { B = 5, H = 98, W = 40, T = 8 };
    static float src[B * H * W], a[B * H * W], c[B * H * W], one[H * W];
    int64_t id[B] = {3, 17, 4096, 2, 70000};
    const char *mods[2] = {"image", "audio"}; // 98 x 40 for both: the image ops take any shape
    fill_rows(src, sizeof src / sizeof src[0], 6);
    for (int s = 1; s <= shift_n_stages(); s++) {
        for (int k = 0; k < 2; k++) {
            memcpy(a, src, sizeof a);
            shift_dense(s, mods[k], a, B, H, W, id, 42);
            for (int b = 0; b < B; b++) { // each row alone, in a batch of one
                memcpy(one, src + (size_t)b * H * W, sizeof one);
                shift_dense(s, mods[k], one, 1, H, W, &id[b], 42);
                ck_assert_msg(memcmp(one, a + (size_t)b * H * W, sizeof one) == 0,
                              "stage %d %s row id %lld differs alone", s, mods[k],
                              (long long)id[b]);
            }
            // Another seed gives another shift where the stage draws anything.
            memcpy(c, src, sizeof c);
            shift_dense(s, mods[k], c, B, H, W, id, 43);
            const ShiftStage *st = shift_stage(s);
            int draws = k == 0 ? st->noise > 0 || st->rotate_jit > 0 || st->patch > 0
                               : st->a_noise > 0 || st->band_mask > 0;
            if (draws)
                ck_assert_msg(memcmp(a, c, sizeof a) != 0, "stage %d %s ignores the seed", s,
                              mods[k]);
        }
        int tok[B * T], rev[B * T];
        int64_t rid[B];
        for (int i = 0; i < B * T; i++)
            tok[i] = 2 + (i * 7) % 64;
        for (int b = 0; b < B; b++) { // the batch reversed
            rid[b] = id[B - 1 - b];
            memcpy(rev + b * T, tok + (B - 1 - b) * T, T * sizeof *tok);
        }
        shift_tokens(s, tok, B, T, 66, id, 42);
        shift_tokens(s, rev, B, T, 66, rid, 42);
        for (int b = 0; b < B; b++)
            ck_assert(memcmp(tok + b * T, rev + (B - 1 - b) * T, T * sizeof *tok) == 0);
    }
}
END_TEST

START_TEST(test_text_changes_at_rate_q) {
    enum { B = 4000, T = 8, V = 66 };
    static int tok[B * T], orig[B * T];
    static int64_t id[B];
    for (int b = 0; b < B; b++)
        id[b] = b;
    for (int s = 1; s <= shift_n_stages(); s++) {
        const ShiftStage *st = shift_stage(s);
        for (int i = 0; i < B * T; i++) // every 8th slot padding, the rest words (some <unk>)
            orig[i] = tok[i] = i % 8 == 7 ? -1 : i % 13 == 0 ? 1 : 2 + (i * 31) % (V - 2);
        shift_tokens(s, tok, B, T, V, id, 9);
        long words = 0, changed = 0, dropped = 0, bad = 0; // bad: padding moved, or a bad id
        for (int i = 0; i < B * T; i++) {
            if (orig[i] < 0) {
                bad += tok[i] != -1;
                continue;
            }
            words++;
            if (tok[i] == orig[i]) continue;
            changed++;
            if (tok[i] == -1)
                dropped++;
            else
                bad += tok[i] < SHIFT_FIRST_WORD || tok[i] >= V;
        }
        ck_assert_msg(bad == 0, "stage %d: %ld padding slots or new ids wrong", s, bad);
        double q = st->q, sd = sqrt(words * q * (1 - q));
        ck_assert_msg(fabs(changed - words * q) <= BINOM_SIGMAS * sd,
                      "stage %d: %ld of %ld words changed, q = %g", s, changed, words, q);
        double pd = q * st->q_drop, sdd = sqrt(words * pd * (1 - pd));
        ck_assert_msg(fabs(dropped - words * pd) <= BINOM_SIGMAS * sdd + 1e-9,
                      "stage %d: %ld of %ld words dropped, q * q_drop = %g", s, dropped, words, pd);
    }
}
END_TEST

// ---- the stages on real rows ----

typedef struct {
    Dataset *ds;
    SampleLayout sl;
    SampleSet s;
    Batch b;
    int mi, ma, mt; // modality indices: image, audio, text
    int64_t id[ROWS];
} Real;

static void real_load(Real *r) {
    char path[512], err[1024];
    const char *dir = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    snprintf(path, sizeof path, "%s/avfmnist_ci.h5", dir);
    r->ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(r->ds != NULL, "%s", err);
    samples_layout(&r->sl, r->ds);
    r->mi = dataset_modality_index(r->ds, "image");
    r->ma = dataset_modality_index(r->ds, "audio");
    r->mt = dataset_modality_index(r->ds, "text");
    ck_assert(r->mi >= 0 && r->ma >= 0 && r->mt >= 0);
    uint8_t mask[ROWS];
    for (int i = 0; i < ROWS; i++)
        r->id[i] = i, mask[i] = 7;
    sampleset_load(&r->s, &r->sl, r->ds, DS_TEST, r->id, mask, ROWS);
    batch_init(&r->b, &r->sl, ROWS);
    sampleset_batch(&r->s, &r->sl, NULL, 0, ROWS, &r->b);
}

static void real_free(Real *r) {
    batch_free(&r->b);
    sampleset_free(&r->s);
    dataset_close(r->ds);
}

static void dims(const Real *r, int m, int *H, int *W) {
    const DatasetModality *dm = dataset_modality(r->ds, m);
    ck_assert_int_eq(dm->ndims, 2);
    *H = (int)dm->dims[0], *W = (int)dm->dims[1];
}

START_TEST(test_every_stage_changes_real_rows_and_the_stages_differ) {
    Real r;
    real_load(&r);
    int mods[2] = {r.mi, r.ma};
    const char *names[2] = {"image", "audio"};
    int S = shift_n_stages();
    ck_assert_int_ge(S, 5);
    int table = getenv("SHIFT_TABLE") != NULL;
    if (table)
        printf("%-8s %-6s %9s %9s %9s %9s %9s\n", "stage", "mod", "mean", "std", "src mean",
               "src std", "|change|");
    for (int k = 0; k < 2; k++) {
        int H, W;
        dims(&r, mods[k], &H, &W);
        size_t n = (size_t)ROWS * H * W;
        const float *src = r.b.dense[mods[k]];
        float **out = malloc(((size_t)S + 1) * sizeof *out);
        double sm, ss;
        moments(src, n, &sm, &ss);
        for (int s = 0; s <= S; s++) {
            out[s] = malloc(n * sizeof **out);
            memcpy(out[s], src, n * sizeof **out);
            shift_dense(s, names[k], out[s], ROWS, H, W, r.id, 2024);
            size_t bad = 0; // counted, then one assertion: Check reports each passing one
            for (size_t i = 0; i < n; i++)
                bad += !isfinite(out[s][i]);
            ck_assert_msg(bad == 0, "stage %d %s: %zu elements not finite", s, names[k], bad);
            double change = mean_abs_diff(out[s], src, n) / ss, m, sd;
            moments(out[s], n, &m, &sd);
            if (table)
                printf("%-8s %-6s %9.3f %9.3f %9.3f %9.3f %9.3f\n", shift_stage_name(s), names[k],
                       m, sd, sm, ss, change);
            if (s == 0)
                ck_assert(change == 0);
            else
                ck_assert_msg(change > SHIFT_FLOOR, "stage %d (%s) moves %s rows by %.3f std only",
                              s, shift_stage_name(s), names[k], change);
        }
        for (int s = 1; s <= S; s++)
            for (int t = s + 1; t <= S; t++) {
                double gap = mean_abs_diff(out[s], out[t], n) / ss;
                ck_assert_msg(gap > STAGE_GAP, "stages %d and %d give %s rows only %.3f std apart",
                              s, t, names[k], gap);
            }
        for (int s = 0; s <= S; s++)
            free(out[s]);
        free(out);
    }
    if (table) { // the text's measured change rate on the real rows
        int T = (int)dataset_modality(r.ds, r.mt)->row_elems, V = dataset_vocab_size(r.ds);
        int *tok = malloc((size_t)ROWS * T * sizeof *tok);
        for (int s = 1; s <= S; s++) {
            memcpy(tok, r.b.tokens[r.mt], (size_t)ROWS * T * sizeof *tok);
            shift_tokens(s, tok, ROWS, T, V, r.id, 2024);
            long words = 0, changed = 0;
            for (int i = 0; i < ROWS * T; i++)
                if (r.b.tokens[r.mt][i] >= 0) words++, changed += tok[i] != r.b.tokens[r.mt][i];
            printf("%-8s text   %ld of %ld words changed (%.3f, q = %.2f)\n", shift_stage_name(s),
                   changed, words, (double)changed / (double)words, shift_stage(s)->q);
        }
        free(tok);
    }
    real_free(&r);
}
END_TEST

// ---- errors ----

static void bad_stage_dense(void *arg) {
    (void)arg;
    float x[4] = {0};
    int64_t id = 0;
    shift_dense(SHIFT_N_STAGES + 1, "image", x, 1, 2, 2, &id, 1);
}

static void bad_stage_name(void *arg) {
    (void)arg;
    shift_stage_name(-1);
}

static void bad_token(void *arg) {
    (void)arg;
    int t[2] = {3, 66};
    int64_t id = 0;
    shift_tokens(1, t, 1, 2, 66, &id, 1);
}

static void bad_id(void *arg) {
    (void)arg;
    float x[4] = {0};
    int64_t id = -3;
    shift_dense(1, "audio", x, 1, 2, 2, &id, 1);
}

START_TEST(test_bad_arguments_die_naming_them) {
    expect_die(bad_stage_dense, NULL, "shift stage 7 is not in [0, 6]");
    expect_die(bad_stage_name, NULL, "shift stage -1");
    expect_die(bad_token, NULL, "id 66", "outside [-1, 66)");
    expect_die(bad_id, NULL, "id -3");
}
END_TEST

Suite *shift_suite(void) {
    Suite *s = suite_create("shift");
    TCase *tc = tcase_create("shift");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rotation_by_multiples_of_90_is_a_permutation);
    tcase_add_test(tc, test_rotation_interpolates_bilinearly);
    tcase_add_test(tc, test_stretch_by_one_is_identity_and_by_two_takes_every_other_frame);
    tcase_add_test(tc, test_stage_0_is_the_identity);
    tcase_add_test(tc, test_an_unknown_modality_is_left_unchanged);
    tcase_add_test(tc, test_a_row_is_shifted_the_same_anywhere_in_any_batch);
    tcase_add_test(tc, test_text_changes_at_rate_q);
    tcase_add_test(tc, test_every_stage_changes_real_rows_and_the_stages_differ);
    tcase_add_test(tc, test_bad_arguments_die_naming_them);
    suite_add_tcase(s, tc);
    return s;
}
