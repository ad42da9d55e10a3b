// bomm_settings.c - the options of BoMM (keys "bomm.*"), the only place their defaults are written,
// and the settings every method of the large–small collaboration starts from (bomm.h).
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "protocols/bomm.h"

#define B_OPT(f) offsetof(BommSettings, f)
const OptSpec bomm_opts[BOMM_N_OPTS] = {
    {"bomm.gpa", OPT_BOOL, B_OPT(gpa), "true", 0, 0, 0, NULL,
     "global prototype-guided alignment: pseudo-aligned cross-modal pairs for the large model", 0},
    {"bomm.mm-singles", OPT_BOOL, B_OPT(singles), "true", 0, 0, 0, NULL,
     "the large model also learns from uploaded single-modality rows (false = aligned rows and "
     "pseudo-aligned pairs only)",
     0},
    {"bomm.dpo", OPT_BOOL, B_OPT(dpo), "true", 0, 0, 0, NULL,
     "train the generators with DPO after the warm-up (false = supervised only)", 0},
    {"bomm.schedule", OPT_CHOICE, B_OPT(schedule_name), "both", 0, 0, 0, "both|mix|admit|none",
     "real-time scheduling: mix = λ_t decays from 1 to lambda-min; admit = completions enter "
     "training only if cos(ẑ, P) >= γ_t, γ_t rising; none = fixed λ, no threshold",
     0},
    {"bomm.tau", OPT_DOUBLE, B_OPT(tau), "0.1", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 100, NULL,
     "temperature of the similarity distributions over the prototypes", 0},
    {"bomm.delta", OPT_DOUBLE, B_OPT(delta), "0.1", OPT_LO | OPT_HI, 0, 0.6931471805599453, NULL,
     "Jensen-Shannon threshold (nats, at most ln 2) of a pseudo-aligned pair", 0},
    {"bomm.kappa", OPT_DOUBLE, B_OPT(kappa), "0.6", OPT_LO | OPT_HI, 0, 1, NULL,
     "confidence threshold (max similarity probability) of a pseudo-aligned pair", 0},
    {"bomm.upload", OPT_INT, B_OPT(upload), "128", OPT_LO | OPT_HI, 1, 65536, NULL,
     "candidate rows a party uploads per round (embeddings and soft labels, never raw data)", 0},
    {"bomm.upload-labels", OPT_BOOL, B_OPT(upload_labels), "true", 0, 0, 0, NULL,
     "each uploaded row carries its true label, the large model's CE target and the generators' "
     "reward class (false: the argmax of the row's uploaded soft labels stands in). Privacy cost "
     "when true: the cloud learns the label of every uploaded row, hence each party's class "
     "distribution and the class of individual samples",
     0},
    {"bomm.kd", OPT_DOUBLE, B_OPT(kd), "0.5", OPT_LO | OPT_HI, 0, 1000, NULL,
     "party: weight of the distillation from the large model's soft labels", 0},
    {"bomm.mm-kd", OPT_DOUBLE, B_OPT(mm_kd), "0.5", OPT_LO | OPT_HI, 0, 1000, NULL,
     "large model: weight of the distillation from the small models' soft labels", 0},
    {"bomm.mm-con", OPT_DOUBLE, B_OPT(mm_con), "0.1", OPT_LO | OPT_HI, 0, 1000, NULL,
     "large model: weight of the cross-modal InfoNCE", 0},
    {"bomm.mm-width", OPT_INT, B_OPT(mm_width), "256", OPT_LO | OPT_HI, 4, 4096, NULL,
     "large model width (a multiple of mm-heads)", 0},
    {"bomm.mm-layers", OPT_INT, B_OPT(mm_layers), "4", OPT_LO | OPT_HI, 1, 64, NULL,
     "large model transformer blocks", 0},
    {"bomm.mm-heads", OPT_INT, B_OPT(mm_heads), "4", OPT_LO | OPT_HI, 1, 64, NULL,
     "large model heads", 0},
    {"bomm.mm-tokens", OPT_INT, B_OPT(mm_tokens), "1", OPT_LO | OPT_HI, 1, 64, NULL,
     "large model tokens per modality", 0},
    {"bomm.mm-epochs", OPT_INT, B_OPT(mm_epochs), "1", OPT_LO | OPT_HI, 1, 1000, NULL,
     "large model passes over the round's aligned and pseudo-aligned samples", 0},
    {"bomm.mm-lr", OPT_DOUBLE, B_OPT(mm_lr), "0.001", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10, NULL,
     "large model AdamW learning rate", 0},
    {"bomm.gen-hidden", OPT_INT, B_OPT(gen_hidden), "128", OPT_LO | OPT_HI, 1, 4096, NULL,
     "generator hidden width", 0},
    {"bomm.gen-epochs", OPT_INT, B_OPT(gen_epochs), "2", OPT_LO | OPT_HI, 1, 1000, NULL,
     "generator passes over the round's uploaded rows", 0},
    {"bomm.gen-lr", OPT_DOUBLE, B_OPT(gen_lr), "0.001", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10, NULL,
     "generator AdamW learning rate", 0},
    {"bomm.warmup", OPT_INT, B_OPT(warmup), "3", OPT_LO | OPT_HI, 0, 1000000, NULL,
     "rounds of supervised-only generator training; the reference policy is their result", 0},
    {"bomm.candidates", OPT_INT, B_OPT(candidates), "4", OPT_LO | OPT_HI, 2, 64, NULL,
     "candidates sampled per row for a DPO preference pair", 0},
    {"bomm.dpo-rows", OPT_INT, B_OPT(dpo_rows), "64", OPT_LO | OPT_HI, 1, 65536, NULL,
     "rows per generator and round that get a preference pair", 0},
    {"bomm.beta", OPT_DOUBLE, B_OPT(beta), "0.1", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 1000, NULL,
     "DPO temperature beta", 0},
    {"bomm.sigma", OPT_DOUBLE, B_OPT(sigma), "0.2", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 100, NULL,
     "standard deviation of the generators' Gaussian policy, relative to the RMS of the target "
     "modality's prototypes (embedding scales differ by data set)",
     0},
    {"bomm.eta", OPT_DOUBLE, B_OPT(eta), "1", OPT_LO | OPT_HI, 0, 1000, NULL,
     "reward: weight of the prototype consistency next to the large model's label likelihood", 0},
    {"bomm.lambda-min", OPT_DOUBLE, B_OPT(lambda_min), "0.2", OPT_LO | OPT_HI, 0, 1, NULL,
     "schedule mix: the supervised weight λ_t decays to this at the last round", 0},
    {"bomm.lambda", OPT_DOUBLE, B_OPT(lambda_fixed), "0.5", OPT_LO | OPT_HI, 0, 1, NULL,
     "the supervised weight λ when the mixing weight is not scheduled", 0},
    {"bomm.lambda-a", OPT_DOUBLE, B_OPT(lambda_a), "0.1", OPT_LO | OPT_HI, 0, 1000, NULL,
     "prototype anchoring weight inside the supervised term", 0},
    {"bomm.gamma0", OPT_DOUBLE, B_OPT(gamma0), "0.5", OPT_LO | OPT_HI, -1, 1, NULL,
     "schedule admit: the admission threshold at round 1", 0},
    {"bomm.gamma1", OPT_DOUBLE, B_OPT(gamma1), "0.9", OPT_LO | OPT_HI, -1, 1, NULL,
     "schedule admit: the admission threshold at the last round", 0},
};
#undef B_OPT

int bomm_settings_validate(const void *opts, const OptSet *set, char *err, size_t cap) {
    (void)set;
    const BommSettings *s = opts;
    if (s->mm_width % s->mm_heads != 0) {
        snprintf(err, cap, "--bomm.mm-width=%d is not a multiple of --bomm.mm-heads=%d",
                 s->mm_width, s->mm_heads);
        return OPT_ERR_BAD_VALUE;
    }
    return OPT_OK;
}

void bomm_settings_defaults(BommSettings *s) {
    char err[512];
    memset(s, 0, sizeof *s);
    CHECK(opts_set_defaults(bomm_opts, BOMM_N_OPTS, s, err, sizeof err) == OPT_OK, "%s", err);
}
