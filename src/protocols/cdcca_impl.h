// cdcca_impl.h - the state CD-CCA's files share (cdcca.h): cdcca.c (the round and its records),
// cdcca_device.c (the devices' stream, inference, uplink and test-time baselines), cdcca_cloud.c
// (the teacher, the adaptation of the device copies, the downlink).
#pragma once
#include <stdint.h>

#include "core/rng.h"
#include "data/bleu.h"
#include "data/prompts.h"
#include "models/mllm.h"
#include "nn/dwc.h"
#include "protocols/cdcca.h"
#include "train/local.h"

// Per-party statistics of a round (ProtocolShape.n_party_stats = CS_ACC + stages).
enum {
    CS_UP_BYTES = 0, // uplink payload
    CS_RAW_BYTES,    // the stored bytes of the stream rows read (the uplink's reference)
    CS_UP_ROWS,      // rows uploaded
    CS_ROWS,         // stream rows read
    CS_CONF,         // Σ confidence over the rows read
    CS_UNCERTAIN,    // rows below the confidence threshold
    CS_CAP_ROWS,     // stream rows that asked for a caption
    CS_CAP_UP,       // of them, uploaded
    CS_BLEU,         // + 0 .. CS_BLEU_N - 1: BleuStats of this stage's test captions (stage ends)
    CS_ACC = CS_BLEU + 11, // + j: accuracy on stage j + 1's test rows (stage ends; NaN otherwise)
};
#define CS_BLEU_N 11 // the int64 fields of a BleuStats, as doubles (exact below 2^53)

#define CDCCA_MAX_SERIES 32

// One minibatch's scratch of the student or the teacher.
typedef struct {
    ModelWork w;
    float *params; // (n_params): the frozen weights with one device's adapters unpacked in
    float *grads;  // (n_params)
    float *m, *v;  // (n_params) AdamW moments (the selection's floats only)
} CdNet;

typedef struct {
    ProtocolEnv env;
    CdccaOpts o;
    int adapt, cloud_adapts; // CdccaAdapt; 1 when the cloud adapts (uplink + downlink)
    int rank, P, S, rounds;  // ranks, devices, stages, rounds
    int first, count;        // hosted devices
    const Model *model;      // the devices' model (env)
    const Mllm *mm;
    int n_enc, text_mod, enc_mod[MLLM_MAX_ENC]; // data modality of encoder e
    Selection ad;        // the adapters: LoRA, and the LM's and projectors' norms and biases
    Selection norms;     // TENT's: the LM's norm weights
    int quant;           // QuantFormat, -1 = float
    size_t device_bytes; // the devices' stored model: quantised blocks + float tensors
    float *frozen;       // (n_params) the devices' weights as they compute (quantised, decoded)
    float *source;       // (ad.n) the source model's adapters (every rank)
    // devices hosted here
    float *dev;           // (count, ad.n) each device's adapters
    float *ema;           // cotta: (count, ad.n) the EMA teacher
    float *tta_m, *tta_v; // tent, cotta: (count, ad.n) Adam moments, packed
    int64_t *tta_step;    // (count)
    uint8_t **up;         // (count) this round's upload block of each device
    int64_t *up_len;      // (count)
    double *stats;        // (count, n_stats)
    int n_stats;
    CdNet net; // the devices' (and the cloud student's) scratch
    Batch batch;
    float *probs; // (Bmax, K)
    // cloud (rank 0)
    Model teacher;
    CdNet tnet;
    int Dt;
    float *copy, *mirror; // (P, ad.n) each device's copy on the cloud, and what the device holds
    float *maps;          // (P, n_map) the 1x1 channel maps (hidden, then one per encoder)
    size_t n_map;
    double *acc; // (S, S) mean accuracy over devices: row s = after stage s + 1
    double down_bytes, cloud_loss;
    Rng drop; // MC dropout / LoRA dropout stream of the current (round, device)
    DwcOpts dwc;
    int series[CDCCA_MAX_SERIES]; // rank 0: indices of the protocol's series in the log
    // the free-form task (cdcca_caption.c; unused with --cdcca.captions=0)
    PromptClasses pc;    // the item words of the captions
    int cap_prompt;      // tokens of the longest caption prompt
    int cap_T;           // the longest caption sequence: prompt, cap_len tokens, <eos>
    LlamaGen gen, tgen;  // greedy captioning: the student's (every rank), the teacher's (cloud)
    float *cap_logits;   // (cap_len + 1, V) the logits of a caption's tokens
    SampleFacts **facts; // (count) each hosted device's test rows' facts (the references)
    double *bleu; // (S, 2) rank 0: BLEU-1 and BLEU-4 of each stage's test captions at its end
} Cdcca;

// A batch of caption sequences (prompt, the teacher's caption, <eos>) for the cloud's training.
typedef struct {
    int Tmax;
    int *ids, *tgt, *len, *slot[MLLM_MAX_ENC]; // (Bmax, Tmax), (Bmax, Tmax), (Bmax), (Bmax)
    const float *in[MLLM_MAX_ENC]; // the rows' encoder inputs or uploaded tokens (caller's)
    MllmBatch mb;
} CapBatch;

