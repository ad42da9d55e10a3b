// quant.c - block quantisation (int8, int4, NF4, absmax scales) and the quantised linear forward.
// See quant.h; formats, bounds and the measured choice of kernel in docs/quant.md.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
#include "nn/quant.h"

#include <math.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "tensor/blas.h"

// QLoRA's NF4 levels, exactly as the float32 table nf4_data of bitsandbytes (csrc/kernels.cu),
// which the paper's appendix E lists: quantiles of N(0, 1) normalised to [-1, 1] with an exact 0.
static const float nf4_levels[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// The int codebooks by code, as constant expressions (no state to initialise): int8 by the code
// byte read as int8_t, 0x80 (-128) unused; int4 by q + 8, code 0 unused. Unused entries are 0.
#define L8(c) ((c) == 128 ? 0.0f : (float)((c) < 128 ? (c) : (c)-256) / 127.0f)
#define L8x4(c) L8(c), L8((c) + 1), L8((c) + 2), L8((c) + 3)
#define L8x16(c) L8x4(c), L8x4((c) + 4), L8x4((c) + 8), L8x4((c) + 12)
#define L8x64(c) L8x16(c), L8x16((c) + 16), L8x16((c) + 32), L8x16((c) + 48)
static const float int8_levels[256] = {L8x64(0), L8x64(64), L8x64(128), L8x64(192)};
#define L4(c) ((c) == 0 ? 0.0f : (float)((c)-8) / 7.0f)
static const float int4_levels[16] = {L4(0), L4(1), L4(2),  L4(3),  L4(4),  L4(5),  L4(6),  L4(7),
                                      L4(8), L4(9), L4(10), L4(11), L4(12), L4(13), L4(14), L4(15)};

static void check_format(const char *fn, QuantFormat fmt) {
    CHECK(fmt == QUANT_INT8 || fmt == QUANT_INT4 || fmt == QUANT_NF4,
          "%s: unknown quantisation format %d (int8=0, int4=1, nf4=2)", fn, (int)fmt);
}

const char *quant_format_name(QuantFormat fmt) {
    check_format(__func__, fmt);
    return fmt == QUANT_INT8 ? "int8" : fmt == QUANT_INT4 ? "int4" : "nf4";
}

const float *quant_levels(QuantFormat fmt, int *n_levels) {
    check_format(__func__, fmt);
    if (n_levels) *n_levels = fmt == QUANT_INT8 ? 256 : 16;
    return fmt == QUANT_INT8 ? int8_levels : fmt == QUANT_INT4 ? int4_levels : nf4_levels;
}

double quant_error_bound(QuantFormat fmt) {
    check_format(__func__, fmt);
    if (fmt == QUANT_INT8) return 0.5 / 127.0;
    if (fmt == QUANT_INT4) return 0.5 / 7.0;
    double gap = 0.0;
    for (int i = 0; i + 1 < 16; i++)
        gap = fmax(gap, (double)nf4_levels[i + 1] - (double)nf4_levels[i]);
    return 0.5 * gap;
}

size_t quant_n_blocks(size_t n, int block) {
    CHECK(block >= 1, "quant: block length %d must be >= 1", block);
    return n / (size_t)block + (n % (size_t)block != 0);
}

size_t quant_code_bytes(QuantFormat fmt, size_t n) {
    check_format(__func__, fmt);
    return fmt == QUANT_INT8 ? n : n / 2 + (n & 1);
}

size_t quant_bytes(QuantFormat fmt, size_t n, int block) {
    return quant_code_bytes(fmt, n) + sizeof(float) * quant_n_blocks(n, block);
}

// The NF4 code of v in [-1, 1]: the number of midpoints strictly below v, so a tie goes to the
// lower level. Midpoints in double from the float levels.
static int nf4_code(double v) {
    int code = 0;
    for (int i = 0; i + 1 < 16; i++)
        code += v > 0.5 * ((double)nf4_levels[i] + (double)nf4_levels[i + 1]);
    return code;
}

static void put_nibble(uint8_t *codes, size_t i, int code) {
    uint8_t *p = codes + i / 2;
    *p = (i & 1) ? (uint8_t)((*p & 0x0F) | (code << 4)) : (uint8_t)((*p & 0xF0) | code);
}

void quant_encode(QuantFormat fmt, const float *x, size_t n, int block, uint8_t *codes,
                  float *scales) {
    check_format(__func__, fmt);
    CHECK(block >= 1, "quant_encode: block length %d must be >= 1", block);
    if (n == 0) return;
    CHECK(x && codes && scales, "quant_encode: NULL buffer (x=%p codes=%p scales=%p)",
          (const void *)x, (void *)codes, (void *)scales);
    // An odd n leaves the last high nibble unused: write it 0 so the bytes are deterministic.
    if (fmt != QUANT_INT8 && (n & 1)) codes[n / 2] = 0;
    for (size_t b0 = 0, blk = 0; b0 < n; b0 += (size_t)block, blk++) {
        size_t b1 = n - b0 < (size_t)block ? n : b0 + (size_t)block;
        float amax = 0.0f;
        for (size_t i = b0; i < b1; i++) {
            CHECK(isfinite(x[i]), "quant_encode: x[%zu] = %g is not finite (%s, block %zu)", i,
                  (double)x[i], quant_format_name(fmt), blk);
            amax = fmaxf(amax, fabsf(x[i]));
        }
        scales[blk] = amax;
        // In double: x / amax is in [-1, 1] even for a subnormal amax, where 1 / amax overflows
        // float; the zero block (amax = 0) gets the zero code of its format.
        double inv = amax > 0.0f ? 1.0 / (double)amax : 0.0;
        for (size_t i = b0; i < b1; i++) {
            double v = (double)x[i] * inv;
            if (fmt == QUANT_INT8) {
                codes[i] = (uint8_t)(int8_t)(int)round(v * 127.0);
            } else if (fmt == QUANT_INT4) {
                put_nibble(codes, i, (int)round(v * 7.0) + 8);
            } else {
                put_nibble(codes, i, nf4_code(v));
            }
        }
    }
}

// out[i] = L[code of element i] · scale over one block [b0, b1): the inner loop of quant_decode
// and of the fused linear. Validates the scale and the codes (named by element index).
static void decode_block(QuantFormat fmt, const float *lv, const uint8_t *codes, float scale,
                         size_t b0, size_t b1, size_t blk, float *out) {
    CHECK(isfinite(scale) && scale >= 0.0f,
          "quant_decode: scale of block %zu = %g is not a finite value >= 0", blk, (double)scale);
    if (fmt == QUANT_INT8) {
        for (size_t i = b0; i < b1; i++) {
            CHECK(codes[i] != 0x80, "quant_decode: code %zu is -128, outside int8's [-127, 127]",
                  i);
            out[i - b0] = lv[codes[i]] * scale;
        }
        return;
    }
    for (size_t i = b0; i < b1; i++) {
        int c = (codes[i / 2] >> ((i & 1) * 4)) & 0x0F;
        CHECK(fmt != QUANT_INT4 || c != 0, "quant_decode: code %zu is 0, outside int4's 1..15", i);
        out[i - b0] = lv[c] * scale;
    }
}

void quant_decode(QuantFormat fmt, const uint8_t *codes, const float *scales, size_t n, int block,
                  float *out) {
    check_format(__func__, fmt);
    CHECK(block >= 1, "quant_decode: block length %d must be >= 1", block);
    if (n == 0) return;
    CHECK(codes && scales && out, "quant_decode: NULL buffer (codes=%p scales=%p out=%p)",
          (const void *)codes, (const void *)scales, (void *)out);
    const float *lv = quant_levels(fmt, NULL);
    for (size_t b0 = 0, blk = 0; b0 < n; b0 += (size_t)block, blk++) {
        size_t b1 = n - b0 < (size_t)block ? n : b0 + (size_t)block;
        decode_block(fmt, lv, codes, scales[blk], b0, b1, blk, out + b0);
    }
}

static void check_linear(const char *fn, int N, int C, int OC, int block) {
    CHECK(N >= 0 && C >= 1 && OC >= 1 && block >= 1, "%s: bad shape N=%d C=%d OC=%d block=%d", fn,
          N, C, OC, block);
}

void quant_linear_encode(QuantFormat fmt, uint8_t *codes, float *scales, const float *w, int C,
                         int OC, int block) {
    check_linear(__func__, 0, C, OC, block);
    CHECK(codes && scales && w, "quant_linear_encode: NULL buffer");
    size_t row_bytes = quant_code_bytes(fmt, (size_t)C), row_blocks = quant_n_blocks(C, block);
    for (int o = 0; o < OC; o++)
        quant_encode(fmt, w + (size_t)o * C, (size_t)C, block, codes + (size_t)o * row_bytes,
                     scales + (size_t)o * row_blocks);
}

void quant_linear_decode(QuantFormat fmt, float *w, const uint8_t *codes, const float *scales,
                         int C, int OC, int block) {
    check_linear(__func__, 0, C, OC, block);
    CHECK(codes && scales && w, "quant_linear_decode: NULL buffer");
    size_t row_bytes = quant_code_bytes(fmt, (size_t)C), row_blocks = quant_n_blocks(C, block);
    for (int o = 0; o < OC; o++)
        quant_decode(fmt, codes + (size_t)o * row_bytes, scales + (size_t)o * row_blocks, (size_t)C,
                     block, w + (size_t)o * C);
}

size_t quant_linear_workspace_size(QuantLinearImpl impl, int C, int OC) {
    CHECK(impl == QUANT_LINEAR_AHEAD || impl == QUANT_LINEAR_FUSED || impl == QUANT_LINEAR_PANEL,
          "quant_linear_workspace_size: unknown implementation %d (ahead=0, fused=1, panel=2)",
          (int)impl);
    CHECK(C >= 1 && OC >= 1, "quant_linear_workspace_size: bad shape C=%d OC=%d", C, OC);
    if (impl == QUANT_LINEAR_AHEAD) return (size_t)C * OC;
    if (impl == QUANT_LINEAR_FUSED) return (size_t)C;
    return (size_t)C * (size_t)(OC < QUANT_LINEAR_PANEL_ROWS ? OC : QUANT_LINEAR_PANEL_ROWS);
}

// Σ a[i]·b[i] in float with 8 interleaved partial sums: without -ffast-math the compiler keeps a
// single sum's order and will not vectorise it; 8 independent sums it will.
static float dot8(const float *a, const float *b, int C) {
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= C; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < C; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

void quant_linear_forward(float *out, const float *inp, const uint8_t *codes, const float *scales,
                          const float *b, QuantFormat fmt, int block, int N, int C, int OC,
                          QuantLinearImpl impl, float *work) {
    check_linear(__func__, N, C, OC, block);
    check_format(__func__, fmt);
    CHECK(out && inp && codes && scales && work,
          "quant_linear_forward: NULL buffer (out=%p inp=%p codes=%p scales=%p work=%p)",
          (void *)out, (const void *)inp, (const void *)codes, (const void *)scales, (void *)work);
    (void)quant_linear_workspace_size(impl, C, OC); // checks impl
    if (N == 0) return;
    if (impl != QUANT_LINEAR_FUSED) {
        float beta = 0.0f;
        if (b) {
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OC; o++)
                    out[(size_t)n * OC + o] = b[o];
            beta = 1.0f;
        }
        // Ahead is one panel of all OC rows; a panel writes columns [o0, o0 + P) of out.
        int P = impl == QUANT_LINEAR_AHEAD ? OC : QUANT_LINEAR_PANEL_ROWS;
        size_t row_bytes = quant_code_bytes(fmt, (size_t)C);
        size_t row_blocks = quant_n_blocks((size_t)C, block);
        for (int o0 = 0; o0 < OC; o0 += P) {
            int rows = OC - o0 < P ? OC - o0 : P;
            quant_linear_decode(fmt, work, codes + (size_t)o0 * row_bytes,
                                scales + (size_t)o0 * row_blocks, C, rows, block);
            sgemm_rm(0, 1, N, rows, C, 1.0f, inp, C, work, C, beta, out + o0, OC);
        }
    } else {
        // One decoded row of w serves all N rows of inp, so each code is decoded once per call.
        const float *lv = quant_levels(fmt, NULL);
        size_t row_bytes = quant_code_bytes(fmt, (size_t)C);
        size_t row_blocks = quant_n_blocks((size_t)C, block);
        for (int o = 0; o < OC; o++) {
            const uint8_t *rc = codes + (size_t)o * row_bytes;
            const float *rs = scales + (size_t)o * row_blocks;
            for (size_t c0 = 0, blk = 0; c0 < (size_t)C; c0 += (size_t)block, blk++) {
                size_t c1 = (size_t)C - c0 < (size_t)block ? (size_t)C : c0 + (size_t)block;
                decode_block(fmt, lv, rc, rs[blk], c0, c1, blk, work + c0);
            }
            float bo = b ? b[o] : 0.0f;
            for (int n = 0; n < N; n++)
                out[(size_t)n * OC + o] = bo + dot8(inp + (size_t)n * C, work, C);
        }
    }
    NANGUARD(__func__, "out", out, (size_t)N * OC);
}
