// blocks.c - the pre-LN transformer block stack (see blocks.h). The forward and backward are
// mm_large.c's former block loops moved verbatim: the float operations and their order are the
// MM-LM's reference (tests/ref/digests.txt), so keep them.
#include "models/blocks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "core/xalloc.h"
#include "nn/act.h"
#include "nn/attention.h"
#include "nn/linear.h"
#include "nn/norm.h"

void blocks_init(Blocks *b, int D, int L, int H, size_t base) {
    CHECK_PTR(b);
    CHECK(D > 0 && L > 0 && H > 0, "blocks_init: D = %d, L = %d, H = %d", D, L, H);
    CHECK(D % H == 0, "blocks_init: D = %d is not a multiple of H = %d", D, H);
    memset(b, 0, sizeof *b);
    b->D = D, b->L = L, b->H = H, b->base = base;
    size_t off = base, Lz = (size_t)L;
#define BLOCKS_X_OFF(name, n) b->name = off, off += Lz * (n);
    BLOCKS_LAYER_PARAMS(BLOCKS_X_OFF, D)
#undef BLOCKS_X_OFF
    b->n_params = off - base;
}

void blocks_add_tensors(const Blocks *b, Model *m, const char *prefix, int trainable) {
    CHECK_PTR(b);
    CHECK_PTR(m);
    CHECK_PTR(prefix);
    const int64_t L = b->L, D = b->D;
    struct {
        const char *name;
        int ndim;
        int64_t shape[3];
        size_t off;
    } t[] = {{"ln1w", 2, {L, D}, b->ln1w},
             {"ln1b", 2, {L, D}, b->ln1b},
             {"qkvw", 3, {L, 3 * D, D}, b->qkvw},
             {"qkvb", 2, {L, 3 * D}, b->qkvb},
             {"attprojw", 3, {L, D, D}, b->attprojw},
             {"attprojb", 2, {L, D}, b->attprojb},
             {"ln2w", 2, {L, D}, b->ln2w},
             {"ln2b", 2, {L, D}, b->ln2b},
             {"fcw", 3, {L, 4 * D, D}, b->fcw},
             {"fcb", 2, {L, 4 * D}, b->fcb},
             {"fcprojw", 3, {L, D, 4 * D}, b->fcprojw},
             {"fcprojb", 2, {L, D}, b->fcprojb}};
    char name[MODEL_NAME_MAX];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int n = snprintf(name, sizeof name, "%s/%s", prefix, t[i].name);
        CHECK(n > 0 && (size_t)n < sizeof name, "blocks_add_tensors: name %s/%s longer than %d",
              prefix, t[i].name, MODEL_NAME_MAX - 1);
        model_add_tensor(m, name, t[i].ndim, t[i].shape, t[i].off, trainable);
    }
}

