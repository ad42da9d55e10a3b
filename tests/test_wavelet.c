// test_wavelet.c - the orthogonal DWT of nn/wavelet.h: db6 against PyWavelets' numbers, db1 against
// the Haar functions of nn/loss.h, perfect reconstruction (symmetric and periodization, even and
// odd lengths, one and three levels), energy under periodization, the adjoints and the
// high-frequency KD loss against central differences, and bad arguments dying with the value named.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "nn/loss.h"
#include "nn/wavelet.h"

#define TOL_PYWT 2e-6 /* PyWavelets' values printed to 7 decimals, plus float32 rounding */
#define TOL_HAAR 1e-6 /* db1 vs the Haar functions: same sums, float vs double accumulation */
#define TOL_REC 1e-5  /* reconstruction of O(1) inputs through 12-tap float32 bands */
#define TOL_ADJ 1e-5  /* <Ax, g> vs <x, Aᵀg>: float32 outputs, sums in double */
#define TOL_HAND 1e-6 /* double loss vs a closed form from float32 inputs */
#define FD_H 1e-4     /* 1e-3 crossed a kink of |.| (a db6 band at 1.5e-4, tap 0.23) */

// x[i] = ((7 i) mod 11 - 5) / 4, exact in float.
static void fixed_input(float *x, int L) {
    for (int i = 0; i < L; i++)
        x[i] = (float)(((i * 7) % 11 - 5) / 4.0);
}

START_TEST(test_db6_matches_pywavelets) {
    // pywt 1.1.1: pywt.dwt(x, 'db6', 'symmetric') for L = 13, and 'periodization' for x[:12].
    static const float sym_a[12] = {0.1266609f,  -0.1574950f, 0.7807389f, 0.0736846f,
                                    -1.4263120f, 0.2967923f,  0.2197842f, 0.4569954f,
                                    -0.0778691f, -0.6545104f, 0.2446046f, -0.6967212f};
    static const float sym_d[12] = {0.1376852f,  -1.4182248f, -0.4937367f, 1.3631882f,
                                    -0.5802761f, -0.8744321f, 1.3496536f,  -1.1555072f,
                                    0.4615298f,  0.9045623f,  -1.4612962f, 0.5827224f};
    static const float per_a[6] = {0.4259434f, -1.2671543f, -0.8973415f,
                                   0.8101473f, 0.2527067f,  -0.2081851f};
    static const float per_d[6] = {-0.3694744f, -0.9589446f, 1.4754091f,
                                   -0.3886034f, 0.8201728f,  1.0124308f};
    float x[13], a[12], d[12];
    fixed_input(x, 13);
    Wavelet w;
    wavelet_init(&w, "db6", WAVELET_SYMMETRIC);
    ck_assert_int_eq(w.F, 12);
    ck_assert_int_eq(wavelet_out_len(&w, 13), 12); // floor((13 + 11) / 2)
    wavelet_dwt_forward(a, d, x, &w, 1, 13);
    ck_assert_floats_near(a, sym_a, 12, TOL_PYWT, 0);
    ck_assert_floats_near(d, sym_d, 12, TOL_PYWT, 0);
    wavelet_init(&w, "db6", WAVELET_PERIODIZATION);
    ck_assert_int_eq(wavelet_out_len(&w, 12), 6);
    wavelet_dwt_forward(a, d, x, &w, 1, 12);
    ck_assert_floats_near(a, per_a, 6, TOL_PYWT, 0);
    ck_assert_floats_near(d, per_d, 6, TOL_PYWT, 0);
}
END_TEST

START_TEST(test_db1_equals_haar_bands_and_haar_loss) {
    // Even lengths at every level: there the Haar functions drop nothing and both modes agree.
    const int N = 3, L = 16, J = 3;
    float x[48], y[48], lo[24], hi[24], hlo[24], hhi[24];
    fill_uniform(x, 48, -1, 1, 1);
    fill_uniform(y, 48, -1, 1, 2);
    haar_dwt_forward(hlo, hhi, x, N, L);
    for (int m = 0; m < 2; m++) {
        Wavelet w;
        wavelet_init(&w, m ? "haar" : "db1", m ? WAVELET_PERIODIZATION : WAVELET_SYMMETRIC);
        ck_assert_int_eq(wavelet_out_len(&w, L), L / 2);
        wavelet_dwt_forward(lo, hi, x, &w, N, L);
        ck_assert_floats_near(lo, hlo, 24, TOL_HAAR, 0);
        ck_assert_floats_near(hi, hhi, 24, TOL_HAAR, 0);
        // The loss with alpha = 0, beta = 1 is haar_hf_l1 (same per-band means).
        float *work = xmalloc(wavelet_hf_loss_workspace_size(&w, N, L, J) * 4);
        float *hwork = xmalloc(haar_hf_l1_workspace_size(N, L, J) * 4);
        const double got = wavelet_hf_loss_forward(x, y, &w, N, L, J, 0.0, 1.0, work);
        ck_assert_double_le(fabs(got - haar_hf_l1_forward(x, y, N, L, J, hwork)), TOL_HAAR);
        xfree(work), xfree(hwork);
    }
}
END_TEST

