// test_vit.c - the small ViT encoder (models/vit.h): the gradient of every tensor against central
// differences on a tiny rectangular-patch config; the whole forward against a naive twin composed
// of plain loops and the *_ref layers; the image (28×28, 7×7) and audio (98×40, 7×40) shapes at
// the init give LayerNormed tokens; a frozen backward touches nothing and a training one
// accumulates; the tensor table tiles the ViT's range; bad configs die naming the values.
#include <check.h>
#include <math.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "models/vit.h"
#include "nn/attention.h"
#include "nn/linear.h"

#define FD_H 1e-2      /* the step TOL_FD_REL is calibrated for */
#define TOL_TWIN 1e-4  /* BLAS float path vs the double twin through 2 blocks and 3 LayerNorms */
#define TOL_ACCUM 1e-5 /* grads added onto ones vs 1 + fresh grads: one float rounding of O(1) */
#define TOL_LN 1e-3    /* mean 0 / variance 1 of a LayerNormed row of 32 (eps 1e-5, float) */

// Tiny and rectangular: 8×6 image, 2×3 patches → Np = 8 patches of 6 values; the ViT starts at
// BASE in the buffer, after a stand-in tensor.
enum { B = 2, BASE = 5 };
static const VitConfig tiny = {
    .C = 1, .H = 8, .W = 6, .Ph = 2, .Pw = 3, .D = 8, .L = 2, .heads = 2};

typedef struct {
    Vit v;
    VitWork w;
    Model m; // the tensor table (stand-in "enc" then the ViT)
    float *params, *grads, *x, *g;
    size_t n, nout;
} Ctx;

static void ctx_init(Ctx *c, const VitConfig *cfg, int Bmax) {
    memset(c, 0, sizeof *c);
    vit_init(&c->v, cfg, BASE);
    vit_work_init(&c->w, &c->v, Bmax);
    model_add_tensor(&c->m, "enc", 1, (int64_t[]){BASE}, 0, 0);
    vit_add_tensors(&c->v, &c->m, "vit_image", 1);
    c->n = BASE + c->v.n_params;
    c->nout = (size_t)Bmax * c->v.Np * cfg->D;
    c->params = xcalloc(c->n, sizeof(float));
    c->grads = xcalloc(c->n, sizeof(float));
    c->x = xcalloc((size_t)Bmax * cfg->C * cfg->H * cfg->W, sizeof(float));
    c->g = xcalloc(c->nout, sizeof(float));
    // Order-1 parameters (not the init), so every gradient is well above the FD floor.
    fill_uniform(c->params, c->n, -0.5f, 0.5f, 70);
    fill_uniform(c->x, (size_t)Bmax * cfg->C * cfg->H * cfg->W, -1, 1, 71);
    fill_uniform(c->g, c->nout, -1, 1, 72);
}

static void ctx_free(Ctx *c) {
    vit_work_free(&c->w);
    xfree(c->params), xfree(c->grads), xfree(c->x), xfree(c->g);
}

static double loss(void *ctx) {
    Ctx *c = ctx;
    vit_forward(&c->v, c->params, c->x, B, &c->w);
    return dot_double(c->w.out, c->g, (size_t)B * c->v.Np * c->v.c.D);
}

START_TEST(test_vit_backward_matches_finite_differences) {
    Ctx c;
    ctx_init(&c, &tiny, B);
    loss(&c);
    vit_backward(&c.v, c.params, c.grads, c.x, B, &c.w, c.g);
    Rng r;
    rng_init(&r, 12, 0, 0, RNG_TEST);
    // Every float of every ViT tensor (the first tensor is the stand-in: untouched).
    for (size_t i = 0; i < BASE; i++)
        ck_assert_msg(c.grads[i] == 0.f, "grads[%zu] below the ViT's base was touched", i);
    ck_assert_int_eq(c.m.n_tensors, 1 + 3 + 12 + 2);
    for (int t = 1; t < c.m.n_tensors; t++) {
        const ModelTensor *mt = &c.m.tensor[t];
        fd_check_at(loss, &c, c.params + mt->off, c.grads + mt->off, mt->n, FD_H, mt->n, &r,
                    mt->name, __FILE__, __LINE__);
    }
    ctx_free(&c);
}
END_TEST

START_TEST(test_vit_frozen_backward_is_a_no_op_and_training_accumulates) {
    Ctx c;
    ctx_init(&c, &tiny, B);
    loss(&c);
    vit_backward(&c.v, c.params, NULL, c.x, B, &c.w, c.g); // frozen: nothing to write
    vit_backward(&c.v, c.params, c.grads, c.x, B, &c.w, c.g);
    float *ones = xmalloc(c.n * sizeof(float));
    for (size_t i = 0; i < c.n; i++)
        ones[i] = 1.f;
    vit_backward(&c.v, c.params, ones, c.x, B, &c.w, c.g);
    for (size_t i = 0; i < c.n; i++)
        c.grads[i] += 1.f;
    ck_assert_floats_near(ones, c.grads, c.n, TOL_ACCUM, TOL_ACCUM);
    xfree(ones);
    ctx_free(&c);
}
END_TEST

