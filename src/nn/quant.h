// quant.h - block quantisation (int8, int4, NF4 with one absmax scale per block) and a linear
// forward over a weight stored that way.
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Here the block length is called `block` (not B, which is the batch).
//
// What it does: splits an array into blocks of `block` consecutive elements (the last one short
// when n is not a multiple), keeps one float32 scale per block s = max |x| over the block, and
// one code per element naming a level of a normalised codebook L in [-1, 1]; an element decodes
// to L[code] · s. Codebooks:
//   QUANT_INT8  L[q] = q / 127, q in [-127, 127], q = round(x / s · 127) (half away from zero);
//               one byte per element, q as two's complement (int8_t); -128 is never produced.
//   QUANT_INT4  L[q] = q / 7,   q in [-7, 7],     q = round(x / s · 7); two codes per byte,
//               stored as q + 8 (1..15; 0 is never produced).
//   QUANT_NF4   the 16 NormalFloat levels of QLoRA (Dettmers et al. 2023, "QLoRA: Efficient
//               Finetuning of Quantized LLMs", appendix E; the exact float32 table of
//               bitsandbytes' csrc/kernels.cu nf4_data), code = the index of the nearest level
//               (a tie goes to the lower level); two codes per byte.
// 4-bit packing: element i is in byte i / 2, the low nibble for even i, the high nibble for odd
// i (bitsandbytes puts the first element in the high nibble: ours is not byte-compatible). A
// zero block has scale 0 and decodes to exact zeros. The encode arithmetic is in double, so a
// tiny (subnormal) or huge (FLT_MAX) scale cannot overflow x / s; decoding L[code] · s never
// exceeds s in magnitude.
//
// Error bound per element (exact arithmetic; float adds a few ulps of s):
//   |x − dec(enc(x))| ≤ s · quant_error_bound(fmt): 1/254 (int8), 1/14 (int4), half the largest
//   gap between NF4 levels (0.1519, between -1 and -0.6962) for NF4.
// Values already on the grid (L[q] · s with s the block's absmax) round-trip exactly.
//
// Not here: double quantisation of the scales (QLoRA §3), stochastic rounding, zero points
// (every format is symmetric), and any file format; the callers own the buffers.
// Sources: Dettmers et al. 2023 (NF4, blockwise absmax, block 64); [I] reconstruction for the
// int formats and the linear kernels. Choices and measured figures: docs/quant.md.
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum QuantFormat { QUANT_INT8 = 0, QUANT_INT4 = 1, QUANT_NF4 = 2 } QuantFormat;

#define QUANT_BLOCK_DEFAULT 64 // QLoRA's block length, the DWC downlink's

// "int8", "int4", "nf4"; CHECKs a known format. Local.
const char *quant_format_name(QuantFormat fmt);
// The normalised codebook of fmt, indexed by code (256 entries for int8, indexed by the code
// byte as uint8_t, entry 0x80 (-128) unused; 16 for int4/NF4, entry 0 of int4 unused). Borrowed,
// static. *n_levels (may be NULL) = the number of entries. Local.
const float *quant_levels(QuantFormat fmt, int *n_levels);
// The per-element error bound as a fraction of the block's scale (see above). Local.
double quant_error_bound(QuantFormat fmt);

// Blocks of n elements: ceil(n / block). CHECKs block >= 1. Local.
size_t quant_n_blocks(size_t n, int block);
// Bytes of the packed codes of n elements: n (int8) or ceil(n / 2) (int4, NF4). Local.
size_t quant_code_bytes(QuantFormat fmt, size_t n);
// Bytes of codes + one float32 scale per block: quant_code_bytes + 4 · quant_n_blocks. Local.
size_t quant_bytes(QuantFormat fmt, size_t n, int block);

// codes (quant_code_bytes(fmt, n)) =, scales (quant_n_blocks(n, block)) = the blocks of x (n).
// n may be 0 (nothing written). For 4-bit formats with odd n the unused high nibble of the last
// byte is written 0. CHECKs non-NULL buffers, block >= 1, and that every x[i] is finite (the
// message names the index and the value). Local.
void quant_encode(QuantFormat fmt, const float *x, size_t n, int block, uint8_t *codes,
                  float *scales);
// out (n) = L[code] · scale of its block. CHECKs non-NULL buffers, block >= 1, every scale finite
// and >= 0 (names the block), and every code one that quant_encode produces (names the index):
// damaged codes die instead of decoding to values outside [-s, s]. Local.
void quant_decode(QuantFormat fmt, const uint8_t *codes, const float *scales, size_t n, int block,
                  float *out);

// ---- a linear layer over a block-quantised weight -------------------------------------------
// The weight w (OC, C) is quantised row by row, along C: row o is quant_encode(w + o·C, C) into
// codes + o · quant_code_bytes(fmt, C) and scales + o · quant_n_blocks(C, block), so a block never
// spans two rows and every row starts on a byte.

// codes (OC · quant_code_bytes(fmt, C)) =, scales (OC · quant_n_blocks(C, block)) = w (OC, C)
// quantised as above. CHECKs as quant_encode, and C, OC >= 1. Local.
void quant_linear_encode(QuantFormat fmt, uint8_t *codes, float *scales, const float *w, int C,
                         int OC, int block);
// w (OC, C) = the decoded weight. CHECKs as quant_decode. Local.
void quant_linear_decode(QuantFormat fmt, float *w, const uint8_t *codes, const float *scales,
                         int C, int OC, int block);

typedef enum QuantLinearImpl {
    QUANT_LINEAR_AHEAD = 0, // decode all of w into work (OC·C floats), then one sgemm
    QUANT_LINEAR_FUSED = 1, // decode one row of w at a time into work (C floats), dot products
    QUANT_LINEAR_PANEL = 2, // decode QUANT_LINEAR_PANEL_ROWS rows at a time, one sgemm per panel
} QuantLinearImpl;

#define QUANT_LINEAR_PANEL_ROWS 64 // rows of w per panel: scratch 64·C floats whatever OC is

// Floats of scratch quant_linear_forward needs: OC · C (ahead), C (fused), or
// min(OC, QUANT_LINEAR_PANEL_ROWS) · C (panel). CHECKs a known impl and C, OC >= 1. Local.
size_t quant_linear_workspace_size(QuantLinearImpl impl, int C, int OC);
// out (N, OC) = inp (N, C) · wᵀ + b (OC), w the decoded weight of (codes, scales) laid out as
// quant_linear_encode writes them; b may be NULL. work: quant_linear_workspace_size(impl, C, OC)
// floats of caller scratch (clobbered). Both implementations give the float linear_forward of the
// decoded weight up to float summation order. CHECKs shapes (N >= 0, C, OC, block >= 1), non-NULL
// buffers and what quant_decode checks; NANGUARD on out. Local.
void quant_linear_forward(float *out, const float *inp, const uint8_t *codes, const float *scales,
                          const float *b, QuantFormat fmt, int block, int N, int C, int OC,
                          QuantLinearImpl impl, float *work);
