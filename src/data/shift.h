// shift.h - CD-CCA's shifting stream (issue 15): stage 0 is the source, stages 1..SHIFT_N_STAGES
// each a new distribution of the same samples, made by a fixed composition of image ops (contrast,
// brightness, rotation, blur, noise, occlusion), audio ops on the log-mel (a shift of the mel bands
// for another voice, a time stretch for another speed, noise, gain, band masking) and a word-choice
// shift of the text (words replaced by other vocabulary words or dropped). docs/stream.md lists the
// stages and why each stands in for the paper's shifts.
//
// It works on the model's input rows, after samples.h has made them (pixels q/255 in [0, 1], uint8
// log-mels standardised per sample, token ids with -1 for padding), so the shift is applied where
// a deployment would see it: on what reaches the model. Amplitudes (noise, brightness, gain) are in
// units of the row's own standard deviation, so the ops mean the same on [0, 1] pixels and on
// standardised log-mels. Values are not clipped: a brighter image may exceed 1.
//
// Determinism: everything random about a row (noise, a rotation's jitter, a patch's place, which
// words change) is drawn from the counter-RNG stream (seed, SHIFT_STREAM + 4 * stage + j, row id,
// RNG_DATA), j = 0 image, 1 audio, 2 text. The same row id is shifted identically in any batch, at
// any -np, after a resume. Give the rows of different splits different ids if they should differ
// (e.g. test row i as n_train + i).
//
// [I] reconstruction: the paper names its shifts (lighting, viewpoint and noise for images, other
// voices and speeds for speech, word choice for text) but not their parameters; ours are below.
#pragma once
#include <stdint.h>

#define SHIFT_N_STAGES 6 // stages 1..SHIFT_N_STAGES; stage 0 = the source
// Round word of the streams: "SH" in the high half, so no builder's stream (rounds < 16) meets it.
#define SHIFT_STREAM 0x53480000u
// Text ids below this are never drawn as replacements: AV-FashionMNIST's <pad> (0) and <unk> (1),
// data/texttok.h.
#define SHIFT_FIRST_WORD 2

// One stage's parameters, transparent so that tests and docs read them; 0 turns an op off. Image
// ops run in the order of the fields, then the audio ops in theirs.
typedef struct {
    const char *name, *what; // a short name and one line saying what changes
    // image (H, W), row-major
    float contrast;   // v = mean + contrast * (v - mean) (1 = unchanged; 0 = off, i.e. 1)
    float brightness; // v += brightness * std
    float rotate_deg; // rotation about the centre, counter-clockwise as displayed (row 0 on top)
    float rotate_jit; // + U(-jit, jit) degrees per row
    float blur_sigma; // separable Gaussian blur, radius ceil(2 sigma), edges replicated
    float noise;      // v += N(0, (noise * std)^2) per pixel
    int patch;        // a patch x patch square at a random place set to the row's mean
    // audio (H = time frames, W = mel bands), row-major
    float
        mel_shift; // out[t][m] = in[t][m - mel_shift] (linear, edges replicated): + = higher voice
    float stretch; // speed: out[t] = in[c + (t - c) * stretch], c the centre frame; frames from
                   // outside the row copy its quietest frame (background); 1 or 0 = off
    float gain;    // v += gain * std (a level the per-utterance normalisation did not see)
    float a_noise; // v += N(0, (a_noise * std)^2)
    int band_mask; // band_mask consecutive mel bands at a random place set to the row's mean
    // text
    float q;      // each word changes with probability q
    float q_drop; // of a change: probability the word is dropped (-1) instead of replaced
} ShiftStage;

// Number of shifted stages (SHIFT_N_STAGES). Local.
int shift_n_stages(void);
// Stage s's parameters, s in [0, SHIFT_N_STAGES] (0: every op off). Borrowed, static. CHECKs s.
const ShiftStage *shift_stage(int s);
// Its name and one-line description. Borrowed, static. CHECKs s.
const char *shift_stage_name(int s);
const char *shift_stage_what(int s);

// rows (B, H, W) shifted in place for stage s: modality "image" gets the stage's image ops, "audio"
// its audio ops; any other modality name is left unchanged (a stage defines no shift for it).
// row_id (B): each row's global id in the dataset (0 <= id < 2^32). Stage 0 changes nothing.
// Allocates one row of scratch. CHECKs s in [0, SHIFT_N_STAGES], B >= 0, H, W >= 1, the pointers,
// the ids, and that the output is finite when the input is. Local.
void shift_dense(int s, const char *modality, float *rows, int B, int H, int W,
                 const int64_t *row_id, uint64_t seed);
// tok (B, T) shifted in place for stage s: each word (id >= 0) changes with probability q: dropped
// to -1 with probability q_drop, else replaced by a different word drawn uniformly from
// [SHIFT_FIRST_WORD, vocab). Padding (-1) stays. CHECKs s, B >= 0, T >= 1, vocab >
// SHIFT_FIRST_WORD + 1, ids < vocab, the row ids. Local.
void shift_tokens(int s, int *tok, int B, int T, int vocab, const int64_t *row_id, uint64_t seed);

// ---- the ops, exposed for tests ----
// out (H, W) = in (H, W) rotated by deg degrees about the centre ((H-1)/2, (W-1)/2),
// counter-clockwise as displayed, with bilinear interpolation; a neighbour outside the image counts
// as fill. Source coordinates within 1e-9 of a grid point snap to it, so multiples of 90 degrees
// on a square image are exact permutations (90: out[i][j] = in[j][W-1-i]). out != in. Local.
void shift_rotate(float *out, const float *in, int H, int W, double deg, float fill);
// out (H, W) = in (H, W) resampled along rows (time): out[t] = in[c + (t - c) * factor],
// c = (H-1)/2, linear between frames; a frame outside the row is fill (W). out != in, fill may
// point into in. Local.
void shift_stretch(float *out, const float *in, int H, int W, double factor, const float *fill);