static void fill_const(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

void blocks_init_params(const Blocks *b, float *params, Rng *rng) {
    CHECK_PTR(b);
    CHECK_PTR(params);
    CHECK_PTR(rng);
    size_t D = (size_t)b->D, L = (size_t)b->L;
    // Residual projections scaled by 1/√(2L) so the stream's variance does not grow with depth.
    float proj_std = 0.02f / sqrtf(2.f * (float)b->L);
    fill_const(params + b->ln1w, L * D, 1.f);
    fill_const(params + b->ln1b, L * D, 0.f);
    rng_fill_normal(rng, params + b->qkvw, L * 3 * D * D, 0.f, 0.02f);
    fill_const(params + b->qkvb, L * 3 * D, 0.f);
    rng_fill_normal(rng, params + b->attprojw, L * D * D, 0.f, proj_std);
    fill_const(params + b->attprojb, L * D, 0.f);
    fill_const(params + b->ln2w, L * D, 1.f);
    fill_const(params + b->ln2b, L * D, 0.f);
    rng_fill_normal(rng, params + b->fcw, L * 4 * D * D, 0.f, 0.02f);
    fill_const(params + b->fcb, L * 4 * D, 0.f);
    rng_fill_normal(rng, params + b->fcprojw, L * 4 * D * D, 0.f, proj_std);
    fill_const(params + b->fcprojb, L * D, 0.f);
}

// ---- work buffers ----

// Carves n floats from the arena (or only counts them when base is NULL); 16-float (64-byte)
// alignment keeps every buffer on its own cache line.
static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

static size_t work_layout(BlocksWork *w, const Blocks *b, int Bmax, int T, float *base) {
    size_t off = 0, Bz = (size_t)Bmax, Tz = (size_t)T, D = (size_t)b->D, L = (size_t)b->L;
    size_t btd = Bz * Tz * D, bt = Bz * Tz;
    w->x = carve(base, &off, (L + 1) * btd);
    w->ln1 = carve(base, &off, L * btd);
    w->ln1_mean = carve(base, &off, L * bt);
    w->ln1_rstd = carve(base, &off, L * bt);
    w->qkv = carve(base, &off, L * 3 * btd);
    w->att = carve(base, &off, L * Bz * (size_t)b->H * Tz * Tz);
    w->atty = carve(base, &off, L * btd);
    w->xmid = carve(base, &off, L * btd);
    w->ln2 = carve(base, &off, L * btd);
    w->ln2_mean = carve(base, &off, L * bt);
    w->ln2_rstd = carve(base, &off, L * bt);
    w->fch = carve(base, &off, L * 4 * btd);
    w->fch_gelu = carve(base, &off, L * 4 * btd);
    w->dln = carve(base, &off, btd);
    w->dA = carve(base, &off, 4 * btd);
    w->dB = carve(base, &off, 4 * btd);
    w->att_work = carve(base, &off, attention_workspace_size(Bmax, T, b->D, b->H));
    return off;
}

void blocks_work_init(BlocksWork *w, const Blocks *b, int Bmax, int T) {
    CHECK_PTR(w);
    CHECK_PTR(b);
    CHECK(Bmax > 0 && T > 0, "blocks_work_init: Bmax = %d, T = %d", Bmax, T);
    memset(w, 0, sizeof *w);
    size_t n = work_layout(w, b, Bmax, T, NULL);
    w->arena = xcalloc_aligned(n * sizeof(float));
    work_layout(w, b, Bmax, T, w->arena);
    w->Bmax = Bmax, w->T = T;
}

void blocks_work_free(BlocksWork *w) {
    if (!w) return;
    xfree(w->arena);
    memset(w, 0, sizeof *w);
}

// ---- forward and backward ----

static void check_call(const char *fn, const Blocks *b, const float *params, int B,
                       const BlocksWork *w) {
    CHECK_PTR(b);
    CHECK_PTR(params);
    CHECK_PTR(w);
    CHECK(w->arena != NULL, "%s: work buffers not initialised", fn);
    CHECK(B >= 1 && B <= w->Bmax, "%s: batch B = %d outside 1..Bmax = %d", fn, B, w->Bmax);
}

// grads + off, or NULL when no parameter gradient is wanted.
static inline float *gat(float *grads, size_t off) { return grads ? grads + off : NULL; }

void blocks_forward(const Blocks *b, const float *params, const uint8_t *key_mask, int B,
                    BlocksWork *w) {
    check_call(__func__, b, params, B, w);
    const int T = w->T, D = b->D, H = b->H;
    const size_t Dz = (size_t)D, BT = (size_t)B * (size_t)T, btd = BT * Dz;
    // Per-layer slabs: Bmax rows, whatever B is.
    const size_t sD = (size_t)w->Bmax * (size_t)T * Dz, sR = (size_t)w->Bmax * (size_t)T;
    for (int l = 0; l < b->L; l++) {
        const size_t lD = (size_t)l * Dz;
        const float *xin = w->x + (size_t)l * sD;
        float *xout = w->x + (size_t)(l + 1) * sD;
        float *ln1 = w->ln1 + l * sD, *qkv = w->qkv + l * 3 * sD;
        float *atty = w->atty + l * sD, *xmid = w->xmid + l * sD, *ln2 = w->ln2 + l * sD;
        float *fch = w->fch + l * 4 * sD, *fchg = w->fch_gelu + l * 4 * sD;
        float *att = w->att + (size_t)l * (size_t)w->Bmax * (size_t)H * (size_t)T * (size_t)T;
        layernorm_forward(ln1, w->ln1_mean + l * sR, w->ln1_rstd + l * sR, xin,
                          params + b->ln1w + lD, params + b->ln1b + lD, (int)BT, D);
        linear_forward(qkv, ln1, params + b->qkvw + 3 * lD * Dz, params + b->qkvb + 3 * lD, (int)BT,
                       D, 3 * D);
        attention_forward(atty, att, qkv, key_mask, 0, B, T, D, H);
        linear_forward(xmid, atty, params + b->attprojw + lD * Dz, params + b->attprojb + lD,
                       (int)BT, D, D);
        residual_forward(xmid, xmid, xin, btd);
        layernorm_forward(ln2, w->ln2_mean + l * sR, w->ln2_rstd + l * sR, xmid,
                          params + b->ln2w + lD, params + b->ln2b + lD, (int)BT, D);
        linear_forward(fch, ln2, params + b->fcw + 4 * lD * Dz, params + b->fcb + 4 * lD, (int)BT,
                       D, 4 * D);
        gelu_forward(fchg, fch, 4 * btd);
        linear_forward(xout, fchg, params + b->fcprojw + 4 * lD * Dz, params + b->fcprojb + lD,
                       (int)BT, 4 * D, D);
        residual_forward(xout, xout, xmid, btd);
    }
    NANGUARD(__func__, "out", blocks_out(b, w), btd);
}

void blocks_backward(const Blocks *b, const float *params, float *grads, const uint8_t *key_mask,
                     int B, BlocksWork *w, float *dx) {
    check_call(__func__, b, params, B, w);
    CHECK_PTR(dx);
    const int T = w->T, D = b->D, H = b->H;
    const size_t Dz = (size_t)D, BT = (size_t)B * (size_t)T, btd = BT * Dz;
    const size_t sD = (size_t)w->Bmax * (size_t)T * Dz, sR = (size_t)w->Bmax * (size_t)T;
    // Blocks in reverse; dx holds ∂/∂x[l+1] on entry and ∂/∂x[l] on exit (residuals pass it on).
    for (int l = b->L - 1; l >= 0; l--) {
        const size_t lD = (size_t)l * Dz;
        const float *xin = w->x + (size_t)l * sD;
        const float *ln1 = w->ln1 + l * sD, *qkv = w->qkv + l * 3 * sD;
        const float *att = w->att + (size_t)l * (size_t)w->Bmax * (size_t)H * (size_t)T * (size_t)T;
        const float *atty = w->atty + l * sD, *xmid = w->xmid + l * sD, *ln2 = w->ln2 + l * sD;
        const float *fch = w->fch + l * 4 * sD, *fchg = w->fch_gelu + l * 4 * sD;
        // MLP branch: xout = xmid + fcproj(gelu(fc(LN2(xmid)))).
        memset(w->dA, 0, 4 * btd * sizeof(float));
        linear_backward(w->dA, gat(grads, b->fcprojw + 4 * lD * Dz), gat(grads, b->fcprojb + lD),
                        dx, fchg, params + b->fcprojw + 4 * lD * Dz, (int)BT, 4 * D, D);
        memset(w->dB, 0, 4 * btd * sizeof(float));
        gelu_backward(w->dB, fch, w->dA, 4 * btd);
        memset(w->dln, 0, btd * sizeof(float));
        linear_backward(w->dln, gat(grads, b->fcw + 4 * lD * Dz), gat(grads, b->fcb + 4 * lD),
                        w->dB, ln2, params + b->fcw + 4 * lD * Dz, (int)BT, D, 4 * D);
        layernorm_backward(dx, gat(grads, b->ln2w + lD), gat(grads, b->ln2b + lD), w->dln, xmid,
                           params + b->ln2w + lD, w->ln2_mean + l * sR, w->ln2_rstd + l * sR,
                           (int)BT, D);
        // Attention branch: xmid = xin + attproj(attention(qkv(LN1(xin)))).
        float *datty = w->dB;
        memset(datty, 0, btd * sizeof(float));
        linear_backward(datty, gat(grads, b->attprojw + lD * Dz), gat(grads, b->attprojb + lD), dx,
                        atty, params + b->attprojw + lD * Dz, (int)BT, D, D);
        float *dqkv = w->dA;
        memset(dqkv, 0, 3 * btd * sizeof(float));
        attention_backward(dqkv, datty, qkv, att, key_mask, 0, B, T, D, H, w->att_work);
        memset(w->dln, 0, btd * sizeof(float));
        linear_backward(w->dln, gat(grads, b->qkvw + 3 * lD * Dz), gat(grads, b->qkvb + 3 * lD),
                        dqkv, ln1, params + b->qkvw + 3 * lD * Dz, (int)BT, D, 3 * D);
        layernorm_backward(dx, gat(grads, b->ln1w + lD), gat(grads, b->ln1b + lD), w->dln, xin,
                           params + b->ln1w + lD, w->ln1_mean + l * sR, w->ln1_rstd + l * sR,
                           (int)BT, D);
    }
    NANGUARD(__func__, "dx", dx, btd);
}
