// protofill.c - prototype-fill: BoMM's harness (src/fl/collab.c) without the cloud's large model.
#include "methods/method.h"

static void protofill_settings(CollabSettings *s, const Config *cfg) {
    (void)cfg;
    collab_defaults(s);
    s->fill = FILL_PROTO;
}

const FlMethod fl_method_protofill = {
    .name = "protofill",
    .summary = "prototype-fill",
    .provenance =
        " a missing modality's block is the global prototype of the row's pseudo-label "
        "(PmcmFL-style), FedAvg:PmcmFL (Bao et al., AAAI 2024) prototype masks, as a fill [S]",
    .kind = METHOD_COLLAB,
    .server_update = method_server_mean,
    .collab_settings = protofill_settings,
};
