// test_distill.c - CD-CCA's distillation losses (nn/distill.h): the feature KD through a 1x1
// channel map by hand (zero when the map lands exactly on the teacher; a two-channel db1 value with
// its gradients), against central differences, and against an independent float64 PyTorch twin
// (tests/torch/distill_torch.py: conv1d map, conv1d DWT checked against pywt, F.mse_loss +
// F.l1_loss; also the logit KD of nn/loss.h, the soft-target CE and TENT's entropy of nn/tta.h);
// a twin broken on purpose (whole-sample reflection) must fail. The soft-target CE by hand and
// by central differences; the map's init; J that does not fit Ct, and N > Nmax, dying with the
// values named.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/distill.h"
#include "nn/loss.h"
#include "nn/tta.h"
#include "tmpdir.h"

// float32 C vs float64 torch, relative to each tensor's scale (measured worst 1.7e-7: float sums)
#define TOL_TORCH 1e-6
#define TOL_HAND 1e-6   /* double loss / float gradients vs a closed form from exact float inputs */
#define TOL_BROKEN 1e-3 /* the reflect twin differs at the borders by O(1) of the band values */
#define FD_H 1e-3       /* float inputs of O(1); the loss is scaled to O(1) gradients */
#define OUT_CAP 8192

// {wavelet, mode, N, Cs, Ct, J}: odd and even channel counts, batch 1, both wavelets and modes.
typedef struct {
    const char *name;
    WaveletMode mode;
    int N, Cs, Ct, J;
} Shape;
static const Shape shapes[] = {
    {"db6", WAVELET_SYMMETRIC, 3, 5, 29, 3},     {"db6", WAVELET_SYMMETRIC, 1, 7, 128, 3},
    {"db1", WAVELET_SYMMETRIC, 2, 3, 9, 3},      {"db6", WAVELET_PERIODIZATION, 2, 4, 48, 2},
    {"db1", WAVELET_PERIODIZATION, 1, 6, 16, 4},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static FeatKdOpts opts_of(const Shape *s) {
    FeatKdOpts o = feat_kd_opts_default();
    snprintf(o.wavelet, sizeof o.wavelet, "%s", s->name);
    o.mode = s->mode;
    o.J = s->J;
    return o;
}

START_TEST(test_defaults_are_the_papers) {
    const FeatKdOpts o = feat_kd_opts_default();
    ck_assert_str_eq(o.wavelet, "db6");
    ck_assert_int_eq(o.mode, WAVELET_SYMMETRIC);
    ck_assert_int_eq(o.J, 3);
    WaveletMode m = WAVELET_SYMMETRIC;
    ck_assert_int_eq(feat_kd_mode_parse("periodization", &m), 0);
    ck_assert_int_eq(m, WAVELET_PERIODIZATION);
    ck_assert_int_eq(feat_kd_mode_parse("symmetric", &m), 0);
    ck_assert_int_eq(m, WAVELET_SYMMETRIC);
    ck_assert_int_eq(feat_kd_mode_parse("reflect", &m), -1);
    ck_assert_int_eq(m, WAVELET_SYMMETRIC);
}
END_TEST

START_TEST(test_feat_kd_is_zero_when_the_map_lands_on_the_teacher) {
    // Small integers: ys · Wᵀ + b is exact in float, so yt equals the mapped student bit for bit.
    const int N = 4, Cs = 3, Ct = 40;
    float ys[12], W[120], b[40], yt[160];
    for (int i = 0; i < N * Cs; i++)
        ys[i] = (float)((i * 5) % 7 - 3);
    for (int i = 0; i < Ct * Cs; i++)
        W[i] = (float)((i * 3) % 5 - 2);
    for (int o = 0; o < Ct; o++)
        b[o] = (float)(o % 3 - 1);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Ct; o++) {
            float acc = b[o];
            for (int c = 0; c < Cs; c++)
                acc += ys[n * Cs + c] * W[o * Cs + c];
            yt[n * Ct + o] = acc;
        }
    FeatKd k;
    const FeatKdOpts o = feat_kd_opts_default();
    feat_kd_init(&k, &o, 8, Cs, Ct);
    ck_assert_double_eq(feat_kd_forward(&k, ys, yt, W, b, N), 0.0);
    float dys[12] = {0}, dW[120] = {0}, db[40] = {0}, zero[120] = {0};
    feat_kd_backward(&k, dys, dW, db, ys, yt, W, b, N, 1.0);
    ck_assert_floats_near(dys, zero, 12, TOL_HAND, 0);
    ck_assert_floats_near(dW, zero, 120, TOL_HAND, 0);
    ck_assert_floats_near(db, zero, 40, TOL_HAND, 0);
    // Any other target is not zero.
    yt[17] += 0.5f;
    ck_assert_double_gt(feat_kd_forward(&k, ys, yt, W, b, N), 1e-3);
    feat_kd_free(&k);
    feat_kd_free(&k); // safe twice: zeroed
}
END_TEST

