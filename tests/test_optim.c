// test_optim.c - optimisers against values computed in double (PyTorch's formulas), the AVX-512
// AdamW body against its scalar twin bit for bit, frozen segments untouched, global-norm clipping,
// the cosine schedule's warm-up and endpoints, and bad input.
#include <check.h>
#include <math.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/optim.h"

#define TOL_F32_STEP 2e-6 /* float32 update of O(1) values vs the same formula in double */
#define TOL_V_BETA2 2e-5  /* 1 - 0.999f = 0.00099998713: v carries that 1.3e-5 relative offset */
#define TOL_NORM 1e-12    /* norms are summed in double over a few float values */

START_TEST(test_adamw_two_steps_match_double) {
    // Step 1 by hand: m̂ = g, v̂ = g², so p ← p·(1 - lr·wd) - lr·g/(|g| + eps) ≈ p·0.999 ∓ 0.01.
    // Step 2: the same formulas in double (python), printed to 9 digits.
    float p[3] = {0.5f, -1.0f, 2.0f}, m[3] = {0}, v[3] = {0};
    const float g1[3] = {0.1f, -0.2f, 0.3f}, g2[3] = {-0.05f, 0.4f, 0.0f};
    AdamWConfig c = {
        .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    adamw_step(p, g1, m, v, 3, NULL, 0, &c, 1);
    const float p1[3] = {0.4895f, -0.989f, 1.988f}, m1[3] = {0.01f, -0.02f, 0.03f},
                v1[3] = {1e-5f, 4e-5f, 9e-5f};
    ck_assert_floats_near(p, p1, 3, TOL_F32_STEP, TOL_F32_STEP);
    ck_assert_floats_near(m, m1, 3, TOL_F32_STEP, TOL_F32_STEP);
    ck_assert_floats_near(v, v1, 3, 0, TOL_V_BETA2);
    adamw_step(p, g2, m, v, 3, NULL, 0, &c, 2);
    const float p2[3] = {0.486347131f, -0.991672036f, 1.97931142f},
                m2[3] = {0.004f, 0.022f, 0.027f}, v2[3] = {1.249e-5f, 1.9996e-4f, 8.991e-5f};
    ck_assert_floats_near(p, p2, 3, TOL_F32_STEP, TOL_F32_STEP);
    ck_assert_floats_near(m, m2, 3, TOL_F32_STEP, TOL_F32_STEP);
    ck_assert_floats_near(v, v2, 3, 0, TOL_V_BETA2);
}
END_TEST

START_TEST(test_sgd_momentum_and_nesterov_two_steps) {
    // p ← p - lr·vel, vel = 0.9·vel + g + 0.01·p (nesterov: p ← p - lr·(g' + 0.9·vel)); double ref.
    const float g1[3] = {0.5f, 0.5f, -1.0f}, g2[3] = {0.25f, -1.0f, 0.0f};
    const float want_p[2][3] = {{0.877151f, -1.989152f, 3.181203f},
                                {0.81257411f, -1.93610672f, 3.25681983f}};
    const float want_vel[2][3] = {{0.71849f, -0.58848f, -0.84203f},
                                  {0.718031f, -0.588912f, -0.841157f}};
    for (int nesterov = 0; nesterov < 2; nesterov++) {
        float p[3] = {1, -2, 3}, vel[3] = {0};
        SgdConfig c = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f, .nesterov = nesterov};
        sgd_step(p, g1, vel, 3, NULL, 0, &c);
        sgd_step(p, g2, vel, 3, NULL, 0, &c);
        ck_assert_floats_near(p, want_p[nesterov], 3, TOL_F32_STEP, TOL_F32_STEP);
        ck_assert_floats_near(vel, want_vel[nesterov], 3, TOL_F32_STEP, TOL_F32_STEP);
    }
}
END_TEST

// Sizes around the 16-lane body: every tail length, and a segment starting at an odd offset.
static const size_t adam_sizes[] = {1, 15, 16, 17, 31, 33, 1000, 4099};

START_TEST(test_adamw_vector_body_is_bit_identical_to_scalar_twin) {
    const size_t n = adam_sizes[_i];
    float *p = xmalloc(n * sizeof(float)), *g = xmalloc(n * sizeof(float));
    float *m = xcalloc(n, sizeof(float)), *v = xcalloc(n, sizeof(float));
    float *pr = xmalloc(n * sizeof(float)), *mr = xcalloc(n, sizeof(float)),
          *vr = xcalloc(n, sizeof(float));
    fill_uniform(p, n, -1, 1, 1);
    memcpy(pr, p, n * sizeof(float));
    ParamSegment segs[2] = {{0, n / 3}, {n / 3 + (n > 2), n - n / 3 - (n > 2)}};
    AdamWConfig c = {
        .lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.05f};
    for (long t = 1; t <= 5; t++) {
        fill_uniform(g, n, -2, 2, (uint32_t)(10 + t));
        adamw_step(p, g, m, v, n, segs, 2, &c, t);
        adamw_step_ref(pr, g, mr, vr, n, segs, 2, &c, t);
    }
    ck_assert_mem_eq(p, pr, n * sizeof(float));
    ck_assert_mem_eq(m, mr, n * sizeof(float));
    ck_assert_mem_eq(v, vr, n * sizeof(float));
    xfree(p), xfree(g), xfree(m), xfree(v), xfree(pr), xfree(mr), xfree(vr);
}
END_TEST

