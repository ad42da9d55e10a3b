// speech.h - espeak-ng speech synthesis in a helper process, deterministic per block of utterances.
//
// libespeak-ng keeps synthesis state between utterances in library statics (pitch flutter phase,
// filter memories, ...): the same utterance twice in one process gives different samples, even
// after srand (measured: 7,000-20,000 of 17,000-20,000 samples differ). A fork per utterance fixes
// that but costs 7.8 ms on this machine (fork alone 2.7 ms). So the helper forks one fresh worker
// per BLOCK: the worker starts from the state right after espeak_ng_Initialize and speaks the
// block's utterances in order. An utterance's samples then depend only on its block, so callers
// that cut work into the same blocks (global sample index / block size) get the same samples on any
// rank layout.
//
// The helper is started before MPI_Init (forking an MPI process is unsafe with Open MPI) and fed
// over pipes. Measured CPU per utterance: 2.4 ms in blocks of 16, 1.2 ms in blocks of 64, 0.7 ms in
// blocks of 256 (a fresh worker costs about 25 ms: fork and first voice load). Without libespeak-ng
// (HAVE_ESPEAK undefined) speech_start CHECK-fails with a hint.
#pragma once
#include <stdint.h>

#define SPEECH_RATE_HZ 22050     // espeak-ng's output rate
#define SPEECH_MAX_SAMPLES 66150 // 3 s at 22050 Hz: longer utterances are cut (ours are < 1.5 s)
#define SPEECH_MAX_BLOCK 256

typedef struct {
    char voice[48]; // "accent+variant", e.g. "en-gb-x-rp+klatt3"
    char text[48];  // UTF-8, NUL-terminated
    int32_t rate;   // words per minute (80..450)
    int32_t pitch;  // 0..100
    int32_t range;  // pitch range 0..100
} SpeechReq;

typedef struct Speech Speech;

// Forks the helper process (call before MPI_Init and before other threads exist). Owned handle.
Speech *speech_start(void);
// Speaks reqs[0..n) in a fresh worker, in order. out[i] (SPEECH_MAX_SAMPLES) receives utterance i
// as int16 at SPEECH_RATE_HZ, len[i] its length. CHECKs n in [1, SPEECH_MAX_BLOCK], the voice
// exists, synthesis succeeded. Local.
void speech_block(Speech *s, const SpeechReq *reqs, int n, int16_t *const *out, int *len);
// Stops the helper and frees s; NULL is a no-op.
void speech_stop(Speech *s);
