// model.h - the contract every trainable model implements (docs/architecture.md §3).
//
// A Model is an ops table over a model-specific layout (its `impl`: PartyModel, MmLarge,
// Generator, ...) plus what every caller needs without knowing the kind: the size of the one flat
// parameter buffer and the list of its named tensors (name, shape, offset, and whether it is in the
// model's default trainable selection). Training loops, aggregation, server optimisers and
// checkpoints work on a Selection: the tensors a protocol trains and exchanges ("all", the
// default trainable ones, or the tensors whose names start with given prefixes), as segments of
// the flat buffer. Checkpoints store one dataset per named tensor.
//
// Conventions (docs/conventions.md §8): params, grads and optimizer moments are flat float buffers
// of n_params in tensor order; backward accumulates into grads; a work struct holds one batch's
// activations for batches up to Bmax and is allocated once (forward and backward never allocate).
// Every function here is Local.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "nn/optim.h"

#define MODEL_MAX_MOD 4
#define MODEL_MAX_TENSORS 128
#define MODEL_NAME_MAX 48
#define MODEL_MOD_NAME_MAX 16

typedef struct Selection Selection; // below

typedef enum { MODEL_DENSE = 0, MODEL_TOKENS = 1 } ModelInputKind;

// What a model is built for: the modalities and classes of the data (from the dataset layout).
typedef struct {
    int n_mod;
    ModelInputKind kind[MODEL_MAX_MOD];
    int in_dim[MODEL_MAX_MOD]; // dense: features per sample; tokens: tokens per sample (T)
    int vocab[MODEL_MAX_MOD];  // tokens only: table rows
    char mod_name[MODEL_MAX_MOD][MODEL_MOD_NAME_MAX]; // "image", "audio", "text": tensor names
    int K;                                            // classes
    // Borrowed from the dataset (valid while it is open), NULL when unknown: the words of a token
    // modality's vocabulary (vocab[m] of them) and the classes' names (K). Models that read text
    // as text (the multimodal LLM re-tokenises words and lists the classes as answer options)
    // need them; the others ignore them.
    const char *const *words[MODEL_MAX_MOD];
    const char *const *class_names;
} ModelSpec;

// One minibatch of model input, row-major, borrowed.
typedef struct {
    int B;
    const float *dense[MODEL_MAX_MOD]; // (B, in_dim) for dense modalities, else NULL
    const int *tokens[MODEL_MAX_MOD];  // (B, T) for token modalities (ids < 0 are padding)
    const uint8_t *mask;               // (B, n_mod), 1 = present; NULL = every modality present
    const float *fill[MODEL_MAX_MOD];  // (B, emb_dim) stand-ins for missing rows of modality m
                                       // (models with an encode/fuse split); NULL = zeros
} ModelInput;

typedef struct {
    char name[MODEL_NAME_MAX]; // "enc_image/w", "blocks/qkvw", "head/b"
    int ndim;                  // 1..4
    int64_t shape[4];
    size_t off, n; // floats [off, off + n) of the flat buffer; n = Π shape
    int trainable; // in the model's default trainable selection
    int layers;    // > 0: the tensor is stacked over the language model's `layers` decoder layers
                   // along its first dimension (layer-selective regularisation reads it); else 0
} ModelTensor;

// The activations every caller may read or add gradients to, for batches up to Bmax; the kind's
// own buffers hang off impl. Pointers are owned by the work (model_work_free).
typedef struct {
    int Bmax;
    float *logits, *probs, *dlogits; // (Bmax, K); NULL for a model without classes
    float *rep, *drep; // (Bmax, rep_dim) the representation before the head; drep is an extra
                       // upstream gradient on it, zeroed by every forward
    float *emb[MODEL_MAX_MOD]; // (Bmax, emb_dim) per-modality embeddings after encode (models with
                               // an encode/fuse split), else NULL
    // Set by the trainer (NULL = every tensor): the tensors whose gradients it reads. A backward
    // may skip the others' gradients (leave them as they were): a model with frozen parts then
    // does not pay for their weight gradients. Borrowed.
    const Selection *grad_sel;
    // Set by the trainer: the stream of the model's own training randomness (LoRA dropout),
    // advanced by every training forward; NULL = evaluation (no dropout). Borrowed.
    Rng *train_rng;
    void *impl;
} ModelWork;

typedef struct Model Model;

