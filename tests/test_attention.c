// test_attention.c - the attention core: forward against the naive twin (causal/full, key masks,
// shapes that hit every block tail), backward against central differences, softmax rows, causal
// structure, masked keys and fully masked rows, accumulation, and bad arguments dying.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/attention.h"

#define FD_H 1e-2          /* the step TOL_FD_REL is calibrated for */
#define TOL_ROWSUM 1e-5    /* a float32 row of <= 33 probabilities summing to 1 */
#define TOL_REF 2e-6       /* vs the double-precision twin: float sums over <= 70 terms, exp ~2e-7 */

// {B, T, D, H}: B = 1, T = 1, odd T and T past one 16-key block, head widths 1, 5 (scalar tails),
// 16 and 48 (one- and two-vector paths with AVX-512), 70 (past the 64-wide tile: two hd chunks).
static const int att_shapes[][4] = {{1, 1, 4, 2},  {2, 3, 5, 1},  {1, 7, 15, 3}, {3, 16, 32, 2},
                                    {2, 17, 48, 1}, {1, 33, 70, 1}, {2, 5, 12, 12}};
#define N_SHAPES (int)(sizeof att_shapes / sizeof att_shapes[0])

typedef struct AttCtx {
    float *out, *att, *qkv;
    const float *g;
    const uint8_t *mask;
    int causal, B, T, D, H;
} AttCtx;

static double att_loss(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->qkv, c->mask, c->causal, c->B, c->T, c->D, c->H);
    return dot_double(c->out, c->g, (size_t)c->B * c->T * c->D);
}

// A mask with some keys missing in every sample, deterministic; sample 0 keeps key 0 missing so
// that the causal query 0 there sees nothing.
static void make_mask(uint8_t *mask, int B, int T) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) mask[b * T + t] = (uint8_t)((t * 7 + b * 3) % 4 != 0);
}

// _i enumerates shape × causal × masked.
START_TEST(test_attention_forward_matches_naive_twin) {
    const int *sh = att_shapes[_i / 4];
    const int causal = _i % 2, masked = (_i / 2) % 2;
    const int B = sh[0], T = sh[1], D = sh[2], H = sh[3];
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * H * T * T;
    float *qkv = xmalloc(nq * 4), *out = xmalloc(no * 4), *out_ref = xmalloc(no * 4);
    float *att = xmalloc(na * 4), *att_ref = xmalloc(na * 4);
    uint8_t *mask = xmalloc((size_t)B * T);
    make_mask(mask, B, T);
    fill_uniform(qkv, nq, -2, 2, 10 + _i);
    attention_forward(out, att, qkv, masked ? mask : NULL, causal, B, T, D, H);
    attention_forward_ref(out_ref, att_ref, qkv, masked ? mask : NULL, causal, B, T, D, H);
    ck_assert_floats_near(att, att_ref, na, TOL_REF, TOL_REF);
    ck_assert_floats_near(out, out_ref, no, TOL_REF, TOL_REF);
    xfree(qkv), xfree(out), xfree(out_ref), xfree(att), xfree(att_ref), xfree(mask);
}
END_TEST

START_TEST(test_attention_backward_matches_finite_differences) {
    const int *sh = att_shapes[_i / 4];
    const int causal = _i % 2, masked = (_i / 2) % 2;
    const int B = sh[0], T = sh[1], D = sh[2], H = sh[3];
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * H * T * T;
    AttCtx c = {.causal = causal, .B = B, .T = T, .D = D, .H = H};
    c.qkv = xmalloc(nq * 4), c.out = xmalloc(no * 4), c.att = xmalloc(na * 4);
    float *g = xmalloc(no * 4), *dqkv = xcalloc(nq, 4);
    float *work = xmalloc(attention_workspace_size(B, T, D, H) * 4 + 4);
    uint8_t *mask = xmalloc((size_t)B * T);
    make_mask(mask, B, T);
    c.mask = masked ? mask : NULL;
    fill_uniform(c.qkv, nq, -1, 1, 40 + _i);
    fill_uniform(g, no, -1, 1, 80 + _i);
    c.g = g;
    att_loss(&c);
    attention_backward(dqkv, g, c.qkv, c.att, c.mask, causal, B, T, D, H, work);
    Rng rng;
    rng_init(&rng, 2, 0, (uint32_t)_i, RNG_TEST);
    fd_check(att_loss, &c, c.qkv, dqkv, nq, FD_H, 96, &rng);
    xfree(c.qkv), xfree(c.out), xfree(c.att), xfree(g), xfree(dqkv), xfree(work), xfree(mask);
}
END_TEST

