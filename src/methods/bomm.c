// bomm.c - BoMM: bidirectional collaboration between the cloud's multimodal large model and the
// parties' small models. [I] A reconstruction from the paper's abstract, not the authors'
// algorithm: global prototype-guided alignment (GPA: SM → LM) and preference-driven modality
// completion (PMAC: generators trained with DPO under a real-time schedule, LM → SM). The round is
// the large–small collaboration protocol (protocols/bomm.h); its options and their defaults are
// the protocol's settings table (protocols/bomm_settings.c).
#include "protocols/bomm.h"
#include "methods/method.h"

static void bomm_settings(BommSettings *s, const void *opts) {
    *s = *(const BommSettings *)opts;
    s->fill = FILL_GEN;
    s->use_mm = 1;
}

static const BommExt bomm_ext = {.settings = bomm_settings};

const Method method_bomm = {
    .opt = {.name = "bomm",
            .summary = "BoMM: prototype-guided alignment for the cloud's large model + DPO-trained "
                       "completion generators for the parties (reconstruction from the abstract)",
            .provenance = "reconstruction from the BoMM abstract (OpenReview UICyfJSRtP)",
            .opts = bomm_opts,
            .n_opts = BOMM_N_OPTS,
            .size = sizeof(BommSettings),
            .validate = bomm_settings_validate},
    .protocol = &protocol_bomm,
    .ext = &bomm_ext,
};
