// fedproto.c - FedProto (Tan et al., AAAI 2022; docs/methods.md §5.2): parties keep their own
// models and exchange only class prototypes of their representation. Every round each party trains
// on CE + λ·mean_i ‖u_i − P̄_{y_i}‖² (u the fused representation, P̄ the global prototypes of the
// last exchange; rows whose class has no global prototype add nothing), then sends per-class sums
// and counts of u over its training rows; the cloud's P̄_c = Σ_k n_{k,c} p_{k,c} / Σ_k n_{k,c} is
// exact and -np independent (comm/proto_reduce.h). The protocol does the exchange
// (protocols/repr.h); this file is the regulariser. Inference is the head, as for every method.
#include <stddef.h>

#include "core/die.h"
#include "methods/method.h"
#include "protocols/repr.h"

typedef struct {
    double lambda;
} FedprotoOpts;

static const OptSpec fedproto_opts[] = {
    {"fedproto.lambda", OPT_DOUBLE, offsetof(FedprotoOpts, lambda), "1", OPT_LO, 0, 0, NULL,
     "weight of the prototype distance mean_i |u_i - P_{y_i}|^2 (0 = local training)", 0},
};

static double fedproto_term(float *drep, const RepBatch *b, const void *opts) {
    CHECK_PTR(drep);
    CHECK(b->B >= 1 && b->D >= 1 && b->K >= 1, "B=%d D=%d K=%d", b->B, b->D, b->K);
    if (!b->protos) return 0.0; // round 1: no exchange yet
    CHECK(b->u && b->labels && b->proto_valid, "u, labels or proto_valid is NULL");
    const FedprotoOpts *o = opts;
    double lambda = o->lambda, sum = 0;
    double g = 2.0 * lambda / b->B;
    for (int i = 0; i < b->B; i++) {
        int y = b->labels[i];
        CHECK(y >= 0 && y < b->K, "labels[%d] = %d outside [0, %d)", i, y, b->K);
        if (!b->proto_valid[y]) continue;
        const float *u = b->u + (size_t)i * b->D;
        const double *p = b->protos + (size_t)y * b->D;
        float *d = drep + (size_t)i * b->D;
        for (int j = 0; j < b->D; j++) {
            double e = (double)u[j] - p[j];
            sum += e * e;
            d[j] += (float)(g * e);
        }
    }
    return lambda * sum / b->B;
}

static const ReprExt fedproto_ext = {.term = fedproto_term, .own_models = 1, .prototypes = 1};

const Method method_fedproto = {
    .opt = {.name = "fedproto",
            .summary =
                "FedProto: own models, exchange of class prototypes of u, CE + lambda |u - P_y|^2",
            .provenance =
                "Tan et al. 2022 (AAAI), Algorithm 1; squared L2 to the prototype, head inference",
            .opts = fedproto_opts,
            .n_opts = 1,
            .size = sizeof(FedprotoOpts)},
    .protocol = &protocol_repr,
    .ext = &fedproto_ext,
};
