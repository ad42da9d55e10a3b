// test_patch.c - the ViT patch embedding pieces: patchify by hand (a 4×4 image with P = 2, two
// channels, rectangular patches), against a twin that maps each pixel to its slot, the adjoint
// relation <patchify(x), y> = <x, patchify_backward(y)>, central finite differences through
// patchify + linear + posemb + a random linear loss (image, weights, bias, position table), the
// AV-FashionMNIST shapes (28×28, P = 4; the 98×40 log-mel with P = 2 and with 2×40 time-patches),
// accumulation, NULL gradients, and bad shapes that die naming the function.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "helpers.h"
#include "nn/linear.h"
#include "nn/patch.h"

#define FD_H 1e-2 /* the step TOL_FD_REL is calibrated for */
#define FD_PROBES 48

// {B, C, H, W, Ph, Pw, D}
static const int patch_shapes[][7] = {
    {1, 1, 4, 4, 2, 2, 3},    // the hand case's shape
    {2, 3, 6, 4, 3, 2, 5},    // rectangular patches, three channels
    {3, 2, 5, 7, 5, 7, 4},    // one patch covering the whole image
    {2, 1, 6, 6, 1, 1, 2},    // 1×1 patches: with C = 1, the identity
    {2, 1, 28, 28, 4, 4, 8},  // AV-FashionMNIST image: 49 patches of 16
    {1, 1, 98, 40, 2, 40, 8}, // AV-FashionMNIST log-mel as 49 time-patches of 80
    {1, 1, 98, 40, 2, 2, 4},  // the log-mel with square P = 2: 980 patches of 4
};
#define N_SHAPES ((int)(sizeof patch_shapes / sizeof patch_shapes[0]))

// Patchify through the rectangular entry, or the square one when Ph == Pw (both must agree).
static void fwd(float *out, const float *img, const int *s) {
    if (s[4] == s[5])
        patchify_forward(out, img, s[0], s[1], s[2], s[3], s[4]);
    else
        patchify_rect_forward(out, img, s[0], s[1], s[2], s[3], s[4], s[5]);
}
static void bwd(float *dimg, const float *dout, const int *s) {
    if (s[4] == s[5])
        patchify_backward(dimg, dout, s[0], s[1], s[2], s[3], s[4]);
    else
        patchify_rect_backward(dimg, dout, s[0], s[1], s[2], s[3], s[4], s[5]);
}
static size_t n_img(const int *s) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

START_TEST(test_patch_hand_values_4x4_p2) {
    // img[c, y, x] = 100·c + 4·y + x: the patches read off the grid, channel 0 then channel 1.
    float img[32], out[32];
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 16; k++)
            img[c * 16 + k] = (float)(100 * c + k);
    patchify_forward(out, img, 1, 1, 4, 4, 2);
    const float want1[16] = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
    ck_assert_floats_near(out, want1, 16, 0, 0);
    ck_assert_int_eq(patch_count(4, 4, 2, 2), 4);
    patchify_forward(out, img, 1, 2, 4, 4, 2);
    const float want2[32] = {0, 1, 4,  5,  100, 101, 104, 105, 2,  3,  6,  7,  102, 103, 106, 107,
                             8, 9, 12, 13, 108, 109, 112, 113, 10, 11, 14, 15, 110, 111, 114, 115};
    ck_assert_floats_near(out, want2, 32, 0, 0);
    // Rectangular 2×4 patches (whole rows, two at a time) and 4×1 (columns).
    patchify_rect_forward(out, img, 1, 1, 4, 4, 2, 4);
    const float want3[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    ck_assert_floats_near(out, want3, 16, 0, 0);
    patchify_rect_forward(out, img, 1, 1, 4, 4, 4, 1);
    const float want4[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
    ck_assert_floats_near(out, want4, 16, 0, 0);
    // Backward of the patch rows into zeros gives the image back (the map is a permutation).
    float dimg[16] = {0};
    patchify_backward(dimg, want1, 1, 1, 4, 4, 2);
    ck_assert_floats_near(dimg, img, 16, 0, 0);
}
END_TEST

START_TEST(test_patch_counts_for_av_fashionmnist) {
    ck_assert_int_eq(patch_count(28, 28, 4, 4), 49);
    ck_assert_int_eq(patch_count(98, 40, 2, 2), 980);
    ck_assert_int_eq(patch_count(98, 40, 2, 40), 49);
}
END_TEST

// The twin walks the pixels and computes each one's slot: the inverse of the forward's loops.
START_TEST(test_patch_forward_matches_pixel_twin) {
    const int *s = patch_shapes[_i];
    const int B = s[0], C = s[1], H = s[2], W = s[3], Ph = s[4], Pw = s[5];
    const size_t n = n_img(s);
    float *img = xmalloc(n * sizeof(float)), *out = xmalloc(n * sizeof(float));
    float *want = xmalloc(n * sizeof(float));
    fill_uniform(img, n, -1, 1, 60);
    for (size_t k = 0; k < n; k++)
        out[k] = NAN; // every slot must be written
    fwd(out, img, s);
    const int gw = W / Pw, np = patch_count(H, W, Ph, Pw);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int p = (y / Ph) * gw + x / Pw;
                    size_t slot = ((size_t)b * np + p) * C * Ph * Pw +
                                  ((size_t)c * Ph + y % Ph) * Pw + x % Pw;
                    want[slot] = img[(((size_t)b * C + c) * H + y) * W + x];
                }
    ck_assert_floats_near(out, want, n, 0, 0);
    xfree(img), xfree(out), xfree(want);
}
END_TEST