START_TEST(test_frozen_elements_are_never_touched) {
    enum { N = 40 };
    float p[N], g[N], m[N], v[N], p0[N], m0[N], v0[N];
    fill_uniform(p, N, -1, 1, 3);
    fill_uniform(g, N, -1, 1, 4);
    fill_uniform(m, N, -1, 1, 5);
    fill_uniform(v, N, 0, 1, 6);
    memcpy(p0, p, sizeof p), memcpy(m0, m, sizeof m), memcpy(v0, v, sizeof v);
    const ParamSegment segs[2] = {{20, 7}, {3, 5}}; // unsorted on purpose
    int trainable[N] = {0};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < segs[k].n; i++)
            trainable[segs[k].offset + i] = 1;
    AdamWConfig ca = {
        .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    adamw_step(p, g, m, v, N, segs, 2, &ca, 3);
    SgdConfig cs = {.lr = 0.1f, .momentum = 0.5f, .weight_decay = 0.1f};
    sgd_step(p, g, m, N, segs, 2, &cs);
    for (int i = 0; i < N; i++) {
        if (trainable[i]) {
            ck_assert_msg(p[i] != p0[i], "trainable p[%d] did not move", i);
        } else {
            ck_assert_msg(p[i] == p0[i] && m[i] == m0[i] && v[i] == v0[i],
                          "frozen element %d changed", i);
        }
    }
    // A zero-length segment list trains nothing.
    memcpy(p0, p, sizeof p);
    adamw_step(p, g, m, v, N, segs, 0, &ca, 4);
    ck_assert_mem_eq(p, p0, sizeof p);
}
END_TEST

// The norm's 8 interleaved double sums against one running double sum, on sizes around the
// 8-lane blocks and over two segments: equal to rounding in double.
START_TEST(test_global_norm_matches_a_running_sum) {
    const size_t n = adam_sizes[_i];
    float *g = xmalloc(n * sizeof(float));
    fill_uniform(g, n, -3, 3, 77);
    const ParamSegment segs[2] = {{0, n / 3}, {n / 3 + (n > 2), n - n / 3 - (n > 2)}};
    double all = 0, in_segs = 0;
    for (size_t i = 0; i < n; i++) {
        double sq = (double)g[i] * g[i];
        all += sq;
        if (i < segs[0].n || (i >= segs[1].offset && i < segs[1].offset + segs[1].n)) in_segs += sq;
    }
    ck_assert_double_eq_tol(grad_global_norm(g, n, NULL, 0), sqrt(all), TOL_NORM * sqrt(all));
    ck_assert_double_eq_tol(grad_global_norm(g, n, segs, 2), sqrt(in_segs),
                            TOL_NORM * sqrt(in_segs) + 1e-300);
    xfree(g);
}
END_TEST

START_TEST(test_global_norm_and_clipping) {
    float g[6] = {3, 4, 100, 0, 12, -100}; // segments {0,2} and {4,1}: norm sqrt(9+16+144) = 13
    const ParamSegment segs[2] = {{0, 2}, {4, 1}};
    ck_assert_double_eq_tol(grad_global_norm(g, 6, segs, 2), 13.0, TOL_NORM);
    double before = clip_grad_global_norm(g, 6, segs, 2, 6.5);
    ck_assert_double_eq_tol(before, 13.0, TOL_NORM);
    const float want[6] = {1.5f, 2, 100, 0, 6, -100}; // halved inside, untouched outside
    ck_assert_floats_near(g, want, 6, 0, 1e-7);
    ck_assert_double_eq_tol(grad_global_norm(g, 6, segs, 2), 6.5, 1e-6);
    // Under the limit: unchanged, and the whole buffer is the default.
    float h[2] = {0.3f, 0.4f};
    ck_assert_double_eq_tol(clip_grad_global_norm(h, 2, NULL, 0, 1.0), 0.5, 1e-7);
    ck_assert(h[0] == 0.3f && h[1] == 0.4f);
}
END_TEST

