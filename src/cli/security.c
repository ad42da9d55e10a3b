// security.c - the defences' option table and the rules between them (see security.h).
#include "cli/security.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define S(f) offsetof(SecurityOpts, f)

const OptSpec security_opts[] = {
    {"robust", OPT_CHOICE, S(robust), "none", 0, 0, 0, "none|reject|clip|median|trimmed-mean|krum",
     "the cloud's defence against bad updates: reject (updates longer than robust.norm), clip "
     "(norm bounding at the party, to robust.norm), median, trimmed-mean (coordinate-wise), krum "
     "(multi-Krum with robust.m); a non-finite or out-of-range update is rejected under every "
     "rule, never fatal; the verdicts are in run.h5 (party_verdict)",
     0},
    {"robust.norm", OPT_DOUBLE, S(robust_norm), "0", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "L2 bound on a party's update w - w_global for reject and clip", 0},
    {"robust.trim", OPT_DOUBLE, S(robust_trim), "0.2", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 0.5, NULL,
     "trimmed-mean: share of the values cut at each end of every coordinate", 0},
    {"robust.f", OPT_INT, S(robust_f), "1", OPT_LO | OPT_HI, 0, 100000, NULL,
     "krum: attackers assumed (needs more than 2f + 2 updates a round)", 0},
    {"robust.m", OPT_INT, S(robust_m), "1", OPT_LO | OPT_HI, 1, 100000, NULL,
     "krum: the m best-scored updates are averaged (1 = Krum)", 0},
    {"attack", OPT_CHOICE, S(attack), "none", 0, 0, 0, "none|signflip|scale|noise|nan",
     "simulated attack by --attackers parties on their updates: signflip (-s times), scale (s "
     "times), noise (replaced by N(0, s^2)), nan (NaN entries), s = attack.strength",
     0},
    {"attackers", OPT_INT, S(attackers), "0", OPT_LO | OPT_HI, 0, 100000, NULL,
     "parties that attack, the same ones every round (drawn from --seed.sample)", 0},
    {"attack.strength", OPT_DOUBLE, S(attack_strength), "", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "the attack's factor s (\"\" = signflip 1, scale 10, noise 1)", OPT_UNSET_OK},
    {"sample-mode", OPT_CHOICE, S(sample_mode), "fixed", 0, 0, 0, "fixed|poisson",
     "fixed: --sample parties a round, without replacement; poisson: each party independently "
     "with probability --sample/--parties (what the DP accountant analyses)",
     0},
    {"dp.clip", OPT_DOUBLE, S(dp_clip), "0", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "client-level DP (DP-FedAvg): each party's update clipped to L2 norm C, the mean over the "
     "expected participants, Gaussian noise dp.noise * C on the sum (0 = DP off)",
     0},
    {"dp.noise", OPT_DOUBLE, S(dp_noise), "1", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "DP: noise multiplier sigma (noise std on the sum = sigma * dp.clip)", 0},
    {"dp.delta", OPT_DOUBLE, S(dp_delta), "1e-5", OPT_LO | OPT_LO_OPEN | OPT_HI | OPT_HI_OPEN, 0, 1,
     NULL, "DP: the delta of the (epsilon, delta) the accountant reports each round", 0},
    {"secagg", OPT_BOOL, S(secagg), "false", 0, 0, 0, NULL,
     "secure aggregation: pairwise masks (X25519, ChaCha20) in the exact fixed-point ring, so the "
     "cloud sees only masked updates and their exact sum; masks of parties that vanish are "
     "recovered from Shamir shares",
     0},
    {"secagg.threshold", OPT_DOUBLE, S(secagg_threshold), "0.5", OPT_LO | OPT_HI, 0, 100000, NULL,
     "secagg: shares needed to recover a secret: F < 1 = more than the share F of the round's "
     "members (0.5: a strict majority), a whole number = that many; a round with fewer "
     "survivors fails and leaves the model unchanged (docs/secagg.md)",
     0},
    {"secagg.drop", OPT_DOUBLE, S(secagg_drop), "0", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "secagg: probability that a member vanishes after sharing its keys, before its masked update "
     "(tests the recovery)",
     0},
    {"straggler.deadline", OPT_DOUBLE, S(straggler_deadline), "0", OPT_LO | OPT_HI, 0, 1e6, NULL,
     "a round's deadline, in units of the time a party with the mean number of rows takes at "
     "nominal speed; later parties' updates are dropped (0 = wait for all)",
     0},
    {"straggler.sigma", OPT_DOUBLE, S(straggler_sigma), "0.5", OPT_LO | OPT_HI, 0, 10, NULL,
     "stragglers: a party's speed each round is exp(sigma * N(0, 1)) (log-normal)", 0},
};
const int security_n_opts = (int)(sizeof security_opts / sizeof security_opts[0]);

