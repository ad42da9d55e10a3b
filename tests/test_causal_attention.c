// test_causal_attention.c - the causal attention core and its KV cache: forward against the naive
// twin (shapes that hit BLAS edge cases), backward against central differences, causality (a token
// changes nothing before it), the cached step-by-step outputs against the full forward at every
// position, accumulation, and the cache overflow and bad arguments dying with their messages.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/causal_attention.h"

#define FD_H 1e-2       /* the step TOL_FD_REL is calibrated for */
#define TOL_ROWSUM 1e-5 /* a float32 row of <= 64 probabilities summing to 1 */
#define TOL_REF 2e-6    /* vs the double-precision twin: float sums over <= 70 terms, exp ~2e-7 */
#define TOL_STEP 1e-5   /* cached step vs full forward: the same math, other float sum orders */
#define TOL_ACC 1e-6    /* accumulation: one extra float addition per element */

// {B, T, D, H}: B = 1, T = 1, odd T, head widths 1, 5, 16, 32 and 70, the LM's T = 64.
static const int ca_shapes[][4] = {{1, 1, 4, 2},   {2, 3, 5, 1},   {1, 7, 15, 3},  {3, 16, 32, 2},
                                   {2, 17, 48, 3}, {1, 33, 70, 1}, {2, 5, 12, 12}, {2, 64, 128, 4}};
#define N_SHAPES (int)(sizeof ca_shapes / sizeof ca_shapes[0])

typedef struct CaCtx {
    float *out, *att, *qkv;
    const float *g;
    int B, T, D, H;
} CaCtx;

static double ca_loss(void *p) {
    CaCtx *c = p;
    causal_attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->D, c->H);
    return dot_double(c->out, c->g, (size_t)c->B * c->T * c->D);
}

START_TEST(test_causal_attention_forward_matches_naive_twin) {
    const int *sh = ca_shapes[_i];
    const int B = sh[0], T = sh[1], D = sh[2], H = sh[3];
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * H * T * T;
    float *qkv = xmalloc(nq * 4), *out = xmalloc(no * 4), *out_ref = xmalloc(no * 4);
    float *att = xmalloc(na * 4), *att_ref = xmalloc(na * 4);
    fill_uniform(qkv, nq, -2, 2, 10 + _i);
    causal_attention_forward(out, att, qkv, B, T, D, H);
    causal_attention_forward_ref(out_ref, att_ref, qkv, B, T, D, H);
    ck_assert_floats_near(att, att_ref, na, TOL_REF, TOL_REF);
    ck_assert_floats_near(out, out_ref, no, TOL_REF, TOL_REF);
    // Rows are distributions over keys 0..t; the future is an exact zero.
    for (size_t r = 0; r < (size_t)B * H * T; r++) {
        const int t = (int)(r % T);
        double sum = 0;
        for (int t2 = 0; t2 < T; t2++) {
            if (t2 > t)
                ck_assert_float_eq(att[r * T + t2], 0.0f);
            else
                ck_assert_float_gt(att[r * T + t2], 0.0f);
            sum += att[r * T + t2];
        }
        ck_assert_double_le(fabs(sum - 1.0), TOL_ROWSUM);
    }
    xfree(qkv), xfree(out), xfree(out_ref), xfree(att), xfree(att_ref);
}
END_TEST

START_TEST(test_causal_attention_backward_matches_finite_differences) {
    const int *sh = ca_shapes[_i];
    const int B = sh[0], T = sh[1], D = sh[2], H = sh[3];
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * H * T * T;
    CaCtx c = {.B = B, .T = T, .D = D, .H = H};
    c.qkv = xmalloc(nq * 4), c.out = xmalloc(no * 4), c.att = xmalloc(na * 4);
    float *g = xmalloc(no * 4), *dqkv = xcalloc(nq, 4);
    float *work = xmalloc(causal_attention_workspace_size(B, T, D, H) * 4);
    fill_uniform(c.qkv, nq, -1, 1, 40 + _i);
    fill_uniform(g, no, -1, 1, 80 + _i);
    c.g = g;
    ca_loss(&c);
    causal_attention_backward(dqkv, g, c.qkv, c.att, B, T, D, H, work);
    Rng rng;
    rng_init(&rng, 3, 0, (uint32_t)_i, RNG_TEST);
    // q, k and v are interleaved per token in qkv, so random probes cover all three.
    fd_check(ca_loss, &c, c.qkv, dqkv, nq, FD_H, 128, &rng);
    xfree(c.qkv), xfree(c.out), xfree(c.att), xfree(g), xfree(dqkv), xfree(work);
}
END_TEST

