// fedyogi.c - FedYogi (Reddi et al., ICLR 2021; FedMLLM's fed_global.py): Yogi server step on the
// pseudo-gradient mean − global. The rule and its state are in fedopt.h.
#include "methods/fedopt.h"

static const OptSpec fedyogi_opts[] = {FEDOPT_OPTS(fedyogi)};

FEDOPT_METHOD(fedyogi, FEDOPT_YOGI, fedyogi_opts,
              "FedYogi: Yogi server step on the averaged update");
