// meanfill.c - mean-fill: BoMM's harness (src/fl/collab.c) without the cloud's large model.
#include "methods/method.h"

static void meanfill_settings(CollabSettings *s, const Config *cfg) {
    (void)cfg;
    collab_defaults(s);
    s->fill = FILL_MEAN;
}

const FlMethod fl_method_meanfill = {
    .name = "meanfill",
    .summary = "mean-fill",
    .provenance = " a missing modality's block is that modality's global mean embedding, "
                  "FedAvg:completion baseline (research/methods.md §1.8)",
    .kind = METHOD_COLLAB,
    .server_update = method_server_mean,
    .collab_settings = meanfill_settings,
};
