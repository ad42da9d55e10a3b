// bench_train.c - training-step throughput of three small models built from the src/nn layers
// (forward + backward + AdamW, float32, batch 64), the C side of `make bench` (issue 2 item 7).
// tests/bench/torch_steps.py is the PyTorch twin: same shapes, same ops, same optimizer.
//
//   bench_train [model=mlp|cnn|transformer|all] [threads=T] [min_time=S]
//   → one line per model: `train model=<m> threads=<t> steps_per_s=<x> steps=<n> loss=<a>-><b>
//     cpu_steps_per_s=<c> params=<p> core=<name>` (c: steps per process CPU-second, a diagnostic;
//     p: parameter count, equal to the PyTorch twin's)
//
// Models (B = 64, 28×28 inputs, 10 classes, softmax cross-entropy, AdamW lr 1e-3 wd 1e-2):
//   mlp          784-256-128-10, ReLU
//   cnn          conv3×3(1→16, pad 1) ReLU maxpool2, conv3×3(16→32, pad 1) ReLU maxpool2, linear→10
//   transformer  7×7 patches → 16 tokens, linear patch embed 49→128 + learned positions,
//                2 pre-LN blocks (D 128, 4 heads, MLP 4× with tanh-GELU), final LayerNorm,
//                mean-pool over tokens, linear→10
// Parameters, gradients and the AdamW moments are each one flat buffer (docs/conventions.md §4).
// Every backward accumulates, so each activation gradient is zeroed right before the backward that
// fills it (while it is about to be in cache anyway) and the parameter gradients once per step.
// Inputs and labels are one fixed random batch: the benchmark measures compute, not data loading.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/die.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "nn/act.h"
#include "nn/attention.h"
#include "nn/conv2d.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "nn/optim.h"
#include "nn/pool.h"
#include "tensor/blas.h"

// Sizes as enum constants, not macros: macros would also rewrite the .B designator of Conv2dShape.
enum { B = 64, IMG = 28, NPIX = IMG * IMG, NCLS = 10 };

// ---- a tiny arena: named slices of one params buffer, the same offsets in grads/m/v ----

typedef struct Net {
    float *params, *grads, *m, *v;
    size_t n;      // floats in the buffers, slices padded to 16
    size_t n_real; // parameters proper (printed: must equal the PyTorch model's count)
    float *x;      // (B, 1, 28, 28) input batch
    int *y;        // (B) labels
    float *work;   // layer scratch (im2col, attention backward)
    size_t work_n;
    long t; // AdamW step count
} Net;

// Reserves n floats of parameters; returns the offset (pointers are fixed after net_alloc).
static size_t reserve(Net *net, size_t n) {
    size_t off = net->n;
    net->n += (n + 15) & ~(size_t)15; // 64-byte aligned slices
    net->n_real += n;
    return off;
}

static void net_alloc(Net *net) {
    net->params = xcalloc_aligned(net->n * sizeof(float));
    net->grads = xcalloc_aligned(net->n * sizeof(float));
    net->m = xcalloc_aligned(net->n * sizeof(float));
    net->v = xcalloc_aligned(net->n * sizeof(float));
}

static float *act(size_t n) { return xcalloc_aligned(n * sizeof(float)); }

// PyTorch's default nn.Linear / nn.Conv2d init range: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
static void init_uniform(Rng *r, float *w, size_t n, int fan_in) {
    float a = 1.0f / sqrtf((float)fan_in);
    rng_fill_uniform(r, w, n, -a, a);
}

static void fill_const(float *w, size_t n, float c) {
    for (size_t i = 0; i < n; i++)
        w[i] = c;
}

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

static void optimizer_step(Net *net) {
    AdamWConfig c = {
        .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-2f};
    adamw_step(net->params, net->grads, net->m, net->v, net->n, NULL, 0, &c, ++net->t);
}