static int order_statistic(const char *rule) {
    return !strcmp(rule, "median") || !strcmp(rule, "trimmed-mean") || !strcmp(rule, "krum");
}

int security_check(const SecurityOpts *s, int parties, int sample, char *err, size_t cap) {
    const char *r = s->robust;
    int expected = sample > 0 ? sample : parties; // participants of a round, before dropouts
    if ((!strcmp(r, "reject") || !strcmp(r, "clip")) && s->robust_norm <= 0) {
        snprintf(err, cap, "--robust=%s needs --robust.norm > 0 (the L2 bound), not %g", r,
                 s->robust_norm);
        return OPT_ERR_BAD_VALUE;
    }
    if (!strcmp(r, "krum") && expected <= 2 * s->robust_f + 2) {
        snprintf(err, cap,
                 "--robust=krum with --robust.f=%d needs more than %d updates a round, but a round "
                 "has at most %d (--sample=%d, --parties=%d)",
                 s->robust_f, 2 * s->robust_f + 2, expected, sample, parties);
        return OPT_ERR_BAD_VALUE;
    }
    if (!strcmp(r, "krum") && s->robust_m > expected - s->robust_f) {
        snprintf(err, cap, "--robust.m=%d exceeds the %d - --robust.f=%d updates Krum may keep",
                 s->robust_m, expected, s->robust_f);
        return OPT_ERR_BAD_VALUE;
    }
    if ((strcmp(s->attack, "none") != 0) != (s->attackers > 0)) {
        snprintf(err, cap,
                 "--attack=%s with --attackers=%d: give both an attack and attackers >= 1",
                 s->attack, s->attackers);
        return OPT_ERR_BAD_VALUE;
    }
    if (s->attackers > parties) {
        snprintf(err, cap, "--attackers=%d exceeds --parties=%d", s->attackers, parties);
        return OPT_ERR_BAD_VALUE;
    }
    if (!strcmp(s->sample_mode, "poisson") && sample == 0) {
        snprintf(err, cap,
                 "--sample-mode=poisson needs --sample > 0 (the expected parties a round; the "
                 "rate is --sample/--parties)");
        return OPT_ERR_BAD_VALUE;
    }
    if (security_dp(s)) {
        if (sample > 0 && sample < parties && strcmp(s->sample_mode, "poisson") != 0) {
            snprintf(err, cap,
                     "--dp.clip=%g with --sample=%d of %d parties: the accountant analyses Poisson "
                     "sampling; add --sample-mode=poisson",
                     s->dp_clip, sample, parties);
            return OPT_ERR_BAD_VALUE;
        }
        if (strcmp(r, "none") != 0) {
            snprintf(err, cap,
                     "--dp.clip=%g with --robust=%s: DP clips every update itself and its noise "
                     "analysis assumes the plain sum; use --robust=none",
                     s->dp_clip, r);
            return OPT_ERR_BAD_VALUE;
        }
        if (s->dp_noise <= 0) {
            snprintf(err, cap, "--dp.clip=%g needs --dp.noise > 0 (noise 0 gives no privacy)",
                     s->dp_clip);
            return OPT_ERR_BAD_VALUE;
        }
    }
    if (s->secagg && order_statistic(r)) {
        snprintf(err, cap,
                 "--secagg with --robust=%s: the cloud sees only the masked sum, and %s needs each "
                 "party's update; use --robust=none, reject or clip (norm bounding at the parties, "
                 "before masking)",
                 r, r);
        return OPT_ERR_BAD_VALUE;
    }
    if (!s->secagg && s->secagg_drop > 0) {
        snprintf(err, cap, "--secagg.drop=%g without --secagg", s->secagg_drop);
        return OPT_ERR_BAD_VALUE;
    }
    return OPT_OK;
}
