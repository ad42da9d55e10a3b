// avfm.c - AV-FashionMNIST sample generation (avfm.h).
#include "data/avfm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "data/lexicon.h"
#include "data/resample.h"

// espeak-ng's English accents (voices/gmw/*); "en-gb" itself fails in SetVoiceByName, "en" is GB.
static const char *const accents[AVFM_N_ACCENTS] = {
    "en",         "en-us",          "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-rp", "en-gb-x-gbcwmd", // train
    "en-029",     "en-us-nyc"};     // test
// Voice variants (voices/!v/*): 24 for training, 8 held out for test.
static const char *const variants[AVFM_N_VARIANTS] = {
    "m1",   "m2",  "m3",    "m4",     "m5",     "m6",     "f1",      "f2",
    "f3",   "f4",  "klatt", "klatt2", "klatt3", "Alicia", "Andy",    "Denis",
    "Gene", "Lee", "Mike",  "linda",  "steph",  "croak",  "grandma", "max",     // train
    "m7",   "m8",  "f5",    "klatt4", "klatt5", "Annie",  "grandpa", "travis"}; // test
#define TRAIN_ACCENTS 6
#define TRAIN_VARIANTS 24

static const char *const meta_names[AVFM_N_META] = {"voice",   "accent",   "variant", "word",
                                                    "rate",    "pitch",    "range",   "gain_cdb",
                                                    "snr_cdb", "noise_pm", "offset",  "speech_len"};

#define SPEECH_RMS 0.05f // speech level before gain (-26 dBFS): voices differ a lot in loudness
#define DITHER_STD 1e-4f // -80 dBFS: silent padding is not a constant log floor
#define LOG_FLOOR 1e-10f
#define CLEAN_SNR_CDB 99900

void avfm_opts_default(AvfmOpts *o, uint64_t seed) {
    CHECK_PTR(o);
    *o = (AvfmOpts){
        .seed = seed,
        .words = AVFM_WORDS_NAME,
        .audio_f32 = 0,
        .snr_db_lo = -10,
        .snr_db_hi = 5,
        .p_clean = 0,
        .gain_db = 6,
        .rate_lo = 110,
        .rate_hi = 240,
        .pitch_lo = 15,
        .pitch_hi = 85,
        .range_lo = 20,
        .range_hi = 90,
        .text = {
            .p_drop = 0.2f, .p_swap = 0.3f, .p_replace = 0.1f, .p_coarse = 0.2f, .max_fillers = 2}};
}

const char *avfm_accent(int a) {
    CHECK(a >= 0 && a < AVFM_N_ACCENTS, "accent %d of %d", a, AVFM_N_ACCENTS);
    return accents[a];
}

const char *avfm_variant(int v) {
    CHECK(v >= 0 && v < AVFM_N_VARIANTS, "variant %d of %d", v, AVFM_N_VARIANTS);
    return variants[v];
}

int avfm_voice_in_split(int voice, int split) {
    CHECK(voice >= 0 && voice < AVFM_N_ACCENTS * AVFM_N_VARIANTS, "voice %d", voice);
    CHECK(split == 0 || split == 1, "split %d", split);
    int a = voice / AVFM_N_VARIANTS, v = voice % AVFM_N_VARIANTS;
    int train = a < TRAIN_ACCENTS && v < TRAIN_VARIANTS;
    int test = a >= TRAIN_ACCENTS && v >= TRAIN_VARIANTS;
    return split == 0 ? train : test;
}

const char *const *avfm_meta_names(void) { return meta_names; }

void avfm_init(Avfm *g, const AvfmOpts *o, Speech *speech) {
    CHECK_PTR(g);
    CHECK_PTR(o);
    CHECK_PTR(speech);
    CHECK(o->snr_db_lo <= o->snr_db_hi && o->p_clean >= 0 && o->p_clean <= 1 && o->gain_db >= 0,
          "snr [%g, %g] p_clean %g gain_db %g", o->snr_db_lo, o->snr_db_hi, o->p_clean, o->gain_db);
    CHECK(o->rate_lo >= 80 && o->rate_lo <= o->rate_hi && o->rate_hi <= 450 && o->pitch_lo >= 0 &&
              o->pitch_lo <= o->pitch_hi && o->pitch_hi <= 100 && o->range_lo >= 0 &&
              o->range_lo <= o->range_hi && o->range_hi <= 100,
          "rate [%d, %d] pitch [%d, %d] range [%d, %d]", o->rate_lo, o->rate_hi, o->pitch_lo,
          o->pitch_hi, o->range_lo, o->range_hi);
    memset(g, 0, sizeof(*g));
    g->o = *o;
    g->speech = speech;
    logmel_init(&g->mel, AVFM_RATE, 400, 160, 512, AVFM_MELS, 20.0f, 8000.0f);
    CHECK(logmel_frames(&g->mel, AVFM_WINDOW) == AVFM_FRAMES, "frames %d",
          logmel_frames(&g->mel, AVFM_WINDOW));
    texttok_vocab(&g->vocab);
    for (int i = 0; i < AVFM_BLOCK; i++)
        g->raw[i] = xmalloc(sizeof(int16_t) * SPEECH_MAX_SAMPLES);
    g->utt = xmalloc(sizeof(float) * SPEECH_MAX_SAMPLES);
    g->wave = xmalloc(sizeof(float) * AVFM_WINDOW);
    g->res = xmalloc(sizeof(float) *
                     (size_t)resample_len(SPEECH_MAX_SAMPLES, SPEECH_RATE_HZ, AVFM_RATE));
    g->feat = xmalloc(sizeof(float) * AVFM_FRAMES * AVFM_MELS);
}