START_TEST(test_attention_rows_are_distributions_with_causal_and_masked_zeros) {
    const int B = 3, T = 19, D = 8, H = 2;
    float qkv[3 * 19 * 24], out[3 * 19 * 8], att[3 * 2 * 19 * 19];
    uint8_t mask[3 * 19];
    make_mask(mask, B, T);
    fill_uniform(qkv, sizeof qkv / 4, -3, 3, 120);
    for (int causal = 0; causal < 2; causal++) {
        attention_forward(out, att, qkv, mask, causal, B, T, D, H);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    const float *row = att + (((size_t)b * H + h) * T + t) * T;
                    double sum = 0;
                    int any = 0;
                    for (int t2 = 0; t2 < T; t2++) {
                        const int seen = mask[b * T + t2] && !(causal && t2 > t);
                        if (!seen) ck_assert_float_eq(row[t2], 0.0f); // exact, not small
                        else ck_assert_float_gt(row[t2], 0.0f);
                        any |= seen;
                        sum += row[t2];
                    }
                    ck_assert_double_le(fabs(sum - (any ? 1.0 : 0.0)), TOL_ROWSUM);
                }
    }
}
END_TEST

START_TEST(test_attention_causal_last_query_equals_full_and_first_query_copies_v0) {
    const int B = 2, T = 6, D = 6, H = 3, hd = 2;
    float qkv[2 * 6 * 18], oc[2 * 6 * 6], of[2 * 6 * 6], att[2 * 3 * 36];
    fill_uniform(qkv, sizeof qkv / 4, -2, 2, 121);
    attention_forward(oc, att, qkv, NULL, 1, B, T, D, H);
    attention_forward(of, att, qkv, NULL, 0, B, T, D, H);
    for (int b = 0; b < B; b++) {
        // The last causal query sees every key: the same as full attention.
        ck_assert_floats_near(&oc[(b * T + T - 1) * D], &of[(b * T + T - 1) * D], D, TOL_REF, TOL_REF);
        // The first causal query sees only key 0, so its output is v_0 of each head.
        for (int h = 0; h < H; h++)
            ck_assert_floats_near(&oc[(b * T) * D + h * hd], &qkv[(b * T) * 3 * D + 2 * D + h * hd],
                                  hd, TOL_REF, TOL_REF);
    }
}
END_TEST

START_TEST(test_attention_masked_key_has_no_influence_and_empty_rows_give_zeros) {
    const int B = 2, T = 5, D = 4, H = 2;
    const size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D;
    float qkv[2 * 5 * 12], qkv2[2 * 5 * 12], o1[40], o2[40], att[2 * 2 * 25];
    float g[40], d1[120] = {0}, work[64];
    uint8_t mask[10] = {1, 0, 1, 1, 0, /* sample 1: every key missing */ 0, 0, 0, 0, 0};
    fill_uniform(qkv, nq, -1, 1, 122);
    fill_uniform(g, no, -1, 1, 123);
    ck_assert_uint_le(attention_workspace_size(B, T, D, H), sizeof work / 4);
    for (size_t i = 0; i < nq; i++) qkv2[i] = qkv[i];
    for (int c = 0; c < 3 * D; c++) qkv2[(0 * T + 1) * 3 * D + c] += 5.0f; // q, k, v of missing key 1
    attention_forward(o1, att, qkv, mask, 0, B, T, D, H);
    attention_forward(o2, att, qkv2, mask, 0, B, T, D, H);
    // Other queries of sample 0 do not see key 1 (its own query row changes, as it should).
    for (int t = 0; t < T; t++)
        if (t != 1) ck_assert_floats_near(&o1[t * D], &o2[t * D], D, 0, 0);
    // Sample 1 has no visible key: zero outputs, zero attention, no gradient.
    for (size_t i = (size_t)T * D; i < no; i++) ck_assert_float_eq(o1[i], 0.0f);
    attention_forward(o1, att, qkv, mask, 0, B, T, D, H);
    for (size_t i = (size_t)H * T * T; i < (size_t)B * H * T * T; i++) ck_assert_float_eq(att[i], 0.0f);
    attention_backward(d1, g, qkv, att, mask, 0, B, T, D, H, work);
    for (size_t i = (size_t)T * 3 * D; i < nq; i++) ck_assert_float_eq(d1[i], 0.0f);
    // The missing key's k and v get no gradient (its q does: query 1 still attends).
    for (int c = D; c < 3 * D; c++) ck_assert_float_eq(d1[1 * 3 * D + c], 0.0f);
}
END_TEST

