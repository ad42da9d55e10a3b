// vit.c - the small ViT encoder (see vit.h): patchify → linear → + pos → the shared block stack →
// LN_f, and its backward to the parameters. [I] reconstruction of the layout; the math is
// Dosovitskiy et al. 2021 eq. 1-4 without the class token.
#include "models/vit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "core/xalloc.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/patch.h"

void vit_init(Vit *v, const VitConfig *c, size_t base) {
    CHECK_PTR(v);
    CHECK_PTR(c);
    CHECK(c->C > 0 && c->H > 0 && c->W > 0 && c->Ph > 0 && c->Pw > 0,
          "vit_init: C = %d, H = %d, W = %d, Ph = %d, Pw = %d", c->C, c->H, c->W, c->Ph, c->Pw);
    CHECK(c->H % c->Ph == 0, "vit_init: patch height Ph = %d does not divide H = %d", c->Ph, c->H);
    CHECK(c->W % c->Pw == 0, "vit_init: patch width Pw = %d does not divide W = %d", c->Pw, c->W);
    CHECK(c->D > 0 && c->L > 0 && c->heads > 0, "vit_init: D = %d, L = %d, heads = %d", c->D, c->L,
          c->heads);
    CHECK(c->D % c->heads == 0, "vit_init: D = %d is not a multiple of heads = %d", c->D, c->heads);
    memset(v, 0, sizeof *v);
    v->c = *c;
    v->Np = patch_count(c->H, c->W, c->Ph, c->Pw);
    v->patch_dim = c->C * c->Ph * c->Pw;
    v->base = base;
    size_t off = base, D = (size_t)c->D;
    v->patch_w = off, off += D * (size_t)v->patch_dim;
    v->patch_b = off, off += D;
    v->pos = off, off += (size_t)v->Np * D;
    blocks_init(&v->blocks, c->D, c->L, c->heads, off);
    off += v->blocks.n_params;
    v->lnf_w = off, off += D;
    v->lnf_b = off, off += D;
    v->n_params = off - base;
}

