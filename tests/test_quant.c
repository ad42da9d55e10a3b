// test_quant.c - block quantisation (int8, int4, NF4): sizes, hand-computed codes and packing, the
// per-element error bound on random, heavy-tailed and adversarial blocks (one huge value, a
// subnormal block, FLT_MAX, zeros, a short last block, n = 1), exact round trip on the grid, the
// NF4 table, damaged input dying with the index; the quantised linear forward (ahead and fused)
// against the float forward of the decoded weight and of the original weight, and their timing at
// the CD-CCA student's shapes (printed, docs/quant.md).
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "helpers.h"
#include "nn/linear.h"
#include "nn/quant.h"

// The bound of quant.h holds in exact arithmetic; float adds at most a few ulps of the scale
// (the level L[q] and L[q]·s are each rounded once).
#define TOL_QUANT_ULPS (4.0 * FLT_EPSILON)
// Quantised linear vs the float linear of the same decoded weight: float sums in another order.
#define TOL_QLIN_DECODED TOL_BLAS_REF

static const QuantFormat fmts[3] = {QUANT_INT8, QUANT_INT4, QUANT_NF4};

typedef struct Quant {
    uint8_t *codes;
    float *scales, *dec;
} Quant;

// Encodes x (n) with fmt and block into q (allocated here, freed by quant_free) and decodes it.
static void quant_roundtrip(Quant *q, QuantFormat fmt, const float *x, size_t n, int block) {
    q->codes = xmalloc(quant_code_bytes(fmt, n) + 1);
    q->scales = xmalloc((quant_n_blocks(n, block) + 1) * sizeof(float));
    q->dec = xmalloc((n + 1) * sizeof(float));
    quant_encode(fmt, x, n, block, q->codes, q->scales);
    quant_decode(fmt, q->codes, q->scales, n, block, q->dec);
}

static void quant_free(Quant *q) { xfree(q->codes), xfree(q->scales), xfree(q->dec); }

