// test_blocks.c - the shared pre-LN transformer block stack (models/blocks.h): the backward (input
// stream and every parameter) against central differences under a key mask with B < Bmax (so the
// per-layer slabs' Bmax stride is exercised); a frozen stack (grads NULL) gives the same input
// gradient bit for bit; parameter gradients accumulate; a masked key changes no other token;
// the tensor table tiles the stack's range; bad arguments die naming the values.
#include <check.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/blocks.h"

#define FD_H 1e-2      /* the step TOL_FD_REL is calibrated for */
#define TOL_ACCUM 1e-5 /* two backwards summed vs twice one: float sums in another order */
#define TOL_MASKED 0.0 /* a key no query sees must not change any other token at all */

enum { B = 3, BMAX = 4, T = 5, D = 8, H = 2, L = 2, BASE = 7 };

typedef struct {
    Blocks b;
    BlocksWork w;
    uint8_t km[B * T];
    float *params, *grads, *g; // g (B, T, D): loss = <out, g>
    size_t n;                  // BASE + the stack's floats
} Ctx;

static void ctx_init(Ctx *c) {
    // The stack starts at BASE, as it does after an encoder in a caller's buffer.
    blocks_init(&c->b, D, L, H, BASE);
    blocks_work_init(&c->w, &c->b, BMAX, T);
    c->n = BASE + c->b.n_params;
    c->params = xcalloc(c->n, sizeof(float));
    c->grads = xcalloc(c->n, sizeof(float));
    c->g = xcalloc((size_t)B * T * D, sizeof(float));
    // Order-1 parameters (not the 0.02 init), so every gradient is well above the FD floor.
    fill_uniform(c->params, c->n, -0.5f, 0.5f, 60);
    fill_uniform(blocks_in(&c->w), (size_t)B * T * D, -1, 1, 61);
    fill_uniform(c->g, (size_t)B * T * D, -1, 1, 62);
    for (int i = 0; i < B * T; i++)
        c->km[i] = (uint8_t)(i % 4 != 1); // a few masked keys in every row
}

static void ctx_free(Ctx *c) {
    blocks_work_free(&c->w);
    xfree(c->params), xfree(c->grads), xfree(c->g);
}

static double loss(void *ctx) {
    Ctx *c = ctx;
    blocks_forward(&c->b, c->params, c->km, B, &c->w);
    return dot_double(blocks_out(&c->b, &c->w), c->g, (size_t)B * T * D);
}

// dx (B, T, D) = ∂loss/∂x[0]; grads += ∂loss/∂params (grads may be NULL).
static void backward(Ctx *c, float *grads, float *dx) {
    loss(c);
    memcpy(dx, c->g, (size_t)B * T * D * sizeof(float));
    blocks_backward(&c->b, c->params, grads, c->km, B, &c->w, dx);
}

START_TEST(test_blocks_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c);
    float *dx = xcalloc((size_t)B * T * D, sizeof(float));
    backward(&c, c.grads, dx);
    for (int i = 0; i < BASE; i++)
        ck_assert_msg(c.grads[i] == 0.f, "grads[%d] below the stack's base was touched", i);
    Rng r;
    rng_init(&r, 11, 0, 0, RNG_TEST);
    fd_check(loss, &c, blocks_in(&c.w), dx, (size_t)B * T * D, FD_H, (size_t)B * T * D, &r);
    fd_check(loss, &c, c.params + BASE, c.grads + BASE, c.b.n_params, FD_H, 600, &r);
    xfree(dx);
    ctx_free(&c);
}
END_TEST

START_TEST(test_blocks_frozen_same_dx_and_accumulates) {
    Ctx c;
    ctx_init(&c);
    const size_t n = (size_t)B * T * D;
    float *dx = xcalloc(n, sizeof(float)), *dx_frozen = xcalloc(n, sizeof(float));
    backward(&c, c.grads, dx);
    backward(&c, NULL, dx_frozen);
    ck_assert_mem_eq(dx, dx_frozen, n * sizeof(float));
    float *once = xmalloc(c.n * sizeof(float));
    memcpy(once, c.grads, c.n * sizeof(float));
    backward(&c, c.grads, dx);
    for (size_t i = 0; i < c.n; i++)
        once[i] *= 2.f;
    ck_assert_floats_near(c.grads, once, c.n, TOL_ACCUM, TOL_ACCUM);
    xfree(dx), xfree(dx_frozen), xfree(once);
    ctx_free(&c);
}
END_TEST

START_TEST(test_blocks_masked_key_is_invisible) {
    Ctx c;
    ctx_init(&c);
    const size_t n = (size_t)B * T * D;
    float *out = xmalloc(n * sizeof(float));
    loss(&c);
    memcpy(out, blocks_out(&c.b, &c.w), n * sizeof(float));
    // Token 1 of row 0 is masked (km[1] = 0): change its input; every other token stays put.
    float *x1 = blocks_in(&c.w) + 1 * D;
    for (int k = 0; k < D; k++)
        x1[k] += 3.f;
    loss(&c);
    const float *out2 = blocks_out(&c.b, &c.w);
    for (int t = 0; t < B * T; t++)
        if (t != 1)
            ck_assert_floats_near(out2 + (size_t)t * D, out + (size_t)t * D, D, TOL_MASKED,
                                  TOL_MASKED);
    xfree(out);
    ctx_free(&c);
}
END_TEST

START_TEST(test_blocks_tensors_tile_the_range) {
    Blocks b;
    blocks_init(&b, D, L, H, BASE);
    ck_assert_uint_eq(b.n_params, (size_t)L * (12 * D * D + 13 * D));
    Model m = {0};
    // A stand-in first tensor, so the stack's tensors must start at BASE.
    model_add_tensor(&m, "enc/w", 1, (int64_t[]){BASE}, 0, 0);
    blocks_add_tensors(&b, &m, "vit/blocks", 0);
    ck_assert_int_eq(m.n_tensors, 13);
    ck_assert_str_eq(m.tensor[3].name, "vit/blocks/qkvw");
    ck_assert_int_eq(m.tensor[3].ndim, 3);
    ck_assert_int_eq(m.tensor[3].shape[1], 3 * D);
    const ModelTensor *last = &m.tensor[12];
    ck_assert_uint_eq(last->off + last->n, BASE + b.n_params);
}
END_TEST

static void die_heads(void *arg) {
    (void)arg;
    Blocks b;
    blocks_init(&b, 10, 1, 4, 0);
}

static void die_batch(void *arg) {
    (void)arg;
    Blocks b;
    blocks_init(&b, D, 1, H, 0);
    BlocksWork w;
    blocks_work_init(&w, &b, 2, T);
    float *p = xcalloc(b.n_params, sizeof(float));
    blocks_forward(&b, p, NULL, 3, &w);
}

START_TEST(test_blocks_bad_arguments_die) {
    expect_die(die_heads, NULL, "blocks_init", "D = 10 is not a multiple of H = 4");
    expect_die(die_batch, NULL, "blocks_forward", "batch B = 3 outside 1..Bmax = 2");
}
END_TEST

Suite *blocks_suite(void) {
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("blocks");
    tcase_add_test(tc, test_blocks_backward_matches_finite_differences);
    tcase_add_test(tc, test_blocks_frozen_same_dx_and_accumulates);
    tcase_add_test(tc, test_blocks_masked_key_is_invisible);
    tcase_add_test(tc, test_blocks_tensors_tile_the_range);
    tcase_add_test(tc, test_blocks_bad_arguments_die);
    suite_add_tcase(s, tc);
    return s;
}
