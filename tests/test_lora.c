// test_lora.c - the LoRA path out += scale·(inp·aᵀ)·bᵀ: forward against double loops (and that it
// accumulates onto the base output), backward against central finite differences, dh as scratch,
// NULL gradients, and bad arguments that die naming the function.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/lora.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 48

// {N, C, OC, r}: batch 1, rank 1, odd sizes.
static const int lora_shapes[][4] = {{1, 3, 2, 1}, {4, 7, 5, 2}, {3, 16, 9, 4}, {6, 5, 11, 3}};

typedef struct LoraCtx {
    float *out, *h, *inp, *a, *b, *g, *base;
    float scale;
    int N, C, OC, r;
} LoraCtx;

static void lora_alloc(LoraCtx *c, const int *sh) {
    c->N = sh[0], c->C = sh[1], c->OC = sh[2], c->r = sh[3];
    c->scale = 2.0f / (float)c->r; // alpha = 2
    size_t no = (size_t)c->N * c->OC;
    c->out = xmalloc(no * sizeof(float));
    c->base = xmalloc(no * sizeof(float));
    c->g = xmalloc(no * sizeof(float));
    c->h = xmalloc((size_t)c->N * c->r * sizeof(float));
    c->inp = xmalloc((size_t)c->N * c->C * sizeof(float));
    c->a = xmalloc((size_t)c->r * c->C * sizeof(float));
    c->b = xmalloc((size_t)c->OC * c->r * sizeof(float));
    fill_uniform(c->base, no, -1, 1, 90);
    fill_uniform(c->g, no, -1, 1, 91);
    fill_uniform(c->inp, (size_t)c->N * c->C, -1, 1, 92);
    fill_uniform(c->a, (size_t)c->r * c->C, -1, 1, 93);
    fill_uniform(c->b, (size_t)c->OC * c->r, -1, 1, 94);
}

static void lora_free(LoraCtx *c) {
    xfree(c->out), xfree(c->base), xfree(c->g), xfree(c->h), xfree(c->inp), xfree(c->a),
        xfree(c->b);
}

static double lora_loss(void *ctx) {
    LoraCtx *c = ctx;
    size_t no = (size_t)c->N * c->OC;
    for (size_t i = 0; i < no; i++)
        c->out[i] = c->base[i];
    lora_forward(c->out, c->h, c->inp, c->a, c->b, c->scale, c->N, c->C, c->OC, c->r);
    return dot_double(c->out, c->g, no);
}

START_TEST(test_lora_forward_adds_scaled_low_rank_path) {
    LoraCtx c;
    lora_alloc(&c, lora_shapes[_i]);
    lora_loss(&c);
    // Double loops: h = inp·aᵀ, out = base + scale·h·bᵀ.
    float *want_h = xmalloc((size_t)c.N * c.r * sizeof(float));
    float *want = xmalloc((size_t)c.N * c.OC * sizeof(float));
    for (int n = 0; n < c.N; n++) {
        for (int k = 0; k < c.r; k++) {
            double acc = 0;
            for (int i = 0; i < c.C; i++)
                acc += (double)c.inp[n * c.C + i] * c.a[k * c.C + i];
            want_h[n * c.r + k] = (float)acc;
        }
        for (int o = 0; o < c.OC; o++) {
            double acc = 0;
            for (int k = 0; k < c.r; k++)
                acc += (double)want_h[n * c.r + k] * c.b[o * c.r + k];
            want[n * c.OC + o] = (float)(c.base[n * c.OC + o] + c.scale * acc);
        }
    }
    ck_assert_floats_near(c.h, want_h, (size_t)c.N * c.r, TOL_BLAS_REF, TOL_BLAS_REF);
    ck_assert_floats_near(c.out, want, (size_t)c.N * c.OC, TOL_BLAS_REF, TOL_BLAS_REF);
    xfree(want_h), xfree(want);
    lora_free(&c);
}
END_TEST

