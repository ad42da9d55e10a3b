// fedproto.c - FedProto (Tan et al., AAAI 2022; docs/methods.md §5.2): parties keep their own
// models and exchange only class prototypes of their representation. Every round each party trains
// on CE + λ·(1/(B·D))·Σ_i ‖u_i − P̄_{y_i}‖² (u the fused representation of width D, P̄ the global
// prototypes of the last exchange; rows whose class has no global prototype add nothing but count
// in B), the mean over the batch and the D dimensions as the reference code's nn.MSELoss takes it.
// Then it sends per-class sums and counts of u over its training rows; the cloud's
// P̄_c = Σ_k n_{k,c} p_{k,c} / Σ_k n_{k,c} is exact and -np independent (comm/proto_reduce.h).
// Inference (--fedproto.infer=proto, the paper's): the class of the nearest valid global prototype,
// as logits −‖u − P̄_c‖² (invalid classes FEDPROTO_NO_PROTO), so the test loss is the CE of their
// softmax; --fedproto.infer=head uses the model's head. The protocol does the exchange
// (protocols/repr.h); this file is the regulariser and the inference.
#include <stddef.h>
#include <string.h>

#include "core/die.h"
#include "methods/method.h"
#include "protocols/repr.h"

// The logit of a class without a global prototype: below any −distance², and finite, so that a
// row with no valid class at all gets uniform probabilities rather than NaN.
#define FEDPROTO_NO_PROTO -1e30f

typedef struct {
    double lambda;
    char infer[OPT_STR_MAX]; // "proto" | "head"
} FedprotoOpts;

static const OptSpec fedproto_opts[] = {
    {"fedproto.lambda", OPT_DOUBLE, offsetof(FedprotoOpts, lambda), "1", OPT_LO | OPT_HI, 0, 10000,
     NULL, "weight of the prototype distance mean over rows and dims of (u - P_y)^2 (0 = local)",
     0},
    {"fedproto.infer", OPT_CHOICE, offsetof(FedprotoOpts, infer), "proto", 0, 0, 0, "proto|head",
     "inference: proto = nearest global prototype (the paper's), head = the model's head", 0},
};

static double fedproto_term(float *drep, const RepBatch *b, const void *opts) {
    CHECK_PTR(drep);
    CHECK(b->B >= 1 && b->D >= 1 && b->K >= 1, "B=%d D=%d K=%d", b->B, b->D, b->K);
    if (!b->protos) return 0.0; // round 1: no exchange yet
    CHECK(b->u && b->labels && b->proto_valid, "u, labels or proto_valid is NULL");
    const FedprotoOpts *o = opts;
    double lambda = o->lambda, sum = 0, scale = (double)b->B * b->D;
    double g = 2.0 * lambda / scale;
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
    return lambda * sum / scale;
}

// logits (B, K) = −‖u_i − P̄_c‖² over the valid prototypes (infer=proto); untouched for head.
static void fedproto_logits(float *logits, const RepBatch *b, const void *opts) {
    const FedprotoOpts *o = opts;
    if (strcmp(o->infer, "proto") != 0) return;
    CHECK(logits && b->u && b->protos && b->proto_valid, "logits, u or the prototypes are NULL");
    for (int i = 0; i < b->B; i++) {
        const float *u = b->u + (size_t)i * b->D;
        for (int c = 0; c < b->K; c++) {
            float *l = logits + (size_t)i * b->K + c;
            if (!b->proto_valid[c]) {
                *l = FEDPROTO_NO_PROTO;
                continue;
            }
            const double *p = b->protos + (size_t)c * b->D;
            double dist = 0;
            for (int j = 0; j < b->D; j++) {
                double e = (double)u[j] - p[j];
                dist += e * e;
            }
            *l = (float)-dist;
        }
    }
}

static const ReprExt fedproto_ext = {
    .term = fedproto_term, .logits = fedproto_logits, .own_models = 1, .prototypes = 1};

const Method method_fedproto = {
    .opt = {.name = "fedproto",
            .summary = "FedProto: own models, exchange of class prototypes of u, CE + lambda "
                       "mean (u - P_y)^2, nearest-prototype inference",
            .provenance = "Tan et al. 2022 (AAAI), Algorithm 1 and eq. (7)-(8); the regulariser "
                          "as the reference code's MSELoss (mean over dims)",
            .opts = fedproto_opts,
            .n_opts = (int)(sizeof fedproto_opts / sizeof fedproto_opts[0]),
            .size = sizeof(FedprotoOpts)},
    .protocol = &protocol_repr,
    .ext = &fedproto_ext,
};
