// shift.c - CD-CCA's shifting stream: the stage table and the ops (shift.h).
#include "data/shift.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"

// The stages. Each changes every modality, and each differs from the others in its kind of change,
// not only its strength, so that adapting to one does not adapt to the next. Strengths were set so
// that the shifted rows stay recognisable (docs/stream.md has the measured statistics).
static const ShiftStage STAGES[SHIFT_N_STAGES + 1] = {
    {.name = "source", .what = "the data as stored: no change"},
    {.name = "dusk",
     .what = "images darker and flatter (contrast 0.6, brightness -0.5 std); audio quieter with a "
             "noise floor; 10% of words replaced",
     .contrast = 0.6f,
     .brightness = -0.5f,
     .gain = -0.5f,
     .a_noise = 0.3f,
     .q = 0.10f},
    {.name = "tilt",
     .what = "images rotated 25 +- 5 degrees; speech 25% faster; 15% of words replaced",
     .rotate_deg = 25,
     .rotate_jit = 5,
     .stretch = 1.25f,
     .q = 0.15f},
    {.name = "grain",
     .what = "images blurred (sigma 1) and grainy (noise 0.4 std); a higher voice (mel bands +3) "
             "in noise; 20% of words changed, a third of them dropped",
     .blur_sigma = 1.0f,
     .noise = 0.4f,
     .mel_shift = 3,
     .a_noise = 0.5f,
     .q = 0.20f,
     .q_drop = 0.33f},
    {.name = "occlude",
     .what = "a 10x10 patch hides part of each image, contrast 0.8; speech 20% slower with 8 mel "
             "bands masked; 25% of words replaced",
     .contrast = 0.8f,
     .patch = 10,
     .stretch = 0.8f,
     .band_mask = 8,
     .q = 0.25f},
    {.name = "night",
     .what = "images rotated -15 +- 5 degrees, contrast 0.6, noise 0.2 std; a lower voice (mel "
             "bands -2) in noise; 30% of words replaced",
     .contrast = 0.6f,
     .rotate_deg = -15,
     .rotate_jit = 5,
     .noise = 0.2f,
     .mel_shift = -2,
     .a_noise = 0.2f,
     .q = 0.30f},
    {.name = "storm",
     .what = "images rotated 40 +- 10 degrees, blurred, noisy, brighter; a fast high voice (x1.4, "
             "mel bands +5) with 6 bands masked and noise; 40% of words changed, a quarter dropped",
     .brightness = 0.3f,
     .rotate_deg = 40,
     .rotate_jit = 10,
     .blur_sigma = 0.7f,
     .noise = 0.3f,
     .mel_shift = 5,
     .stretch = 1.4f,
     .a_noise = 0.4f,
     .band_mask = 6,
     .q = 0.40f,
     .q_drop = 0.25f},
};

int shift_n_stages(void) { return SHIFT_N_STAGES; }

const ShiftStage *shift_stage(int s) {
    CHECK(s >= 0 && s <= SHIFT_N_STAGES, "shift stage %d is not in [0, %d]", s, SHIFT_N_STAGES);
    return &STAGES[s];
}

const char *shift_stage_name(int s) { return shift_stage(s)->name; }
const char *shift_stage_what(int s) { return shift_stage(s)->what; }

// ---- ops on one row ----

// Snaps x to the nearest integer when within 1e-9: exact grid points for multiples of 90 degrees
// (cos 90° is 6e-17 in double, which would otherwise reach the neighbour outside the image).
static double snap(double x) {
    double r = nearbyint(x);
    return fabs(x - r) < 1e-9 ? r : x;
}

// in[y][x] or fill outside.
static float at(const float *in, int H, int W, long y, long x, float fill) {
    return y >= 0 && y < H && x >= 0 && x < W ? in[(size_t)y * (size_t)W + (size_t)x] : fill;
}

static float bilinear(const float *in, int H, int W, double y, double x, float fill) {
    double y0 = floor(y), x0 = floor(x), fy = y - y0, fx = x - x0;
    long iy = (long)y0, ix = (long)x0;
    double v =
        (1 - fy) * ((1 - fx) * at(in, H, W, iy, ix, fill) + fx * at(in, H, W, iy, ix + 1, fill)) +
        fy * ((1 - fx) * at(in, H, W, iy + 1, ix, fill) + fx * at(in, H, W, iy + 1, ix + 1, fill));
    return (float)v;
}

