// samples.h - the samples one rank trains or evaluates on, kept as stored (uint8 pixels and
// log-mels, int32 tokens) and turned into model inputs one minibatch at a time.
//
// Model inputs: uint8 pixels and raw sensor values become q/255 in [0, 1]; quantised real features
// (uint8 with a scale, e.g. log-mel spectrograms) are standardised per sample (mean 0, variance 1
// over the sample, as speech front ends do per utterance): without it, a loud noise floor leaves
// the words a small ripple on a large constant and the small model learns nothing from audio.
// float32 as stored; int32 modalities are token ids. A missing modality (mask bit clear) is
// zero-filled (dense) or all padding (tokens), and its mask byte is 0, which the model honours.
#pragma once
#include <stdint.h>

#include "data/dataset.h"
#include "data/facts.h"
#include "models/model.h"

typedef struct {
    int n_mod;
    DsDtype dtype[MODEL_MAX_MOD];
    int64_t row_elems[MODEL_MAX_MOD];
    int standardise[MODEL_MAX_MOD]; // uint8 with a quantisation scale: per-sample standardisation
    int has_pad[MODEL_MAX_MOD];     // int32 tokens: the dataset has a padding id, pad_id[m]
    int pad_id[MODEL_MAX_MOD];      // (batches carry -1 there, the models' padding)
} SampleLayout;

// Owned arrays (sampleset_free).
typedef struct {
    int64_t n;
    int32_t *label;           // (n)
    uint8_t *mask;            // (n) bit m = modality m present
    void *raw[MODEL_MAX_MOD]; // (n, row_elems) of the stored dtype
} SampleSet;

// Minibatch buffers for up to Bmax rows. Owned (batch_free).
typedef struct {
    int Bmax, B;
    float *dense[MODEL_MAX_MOD];
    int *tokens[MODEL_MAX_MOD];
    uint8_t *mask; // (Bmax, n_mod) bytes
    int *label;
    ModelInput in; // points at the buffers above, B set by sampleset_batch
} Batch;

// The layout of a dataset's modalities (at most MODEL_MAX_MOD). Local.
void samples_layout(SampleLayout *l, const Dataset *ds);
// What a model for that layout is built for: dense for uint8/float32, tokens for int32 (vocab from
// ds), the modality names and the classes. Local.
void samples_model_spec(ModelSpec *c, const SampleLayout *l, const Dataset *ds);

// Reads rows idx[0..n) of a split with their masks (bitmasks, one per row). Local.
void sampleset_load(SampleSet *s, const SampleLayout *l, const Dataset *ds, DsSplit split,
                    const int64_t *idx, const uint8_t *mask, int64_t n);
void sampleset_free(SampleSet *s);
// Reads k sets at once: set j gets rows idx[j][0..n[j]) of split with masks mask[j], as
// sampleset_load would. One read per dataset over the union of the rows, sorted, so that each
// stored chunk is inflated once (per-set reads of scattered rows inflate a chunk per row once the
// file outgrows the chunk cache), and one allocation for every set's arrays (k sets of a few rows
// each would otherwise cost 2 + n_mod allocations apiece). Returns that allocation: the sets are
// views into it, so free it (xfree) once, never the sets (sampleset_free). Local.
void *sampleset_load_parties(SampleSet *sets, int k, const SampleLayout *l, const Dataset *ds,
                             DsSplit split, const int64_t *const *idx, const uint8_t *const *mask,
                             const int64_t *n);
// Bytes of stored data (for byte accounting of pooled data).
int64_t sampleset_bytes(const SampleSet *s, const SampleLayout *l);

void batch_init(Batch *b, const SampleLayout *l, int Bmax);
void batch_free(Batch *b);
// Fills b with rows order[start .. start+B) of s (order NULL = identity). Local.
void sampleset_batch(const SampleSet *s, const SampleLayout *l, const int64_t *order, int64_t start,
                     int B, Batch *b);
// f (s->n) = the facts (data/facts.h) of every row of s, loaded by sampleset_load from rows idx
// (s->n) of split: the modalities of each row's mask, the image as batches give it, the meta
// columns read from ds. Local.
void sampleset_facts(SampleFacts *f, const SampleSet *s, const SampleLayout *l, const Dataset *ds,
                     DsSplit split, const int64_t *idx);
