// fedavgm.c - FedAvgM (Reddi et al., ICLR 2021; FedMLLM's fed_global.py): server momentum on the
// pseudo-gradient mean − global. The rule and its state are in fedopt.h.
#include "methods/fedopt.h"

// Only beta1 (and the variant) applies: FedAvgM adds the momentum without a server learning rate.
static const OptSpec fedavgm_opts[] = {
    {"fedavgm.beta1", OPT_DOUBLE, offsetof(FedOptOpts, beta1), "0.9", OPT_LO | OPT_HI, 0, 1, NULL,
     "server momentum (EMA of the averaged update)", 0},
    FEDOPT_VARIANT_OPTS(fedavgm),
};

FEDOPT_METHOD(fedavgm, FEDOPT_AVGM, fedavgm_opts,
              "FedAvgM: server momentum on the averaged update");