// Every block's scale is its absmax, and every element is within the bound of its block's scale.
static void assert_within_bound(QuantFormat fmt, const float *x, size_t n, int block,
                                const char *what) {
    Quant q;
    quant_roundtrip(&q, fmt, x, n, block);
    double bound = quant_error_bound(fmt);
    for (size_t b0 = 0, blk = 0; b0 < n; b0 += (size_t)block, blk++) {
        size_t b1 = n - b0 < (size_t)block ? n : b0 + (size_t)block;
        float amax = 0.0f;
        for (size_t i = b0; i < b1; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        ck_assert_msg(q.scales[blk] == amax, "%s %s: scale of block %zu = %g, absmax %g", what,
                      quant_format_name(fmt), blk, (double)q.scales[blk], (double)amax);
        double s = amax;
        for (size_t i = b0; i < b1; i++) {
            double err = fabs((double)x[i] - (double)q.dec[i]);
            ck_assert_msg(err <= s * (bound + TOL_QUANT_ULPS),
                          "%s %s n=%zu block=%d: x[%zu] = %.9g decodes to %.9g, error %.3g > "
                          "%.4g x scale %.9g",
                          what, quant_format_name(fmt), n, block, i, (double)x[i], (double)q.dec[i],
                          err, bound, s);
            ck_assert_msg(fabsf(q.dec[i]) <= amax, "%s: |dec[%zu]| = %g exceeds the scale %g", what,
                          i, (double)q.dec[i], (double)amax);
        }
    }
    quant_free(&q);
}

START_TEST(test_quant_sizes_hand_computed) {
    ck_assert_uint_eq(quant_n_blocks(0, 64), 0);
    ck_assert_uint_eq(quant_n_blocks(1, 64), 1);
    ck_assert_uint_eq(quant_n_blocks(64, 64), 1);
    ck_assert_uint_eq(quant_n_blocks(65, 64), 2);
    ck_assert_uint_eq(quant_code_bytes(QUANT_INT8, 65), 65);
    ck_assert_uint_eq(quant_code_bytes(QUANT_INT4, 65), 33);
    ck_assert_uint_eq(quant_code_bytes(QUANT_NF4, 64), 32);
    // 1000 elements, block 64: 16 blocks; 4-bit: 500 bytes + 64 bytes of scales = 4.5 bits each.
    ck_assert_uint_eq(quant_bytes(QUANT_NF4, 1000, 64), 500 + 16 * 4);
    ck_assert_uint_eq(quant_bytes(QUANT_INT4, 1, 64), 1 + 4);
    ck_assert_uint_eq(quant_bytes(QUANT_INT8, 128, 64), 128 + 2 * 4);
}
END_TEST

START_TEST(test_quant_codes_and_packing_hand_computed) {
    // int8: block {1, -0.5, 0.25, 0}: scale 1, q = round(x·127) = 127, -64 (-63.5 away from 0),
    // 32 (31.75), 0.
    const float x[4] = {1.0f, -0.5f, 0.25f, 0.0f};
    uint8_t c8[4];
    float s[2];
    quant_encode(QUANT_INT8, x, 4, 64, c8, s);
    ck_assert_float_eq(s[0], 1.0f);
    ck_assert_int_eq((int8_t)c8[0], 127);
    ck_assert_int_eq((int8_t)c8[1], -64);
    ck_assert_int_eq((int8_t)c8[2], 32);
    ck_assert_int_eq((int8_t)c8[3], 0);
    // int4, block 2: blocks {1, -0.5} (s 1: q 7, -4 (-3.5 away from 0)) and {0.25, 0} (s 0.25:
    // q 7, 0); stored q + 8, element 2i in the low nibble of byte i.
    uint8_t c4[2];
    quant_encode(QUANT_INT4, x, 4, 2, c4, s);
    ck_assert_float_eq(s[0], 1.0f);
    ck_assert_float_eq(s[1], 0.25f);
    ck_assert_uint_eq(c4[0], (uint8_t)((4 << 4) | 15));
    ck_assert_uint_eq(c4[1], (uint8_t)((8 << 4) | 15));
    // NF4: 1 -> 15, -0.5 -> nearest of -0.5251 (2) and -0.3949 (3) is 2, 0.25 -> 0.2461 (10),
    // 0 -> 7; an odd n = 3 leaves the last high nibble 0.
    uint8_t cn[2] = {0xFF, 0xFF};
    quant_encode(QUANT_NF4, x, 3, 64, cn, s);
    ck_assert_uint_eq(cn[0], (uint8_t)((2 << 4) | 15));
    ck_assert_uint_eq(cn[1], 10);
}
END_TEST

START_TEST(test_quant_nf4_table_is_qloras) {
    int n = 0;
    const float *L = quant_levels(QUANT_NF4, &n);
    ck_assert_int_eq(n, 16);
    // Spot values of QLoRA's appendix E / bitsandbytes nf4_data, and the ordering.
    ck_assert_float_eq(L[0], -1.0f);
    ck_assert_float_eq(L[7], 0.0f);
    ck_assert_float_eq(L[15], 1.0f);
    ck_assert_float_eq(L[1], -0.6961928009986877f);
    ck_assert_float_eq(L[8], 0.07958029955625534f);
    ck_assert_float_eq(L[14], 0.7229568362236023f);
    for (int i = 0; i + 1 < 16; i++)
        ck_assert_msg(L[i] < L[i + 1], "NF4 levels not increasing at %d", i);
    // The largest gap is the first, -1 to -0.6962.
    ck_assert_double_eq_tol(quant_error_bound(QUANT_NF4), 0.5 * (1.0 - 0.6961928009986877), 1e-9);
    ck_assert_double_eq_tol(quant_error_bound(QUANT_INT8), 1.0 / 254.0, 1e-15);
    ck_assert_double_eq_tol(quant_error_bound(QUANT_INT4), 1.0 / 14.0, 1e-15);
}
END_TEST

// {n, block}: n = 1, exactly one block, a short last block, a block of 1, odd block lengths.
static const int rt_shapes[][2] = {{1, 64}, {64, 64}, {65, 64},  {1000, 64},
                                   {37, 1}, {101, 7}, {300, 128}};

START_TEST(test_quant_random_blocks_within_bound) {
    const int n = rt_shapes[_i][0], block = rt_shapes[_i][1];
    float *x = xmalloc((size_t)n * sizeof(float));
    Rng r;
    rng_init(&r, 1234, 0, 40 + (uint32_t)_i, RNG_TEST);
    for (int f = 0; f < 3; f++) {
        rng_fill_uniform(&r, x, (size_t)n, -3.0f, 3.0f);
        assert_within_bound(fmts[f], x, (size_t)n, block, "uniform");
        // Heavy tails: cubes of normals, where the absmax sits far from most of the block.
        rng_fill_normal(&r, x, (size_t)n, 0.0f, 1.0f);
        for (int i = 0; i < n; i++)
            x[i] = x[i] * x[i] * x[i];
        assert_within_bound(fmts[f], x, (size_t)n, block, "normal cubed");
    }
    xfree(x);
}
END_TEST

START_TEST(test_quant_adversarial_blocks_within_bound) {
    enum { n = 130 }; // two full blocks of 64 and a short one of 2
    float x[n];
    for (int f = 0; f < 3; f++) {
        QuantFormat fmt = fmts[f];
        // One huge value per block: everything else falls to the zero code, within the bound.
        fill_uniform(x, n, -1.0f, 1.0f, 50);
        x[3] = 1e30f, x[64 + 10] = -FLT_MAX, x[129] = 3e-3f;
        assert_within_bound(fmt, x, n, 64, "one huge value");
        // A subnormal block: 1 / absmax overflows float, the double path does not.
        for (int i = 0; i < n; i++)
            x[i] = (float)(i % 7 - 3) * 1e-45f;
        assert_within_bound(fmt, x, n, 64, "subnormal");
        // Every value FLT_MAX in magnitude: decoding must not overflow to inf.
        for (int i = 0; i < n; i++)
            x[i] = (i & 1) ? FLT_MAX : -FLT_MAX;
        assert_within_bound(fmt, x, n, 64, "FLT_MAX");
        // A zero block between non-zero ones: scale 0, exact zeros (and -0 stays a zero).
        fill_uniform(x, n, -1.0f, 1.0f, 51);
        for (int i = 64; i < 128; i++)
            x[i] = (i & 1) ? 0.0f : -0.0f;
        Quant q;
        quant_roundtrip(&q, fmt, x, n, 64);
        ck_assert_float_eq(q.scales[1], 0.0f);
        for (int i = 64; i < 128; i++)
            ck_assert_msg(q.dec[i] == 0.0f, "%s zero block: dec[%d] = %g", quant_format_name(fmt),
                          i, (double)q.dec[i]);
        quant_free(&q);
    }
}
END_TEST

START_TEST(test_quant_grid_values_round_trip_exactly) {
    enum { n = 203, block = 64 };
    float x[n];
    Rng r;
    rng_init(&r, 1234, 0, 60, RNG_TEST);
    for (int f = 0; f < 3; f++) {
        QuantFormat fmt = fmts[f];
        int nl = 0;
        const float *L = quant_levels(fmt, &nl);
        float s = 0.0f;
        for (int i = 0; i < n; i++) {
            // A new arbitrary scale per block, and the block's first element at ±1 so that the
            // absmax is that scale.
            if (i % block == 0) s = 0.01f + 10.0f * rng_uniform(&r);
            int c = (int)rng_below(&r, (uint32_t)nl);
            if (i % block == 0) c = fmt == QUANT_INT8 ? (i & 64 ? 129 : 127) : (i & 64 ? 1 : 15);
            if ((fmt == QUANT_INT8 && c == 128) || (fmt == QUANT_INT4 && c == 0)) c = nl / 2 + 1;
            x[i] = L[c] * s;
        }
        Quant q;
        quant_roundtrip(&q, fmt, x, n, block);
        for (int i = 0; i < n; i++)
            ck_assert_msg(q.dec[i] == x[i], "%s grid value x[%d] = %.9g decodes to %.9g",
                          quant_format_name(fmt), i, (double)x[i], (double)q.dec[i]);
        quant_free(&q);
    }
}
END_TEST

// Relative RMS error of fmt on x (n), block 64.
static double rel_rms(QuantFormat fmt, const float *x, size_t n) {
    Quant q;
    quant_roundtrip(&q, fmt, x, n, QUANT_BLOCK_DEFAULT);
    double se = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)x[i] - (double)q.dec[i];
        se += e * e, ss += (double)x[i] * (double)x[i];
    }
    quant_free(&q);
    return sqrt(se / ss);
}

