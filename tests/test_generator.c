// test_generator.c - BoMM's completion generator (models/generator): the backward against central
// finite differences over every parameter, the supervised loss by hand, the mixed supervised + DPO
// loss against finite differences and as the λ-mix of its endpoints, sampling determinism and
// statistics, ranking ties, DPO training moving μ toward the rewarded region, bad input dying.
#include <check.h>
#include <math.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/generator.h"
#include "nn/optim.h"

enum { B = 5, D = 6, H = 9, NP = 3 };

#define FD_H 1e-2     /* the step TOL_FD_REL is calibrated for (GELU is smooth) */
#define TOL_HAND 1e-6 /* double loss vs a closed form from float32 inputs */

typedef struct {
    Generator g;
    GenWork w;
    float *params, *params_ref, *grads;
    float z[B * D], proto[B * D], target[B * D], zw[NP * D], zl[NP * D], gout[B * D];
    uint8_t has_target[B];
    GenBatch in;
    GenLossCfg cfg;
} Ctx;

static void ctx_init(Ctx *c) {
    GenConfig gc = {.D = D, .H = H};
    gen_init(&c->g, &gc);
    gen_work_init(&c->w, &c->g, B);
    size_t np = c->g.n_params;
    c->params = xcalloc_aligned(np * sizeof(float));
    c->params_ref = xcalloc_aligned(np * sizeof(float));
    c->grads = xcalloc_aligned(np * sizeof(float));
    Rng r;
    rng_init(&r, 5, 0, 0, RNG_TEST);
    gen_init_params(&c->g, c->params, &r);
    // The reference: a nearby snapshot (as after a few steps), so the margins are not all 0.
    float *noise = xmalloc(np * sizeof(float));
    fill_uniform(noise, np, -0.1f, 0.1f, 50);
    for (size_t i = 0; i < np; i++)
        c->params_ref[i] = c->params[i] + noise[i];
    xfree(noise);
    fill_uniform(c->z, B * D, -1, 1, 51);
    fill_uniform(c->proto, B * D, -1, 1, 52);
    fill_uniform(c->target, B * D, -1, 1, 53);
    fill_uniform(c->zw, NP * D, -1, 1, 54);
    fill_uniform(c->zl, NP * D, -1, 1, 55);
    fill_uniform(c->gout, B * D, -1, 1, 56);
    const uint8_t ht[B] = {1, 0, 1, 0, 0}; // a few complete samples
    memcpy(c->has_target, ht, sizeof ht);
    c->in = (GenBatch){.B = B,
                       .z_src = c->z,
                       .proto = c->proto,
                       .target = c->target,
                       .has_target = c->has_target,
                       .n_pair = NP,
                       .z_w = c->zw,
                       .z_l = c->zl};
    c->cfg = (GenLossCfg){.lambda = 0.3f, .lambda_a = 0.5f, .beta = 0.5f, .sigma = 0.4f};
}

static void ctx_free(Ctx *c) {
    gen_work_free(&c->w);
    xfree(c->params), xfree(c->params_ref), xfree(c->grads);
}

static double mlp_loss(void *ctx) {
    Ctx *c = ctx;
    gen_forward(&c->g, c->params, c->z, c->proto, B, &c->w);
    return dot_double(c->w.mu, c->gout, B * D);
}

static double mixed_loss(void *ctx) {
    Ctx *c = ctx;
    return gen_mixed_step(&c->g, c->params, c->params_ref, NULL, &c->in, &c->cfg, &c->w, NULL);
}

START_TEST(test_generator_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    gen_forward(&c.g, c.params, c.z, c.proto, B, &c.w);
    memcpy(c.w.dmu, c.gout, sizeof c.gout);
    gen_backward(&c.g, c.params, c.grads, B, &c.w);
    Rng r;
    rng_init(&r, 6, 0, 0, RNG_TEST);
    fd_check(mlp_loss, &c, c.params, c.grads, c.g.n_params, FD_H, 300, &r);
    // Every tensor gets a gradient (the layout covers the buffer): probe each one's first entry.
    size_t firsts[4] = {c.g.w1, c.g.b1, c.g.w2, c.g.b2};
    for (int t = 0; t < 4; t++)
        ck_assert_float_ne(c.grads[firsts[t]], 0.f);
    ck_assert_uint_eq(c.g.n_params, (size_t)(H * 2 * D + H + D * H + D));
    ck_assert_uint_eq(c.g.b2 + D, c.g.n_params);
    ctx_free(&c);
}
END_TEST