START_TEST(test_patch_backward_is_the_adjoint) {
    const int *s = patch_shapes[_i];
    const size_t n = n_img(s);
    float *x = xmalloc(n * sizeof(float)), *y = xmalloc(n * sizeof(float));
    float *px = xmalloc(n * sizeof(float)), *bty = xcalloc(n, sizeof(float));
    fill_uniform(x, n, -1, 1, 61);
    fill_uniform(y, n, -1, 1, 62);
    fwd(px, x, s);
    bwd(bty, y, s);
    double lhs = dot_double(px, y, n), rhs = dot_double(x, bty, n);
    ck_assert_msg(fabs(lhs - rhs) <= 1e-9 * (1 + fabs(lhs)), "<Px, y> = %.17g but <x, P'y> = %.17g",
                  lhs, rhs);
    xfree(x), xfree(y), xfree(px), xfree(bty);
}
END_TEST

// The patch embedding emb = linear(patchify(img)) + pos, scored by <emb, g>.
typedef struct EmbCtx {
    const int *s;
    int Np, K, D;
    float *img, *patches, *w, *b, *pos, *emb, *g;
} EmbCtx;

static void emb_alloc(EmbCtx *c, const int *s) {
    c->s = s;
    c->Np = patch_count(s[2], s[3], s[4], s[5]);
    c->K = s[1] * s[4] * s[5];
    c->D = s[6];
    const size_t n = n_img(s), ne = (size_t)s[0] * c->Np * c->D;
    c->img = xmalloc(n * sizeof(float));
    c->patches = xmalloc(n * sizeof(float));
    c->w = xmalloc((size_t)c->D * c->K * sizeof(float));
    c->b = xmalloc((size_t)c->D * sizeof(float));
    c->pos = xmalloc((size_t)c->Np * c->D * sizeof(float));
    c->emb = xmalloc(ne * sizeof(float));
    c->g = xmalloc(ne * sizeof(float));
    fill_uniform(c->img, n, -1, 1, 63);
    fill_uniform(c->w, (size_t)c->D * c->K, -0.5f, 0.5f, 64);
    fill_uniform(c->b, (size_t)c->D, -1, 1, 65);
    fill_uniform(c->pos, (size_t)c->Np * c->D, -1, 1, 66);
    fill_uniform(c->g, ne, -1, 1, 67);
}

static void emb_free(EmbCtx *c) {
    xfree(c->img), xfree(c->patches), xfree(c->w), xfree(c->b), xfree(c->pos), xfree(c->emb),
        xfree(c->g);
}

static double emb_loss(void *ctx) {
    EmbCtx *c = ctx;
    const int B = c->s[0];
    fwd(c->patches, c->img, c->s);
    linear_forward(c->emb, c->patches, c->w, c->b, B * c->Np, c->K, c->D);
    posemb_forward(c->emb, c->pos, B, c->Np, c->D);
    return dot_double(c->emb, c->g, (size_t)B * c->Np * c->D);
}

// Gradients of <emb, g>: dpos = Σ_b g, (dpatches, dw, db) from linear_backward, dimg by patchify's
// adjoint. All accumulate into zeroed buffers.
static void emb_grads(EmbCtx *c, float *dimg, float *dw, float *db, float *dpos, float *dpatches) {
    const int B = c->s[0];
    posemb_backward(dpos, c->g, B, c->Np, c->D);
    linear_backward(dpatches, dw, db, c->g, c->patches, c->w, B * c->Np, c->K, c->D);
    bwd(dimg, dpatches, c->s);
}

