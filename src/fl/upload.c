// upload.c - a party's update on its way to the cloud: the attack simulator, the screen (non-
// finite, out of range, norm bound or clip, DP's clip), then the path the round takes: the exact
// sum, the update kept for the cloud's order statistics, or masked terms (run_impl.h, Federation;
// docs/security.md).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agg/attack.h"
#include "comm/exact.h"
#include "core/die.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"
#include "protocols/fedavg.h"

// Party models stay inside ±PARAM_CAP, which fixes the fixed-point exponent of the aggregation in
// model space: weights n_k/N sum to 1, so Σ|terms| <= PARAM_CAP and 2^PARAM_EXP resolution
// (~3.6e-15) is far below float32's. A model outside is rejected (verdict out of range).
#define PARAM_CAP 4096.0
#define PARAM_EXP 48

int fed_check(const Run *run, char *err, size_t cap) {
    const SecurityOpts *s = &run->cfg->sec;
    const char *what = s->secagg                        ? "--secagg"
                       : security_dp(s)                 ? "--dp.clip"
                       : strcmp(s->robust, "none") != 0 ? "--robust"
                       : strcmp(s->attack, "none") != 0 ? "--attack"
                                                        : NULL;
    if (s->secagg && secagg_threshold_check(s->secagg_threshold, run->P, err, cap) != 0) return -1;
    // DP-FedAvg's guarantee covers what the aggregation carries; a protocol with transfers of its
    // own (BoMM's rows, prototypes) would leak around it.
    if (security_dp(s) && run->method->protocol != &protocol_fedavg) {
        snprintf(
            err, cap,
            "--dp.clip with --method=%s: client-level DP covers the model updates only, and "
            "this method sends more (rows' embeddings, soft labels or prototypes); use fedavg, "
            "fedprox, fedavgm, fedadagrad, fedadam or fedyogi",
            run->cfg->method);
        return -1;
    }
    if (!what || run->shape.aggregate) return 0;
    snprintf(err, cap,
             "%s with --method=%s: this method's cloud aggregates no party models, so there is "
             "nothing to defend, attack or protect there; use a method that averages them (e.g. "
             "fedavg, fedprox, fedadam, bomm)",
             what, run->cfg->method);
    return -1;
}

void fed_init(Run *run) {
    Federation *f = &run->fed;
    const SecurityOpts *s = &run->cfg->sec;
    memset(f, 0, sizeof *f);
    int P = run->P;
    CHECK(robust_rule_from_name(s->robust, &f->robust.rule) == 0, "--robust=%s", s->robust);
    f->path = s->secagg                                   ? FED_SECAGG
              : robust_rule_needs_updates(f->robust.rule) ? FED_PARTIES
                                                          : FED_SUM;
    f->update_space = security_dp(s);
    f->robust.norm_bound = f->update_space ? s->dp_clip : s->robust_norm;
    f->robust.trim = s->robust_trim;
    f->robust.krum_f = s->robust_f;
    f->robust.krum_m = s->robust_m;
    CHECK(attack_kind_from_name(s->attack, &f->attack) == 0, "--attack=%s", s->attack);
    f->strength =
        isnan(s->attack_strength) ? attack_default_strength(f->attack) : s->attack_strength;
    f->attacker = xcalloc((size_t)P, 1);
    attack_parties(f->attacker, P, s->attackers, config_seed(run->cfg, run->cfg->seed_sample));
    f->gsel = xcalloc_aligned(run->sel.n * sizeof(float));
    f->delta = xcalloc_aligned(run->sel.n * sizeof(float));
    f->verdict = xcalloc((size_t)P, sizeof *f->verdict);
    f->norm = xcalloc((size_t)P, sizeof *f->norm);
    f->row = xcalloc((size_t)run->count + 1, sizeof *f->row);
    int sample = run->cfg->sample;
    f->dp_q = sample > 0 ? (double)sample / P : 1.0;
    if (f->path == FED_SECAGG)
        f->secagg = secagg_create(run->comm, P, s->secagg_threshold,
                                  config_seed(run->cfg, run->cfg->seed_sample));
}

void fed_free(Run *run) {
    Federation *f = &run->fed;
    if (f->secagg) secagg_destroy(f->secagg);
    xfree(f->attacker), xfree(f->gsel), xfree(f->delta), xfree(f->up);
    xfree(f->verdict), xfree(f->norm), xfree(f->row);
    memset(f, 0, sizeof *f);
}

