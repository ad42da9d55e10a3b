// cdcca_settings.c - the options of CD-CCA and its baselines (keys "cdcca.*"), the only place
// their defaults are written (cdcca.h). Defaults follow the released code where it has a value
// (confidence 0.5, MC dropout 10 passes at p = 0.5, AdamW with weight decay 0.02 and clipping
// 2.0, cosine schedule, 3 epochs, NF4 downlink) and the paper where the code has none (mask ratio
// 0.5, its best); the toy learning rate is ours.
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "data/shift.h"
#include "protocols/cdcca.h"

#define C_OPT(f) offsetof(CdccaOpts, f)
#define OPEN01 OPT_LO | OPT_LO_OPEN | OPT_HI | OPT_HI_OPEN
const OptSpec cdcca_opts[CDCCA_N_OPTS] = {
    {"cdcca.teacher", OPT_STRING, C_OPT(teacher), "data/base/mllm-teacher.h5", 0, 0, 0, NULL,
     "the cloud's teacher MLLM (make base-model-teacher), built from the devices' --mllm.base",
     OPT_FILE},
    {"cdcca.adapt", OPT_CHOICE, C_OPT(adapt_name), "akd", 0, 0, 0,
     "akd|pseudo|logit-kd|tent|cotta|none",
     "akd = CD-CCA (pseudo-labels + feature KD on the cloud); pseudo = pseudo-labels only; "
     "logit-kd = pseudo-labels + the teacher's option distribution; tent, cotta = on the device, "
     "no uplink; none = the source model",
     0},
    {"cdcca.quant", OPT_CHOICE, C_OPT(quant_name), "nf4", 0, 0, 0, "int8|int4|nf4|none",
     "the devices' frozen weights: blocks of 64 with absmax scales (none = float32)", 0},
    {"cdcca.stages", OPT_INT, C_OPT(stages), "5", OPT_LO | OPT_HI, 1, SHIFT_N_STAGES, NULL,
     "shift stages of the stream (data/shift.h), splitting --rounds as evenly as they go (at "
     "least one round each)",
     0},
    {"cdcca.chunk", OPT_INT, C_OPT(chunk), "32", OPT_LO | OPT_HI, 1, 1 << 20, NULL,
     "stream rows a device reads per round", 0},
    {"cdcca.text", OPT_BOOL, C_OPT(text), "false", 0, 0, 0, NULL,
     "the devices' questions include the sample's text (which never leaves the device, so the "
     "cloud adapts on prompts without it); false = image and audio only, on both sides",
     0},
    {"cdcca.uts", OPT_BOOL, C_OPT(uts), "true", 0, 0, 0, NULL,
     "uncertainty-guided token sampling on the uplink (false = every row with every token)", 0},
    {"cdcca.conf", OPT_DOUBLE, C_OPT(conf), "0.5", OPT_LO | OPT_HI, 0, 1, NULL,
     "a row is uploaded when its confidence is below this", 0},
    {"cdcca.mask", OPT_DOUBLE, C_OPT(mask), "0.5", OPEN01, 0, 1, NULL,
     "r: the share of an uploaded row's tokens per encoder that is masked, in (0, 1)", 0},
    {"cdcca.keep", OPT_CHOICE, C_OPT(keep_name), "certain", 0, 0, 0, "certain|uncertain",
     "certain = mask the most uncertain tokens (the released code); uncertain = mask the least "
     "uncertain (the paper's reading)",
     0},
    {"cdcca.mc", OPT_INT, C_OPT(mc), "10", OPT_LO | OPT_HI, 2, 1000, NULL,
     "Monte-Carlo dropout passes per uploaded row", 0},
    {"cdcca.mc-p", OPT_DOUBLE, C_OPT(mc_p), "0.5", OPEN01, 0, 1, NULL,
     "Monte-Carlo dropout probability on the tokens before the projector", 0},
    {"cdcca.dwc", OPT_BOOL, C_OPT(dwc), "true", 0, 0, 0, NULL,
     "compressed downlink (false = every adapter tensor in float32)", 0},
    {"cdcca.tau", OPT_DOUBLE, C_OPT(tau), "0.001", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "DWC: a tensor is sent when ||delta|| / ||theta|| >= tau (>= 0)", 0},
    {"cdcca.rho", OPT_DOUBLE, C_OPT(rho), "1", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 1, NULL,
     "DWC: the share of a sent tensor's entries, largest |delta| first, in (0, 1]", 0},
    {"cdcca.dwc-format", OPT_CHOICE, C_OPT(dwc_fmt_name), "nf4", 0, 0, 0, "nf4|int4|int8",
     "DWC: the values' format, blocks of 64 with absmax scales", 0},
    {"cdcca.epochs", OPT_INT, C_OPT(epochs), "3", OPT_LO | OPT_HI, 1, 1000, NULL,
     "the cloud's passes over a device's uploads per round", 0},
    {"cdcca.lr", OPT_DOUBLE, C_OPT(lr), "0.0003", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10, NULL,
     "the cloud's AdamW peak learning rate", 0},
    {"cdcca.lr-min", OPT_DOUBLE, C_OPT(lr_min), "0.00005", OPT_LO | OPT_HI, 0, 10, NULL,
     "the cosine schedule's final learning rate", 0},
    {"cdcca.wd", OPT_DOUBLE, C_OPT(wd), "0.02", OPT_LO | OPT_HI, 0, 10, NULL,
     "the cloud's AdamW weight decay", 0},
    {"cdcca.clip", OPT_DOUBLE, C_OPT(clip), "2", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 1e6, NULL,
     "the cloud's gradient clipping (global norm)", 0},
    {"cdcca.warmup", OPT_DOUBLE, C_OPT(warmup), "0.2", OPT_LO | OPT_HI, 0, 1, NULL,
     "warm-up, as a share of the first pass", 0},
    {"cdcca.kd-hidden", OPT_DOUBLE, C_OPT(kd_hidden), "1", OPT_LO | OPT_HI, 0, 1000, NULL,
     "akd: weight of the feature KD on the final hidden states", 0},
    {"cdcca.kd-query", OPT_DOUBLE, C_OPT(kd_query), "1", OPT_LO | OPT_HI, 0, 1000, NULL,
     "akd: weight of the feature KD on the projected encoder tokens", 0},
    {"cdcca.kd-t", OPT_DOUBLE, C_OPT(kd_t), "2", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 100, NULL,
     "logit-kd: temperature", 0},
    {"cdcca.source-rows", OPT_INT, C_OPT(source_rows), "1024", OPT_LO | OPT_HI, 1, 1 << 24, NULL,
     "public rows the source model is tuned on before round 1", 0},
    {"cdcca.source-epochs", OPT_INT, C_OPT(source_epochs), "2", OPT_LO | OPT_HI, 0, 1000, NULL,
     "passes of that tuning (0 = the base model's adapters as they start)", 0},
    {"cdcca.source-lr", OPT_DOUBLE, C_OPT(source_lr), "0.002", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10,
     NULL, "its AdamW learning rate", 0},
    {"cdcca.tta-lr", OPT_DOUBLE, C_OPT(tta_lr), "0.0005", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10,
     NULL, "tent, cotta: the device's Adam learning rate", 0},
    {"cdcca.cotta-ema", OPT_DOUBLE, C_OPT(cotta_ema), "0.999", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1,
     NULL, "cotta: the EMA teacher's decay", 0},
    {"cdcca.cotta-restore", OPT_DOUBLE, C_OPT(cotta_restore), "0.01", OPT_LO | OPT_HI, 0, 1, NULL,
     "cotta: the probability that an adapter value returns to the source model's each step", 0},
    {"cdcca.cotta-augs", OPT_INT, C_OPT(cotta_augs), "4", OPT_LO | OPT_HI, 1, 64, NULL,
     "cotta: augmented copies averaged into a pseudo-label", 0},
    {"cdcca.captions", OPT_DOUBLE, C_OPT(captions), "0", OPT_LO | OPT_HI, 0, 1, NULL,
     "the share of rows with an image or audio that ask for a caption (free-form, scored by "
     "BLEU) instead of the multiple-choice question, on the stream, the test rows and the "
     "source tuning; 0 = multiple choice only",
     0},
    {"cdcca.cap-len", OPT_INT, C_OPT(cap_len), "48", OPT_LO | OPT_HI, 1, 256, NULL,
     "the longest caption a model generates, in tokens (greedy decoding)", 0},
    {"cdcca.source-cap-epochs", OPT_INT, C_OPT(source_cap_epochs), "6", OPT_LO | OPT_HI, 0, 1000,
     NULL,
     "with --cdcca.captions: the source tuning's passes over the public rows' true captions alone, "
     "before its --cdcca.source-epochs passes that mix the question and the caption",
     0},
};

static const char *const adapt_names[] = {"none", "akd", "pseudo", "logit-kd", "tent", "cotta"};

int cdcca_adapt_of(const char *name) {
    for (int i = 0; i < (int)(sizeof adapt_names / sizeof *adapt_names); i++)
        if (!strcmp(name, adapt_names[i])) return i;
    return -1;
}

int cdcca_opts_validate(const void *opts, const OptSet *set, char *err, size_t cap) {
    const CdccaOpts *o = opts;
    (void)set;
    if (cdcca_adapt_of(o->adapt_name) < 0) {
        snprintf(err, cap, "--cdcca.adapt=%s: unknown", o->adapt_name);
        return OPT_ERR_BAD_VALUE;
    }
    if (o->lr_min > o->lr) {
        snprintf(err, cap, "--cdcca.lr-min=%g is above --cdcca.lr=%g", o->lr_min, o->lr);
        return OPT_ERR_BAD_VALUE;
    }
    return OPT_OK;
}