// Changing token t's q, k and v leaves every output before t bit-identical, and changes the
// output at t.
START_TEST(test_causal_attention_future_tokens_do_not_change_the_past) {
    const int B = 2, T = 11, D = 12, H = 3;
    const size_t nq = (size_t)B * T * 3 * D;
    float qkv[2 * 11 * 36], qkv2[2 * 11 * 36], o1[2 * 11 * 12], o2[2 * 11 * 12];
    float att[2 * 3 * 121];
    fill_uniform(qkv, nq, -2, 2, 130);
    causal_attention_forward(o1, att, qkv, B, T, D, H);
    for (int t = 0; t < T; t++) {
        memcpy(qkv2, qkv, sizeof qkv);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < 3 * D; c++)
                qkv2[((size_t)b * T + t) * 3 * D + c] += 0.5f + 0.1f * c;
        causal_attention_forward(o2, att, qkv2, B, T, D, H);
        for (int b = 0; b < B; b++) {
            const size_t row = (size_t)b * T * D;
            if (t > 0) ck_assert_mem_eq(&o1[row], &o2[row], (size_t)t * D * sizeof(float));
            int changed = 0;
            for (int i = 0; i < D; i++)
                changed |= o1[row + (size_t)t * D + i] != o2[row + (size_t)t * D + i];
            ck_assert_int_eq(changed, 1);
        }
    }
}
END_TEST

// Feeding the tokens one at a time through the cache gives the full forward's row at every
// position. _i picks the shape; the cache is made longer than T and for more sequences than B.
START_TEST(test_causal_attention_kv_cached_steps_equal_full_forward) {
    const int *sh = ca_shapes[_i];
    const int B = sh[0], T = sh[1], D = sh[2], H = sh[3];
    const int Bmax = B + 1, Tmax = T + 3;
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * H * T * T;
    float *qkv = xmalloc(nq * 4), *out = xmalloc(no * 4), *att = xmalloc(na * 4);
    float *tok = xmalloc((size_t)B * 3 * D * 4), *o = xmalloc((size_t)B * D * 4);
    const size_t nc = kv_cache_floats(Bmax, Tmax, D, H);
    ck_assert_uint_eq(nc, (size_t)Bmax * H * Tmax * (D / H));
    float *kb = xmalloc(nc * 4), *vb = xmalloc(nc * 4);
    KvCache cache;
    kv_cache_init(&cache, kb, vb, Bmax, Tmax, D, H);
    float *work = xmalloc(causal_attention_step_workspace_size(&cache) * 4);
    fill_uniform(qkv, nq, -2, 2, 140 + _i);
    causal_attention_forward(out, att, qkv, B, T, D, H);
    for (int pos = 0; pos < T; pos++) {
        for (int b = 0; b < B; b++)
            memcpy(tok + (size_t)b * 3 * D, qkv + ((size_t)b * T + pos) * 3 * D, (size_t)3 * D * 4);
        causal_attention_step(o, tok, &cache, pos, B, D, H, work);
        for (int b = 0; b < B; b++)
            ck_assert_floats_near(o + (size_t)b * D, out + ((size_t)b * T + pos) * D, D, TOL_STEP,
                                  TOL_STEP);
    }
    // The cache holds the keys and values in (B, H, Tmax, hd).
    const int hd = D / H, b = B - 1, h = H - 1, t = T - 1;
    ck_assert_mem_eq(kb + (((size_t)b * H + h) * Tmax + t) * hd,
                     qkv + ((size_t)b * T + t) * 3 * D + D + (size_t)h * hd, (size_t)hd * 4);
    ck_assert_mem_eq(vb + (((size_t)b * H + h) * Tmax + t) * hd,
                     qkv + ((size_t)b * T + t) * 3 * D + 2 * D + (size_t)h * hd, (size_t)hd * 4);
    xfree(qkv), xfree(out), xfree(att), xfree(tok), xfree(o), xfree(kb), xfree(vb), xfree(work);
}
END_TEST

START_TEST(test_causal_attention_backward_accumulates_and_accepts_null_gradient) {
    const int B = 2, T = 5, D = 6, H = 2;
    float qkv[2 * 5 * 18], out[60], att[2 * 2 * 25], g[60], d1[180] = {0}, d2[180], work[25];
    ck_assert_uint_le(causal_attention_workspace_size(B, T, D, H), sizeof work / 4);
    fill_uniform(qkv, sizeof qkv / 4, -1, 1, 150);
    fill_uniform(g, 60, -1, 1, 151);
    fill_uniform(d2, 180, -1, 1, 152);
    causal_attention_forward(out, att, qkv, B, T, D, H);
    causal_attention_backward(d1, g, qkv, att, B, T, D, H, work);
    float want[180];
    for (int i = 0; i < 180; i++)
        want[i] = d2[i] + d1[i];
    causal_attention_backward(d2, g, qkv, att, B, T, D, H, work);
    ck_assert_floats_near(d2, want, 180, TOL_ACC, TOL_ACC);
    causal_attention_backward(NULL, g, qkv, att, B, T, D, H, NULL); // nothing needed: no-op
}
END_TEST