void shift_rotate(float *out, const float *in, int H, int W, double deg, float fill) {
    CHECK_PTR(out);
    CHECK_PTR(in);
    CHECK(out != in, "shift_rotate: out and in are the same buffer");
    CHECK(H >= 1 && W >= 1, "shift_rotate: H=%d, W=%d must be >= 1", H, W);
    CHECK(isfinite(deg), "shift_rotate: angle %g is not finite", deg);
    double t = deg * (M_PI / 180.0), c = cos(t), s = sin(t);
    double cy = (H - 1) / 2.0, cx = (W - 1) / 2.0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            // The inverse of a counter-clockwise turn in y-down coordinates: where out[i][j] comes
            // from.
            double u = j - cx, v = i - cy;
            double x = snap(cx + u * c - v * s), y = snap(cy + u * s + v * c);
            out[(size_t)i * (size_t)W + (size_t)j] = bilinear(in, H, W, y, x, fill);
        }
}

void shift_stretch(float *out, const float *in, int H, int W, double factor, const float *fill) {
    CHECK_PTR(out);
    CHECK_PTR(in);
    CHECK_PTR(fill);
    CHECK(out != in, "shift_stretch: out and in are the same buffer");
    CHECK(H >= 1 && W >= 1, "shift_stretch: H=%d, W=%d must be >= 1", H, W);
    CHECK(factor > 0 && isfinite(factor), "shift_stretch: factor %g must be > 0", factor);
    double c = (H - 1) / 2.0;
    for (int t = 0; t < H; t++) {
        double y = snap(c + (t - c) * factor), y0 = floor(y), f = y - y0;
        long iy = (long)y0;
        for (int m = 0; m < W; m++)
            out[(size_t)t * (size_t)W + (size_t)m] =
                (float)((1 - f) * at(in, H, W, iy, m, fill[m]) +
                        f * at(in, H, W, iy + 1, m, fill[m]));
    }
}

// The row's quietest frame (lowest mean over the bands): the background a stretched utterance
// leaves behind, with the noise floor's spectral shape (the row's single minimum would be a
// silence deeper than any frame of the window).
static const float *quietest_frame(const float *v, int H, int W) {
    int best = 0;
    double lo = INFINITY;
    for (int t = 0; t < H; t++) {
        double s = 0;
        for (int m = 0; m < W; m++)
            s += v[(size_t)t * (size_t)W + (size_t)m];
        if (s < lo) lo = s, best = t;
    }
    return v + (size_t)best * (size_t)W;
}

// rows shifted along columns (mel bands) by k (may be fractional), edges replicated.
static void mel_shift(float *out, const float *in, int H, int W, double k) {
    for (int t = 0; t < H; t++)
        for (int m = 0; m < W; m++) {
            double x = m - k;
            x = x < 0 ? 0 : x > W - 1 ? W - 1 : x;
            double x0 = floor(x), f = x - x0;
            long ix = (long)x0, ix1 = ix + 1 < W ? ix + 1 : ix;
            const float *r = in + (size_t)t * (size_t)W;
            out[(size_t)t * (size_t)W + (size_t)m] = (float)((1 - f) * r[ix] + f * r[ix1]);
        }
}

// Separable Gaussian blur, radius ceil(2 sigma), edges replicated; tmp holds H * W.
static void blur(float *v, float *tmp, int H, int W, double sigma) {
    enum { RMAX = 16 };
    int r = (int)ceil(2 * sigma);
    r = r > RMAX ? RMAX : r;
    double k[RMAX + 1], sum = 0;
    for (int d = 0; d <= r; d++)
        k[d] = exp(-0.5 * d * d / (sigma * sigma)), sum += d ? 2 * k[d] : k[d];
    for (int d = 0; d <= r; d++)
        k[d] /= sum;
    for (int i = 0; i < H; i++) // along rows into tmp
        for (int j = 0; j < W; j++) {
            double a = 0;
            for (int d = -r; d <= r; d++) {
                int jj = j + d < 0 ? 0 : j + d >= W ? W - 1 : j + d;
                a += k[d < 0 ? -d : d] * v[(size_t)i * (size_t)W + (size_t)jj];
            }
            tmp[(size_t)i * (size_t)W + (size_t)j] = (float)a;
        }
    for (int i = 0; i < H; i++) // along columns back into v
        for (int j = 0; j < W; j++) {
            double a = 0;
            for (int d = -r; d <= r; d++) {
                int ii = i + d < 0 ? 0 : i + d >= H ? H - 1 : i + d;
                a += k[d < 0 ? -d : d] * tmp[(size_t)ii * (size_t)W + (size_t)j];
            }
            v[(size_t)i * (size_t)W + (size_t)j] = (float)a;
        }
}

