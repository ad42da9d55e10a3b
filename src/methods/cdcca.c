// cdcca.c - CD-CCA (Wang et al., CVPR 2024): devices with a compressed multimodal LLM adapt to a
// shifting stream with the cloud's teacher: uncertainty-guided token sampling up, adapter-based
// knowledge distillation on the cloud, compressed weight updates down. --cdcca.adapt picks the
// baselines that share its stream and evaluation (protocols/cdcca.h).
#include "protocols/cdcca.h"
#include "methods/method.h"

const Method method_cdcca = {
    .opt = {.name = "cdcca",
            .summary = "CD-CCA: cloud-device continual adaptation of a compressed multimodal LLM "
                       "(UTS uplink, AKD on the cloud, DWC downlink) and the TENT, CoTTA, "
                       "pseudo-label, logit-KD and source-only baselines on its stream",
            .provenance = "Wang et al., CVPR 2024 (arXiv 2312.16279) and its released code; the "
                          "DWC selection and the toy sizes are our reconstruction",
            .opts = cdcca_opts,
            .n_opts = CDCCA_N_OPTS,
            .size = sizeof(CdccaOpts),
            .validate = cdcca_opts_validate},
    .protocol = &protocol_cdcca,
};
