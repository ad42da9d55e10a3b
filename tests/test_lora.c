// test_lora.c - the LoRA path out += scale·(inp·aᵀ)·bᵀ: forward against double loops (and that it
// accumulates onto the base output), backward against central finite differences, dh as scratch,
// NULL gradients, and bad arguments that die naming the function. Merging: against a naive twin,
// merged linear equal to linear + adapter, the merge/unmerge rounding bound. LoRA dropout: p = 0 is
// plain LoRA, backward through a fixed seeded mask by finite differences, kept entries scaled.
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/dropout.h"
#include "nn/linear.h"
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

// ---- merge / unmerge ----

// {N, C, OC, r}: rank 1, r > C (the product b·a is then full rank C), C = 1, odd sizes.
static const int merge_shapes[][4] = {{1, 3, 2, 1}, {4, 7, 5, 2},  {3, 2, 6, 5},
                                      {5, 1, 4, 3}, {6, 16, 9, 1}, {2, 33, 17, 8}};

typedef struct MergeCtx {
    float *w, *w0, *a, *b;
    float scale;
    int C, OC, r;
} MergeCtx;

static void merge_alloc(MergeCtx *m, const int *sh, float alpha) {
    m->C = sh[1], m->OC = sh[2], m->r = sh[3];
    m->scale = alpha / (float)m->r;
    const size_t nw = (size_t)m->OC * m->C;
    m->w = xmalloc(nw * sizeof(float));
    m->w0 = xmalloc(nw * sizeof(float));
    m->a = xmalloc((size_t)m->r * m->C * sizeof(float));
    m->b = xmalloc((size_t)m->OC * m->r * sizeof(float));
    fill_uniform(m->w0, nw, -1, 1, 95);
    fill_uniform(m->a, (size_t)m->r * m->C, -1, 1, 96);
    fill_uniform(m->b, (size_t)m->OC * m->r, -1, 1, 97);
    memcpy(m->w, m->w0, nw * sizeof(float));
}

static void merge_free(MergeCtx *m) { xfree(m->w), xfree(m->w0), xfree(m->a), xfree(m->b); }

// Naive twin of lora_merge: w (OC, C) += scale · b (OC, r) · a (r, C), double loops. With abs
// non-NULL, abs (OC, C) = Σ_k |scale · b_ok · a_kc| (the size of the terms, for rounding bounds).
static void lora_merge_ref(float *w, double *abs_terms, const float *a, const float *b, float scale,
                           int C, int OC, int r) {
    for (int o = 0; o < OC; o++)
        for (int i = 0; i < C; i++) {
            double acc = 0, mag = 0;
            for (int k = 0; k < r; k++) {
                double t = (double)scale * b[o * r + k] * a[k * C + i];
                acc += t, mag += fabs(t);
            }
            w[o * C + i] = (float)(w[o * C + i] + acc);
            if (abs_terms) abs_terms[o * C + i] = mag;
        }
}

START_TEST(test_lora_merge_matches_naive_twin) {
    MergeCtx m;
    merge_alloc(&m, merge_shapes[_i], 2.0f);
    const size_t nw = (size_t)m.OC * m.C;
    float *want = xmalloc(nw * sizeof(float));
    memcpy(want, m.w0, nw * sizeof(float));
    lora_merge_ref(want, NULL, m.a, m.b, m.scale, m.C, m.OC, m.r);
    lora_merge(m.w, m.a, m.b, m.scale, m.C, m.OC, m.r);
    ck_assert_floats_near(m.w, want, nw, TOL_BLAS_REF, TOL_BLAS_REF);
    // unmerge alone is the twin with -scale.
    memcpy(want, m.w0, nw * sizeof(float));
    lora_merge_ref(want, NULL, m.a, m.b, -m.scale, m.C, m.OC, m.r);
    memcpy(m.w, m.w0, nw * sizeof(float));
    lora_unmerge(m.w, m.a, m.b, m.scale, m.C, m.OC, m.r);
    ck_assert_floats_near(m.w, want, nw, TOL_BLAS_REF, TOL_BLAS_REF);
    xfree(want);
    merge_free(&m);
}
END_TEST