typedef struct {
    double mean, std;
    float min;
} RowStats;

static RowStats row_stats(const float *v, size_t n) {
    double s = 0, ss = 0;
    float lo = v[0];
    for (size_t i = 0; i < n; i++)
        s += v[i], lo = v[i] < lo ? v[i] : lo;
    double mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    // A constant row has no scale of its own: amplitudes are then relative to 1.
    double std = sqrt(ss / (double)n);
    return (RowStats){mean, std > 1e-6 ? std : 1.0, lo};
}

static void add_noise(float *v, size_t n, double sd, Rng *r) {
    for (size_t i = 0; i < n; i++)
        v[i] += (float)(sd * rng_normal(r));
}

static void image_ops(const ShiftStage *st, float *v, float *tmp, int H, int W, Rng *r) {
    size_t n = (size_t)H * (size_t)W;
    RowStats rs = row_stats(v, n);
    if (st->contrast > 0 && st->contrast != 1)
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(rs.mean + st->contrast * (v[i] - rs.mean));
    if (st->brightness != 0)
        for (size_t i = 0; i < n; i++)
            v[i] += (float)(st->brightness * rs.std);
    if (st->rotate_deg != 0 || st->rotate_jit != 0) {
        double deg = st->rotate_deg + st->rotate_jit * (2.0 * rng_uniform(r) - 1.0);
        // The corners brought in are the background: the row's darkest value after the ops above.
        float fill = row_stats(v, n).min;
        shift_rotate(tmp, v, H, W, deg, fill);
        memcpy(v, tmp, n * sizeof *v);
    }
    if (st->blur_sigma > 0) blur(v, tmp, H, W, st->blur_sigma);
    if (st->noise > 0) add_noise(v, n, st->noise * rs.std, r);
    if (st->patch > 0) {
        int p = st->patch < H ? st->patch : H, q = st->patch < W ? st->patch : W;
        uint32_t y0 = rng_below(r, (uint32_t)(H - p + 1)), x0 = rng_below(r, (uint32_t)(W - q + 1));
        for (int i = 0; i < p; i++)
            for (int j = 0; j < q; j++)
                v[(size_t)(y0 + (uint32_t)i) * (size_t)W + x0 + (size_t)j] = (float)rs.mean;
    }
}

static void audio_ops(const ShiftStage *st, float *v, float *tmp, int H, int W, Rng *r) {
    size_t n = (size_t)H * (size_t)W;
    RowStats rs = row_stats(v, n);
    if (st->mel_shift != 0) {
        mel_shift(tmp, v, H, W, st->mel_shift);
        memcpy(v, tmp, n * sizeof *v);
    }
    if (st->stretch > 0 && st->stretch != 1) {
        // Frames from beyond the window are background: a copy of the row's quietest frame.
        shift_stretch(tmp, v, H, W, st->stretch, quietest_frame(v, H, W));
        memcpy(v, tmp, n * sizeof *v);
    }
    if (st->gain != 0)
        for (size_t i = 0; i < n; i++)
            v[i] += (float)(st->gain * rs.std);
    if (st->a_noise > 0) add_noise(v, n, st->a_noise * rs.std, r);
    if (st->band_mask > 0) {
        int b = st->band_mask < W ? st->band_mask : W;
        uint32_t m0 = rng_below(r, (uint32_t)(W - b + 1));
        for (int t = 0; t < H; t++)
            for (int m = 0; m < b; m++)
                v[(size_t)t * (size_t)W + m0 + (size_t)m] = (float)rs.mean;
    }
}