START_TEST(test_generator_backward_accumulates) {
    Ctx c;
    ctx_init(&c);
    gen_forward(&c.g, c.params, c.z, c.proto, B, &c.w);
    memcpy(c.w.dmu, c.gout, sizeof c.gout);
    gen_backward(&c.g, c.params, c.grads, B, &c.w);
    size_t np = c.g.n_params;
    float *once = xmalloc(np * sizeof(float));
    memcpy(once, c.grads, np * sizeof(float));
    gen_backward(&c.g, c.params, c.grads, B, &c.w);
    for (size_t i = 0; i < np; i++)
        once[i] *= 2.f;
    ck_assert_floats_near(c.grads, once, np, 1e-6, 1e-6);
    xfree(once);
    ctx_free(&c);
}
END_TEST

// Two rows, D = 2, λ_a = 0.5, row 0 complete:
//   μ = (1, 2 | 0, 0), target_0 = (0, 2), proto = (1, 0 | 1, 1)
//   target term: ‖(1, 0)‖² / 1 = 1;  anchoring: 0.5·(‖(0, 2)‖² + ‖(−1, −1)‖²)/2 = 0.5·6/2 = 1.5
//   L_sup = 2.5;  ∂/∂μ_0 = 2(1, 0) + 2·0.25·(0, 2) = (2, 1);  ∂/∂μ_1 = 2·0.25·(−1, −1) = (−.5, −.5)
START_TEST(test_sup_loss_matches_hand_values) {
    const float mu[4] = {1, 2, 0, 0}, target[4] = {0, 2, 99, 99}, proto[4] = {1, 0, 1, 1};
    const uint8_t ht[2] = {1, 0}; // row 1's target is garbage and must not count
    float dmu[4] = {0};
    double l = gen_sup_loss(dmu, mu, target, ht, proto, 0.5f, 2, 2, 1.0);
    ck_assert_double_le(fabs(l - 2.5), TOL_HAND);
    const float want[4] = {2, 1, -0.5f, -0.5f};
    ck_assert_floats_near(dmu, want, 4, TOL_HAND, 0);
    // No target anywhere: anchoring only (target may then be NULL).
    const uint8_t none[2] = {0, 0};
    l = gen_sup_loss(NULL, mu, NULL, none, proto, 0.5f, 2, 2, 1.0);
    ck_assert_double_le(fabs(l - 1.5), TOL_HAND);
    l = gen_sup_loss(NULL, mu, NULL, NULL, proto, 0.5f, 2, 2, 1.0); // NULL mask, NULL target
    ck_assert_double_le(fabs(l - 1.5), TOL_HAND);
    // NULL mask with a target: every row counts, (1 + ‖(−99, −99)‖²)/2 + 1.5.
    l = gen_sup_loss(NULL, mu, target, NULL, proto, 0.5f, 2, 2, 1.0);
    ck_assert_double_le(fabs(l - ((1 + 2 * 99.0 * 99.0) / 2 + 1.5)), 1e-9 * 99 * 99);
}
END_TEST

