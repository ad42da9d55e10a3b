// fedmkt.c - FedMKT-style logit exchange (Fan et al., COLING 2025) in BoMM's harness: the parties
// upload embeddings and soft labels of sampled rows, the cloud's large model distils from them and
// sends its soft labels back; the small models are FedAvg-ed. No prototypes, no alignment, no
// completion. [I] adaptation: FedMKT exchanges logits on a public dataset;
// here the uploaded rows play that part.
#include <stddef.h>

#include "methods/method.h"
#include "protocols/bomm.h"

typedef struct {
    int upload, upload_labels;
    double kd, mm_kd;
} FedmktOpts;

static const OptSpec fedmkt_opts[] = {
    {"fedmkt.upload", OPT_INT, offsetof(FedmktOpts, upload), "128", OPT_LO | OPT_HI, 1, 65536, NULL,
     "rows a party uploads per round", 0},
    {"fedmkt.upload-labels", OPT_BOOL, offsetof(FedmktOpts, upload_labels), "true", 0, 0, 0, NULL,
     "each uploaded row carries its true label, the large model's CE target (false: the argmax of "
     "its uploaded soft labels stands in). Privacy cost when true: the cloud learns the label of "
     "every uploaded row, hence each party's class distribution",
     0},
    {"fedmkt.kd", OPT_DOUBLE, offsetof(FedmktOpts, kd), "0.5", OPT_LO | OPT_HI, 0, 1000, NULL,
     "party: weight of the distillation from the large model", 0},
    {"fedmkt.mm-kd", OPT_DOUBLE, offsetof(FedmktOpts, mm_kd), "0.5", OPT_LO | OPT_HI, 0, 1000, NULL,
     "large model: weight of the distillation from the small models", 0},
};

static void fedmkt_settings(BommSettings *s, const void *opts) {
    const FedmktOpts *o = opts;
    bomm_settings_defaults(s);
    s->use_mm = 1;
    s->upload = o->upload;
    s->upload_labels = o->upload_labels;
    s->kd = o->kd;
    s->mm_kd = o->mm_kd;
    s->mm_con = 0;
    s->gpa = 0; // every uploaded row, as uploaded: FedMKT distils on all of its shared data
    s->dpo = 0;
}

static const BommExt fedmkt_ext = {.settings = fedmkt_settings};

const Method method_fedmkt = {
    .opt = {.name = "fedmkt",
            .summary = "FedMKT-style: soft labels both ways between the small models and the "
                       "cloud's large model on uploaded rows, FedAvg among the small models",
            .provenance =
                "Fan et al. 2025 (FATE-LLM fedmkt), adapted: uploaded rows instead of public data",
            .opts = fedmkt_opts,
            .n_opts = 4,
            .size = sizeof(FedmktOpts)},
    .protocol = &protocol_bomm,
    .ext = &fedmkt_ext,
};