START_TEST(test_lora_backward_matches_finite_differences) {
    LoraCtx c;
    lora_alloc(&c, lora_shapes[_i]);
    lora_loss(&c);
    float *dinp = xcalloc((size_t)c.N * c.C, sizeof(float));
    float *da = xcalloc((size_t)c.r * c.C, sizeof(float));
    float *db = xcalloc((size_t)c.OC * c.r, sizeof(float));
    float *dh = xmalloc((size_t)c.N * c.r * sizeof(float));
    for (int i = 0; i < c.N * c.r; i++)
        dh[i] = NAN; // scratch: overwritten, never read
    lora_backward(dinp, da, db, dh, c.g, c.inp, c.h, c.a, c.b, c.scale, c.N, c.C, c.OC, c.r);
    Rng r;
    rng_init(&r, 13, 0, 0, RNG_TEST);
    fd_check(lora_loss, &c, c.inp, dinp, (size_t)c.N * c.C, FD_H, FD_PROBES, &r);
    fd_check(lora_loss, &c, c.a, da, (size_t)c.r * c.C, FD_H, FD_PROBES, &r);
    fd_check(lora_loss, &c, c.b, db, (size_t)c.OC * c.r, FD_H, FD_PROBES, &r);
    xfree(dinp), xfree(da), xfree(db), xfree(dh);
    lora_free(&c);
}
END_TEST

START_TEST(test_lora_backward_accumulates_and_skips_null_gradients) {
    LoraCtx c;
    lora_alloc(&c, lora_shapes[1]);
    lora_loss(&c);
    const size_t na = (size_t)c.r * c.C, nb = (size_t)c.OC * c.r;
    float *da1 = xcalloc(na, sizeof(float)), *da2 = xcalloc(na, sizeof(float));
    float *db1 = xcalloc(nb, sizeof(float)), *db2 = xcalloc(nb, sizeof(float));
    float *dh = xmalloc((size_t)c.N * c.r * sizeof(float));
    lora_backward(NULL, da1, db1, dh, c.g, c.inp, c.h, c.a, c.b, c.scale, c.N, c.C, c.OC, c.r);
    // Twice into da2 (only da), then db2 alone twice: each is 2x the single pass.
    for (int t = 0; t < 2; t++) {
        lora_backward(NULL, da2, NULL, dh, c.g, c.inp, c.h, c.a, c.b, c.scale, c.N, c.C, c.OC, c.r);
        lora_backward(NULL, NULL, db2, dh, c.g, c.inp, c.h, c.a, c.b, c.scale, c.N, c.C, c.OC, c.r);
    }
    for (size_t i = 0; i < na; i++)
        da1[i] *= 2;
    for (size_t i = 0; i < nb; i++)
        db1[i] *= 2;
    ck_assert_floats_near(da2, da1, na, TOL_BLAS_REF, TOL_BLAS_REF);
    ck_assert_floats_near(db2, db1, nb, TOL_BLAS_REF, TOL_BLAS_REF);
    xfree(da1), xfree(da2), xfree(db1), xfree(db2), xfree(dh);
    lora_free(&c);
}
END_TEST

static void lora_null_dh(void *arg) {
    float buf[16] = {0};
    (void)arg;
    lora_backward(buf, buf, buf, NULL, buf, buf, buf, buf, buf, 1.0f, 2, 2, 2, 1);
}
static void lora_rank_zero(void *arg) {
    float buf[16] = {0};
    (void)arg;
    lora_forward(buf, buf, buf, buf, buf, 1.0f, 2, 2, 2, 0);
}

START_TEST(test_lora_bad_arguments_die_naming_the_function) {
    expect_die(lora_null_dh, NULL, "lora_backward", "NULL buffer", "dh=(nil)");
    expect_die(lora_rank_zero, NULL, "lora_forward", "bad shape", "r=0");
}
END_TEST

Suite *lora_suite(void) {
    Suite *s = suite_create("lora");
    TCase *tc = tcase_create("lora");
    const int n = (int)(sizeof lora_shapes / sizeof lora_shapes[0]);
    tcase_add_loop_test(tc, test_lora_forward_adds_scaled_low_rank_path, 0, n);
    tcase_add_loop_test(tc, test_lora_backward_matches_finite_differences, 0, n);
    tcase_add_test(tc, test_lora_backward_accumulates_and_skips_null_gradients);
    tcase_add_test(tc, test_lora_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
