// zerofill.c - zero-fill: BoMM's harness (src/fl/collab.c) without the cloud's large model.
#include "methods/method.h"

static void zerofill_settings(CollabSettings *s, const Config *cfg) {
    (void)cfg;
    collab_defaults(s);
    s->fill = FILL_ZERO;
}

const FlMethod fl_method_zerofill = {
    .name = "zerofill",
    .summary = "zero-fill",
    .provenance = " a missing modality's block is zero, in the collaboration harness (= "
                  "FedAvg):completion baseline (research/methods.md §1.8)",
    .kind = METHOD_COLLAB,
    .server_update = method_server_mean,
    .collab_settings = zerofill_settings,
};