// dpre = dpost · [post > 0] via the layer's accumulating backward (dpre zeroed first).
static void relu_bwd(float *dpre, const float *post, const float *dpost, size_t n) {
    zero(dpre, n);
    relu_backward(dpre, post, dpost, n);
}

// ---- mlp ----

typedef struct Mlp {
    size_t w1, b1, w2, b2, w3, b3;             // parameter offsets
    float *a1, *h1, *a2, *h2, *logits, *probs; // a = pre-activation, h = after ReLU
    float *da1, *dh1, *da2, *dh2, *dlogits;
} Mlp;

static void mlp_build(Net *net, Mlp *m, Rng *r) {
    m->w1 = reserve(net, 256 * NPIX), m->b1 = reserve(net, 256);
    m->w2 = reserve(net, 128 * 256), m->b2 = reserve(net, 128);
    m->w3 = reserve(net, NCLS * 128), m->b3 = reserve(net, NCLS);
    net_alloc(net);
    float *p = net->params;
    init_uniform(r, p + m->w1, 256 * NPIX, NPIX), init_uniform(r, p + m->b1, 256, NPIX);
    init_uniform(r, p + m->w2, 128 * 256, 256), init_uniform(r, p + m->b2, 128, 256);
    init_uniform(r, p + m->w3, NCLS * 128, 128), init_uniform(r, p + m->b3, NCLS, 128);
    m->a1 = act(B * 256), m->h1 = act(B * 256), m->a2 = act(B * 128), m->h2 = act(B * 128);
    m->logits = act(B * NCLS), m->probs = act(B * NCLS);
    m->da1 = act(B * 256), m->dh1 = act(B * 256), m->da2 = act(B * 128), m->dh2 = act(B * 128);
    m->dlogits = act(B * NCLS);
}

static double mlp_step(Net *net, Mlp *m) {
    float *p = net->params, *g = net->grads;
    linear_forward(m->a1, net->x, p + m->w1, p + m->b1, B, NPIX, 256);
    relu_forward(m->h1, m->a1, B * 256);
    linear_forward(m->a2, m->h1, p + m->w2, p + m->b2, B, 256, 128);
    relu_forward(m->h2, m->a2, B * 128);
    linear_forward(m->logits, m->h2, p + m->w3, p + m->b3, B, 128, NCLS);
    double loss = softmax_ce_forward(m->probs, m->logits, net->y, NULL, -1, B, NCLS);

    zero(g, net->n);
    zero(m->dlogits, B * NCLS);
    softmax_ce_backward(m->dlogits, m->probs, net->y, NULL, -1, B, NCLS, 1.0);
    zero(m->dh2, B * 128);
    linear_backward(m->dh2, g + m->w3, g + m->b3, m->dlogits, m->h2, p + m->w3, B, 128, NCLS);
    relu_bwd(m->da2, m->h2, m->dh2, B * 128);
    zero(m->dh1, B * 256);
    linear_backward(m->dh1, g + m->w2, g + m->b2, m->da2, m->h1, p + m->w2, B, 256, 128);
    relu_bwd(m->da1, m->h1, m->dh1, B * 256);
    linear_backward(NULL, g + m->w1, g + m->b1, m->da1, net->x, p + m->w1, B, NPIX, 256);
    optimizer_step(net);
    return loss;
}

// ---- cnn ----

enum { C1 = 16, C2 = 32, FLAT = C2 * 7 * 7 };

typedef struct Cnn {
    size_t w1, b1, w2, b2, w3, b3;
    Conv2dShape s1, s2;
    float *a1, *h1, *p1, *a2, *h2, *p2, *logits, *probs; // p = after maxpool
    int *am1, *am2;                                      // maxpool argmax caches
    float *da1, *dh1, *dp1, *da2, *dh2, *dp2, *dlogits;
} Cnn;