START_TEST(test_patch_embedding_matches_finite_differences) {
    EmbCtx c;
    emb_alloc(&c, patch_shapes[_i]);
    emb_loss(&c);
    const size_t n = n_img(c.s), nw = (size_t)c.D * c.K, np = (size_t)c.Np * c.D;
    float *dimg = xcalloc(n, sizeof(float)), *dpatches = xcalloc(n, sizeof(float));
    float *dw = xcalloc(nw, sizeof(float)), *db = xcalloc((size_t)c.D, sizeof(float));
    float *dpos = xcalloc(np, sizeof(float));
    emb_grads(&c, dimg, dw, db, dpos, dpatches);
    Rng r;
    rng_init(&r, 12, 0, 0, RNG_TEST);
    fd_check(emb_loss, &c, c.img, dimg, n, FD_H, FD_PROBES, &r);
    fd_check(emb_loss, &c, c.w, dw, nw, FD_H, FD_PROBES, &r);
    fd_check(emb_loss, &c, c.b, db, (size_t)c.D, FD_H, FD_PROBES, &r);
    fd_check(emb_loss, &c, c.pos, dpos, np, FD_H, FD_PROBES, &r);
    xfree(dimg), xfree(dpatches), xfree(dw), xfree(db), xfree(dpos);
    emb_free(&c);
}
END_TEST