void avfm_free(Avfm *g) {
    if (!g) return;
    logmel_free(&g->mel);
    for (int i = 0; i < AVFM_BLOCK; i++)
        xfree(g->raw[i]);
    xfree(g->utt);
    xfree(g->wave);
    xfree(g->res);
    xfree(g->feat);
    memset(g, 0, sizeof(*g));
}

static int uniform_int(Rng *r, int lo, int hi) {
    return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

// Speech parameters of one sample: the first draws of its stream j = 0 (placement draws follow).
static void draw_params(const AvfmOpts *o, Rng *r, int split, int label, int32_t *meta,
                        SpeechReq *q) {
    int a = split == 0 ? (int)rng_below(r, TRAIN_ACCENTS)
                       : TRAIN_ACCENTS + (int)rng_below(r, AVFM_N_ACCENTS - TRAIN_ACCENTS);
    int v = split == 0 ? (int)rng_below(r, TRAIN_VARIANTS)
                       : TRAIN_VARIANTS + (int)rng_below(r, AVFM_N_VARIANTS - TRAIN_VARIANTS);
    meta[AVFM_META_VOICE] = a * AVFM_N_VARIANTS + v;
    meta[AVFM_META_ACCENT] = a;
    meta[AVFM_META_VARIANT] = v;
    meta[AVFM_META_RATE] = uniform_int(r, o->rate_lo, o->rate_hi);
    meta[AVFM_META_PITCH] = uniform_int(r, o->pitch_lo, o->pitch_hi);
    meta[AVFM_META_RANGE] = uniform_int(r, o->range_lo, o->range_hi);
    int k = (int)rng_below(r, (uint32_t)lexicon_n_synonyms(label)); // drawn in every mode
    const char *word = o->words == AVFM_WORDS_NAME      ? lexicon_synonym(label, 0)
                       : o->words == AVFM_WORDS_SYNONYM ? lexicon_synonym(label, k)
                                                        : lexicon_coarse(label);
    meta[AVFM_META_WORD] = o->words == AVFM_WORDS_NAME      ? 0
                           : o->words == AVFM_WORDS_SYNONYM ? k
                                                            : -1;
    snprintf(q->voice, sizeof(q->voice), "%s+%s", accents[a], variants[v]);
    snprintf(q->text, sizeof(q->text), "%s", word);
    q->rate = meta[AVFM_META_RATE];
    q->pitch = meta[AVFM_META_PITCH];
    q->range = meta[AVFM_META_RANGE];
}

// Utterance -> 1 s window with gain and noise -> log-mel in g->feat. r continues stream j = 0.
static void render(Avfm *g, Rng *r, Rng *noise, const int16_t *raw, int len, int32_t *meta) {
    const AvfmOpts *o = &g->o;
    int n = resample_len(len, SPEECH_RATE_HZ, AVFM_RATE);
    for (int i = 0; i < len; i++)
        g->utt[i] = raw[i] / 32768.0f;
    resample_linear(g->res, g->utt, len, SPEECH_RATE_HZ, AVFM_RATE);
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)g->res[i] * g->res[i];
    float rms = (float)sqrt(ss / (n > 0 ? n : 1));
    float gain_db = o->gain_db > 0 ? (2 * rng_uniform(r) - 1) * o->gain_db : 0;
    float amp = (rms > 0 ? SPEECH_RMS / rms : 0) * powf(10.0f, gain_db / 20.0f);
    int offset;
    if (n <= AVFM_WINDOW)
        offset = (int)rng_below(r, (uint32_t)(AVFM_WINDOW - n + 1));
    else {
        (void)rng_u32(r); // same number of draws either way
        offset = -(n - AVFM_WINDOW) / 2;
    }
    int clean = rng_uniform(r) < o->p_clean;
    float snr_db = o->snr_db_lo + (o->snr_db_hi - o->snr_db_lo) * rng_uniform(r);
    float noise_rel = clean ? 0 : powf(10.0f, -snr_db / 20.0f); // noise std / speech RMS
    float noise_std = noise_rel * SPEECH_RMS * powf(10.0f, gain_db / 20.0f);
    // Noise: sum of four 16-bit uniforms (Irwin-Hall), scaled to unit variance. Near-Gaussian and
    // 10x cheaper than Box-Muller, which was a fifth of the build time.
    const float ih_scale = sqrtf(3.0f) / 65536.0f, sd = noise_std + DITHER_STD;
    for (int t = 0; t < AVFM_WINDOW; t++) {
        uint32_t u = rng_u32(noise), v = rng_u32(noise);
        float z =
            ((float)((u & 0xffff) + (u >> 16) + (v & 0xffff) + (v >> 16)) - 131070.0f) * ih_scale;
        int s = t - offset;
        float sp = s >= 0 && s < n ? amp * g->res[s] : 0;
        g->wave[t] = sp + sd * z;
    }
    logmel_compute(&g->mel, g->feat, g->wave, AVFM_WINDOW, LOG_FLOOR);
    meta[AVFM_META_GAIN_CDB] = (int32_t)lrintf(gain_db * 100);
    meta[AVFM_META_SNR_CDB] = clean ? CLEAN_SNR_CDB : (int32_t)lrintf(snr_db * 100);
    meta[AVFM_META_NOISE_PM] = (int32_t)lrintf(noise_rel * 1000);
    meta[AVFM_META_OFFSET] = offset;
    meta[AVFM_META_SPEECH_LEN] = n;
}

