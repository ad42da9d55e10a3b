// fedma_settings.c - the options of Fed-CMP and the baselines on its task (keys "fedcmp.*"), the
// only place their defaults are written (fedma.h). The reconstruction's defaults (methods as in
// docs/fedcmp.md): rank 8 and temperature 1 at toy scale, OPM with β = 0.9, γ = 1; the local
// optimiser SGD with momentum 0.9 for every method (SCAFFOLD and FedNova are defined for local
// SGD).
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "protocols/fedma.h"

#define F_OPT(f) offsetof(FedmaOpts, f)
#define POS OPT_LO | OPT_LO_OPEN | OPT_HI
const OptSpec fedma_opts[FEDMA_N_OPTS] = {
    {"fedcmp.agg", OPT_CHOICE, F_OPT(agg_name), "craa", 0, 0, 0,
     "craa|knots|ties|fedavg|fedprox|fedavgm|fedadam|fedyogi|scaffold|fednova|local|central",
     "the cloud's aggregation: craa = Fed-CMP (CRAA + OPM, a reconstruction); knots = CRAA with "
     "plain weights, no momentum; the rest the baselines",
     0},
    {"fedcmp.reliability", OPT_CHOICE, F_OPT(rel_name), "agreement", 0, 0, 0,
     "agreement|sign|distance|reported",
     "CRAA's reliability of a party's coefficients: cosine with the consensus, sign agreement, "
     "inverse distance, or its reported loss decrease",
     0},
    {"fedcmp.svd", OPT_CHOICE, F_OPT(svd_name), "auto", 0, 0, 0, "auto|lapacke|scalapack",
     "where CRAA's SVD runs: LAPACKE on the cloud, or ScaLAPACK over --fedcmp.grid from the "
     "parties' ranks; auto: ScaLAPACK from --fedcmp.svd-threshold",
     0},
    {"fedcmp.grid", OPT_STRING, F_OPT(grid), "1x1", 0, 0, 0, NULL,
     "ScaLAPACK's process grid PxQ (the first P·Q ranks; at most the run's ranks)", 0},
    {"fedcmp.local", OPT_CHOICE, F_OPT(local_name), "sgdm", 0, 0, 0, "sgdm|adamw",
     "the parties' optimiser, fresh each round", 0},
    {"fedcmp.rank", OPT_INT, F_OPT(rank), "8", OPT_LO | OPT_HI, 1, 1 << 20, NULL,
     "CRAA's rank r >= 1: at most min(d_out, K·d_in) of every projector matrix", 0},
    {"fedcmp.full-rank", OPT_BOOL, F_OPT(full_rank), "false", 0, 0, 0, NULL,
     "CRAA keeps every singular triplet (--fedcmp.rank is then ignored; with OPM the basis has "
     "d_out columns)",
     0},
    {"fedcmp.temp", OPT_DOUBLE, F_OPT(temp), "1", POS, 0, 1e6, NULL,
     "the reliability weights' softmax temperature", 0},
    {"fedcmp.eps", OPT_DOUBLE, F_OPT(eps), "1e-8", POS, 0, 1, NULL,
     "the distance reliability's epsilon", 0},
    {"fedcmp.per-row", OPT_BOOL, F_OPT(per_row), "false", 0, 0, 0, NULL,
     "reliability weights per basis direction instead of per party", 0},
    {"fedcmp.opm", OPT_BOOL, F_OPT(opm), "true", 0, 0, 0, NULL,
     "craa: orthogonality-preserved momentum on the shared basis", 0},
    {"fedcmp.opm-align", OPT_BOOL, F_OPT(opm_align), "true", 0, 0, 0, NULL,
     "OPM: Procrustes-align each round's basis to the previous one (false: the ablation)", 0},
    {"fedcmp.opm-retract", OPT_BOOL, F_OPT(opm_retract), "true", 0, 0, 0, NULL,
     "OPM: retract the moved basis by thin QR (false: the ablation)", 0},
    {"fedcmp.beta", OPT_DOUBLE, F_OPT(beta), "0.9", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "OPM's momentum, in [0, 1)", 0},
    {"fedcmp.gamma", OPT_DOUBLE, F_OPT(gamma), "1", OPT_LO | OPT_HI, 0, 100, NULL,
     "OPM's step along the momentum", 0},
    {"fedcmp.svd-threshold", OPT_DOUBLE, F_OPT(svd_threshold), "16777216", POS, 0, 1e18, NULL,
     "auto: ScaLAPACK when d_out · K·d_in reaches this many entries (docs/svd_paths.md)", 0},
    {"fedcmp.chunk", OPT_INT, F_OPT(chunk), "64", OPT_LO | OPT_HI, 1, 1 << 24, NULL,
     "rows a sampled party reads per round (one pass: chunk t in round t)", 0},
    {"fedcmp.lr", OPT_DOUBLE, F_OPT(lr), "0.05", POS, 0, 100, NULL, "the parties' learning rate",
     0},
    {"fedcmp.momentum", OPT_DOUBLE, F_OPT(momentum), "0.9", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1,
     NULL, "sgdm's momentum (adamw: β1), in [0, 1)", 0},
    {"fedcmp.wd", OPT_DOUBLE, F_OPT(wd), "0", OPT_LO | OPT_HI, 0, 10, NULL,
     "the parties' weight decay", 0},
    {"fedcmp.mu", OPT_DOUBLE, F_OPT(mu), "0.01", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "fedprox's proximal weight", 0},
    {"fedcmp.server-lr", OPT_DOUBLE, F_OPT(server_lr), "0.01", POS, 0, 100, NULL,
     "fedadam, fedyogi: the server's learning rate", 0},
    {"fedcmp.beta1", OPT_DOUBLE, F_OPT(beta1), "0.9", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "fedavgm, fedadam, fedyogi: the server's first-moment decay", 0},
    {"fedcmp.beta2", OPT_DOUBLE, F_OPT(beta2), "0.99", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "fedadam, fedyogi: the second-moment decay", 0},
    {"fedcmp.tau", OPT_DOUBLE, F_OPT(tau), "0.001", POS, 0, 10, NULL,
     "fedadam, fedyogi: adaptivity (v starts at tau^2)", 0},
    {"fedcmp.ties-k", OPT_DOUBLE, F_OPT(ties_k), "20", POS, 0, 100, NULL,
     "ties: the share of each update's entries kept, in percent (0, 100]", 0},
    {"fedcmp.tune-steps", OPT_INT, F_OPT(tune_steps), "300", OPT_LO | OPT_HI, 0, 1 << 24, NULL,
     "the last round's centralised tuning on the public rows before the item accuracy (0 = "
     "none)",
     0},
};

static const char *const rule_names[FEDMA_N_RULES] = {"craa",     "knots",   "ties",    "fedavg",
                                                      "fedprox",  "fedavgm", "fedadam", "fedyogi",
                                                      "scaffold", "fednova", "local",   "central"};

int fedma_rule_of(const char *name) {
    for (int i = 0; i < FEDMA_N_RULES; i++)
        if (!strcmp(name, rule_names[i])) return i;
    return -1;
}

const char *fedma_rule_name(int rule) {
    return rule >= 0 && rule < FEDMA_N_RULES ? rule_names[rule] : "?";
}

int fedma_opts_validate(const void *opts, const OptSet *set, char *err, size_t cap) {
    const FedmaOpts *o = opts;
    (void)set;
    if (fedma_rule_of(o->agg_name) < 0) {
        snprintf(err, cap, "--fedcmp.agg=%s: unknown", o->agg_name);
        return OPT_ERR_BAD_VALUE;
    }
    return OPT_OK; // --fedcmp.grid against the run's ranks: at the run's start (fedma.c create)
}