// ---- the naive twin: plain loops, double arithmetic, the *_ref layers ----

static void ln_ref(float *out, const float *in, const float *w, const float *b, int N, int D) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * D;
        double mean = 0, var = 0;
        for (int k = 0; k < D; k++)
            mean += x[k];
        mean /= D;
        for (int k = 0; k < D; k++)
            var += (x[k] - mean) * (x[k] - mean);
        double rstd = 1.0 / sqrt(var / D + 1e-5);
        for (int k = 0; k < D; k++)
            out[(size_t)n * D + k] = (float)((x[k] - mean) * rstd * w[k] + b[k]);
    }
}

static float gelu_ref(float xf) {
    double x = xf;
    return (float)(0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))));
}

// out (B, Np, D) = the ViT of x, from the definitions in vit.h and blocks.h.
static void vit_forward_naive(float *out, const Vit *v, const float *p, const float *x) {
    const VitConfig *c = &v->c;
    const int Np = v->Np, Pd = v->patch_dim, D = c->D, N = B * Np, gw = c->W / c->Pw;
    float *patch = xcalloc((size_t)N * Pd, sizeof(float)), *z = xcalloc((size_t)N * D, 4);
    float *ln = xcalloc((size_t)N * D, 4), *qkv = xcalloc((size_t)N * 3 * D, 4);
    float *att = xcalloc((size_t)B * c->heads * Np * Np, 4), *y = xcalloc((size_t)N * D, 4);
    float *h = xcalloc((size_t)N * 4 * D, 4), *r = xcalloc((size_t)N * D, 4);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < c->H / c->Ph; i++)
            for (int j = 0; j < gw; j++)
                for (int ch = 0; ch < c->C; ch++)
                    for (int py = 0; py < c->Ph; py++)
                        for (int px = 0; px < c->Pw; px++)
                            patch[((size_t)b * Np + i * gw + j) * Pd + (ch * c->Ph + py) * c->Pw +
                                  px] = x[(((size_t)b * c->C + ch) * c->H + i * c->Ph + py) * c->W +
                                          j * c->Pw + px];
    linear_forward_ref(z, patch, p + v->patch_w, p + v->patch_b, N, Pd, D);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < D; k++)
            z[(size_t)n * D + k] += p[v->pos + (size_t)(n % Np) * D + k];
    const Blocks *bl = &v->blocks;
    for (int l = 0; l < c->L; l++) {
        const size_t lD = (size_t)l * D, DD = (size_t)D * D;
        ln_ref(ln, z, p + bl->ln1w + lD, p + bl->ln1b + lD, N, D);
        linear_forward_ref(qkv, ln, p + bl->qkvw + 3 * lD * D, p + bl->qkvb + 3 * lD, N, D, 3 * D);
        attention_forward_ref(y, att, qkv, NULL, 0, B, Np, D, c->heads);
        linear_forward_ref(r, y, p + bl->attprojw + l * DD, p + bl->attprojb + lD, N, D, D);
        for (size_t i = 0; i < (size_t)N * D; i++)
            z[i] += r[i];
        ln_ref(ln, z, p + bl->ln2w + lD, p + bl->ln2b + lD, N, D);
        linear_forward_ref(h, ln, p + bl->fcw + 4 * l * DD, p + bl->fcb + 4 * lD, N, D, 4 * D);
        for (size_t i = 0; i < (size_t)N * 4 * D; i++)
            h[i] = gelu_ref(h[i]);
        linear_forward_ref(r, h, p + bl->fcprojw + 4 * l * DD, p + bl->fcprojb + lD, N, 4 * D, D);
        for (size_t i = 0; i < (size_t)N * D; i++)
            z[i] += r[i];
    }
    ln_ref(out, z, p + v->lnf_w, p + v->lnf_b, N, D);
    xfree(patch), xfree(z), xfree(ln), xfree(qkv), xfree(att), xfree(y), xfree(h), xfree(r);
}

START_TEST(test_vit_forward_matches_naive_twin) {
    Ctx c;
    ctx_init(&c, &tiny, B + 1); // Bmax > B: the blocks' slabs have a stride beyond the batch
    vit_forward(&c.v, c.params, c.x, B, &c.w);
    const size_t n = (size_t)B * c.v.Np * tiny.D;
    float *want = xcalloc(n, sizeof(float));
    vit_forward_naive(want, &c.v, c.params, c.x);
    ck_assert_floats_near(c.w.out, want, n, TOL_TWIN, TOL_TWIN);
    xfree(want);
    ctx_free(&c);
}
END_TEST