// NF4's levels sit at normal quantiles: on Gaussian blocks it beats uniform int4 in RMS error, on
// uniform blocks int4 wins (QLoRA's argument, measured; the figures are in docs/quant.md).
START_TEST(test_quant_nf4_beats_int4_on_gaussian_blocks_only) {
    enum { n = 64 * 1024 };
    float *x = xmalloc(n * sizeof(float));
    Rng r;
    rng_init(&r, 1234, 0, 80, RNG_TEST);
    rng_fill_normal(&r, x, n, 0.0f, 1.0f);
    double g8 = rel_rms(QUANT_INT8, x, n), g4 = rel_rms(QUANT_INT4, x, n),
           gn = rel_rms(QUANT_NF4, x, n);
    rng_fill_uniform(&r, x, n, -1.0f, 1.0f);
    double u8 = rel_rms(QUANT_INT8, x, n), u4 = rel_rms(QUANT_INT4, x, n),
           un = rel_rms(QUANT_NF4, x, n);
    printf("relative RMS error, block 64: normal int8 %.4f int4 %.4f nf4 %.4f | uniform int8 %.4f "
           "int4 %.4f nf4 %.4f\n",
           g8, g4, gn, u8, u4, un);
    ck_assert_msg(gn < g4, "normal: nf4 %.4f not below int4 %.4f", gn, g4);
    ck_assert_msg(u4 < un, "uniform: int4 %.4f not below nf4 %.4f", u4, un);
    ck_assert_msg(g8 < gn && u8 < u4, "int8 not the most accurate");
    xfree(x);
}
END_TEST

