// fedavg.c - FedAvg (McMahan et al., AISTATS 2017): the global model becomes the sample-weighted
// mean of the party models trained from it. The default protocol (protocols/fedavg.h) with its
// default rule; the weighting and exactness live in the driver.
#include "protocols/fedavg.h"
#include "methods/method.h"

static const FedavgExt fedavg_ext = {0};

const Method method_fedavg = {
    .opt = {.name = "fedavg",
            .summary = "FedAvg: sample-weighted mean of the party models",
            .provenance = "McMahan et al. 2017, Algorithm 1"},
    .protocol = &protocol_fedavg,
    .ext = &fedavg_ext,
};
