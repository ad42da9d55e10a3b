// fedavg.c - FedAvg (McMahan et al., AISTATS 2017): the global model becomes the sample-weighted
// mean of the party models trained from it. The weighting and exactness live in the driver.
#include "methods/method.h"

const FlMethod fl_method_fedavg = {
    .name = "fedavg",
    .summary = "FedAvg: sample-weighted mean of the party models",
    .provenance = "McMahan et al. 2017, Algorithm 1",
    .kind = METHOD_FEDERATED,
    .server_update = method_server_mean,
};