START_TEST(test_cosine_schedule_warmup_and_endpoints) {
    const float lr_max = 1e-3f, lr_min = 1e-5f;
    // Warm-up: lr_max/warmup at step 0, rising linearly, lr_max at step warmup-1 and at warmup.
    ck_assert_float_eq_tol(lr_cosine_warmup(0, 10, 110, lr_max, lr_min), 1e-4f, 1e-10f);
    ck_assert_float_eq_tol(lr_cosine_warmup(4, 10, 110, lr_max, lr_min), 5e-4f, 1e-10f);
    ck_assert_float_eq_tol(lr_cosine_warmup(9, 10, 110, lr_max, lr_min), lr_max, 1e-10f);
    ck_assert_float_eq_tol(lr_cosine_warmup(10, 10, 110, lr_max, lr_min), lr_max, 1e-10f);
    // Half-way through the decay: the midpoint; at and after total: lr_min.
    ck_assert_float_eq_tol(lr_cosine_warmup(60, 10, 110, lr_max, lr_min), 0.5f * (lr_max + lr_min),
                           1e-10f);
    ck_assert_float_eq_tol(lr_cosine_warmup(110, 10, 110, lr_max, lr_min), lr_min, 1e-12f);
    ck_assert_float_eq_tol(lr_cosine_warmup(5000, 10, 110, lr_max, lr_min), lr_min, 1e-12f);
    // Monotone decay after warm-up; no warm-up starts at lr_max.
    for (long s = 11; s <= 110; s++)
        ck_assert(lr_cosine_warmup(s, 10, 110, lr_max, lr_min) <=
                  lr_cosine_warmup(s - 1, 10, 110, lr_max, lr_min));
    ck_assert_float_eq_tol(lr_cosine_warmup(0, 0, 100, lr_max, lr_min), lr_max, 1e-10f);
}
END_TEST

static void adam_overlap(void *arg) {
    float b[8] = {0};
    const ParamSegment segs[2] = {{0, 4}, {3, 2}};
    AdamWConfig c = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    (void)arg;
    adamw_step(b, b, b, b, 8, segs, 2, &c, 1);
}
static void adam_outside(void *arg) {
    float b[8] = {0};
    const ParamSegment segs[1] = {{6, 3}};
    AdamWConfig c = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    (void)arg;
    adamw_step(b, b, b, b, 8, segs, 1, &c, 1);
}
static void adam_step_zero(void *arg) {
    float b[8] = {0};
    AdamWConfig c = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    (void)arg;
    adamw_step(b, b, b, b, 8, NULL, 0, &c, 0);
}
static void adam_bad_beta(void *arg) {
    float b[8] = {0};
    AdamWConfig c = {.lr = 0.1f, .beta1 = 1.0f, .beta2 = 0.999f, .eps = 1e-8f};
    (void)arg;
    adamw_step(b, b, b, b, 8, NULL, 0, &c, 1);
}
static void sgd_null(void *arg) {
    float b[8] = {0};
    SgdConfig c = {.lr = 0.1f};
    (void)arg;
    sgd_step(b, NULL, b, 8, NULL, 0, &c);
}
static void clip_zero(void *arg) {
    float b[8] = {0};
    (void)arg;
    clip_grad_global_norm(b, 8, NULL, 0, 0.0);
}
static void sched_bad(void *arg) {
    (void)arg;
    lr_cosine_warmup(0, 20, 10, 1e-3f, 0);
}

START_TEST(test_bad_input_dies_with_values) {
    expect_die(adam_overlap, NULL, "adamw_step", "segments 0 [0, 4) and 1 [3, 5) overlap");
    expect_die(adam_outside, NULL, "adamw_step", "segment 0 [6, 9) outside the buffer [0, 8)");
    expect_die(adam_step_zero, NULL, "adamw_step", "t = 0");
    expect_die(adam_bad_beta, NULL, "adamw_step", "beta1=1");
    expect_die(sgd_null, NULL, "sgd_step", "NULL buffer");
    expect_die(clip_zero, NULL, "clip_grad_global_norm", "max_norm = 0");
    expect_die(sched_bad, NULL, "lr_cosine_warmup", "warmup=20 total=10");
}
END_TEST

Suite *optim_suite(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_adamw_two_steps_match_double);
    tcase_add_test(tc, test_sgd_momentum_and_nesterov_two_steps);
    tcase_add_loop_test(tc, test_adamw_vector_body_is_bit_identical_to_scalar_twin, 0,
                        (int)(sizeof adam_sizes / sizeof adam_sizes[0]));
    tcase_add_test(tc, test_frozen_elements_are_never_touched);
    tcase_add_test(tc, test_global_norm_and_clipping);
    tcase_add_loop_test(tc, test_global_norm_matches_a_running_sum, 0,
                        (int)(sizeof adam_sizes / sizeof adam_sizes[0]));
    tcase_add_test(tc, test_cosine_schedule_warmup_and_endpoints);
    tcase_add_test(tc, test_bad_input_dies_with_values);
    suite_add_tcase(s, tc);
    return s;
}