START_TEST(test_lora_merged_forward_equals_linear_plus_adapter) {
    const int *sh = merge_shapes[_i];
    MergeCtx m;
    merge_alloc(&m, sh, 2.0f);
    const int N = sh[0];
    const size_t no = (size_t)N * m.OC;
    float *inp = xmalloc((size_t)N * m.C * sizeof(float));
    float *bias = xmalloc((size_t)m.OC * sizeof(float));
    float *h = xmalloc((size_t)N * m.r * sizeof(float));
    float *unmerged = xmalloc(no * sizeof(float)), *merged = xmalloc(no * sizeof(float));
    fill_uniform(inp, (size_t)N * m.C, -1, 1, 98);
    fill_uniform(bias, (size_t)m.OC, -1, 1, 99);
    linear_forward(unmerged, inp, m.w0, bias, N, m.C, m.OC);
    lora_forward(unmerged, h, inp, m.a, m.b, m.scale, N, m.C, m.OC, m.r);
    lora_merge(m.w, m.a, m.b, m.scale, m.C, m.OC, m.r);
    linear_forward(merged, inp, m.w, bias, N, m.C, m.OC);
    ck_assert_floats_near(merged, unmerged, no, TOL_BLAS_REF, TOL_BLAS_REF);
    xfree(inp), xfree(bias), xfree(h), xfree(unmerged), xfree(merged);
    merge_free(&m);
}
END_TEST

START_TEST(test_lora_merge_unmerge_round_trip_within_rounding) {
    // alpha = 64: the product dominates w, the case where the round trip loses the most.
    MergeCtx m;
    merge_alloc(&m, merge_shapes[_i], 64.0f);
    const size_t nw = (size_t)m.OC * m.C;
    double *mag = xmalloc(nw * sizeof(double));
    float *scratch = xmalloc(nw * sizeof(float));
    memcpy(scratch, m.w0, nw * sizeof(float));
    lora_merge_ref(scratch, mag, m.a, m.b, m.scale, m.C, m.OC, m.r);
    lora_merge(m.w, m.a, m.b, m.scale, m.C, m.OC, m.r);
    lora_unmerge(m.w, m.a, m.b, m.scale, m.C, m.OC, m.r);
    // Two roundings per element (add, then take away the bit-identical product): the header's
    // bound 2·FLT_EPSILON·(|w| + |scale·b·a|), with Σ|terms| >= |scale·b·a| for the latter.
    double worst = 0, max_mag = 0;
    for (size_t i = 0; i < nw; i++) {
        const double err = fabs((double)m.w[i] - m.w0[i]);
        const double bound = 2.0 * FLT_EPSILON * (fabs(m.w0[i]) + mag[i]);
        ck_assert_msg(err <= bound, "w[%zu]: |w' - w| = %g > bound %g (w = %g, |terms| = %g)", i,
                      err, bound, (double)m.w0[i], mag[i]);
        worst = fmax(worst, err), max_mag = fmax(max_mag, mag[i]);
    }
    ck_assert_msg(worst <= 4.0 * FLT_EPSILON * (1.0 + max_mag), "max |w' - w| = %g", worst);
    xfree(mag), xfree(scratch);
    merge_free(&m);
}
END_TEST

START_TEST(test_lora_merge_unmerge_loses_small_weight_under_large_product) {
    // Hand case from the header: w = 1e-4 under scale·b·a = 1e4 (float spacing there ~1e-3).
    float w = 1e-4f;
    const float a = 1e4f, b = 1.0f;
    lora_merge(&w, &a, &b, 1.0f, 1, 1, 1);
    ck_assert_float_eq(w, 1e4f);
    lora_unmerge(&w, &a, &b, 1.0f, 1, 1, 1);
    ck_assert_float_eq(w, 0.0f);
    ck_assert(1e-4 <= 2.0 * FLT_EPSILON * (1e-4 + 1e4)); // still inside the documented bound
}
END_TEST

// ---- LoRA dropout ----

#define DROP_SEED 77

typedef struct DropCtx {
    LoraCtx c;
    float *x, *mask;
    float p;
} DropCtx;

static void drop_alloc(DropCtx *d, const int *sh, float p) {
    lora_alloc(&d->c, sh);
    d->p = p;
    d->x = xmalloc((size_t)d->c.N * d->c.C * sizeof(float));
    d->mask = xmalloc((size_t)d->c.N * d->c.C * sizeof(float));
}

static void drop_free(DropCtx *d) {
    xfree(d->x), xfree(d->mask);
    lora_free(&d->c);
}

// The stream is restarted on every call, so the mask is fixed while the check perturbs inp, a, b.
static double drop_loss(void *ctx) {
    DropCtx *d = ctx;
    LoraCtx *c = &d->c;
    size_t no = (size_t)c->N * c->OC;
    for (size_t i = 0; i < no; i++)
        c->out[i] = c->base[i];
    Rng rng;
    rng_init(&rng, DROP_SEED, 0, 0, RNG_DROPOUT);
    lora_dropout_forward(c->out, c->h, d->x, d->mask, c->inp, c->a, c->b, c->scale, d->p, &rng,
                         c->N, c->C, c->OC, c->r);
    return dot_double(c->out, c->g, no);
}