START_TEST(test_feat_kd_two_channel_db1_hand_value) {
    // N = 1, Cs = 1, Ct = 2, db1, J = 1: ys' = (1, 2), yt = 0.
    // MSE = (1 + 4) / 2 = 2.5; hi = (x0 - x1) / √2 = -1/√2 (one coefficient), L1 = 1/√2.
    // ∂/∂ys' = 2 e / 2 + sign(hi) · (-1/√2, +1/√2) = (1 - 1/√2, 2 + 1/√2).
    const double r = 1.0 / sqrt(2.0);
    FeatKdOpts o = feat_kd_opts_default();
    snprintf(o.wavelet, sizeof o.wavelet, "db1");
    o.J = 1;
    FeatKd k;
    feat_kd_init(&k, &o, 1, 1, 2);
    const float ys[1] = {1}, W[2] = {1, 2}, b[2] = {0, 0}, yt[2] = {0, 0};
    ck_assert_double_le(fabs(feat_kd_forward(&k, ys, yt, W, b, 1) - (2.5 + r)), TOL_HAND);
    float dys[1] = {0}, dW[2] = {0}, db[2] = {0};
    feat_kd_backward(&k, dys, dW, db, ys, yt, W, b, 1, 1.0);
    const float dmap[2] = {(float)(1 - r), (float)(2 + r)};
    const float want_dys[1] = {(float)((1 - r) + 2 * (2 + r))};
    ck_assert_floats_near(dys, want_dys, 1, TOL_HAND, 0);
    ck_assert_floats_near(dW, dmap, 2, TOL_HAND, 0); // ys = 1
    ck_assert_floats_near(db, dmap, 2, TOL_HAND, 0);
    // Backward accumulates: a second call with dloss 2 adds twice as much.
    feat_kd_backward(&k, dys, NULL, NULL, ys, yt, W, b, 1, 2.0);
    const float three[1] = {3 * want_dys[0]};
    ck_assert_floats_near(dys, three, 1, TOL_HAND, TOL_HAND);
    feat_kd_free(&k);
}
END_TEST

typedef struct {
    FeatKd *k;
    float *ys, *yt, *W, *b;
    int N;
    double scale;
} FeatCtx;

static double feat_loss(void *p) {
    FeatCtx *c = p;
    return c->scale * feat_kd_forward(c->k, c->ys, c->yt, c->W, c->b, c->N);
}

START_TEST(test_feat_kd_backward_matches_finite_differences) {
    const Shape *s = &shapes[_i];
    FeatKd k;
    const FeatKdOpts o = opts_of(s);
    feat_kd_init(&k, &o, s->N + 2, s->Cs, s->Ct); // Nmax > N: buffers larger than the call
    const size_t nys = (size_t)s->N * s->Cs, nyt = (size_t)s->N * s->Ct, nW = (size_t)s->Ct * s->Cs;
    // Scaled by N·Ct so that the gradients are O(1), well above TOL_FD_ABS.
    FeatCtx c = {.k = &k, .N = s->N, .scale = (double)s->N * s->Ct};
    c.ys = xmalloc(nys * 4), c.yt = xmalloc(nyt * 4), c.W = xmalloc(nW * 4);
    c.b = xmalloc((size_t)s->Ct * 4);
    fill_uniform(c.ys, nys, -1, 1, 10 + (uint32_t)_i);
    fill_uniform(c.yt, nyt, -1, 1, 20 + (uint32_t)_i);
    Rng rng;
    rng_init(&rng, 5, 0, (uint32_t)_i, RNG_TEST);
    feat_kd_init_map(c.W, c.b, s->Cs, s->Ct, &rng);
    float *dys = xcalloc(nys, 4), *dW = xcalloc(nW, 4), *db = xcalloc((size_t)s->Ct, 4);
    feat_kd_backward(&k, dys, dW, db, c.ys, c.yt, c.W, c.b, s->N, c.scale);
    fd_check(feat_loss, &c, c.ys, dys, nys, FD_H, 64, &rng);
    fd_check(feat_loss, &c, c.W, dW, nW, FD_H, 64, &rng);
    fd_check(feat_loss, &c, c.b, db, (size_t)s->Ct, FD_H, 64, &rng);
    // Without bias: the same loss as a zero bias.
    float *zb = xcalloc((size_t)s->Ct, 4);
    ck_assert_double_eq(feat_kd_forward(&k, c.ys, c.yt, c.W, NULL, s->N),
                        feat_kd_forward(&k, c.ys, c.yt, c.W, zb, s->N));
    xfree(c.ys), xfree(c.yt), xfree(c.W), xfree(c.b), xfree(dys), xfree(dW), xfree(db), xfree(zb);
    feat_kd_free(&k);
}
END_TEST