static void add(Model *m, const char *prefix, const char *what, int ndim, const int64_t *shape,
                size_t off, int trainable) {
    char name[MODEL_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s/%s", prefix, what);
    CHECK(n > 0 && (size_t)n < sizeof name, "vit_add_tensors: name %s/%s longer than %d", prefix,
          what, MODEL_NAME_MAX - 1);
    model_add_tensor(m, name, ndim, shape, off, trainable);
}

void vit_add_tensors(const Vit *v, Model *m, const char *prefix, int trainable) {
    CHECK_PTR(v);
    CHECK_PTR(m);
    CHECK_PTR(prefix);
    const int64_t D = v->c.D;
    add(m, prefix, "patch/w", 2, (int64_t[]){D, v->patch_dim}, v->patch_w, trainable);
    add(m, prefix, "patch/b", 1, (int64_t[]){D}, v->patch_b, trainable);
    add(m, prefix, "pos", 2, (int64_t[]){v->Np, D}, v->pos, trainable);
    char bp[MODEL_NAME_MAX];
    int n = snprintf(bp, sizeof bp, "%s/blocks", prefix);
    CHECK(n > 0 && (size_t)n < sizeof bp, "vit_add_tensors: prefix %s too long", prefix);
    blocks_add_tensors(&v->blocks, m, bp, trainable);
    add(m, prefix, "lnf/w", 1, (int64_t[]){D}, v->lnf_w, trainable);
    add(m, prefix, "lnf/b", 1, (int64_t[]){D}, v->lnf_b, trainable);
}

void vit_init_params(const Vit *v, float *params, Rng *rng) {
    CHECK_PTR(v);
    CHECK_PTR(params);
    CHECK_PTR(rng);
    const size_t D = (size_t)v->c.D;
    const float a = 1.f / sqrtf((float)v->patch_dim); // nn.Linear's default bound, 1/√fan_in
    rng_fill_uniform(rng, params + v->patch_w, D * (size_t)v->patch_dim, -a, a);
    rng_fill_uniform(rng, params + v->patch_b, D, -a, a);
    rng_fill_normal(rng, params + v->pos, (size_t)v->Np * D, 0.f, 0.02f);
    blocks_init_params(&v->blocks, params, rng);
    for (size_t k = 0; k < D; k++)
        params[v->lnf_w + k] = 1.f, params[v->lnf_b + k] = 0.f;
}

// ---- work buffers ----

// As blocks.c: n floats of the arena (or only counted when base is NULL), 64-byte aligned.
static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

static size_t work_layout(VitWork *w, const Vit *v, int Bmax, float *base) {
    size_t off = 0, BN = (size_t)Bmax * (size_t)v->Np, D = (size_t)v->c.D;
    w->patches = carve(base, &off, BN * (size_t)v->patch_dim);
    w->lnf_mean = carve(base, &off, BN);
    w->lnf_rstd = carve(base, &off, BN);
    w->out = carve(base, &off, BN * D);
    w->dz = carve(base, &off, BN * D);
    return off;
}

void vit_work_init(VitWork *w, const Vit *v, int Bmax) {
    CHECK_PTR(w);
    CHECK_PTR(v);
    CHECK(Bmax > 0, "vit_work_init: Bmax = %d", Bmax);
    memset(w, 0, sizeof *w);
    size_t n = work_layout(w, v, Bmax, NULL);
    w->arena = xcalloc_aligned(n * sizeof(float));
    work_layout(w, v, Bmax, w->arena);
    blocks_work_init(&w->blocks, &v->blocks, Bmax, v->Np);
    w->Bmax = Bmax;
}

void vit_work_free(VitWork *w) {
    if (!w) return;
    xfree(w->arena);
    blocks_work_free(&w->blocks);
    memset(w, 0, sizeof *w);
}

// ---- forward and backward ----

static void check_call(const char *fn, const Vit *v, const float *params, const float *x, int B,
                       const VitWork *w) {
    CHECK_PTR(v);
    CHECK_PTR(params);
    CHECK_PTR(x);
    CHECK_PTR(w);
    CHECK(w->arena != NULL, "%s: work buffers not initialised", fn);
    CHECK(B >= 1 && B <= w->Bmax, "%s: batch B = %d outside 1..Bmax = %d", fn, B, w->Bmax);
}

void vit_forward(const Vit *v, const float *params, const float *x, int B, VitWork *w) {
    check_call(__func__, v, params, x, B, w);
    const VitConfig *c = &v->c;
    const int N = B * v->Np, D = c->D;
    float *z0 = blocks_in(&w->blocks);
    patchify_rect_forward(w->patches, x, B, c->C, c->H, c->W, c->Ph, c->Pw);
    linear_forward(z0, w->patches, params + v->patch_w, params + v->patch_b, N, v->patch_dim, D);
    posemb_forward(z0, params + v->pos, B, v->Np, D);
    blocks_forward(&v->blocks, params, NULL, B, &w->blocks);
    layernorm_forward(w->out, w->lnf_mean, w->lnf_rstd, blocks_out(&v->blocks, &w->blocks),
                      params + v->lnf_w, params + v->lnf_b, N, D);
    NANGUARD(__func__, "out", w->out, (size_t)N * D);
}

void vit_backward(const Vit *v, const float *params, float *grads, const float *x, int B,
                  VitWork *w, const float *dout) {
    check_call(__func__, v, params, x, B, w);
    CHECK_PTR(dout);
    if (grads == NULL) return; // frozen: no parameter gradient, and the input is data
    const int N = B * v->Np, D = v->c.D;
    float *dz = w->dz;
    memset(dz, 0, (size_t)N * (size_t)D * sizeof(float));
    layernorm_backward(dz, grads + v->lnf_w, grads + v->lnf_b, dout,
                       blocks_out(&v->blocks, &w->blocks), params + v->lnf_w, w->lnf_mean,
                       w->lnf_rstd, N, D);
    blocks_backward(&v->blocks, params, grads, NULL, B, &w->blocks, dz); // dz: ∂/∂zL → ∂/∂z0
    posemb_backward(grads + v->pos, dz, B, v->Np, D);
    // The patches are the forward's cache (x itself is not re-read): no input gradient.
    linear_backward(NULL, grads + v->patch_w, grads + v->patch_b, dz, w->patches,
                    params + v->patch_w, N, v->patch_dim, D);
}