START_TEST(test_lora_dropout_p0_is_plain_lora) {
    DropCtx d;
    drop_alloc(&d, lora_shapes[_i], 0.0f);
    LoraCtx *c = &d.c;
    const size_t no = (size_t)c->N * c->OC, nx = (size_t)c->N * c->C;
    const size_t na = (size_t)c->r * c->C, nb = (size_t)c->OC * c->r;
    lora_loss(c);
    float *want = xmalloc(no * sizeof(float)),
          *want_h = xmalloc((size_t)c->N * c->r * sizeof(float));
    memcpy(want, c->out, no * sizeof(float));
    memcpy(want_h, c->h, (size_t)c->N * c->r * sizeof(float));
    float *dinp1 = xcalloc(nx, sizeof(float)), *da1 = xcalloc(na, sizeof(float)),
          *db1 = xcalloc(nb, sizeof(float));
    float *dinp2 = xcalloc(nx, sizeof(float)), *da2 = xcalloc(na, sizeof(float)),
          *db2 = xcalloc(nb, sizeof(float));
    float *dh = xmalloc((size_t)c->N * c->r * sizeof(float)), *dx = xmalloc(nx * sizeof(float));
    lora_backward(dinp1, da1, db1, dh, c->g, c->inp, c->h, c->a, c->b, c->scale, c->N, c->C, c->OC,
                  c->r);
    // p = 0 draws nothing: a NULL stream is allowed.
    for (size_t i = 0; i < no; i++)
        c->out[i] = c->base[i];
    lora_dropout_forward(c->out, c->h, d.x, d.mask, c->inp, c->a, c->b, c->scale, 0.0f, NULL, c->N,
                         c->C, c->OC, c->r);
    ck_assert_floats_near(c->out, want, no, 0, 0);
    ck_assert_floats_near(c->h, want_h, (size_t)c->N * c->r, 0, 0);
    ck_assert_floats_near(d.x, c->inp, nx, 0, 0);
    lora_dropout_backward(dinp2, da2, db2, dh, dx, c->g, d.x, d.mask, c->h, c->a, c->b, c->scale,
                          c->N, c->C, c->OC, c->r);
    ck_assert_floats_near(dinp2, dinp1, nx, 0, 0);
    ck_assert_floats_near(da2, da1, na, 0, 0);
    ck_assert_floats_near(db2, db1, nb, 0, 0);
    xfree(want), xfree(want_h), xfree(dinp1), xfree(da1), xfree(db1), xfree(dinp2), xfree(da2),
        xfree(db2), xfree(dh), xfree(dx);
    drop_free(&d);
}
END_TEST

START_TEST(test_lora_dropout_backward_matches_finite_differences) {
    DropCtx d;
    drop_alloc(&d, lora_shapes[_i], 0.3f);
    LoraCtx *c = &d.c;
    const size_t nx = (size_t)c->N * c->C;
    drop_loss(&d);
    // The mask is dropout_forward's on the same stream, applied to the adapter's input only.
    float *want_mask = xmalloc(nx * sizeof(float)), *want_x = xmalloc(nx * sizeof(float));
    Rng rng;
    rng_init(&rng, DROP_SEED, 0, 0, RNG_DROPOUT);
    dropout_forward(want_x, want_mask, c->inp, nx, d.p, &rng);
    ck_assert_floats_near(d.mask, want_mask, nx, 0, 0);
    ck_assert_floats_near(d.x, want_x, nx, 0, 0);
    float *dinp = xcalloc(nx, sizeof(float)), *da = xcalloc((size_t)c->r * c->C, sizeof(float));
    float *db = xcalloc((size_t)c->OC * c->r, sizeof(float));
    float *dh = xmalloc((size_t)c->N * c->r * sizeof(float)), *dx = xmalloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN; // scratch: overwritten before it is read
    lora_dropout_backward(dinp, da, db, dh, dx, c->g, d.x, d.mask, c->h, c->a, c->b, c->scale, c->N,
                          c->C, c->OC, c->r);
    for (size_t i = 0; i < nx; i++)
        if (d.mask[i] == 0.0f) ck_assert_float_eq(dinp[i], 0.0f); // dropped: no gradient
    Rng r;
    rng_init(&r, 14, 0, 0, RNG_TEST);
    fd_check(drop_loss, &d, c->inp, dinp, nx, FD_H, FD_PROBES, &r);
    fd_check(drop_loss, &d, c->a, da, (size_t)c->r * c->C, FD_H, FD_PROBES, &r);
    fd_check(drop_loss, &d, c->b, db, (size_t)c->OC * c->r, FD_H, FD_PROBES, &r);
    xfree(want_mask), xfree(want_x), xfree(dinp), xfree(da), xfree(db), xfree(dh), xfree(dx);
    drop_free(&d);
}
END_TEST

