// cdcca.h - CD-CCA: cloud-device collaborative continual adaptation of a multimodal LLM (Wang et
// al., CVPR 2024), and the baselines that share its stream (docs/cdcca.md).
//
// Rank 0 is the cloud: a larger teacher MLLM (--cdcca.teacher, built from the devices' base model
// by make base-model-teacher) and a trainable copy of every device's adapters. The other ranks host
// the devices (the parties): each runs the base model (--model=mllm) with its frozen weights stored
// as int8/int4/NF4 blocks (--cdcca.quant) plus float adapters (LoRA, norms, biases) on its own
// stream. Before round 1 the adapters are tuned on the source domain (the base model's public rows,
// unshifted) on the cloud: every method starts from that source model.
//
// The stream: --cdcca.stages shift stages (data/shift.h) splitting --rounds as evenly as they go;
// in round t each device reads the next --cdcca.chunk rows of its training rows under the stage's
// shift (unlabelled: no label leaves or is read on a device). One round:
//   device   inference on the chunk; UTS: a row is uncertain when its confidence (the product over
//            the generated tokens of the largest probability: for a multiple-choice answer the
//            largest option probability) is below --cdcca.conf; in an uncertain row, Monte-Carlo
//            dropout (--cdcca.mc passes, p = --cdcca.mc-p) on each encoder's tokens before the
//            projector gives a per-token variance, and round(r·L) tokens are masked (keep=certain:
//            the most uncertain, the released code; keep=uncertain: the least, the paper's reading)
//   uplink   per uploaded row: which encoders it has, the kept tokens as float16 with a bitmap, its
//            confidence; never its image, audio or text, nor its label
//   cloud    the teacher answers the uploaded rows (pseudo-labels); the device's copy trains
//            --cdcca.epochs passes with AdamW (cosine, warm-up, clipping) on CE to the
//            pseudo-labels plus, for akd, feature KD on the final hidden states and on the
//            projected visual/audio tokens (each through a learnable 1x1 channel map: MSE + L1 of
//            the high bands of a 3-level wavelet transform along the channels, nn/distill.h);
//            logit-kd uses the teacher's option distribution instead of the features
//   downlink DWC per adapter tensor (nn/dwc.h): Δ = copy − the device's, sent when ‖Δ‖/‖θ‖ >= τ,
//            its top-ρ entries in 4-bit blocks; the device adds the decoded Δ (the cloud keeps the
//            same sum, so the next Δ carries what quantisation left out)
//   evaluate at a stage's last round: each device's accuracy on the test rows of every stage so
//            far (the accuracy matrix: average accuracy and forgetting)
// Device-side baselines (adapt = tent | cotta) never upload; none is the source model.
#pragma once
#include "core/options.h"
#include "protocols/protocol.h"

typedef enum {
    CDCCA_NONE = 0,   // source-only
    CDCCA_AKD = 1,    // CD-CCA: pseudo-labels + feature KD
    CDCCA_PSEUDO = 2, // pseudo-labels only (−AKD)
    CDCCA_LOGIT = 3,  // pseudo-labels + logit KD
    CDCCA_TENT = 4,   // device: entropy minimisation of the norms
    CDCCA_COTTA = 5,  // device: EMA teacher, averaged augmentations, stochastic restore
} CdccaAdapt;

// The options (keys "cdcca.*"); cdcca_opts holds their defaults.
typedef struct {
    char teacher[OPT_STR_MAX];
    char adapt_name[OPT_STR_MAX];   // akd|pseudo|logit-kd|tent|cotta|none
    char quant_name[OPT_STR_MAX];   // int8|int4|nf4|none: the devices' frozen weights
    char keep_name[OPT_STR_MAX];    // certain|uncertain
    char dwc_fmt_name[OPT_STR_MAX]; // nf4|int4|int8
    int stages, chunk;
    int text;                // the devices read the data's text modality (it never leaves)
    int uts, dwc;            // UTS on the uplink (0: every row, every token); DWC (0: fp32)
    double conf, mask, mc_p; // confidence threshold, mask ratio r, MC-dropout p
    int mc;                  // MC-dropout passes
    double tau, rho;         // DWC
    int epochs;              // the cloud's passes over a round's uploads
    double lr, lr_min, wd, clip, warmup; // AdamW, cosine from lr to lr_min, warm-up share of a pass
    double kd_hidden, kd_query, kd_t;    // AKD weights; logit-KD temperature
    int source_rows, source_epochs;      // the source model's tuning on the public rows
    double source_lr;
    double tta_lr, cotta_ema, cotta_restore; // device baselines
    int cotta_augs;
    double captions;       // the share of rows that ask for a caption (the free-form task)
    int cap_len;           // the longest caption generated, in tokens
    int source_cap_epochs; // the source tuning's passes over the public rows' captions
} CdccaOpts;

#define CDCCA_N_OPTS 35
extern const OptSpec cdcca_opts[CDCCA_N_OPTS];
// The rules between the options (an OptGroup validate): names the keys. Local.
int cdcca_opts_validate(const void *opts, const OptSet *set, char *err, size_t cap);
// The CdccaAdapt of a --cdcca.adapt name, -1 when unknown. Local.
int cdcca_adapt_of(const char *name);

extern const Protocol protocol_cdcca;
