// test_dropout.c - inverted dropout on the counter RNG: masks are a function of the stream's name,
// streams with another party or purpose differ, the keep rate and the scale are right, p = 0 draws
// nothing, MC-dropout passes differ but average to the input, and bad p dies.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/dropout.h"

#define N_MASK 100000
// The kept fraction is Binomial(n, 1-p)/n with sd sqrt(p(1-p)/n): allow 6 sd (false alarm ~2e-9).
#define TOL_KEEP_SD 6.0

static void mask_for(float *mask, float *out, const float *inp, size_t n, float p, uint64_t seed,
                     uint32_t round, uint32_t party, uint32_t purpose) {
    Rng r;
    rng_init(&r, seed, round, party, purpose);
    dropout_forward(out, mask, inp, n, p, &r);
}

START_TEST(test_dropout_same_stream_same_mask_other_stream_other_mask) {
    float *inp = xmalloc(N_MASK * sizeof(float)), *out = xmalloc(N_MASK * sizeof(float));
    float *m[5];
    for (int k = 0; k < 5; k++)
        m[k] = xmalloc(N_MASK * sizeof(float));
    fill_uniform(inp, N_MASK, -1, 1, 70);
    mask_for(m[0], out, inp, N_MASK, 0.3f, 42, 3, 1, RNG_DROPOUT);
    mask_for(m[1], out, inp, N_MASK, 0.3f, 42, 3, 1, RNG_DROPOUT); // same name
    mask_for(m[2], out, inp, N_MASK, 0.3f, 42, 3, 2, RNG_DROPOUT); // other party
    mask_for(m[3], out, inp, N_MASK, 0.3f, 42, 3, 1, RNG_DATA);    // other purpose
    mask_for(m[4], out, inp, N_MASK, 0.3f, 42, 4, 1, RNG_DROPOUT); // other round
    ck_assert_mem_eq(m[0], m[1], N_MASK * sizeof(float));
    for (int k = 2; k < 5; k++) {
        // Independent masks agree on about p² + (1-p)² = 58% of positions, never on all.
        size_t same = 0;
        for (size_t i = 0; i < N_MASK; i++)
            same += m[0][i] == m[k][i];
        ck_assert_msg(same < (size_t)(0.62 * N_MASK) && same > (size_t)(0.54 * N_MASK),
                      "mask %d agrees with the reference on %zu of %d positions", k, same, N_MASK);
    }
    for (int k = 0; k < 5; k++)
        xfree(m[k]);
    xfree(inp), xfree(out);
}
END_TEST

START_TEST(test_dropout_keep_rate_scale_and_output) {
    // 0.05 and 0.1 take the sparse path (kept runs drawn), 0.3 and 0.75 one draw per element
    const float ps[4] = {0.05f, 0.1f, 0.3f, 0.75f};
    float *inp = xmalloc(N_MASK * sizeof(float)), *out = xmalloc(N_MASK * sizeof(float));
    float *mask = xmalloc(N_MASK * sizeof(float));
    fill_uniform(inp, N_MASK, -1, 1, 71);
    for (int t = 0; t < 4; t++) {
        const float p = ps[t], scale = 1.0f / (1.0f - p);
        mask_for(mask, out, inp, N_MASK, p, 7, 0, 0, RNG_DROPOUT);
        // Count, then assert once: a ck_assert per element is slow enough to hit the timeout.
        size_t kept = 0, bad = N_MASK;
        for (size_t i = N_MASK; i-- > 0;) {
            if (!(mask[i] == 0.0f || mask[i] == scale) || out[i] != inp[i] * mask[i]) bad = i;
            kept += mask[i] != 0.0f;
        }
        ck_assert_msg(bad == N_MASK, "p = %g: mask[%zu] = %g, out %g, inp %g", (double)p, bad,
                      (double)mask[bad % N_MASK], (double)out[bad % N_MASK],
                      (double)inp[bad % N_MASK]);
        double rate = (double)kept / N_MASK;
        double sd = sqrt((double)p * (1.0 - p) / N_MASK);
        ck_assert_msg(fabs(rate - (1.0 - p)) < TOL_KEEP_SD * sd, "p = %g: kept %.4f (sd %.2g)",
                      (double)p, rate, sd);
        // independent elements: after a drop, the next one drops with probability p too
        size_t drops = 0, pairs = 0;
        for (size_t i = 0; i + 1 < N_MASK; i++)
            if (mask[i] == 0.0f) drops++, pairs += mask[i + 1] == 0.0f;
        double cond = (double)pairs / (double)drops, csd = sqrt((double)p * (1.0 - p) / drops);
        ck_assert_msg(fabs(cond - p) < TOL_KEEP_SD * csd, "p = %g: P(drop | drop before) %.4f",
                      (double)p, cond);
    }
    xfree(inp), xfree(out), xfree(mask);
}
END_TEST