START_TEST(test_posemb_hand_values) {
    // x (2, 2, 3) += pos (2, 3) on both batch rows; dpos = dx[0] + dx[1].
    float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const float pos[6] = {10, 20, 30, 40, 50, 60};
    posemb_forward(x, pos, 2, 2, 3);
    const float want[12] = {10, 21, 32, 43, 54, 65, 16, 27, 38, 49, 60, 71};
    ck_assert_floats_near(x, want, 12, 0, 0);
    float dpos[6] = {1, 1, 1, 1, 1, 1};
    const float dx[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    posemb_backward(dpos, dx, 2, 2, 3);
    const float want_d[6] = {7, 9, 11, 13, 15, 17}; // 1 + dx[0] + dx[1]: accumulated
    ck_assert_floats_near(dpos, want_d, 6, 0, 0);
}
END_TEST

START_TEST(test_patch_backward_accumulates_and_skips_null_gradients) {
    const int *s = patch_shapes[1];
    const size_t n = n_img(s);
    const int Np = patch_count(s[2], s[3], s[4], s[5]), D = s[6];
    const size_t np = (size_t)Np * D, nx = (size_t)s[0] * np;
    float *dout = xmalloc(n * sizeof(float)), *base = xmalloc(n * sizeof(float));
    float *dimg = xmalloc(n * sizeof(float)), *once = xcalloc(n, sizeof(float));
    fill_uniform(dout, n, -1, 1, 68);
    fill_uniform(base, n, -1, 1, 69);
    for (size_t k = 0; k < n; k++)
        dimg[k] = base[k];
    bwd(once, dout, s);
    bwd(dimg, dout, s);
    bwd(dimg, dout, s);
    for (size_t k = 0; k < n; k++)
        once[k] = base[k] + 2 * once[k];
    ck_assert_floats_near(dimg, once, n, 1e-6, 1e-6);
    float *dx = xmalloc(nx * sizeof(float)), *dpos = xcalloc(np, sizeof(float));
    float *dpos1 = xcalloc(np, sizeof(float));
    fill_uniform(dx, nx, -1, 1, 70);
    posemb_backward(dpos1, dx, s[0], Np, D);
    posemb_backward(dpos, dx, s[0], Np, D);
    posemb_backward(dpos, dx, s[0], Np, D);
    for (size_t k = 0; k < np; k++)
        dpos1[k] *= 2;
    ck_assert_floats_near(dpos, dpos1, np, 1e-6, 1e-6);
    // NULL gradients: nothing done, nothing read (dout may be NULL too).
    patchify_backward(NULL, NULL, 1, 1, 4, 4, 2);
    patchify_rect_backward(NULL, NULL, 1, 1, 4, 4, 2, 1);
    posemb_backward(NULL, NULL, 2, 3, 4);
    xfree(dout), xfree(base), xfree(dimg), xfree(once), xfree(dx), xfree(dpos), xfree(dpos1);
}
END_TEST

static float die_buf[64];
static void die_h_not_multiple(void *arg) {
    (void)arg;
    patchify_forward(die_buf, die_buf, 1, 1, 5, 4, 2);
}
static void die_w_not_multiple(void *arg) {
    (void)arg;
    patchify_backward(die_buf, die_buf, 1, 1, 4, 6, 4); // H = 4 fits P = 4, W = 6 does not
}
static void die_rect_not_multiple(void *arg) {
    (void)arg;
    patchify_rect_forward(die_buf, die_buf, 1, 1, 98, 40, 2, 3);
}
static void die_patch_zero(void *arg) {
    (void)arg;
    patchify_forward(die_buf, die_buf, 1, 1, 4, 4, 0);
}
static void die_null_img(void *arg) {
    (void)arg;
    patchify_forward(die_buf, NULL, 1, 1, 4, 4, 2);
}
static void die_null_dout(void *arg) {
    (void)arg;
    patchify_backward(die_buf, NULL, 1, 1, 4, 4, 2);
}
static void die_count(void *arg) {
    (void)arg;
    patch_count(28, 28, 3, 3);
}
static void die_posemb_shape(void *arg) {
    (void)arg;
    posemb_forward(die_buf, die_buf, 1, 0, 4);
}
static void die_posemb_null(void *arg) {
    (void)arg;
    posemb_backward(die_buf, NULL, 2, 2, 2);
}

START_TEST(test_patch_bad_shapes_die_naming_the_function) {
    expect_die(die_h_not_multiple, NULL, "patchify_forward", "image 5x4",
               "not a whole number of 2x2 patches", "H % Ph = 1");
    expect_die(die_w_not_multiple, NULL, "patchify_backward", "W % Pw = 2");
    expect_die(die_rect_not_multiple, NULL, "patchify_rect_forward", "98x40", "2x3 patches");
    expect_die(die_patch_zero, NULL, "patchify_forward", "bad shape", "Ph=0 Pw=0");
    expect_die(die_null_img, NULL, "patchify_forward", "NULL buffer", "img=(nil)");
    expect_die(die_null_dout, NULL, "patchify_backward", "NULL buffer", "dout=(nil)");
    expect_die(die_count, NULL, "patch_count", "28x28", "3x3 patches");
    expect_die(die_posemb_shape, NULL, "posemb_forward", "bad shape", "Np=0");
    expect_die(die_posemb_null, NULL, "posemb_backward", "NULL buffer", "dx=(nil)");
}
END_TEST

// Pixel shuffle: a hand case (a 4x2 grid of 1-wide tokens at factor (2, 2) → 2x1 tokens of 4), and
// the backward as the exact adjoint: <shuffle(x), y> = <x, shuffle_backward(y)> on random values,
// accumulating onto what dinp held.
START_TEST(test_pixel_shuffle_hand_case_and_adjoint) {
    const float grid[8] = {0, 1, 2, 3, 4, 5, 6, 7}; // (1, 4, 2, 1): row r, column c = 2r + c
    float out[8];
    pixel_shuffle_forward(out, grid, 1, 4, 2, 1, 2, 2);
    const float want[8] = {0, 1, 2, 3, 4, 5, 6, 7}; // (i=0: rows 0-1, i=1: rows 2-3), (a, c) order
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(out[i], want[i]);
    pixel_shuffle_forward(out, grid, 1, 4, 2, 1, 2, 1); // (4x2 → 2x2 of width 2)
    const float want2[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(out[i], want2[i]);
    enum { B = 2, Gh = 4, Gw = 6, C = 3, N = B * Gh * Gw * C };
    float x[N], y[N], sx[N], dx[N];
    Rng rng;
    rng_init(&rng, 3, 0, 0, RNG_TEST);
    for (int i = 0; i < N; i++)
        x[i] = rng_normal(&rng), y[i] = rng_normal(&rng), dx[i] = 1.0f;
    pixel_shuffle_forward(sx, x, B, Gh, Gw, C, 2, 3);
    pixel_shuffle_backward(dx, y, B, Gh, Gw, C, 2, 3);
    double lhs = 0, rhs = 0;
    for (int i = 0; i < N; i++)
        lhs += (double)sx[i] * y[i], rhs += (double)x[i] * (dx[i] - 1.0f);
    ck_assert_double_eq_tol(lhs, rhs, 1e-4);
}
END_TEST

Suite *patch_suite(void) {
    Suite *s = suite_create("patch");
    TCase *tc = tcase_create("patch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_patch_hand_values_4x4_p2);
    tcase_add_test(tc, test_patch_counts_for_av_fashionmnist);
    tcase_add_loop_test(tc, test_patch_forward_matches_pixel_twin, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_patch_backward_is_the_adjoint, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_patch_embedding_matches_finite_differences, 0, N_SHAPES);
    tcase_add_test(tc, test_posemb_hand_values);
    tcase_add_test(tc, test_patch_backward_accumulates_and_skips_null_gradients);
    tcase_add_test(tc, test_patch_bad_shapes_die_naming_the_function);
    tcase_add_test(tc, test_pixel_shuffle_hand_case_and_adjoint);
    suite_add_tcase(s, tc);
    return s;
}
