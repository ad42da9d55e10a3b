// avfm.h - AV-FashionMNIST samples: per-sample speech parameters, audio features and text, seeded
// per sample so that any cut of the work into block-aligned ranges gives the same bytes.
//
// Sample i of split s draws everything from counter-RNG streams named (seed, 4s + j, i, RNG_DATA):
// j = 0 speech parameters and placement, j = 1 noise, j = 2 text. Speech is synthesised in blocks
// of AVFM_BLOCK consecutive samples (speech.h says why), so ranges must start at a multiple of
// AVFM_BLOCK and end at one or at the end of the split. Sample i of a --subset build equals sample
// i of the full build (a block's utterance depends only on the ones before it in the block).
#pragma once
#include <stdint.h>

#include "data/logmel.h"
#include "data/speech.h"
#include "data/texttok.h"

#define AVFM_RATE 16000
#define AVFM_WINDOW 16000 // 1 s
#define AVFM_FRAMES 98
#define AVFM_MELS 40
#define AVFM_BLOCK 256
#define AVFM_TEXT_LEN 8
// uint8 audio: value = AVFM_Q_OFFSET + AVFM_Q_SCALE * q covers log-mel in [-23.1, 11.0] (observed
// range -23.03 .. 10.2 over the built training split); values outside are clipped.
#define AVFM_Q_OFFSET (-23.1f)
#define AVFM_Q_SCALE (34.1f / 255.0f)

typedef enum { AVFM_WORDS_NAME = 0, AVFM_WORDS_SYNONYM = 1, AVFM_WORDS_COARSE = 2 } AvfmWords;

// Meta columns (int32 per sample), in this order; names from avfm_meta_names.
enum {
    AVFM_META_VOICE,    // accent * AVFM_N_VARIANTS + variant
    AVFM_META_ACCENT,   // index into avfm_accent
    AVFM_META_VARIANT,  // index into avfm_variant
    AVFM_META_WORD,     // synonym index spoken (0 = class name), -1 = coarse word
    AVFM_META_RATE,     // words per minute
    AVFM_META_PITCH,    // 0..100
    AVFM_META_RANGE,    // 0..100
    AVFM_META_GAIN_CDB, // gain in centi-dB
    AVFM_META_SNR_CDB,  // SNR in centi-dB (a large value when clean)
    AVFM_META_NOISE_PM, // noise std / speech RMS, per mille (0 = clean)
    AVFM_META_OFFSET, // first sample of the utterance in the 1 s window (negative: centre-cropped)
    AVFM_META_SPEECH_LEN, // utterance length in samples at 16 kHz
    AVFM_N_META
};
#define AVFM_N_ACCENTS 8
#define AVFM_N_VARIANTS 32

typedef struct {
    uint64_t seed;
    AvfmWords words;
    int audio_f32;              // 1: float32 log-mel, 0: uint8 with AVFM_Q_*
    float snr_db_lo, snr_db_hi; // per-sample SNR ~ U[lo, hi]
    float p_clean;              // probability of no noise at all
    float gain_db;              // gain ~ U[-gain_db, gain_db]
    int rate_lo, rate_hi, pitch_lo, pitch_hi, range_lo, range_hi;
    TextOpts text;
} AvfmOpts;

// The defaults of the card (datasets/README.md): SNR U[-10, 5] dB, gain +-6 dB, rate 110..240,
// pitch 15..85, range 20..90, words = name.
void avfm_opts_default(AvfmOpts *o, uint64_t seed);

// Voice tables. Train voices use accents 0..5 and variants 0..23; test voices accents 6..7 and
// variants 24..31, so no (accent, variant) and neither part of it is shared. Borrowed strings.
const char *avfm_accent(int a);
const char *avfm_variant(int v);
// 1 if voice id (meta AVFM_META_VOICE) may occur in split (0 train, 1 test).
int avfm_voice_in_split(int voice, int split);
const char *const *avfm_meta_names(void); // (AVFM_N_META), borrowed

typedef struct {
    AvfmOpts o;
    Speech *speech; // borrowed
    LogMel mel;
    TextVocab vocab;
    int16_t *raw[AVFM_BLOCK]; // (SPEECH_MAX_SAMPLES) each, owned
    float *utt;               // (SPEECH_MAX_SAMPLES) utterance as float at 22050 Hz
    float *wave;              // (AVFM_WINDOW) scratch
    float *res;               // resampled utterance scratch
    float *feat;              // (AVFM_FRAMES * AVFM_MELS) scratch
} Avfm;

void avfm_init(Avfm *g, const AvfmOpts *o, Speech *speech);
void avfm_free(Avfm *g);

// Generates samples [start, start + n) of split (0 train, 1 test; n_split samples in all) with
// labels (n): audio (n, AVFM_FRAMES, AVFM_MELS) uint8 or float32 (o.audio_f32) =, text
// (n, AVFM_TEXT_LEN) int32 =, meta (n, AVFM_N_META) int32 =. CHECKs block alignment (see top).
void avfm_generate(Avfm *g, int split, int64_t start, int64_t n, int64_t n_split,
                   const uint8_t *labels, void *audio, int32_t *text, int32_t *meta);