void avfm_generate(Avfm *g, int split, int64_t start, int64_t n, int64_t n_split,
                   const uint8_t *labels, void *audio, int32_t *text, int32_t *meta) {
    CHECK_PTR(g);
    CHECK_PTR(labels);
    CHECK_PTR(audio);
    CHECK_PTR(text);
    CHECK_PTR(meta);
    CHECK(split == 0 || split == 1, "split %d", split);
    CHECK(start >= 0 && n >= 0 && start + n <= n_split && n_split <= UINT32_MAX,
          "range [%lld, %lld) of %lld", (long long)start, (long long)(start + n),
          (long long)n_split);
    CHECK(start % AVFM_BLOCK == 0 && ((start + n) % AVFM_BLOCK == 0 || start + n == n_split),
          "range [%lld, %lld) is not aligned to blocks of %d (nor ends the split of %lld)",
          (long long)start, (long long)(start + n), AVFM_BLOCK, (long long)n_split);
    const size_t feat = AVFM_FRAMES * AVFM_MELS;
    SpeechReq reqs[AVFM_BLOCK];
    Rng rp[AVFM_BLOCK];
    int lens[AVFM_BLOCK];
    for (int64_t b0 = 0; b0 < n; b0 += AVFM_BLOCK) {
        int nb = (int)MIN((int64_t)AVFM_BLOCK, n - b0);
        for (int j = 0; j < nb; j++) {
            int64_t i = b0 + j;
            int label = labels[i];
            CHECK(label < LEX_CLASSES, "label %d of sample %lld", label, (long long)(start + i));
            rng_init(&rp[j], g->o.seed, (uint32_t)(4 * split), (uint32_t)(start + i), RNG_DATA);
            draw_params(&g->o, &rp[j], split, label, meta + i * AVFM_N_META, &reqs[j]);
        }
        speech_block(g->speech, reqs, nb, g->raw, lens);
        for (int j = 0; j < nb; j++) {
            int64_t i = b0 + j;
            Rng noise, rt;
            rng_init(&noise, g->o.seed, (uint32_t)(4 * split + 1), (uint32_t)(start + i), RNG_DATA);
            rng_init(&rt, g->o.seed, (uint32_t)(4 * split + 2), (uint32_t)(start + i), RNG_DATA);
            render(g, &rp[j], &noise, g->raw[j], lens[j], meta + i * AVFM_N_META);
            if (g->o.audio_f32) {
                memcpy((float *)audio + i * feat, g->feat, sizeof(float) * feat);
            } else {
                uint8_t *q = (uint8_t *)audio + i * feat;
                for (size_t k = 0; k < feat; k++) {
                    float u = (g->feat[k] - AVFM_Q_OFFSET) / AVFM_Q_SCALE;
                    q[k] = (uint8_t)(u <= 0 ? 0 : u >= 255 ? 255 : lrintf(u));
                }
            }
            texttok_make(text + i * AVFM_TEXT_LEN, AVFM_TEXT_LEN, &g->vocab, labels[i], &g->o.text,
                         &rt);
        }
    }
}