START_TEST(test_feat_kd_init_map_is_pytorchs_default) {
    const int Cs = 16, Ct = 24;
    float W[384], b[24], want[408];
    Rng r1, r2;
    rng_init(&r1, 3, 1, 2, RNG_INIT);
    rng_init(&r2, 3, 1, 2, RNG_INIT);
    feat_kd_init_map(W, b, Cs, Ct, &r1);
    // W then b, one stream, U(±1/√Cs) = U(±0.25).
    rng_fill_uniform(&r2, want, 408, -0.25f, 0.25f);
    ck_assert_floats_near(W, want, 384, 0, 0);
    ck_assert_floats_near(b, want + 384, 24, 0, 0);
    double amax = 0;
    for (int i = 0; i < 384; i++)
        amax = fmax(amax, fabs(W[i]));
    ck_assert_double_le(amax, 0.25);
    ck_assert_double_gt(amax, 0.2); // the bound is used, not a smaller one
}
END_TEST

// ---- the PyTorch twin ----

typedef struct {
    const Shape *s;
    int Nz, V;
    float T;
    float *ys, *yt, *W, *b, *zs, *zt, *q;
} TwinCase;

static void twin_case_fill(TwinCase *c, const Shape *s, uint32_t seed) {
    c->s = s, c->Nz = 5, c->V = 11, c->T = 2.5f;
    const size_t nz = (size_t)c->Nz * c->V;
    c->ys = xmalloc((size_t)s->N * s->Cs * 4), c->yt = xmalloc((size_t)s->N * s->Ct * 4);
    c->W = xmalloc((size_t)s->Ct * s->Cs * 4), c->b = xmalloc((size_t)s->Ct * 4);
    c->zs = xmalloc(nz * 4), c->zt = xmalloc(nz * 4), c->q = xmalloc(nz * 4);
    fill_uniform(c->ys, (size_t)s->N * s->Cs, -1, 1, seed);
    fill_uniform(c->yt, (size_t)s->N * s->Ct, -1, 1, seed + 1);
    Rng r;
    rng_init(&r, 7, 0, seed, RNG_TEST);
    feat_kd_init_map(c->W, c->b, s->Cs, s->Ct, &r);
    fill_uniform(c->zs, nz, -4, 4, seed + 2);
    fill_uniform(c->zt, nz, -4, 4, seed + 3);
    // Soft targets: a softmax of random logits (rows sum to 1) with one row left unnormalised.
    fill_uniform(c->q, nz, -2, 2, seed + 4);
    softmax_forward(c->q, c->q, c->Nz, c->V);
    for (int v = 0; v < c->V; v++)
        c->q[v] *= 0.5f;
}

static void twin_case_free(TwinCase *c) {
    xfree(c->ys), xfree(c->yt), xfree(c->W), xfree(c->b), xfree(c->zs), xfree(c->zt), xfree(c->q);
}

static void write_case(const char *path, const TwinCase *c) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    const Shape *s = c->s;
    const int hdr[8] = {s->N,
                        s->Cs,
                        s->Ct,
                        s->J,
                        strcmp(s->name, "db1") == 0 ? 2 : 12,
                        s->mode == WAVELET_SYMMETRIC ? 0 : 1,
                        c->Nz,
                        c->V};
    const size_t nz = (size_t)c->Nz * c->V;
    int ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(&c->T, 4, 1, f) == 1;
    ok = ok && fwrite(c->ys, 4, (size_t)s->N * s->Cs, f) == (size_t)s->N * s->Cs;
    ok = ok && fwrite(c->yt, 4, (size_t)s->N * s->Ct, f) == (size_t)s->N * s->Ct;
    ok = ok && fwrite(c->W, 4, (size_t)s->Ct * s->Cs, f) == (size_t)s->Ct * s->Cs;
    ok = ok && fwrite(c->b, 4, (size_t)s->Ct, f) == (size_t)s->Ct;
    ok = ok && fwrite(c->zs, 4, nz, f) == nz && fwrite(c->zt, 4, nz, f) == nz;
    ok = ok && fwrite(c->q, 4, nz, f) == nz;
    ck_assert_msg(fclose(f) == 0 && ok, "short write of %s", path);
}

