// test_llama_layers.c - RMSNorm, RoPE and SwiGLU (nn/llama.h): every gradient against central
// differences, the fast kernels against their naive twins, hand values, RoPE's geometry (a pair's
// norm is kept, a split sequence rotates as the whole, <rope(q, m), rope(k, n)> depends on m − n
// alone), accumulation and NULL gradients, and bad arguments dying.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/llama.h"

#define FD_H 1e-2     /* the step TOL_FD_REL is calibrated for */
#define TOL_TWIN 1e-5 /* fast float kernel vs its double twin: float rounding of O(1) values */
#define TOL_HAND 1e-6 /* one float rounding of an O(1) hand value */
#define TOL_ROT 1e-5  /* rotations with float cos/sin: ~1e-7 per term, a few terms summed */
#define TOL_SWIGLU_EXP 2e-6 /* exp_vec's ~1e-7 relative error through sigmoid, O(1) values */

static float *fbuf(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

static Rng test_rng(void) {
    Rng rng;
    rng_init(&rng, 1, 0, 0, RNG_TEST);
    return rng;
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

// {N, D}: one row, one feature, odd and past-the-lane-block sizes.
static const int rms_shapes[][2] = {{1, 1}, {1, 5}, {3, 7}, {4, 32}, {2, 129}};

typedef struct RmsCtx {
    float *out, *rstd, *inp, *w;
    const float *g; // dloss/dout of the scalar loss Σ out·g
    int N, D;
} RmsCtx;

static double rms_loss(void *p) {
    RmsCtx *c = p;
    rmsnorm_forward(c->out, c->rstd, c->inp, c->w, RMSNORM_EPS, c->N, c->D);
    return dot_double(c->out, c->g, (size_t)c->N * c->D);
}

START_TEST(test_rmsnorm_backward_matches_finite_differences) {
    const int N = rms_shapes[_i][0], D = rms_shapes[_i][1];
    const size_t n = (size_t)N * D;
    RmsCtx c = {.N = N, .D = D};
    c.out = fbuf(n), c.inp = fbuf(n), c.rstd = fbuf(N), c.w = fbuf(D);
    float *g = fbuf(n), *dinp = fbuf(n), *dw = fbuf(D);
    fill_uniform(c.inp, n, -2, 2, 1);
    fill_uniform(c.w, D, 0.5f, 1.5f, 2);
    fill_uniform(g, n, -1, 1, 3);
    c.g = g;
    rms_loss(&c);
    rmsnorm_backward(dinp, dw, g, c.inp, c.w, c.rstd, N, D);
    Rng rng = test_rng();
    fd_check(rms_loss, &c, c.inp, dinp, n, FD_H, 64, &rng);
    fd_check(rms_loss, &c, c.w, dw, D, FD_H, 64, &rng);
    xfree(c.out), xfree(c.inp), xfree(c.rstd), xfree(c.w), xfree(g), xfree(dinp), xfree(dw);
}
END_TEST

START_TEST(test_rmsnorm_hand_values) {
    // x = (3, 4, 0, 0): mean(x²) = 25/4, rms = 2.5, rstd = 0.4; out = x·0.4·w.
    const float x[4] = {3, 4, 0, 0}, w[4] = {1, 2, 3, 4};
    const float want[4] = {1.2f, 3.2f, 0, 0};
    float out[4], rstd[1];
    rmsnorm_forward(out, rstd, x, w, 0.0f, 1, 4);
    ck_assert_floats_near(out, want, 4, TOL_HAND, TOL_HAND);
    ck_assert_double_eq_tol(rstd[0], 0.4, TOL_HAND);
    // eps keeps a zero row finite: rstd = 1/sqrt(eps), out = 0.
    const float z[4] = {0};
    rmsnorm_forward(out, rstd, z, w, RMSNORM_EPS, 1, 4);
    ck_assert_double_eq_tol(rstd[0], 1.0 / sqrt(RMSNORM_EPS), 1e-6 / sqrt(RMSNORM_EPS));
    ck_assert_floats_near(out, z, 4, 0, 0);
    // Scale invariance: rmsnorm(5·x) = rmsnorm(x) when eps = 0.
    const float x5[4] = {15, 20, 0, 0};
    rmsnorm_forward(out, rstd, x5, w, 0.0f, 1, 4);
    ck_assert_floats_near(out, want, 4, TOL_HAND, TOL_HAND);
}
END_TEST

START_TEST(test_rmsnorm_matches_its_twin) {
    const int N = 5, D = 67;
    const size_t n = (size_t)N * D;
    float *x = fbuf(n), *w = fbuf(D), *g = fbuf(n), *o1 = fbuf(n), *o2 = fbuf(n);
    float *r1 = fbuf(N), *r2 = fbuf(N), *d1 = fbuf(n), *d2 = fbuf(n), *dw1 = fbuf(D),
          *dw2 = fbuf(D);
    fill_uniform(x, n, -3, 3, 4);
    fill_uniform(w, D, -1.5f, 1.5f, 5);
    fill_uniform(g, n, -1, 1, 6);
    rmsnorm_forward(o1, r1, x, w, RMSNORM_EPS, N, D);
    rmsnorm_forward_ref(o2, r2, x, w, RMSNORM_EPS, N, D);
    ck_assert_floats_near(o1, o2, n, TOL_TWIN, TOL_TWIN);
    ck_assert_floats_near(r1, r2, N, TOL_TWIN, TOL_TWIN);
    rmsnorm_backward(d1, dw1, g, x, w, r1, N, D);
    rmsnorm_backward_ref(d2, dw2, g, x, w, r1, N, D);
    ck_assert_floats_near(d1, d2, n, TOL_TWIN, TOL_TWIN);
    ck_assert_floats_near(dw1, dw2, D, TOL_TWIN, TOL_TWIN);
    xfree(x), xfree(w), xfree(g), xfree(o1), xfree(o2), xfree(r1), xfree(r2), xfree(d1), xfree(d2),
        xfree(dw1), xfree(dw2);
}
END_TEST

START_TEST(test_rmsnorm_backward_accumulates_and_skips_null_gradients) {
    const int N = 3, D = 19;
    float x[57], out[57], g[57], w[19], rstd[3];
    float d1[57] = {0}, d2[57] = {0}, dw1[19] = {0}, dw2[19] = {0};
    fill_uniform(x, 57, -1, 1, 7);
    fill_uniform(g, 57, -1, 1, 8);
    fill_uniform(w, 19, -1, 1, 9);
    rmsnorm_forward(out, rstd, x, w, RMSNORM_EPS, N, D);
    rmsnorm_backward(d1, dw1, g, x, w, rstd, N, D);
    rmsnorm_backward(d2, NULL, g, x, w, rstd, N, D);
    rmsnorm_backward(d2, dw2, g, x, w, rstd, N, D);
    rmsnorm_backward(NULL, dw2, g, x, w, rstd, N, D);
    for (int i = 0; i < 57; i++)
        d1[i] *= 2;
    for (int i = 0; i < 19; i++)
        dw1[i] *= 2;
    ck_assert_floats_near(d2, d1, 57, 1e-6, 1e-6);
    ck_assert_floats_near(dw2, dw1, 19, 1e-6, 1e-6);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// RoPE

// {B, T, H, hd}: one pair, odd T and H, a half-width past one AVX-512 vector (hd/2 = 20).
static const int rope_shapes[][4] = {{1, 1, 1, 2}, {2, 3, 3, 6}, {1, 5, 2, 40}};

typedef struct RopeCtx {
    float *out, *inp;
    const float *cos_t, *sin_t, *g;
    int B, T, H, hd;
} RopeCtx;

static double rope_loss(void *p) {
    RopeCtx *c = p;
    rope_forward(c->out, c->inp, c->cos_t, c->sin_t, c->B, c->T, c->H, c->hd);
    return dot_double(c->out, c->g, (size_t)c->B * c->T * c->H * c->hd);
}

START_TEST(test_rope_backward_matches_finite_differences) {
    const int B = rope_shapes[_i][0], T = rope_shapes[_i][1], H = rope_shapes[_i][2],
              hd = rope_shapes[_i][3];
    const size_t n = (size_t)B * T * H * hd, nt = (size_t)T * hd / 2;
    float *cs = fbuf(nt), *sn = fbuf(nt), *g = fbuf(n), *dinp = fbuf(n);
    RopeCtx c = {.B = B, .T = T, .H = H, .hd = hd, .cos_t = cs, .sin_t = sn, .g = g};
    c.out = fbuf(n), c.inp = fbuf(n);
    rope_table(cs, sn, 3, T, hd, ROPE_THETA);
    fill_uniform(c.inp, n, -2, 2, 10);
    fill_uniform(g, n, -1, 1, 11);
    rope_backward(dinp, g, cs, sn, B, T, H, hd);
    Rng rng = test_rng();
    fd_check(rope_loss, &c, c.inp, dinp, n, FD_H, 64, &rng);
    xfree(cs), xfree(sn), xfree(g), xfree(dinp), xfree(c.out), xfree(c.inp);
}
END_TEST

START_TEST(test_rope_matches_its_precompute_free_twin) {
    // pos0 = 4000: the table's double angle keeps far positions as accurate as near ones.
    const int B = 2, T = 5, H = 3, hd = 40, pos0s[2] = {0, 4000};
    const size_t n = (size_t)B * T * H * hd, nt = (size_t)T * hd / 2;
    float *cs = fbuf(nt), *sn = fbuf(nt), *x = fbuf(n), *o1 = fbuf(n), *o2 = fbuf(n);
    float *d1 = fbuf(n), *d2 = fbuf(n);
    fill_uniform(x, n, -2, 2, 12);
    for (int k = 0; k < 2; k++) {
        rope_table(cs, sn, pos0s[k], T, hd, ROPE_THETA);
        rope_forward(o1, x, cs, sn, B, T, H, hd);
        rope_forward_ref(o2, x, pos0s[k], ROPE_THETA, B, T, H, hd);
        ck_assert_floats_near(o1, o2, n, TOL_ROT, TOL_ROT);
        memset(d1, 0, n * 4), memset(d2, 0, n * 4);
        rope_backward(d1, x, cs, sn, B, T, H, hd);
        rope_backward_ref(d2, x, pos0s[k], ROPE_THETA, B, T, H, hd);
        ck_assert_floats_near(d1, d2, n, TOL_ROT, TOL_ROT);
    }
    xfree(cs), xfree(sn), xfree(x), xfree(o1), xfree(o2), xfree(d1), xfree(d2);
}
END_TEST

START_TEST(test_rope_hand_values) {
    // hd = 2 at position 1: θ index 0 has frequency θ⁰ = 1, a rotation by 1 rad.
    float cs[2], sn[2];
    rope_table(cs, sn, 1, 1, 2, ROPE_THETA);
    const float x[2] = {0.3f, -0.7f};
    float out[2];
    rope_forward(out, x, cs, sn, 1, 1, 1, 2);
    const float want[2] = {(float)(0.3 * cos(1.0) + 0.7 * sin(1.0)),
                           (float)(-0.7 * cos(1.0) + 0.3 * sin(1.0))};
    ck_assert_floats_near(out, want, 2, TOL_HAND, TOL_HAND);
    // hd = 4 at position 1: pair (0, 2) turns by 1 rad, pair (1, 3) by θ^(−2/4) = 0.01 rad.
    rope_table(cs, sn, 1, 1, 4, ROPE_THETA);
    const float e[4] = {1, 1, 0, 0};
    float o4[4];
    rope_forward(o4, e, cs, sn, 1, 1, 1, 4);
    const float want4[4] = {(float)cos(1.0), (float)cos(0.01), (float)sin(1.0), (float)sin(0.01)};
    ck_assert_floats_near(o4, want4, 4, TOL_HAND, TOL_HAND);
    // Position 0 is the identity.
    rope_table(cs, sn, 0, 1, 4, ROPE_THETA);
    rope_forward(o4, e, cs, sn, 1, 1, 1, 4);
    ck_assert_floats_near(o4, e, 4, 0, 0);
}
END_TEST

// Copies tokens [t0, t0 + nt) of every batch row between a whole x (B, T, w) and a slice
// (B, nt, w): into the slice when to_slice, else back into x.
static void copy_tokens(float *x, float *slice, int B, int T, int t0, int nt, int w, int to_slice) {
    for (int b = 0; b < B; b++) {
        float *whole = x + ((size_t)b * T + t0) * w, *part = slice + (size_t)b * nt * w;
        const size_t bytes = (size_t)nt * w * sizeof(float);
        if (to_slice)
            memcpy(part, whole, bytes);
        else
            memcpy(whole, part, bytes);
    }
}

START_TEST(test_rope_split_sequence_equals_whole) {
    // A KV-cached decoder rotates the prompt (positions 0..2) then the rest at pos0 = 3 (and one
    // token at a time after that): the same bits as rotating the whole sequence at once.
    const int B = 2, T = 7, H = 2, hd = 8, T1 = 3, w = H * hd;
    const size_t n = (size_t)B * T * w;
    float *x = fbuf(n), *whole = fbuf(n), *parts = fbuf(n), *sl = fbuf(n);
    float *cs = fbuf((size_t)T * hd / 2), *sn = fbuf((size_t)T * hd / 2);
    fill_uniform(x, n, -1, 1, 13);
    rope_table(cs, sn, 0, T, hd, ROPE_THETA);
    rope_forward(whole, x, cs, sn, B, T, H, hd);
    const int cut[3][2] = {{0, T1}, {T1, 1}, {T1 + 1, T - T1 - 1}}; // prompt, one token, the rest
    for (int k = 0; k < 3; k++) {
        const int t0 = cut[k][0], nt = cut[k][1];
        copy_tokens(x, sl, B, T, t0, nt, w, 1);
        rope_table(cs, sn, t0, nt, hd, ROPE_THETA);
        rope_forward(sl, sl, cs, sn, B, nt, H, hd); // in place
        copy_tokens(parts, sl, B, T, t0, nt, w, 0);
    }
    ck_assert_floats_near(parts, whole, n, 0, 0);
    xfree(x), xfree(whole), xfree(parts), xfree(sl), xfree(cs), xfree(sn);
}
END_TEST

START_TEST(test_rope_preserves_pair_norms_and_inverts) {
    const int B = 1, T = 6, H = 2, hd = 12, half = hd / 2;
    const size_t n = (size_t)B * T * H * hd;
    float x[144], y[144], back[144] = {0}, cs[36], sn[36];
    fill_uniform(x, n, -2, 2, 14);
    rope_table(cs, sn, 1000, T, hd, ROPE_THETA);
    rope_forward(y, x, cs, sn, B, T, H, hd);
    for (size_t r = 0; r < n / hd; r++)
        for (int i = 0; i < half; i++) {
            const float *a = x + r * hd, *b = y + r * hd;
            const double na = hypot(a[i], a[i + half]), nb = hypot(b[i], b[i + half]);
            ck_assert_double_eq_tol(nb, na, TOL_ROT * (1 + na));
        }
    // Backward is the transpose of an orthogonal map: applied to rope(x) it gives x back.
    rope_backward(back, y, cs, sn, B, T, H, hd);
    ck_assert_floats_near(back, x, n, TOL_ROT, TOL_ROT);
}
END_TEST

// <rope(q) at position m, rope(k) at position n> over one head.
static double rope_dot(const float *q, const float *k, int m, int n, int hd) {
    float cs[64], sn[64], qr[128], kr[128];
    rope_table(cs, sn, m, 1, hd, ROPE_THETA);
    rope_forward(qr, q, cs, sn, 1, 1, 1, hd);
    rope_table(cs, sn, n, 1, hd, ROPE_THETA);
    rope_forward(kr, k, cs, sn, 1, 1, 1, hd);
    double s = 0;
    for (int i = 0; i < hd; i++)
        s += (double)qr[i] * kr[i];
    return s;
}

START_TEST(test_rope_score_depends_only_on_relative_position) {
    const int hd = 16;
    float q[16], k[16];
    fill_uniform(q, hd, -1, 1, 15);
    fill_uniform(k, hd, -1, 1, 16);
    const double ref = rope_dot(q, k, 3, 1, hd); // m − n = 2
    const int mn[][2] = {{2, 0}, {10, 8}, {102, 100}, {1001, 999}};
    for (int j = 0; j < 4; j++)
        ck_assert_double_eq_tol(rope_dot(q, k, mn[j][0], mn[j][1], hd), ref, 1e-4);
    // ... and does depend on m − n (else the test above would prove nothing).
    ck_assert_double_gt(fabs(rope_dot(q, k, 7, 1, hd) - ref), 1e-2);
}
END_TEST

START_TEST(test_rope_in_place_backward_accumulates_null) {
    const int B = 2, T = 3, H = 2, hd = 10;
    const size_t n = (size_t)B * T * H * hd;
    float x[120], y[120], g[120], d1[120] = {0}, d2[120] = {0}, cs[15], sn[15];
    fill_uniform(x, n, -1, 1, 17);
    fill_uniform(g, n, -1, 1, 18);
    rope_table(cs, sn, 5, T, hd, ROPE_THETA);
    rope_forward(y, x, cs, sn, B, T, H, hd);
    rope_forward(x, x, cs, sn, B, T, H, hd); // in place gives the same bits
    ck_assert_floats_near(x, y, n, 0, 0);
    rope_backward(d1, g, cs, sn, B, T, H, hd);
    rope_backward(d2, g, cs, sn, B, T, H, hd);
    rope_backward(d2, g, cs, sn, B, T, H, hd);
    rope_backward(NULL, g, cs, sn, B, T, H, hd);
    for (size_t i = 0; i < n; i++)
        d1[i] *= 2;
    ck_assert_floats_near(d2, d1, n, 1e-6, 1e-6);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// SwiGLU

static const int sw_shapes[][2] = {{1, 1}, {3, 7}, {2, 129}};

typedef struct SwCtx {
    float *out, *gate, *up;
    const float *g;
    int N, F;
} SwCtx;

static double sw_loss(void *p) {
    SwCtx *c = p;
    swiglu_forward(c->out, c->gate, c->up, c->N, c->F);
    return dot_double(c->out, c->g, (size_t)c->N * c->F);
}

START_TEST(test_swiglu_backward_matches_finite_differences) {
    const int N = sw_shapes[_i][0], F = sw_shapes[_i][1];
    const size_t n = (size_t)N * F;
    SwCtx c = {.N = N, .F = F};
    c.out = fbuf(n), c.gate = fbuf(n), c.up = fbuf(n);
    float *g = fbuf(n), *dg = fbuf(n), *du = fbuf(n);
    fill_uniform(c.gate, n, -4, 4, 19);
    fill_uniform(c.up, n, -2, 2, 20);
    fill_uniform(g, n, -1, 1, 21);
    c.g = g;
    swiglu_backward(dg, du, g, c.gate, c.up, N, F);
    Rng rng = test_rng();
    fd_check(sw_loss, &c, c.gate, dg, n, FD_H, 64, &rng);
    fd_check(sw_loss, &c, c.up, du, n, FD_H, 64, &rng);
    xfree(c.out), xfree(c.gate), xfree(c.up), xfree(g), xfree(dg), xfree(du);
}
END_TEST

// Both gradients in one call (the fused loop, one exp per element) equal the two one-gradient
// calls bit for bit.
START_TEST(test_swiglu_backward_both_equals_each_alone) {
    const int N = 7, F = 13;
    const size_t n = (size_t)N * F;
    float *gt = fbuf(n), *up = fbuf(n), *dout = fbuf(n);
    float *dg = fbuf(n), *du = fbuf(n), *dg1 = fbuf(n), *du1 = fbuf(n);
    fill_uniform(gt, n, -6, 6, 31);
    fill_uniform(up, n, -2, 2, 32);
    fill_uniform(dout, n, -1, 1, 33);
    fill_uniform(dg, n, -1, 1, 34);
    memcpy(dg1, dg, n * sizeof(float));
    fill_uniform(du, n, -1, 1, 35);
    memcpy(du1, du, n * sizeof(float));
    swiglu_backward(dg, du, dout, gt, up, N, F);
    swiglu_backward(dg1, NULL, dout, gt, up, N, F);
    swiglu_backward(NULL, du1, dout, gt, up, N, F);
    ck_assert_mem_eq(dg, dg1, n * sizeof(float));
    ck_assert_mem_eq(du, du1, n * sizeof(float));
    xfree(gt), xfree(up), xfree(dout), xfree(dg), xfree(du), xfree(dg1), xfree(du1);
}
END_TEST

START_TEST(test_swiglu_hand_values) {
    // silu(0) = 0, silu(1) = σ(1) = 0.7310585786, silu(−1) = −σ(−1) = −0.2689414214; silu(20) ≈ 20,
    // silu(−100) ≈ 0 (finite, no NaN from the clamped exp).
    // Eight copies, so that both the vector body and the scalar tail see every value.
    const float g5[5] = {0, 1, -1, 20, -100}, u5[5] = {5, 2, 1, 0.5f, 3};
    const float want5[5] = {0, 1.4621171573f, -0.2689414214f, 10.0f, 0};
    float g[40], u[40], want[40], out[40];
    for (int i = 0; i < 40; i++)
        g[i] = g5[i % 5], u[i] = u5[i % 5], want[i] = want5[i % 5];
    swiglu_forward(out, g, u, 8, 5);
    ck_assert_floats_near(out, want, 40, TOL_HAND, TOL_SWIGLU_EXP);
    // d/dg silu at 0 is 1/2: dg = dout · u / 2; du = dout · silu(g).
    const float g0[1] = {0}, u0[1] = {3}, dout[1] = {2};
    float dg[1] = {0}, du[1] = {0};
    swiglu_backward(dg, du, dout, g0, u0, 1, 1);
    ck_assert_double_eq_tol(dg[0], 3.0, TOL_HAND);
    ck_assert_double_eq_tol(du[0], 0.0, TOL_HAND);
}
END_TEST

START_TEST(test_swiglu_matches_its_twin_accumulates_null) {
    const int N = 4, F = 53;
    const size_t n = (size_t)N * F;
    float *g = fbuf(n), *u = fbuf(n), *d = fbuf(n), *o1 = fbuf(n), *o2 = fbuf(n);
    float *dg1 = fbuf(n), *dg2 = fbuf(n), *du1 = fbuf(n), *du2 = fbuf(n);
    fill_uniform(g, n, -8, 8, 22);
    fill_uniform(u, n, -2, 2, 23);
    fill_uniform(d, n, -1, 1, 24);
    swiglu_forward(o1, g, u, N, F);
    swiglu_forward_ref(o2, g, u, N, F);
    ck_assert_floats_near(o1, o2, n, TOL_TWIN, TOL_TWIN);
    swiglu_backward(dg1, du1, d, g, u, N, F);
    swiglu_backward_ref(dg2, du2, d, g, u, N, F);
    ck_assert_floats_near(dg1, dg2, n, TOL_TWIN, TOL_TWIN);
    ck_assert_floats_near(du1, du2, n, TOL_TWIN, TOL_TWIN);
    // Two calls, one gradient at a time, give twice one call.
    memset(dg2, 0, n * 4), memset(du2, 0, n * 4);
    for (int k = 0; k < 2; k++) {
        swiglu_backward(dg2, NULL, d, g, u, N, F);
        swiglu_backward(NULL, du2, d, g, u, N, F);
    }
    for (size_t i = 0; i < n; i++)
        dg1[i] *= 2, du1[i] *= 2;
    ck_assert_floats_near(dg2, dg1, n, 1e-6, 1e-6);
    ck_assert_floats_near(du2, du1, n, 1e-6, 1e-6);
    xfree(g), xfree(u), xfree(d), xfree(o1), xfree(o2), xfree(dg1), xfree(dg2), xfree(du1),
        xfree(du2);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// Bad arguments

static void rms_zero_d(void *arg) {
    float buf[4] = {0};
    (void)arg;
    rmsnorm_forward(buf, buf + 1, buf + 2, buf + 3, RMSNORM_EPS, 1, 0);
}
static void rms_null_rstd(void *arg) {
    float buf[4] = {0};
    (void)arg;
    rmsnorm_backward(buf, buf, buf, buf, buf, NULL, 1, 2);
}
static void rope_odd_hd(void *arg) {
    float buf[8] = {0};
    (void)arg;
    rope_forward(buf, buf, buf, buf, 1, 1, 1, 5);
}
static void rope_bad_theta(void *arg) {
    float buf[8] = {0};
    (void)arg;
    rope_table(buf, buf + 4, 0, 1, 4, 1.0);
}
static void rope_negative_pos(void *arg) {
    float buf[8] = {0};
    (void)arg;
    rope_table(buf, buf + 4, -1, 1, 4, ROPE_THETA);
}
static void swiglu_null_u(void *arg) {
    float buf[4] = {0};
    (void)arg;
    swiglu_forward(buf, buf, NULL, 1, 2);
}
static void swiglu_zero_f(void *arg) {
    float buf[4] = {0};
    (void)arg;
    swiglu_backward(buf, buf, buf, buf, buf, 2, 0);
}

START_TEST(test_bad_arguments_die_naming_the_function) {
    expect_die(rms_zero_d, NULL, "rmsnorm_forward", "N=1 D=0");
    expect_die(rms_null_rstd, NULL, "rmsnorm_backward", "rstd is NULL");
    expect_die(rope_odd_hd, NULL, "rope_forward", "hd=5", "even");
    expect_die(rope_bad_theta, NULL, "rope_table", "theta=1");
    expect_die(rope_negative_pos, NULL, "rope_table", "pos0=-1");
    expect_die(swiglu_null_u, NULL, "swiglu_forward", "u is NULL");
    expect_die(swiglu_zero_f, NULL, "swiglu_backward", "N=2 F=0");
}
END_TEST

Suite *llama_layers_suite(void) {
    Suite *s = suite_create("llama_layers");
    TCase *tc = tcase_create("rmsnorm");
    tcase_add_loop_test(tc, test_rmsnorm_backward_matches_finite_differences, 0,
                        (int)(sizeof rms_shapes / sizeof rms_shapes[0]));
    tcase_add_test(tc, test_rmsnorm_hand_values);
    tcase_add_test(tc, test_rmsnorm_matches_its_twin);
    tcase_add_test(tc, test_rmsnorm_backward_accumulates_and_skips_null_gradients);
    suite_add_tcase(s, tc);
    tc = tcase_create("rope");
    tcase_add_loop_test(tc, test_rope_backward_matches_finite_differences, 0,
                        (int)(sizeof rope_shapes / sizeof rope_shapes[0]));
    tcase_add_test(tc, test_rope_matches_its_precompute_free_twin);
    tcase_add_test(tc, test_rope_hand_values);
    tcase_add_test(tc, test_rope_split_sequence_equals_whole);
    tcase_add_test(tc, test_rope_preserves_pair_norms_and_inverts);
    tcase_add_test(tc, test_rope_score_depends_only_on_relative_position);
    tcase_add_test(tc, test_rope_in_place_backward_accumulates_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("swiglu");
    tcase_add_loop_test(tc, test_swiglu_backward_matches_finite_differences, 0,
                        (int)(sizeof sw_shapes / sizeof sw_shapes[0]));
    tcase_add_test(tc, test_swiglu_hand_values);
    tcase_add_test(tc, test_swiglu_backward_both_equals_each_alone);
    tcase_add_test(tc, test_swiglu_matches_its_twin_accumulates_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_bad_arguments_die_naming_the_function);
    suite_add_tcase(s, tc);
    return s;
}