// At the init (LN_f w = 1, b = 0) every output token has mean 0 and variance 1 over D.
static void check_shape_at_init(const VitConfig *cfg, int want_np, int want_pd) {
    Ctx c;
    ctx_init(&c, cfg, B);
    ck_assert_int_eq(c.v.Np, want_np);
    ck_assert_int_eq(c.v.patch_dim, want_pd);
    Rng r;
    rng_init(&r, 13, 0, 0, RNG_TEST);
    vit_init_params(&c.v, c.params, &r);
    vit_forward(&c.v, c.params, c.x, B, &c.w);
    const int D = cfg->D;
    for (int t = 0; t < B * want_np; t++) {
        const float *o = c.w.out + (size_t)t * D;
        double mean = 0, var = 0;
        for (int k = 0; k < D; k++) {
            ck_assert_msg(isfinite(o[k]), "token %d feature %d: %g", t, k, (double)o[k]);
            mean += o[k];
        }
        mean /= D;
        for (int k = 0; k < D; k++)
            var += (o[k] - mean) * (o[k] - mean);
        ck_assert_double_eq_tol(mean, 0.0, TOL_LN);
        ck_assert_double_eq_tol(var / D, 1.0, TOL_LN);
    }
    ctx_free(&c);
}

START_TEST(test_vit_image_and_audio_shapes) {
    const VitConfig image = {
        .C = 1, .H = 28, .W = 28, .Ph = 7, .Pw = 7, .D = 32, .L = 2, .heads = 4};
    const VitConfig audio = {
        .C = 1, .H = 98, .W = 40, .Ph = 7, .Pw = 40, .D = 32, .L = 2, .heads = 4};
    check_shape_at_init(&image, 16, 49);
    check_shape_at_init(&audio, 14, 280);
}
END_TEST

START_TEST(test_vit_init_and_tensor_table) {
    Ctx c;
    ctx_init(&c, &tiny, B);
    Rng r;
    rng_init(&r, 14, 0, 0, RNG_TEST);
    vit_init_params(&c.v, c.params, &r);
    const float a = 1.f / sqrtf((float)c.v.patch_dim);
    for (size_t i = c.v.patch_w; i < c.v.pos; i++)
        ck_assert_msg(fabsf(c.params[i]) <= a, "patch param %zu = %g beyond 1/sqrt(%d)", i,
                      (double)c.params[i], c.v.patch_dim);
    for (int k = 0; k < tiny.D; k++) {
        ck_assert_float_eq(c.params[c.v.lnf_w + k], 1.f);
        ck_assert_float_eq(c.params[c.v.lnf_b + k], 0.f);
    }
    // The table tiles [BASE, BASE + n_params) in order, with the documented names and shapes.
    const ModelTensor *t = c.m.tensor;
    ck_assert_str_eq(t[1].name, "vit_image/patch/w");
    ck_assert_int_eq(t[1].shape[0], tiny.D);
    ck_assert_int_eq(t[1].shape[1], 6);
    ck_assert_uint_eq(t[1].off, BASE);
    ck_assert_str_eq(t[3].name, "vit_image/pos");
    ck_assert_int_eq(t[3].shape[0], 8);
    ck_assert_str_eq(t[4].name, "vit_image/blocks/ln1w");
    ck_assert_str_eq(t[17].name, "vit_image/lnf/b");
    ck_assert_uint_eq(t[17].off + t[17].n, BASE + c.v.n_params);
    ctx_free(&c);
}
END_TEST

static void die_config(void *arg) {
    Vit v;
    vit_init(&v, arg, 0);
}

static void die_batch(void *arg) {
    (void)arg;
    Vit v;
    vit_init(&v, &tiny, 0);
    VitWork w;
    vit_work_init(&w, &v, 2);
    float *p = xcalloc(v.n_params, sizeof(float)), x[3 * 48] = {0};
    vit_forward(&v, p, x, 3, &w);
}

START_TEST(test_vit_bad_configs_die) {
    VitConfig ph = tiny, pw = tiny, heads = tiny;
    ph.Ph = 3;
    pw.Pw = 4;
    heads.D = 10, heads.heads = 4;
    expect_die(die_config, &ph, "vit_init", "patch height Ph = 3 does not divide H = 8");
    expect_die(die_config, &pw, "vit_init", "patch width Pw = 4 does not divide W = 6");
    expect_die(die_config, &heads, "vit_init", "D = 10 is not a multiple of heads = 4");
    expect_die(die_batch, NULL, "vit_forward", "batch B = 3 outside 1..Bmax = 2");
}
END_TEST

Suite *vit_suite(void) {
    Suite *s = suite_create("vit");
    TCase *tc = tcase_create("vit");
    tcase_add_test(tc, test_vit_backward_matches_finite_differences);
    tcase_add_test(tc, test_vit_frozen_backward_is_a_no_op_and_training_accumulates);
    tcase_add_test(tc, test_vit_forward_matches_naive_twin);
    tcase_add_test(tc, test_vit_image_and_audio_shapes);
    tcase_add_test(tc, test_vit_init_and_tensor_table);
    tcase_add_test(tc, test_vit_bad_configs_die);
    suite_add_tcase(s, tc);
    return s;
}