// max |a - t| / max(max |t|, 1e-6): the error relative to the tensor's scale.
static double rel_err(const float *a, const double *t, size_t n) {
    double scale = 1e-6, err = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(t[i]));
    for (size_t i = 0; i < n; i++)
        err = fmax(err, fabs((double)a[i] - t[i]));
    return err / scale;
}

// The worst relative error of C against the twin's output over every loss and gradient of the
// case; what names the worst one.
static double compare_case(const char *path, const TwinCase *c, char *what, size_t cap) {
    const Shape *s = c->s;
    const size_t nys = (size_t)s->N * s->Cs, nW = (size_t)s->Ct * s->Cs, nb = (size_t)s->Ct,
                 nz = (size_t)c->Nz * c->V;
    const size_t total = 4 + nys + nW + nb + 3 * nz;
    double *t = xmalloc(total * sizeof(double));
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "the twin wrote no %s", path);
    const size_t got = fread(t, sizeof(double), total, f);
    fclose(f);
    ck_assert_msg(got == total, "%s: %zu doubles, expected %zu", path, got, total);

    FeatKd k;
    const FeatKdOpts o = opts_of(s);
    feat_kd_init(&k, &o, s->N, s->Cs, s->Ct);
    float loss[1], *dys = xcalloc(nys, 4), *dW = xcalloc(nW, 4), *db = xcalloc(nb, 4);
    float *p = xmalloc(nz * 4), *q = xmalloc(nz * 4), *dz = xcalloc(nz, 4);
    double worst = 0;
    const double *tp = t;
#define CMP(name, a, n)                                                                            \
    do {                                                                                           \
        const double e = rel_err((a), tp, (n));                                                    \
        if (!(e <= worst)) worst = e, snprintf(what, cap, "%s (%.3g)", (name), e);                 \
        tp += (n);                                                                                 \
    } while (0)
    loss[0] = (float)feat_kd_forward(&k, c->ys, c->yt, c->W, c->b, s->N);
    feat_kd_backward(&k, dys, dW, db, c->ys, c->yt, c->W, c->b, s->N, 1.0);
    CMP("feature KD loss", loss, 1);
    CMP("feature KD dys", dys, nys);
    CMP("feature KD dW", dW, nW);
    CMP("feature KD db", db, nb);
    loss[0] = (float)kl_div_forward(p, q, c->zs, c->zt, c->T, c->Nz, c->V);
    kl_div_backward(dz, p, q, c->T, c->Nz, c->V, 1.0);
    CMP("logit KD loss", loss, 1);
    CMP("logit KD dz", dz, nz);
    memset(dz, 0, nz * 4);
    loss[0] = (float)soft_ce_forward(p, c->zs, c->q, c->Nz, c->V);
    soft_ce_backward(dz, p, c->q, c->Nz, c->V, 1.0);
    CMP("soft CE loss", loss, 1);
    CMP("soft CE dz", dz, nz);
    memset(dz, 0, nz * 4);
    loss[0] = (float)entropy_forward(c->zs, c->Nz, c->V);
    entropy_backward(dz, c->zs, c->Nz, c->V, 1.0);
    CMP("entropy loss", loss, 1);
    CMP("entropy dz", dz, nz);
#undef CMP
    xfree(t), xfree(dys), xfree(dW), xfree(db), xfree(p), xfree(q), xfree(dz);
    feat_kd_free(&k);
    return worst;
}

// Writes every shape's case into dir, runs the twin (extra: its flags), returns its exit code.
static int run_twin(const char *dir, const char *extra, TwinCase *cases, char *out, size_t cap) {
    char probe[256];
    int rc = run_command(probe, sizeof probe, "/usr/bin/python3 -c 'import torch, pywt' 2>&1");
    ck_assert_msg(rc == 0,
                  "/usr/bin/python3 has no torch or pywt (Debian's python3-torch, python3-pywt): "
                  "%s",
                  probe);
    char path[128];
    for (int i = 0; i < N_SHAPES; i++) {
        twin_case_fill(&cases[i], &shapes[i], 100 + 10 * (uint32_t)i);
        snprintf(path, sizeof path, "%s/case_%d.in", dir, i);
        write_case(path, &cases[i]);
    }
    return run_command(out, cap, "/usr/bin/python3 tests/torch/distill_torch.py %s %d %s 2>&1", dir,
                       N_SHAPES, extra);
}