START_TEST(test_attention_backward_accumulates_and_accepts_null_gradient) {
    const int B = 2, T = 4, D = 6, H = 2;
    float qkv[2 * 4 * 18], out[48], att[2 * 2 * 16], g[48], d1[144] = {0}, d2[144], work[64];
    fill_uniform(qkv, sizeof qkv / 4, -1, 1, 124);
    fill_uniform(g, 48, -1, 1, 125);
    fill_uniform(d2, 144, -1, 1, 126);
    attention_forward(out, att, qkv, NULL, 1, B, T, D, H);
    attention_backward(d1, g, qkv, att, NULL, 1, B, T, D, H, work);
    float want[144];
    for (int i = 0; i < 144; i++) want[i] = d2[i] + d1[i];
    attention_backward(d2, g, qkv, att, NULL, 1, B, T, D, H, work);
    ck_assert_floats_near(d2, want, 144, 1e-6, 1e-6);
    attention_backward(NULL, g, qkv, att, NULL, 1, B, T, D, H, NULL); // nothing needed: no-op
}
END_TEST

static void att_bad_heads(void *arg) {
    float buf[64] = {0};
    (void)arg;
    attention_forward(buf, buf, buf, NULL, 0, 1, 2, 6, 4);
}
static void att_null_out(void *arg) {
    float buf[64] = {0};
    (void)arg;
    attention_forward(NULL, buf, buf, NULL, 0, 1, 2, 4, 2);
}
static void att_null_work(void *arg) {
    float buf[64] = {0};
    (void)arg;
    attention_backward(buf, buf, buf, buf, NULL, 0, 1, 2, 4, 2, NULL);
}
static void att_zero_t(void *arg) {
    float buf[64] = {0};
    (void)arg;
    attention_forward_ref(buf, buf, buf, NULL, 0, 1, 0, 4, 2);
}

START_TEST(test_attention_bad_arguments_die_naming_the_function) {
    expect_die(att_bad_heads, NULL, "attention_forward", "D=6 is not a multiple of H=4");
    expect_die(att_null_out, NULL, "attention_forward", "out is NULL");
    expect_die(att_null_work, NULL, "attention_backward", "work is NULL");
    expect_die(att_zero_t, NULL, "attention_forward_ref", "T=0");
}
END_TEST

Suite *attention_suite(void) {
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("attention");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_attention_forward_matches_naive_twin, 0, 4 * N_SHAPES);
    tcase_add_loop_test(tc, test_attention_backward_matches_finite_differences, 0, 4 * N_SHAPES);
    tcase_add_test(tc, test_attention_rows_are_distributions_with_causal_and_masked_zeros);
    tcase_add_test(tc, test_attention_causal_last_query_equals_full_and_first_query_copies_v0);
    tcase_add_test(tc, test_attention_masked_key_has_no_influence_and_empty_rows_give_zeros);
    tcase_add_test(tc, test_attention_backward_accumulates_and_accepts_null_gradient);
    tcase_add_test(tc, test_attention_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
