// fedadagrad.c - FedAdagrad (Reddi et al., ICLR 2021; FedMLLM's fed_global.py): Adagrad server step
// on the pseudo-gradient mean − global. The rule and its state are in fedopt.h.
#include "methods/fedopt.h"

static const OptSpec fedadagrad_opts[] = {FEDOPT_OPTS(fedadagrad)};

FEDOPT_METHOD(fedadagrad, FEDOPT_ADAGRAD, fedadagrad_opts,
              "FedAdagrad: Adagrad server step on the averaged update");