void fed_begin_round(Run *run, const RoundInfo *r) {
    Federation *f = &run->fed;
    size_t ns = run->sel.n;
    selection_pack(&run->sel, run->global, f->gsel);
    for (int p = 0; p < run->P; p++)
        f->verdict[p] = 0, f->norm[p] = NAN;
    f->exponent = PARAM_EXP;
    if (f->update_space) { // Σ|terms| <= C Σ w: every update is clipped to C
        double wsum = 0;
        for (int p = 0; p < run->P; p++)
            wsum += r->weight[p];
        f->exponent = exact_exponent(f->robust.norm_bound * wsum);
    }
    xfree(f->up);
    f->up = NULL;
    size_t elem = f->path == FED_SECAGG ? sizeof(uint64_t) : sizeof(float);
    int senders = 0; // each hosted sender's row of the upload buffer, in hosted order
    for (int i = 0; i < run->count; i++)
        f->row[i] = fed_sends(r, run->first + i) ? senders++ : -1;
    if (f->path != FED_SUM) f->up = xcalloc_aligned((size_t)senders * ns * elem + 1);
    if (f->path == FED_SECAGG) {
        char err[512];
        uint8_t *members = xmalloc((size_t)run->P);
        for (int p = 0; p < run->P; p++)
            members[p] = (uint8_t)fed_sends(r, p);
        f->secagg_ok = secagg_setup(f->secagg, r->round, members, err, sizeof err) == 0;
        if (!f->secagg_ok && run->rank == 0) log_warn("round %d: %s", r->round, err);
        xfree(members);
    }
}

// Any entry non-finite or beyond ±PARAM_CAP.
static int out_of_range(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(x[i]) <= PARAM_CAP)) return 1;
    return 0;
}

// --secagg.drop: the member leaves after sharing its keys, before its masked update, drawn from
// its own stream (any -np, any resume).
static int vanishes(const Run *run, int round, int party) {
    double drop = run->cfg->sec.secagg_drop;
    if (drop <= 0) return 0;
    Rng rng;
    rng_init(&rng, config_seed(run->cfg, run->cfg->seed_sample), (uint32_t)round, (uint32_t)party,
             RNG_SECAGG_DROP);
    return rng_uniform(&rng) < drop;
}

void fed_upload(Run *run, int i, const float *params, const RoundInfo *r) {
    Federation *f = &run->fed;
    int party = run->first + i;
    size_t ns = run->sel.n;
    float *x = run->packed, *d = f->delta;
    selection_pack(&run->sel, params, x);
    for (size_t j = 0; j < ns; j++)
        d[j] = x[j] - f->gsel[j];
    int changed = 0;
    if (f->attacker[party]) {
        attack_apply(f->attack, d, ns, f->strength, config_seed(run->cfg, run->cfg->seed_sample),
                     r->round, party);
        changed = 1;
    }
    // The bound applies under reject and clip, and to DP's clip; the other rules only screen.
    int clip = f->update_space || f->robust.rule == ROBUST_CLIP;
    double bound = clip || f->robust.rule == ROBUST_REJECT ? f->robust.norm_bound : 0, norm;
    RobustVerdict v = robust_screen(d, ns, INFINITY, bound, clip, &norm);
    changed |= v == VERDICT_CLIPPED;
    if (changed && robust_verdict_admits(v))
        for (size_t j = 0; j < ns; j++) // the model the party sends
            x[j] = f->gsel[j] + d[j];
    if (robust_verdict_admits(v) && !f->update_space && out_of_range(x, ns))
        v = VERDICT_OUT_OF_RANGE;
    f->norm[party] = norm;
    if (robust_verdict_admits(v) && vanishes(run, r->round, party)) v = FED_VANISHED;
    f->verdict[party] = (int32_t)v + 1;
    if (!robust_verdict_admits(v)) {
        log_debug("round %d: party %d's update left out (%s, norm %g)", r->round, party,
                  v == FED_VANISHED ? "vanished" : robust_verdict_name(v), norm);
        return;
    }
    // Nothing leaves unmasked: when the round's secure-aggregation set-up failed, it sends nothing.
    if (f->path == FED_SECAGG && !f->secagg_ok) return;
    const float *y = f->update_space ? d : x;
    // The bytes a deployment sends: the selection in float (or its masked fixed-point terms) and
    // the sample count.
    size_t elem = f->path == FED_SECAGG ? sizeof(uint64_t) : sizeof(float);
    comm_charge(run->comm, party, COMM_UP, (double)(ns * elem) + sizeof(int64_t));
    switch (f->path) {
    case FED_SUM:
        comm_acc_add(run->acc, y, r->weight[party], f->exponent);
        break;
    case FED_PARTIES:
        memcpy((float *)f->up + (size_t)f->row[i] * ns, d, ns * sizeof(float));
        break;
    case FED_SECAGG: {
        int64_t *t = (int64_t *)f->up + (size_t)f->row[i] * ns;
        memset(t, 0, ns * sizeof *t);
        exact_add(t, y, r->weight[party], ns, f->exponent);
        secagg_mask(f->secagg, party, (uint64_t *)t, ns);
        break;
    }
    }
}
