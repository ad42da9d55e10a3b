// fedadam.c - FedAdam (Reddi et al., ICLR 2021; FedMLLM's fed_global.py): Adam server step on the
// pseudo-gradient mean − global. The rule and its state are in fedopt.h.
#include "methods/fedopt.h"

static const OptSpec fedadam_opts[] = {FEDOPT_OPTS(fedadam)};

FEDOPT_METHOD(fedadam, FEDOPT_ADAM, fedadam_opts,
              "FedAdam: Adam server step on the averaged update");