static void encode_nan(void *arg) {
    (void)arg;
    float x[70] = {0};
    uint8_t c[70];
    float s[2];
    x[66] = NAN;
    quant_encode(QUANT_NF4, x, 70, 64, c, s);
}

static void encode_inf(void *arg) {
    (void)arg;
    float x[5] = {1, 2, 3, -INFINITY, 5};
    uint8_t c[5];
    float s[1];
    quant_encode(QUANT_INT8, x, 5, 64, c, s);
}

static void decode_bad_int8_code(void *arg) {
    (void)arg;
    uint8_t c[3] = {1, 2, 0x80};
    float s[1] = {1.0f}, out[3];
    quant_decode(QUANT_INT8, c, s, 3, 64, out);
}

static void decode_bad_int4_code(void *arg) {
    (void)arg;
    uint8_t c[2] = {0x88, 0x08}; // element 3 (high nibble of byte 1) is 0
    float s[1] = {1.0f}, out[4];
    quant_decode(QUANT_INT4, c, s, 4, 64, out);
}

static void decode_nan_scale(void *arg) {
    (void)arg;
    uint8_t c[40] = {0};
    float s[3] = {1.0f, 1.0f, NAN}, out[80];
    quant_decode(QUANT_NF4, c, s, 80, 32, out);
}

static void encode_bad_block(void *arg) {
    (void)arg;
    float x[1] = {1};
    uint8_t c[1];
    float s[1];
    quant_encode(QUANT_INT4, x, 1, 0, c, s);
}

static void linear_bad_shape(void *arg) {
    (void)arg;
    float o[1] = {0}, in[1] = {0}, w[1] = {0}, s[1] = {0};
    uint8_t c[1] = {0};
    quant_linear_forward(o, in, c, s, NULL, QUANT_INT8, 64, 1, 0, 1, QUANT_LINEAR_FUSED, w);
}

START_TEST(test_quant_bad_input_dies_naming_it) {
    expect_die(encode_nan, NULL, "quant_encode", "x[66]", "not finite", "nf4", "block 1");
    expect_die(encode_inf, NULL, "quant_encode", "x[3] = -inf", "int8");
    expect_die(decode_bad_int8_code, NULL, "quant_decode", "code 2 is -128");
    expect_die(decode_bad_int4_code, NULL, "quant_decode", "code 3 is 0");
    expect_die(decode_nan_scale, NULL, "quant_decode", "scale of block 2 = nan");
    expect_die(encode_bad_block, NULL, "quant_encode", "block length 0");
    expect_die(linear_bad_shape, NULL, "quant_linear_forward", "bad shape N=1 C=0 OC=1");
}
END_TEST

// ---- the quantised linear forward -------------------------------------------------------------

typedef struct QLin {
    int N, C, OC, block;
    QuantFormat fmt;
    float *inp, *w, *b, *wdec, *out, *ref, *work;
    uint8_t *codes;
    float *scales;
} QLin;