// By hand: query 0 sees only key 0, so its output is v_0 per head, and with ∂L/∂out nonzero at
// position 0 only, dv_0 = dout_0 and every other gradient is zero (a one-key softmax is constant).
START_TEST(test_causal_attention_first_query_copies_v0_and_passes_its_gradient) {
    const int B = 1, T = 4, D = 4, H = 2, hd = 2;
    float qkv[4 * 12], out[16], att[2 * 16], g[16] = {0}, d[48] = {0}, work[16];
    fill_uniform(qkv, sizeof qkv / 4, -2, 2, 153);
    causal_attention_forward(out, att, qkv, B, T, D, H);
    for (int h = 0; h < H; h++)
        ck_assert_floats_near(&out[h * hd], &qkv[2 * D + h * hd], hd, TOL_REF, TOL_REF);
    g[0] = 1.0f, g[3] = -2.0f; // ∂L/∂out at position 0 only
    causal_attention_backward(d, g, qkv, att, B, T, D, H, work);
    const float dv0[4] = {1.0f, 0.0f, 0.0f, -2.0f};
    ck_assert_floats_near(&d[2 * D], dv0, 4, TOL_REF, TOL_REF);
    for (int i = 0; i < 48; i++) // a one-key softmax has no gradient; later tokens get none
        if (i < 2 * D || i >= 3 * D) ck_assert_float_eq(d[i], 0.0f);
}
END_TEST

static float die_buf[4096];
static void ca_cache_overflow(void *arg) {
    (void)arg;
    KvCache cache;
    kv_cache_init(&cache, die_buf, die_buf + 1024, 1, 3, 4, 2);
    float tok[12] = {0}, o[4], work[3];
    for (int pos = 0; pos <= 3; pos++) // pos 3 is past Tmax = 3
        causal_attention_step(o, tok, &cache, pos, 1, 4, 2, work);
}
static void ca_cache_batch(void *arg) {
    (void)arg;
    KvCache cache;
    kv_cache_init(&cache, die_buf, die_buf + 1024, 2, 3, 4, 2);
    causal_attention_step(die_buf + 2048, die_buf + 2100, &cache, 0, 3, 4, 2, die_buf + 3000);
}
static void ca_cache_width(void *arg) {
    (void)arg;
    KvCache cache;
    kv_cache_init(&cache, die_buf, die_buf + 1024, 2, 3, 4, 2);
    causal_attention_step(die_buf + 2048, die_buf + 2100, &cache, 0, 1, 8, 2, die_buf + 3000);
}
static void ca_bad_heads(void *arg) {
    (void)arg;
    causal_attention_forward(die_buf, die_buf + 1024, die_buf + 2048, 1, 2, 6, 4);
}
static void ca_null_work(void *arg) {
    (void)arg;
    causal_attention_backward(die_buf, die_buf, die_buf, die_buf, 1, 2, 4, 2, NULL);
}

START_TEST(test_causal_attention_cache_overflow_and_bad_arguments_die) {
    expect_die(ca_cache_overflow, NULL, "causal_attention_step", "pos=3", "Tmax=3",
               "the cache is full");
    expect_die(ca_cache_batch, NULL, "causal_attention_step", "B=3 exceeds the cache's Bmax=2");
    expect_die(ca_cache_width, NULL, "causal_attention_step", "D=8 H=2",
               "the cache was made for D=4 H=2");
    expect_die(ca_bad_heads, NULL, "causal_attention_forward", "D=6 is not a multiple of H=4");
    expect_die(ca_null_work, NULL, "causal_attention_backward", "work is NULL");
}
END_TEST

Suite *causal_attention_suite(void) {
    Suite *s = suite_create("causal_attention");
    TCase *tc = tcase_create("causal_attention");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_causal_attention_forward_matches_naive_twin, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_causal_attention_backward_matches_finite_differences, 0, N_SHAPES);
    tcase_add_test(tc, test_causal_attention_future_tokens_do_not_change_the_past);
    tcase_add_loop_test(tc, test_causal_attention_kv_cached_steps_equal_full_forward, 0, N_SHAPES);
    tcase_add_test(tc, test_causal_attention_backward_accumulates_and_accepts_null_gradient);
    tcase_add_test(tc, test_causal_attention_first_query_copies_v0_and_passes_its_gradient);
    tcase_add_test(tc, test_causal_attention_cache_overflow_and_bad_arguments_die);
    suite_add_tcase(s, tc);
    return s;
}