static void check_ids(const int64_t *row_id, int B) {
    CHECK(B == 0 || row_id != NULL, "shift: row_id is NULL with B=%d", B);
    for (int b = 0; b < B; b++)
        CHECK(row_id[b] >= 0 && row_id[b] <= (int64_t)UINT32_MAX,
              "shift: row %d has id %lld, outside [0, 2^32)", b, (long long)row_id[b]);
}

void shift_dense(int s, const char *modality, float *rows, int B, int H, int W,
                 const int64_t *row_id, uint64_t seed) {
    const ShiftStage *st = shift_stage(s);
    CHECK_PTR(modality);
    CHECK(B >= 0 && H >= 1 && W >= 1,
          "shift_dense: %s rows B=%d, H=%d, W=%d (need B >= 0, H, W >= 1)", modality, B, H, W);
    CHECK(B == 0 || rows != NULL, "shift_dense: %s rows is NULL with B=%d", modality, B);
    check_ids(row_id, B);
    int j = !strcmp(modality, "image") ? 0 : !strcmp(modality, "audio") ? 1 : -1;
    if (s == 0 || j < 0 || B == 0) return;
    size_t n = (size_t)H * (size_t)W;
    float *tmp = xmalloc(n * sizeof *tmp);
    for (int b = 0; b < B; b++) {
        float *v = rows + (size_t)b * n;
        Rng r;
        rng_init(&r, seed, SHIFT_STREAM + 4u * (uint32_t)s + (uint32_t)j, (uint32_t)row_id[b],
                 RNG_DATA);
        RowStats in = row_stats(v, n);
        if (j == 0)
            image_ops(st, v, tmp, H, W, &r);
        else
            audio_ops(st, v, tmp, H, W, &r);
        if (isfinite(in.mean) && isfinite(in.std))
            for (size_t i = 0; i < n; i++)
                CHECK(isfinite(v[i]), "shift_dense: stage %d (%s) made %s row %lld element %zu %g",
                      s, st->name, modality, (long long)row_id[b], i, (double)v[i]);
    }
    xfree(tmp);
}

void shift_tokens(int s, int *tok, int B, int T, int vocab, const int64_t *row_id, uint64_t seed) {
    const ShiftStage *st = shift_stage(s);
    CHECK(B >= 0 && T >= 1, "shift_tokens: B=%d, T=%d (need B >= 0, T >= 1)", B, T);
    CHECK(vocab > SHIFT_FIRST_WORD + 1, "shift_tokens: vocab %d leaves fewer than two words >= %d",
          vocab, SHIFT_FIRST_WORD);
    CHECK(B == 0 || tok != NULL, "shift_tokens: tok is NULL with B=%d", B);
    check_ids(row_id, B);
    for (size_t i = 0; i < (size_t)B * (size_t)T; i++)
        CHECK(tok[i] >= -1 && tok[i] < vocab,
              "shift_tokens: row %zu position %zu has id %d, "
              "outside [-1, %d)",
              i / (size_t)T, i % (size_t)T, tok[i], vocab);
    if (s == 0 || st->q <= 0) return;
    uint32_t span = (uint32_t)(vocab - SHIFT_FIRST_WORD);
    for (int b = 0; b < B; b++) {
        Rng r;
        rng_init(&r, seed, SHIFT_STREAM + 4u * (uint32_t)s + 2u, (uint32_t)row_id[b], RNG_DATA);
        int *t = tok + (size_t)b * (size_t)T;
        // Three draws per position, padding included, so a word's fate depends only on its
        // position. The word is a 32-bit draw modulo the choices (bias below 2^-24 for any
        // vocabulary of data/texttok.h's TEXT_MAX_VOCAB).
        for (int k = 0; k < T; k++) {
            float u = rng_uniform(&r), d = rng_uniform(&r);
            uint32_t w = rng_u32(&r);
            if (t[k] < 0 || u >= st->q) continue;
            if (d < st->q_drop) {
                t[k] = -1;
                continue;
            }
            if (t[k] < SHIFT_FIRST_WORD) { // <unk>: any word
                t[k] = SHIFT_FIRST_WORD + (int)(w % span);
                continue;
            }
            int nw = SHIFT_FIRST_WORD + (int)(w % (span - 1)); // a different word: skip the current
            t[k] = nw >= t[k] ? nw + 1 : nw;
        }
    }
}