typedef struct ModelOps {
    const char *kind; // "party", "transformer", "generator", ...
    // Initial parameters from rng (the kind's documented init). Required.
    void (*init_params)(const Model *m, float *params, Rng *rng);
    void (*work_init)(const Model *m, ModelWork *w, int Bmax); // required
    void (*work_free)(ModelWork *w);                           // required; leaves w zeroed
    // Writes logits (when K > 0) and rep; zeroes dlogits and drep. Required.
    void (*forward)(const Model *m, const float *params, const ModelInput *in, ModelWork *w);
    // Optional split of forward: encode writes w->emb[m] for every modality; fuse the rest, using
    // in->fill for missing rows. Both or neither.
    void (*encode)(const Model *m, const float *params, const ModelInput *in, ModelWork *w);
    void (*fuse)(const Model *m, const float *params, const ModelInput *in, ModelWork *w);
    // grads (n_params) += dloss/dparams from w->dlogits and w->drep of the last forward with the
    // same input. Required.
    void (*backward)(const Model *m, const float *params, float *grads, const ModelInput *in,
                     ModelWork *w);
    void (*destroy)(void *impl); // frees the layout; required
} ModelOps;

struct Model {
    const ModelOps *ops;
    void *impl; // the kind's layout, owned
    size_t n_params;
    int n_mod, K; // modalities and classes (K 0: no classification head)
    int rep_dim;  // width of rep
    int emb_dim;  // width of the per-modality embeddings (split models), else 0
    int n_tensors;
    ModelTensor tensor[MODEL_MAX_TENSORS]; // in buffer order, tiling [0, n_params)
    // A kind that starts from pre-trained weights sets pretrained and the carve-outs of the train
    // split its pre-training used (data/holdout.h): runs must hold out the same public rows, so
    // that no party trains on what the base model saw (the driver refuses other fractions).
    int pretrained;
    double pretrain_val_fraction, pretrain_public_fraction;
    char pretrained_sha256[65]; // SHA-256 of the base file the weights came from, as the
                                // driver's integrity gate computed it ("" otherwise)
};

// For implementations: appends tensor `name` of the given shape at float offset off (CHECKs room,
// the name's length and that tensors tile the buffer in order). trainable as ModelTensor.
void model_add_tensor(Model *m, const char *name, int ndim, const int64_t *shape, size_t off,
                      int trainable);
// The name of modality i for tensor names: names[i], or "m<i>" when names is NULL or names[i] is
// empty. out has room for MODEL_MOD_NAME_MAX + 8.
void model_modality_name(char *out, const char (*names)[MODEL_MOD_NAME_MAX], int i);
// Frees the layout and zeroes m; safe on a zeroed Model.
void model_free(Model *m);
// The tensor named name, or NULL. Borrowed.
const ModelTensor *model_tensor(const Model *m, const char *name);

// The ops, with their CHECKs (pointers, batch size within Bmax).
void model_init_params(const Model *m, float *params, Rng *rng);
void model_work_init(const Model *m, ModelWork *w, int Bmax);
void model_work_free(const Model *m, ModelWork *w);
void model_forward(const Model *m, const float *params, const ModelInput *in, ModelWork *w);
// 1 when the model has the encode/fuse split (completion of missing modalities needs it).
int model_has_split(const Model *m);
void model_encode(const Model *m, const float *params, const ModelInput *in, ModelWork *w);
void model_fuse(const Model *m, const float *params, const ModelInput *in, ModelWork *w);
void model_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                    ModelWork *w);
// Softmax cross-entropy over w->logits (B, K) with optional per-row weights (B): writes w->probs,
// w->dlogits += dloss·∂CE/∂logits when dloss != 0, *correct += argmax hits when correct is not
// NULL. Returns the (weighted) mean CE. CHECKs K > 0, labels in range.
double model_ce(const Model *m, ModelWork *w, int B, const int *labels, const float *weights,
                double dloss, int64_t *correct);

// model_forward, model_ce and, when grads is not NULL, model_backward of the CE alone: the mean
// loss.
double model_loss_backward(const Model *m, const float *params, float *grads, const ModelInput *in,
                           ModelWork *w, const int *labels, const float *weights, int64_t *correct);

// ---- selections: the tensors a protocol trains and exchanges ----

struct Selection {
    int n_segs;
    ParamSegment seg[MODEL_MAX_TENSORS]; // ascending, adjacent tensors merged into one segment
    size_t n;                            // floats selected
    uint8_t on[MODEL_MAX_TENSORS];       // per tensor: selected
};

// spec: "" = the model's default trainable tensors; "all"; or a comma-separated list of tensor name
// prefixes ("head,fuse/" selects head/w, head/b, fuse/w, fuse/b). Returns 0, or -1 with a message
// naming the prefix that matches no tensor (and the tensor names) when nothing matches.
int model_select(const Model *m, const char *spec, Selection *s, char *err, size_t cap);
// packed (s->n) = the selected floats of params in buffer order, and back.
void selection_pack(const Selection *s, const float *params, float *packed);
void selection_unpack(const Selection *s, const float *packed, float *params);
// The offset in a packed buffer of tensor t of m, or -1 when t is not selected.
int64_t selection_packed_offset(const Model *m, const Selection *s, int t);
// "<n> of <n_params> floats in <k> tensors: name, name, ..." for logs.
void selection_describe(const Model *m, const Selection *s, char *buf, size_t cap);