START_TEST(test_mixed_loss_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    GenLossParts parts;
    double l = gen_mixed_step(&c.g, c.params, c.params_ref, c.grads, &c.in, &c.cfg, &c.w, &parts);
    ck_assert_double_le(fabs(l - (0.3 * parts.sup + 0.7 * parts.dpo)), TOL_HAND);
    // The reference differs from the policy: the DPO term is not exactly log 2.
    ck_assert_double_gt(fabs(parts.dpo - log(2.0)), 1e-4);
    Rng r;
    rng_init(&r, 7, 0, 0, RNG_TEST);
    fd_check(mixed_loss, &c, c.params, c.grads, c.g.n_params, FD_H, 300, &r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_mixed_gradient_is_the_lambda_mix_of_its_endpoints) {
    Ctx c;
    ctx_init(&c);
    size_t np = c.g.n_params;
    float *g0 = xcalloc_aligned(np * sizeof(float)), *g1 = xcalloc_aligned(np * sizeof(float));
    c.cfg.lambda = 0;
    double l0 = gen_mixed_step(&c.g, c.params, c.params_ref, g0, &c.in, &c.cfg, &c.w, NULL);
    c.cfg.lambda = 1;
    double l1 = gen_mixed_step(&c.g, c.params, c.params_ref, g1, &c.in, &c.cfg, &c.w, NULL);
    c.cfg.lambda = 0.3f;
    double l = gen_mixed_step(&c.g, c.params, c.params_ref, c.grads, &c.in, &c.cfg, &c.w, NULL);
    double lam = 0.3f;
    ck_assert_double_le(fabs(l - (lam * l1 + (1 - lam) * l0)), TOL_HAND);
    for (size_t i = 0; i < np; i++)
        g0[i] = (float)(lam * g1[i] + (1 - lam) * g0[i]);
    ck_assert_floats_near(c.grads, g0, np, 1e-6, 1e-5);
    // With the policy equal to its reference the DPO term is exactly log 2 (all margins 0).
    GenLossParts parts;
    gen_mixed_step(&c.g, c.params, c.params, NULL, &c.in, &c.cfg, &c.w, &parts);
    ck_assert_double_le(fabs(parts.dpo - log(2.0)), TOL_HAND);
    xfree(g0), xfree(g1);
    ctx_free(&c);
}
END_TEST

START_TEST(test_sampling_is_keyed_and_deterministic) {
    enum { NC = 4, DS = 5 };
    float mu[DS] = {0.5f, -1, 2, 0, 3}, a[NC * DS], b[NC * DS];
    gen_sample_candidates(a, mu, 0.3f, NC, DS, 42, 7, 3);
    gen_sample_candidates(b, mu, 0.3f, NC, DS, 42, 7, 3);
    ck_assert_mem_eq(a, b, sizeof a);
    // Any changed key word gives different candidates.
    const uint64_t seeds[3] = {43, 42, 42};
    const uint32_t rounds[3] = {7, 8, 7}, keys[3] = {3, 3, 4};
    for (int k = 0; k < 3; k++) {
        gen_sample_candidates(b, mu, 0.3f, NC, DS, seeds[k], rounds[k], keys[k]);
        int differ = 0;
        for (int i = 0; i < NC * DS; i++)
            differ += a[i] != b[i];
        ck_assert_int_ge(differ, NC * DS - 1);
    }
    // The first n rows do not depend on n (drawn row by row from the stream's start).
    float c3[3 * DS];
    gen_sample_candidates(c3, mu, 0.3f, 3, DS, 42, 7, 3);
    ck_assert_mem_eq(c3, a, sizeof c3);
    // σ = 0 gives μ exactly.
    gen_sample_candidates(b, mu, 0.f, NC, DS, 42, 7, 3);
    for (int j = 0; j < NC; j++)
        ck_assert_mem_eq(b + j * DS, mu, sizeof mu);
}
END_TEST

START_TEST(test_sampling_has_mean_mu_and_std_sigma) {
    enum { NC = 4000 };
    const float mu[2] = {1.5f, -0.5f}, sigma = 0.7f;
    float *c = xmalloc(NC * 2 * sizeof(float));
    gen_sample_candidates(c, mu, sigma, NC, 2, 9, 0, 0);
    for (int d = 0; d < 2; d++) {
        double s = 0, s2 = 0;
        for (int j = 0; j < NC; j++)
            s += c[j * 2 + d];
        double m = s / NC;
        for (int j = 0; j < NC; j++)
            s2 += (c[j * 2 + d] - m) * (c[j * 2 + d] - m);
        double sd = sqrt(s2 / (NC - 1));
        // 5 standard errors: σ/√n for the mean, σ/√(2n) for the standard deviation.
        ck_assert_double_le(fabs(m - mu[d]), 5 * sigma / sqrt(NC));
        ck_assert_double_le(fabs(sd - sigma), 5 * sigma / sqrt(2.0 * NC));
    }
    xfree(c);
}
END_TEST

START_TEST(test_ranking_breaks_ties_by_lowest_index) {
    int best, worst;
    const float r1[5] = {0.1f, 0.9f, -2, 0.9f, -2};
    ck_assert_int_eq(gen_rank_candidates(&best, &worst, r1, 5), 1);
    ck_assert_int_eq(best, 1);
    ck_assert_int_eq(worst, 2);
    const float r2[3] = {-1, -1, -1};
    ck_assert_int_eq(gen_rank_candidates(&best, &worst, r2, 3), 0);
    ck_assert_int_eq(best, 0);
    ck_assert_int_eq(worst, 0);
    const float r3[2] = {3, 4};
    ck_assert_int_eq(gen_rank_candidates(&best, &worst, r3, 2), 1);
    ck_assert_int_eq(best, 1);
    ck_assert_int_eq(worst, 0);
}
END_TEST

// The PMAC loop on one source with λ = 0 (DPO only): sample candidates from the policy, reward
// r(ẑ) = −‖ẑ − t‖² for a hidden t, pair argmax/argmin, one AdamW step. The reference is refreshed
// every 10 steps (a fixed reference would cap how far the margin lets μ move). μ must approach t.
START_TEST(test_dpo_training_moves_the_mean_toward_the_rewarded_region) {
    enum { DS = 4, HS = 16, NC = 6, STEPS = 300 };
    Generator g;
    gen_init(&g, &(GenConfig){.D = DS, .H = HS});
    GenWork w;
    gen_work_init(&w, &g, 1);
    size_t np = g.n_params;
    float *p = xcalloc_aligned(np * sizeof(float)), *pref = xcalloc_aligned(np * sizeof(float));
    float *gr = xcalloc_aligned(np * sizeof(float)), *m = xcalloc_aligned(np * sizeof(float));
    float *v = xcalloc_aligned(np * sizeof(float));
    Rng r;
    rng_init(&r, 11, 0, 0, RNG_TEST);
    gen_init_params(&g, p, &r);
    const float z[DS] = {0.2f, -0.4f, 0.1f, 0.3f}, proto[DS] = {0.5f, 0.5f, -0.5f, 0};
    const float t[DS] = {1.0f, -1.0f, 0.5f, 1.5f};
    GenLossCfg cfg = {.lambda = 0, .lambda_a = 0, .beta = 1.0f, .sigma = 0.3f};
    AdamWConfig opt = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    gen_forward(&g, p, z, proto, 1, &w);
    double d0 = 0;
    for (int d = 0; d < DS; d++)
        d0 += (w.mu[d] - t[d]) * (w.mu[d] - t[d]);
    float cand[NC * DS], rew[NC];
    for (int s = 0; s < STEPS; s++) {
        if (s % 10 == 0) memcpy(pref, p, np * sizeof(float));
        gen_forward(&g, p, z, proto, 1, &w);
        gen_sample_candidates(cand, w.mu, cfg.sigma, NC, DS, 1, (uint32_t)s, 0);
        for (int j = 0; j < NC; j++) {
            double e = 0;
            for (int d = 0; d < DS; d++)
                e += (cand[j * DS + d] - t[d]) * (cand[j * DS + d] - t[d]);
            rew[j] = (float)-e;
        }
        int bi, wi;
        if (!gen_rank_candidates(&bi, &wi, rew, NC)) continue;
        GenBatch in = {.B = 1,
                       .z_src = z,
                       .proto = proto,
                       .n_pair = 1,
                       .z_w = cand + bi * DS,
                       .z_l = cand + wi * DS};
        memset(gr, 0, np * sizeof(float));
        gen_mixed_step(&g, p, pref, gr, &in, &cfg, &w, NULL);
        adamw_step(p, gr, m, v, np, NULL, 0, &opt, s + 1);
    }
    gen_forward(&g, p, z, proto, 1, &w);
    double d1 = 0;
    for (int d = 0; d < DS; d++)
        d1 += (w.mu[d] - t[d]) * (w.mu[d] - t[d]);
    ck_assert_msg(d1 < 0.1 * d0, "squared distance to the rewarded point %g -> %g", d0, d1);
    xfree(p), xfree(pref), xfree(gr), xfree(m), xfree(v);
    gen_work_free(&w);
}
END_TEST

// ---- bad input ----

static void die_lambda(void *arg) {
    Ctx *c = arg;
    c->cfg.lambda = 1.5f;
    gen_mixed_step(&c->g, c->params, c->params_ref, c->grads, &c->in, &c->cfg, &c->w, NULL);
}
static void die_n_pair(void *arg) {
    Ctx *c = arg;
    c->in.n_pair = B + 1;
    gen_mixed_step(&c->g, c->params, c->params_ref, c->grads, &c->in, &c->cfg, &c->w, NULL);
}
static void die_no_ref(void *arg) {
    Ctx *c = arg;
    gen_mixed_step(&c->g, c->params, NULL, c->grads, &c->in, &c->cfg, &c->w, NULL);
}
static void die_big_batch(void *arg) {
    Ctx *c = arg;
    gen_forward(&c->g, c->params, c->z, c->proto, B + 1, &c->w);
}
static void die_rank_one(void *arg) {
    (void)arg;
    int b, w;
    float r = 0;
    gen_rank_candidates(&b, &w, &r, 1);
}
static void die_rank_nan(void *arg) {
    (void)arg;
    int b, w;
    float r[3] = {0, NAN, 1};
    gen_rank_candidates(&b, &w, r, 3);
}
static void die_sigma(void *arg) {
    (void)arg;
    float mu = 0, c;
    gen_sample_candidates(&c, &mu, -0.1f, 1, 1, 1, 0, 0);
}
static void die_sup_null_target(void *arg) {
    (void)arg;
    float mu[2] = {0, 0};
    const uint8_t ht[1] = {1};
    gen_sup_loss(NULL, mu, NULL, ht, mu, 1.f, 1, 2, 1.0);
}
static void die_config(void *arg) {
    (void)arg;
    Generator g;
    gen_init(&g, &(GenConfig){.D = 4, .H = 0});
}

START_TEST(test_generator_bad_input_dies_with_a_clear_message) {
    Ctx c;
    ctx_init(&c);
    expect_die(die_lambda, &c, "gen_mixed_step", "lambda = 1.5", "[0, 1]");
    expect_die(die_n_pair, &c, "n_pair = 6", "0..B = 5");
    expect_die(die_no_ref, &c, "n_pair = 3", "params_ref NULL");
    expect_die(die_big_batch, &c, "gen_forward", "B = 6", "Bmax = 5");
    expect_die(die_rank_one, NULL, "gen_rank_candidates", "n = 1");
    expect_die(die_rank_nan, NULL, "gen_rank_candidates", "rewards[1] = nan");
    expect_die(die_sigma, NULL, "gen_sample_candidates", "sigma = -0.1");
    expect_die(die_sup_null_target, NULL, "gen_sup_loss", "target is NULL", "1 of 1 rows");
    expect_die(die_config, NULL, "gen_init", "H = 0");
    ctx_free(&c);
}
END_TEST

Suite *generator_suite(void) {
    Suite *s = suite_create("generator");
    TCase *tc = tcase_create("generator");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_generator_backward_matches_finite_differences);
    tcase_add_test(tc, test_generator_backward_accumulates);
    tcase_add_test(tc, test_sup_loss_matches_hand_values);
    tcase_add_test(tc, test_mixed_loss_matches_finite_differences);
    tcase_add_test(tc, test_mixed_gradient_is_the_lambda_mix_of_its_endpoints);
    tcase_add_test(tc, test_sampling_is_keyed_and_deterministic);
    tcase_add_test(tc, test_sampling_has_mean_mu_and_std_sigma);
    tcase_add_test(tc, test_ranking_breaks_ties_by_lowest_index);
    tcase_add_test(tc, test_dpo_training_moves_the_mean_toward_the_rewarded_region);
    tcase_add_test(tc, test_generator_bad_input_dies_with_a_clear_message);
    suite_add_tcase(s, tc);
    return s;
}