static void cnn_build(Net *net, Cnn *m, Rng *r) {
    m->s1 = (Conv2dShape){
        .B = B, .C = 1, .H = IMG, .W = IMG, .OC = C1, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    m->s2 = (Conv2dShape){
        .B = B, .C = C1, .H = 14, .W = 14, .OC = C2, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    m->w1 = reserve(net, C1 * 9), m->b1 = reserve(net, C1);
    m->w2 = reserve(net, C2 * C1 * 9), m->b2 = reserve(net, C2);
    m->w3 = reserve(net, NCLS * FLAT), m->b3 = reserve(net, NCLS);
    net_alloc(net);
    float *p = net->params;
    init_uniform(r, p + m->w1, C1 * 9, 9), init_uniform(r, p + m->b1, C1, 9);
    init_uniform(r, p + m->w2, C2 * C1 * 9, C1 * 9), init_uniform(r, p + m->b2, C2, C1 * 9);
    init_uniform(r, p + m->w3, NCLS * FLAT, FLAT), init_uniform(r, p + m->b3, NCLS, FLAT);
    size_t n1 = (size_t)B * C1 * NPIX, q1 = (size_t)B * C1 * 14 * 14;
    size_t n2 = (size_t)B * C2 * 14 * 14, q2 = (size_t)B * FLAT;
    m->a1 = act(n1), m->h1 = act(n1), m->p1 = act(q1), m->a2 = act(n2), m->h2 = act(n2);
    m->p2 = act(q2), m->logits = act(B * NCLS), m->probs = act(B * NCLS);
    m->am1 = xcalloc(q1, sizeof(int)), m->am2 = xcalloc(q2, sizeof(int));
    m->da1 = act(n1), m->dh1 = act(n1), m->dp1 = act(q1), m->da2 = act(n2), m->dh2 = act(n2);
    m->dp2 = act(q2), m->dlogits = act(B * NCLS);
    net->work_n = MAX(conv2d_workspace_size(&m->s1), conv2d_workspace_size(&m->s2));
    net->work = act(net->work_n);
}

static double cnn_step(Net *net, Cnn *m) {
    float *p = net->params, *g = net->grads;
    size_t n1 = (size_t)B * C1 * NPIX, q1 = (size_t)B * C1 * 14 * 14;
    size_t n2 = (size_t)B * C2 * 14 * 14, q2 = (size_t)B * FLAT;
    conv2d_forward(m->a1, net->x, p + m->w1, p + m->b1, &m->s1, net->work);
    relu_forward(m->h1, m->a1, n1);
    maxpool2d_forward(m->p1, m->am1, m->h1, B, C1, IMG, IMG, 2, 2);
    conv2d_forward(m->a2, m->p1, p + m->w2, p + m->b2, &m->s2, net->work);
    relu_forward(m->h2, m->a2, n2);
    maxpool2d_forward(m->p2, m->am2, m->h2, B, C2, 14, 14, 2, 2);
    linear_forward(m->logits, m->p2, p + m->w3, p + m->b3, B, FLAT, NCLS);
    double loss = softmax_ce_forward(m->probs, m->logits, net->y, NULL, -1, B, NCLS);

    zero(g, net->n);
    zero(m->dlogits, B * NCLS);
    softmax_ce_backward(m->dlogits, m->probs, net->y, NULL, -1, B, NCLS, 1.0);
    zero(m->dp2, q2);
    linear_backward(m->dp2, g + m->w3, g + m->b3, m->dlogits, m->p2, p + m->w3, B, FLAT, NCLS);
    zero(m->dh2, n2);
    maxpool2d_backward(m->dh2, m->dp2, m->am2, B, C2, 14, 14, 2, 2);
    relu_bwd(m->da2, m->h2, m->dh2, n2);
    zero(m->dp1, q1);
    conv2d_backward(m->dp1, g + m->w2, g + m->b2, m->da2, m->p1, p + m->w2, &m->s2, net->work);
    zero(m->dh1, n1);
    maxpool2d_backward(m->dh1, m->dp1, m->am1, B, C1, IMG, IMG, 2, 2);
    relu_bwd(m->da1, m->h1, m->dh1, n1);
    conv2d_backward(NULL, g + m->w1, g + m->b1, m->da1, net->x, p + m->w1, &m->s1, net->work);
    optimizer_step(net);
    return loss;
}

// ---- transformer ----

// PD: pixels per 7×7 patch; BT: rows of the token matrices.
enum { T = 16, D = 128, NH = 4, PATCH = 7, PD = PATCH * PATCH, L = 2, BT = B * T };

typedef struct Block {
    size_t ln1w, ln1b, wqkv, bqkv, wo, bo, ln2w, ln2b, w1, b1, w2, b2;
    float *ln1, *mean1, *rstd1, *qkv, *att, *y, *proj, *r1; // r1 = x + attention branch
    float *ln2, *mean2, *rstd2, *f1, *gl, *f2;              // gl = gelu(f1)
} Block;

typedef struct Tfm {
    size_t wpe, bpe, pos, lnfw, lnfb, wh, bh;
    Block blk[L];
    int *pos_ids; // (B*T): t for every (b, t)
    float *patches, *emb, *posv, *x0, *lnf, *meanf, *rstdf, *pooled, *logits, *probs;
    // gradient buffers, reused by both blocks (each is zeroed before it is accumulated into)
    float *dres, *dres2, *dln, *dqkv, *dy, *dgl, *df1, *dlnf, *dpooled, *dlogits, *dposv;
} Tfm;

static void tfm_build(Net *net, Tfm *m, Rng *r) {
    m->wpe = reserve(net, D * PD), m->bpe = reserve(net, D), m->pos = reserve(net, T * D);
    for (int l = 0; l < L; l++) {
        Block *k = &m->blk[l];
        k->ln1w = reserve(net, D), k->ln1b = reserve(net, D);
        k->wqkv = reserve(net, 3 * D * D), k->bqkv = reserve(net, 3 * D);
        k->wo = reserve(net, D * D), k->bo = reserve(net, D);
        k->ln2w = reserve(net, D), k->ln2b = reserve(net, D);
        k->w1 = reserve(net, 4 * D * D), k->b1 = reserve(net, 4 * D);
        k->w2 = reserve(net, 4 * D * D), k->b2 = reserve(net, D);
    }
    m->lnfw = reserve(net, D), m->lnfb = reserve(net, D);
    m->wh = reserve(net, NCLS * D), m->bh = reserve(net, NCLS);
    net_alloc(net);
    float *p = net->params;
    init_uniform(r, p + m->wpe, D * PD, PD), init_uniform(r, p + m->bpe, D, PD);
    rng_fill_normal(r, p + m->pos, T * D, 0.0f, 0.02f);
    for (int l = 0; l < L; l++) {
        Block *k = &m->blk[l];
        fill_const(p + k->ln1w, D, 1.0f), fill_const(p + k->ln2w, D, 1.0f);
        init_uniform(r, p + k->wqkv, 3 * D * D, D), init_uniform(r, p + k->bqkv, 3 * D, D);
        init_uniform(r, p + k->wo, D * D, D), init_uniform(r, p + k->bo, D, D);
        init_uniform(r, p + k->w1, 4 * D * D, D), init_uniform(r, p + k->b1, 4 * D, D);
        init_uniform(r, p + k->w2, 4 * D * D, 4 * D), init_uniform(r, p + k->b2, D, 4 * D);
        k->ln1 = act(BT * D), k->mean1 = act(BT), k->rstd1 = act(BT), k->qkv = act(BT * 3 * D);
        k->att = act((size_t)B * NH * T * T), k->y = act(BT * D), k->proj = act(BT * D);
        k->r1 = act(BT * D), k->ln2 = act(BT * D), k->mean2 = act(BT), k->rstd2 = act(BT);
        k->f1 = act(BT * 4 * D), k->gl = act(BT * 4 * D), k->f2 = act(BT * D);
    }
    fill_const(p + m->lnfw, D, 1.0f);
    init_uniform(r, p + m->wh, NCLS * D, D), init_uniform(r, p + m->bh, NCLS, D);
    m->pos_ids = xcalloc(BT, sizeof(int));
    for (int i = 0; i < BT; i++)
        m->pos_ids[i] = i % T;
    m->patches = act(BT * PD), m->emb = act(BT * D), m->posv = act(BT * D);
    // x0 and each block's output: the residual stream after block l is blk[l+1]'s input.
    m->x0 = act((size_t)(L + 1) * BT * D);
    m->lnf = act(BT * D), m->meanf = act(BT), m->rstdf = act(BT), m->pooled = act(B * D);
    m->logits = act(B * NCLS), m->probs = act(B * NCLS);
    m->dres = act(BT * D), m->dres2 = act(BT * D), m->dln = act(BT * D);
    m->dqkv = act(BT * 3 * D), m->dy = act(BT * D), m->dgl = act(BT * 4 * D);
    m->df1 = act(BT * 4 * D), m->dlnf = act(BT * D), m->dpooled = act(B * D);
    m->dlogits = act(B * NCLS), m->dposv = act(BT * D);
    net->work_n = attention_workspace_size(B, T, D, NH);
    net->work = act(net->work_n);
}

// (B, 1, 28, 28) → (B, 16, 49): 4×4 grid of 7×7 patches, row-major within a patch (the torch
// side's view(B, 4, 7, 4, 7).permute(0, 1, 3, 2, 4)).
static void patchify(float *out, const float *img) {
    for (int b = 0; b < B; b++)
        for (int py = 0; py < 4; py++)
            for (int px = 0; px < 4; px++)
                for (int i = 0; i < PATCH; i++)
                    memcpy(out + (((size_t)b * T + py * 4 + px) * PD + i * PATCH),
                           img + ((size_t)b * NPIX + (py * PATCH + i) * IMG + px * PATCH),
                           PATCH * sizeof(float));
}

static double tfm_step(Net *net, Tfm *m) {
    float *p = net->params, *g = net->grads;
    size_t nd = (size_t)BT * D;
    patchify(m->patches, net->x);
    linear_forward(m->emb, m->patches, p + m->wpe, p + m->bpe, BT, PD, D);
    embedding_forward(m->posv, m->pos_ids, p + m->pos, BT, T, D);
    residual_forward(m->x0, m->emb, m->posv, nd);
    for (int l = 0; l < L; l++) {
        Block *k = &m->blk[l];
        const float *x = m->x0 + l * nd;
        float *xo = m->x0 + (l + 1) * nd;
        layernorm_forward(k->ln1, k->mean1, k->rstd1, x, p + k->ln1w, p + k->ln1b, BT, D);
        linear_forward(k->qkv, k->ln1, p + k->wqkv, p + k->bqkv, BT, D, 3 * D);
        attention_forward(k->y, k->att, k->qkv, NULL, 0, B, T, D, NH);
        linear_forward(k->proj, k->y, p + k->wo, p + k->bo, BT, D, D);
        residual_forward(k->r1, x, k->proj, nd);
        layernorm_forward(k->ln2, k->mean2, k->rstd2, k->r1, p + k->ln2w, p + k->ln2b, BT, D);
        linear_forward(k->f1, k->ln2, p + k->w1, p + k->b1, BT, D, 4 * D);
        gelu_forward(k->gl, k->f1, (size_t)BT * 4 * D);
        linear_forward(k->f2, k->gl, p + k->w2, p + k->b2, BT, 4 * D, D);
        residual_forward(xo, k->r1, k->f2, nd);
    }
    layernorm_forward(m->lnf, m->meanf, m->rstdf, m->x0 + L * nd, p + m->lnfw, p + m->lnfb, BT, D);
    // Mean-pool over tokens: model glue, not a layer.
    for (int b = 0; b < B; b++)
        for (int c = 0; c < D; c++) {
            float s = 0;
            for (int t = 0; t < T; t++)
                s += m->lnf[((size_t)b * T + t) * D + c];
            m->pooled[b * D + c] = s / T;
        }
    linear_forward(m->logits, m->pooled, p + m->wh, p + m->bh, B, D, NCLS);
    double loss = softmax_ce_forward(m->probs, m->logits, net->y, NULL, -1, B, NCLS);

    zero(g, net->n);
    zero(m->dlogits, B * NCLS);
    softmax_ce_backward(m->dlogits, m->probs, net->y, NULL, -1, B, NCLS, 1.0);
    zero(m->dpooled, B * D);
    linear_backward(m->dpooled, g + m->wh, g + m->bh, m->dlogits, m->pooled, p + m->wh, B, D, NCLS);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < D; c++)
                m->dlnf[((size_t)b * T + t) * D + c] = m->dpooled[b * D + c] / T;
    // dres holds the gradient of the residual stream at the current depth.
    zero(m->dres, nd);
    layernorm_backward(m->dres, g + m->lnfw, g + m->lnfb, m->dlnf, m->x0 + L * nd, p + m->lnfw,
                       m->meanf, m->rstdf, BT, D);
    for (int l = L - 1; l >= 0; l--) {
        Block *k = &m->blk[l];
        const float *x = m->x0 + l * nd;
        // xo = r1 + f2: dr1 = dres (+ the MLP branch below), df2 = dres.
        zero(m->dgl, (size_t)BT * 4 * D);
        linear_backward(m->dgl, g + k->w2, g + k->b2, m->dres, k->gl, p + k->w2, BT, 4 * D, D);
        zero(m->df1, (size_t)BT * 4 * D);
        gelu_backward(m->df1, k->f1, m->dgl, (size_t)BT * 4 * D);
        zero(m->dln, nd);
        linear_backward(m->dln, g + k->w1, g + k->b1, m->df1, k->ln2, p + k->w1, BT, D, 4 * D);
        // dr1 = dres + LN2 backward: accumulate straight into dres.
        layernorm_backward(m->dres, g + k->ln2w, g + k->ln2b, m->dln, k->r1, p + k->ln2w, k->mean2,
                           k->rstd2, BT, D);
        // r1 = x + proj: dx = dr1 (+ the attention branch), dproj = dr1.
        zero(m->dy, nd);
        linear_backward(m->dy, g + k->wo, g + k->bo, m->dres, k->y, p + k->wo, BT, D, D);
        zero(m->dqkv, (size_t)BT * 3 * D);
        attention_backward(m->dqkv, m->dy, k->qkv, k->att, NULL, 0, B, T, D, NH, net->work);
        zero(m->dln, nd);
        linear_backward(m->dln, g + k->wqkv, g + k->bqkv, m->dqkv, k->ln1, p + k->wqkv, BT, D,
                        3 * D);
        layernorm_backward(m->dres, g + k->ln1w, g + k->ln1b, m->dln, x, p + k->ln1w, k->mean1,
                           k->rstd1, BT, D);
    }
    // x0 = emb + posv: both get dres.
    embedding_backward(g + m->pos, m->dres, m->pos_ids, BT, T, D);
    linear_backward(NULL, g + m->wpe, g + m->bpe, m->dres, m->patches, p + m->wpe, BT, PD, D);
    optimizer_step(net);
    return loss;
}

// ---- driver ----

typedef enum { MODEL_MLP, MODEL_CNN, MODEL_TFM } ModelKind;
static const char *const MODEL_NAMES[] = {"mlp", "cnn", "transformer"};

typedef struct Bench {
    Net net;
    ModelKind kind;
    Mlp mlp;
    Cnn cnn;
    Tfm tfm;
} Bench;

static double step(Bench *b) {
    switch (b->kind) {
    case MODEL_MLP:
        return mlp_step(&b->net, &b->mlp);
    case MODEL_CNN:
        return cnn_step(&b->net, &b->cnn);
    case MODEL_TFM:
        return tfm_step(&b->net, &b->tfm);
    }
    return 0;
}

static void bench_build(Bench *b, ModelKind kind) {
    memset(b, 0, sizeof *b);
    b->kind = kind;
    Rng r;
    rng_init(&r, 42, 0, 0, RNG_TEST);
    Net *net = &b->net;
    net->x = act(B * NPIX);
    net->y = xcalloc(B, sizeof(int));
    rng_fill_uniform(&r, net->x, B * NPIX, 0.0f, 1.0f);
    for (int i = 0; i < B; i++)
        net->y[i] = (int)rng_below(&r, NCLS);
    switch (kind) {
    case MODEL_MLP:
        mlp_build(net, &b->mlp, &r);
        break;
    case MODEL_CNN:
        cnn_build(net, &b->cnn, &r);
        break;
    case MODEL_TFM:
        tfm_build(net, &b->tfm, &r);
        break;
    }
}

// Process CPU time in ms: at 1 thread it shows the uncontended speed while the shared machine is
// busy (wall-clock steps/s is the benchmark's figure; this one is a diagnostic).
static double cpu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Warm-up, then whole steps until min_time_s has passed; returns steps per second (wall clock)
// and in *cpu_sps steps per CPU-second of the process.
static double measure(Bench *b, double min_time_s, long *steps_out, double *loss0, double *loss1,
                      double *cpu_sps) {
    *loss0 = step(b);
    for (int i = 0; i < 4; i++)
        step(b);
    long steps = 0;
    double t0 = timer_now_ms(), c0 = cpu_now_ms(), t1;
    do {
        *loss1 = step(b);
        steps++;
        t1 = timer_now_ms();
    } while (t1 - t0 < min_time_s * 1e3 || steps < 5);
    *cpu_sps = steps / ((cpu_now_ms() - c0) * 1e-3);
    *steps_out = steps;
    return steps / ((t1 - t0) * 1e-3);
}

int main(int argc, char **argv) {
    const char *model = "all";
    int threads = 1;
    double min_time = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "model=", 6) == 0)
            model = argv[i] + 6;
        else if (strncmp(argv[i], "threads=", 8) == 0)
            threads = atoi(argv[i] + 8);
        else if (strncmp(argv[i], "min_time=", 9) == 0)
            min_time = atof(argv[i] + 9);
        else {
            fprintf(stderr, "usage: %s [model=mlp|cnn|transformer|all] [threads=T] [min_time=S]\n",
                    argv[0]);
            return 2;
        }
    }
    CHECK(threads >= 1, "bench_train: threads=%d must be >= 1", threads);
    blas_set_num_threads(threads);
    int any = 0;
    for (int k = 0; k < 3; k++) {
        if (strcmp(model, "all") != 0 && strcmp(model, MODEL_NAMES[k]) != 0) continue;
        any = 1;
        Bench *b = xcalloc(1, sizeof(Bench));
        bench_build(b, (ModelKind)k);
        long steps;
        double l0, l1, cpu_sps;
        double sps = measure(b, min_time, &steps, &l0, &l1, &cpu_sps);
        // The loss must fall on a fixed batch: a cheap end-to-end sanity check of the step.
        CHECK(l1 < l0, "bench_train: %s loss did not fall (%.4f -> %.4f)", MODEL_NAMES[k], l0, l1);
        printf("train model=%s threads=%d steps_per_s=%.2f steps=%ld loss=%.4f->%.4f "
               "cpu_steps_per_s=%.2f params=%zu core=%s\n",
               MODEL_NAMES[k], threads, sps, steps, l0, l1, cpu_sps, b->net.n_real,
               blas_core_name());
        fflush(stdout);
    }
    CHECK(any, "bench_train: unknown model '%s' (mlp, cnn, transformer, all)", model);
    return 0;
}