static void qlin_init(QLin *t, QuantFormat fmt, int N, int C, int OC, int block, uint32_t seed) {
    *t = (QLin){.N = N, .C = C, .OC = OC, .block = block, .fmt = fmt};
    t->inp = xmalloc((size_t)N * C * sizeof(float));
    t->w = xmalloc((size_t)OC * C * sizeof(float));
    t->wdec = xmalloc((size_t)OC * C * sizeof(float));
    t->b = xmalloc((size_t)OC * sizeof(float));
    t->out = xmalloc((size_t)N * OC * sizeof(float));
    t->ref = xmalloc((size_t)N * OC * sizeof(float));
    t->work = xmalloc(quant_linear_workspace_size(QUANT_LINEAR_AHEAD, C, OC) * sizeof(float));
    t->codes = xmalloc((size_t)OC * quant_code_bytes(fmt, (size_t)C));
    t->scales = xmalloc((size_t)OC * quant_n_blocks((size_t)C, block) * sizeof(float));
    fill_uniform(t->inp, (size_t)N * C, -1, 1, seed);
    Rng r;
    rng_init(&r, 1234, 0, seed + 1, RNG_TEST);
    rng_fill_normal(&r, t->w, (size_t)OC * C, 0.0f, 0.05f); // a trained weight's scale
    fill_uniform(t->b, (size_t)OC, -1, 1, seed + 2);
    quant_linear_encode(fmt, t->codes, t->scales, t->w, C, OC, block);
    quant_linear_decode(fmt, t->wdec, t->codes, t->scales, C, OC, block);
}

static void qlin_free(QLin *t) {
    xfree(t->inp), xfree(t->w), xfree(t->wdec), xfree(t->b), xfree(t->out), xfree(t->ref);
    xfree(t->work), xfree(t->codes), xfree(t->scales);
}

// {N, C, OC, block}: N = 1, C not a multiple of the block (short last block per row), odd C with
// 4-bit rows starting mid-byte if rows were not byte-aligned, the student's shapes, OC over two
// panels and a short third.
static const int ql_shapes[][4] = {{1, 5, 3, 64},   {3, 70, 4, 64},    {5, 33, 17, 8},
                                   {7, 129, 9, 64}, {64, 48, 128, 64}, {64, 128, 48, 64},
                                   {2, 11, 6, 3},   {3, 21, 150, 8}};

START_TEST(test_quant_linear_matches_float_linear) {
    const int *sh = ql_shapes[_i];
    for (int f = 0; f < 3; f++)
        for (int impl = 0; impl < 3; impl++)
            for (int with_b = 0; with_b < 2; with_b++) {
                QLin t;
                qlin_init(&t, fmts[f], sh[0], sh[1], sh[2], sh[3], 70 + (uint32_t)_i);
                const float *b = with_b ? t.b : NULL;
                // A dirty output and scratch: the forward writes, never accumulates.
                for (size_t i = 0; i < (size_t)t.N * t.OC; i++)
                    t.out[i] = 1e3f;
                quant_linear_forward(t.out, t.inp, t.codes, t.scales, b, t.fmt, t.block, t.N, t.C,
                                     t.OC, (QuantLinearImpl)impl, t.work);
                // Against the float forward of the decoded weight: only summation order differs.
                linear_forward_ref(t.ref, t.inp, t.wdec, b, t.N, t.C, t.OC);
                ck_assert_floats_near(t.out, t.ref, (size_t)t.N * t.OC, TOL_QLIN_DECODED,
                                      TOL_QLIN_DECODED);
                // Against the original weight: |Δout[n][o]| <= Σ_c |inp[n][c]| · s(o, c) · bound.
                linear_forward_ref(t.ref, t.inp, t.w, b, t.N, t.C, t.OC);
                size_t nb = quant_n_blocks((size_t)t.C, t.block);
                double bound = quant_error_bound(t.fmt);
                for (int n = 0; n < t.N; n++)
                    for (int o = 0; o < t.OC; o++) {
                        double lim = TOL_QLIN_DECODED;
                        for (int c = 0; c < t.C; c++)
                            lim += fabs(t.inp[(size_t)n * t.C + c]) *
                                   t.scales[(size_t)o * nb + (size_t)(c / t.block)] *
                                   (bound + TOL_QUANT_ULPS);
                        double d = fabs((double)t.out[(size_t)n * t.OC + o] -
                                        (double)t.ref[(size_t)n * t.OC + o]);
                        ck_assert_msg(
                            d <= lim, "%s %s: out[%d][%d] off the float weight's by %.3g > %.3g",
                            quant_format_name(t.fmt), impl ? "fused" : "ahead", n, o, d, lim);
                    }
                qlin_free(&t);
            }
}
END_TEST