// Shared helpers (cdcca.c).
// The stage (1..S) of a 1-based round: stages split the rounds as evenly as they go (stage s has
// the rounds r with floor((r - 1) S / rounds) = s - 1); whether a round is its stage's last; how
// many rounds of its stage came before it (the stream chunk it reads).
int cd_stage(const Cdcca *c, int round);
int cd_stage_end(const Cdcca *c, int round);
int cd_chunk(const Cdcca *c, int round);
void cd_net_init(CdNet *n, const Model *m, int Bmax, const float *frozen);
void cd_net_free(CdNet *n, const Model *m);
// n->params = frozen with adapters (ad.n) unpacked. Local.
void cd_load(const Cdcca *c, CdNet *n, const float *adapters);
// One AdamW step of the adapters (in n->params) on n->grads, plus extra (n_extra floats, its own
// grads and moments; may be 0) clipped together at o.clip. t is the 1-based step.
void cd_adamw(const Cdcca *c, CdNet *n, double lr, long t, float *extra, float *extra_g,
              float *extra_m, float *extra_v, size_t n_extra, double wd);
// The forward of the student on in (option logits in n->w.logits). train: LoRA dropout from
// c->drop. Local.
void cd_forward(Cdcca *c, CdNet *n, const ModelInput *in, int train);

// Applies a downlink message (cd_cloud_downlink's format) to packed adapters (ad.n): the one
// decoder of both the device and the cloud's mirror. CHECKs every length against len, naming
// device p.
void cd_apply_msg(const Cdcca *c, float *adapters, const uint8_t *msg, int64_t len, int p);

// Devices (cdcca_device.c), on the hosts.
// Rows order[start .. start + B) of s (order NULL: positions) into c->batch, the text modality
// masked out unless --cdcca.text (no shift: the source domain).
void cd_batch(Cdcca *c, const SampleSet *s, const int64_t *order, int64_t start, int B);
void cd_device_round(Cdcca *c, int i, const RoundInfo *r);
void cd_device_evaluate(Cdcca *c, int i, int stage);

// The free-form task (cdcca_caption.c).
// 1 when row pos of a set of rows (0: party's stream, 1: its test rows) asks for a caption instead
// of the multiple-choice question: a draw keyed by (seed, party, pos, set) below
// --cdcca.captions, for a row with an encoder's modality (mask: n_mod bytes). Local.
int cd_caption_row(const Cdcca *c, int party, int64_t pos, int set, const uint8_t *mask);
// The source tuning's captions of the public rows s (loaded from rows of the training split, every
// modality present): for every row a random non-empty set of the encoders' modalities as a mask in
// cap_mask (s->n) and its true caption for them, a random template of its facts, as ids in cap
// (s->n, cap_len + 1), cap_n[j] of them (no <eos>). s is unchanged on return. CHECKs that every
// caption fits --cdcca.cap-len. Local.
void cd_caption_source(const Cdcca *c, SampleSet *s, const int64_t *rows, uint8_t *cap_mask,
                       int *cap, int *cap_n);
// The caption cache of every rank and the hosted devices' reference facts; CHECKs that captions
// fit the model's sequences and that the data has the base model's item words. Collective-free.
void cd_caption_init(Cdcca *c);
void cd_caption_free(Cdcca *c);
// Rank 0, after the teacher is built: its caption cache.
void cd_caption_teacher_init(Cdcca *c);
// The greedy caption of one row by model mm (params) with work w and cache g: the prompt with
// the encoders has[], each reading in[e] (its input row, or with tokens != 0 its tokens before the
// projector). Writes at most cap_len + 1 ids to out (the last <eos> when the model ended its
// caption) and the confidence (the product of each generated token's largest probability).
// Returns the caption's length without <eos>. Local.
int cd_caption_greedy(Cdcca *c, const Mllm *mm, const float *params, MllmWork *w, LlamaGen *g,
                      const uint8_t *has, const float *const *in, int tokens, int *out,
                      double *conf);
// s += the caption hyp (n ids, no <eos>) against the references of test row facts f: every
// caption template of the row's modalities, on words (periods dropped). Local.
void cd_caption_score(const Cdcca *c, BleuStats *s, const int *hyp, int n, const SampleFacts *f);
void cd_caption_batch_init(CapBatch *cb, const Cdcca *c, int Bmax);
void cd_caption_batch_free(CapBatch *cb);
// B caption sequences into cb->mb: row b's prompt (its encoders from mask (B, n_mod)), then cap[b]
// (cap_n[b] ids), then <eos> when the caption ended (cap_n[b] <= cap_len); targets on the
// caption. The encoders read cb->in[e] (B rows by batch row): inputs, or with tokens != 0 tokens
// before the projector. Local.
void cd_caption_batch(const Cdcca *c, CapBatch *cb, const uint8_t *mask, const int *const *cap,
                      const int *cap_n, int B, int tokens);
// logit-kd on caption rows: KL at --cdcca.kd-t between the teacher's (tw) and the student's (sw)
// next-token distributions at the caption's positions; sets sw->dhid_add = kd_h (B, T, D) to its
// gradient. Returns the loss. Local.
double cd_caption_logit_kd(const Cdcca *c, const CapBatch *cb, MllmWork *sw, const MllmWork *tw,
                           float *kd_h);

// Cloud (cdcca_cloud.c), rank 0.
void cd_cloud_init(Cdcca *c);
void cd_cloud_free(Cdcca *c);
// Adapts device p's copy on its upload block. Returns the mean loss (NaN when nothing came).
double cd_cloud_adapt(Cdcca *c, int p, const uint8_t *blk, int64_t len, const RoundInfo *r);
// The downlink message of device p into out (capacity from cd_down_capacity), applied to the
// mirror. Returns its length.
int64_t cd_cloud_downlink(Cdcca *c, int p, uint8_t *out);
size_t cd_down_capacity(const Cdcca *c);