START_TEST(test_losses_and_gradients_match_pytorch) {
    char dir[64], out[OUT_CAP], path[128], what[128];
    TwinCase cases[N_SHAPES];
    tmpdir_make(dir, sizeof dir, "distill_torch");
    const int rc = run_twin(dir, "", cases, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "distill_torch: all "), "distill_torch.py: exit %d:\n%s",
                  rc, out);
    for (int i = 0; i < N_SHAPES; i++) {
        snprintf(path, sizeof path, "%s/case_%d.out", dir, i);
        what[0] = 0;
        const double e = compare_case(path, &cases[i], what, sizeof what);
        ck_assert_msg(e <= TOL_TORCH, "shape %d (%s, Ct=%d, J=%d): worst %s > %g", i,
                      shapes[i].name, shapes[i].Ct, shapes[i].J, what, TOL_TORCH);
        twin_case_free(&cases[i]);
    }
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_a_twin_with_whole_sample_reflection_does_not_match) {
    char dir[64], out[OUT_CAP], path[128], what[128];
    TwinCase cases[N_SHAPES];
    tmpdir_make(dir, sizeof dir, "distill_torch");
    const int rc = run_twin(dir, "--break=reflect", cases, out, sizeof out);
    ck_assert_msg(rc == 0, "distill_torch.py --break=reflect: exit %d:\n%s", rc, out);
    for (int i = 0; i < N_SHAPES; i++) {
        snprintf(path, sizeof path, "%s/case_%d.out", dir, i);
        what[0] = 0;
        const double e = compare_case(path, &cases[i], what, sizeof what);
        // Only the symmetric cases change; periodization does not reflect.
        if (shapes[i].mode == WAVELET_SYMMETRIC)
            ck_assert_msg(e > TOL_BROKEN, "shape %d: the reflect twin matched (worst %s)", i, what);
        twin_case_free(&cases[i]);
    }
    tmpdir_remove(dir);
}
END_TEST

// ---- soft-target CE ----

START_TEST(test_soft_ce_hand_values) {
    // One-hot targets: the hard-label CE of nn/loss.h. Uniform logits: log V times Σ q.
    const int N = 3, V = 4;
    float z[12], q[12] = {0}, p[12], hp[12];
    fill_uniform(z, 12, -3, 3, 40);
    const int y[3] = {2, 0, 3};
    for (int n = 0; n < N; n++)
        q[n * V + y[n]] = 1;
    const double hard = softmax_ce_forward(hp, z, y, NULL, -100, N, V);
    ck_assert_double_le(fabs(soft_ce_forward(p, z, q, N, V) - hard), TOL_HAND);
    ck_assert_floats_near(p, hp, 12, TOL_HAND, 0);
    float dz[12] = {0}, dh[12] = {0};
    soft_ce_backward(dz, p, q, N, V, 1.0);
    softmax_ce_backward(dh, hp, y, NULL, -100, N, V, 1.0);
    ck_assert_floats_near(dz, dh, 12, TOL_HAND, 0);
    const float zu[4] = {0.5f, 0.5f, 0.5f, 0.5f}, qu[4] = {0.25f, 0.25f, 0.5f, 0.5f};
    ck_assert_double_le(fabs(soft_ce_forward(p, zu, qu, 1, V) - 1.5 * log(4.0)), TOL_HAND);
    // Large logits stay finite (max-subtracted log-softmax).
    const float zb[4] = {1000, -1000, 0, 999}, qb[4] = {0, 0.5f, 0.5f, 0};
    const double big = soft_ce_forward(p, zb, qb, 1, V);
    ck_assert_msg(isfinite(big) && fabs(big - 0.5 * (2000 + 1000)) < 1, "loss %g", big);
}
END_TEST

typedef struct {
    float *p, *z, *q;
    int N, V;
} SceCtx;

static double sce_loss(void *a) {
    SceCtx *c = a;
    return soft_ce_forward(c->p, c->z, c->q, c->N, c->V) * c->N;
}