START_TEST(test_dropout_p_zero_is_identity_and_draws_nothing) {
    float inp[5] = {1, -2, 3, 4, 5}, out[5], mask[5];
    Rng r;
    rng_init(&r, 1, 0, 0, RNG_DROPOUT);
    dropout_forward(out, mask, inp, 5, 0.0f, &r);
    ck_assert_floats_near(out, inp, 5, 0, 0);
    for (int i = 0; i < 5; i++)
        ck_assert(mask[i] == 1.0f);
    ck_assert_uint_eq(rng_words_drawn(&r), 0);
    dropout_forward(inp, mask, inp, 5, 0.0f, NULL); // no stream needed, in place
}
END_TEST

START_TEST(test_dropout_backward_accumulates_dout_times_mask) {
    const float mask[4] = {0, 2, 2, 0}, dout[4] = {1, 2, 3, 4};
    float dinp[4] = {1, 1, 1, 1};
    dropout_backward(dinp, mask, dout, 4);
    const float want[4] = {1, 5, 7, 1};
    ck_assert_floats_near(dinp, want, 4, 0, 0);
    dropout_backward(NULL, mask, dout, 4); // not needed: no-op
}
END_TEST

START_TEST(test_mc_dropout_passes_differ_reproduce_and_average_to_input) {
    // MC-dropout at inference: N forward passes drawing on from one stream. Each pass has its own
    // mask, the same stream name replays them exactly, and the mean is unbiased (inverted scaling).
    enum { D = 64, PASSES = 4000 };
    float inp[D], out[D], mask[D], mask_prev[D], mean[D] = {0};
    fill_uniform(inp, D, -1, 1, 72);
    Rng r, r2;
    rng_init(&r, 99, 0, 3, RNG_DROPOUT);
    rng_init(&r2, 99, 0, 3, RNG_DROPOUT);
    int n_differ = 0, n_replayed = 0;
    for (int t = 0; t < PASSES; t++) {
        dropout_forward(out, mask, inp, D, 0.5f, &r);
        if (t > 0) n_differ += memcmp(mask, mask_prev, sizeof mask) != 0;
        memcpy(mask_prev, mask, sizeof mask);
        for (int i = 0; i < D; i++)
            mean[i] += out[i] / PASSES;
        float out2[D], mask2[D];
        dropout_forward(out2, mask2, inp, D, 0.5f, &r2);
        n_replayed += memcmp(mask2, mask, sizeof mask) == 0;
    }
    ck_assert_int_eq(n_differ, PASSES - 1);
    ck_assert_int_eq(n_replayed, PASSES);
    // Each out[i] is inp[i]·{0, 2}: sd of the mean is |inp[i]| / sqrt(PASSES) <= 1/63; allow 5 sd.
    for (int i = 0; i < D; i++)
        ck_assert_msg(fabsf(mean[i] - inp[i]) < 5.0f * fabsf(inp[i]) / sqrtf(PASSES) + 1e-6f,
                      "MC mean[%d] = %g, inp %g", i, (double)mean[i], (double)inp[i]);
}
END_TEST

static void dropout_p_one(void *arg) {
    float buf[4] = {0};
    Rng r;
    (void)arg;
    rng_init(&r, 1, 0, 0, RNG_DROPOUT);
    dropout_forward(buf, buf, buf, 4, 1.0f, &r);
}
static void dropout_no_rng(void *arg) {
    float buf[4] = {0};
    (void)arg;
    dropout_forward(buf, buf, buf, 4, 0.5f, NULL);
}
static void dropout_null_mask(void *arg) {
    float buf[4] = {0};
    (void)arg;
    dropout_backward(buf, NULL, buf, 4);
}

START_TEST(test_dropout_bad_arguments_die_naming_the_function) {
    expect_die(dropout_p_one, NULL, "dropout_forward", "p = 1 outside [0, 1)");
    expect_die(dropout_no_rng, NULL, "dropout_forward", "rng is NULL");
    expect_die(dropout_null_mask, NULL, "dropout_backward", "NULL buffer");
}
END_TEST

Suite *dropout_suite(void) {
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("dropout");
    tcase_add_test(tc, test_dropout_same_stream_same_mask_other_stream_other_mask);
    tcase_add_test(tc, test_dropout_keep_rate_scale_and_output);
    tcase_add_test(tc, test_dropout_p_zero_is_identity_and_draws_nothing);
    tcase_add_test(tc, test_dropout_backward_accumulates_dout_times_mask);
    tcase_add_test(tc, test_mc_dropout_passes_differ_reproduce_and_average_to_input);
    tcase_add_test(tc, test_dropout_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