// Median of reps timings of one forward (ms).
static double time_forward(QLin *t, int impl, int reps) {
    double ms[15] = {0};
    if (reps > 15) reps = 15;
    for (int k = 0; k < reps; k++) {
        double t0 = timer_now_ms();
        if (impl < 0)
            linear_forward(t->out, t->inp, t->w, t->b, t->N, t->C, t->OC);
        else
            quant_linear_forward(t->out, t->inp, t->codes, t->scales, t->b, t->fmt, t->block, t->N,
                                 t->C, t->OC, (QuantLinearImpl)impl, t->work);
        ms[k] = timer_now_ms() - t0;
    }
    for (int i = 1; i < reps; i++) // insertion sort, reps is small
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            double tmp = ms[j];
            ms[j] = ms[j - 1], ms[j - 1] = tmp;
        }
    return ms[reps / 2];
}

// Times the two implementations at the student's shapes and a larger one, prints a table
// (docs/quant.md quotes it) and checks that both agree there with the float forward of the
// decoded weight.
START_TEST(test_quant_linear_timing_at_student_shapes) {
    static const int shapes[][3] = {{64, 48, 128}, {64, 128, 48}, {256, 512, 512}};
    printf("quant linear forward, median ms (block 64; float = linear_forward on the float "
           "weight)\n%-14s %-5s %9s %9s %9s %9s\n",
           "N x C x OC", "fmt", "float", "ahead", "fused", "panel");
    for (int s = 0; s < 3; s++)
        for (int f = 0; f < 3; f++) {
            QLin t;
            qlin_init(&t, fmts[f], shapes[s][0], shapes[s][1], shapes[s][2], 64, 90);
            int reps = s == 2 ? 7 : 15;
            time_forward(&t, 0, 2); // warm-up
            double ms_float = time_forward(&t, -1, reps);
            double ms_ahead = time_forward(&t, QUANT_LINEAR_AHEAD, reps);
            linear_forward_ref(t.ref, t.inp, t.wdec, t.b, t.N, t.C, t.OC);
            ck_assert_floats_near(t.out, t.ref, (size_t)t.N * t.OC, TOL_QLIN_DECODED,
                                  TOL_QLIN_DECODED);
            double ms_fused = time_forward(&t, QUANT_LINEAR_FUSED, reps);
            ck_assert_floats_near(t.out, t.ref, (size_t)t.N * t.OC, TOL_QLIN_DECODED,
                                  TOL_QLIN_DECODED);
            double ms_panel = time_forward(&t, QUANT_LINEAR_PANEL, reps);
            ck_assert_floats_near(t.out, t.ref, (size_t)t.N * t.OC, TOL_QLIN_DECODED,
                                  TOL_QLIN_DECODED);
            char shape[32];
            snprintf(shape, sizeof shape, "%dx%dx%d", t.N, t.C, t.OC);
            printf("%-14s %-5s %9.3f %9.3f %9.3f %9.3f\n", shape, quant_format_name(t.fmt),
                   ms_float, ms_ahead, ms_fused, ms_panel);
            qlin_free(&t);
        }
    fflush(stdout);
}
END_TEST

Suite *quant_suite(void) {
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quant");
    tcase_add_test(tc, test_quant_sizes_hand_computed);
    tcase_add_test(tc, test_quant_codes_and_packing_hand_computed);
    tcase_add_test(tc, test_quant_nf4_table_is_qloras);
    tcase_add_loop_test(tc, test_quant_random_blocks_within_bound, 0,
                        (int)(sizeof rt_shapes / sizeof rt_shapes[0]));
    tcase_add_test(tc, test_quant_adversarial_blocks_within_bound);
    tcase_add_test(tc, test_quant_grid_values_round_trip_exactly);
    tcase_add_test(tc, test_quant_nf4_beats_int4_on_gaussian_blocks_only);
    tcase_add_test(tc, test_quant_bad_input_dies_naming_it);
    tcase_add_loop_test(tc, test_quant_linear_matches_float_linear, 0,
                        (int)(sizeof ql_shapes / sizeof ql_shapes[0]));
    tcase_add_test(tc, test_quant_linear_timing_at_student_shapes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