START_TEST(test_lora_dropout_scales_kept_entries) {
    const int sh[4] = {64, 64, 3, 2};
    const float p = 0.25f;
    DropCtx d;
    drop_alloc(&d, sh, p);
    drop_loss(&d);
    const size_t nx = (size_t)64 * 64;
    const float keep = 1.0f / (1.0f - p); // 4/3
    size_t dropped = 0;
    double mask_sum = 0;
    for (size_t i = 0; i < nx; i++) {
        if (d.mask[i] == 0.0f) {
            dropped++;
            ck_assert_float_eq(d.x[i], 0.0f);
        } else {
            ck_assert_float_eq(d.mask[i], keep);
            ck_assert_float_eq(d.x[i], d.c.inp[i] * keep);
        }
        mask_sum += d.mask[i];
    }
    // Binomial(4096, 0.25): sd 27.7 drops; 6 sd either side. E[mask] = 1 (inverted dropout).
    ck_assert_msg(fabs((double)dropped - 1024.0) < 166.0, "dropped %zu of 4096", dropped);
    ck_assert_msg(fabs(mask_sum / (double)nx - 1.0) < 0.08, "mean mask %g", mask_sum / (double)nx);
    drop_free(&d);
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

static void lora_merge_null_w(void *arg) {
    float buf[16] = {0};
    (void)arg;
    lora_merge(NULL, buf, buf, 1.0f, 2, 2, 1);
}
static void lora_unmerge_zero_c(void *arg) {
    float buf[16] = {0};
    (void)arg;
    lora_unmerge(buf, buf, buf, 1.0f, 0, 2, 1);
}
static void lora_dropout_dinp_without_dx(void *arg) {
    float buf[16] = {0};
    (void)arg;
    lora_dropout_backward(buf, buf, buf, buf, NULL, buf, buf, buf, buf, buf, buf, 1.0f, 2, 2, 2, 1);
}
static void lora_dropout_p_one(void *arg) {
    float buf[16] = {0};
    Rng rng;
    (void)arg;
    rng_init(&rng, 1, 0, 0, RNG_DROPOUT);
    lora_dropout_forward(buf, buf, buf, buf, buf, buf, buf, 1.0f, 1.0f, &rng, 2, 2, 2, 1);
}

START_TEST(test_lora_bad_arguments_die_naming_the_function) {
    expect_die(lora_null_dh, NULL, "lora_backward", "NULL buffer", "dh=(nil)");
    expect_die(lora_rank_zero, NULL, "lora_forward", "bad shape", "r=0");
    expect_die(lora_merge_null_w, NULL, "lora_merge", "NULL buffer", "w=(nil)");
    expect_die(lora_unmerge_zero_c, NULL, "lora_unmerge", "bad shape", "C=0");
    expect_die(lora_dropout_dinp_without_dx, NULL, "lora_dropout_backward", "dx=(nil)");
    expect_die(lora_dropout_p_one, NULL, "dropout_forward", "p = 1");
}
END_TEST

Suite *lora_suite(void) {
    Suite *s = suite_create("lora");
    TCase *tc = tcase_create("lora");
    const int n = (int)(sizeof lora_shapes / sizeof lora_shapes[0]);
    tcase_add_loop_test(tc, test_lora_forward_adds_scaled_low_rank_path, 0, n);
    tcase_add_loop_test(tc, test_lora_backward_matches_finite_differences, 0, n);
    tcase_add_test(tc, test_lora_backward_accumulates_and_skips_null_gradients);
    const int nm = (int)(sizeof merge_shapes / sizeof merge_shapes[0]);
    tcase_add_loop_test(tc, test_lora_merge_matches_naive_twin, 0, nm);
    tcase_add_loop_test(tc, test_lora_merged_forward_equals_linear_plus_adapter, 0, nm);
    tcase_add_loop_test(tc, test_lora_merge_unmerge_round_trip_within_rounding, 0, nm);
    tcase_add_test(tc, test_lora_merge_unmerge_loses_small_weight_under_large_product);
    tcase_add_loop_test(tc, test_lora_dropout_p0_is_plain_lora, 0, n);
    tcase_add_loop_test(tc, test_lora_dropout_backward_matches_finite_differences, 0, n);
    tcase_add_test(tc, test_lora_dropout_scales_kept_entries);
    tcase_add_test(tc, test_lora_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