START_TEST(test_soft_ce_backward_matches_finite_differences) {
    const int Ns[3] = {1, 3, 6}, Vs[3] = {2, 7, 33};
    const int N = Ns[_i], V = Vs[_i];
    const size_t n = (size_t)N * V;
    SceCtx c = {.N = N, .V = V};
    c.p = xmalloc(n * 4), c.z = xmalloc(n * 4), c.q = xmalloc(n * 4);
    fill_uniform(c.z, n, -3, 3, 50 + (uint32_t)_i);
    fill_uniform(c.q, n, 0, 1, 60 + (uint32_t)_i); // not normalised: the general gradient
    float *dz = xcalloc(n, 4);
    soft_ce_forward(c.p, c.z, c.q, N, V);
    soft_ce_backward(dz, c.p, c.q, N, V, (double)N); // scaled as sce_loss
    Rng rng;
    rng_init(&rng, 11, 0, (uint32_t)_i, RNG_TEST);
    fd_check(sce_loss, &c, c.z, dz, n, FD_H, 64, &rng);
    xfree(c.p), xfree(c.z), xfree(c.q), xfree(dz);
}
END_TEST

// ---- errors ----

static void die_j_too_deep_db6(void *arg) {
    (void)arg;
    FeatKd k;
    const FeatKdOpts o = feat_kd_opts_default();
    feat_kd_init(&k, &o, 4, 16, 8);
}

static void die_j_odd_periodization(void *arg) {
    (void)arg;
    FeatKd k;
    FeatKdOpts o = feat_kd_opts_default();
    o.mode = WAVELET_PERIODIZATION;
    feat_kd_init(&k, &o, 4, 16, 12); // 12 -> 6 -> 3: level 3's input is odd
}

static void die_j_zero(void *arg) {
    (void)arg;
    FeatKd k;
    FeatKdOpts o = feat_kd_opts_default();
    o.J = 0;
    feat_kd_init(&k, &o, 4, 16, 64);
}

static void die_unknown_wavelet(void *arg) {
    (void)arg;
    FeatKd k;
    FeatKdOpts o = feat_kd_opts_default();
    snprintf(o.wavelet, sizeof o.wavelet, "db4");
    feat_kd_init(&k, &o, 4, 16, 64);
}

static void die_n_above_nmax(void *arg) {
    (void)arg;
    FeatKd k;
    const FeatKdOpts o = feat_kd_opts_default();
    feat_kd_init(&k, &o, 2, 1, 16);
    float ys[3] = {0}, yt[48] = {0}, W[16] = {0};
    feat_kd_forward(&k, ys, yt, W, NULL, 3);
}

static void die_negative_target(void *arg) {
    (void)arg;
    float p[2], z[2] = {0, 0}, q[2] = {0.5f, -0.1f};
    soft_ce_forward(p, z, q, 1, 2);
}

START_TEST(test_bad_arguments_die_naming_the_values) {
    expect_die(die_j_too_deep_db6, NULL, "feature KD", "J=3", "db6", "Ct=8", "level 1",
               "needs >= 11");
    expect_die(die_j_odd_periodization, NULL, "J=3", "periodization", "Ct=12", "level 3",
               "3 channels");
    expect_die(die_j_zero, NULL, "J=0");
    expect_die(die_unknown_wavelet, NULL, "db4");
    expect_die(die_n_above_nmax, NULL, "feat_kd_forward", "N=3", "Nmax=2");
    expect_die(die_negative_target, NULL, "soft_ce_forward", "q[0][1]");
}
END_TEST

Suite *distill_suite(void) {
    Suite *s = suite_create("distill");
    TCase *tc = tcase_create("distill");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_defaults_are_the_papers);
    tcase_add_test(tc, test_feat_kd_is_zero_when_the_map_lands_on_the_teacher);
    tcase_add_test(tc, test_feat_kd_two_channel_db1_hand_value);
    tcase_add_loop_test(tc, test_feat_kd_backward_matches_finite_differences, 0, N_SHAPES);
    tcase_add_test(tc, test_feat_kd_init_map_is_pytorchs_default);
    tcase_add_test(tc, test_losses_and_gradients_match_pytorch);
    tcase_add_test(tc, test_a_twin_with_whole_sample_reflection_does_not_match);
    tcase_add_test(tc, test_soft_ce_hand_values);
    tcase_add_loop_test(tc, test_soft_ce_backward_matches_finite_differences, 0, 3);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_values);
    suite_add_tcase(s, tc);
    return s;
}