// {wavelet, mode, L, J}: even and odd lengths, one and three levels, both modes.
typedef struct {
    const char *name;
    WaveletMode mode;
    int L, J;
} Shape;
static const Shape shapes[] = {
    {"db6", WAVELET_SYMMETRIC, 13, 1},     {"db6", WAVELET_SYMMETRIC, 64, 1},
    {"db6", WAVELET_SYMMETRIC, 37, 3},     {"db6", WAVELET_SYMMETRIC, 128, 3},
    {"db1", WAVELET_SYMMETRIC, 7, 2},      {"db1", WAVELET_SYMMETRIC, 48, 3},
    {"db6", WAVELET_PERIODIZATION, 8, 1},  {"db6", WAVELET_PERIODIZATION, 48, 3},
    {"db1", WAVELET_PERIODIZATION, 16, 3},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

START_TEST(test_reconstruction_inverts_the_forward) {
    const Shape s = shapes[_i];
    const int N = 3;
    Wavelet w;
    wavelet_init(&w, s.name, s.mode);
    int Ls[WAVELET_MAX_J + 1];
    const size_t nb = wavelet_wavedec_lengths(Ls, &w, N, s.L, s.J);
    const size_t n = (size_t)N * s.L;
    float *x = xmalloc(n * 4), *xr = xmalloc(n * 4), *bands = xmalloc(nb * 4);
    float *work = xmalloc(wavelet_wavedec_workspace_size(&w, N, s.L, s.J) * 4);
    fill_uniform(x, n, -1, 1, 30 + (uint32_t)_i);
    wavelet_wavedec_forward(bands, x, &w, N, s.L, s.J);
    wavelet_waverec(xr, bands, &w, N, s.L, s.J, work);
    ck_assert_floats_near(xr, x, n, TOL_REC, 0);
    // One level through wavelet_idwt directly (lo_1, hi_1 lead the bands).
    wavelet_idwt(xr, bands, bands + (size_t)N * Ls[1], &w, N, s.L);
    ck_assert_floats_near(xr, x, n, TOL_REC, 0);
    xfree(x), xfree(xr), xfree(bands), xfree(work);
}
END_TEST

START_TEST(test_periodization_preserves_energy) {
    const int N = 2, L = 48, J = 3;
    for (int m = 0; m < 2; m++) {
        Wavelet w;
        wavelet_init(&w, m ? "db6" : "db1", WAVELET_PERIODIZATION);
        int Ls[WAVELET_MAX_J + 1];
        float x[96], bands[168];
        ck_assert_uint_eq(wavelet_wavedec_lengths(Ls, &w, N, L, J), 168); // 2·2·(24 + 12 + 6)
        fill_uniform(x, 96, -1, 1, 40 + (uint32_t)m);
        wavelet_wavedec_forward(bands, x, &w, N, L, J);
        // Energy of hi_1, hi_2, hi_3 and lo_3 (the orthonormal basis); lo_1, lo_2 are
        // intermediate.
        double e = 0;
        size_t off = 0;
        for (int j = 1; j <= J; j++) {
            const size_t b = (size_t)N * Ls[j];
            e += dot_double(bands + off + b, bands + off + b, b);
            if (j == J) e += dot_double(bands + off, bands + off, b);
            off += 2 * b;
        }
        ck_assert_double_le(fabs(e - dot_double(x, x, 96)), TOL_ADJ * 96);
    }
}
END_TEST

typedef struct {
    const Wavelet *w;
    float *x, *g, *bands;
    int N, L, J;
    size_t nb;
} LinCtx;

// <wavedec(x), g>: its gradient in x is the adjoint applied to g.
static double lin_loss(void *p) {
    LinCtx *c = p;
    wavelet_wavedec_forward(c->bands, c->x, c->w, c->N, c->L, c->J);
    return dot_double(c->bands, c->g, c->nb);
}

START_TEST(test_backward_is_the_adjoint_and_matches_finite_differences) {
    const Shape s = shapes[_i];
    const int N = 2;
    Wavelet w;
    wavelet_init(&w, s.name, s.mode);
    int Ls[WAVELET_MAX_J + 1];
    LinCtx c = {.w = &w, .N = N, .L = s.L, .J = s.J};
    c.nb = wavelet_wavedec_lengths(Ls, &w, N, s.L, s.J);
    const size_t n = (size_t)N * s.L;
    c.x = xmalloc(n * 4), c.g = xmalloc(c.nb * 4), c.bands = xmalloc(c.nb * 4);
    float *dx = xcalloc(n, 4), *work = xmalloc(wavelet_wavedec_workspace_size(&w, N, s.L, s.J) * 4);
    fill_uniform(c.x, n, -1, 1, 50 + (uint32_t)_i);
    fill_uniform(c.g, c.nb, -1, 1, 60 + (uint32_t)_i);
    wavelet_wavedec_backward(dx, c.g, &w, N, s.L, s.J, work);
    ck_assert_double_le(fabs(lin_loss(&c) - dot_double(c.x, dx, n)), TOL_ADJ);
    Rng rng;
    rng_init(&rng, 8, 0, (uint32_t)_i, RNG_TEST);
    fd_check(lin_loss, &c, c.x, dx, n, 1e-2, 64, &rng);
    // One level: the single-level backward is the adjoint of the single-level forward.
    float *dx1 = xcalloc(n, 4);
    const float *glo = c.g, *ghi = c.g + (size_t)N * Ls[1];
    wavelet_dwt_forward(c.bands, c.bands + (size_t)N * Ls[1], c.x, &w, N, s.L);
    wavelet_dwt_backward(dx1, glo, ghi, &w, N, s.L);
    const double lhs = dot_double(c.bands, glo, (size_t)N * Ls[1]) +
                       dot_double(c.bands + (size_t)N * Ls[1], ghi, (size_t)N * Ls[1]);
    ck_assert_double_le(fabs(lhs - dot_double(c.x, dx1, n)), TOL_ADJ);
    xfree(c.x), xfree(c.g), xfree(c.bands), xfree(dx), xfree(dx1), xfree(work);
}
END_TEST

START_TEST(test_hf_loss_matches_hand_value) {
    // db1 periodization, e = x - y = (1, 3, 2, 6): MSE = 50/4; hi_1 = (-2, -4)/√2, mean 3/√2;
    // lo_1 = (4, 8)/√2, hi_2 = -2, mean 2. loss = 0.5 · 12.5 + 2 · (3/√2 + 2).
    const float x[4] = {2, 4, 2, 7}, y[4] = {1, 1, 0, 1};
    Wavelet w;
    wavelet_init(&w, "db1", WAVELET_PERIODIZATION);
    float work[64];
    ck_assert_uint_le(wavelet_hf_loss_workspace_size(&w, 1, 4, 2), 64);
    const double loss = wavelet_hf_loss_forward(x, y, &w, 1, 4, 2, 0.5, 2.0, work);
    ck_assert_double_le(fabs(loss - (0.5 * 12.5 + 2 * (3 / sqrt(2.0) + 2))), TOL_HAND);
}
END_TEST

typedef struct {
    const Wavelet *w;
    float *x, *y, *work;
    int N, L, J;
} LossCtx;

#define ALPHA 0.7
#define BETA 1.3

static double kd_loss(void *p) {
    LossCtx *c = p;
    return wavelet_hf_loss_forward(c->x, c->y, c->w, c->N, c->L, c->J, ALPHA, BETA, c->work);
}

START_TEST(test_hf_loss_backward_matches_finite_differences) {
    const Shape s = shapes[_i];
    const int N = 2;
    Wavelet w;
    wavelet_init(&w, s.name, s.mode);
    LossCtx c = {.w = &w, .N = N, .L = s.L, .J = s.J};
    const size_t n = (size_t)N * s.L;
    c.x = xmalloc(n * 4), c.y = xmalloc(n * 4);
    c.work = xmalloc(wavelet_hf_loss_workspace_size(&w, N, s.L, s.J) * 4);
    float *dx = xcalloc(n, 4), *dy = xcalloc(n, 4), *dx2 = xcalloc(n, 4);
    fill_uniform(c.x, n, -1, 1, 70 + (uint32_t)_i);
    fill_uniform(c.y, n, -1, 1, 80 + (uint32_t)_i);
    wavelet_hf_loss_backward(dx, dy, c.x, c.y, &w, N, s.L, s.J, ALPHA, BETA, 1.0, c.work);
    for (size_t i = 0; i < n; i++) // dy = -dx exactly
        ck_assert_float_eq(dy[i], -dx[i]);
    // Accumulates: twice with dloss 0.5 on a gradient already holding dx gives 2 dx.
    for (size_t i = 0; i < n; i++)
        dx2[i] = dx[i];
    wavelet_hf_loss_backward(dx2, NULL, c.x, c.y, &w, N, s.L, s.J, ALPHA, BETA, 0.5, c.work);
    wavelet_hf_loss_backward(dx2, NULL, c.x, c.y, &w, N, s.L, s.J, ALPHA, BETA, 0.5, c.work);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(dx2[i], 2 * dx[i], TOL_ADJ);
    Rng rng;
    rng_init(&rng, 9, 0, (uint32_t)_i, RNG_TEST);
    fd_check(kd_loss, &c, c.x, dx, n, FD_H, 64, &rng);
    fd_check(kd_loss, &c, c.y, dy, n, FD_H, 64, &rng);
    xfree(c.x), xfree(c.y), xfree(c.work), xfree(dx), xfree(dy), xfree(dx2);
}
END_TEST

static void unknown_wavelet(void *arg) {
    Wavelet w;
    (void)arg;
    wavelet_init(&w, "db7", WAVELET_SYMMETRIC);
}
static void db1_too_short_for_levels(void *arg) {
    Wavelet w;
    int Ls[4];
    (void)arg;
    wavelet_init(&w, "db1", WAVELET_SYMMETRIC);
    wavelet_wavedec_lengths(Ls, &w, 1, 4, 3); // 4 -> 2 -> 1: level 3 has one sample
}
static void periodization_odd_level(void *arg) {
    Wavelet w;
    int Ls[4];
    (void)arg;
    wavelet_init(&w, "db6", WAVELET_PERIODIZATION);
    wavelet_wavedec_lengths(Ls, &w, 1, 12, 3); // 12 -> 6 -> 3: level 3's input is odd
}
static void db6_shorter_than_filter(void *arg) {
    Wavelet w;
    float x[8] = {0}, lo[9], hi[9];
    (void)arg;
    wavelet_init(&w, "db6", WAVELET_SYMMETRIC);
    wavelet_dwt_forward(lo, hi, x, &w, 1, 8);
}
static void negative_weight(void *arg) {
    Wavelet w;
    float x[16] = {0}, work[256];
    (void)arg;
    wavelet_init(&w, "db1", WAVELET_SYMMETRIC);
    wavelet_hf_loss_forward(x, x, &w, 1, 16, 2, -1.0, 1.0, work);
}

START_TEST(test_bad_arguments_die_naming_the_value) {
    expect_die(unknown_wavelet, NULL, "unknown wavelet 'db7'");
    expect_die(db1_too_short_for_levels, NULL, "L=4 is too short for J=3", "level 3", "length 1");
    expect_die(periodization_odd_level, NULL, "L=12 is too short for J=3", "length 3");
    expect_die(db6_shorter_than_filter, NULL, "db6 symmetric", "L=8 < 11");
    expect_die(negative_weight, NULL, "wavelet_hf_loss_forward", "alpha_mse=-1");
}
END_TEST

Suite *wavelet_suite(void) {
    Suite *s = suite_create("wavelet");
    TCase *tc = tcase_create("dwt_and_hf_loss");
    tcase_add_test(tc, test_db6_matches_pywavelets);
    tcase_add_test(tc, test_db1_equals_haar_bands_and_haar_loss);
    tcase_add_loop_test(tc, test_reconstruction_inverts_the_forward, 0, N_SHAPES);
    tcase_add_test(tc, test_periodization_preserves_energy);
    tcase_add_loop_test(tc, test_backward_is_the_adjoint_and_matches_finite_differences, 0,
                        N_SHAPES);
    tcase_add_test(tc, test_hf_loss_matches_hand_value);
    tcase_add_loop_test(tc, test_hf_loss_backward_matches_finite_differences, 0, N_SHAPES);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_value);
    suite_add_tcase(s, tc);
    return s;
}
