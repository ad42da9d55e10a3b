// aggregate.c - the cloud's side of a round: which updates arrived and what the screen said of
// them, their combination on the round's path (the exact sum, an order-statistic rule, or the
// secure sum), DP's noise, and the protocol's server update (run_impl.h, Federation;
// docs/security.md).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "comm/exact.h"
#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"

// The update is used (verdicts are stored + 1; 0 = nothing sent).
static int kept(int32_t v) { return v > 0 && robust_verdict_admits(v - 1); }

// Every rank learns every party's verdict and norm (the hosts set their parties'). Each host packs
// the rows it sends to the front of its upload buffer.
static void exchange_verdicts(Run *run) {
    Federation *f = &run->fed;
    double *norm = xmalloc((size_t)run->P * sizeof *norm);
    for (int p = 0; p < run->P; p++)
        norm[p] = f->verdict[p] ? f->norm[p] : -1;
    comm_allreduce(run->comm, f->verdict, (size_t)run->P, COMM_I32, COMM_MAX, NULL);
    comm_allreduce(run->comm, norm, (size_t)run->P, COMM_F64, COMM_MAX, NULL);
    for (int p = 0; p < run->P; p++)
        f->norm[p] = norm[p] >= 0 ? norm[p] : NAN;
    xfree(norm);
    if (f->path == FED_SUM) return;
    size_t ns = run->sel.n, elem = f->path == FED_SECAGG ? sizeof(uint64_t) : sizeof(float);
    char *up = f->up;
    size_t to = 0;
    for (int i = 0; i < run->count; i++) {
        if (f->row[i] < 0 || !kept(f->verdict[run->first + i])) continue;
        size_t from = (size_t)f->row[i];
        if (to != from) memmove(up + to * ns * elem, up + from * ns * elem, ns * elem);
        to++;
    }
}

// Rank 0: the rejected parties in one log line (the verdicts are in run.h5).
static void log_verdicts(const Run *run, const RoundInfo *r) {
    char buf[512] = "";
    size_t used = 0;
    int n = 0, clipped = 0;
    for (int p = 0; p < run->P; p++) {
        int32_t v = run->fed.verdict[p];
        clipped += v == VERDICT_CLIPPED + 1;
        if (!v || v == VERDICT_KEPT + 1 || v == VERDICT_CLIPPED + 1) continue;
        const char *why = v - 1 == FED_VANISHED ? "vanished" : robust_verdict_name(v - 1);
        if (n++ < 8 && used < sizeof buf - 64)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s party %d %s",
                                     n > 1 ? "," : "", p, why);
    }
    if (n) log_info("round %d: %d update(s) left out:%s%s", r->round, n, buf, n > 8 ? ", ..." : "");
    if (clipped) log_debug("round %d: %d update(s) clipped", r->round, clipped);
}

// The share of the arrived weight that was kept, exactly 1 when every arrived update was: the
// sum of kept terms divided by it is the mean over the kept parties. DP divides by nothing: its
// weights are fixed in advance (1 / (q P)).
static double kept_share(const Run *run, const RoundInfo *r) {
    if (run->fed.update_space) return 1.0;
    int64_t all = 0, in = 0;
    for (int p = 0; p < run->P; p++) {
        if (!fed_sends(r, p)) continue;
        int64_t w = run->shape.uniform_weights ? 1 : run->n_train[p];
        all += w;
        if (kept(run->fed.verdict[p])) in += w;
    }
    return in == all ? 1.0 : (double)in / (double)all;
}

// FED_PARTIES, rank 0: the rule over the kept updates (gathered in party order) into u.
static int robust_update(Run *run, const RoundInfo *r, float *u) {
    Federation *f = &run->fed;
    size_t ns = run->sel.n;
    int64_t *per_party = xmalloc((size_t)run->P * sizeof *per_party);
    int K = 0;
    for (int p = 0; p < run->P; p++) {
        per_party[p] = kept(f->verdict[p]) ? (int64_t)ns : 0;
        K += per_party[p] > 0;
    }
    float *all = run->rank == 0 ? xmalloc((size_t)K * ns * sizeof(float) + 1) : NULL;
    comm_gather_parties(run->comm, f->up, per_party, all, COMM_F32, NULL);
    xfree(per_party);
    if (run->rank != 0) return 0;
    double *w = xmalloc((size_t)K * sizeof *w + 1), wsum = 0;
    int *ids = xmalloc((size_t)K * sizeof *ids + 1);
    RobustVerdict *vk = xmalloc((size_t)K * sizeof *vk + 1);
    for (int p = 0, k = 0; p < run->P; p++)
        if (kept(f->verdict[p])) ids[k] = p, w[k] = r->weight[p], wsum += w[k], k++;
    for (int k = 0; k < K; k++)
        w[k] /= wsum;
    // The screen may have left out attackers already: Krum then assumes only as many as the
    // remaining K allow (K > 2f + 2), rather than keeping the model (logged).
    RobustOpts o = f->robust;
    if (o.rule == ROBUST_KRUM && K <= 2 * o.krum_f + 2 && K >= 3) {
        int fe = (K - 3) / 2;
        log_info("round %d: %d updates left for Krum: it assumes f = %d instead of --robust.f=%d",
                 r->round, K, fe, o.krum_f);
        o.krum_f = fe;
        o.krum_m = o.krum_m < K - fe ? o.krum_m : K - fe;
    }
    char err[256] = "";
    int rc = robust_opts_check(&o, K, err, sizeof err);
    if (rc != 0)
        log_warn("round %d: --robust=%s: %s; the global model is unchanged", r->round,
                 run->cfg->sec.robust, err);
    else
        robust_aggregate(&o, u, vk, all, w, ids, K, ns);
    for (int k = 0; rc == 0 && k < K; k++)
        if (vk[k] != VERDICT_KEPT) f->verdict[ids[k]] = (int32_t)vk[k] + 1;
    xfree(all), xfree(w), xfree(ids), xfree(vk);
    return rc;
}

// FED_SECAGG: the kept parties' masked terms to the cloud, their sum mod 2^64, the masks removed
// (collective). Rank 0's sum (sel.n; NULL elsewhere) holds the exact sum on success.
static int secure_sum(Run *run, const RoundInfo *r, uint64_t *sum) {
    Federation *f = &run->fed;
    if (!f->secagg_ok) return -1; // the set-up failed on every rank (logged): nothing was sent
    size_t ns = run->sel.n;
    int64_t *per_party = xmalloc((size_t)run->P * sizeof *per_party);
    uint8_t *uploaded = xmalloc((size_t)run->P);
    int K = 0;
    for (int p = 0; p < run->P; p++) {
        uploaded[p] = (uint8_t)kept(f->verdict[p]);
        per_party[p] = uploaded[p] ? (int64_t)ns : 0;
        K += uploaded[p];
    }
    uint64_t *all = run->rank == 0 ? xmalloc((size_t)K * ns * sizeof *all + 1) : NULL;
    comm_gather_parties(run->comm, f->up, per_party, all, COMM_I64, NULL);
    xfree(per_party);
    if (run->rank == 0) { // the ring Z/2^64: unsigned wrap-around is the sum
        memset(sum, 0, ns * sizeof *sum);
        for (int k = 0; k < K; k++)
            for (size_t j = 0; j < ns; j++)
                sum[j] += all[(size_t)k * ns + j];
    }
    xfree(all);
    char err[512] = "";
    int rc = secagg_unmask(f->secagg, uploaded, sum, ns, err, sizeof err);
    if (rc != 0 && run->rank == 0)
        log_warn("round %d: %s; the global model is unchanged", r->round, err);
    f->secagg_ok = rc == 0;
    xfree(uploaded);
    return rc;
}

// DP, rank 0: the Gaussian noise on the mean update, std sigma C w (w = 1 / (q P): one party's
// largest contribution), from the round's own stream (any -np, any resume).
static void dp_noise(Run *run, const RoundInfo *r, double *u, size_t n) {
    const SecurityOpts *s = &run->cfg->sec;
    double std = s->dp_noise * s->dp_clip / (run->fed.dp_q * run->P);
    Rng rng;
    rng_init(&rng, (uint64_t)run->cfg->seed, (uint32_t)r->round, 0, RNG_DP_NOISE);
    for (size_t j = 0; j < n; j++)
        u[j] += std * rng_normal(&rng);
}

void fed_aggregate(Run *run, const RoundInfo *r) {
    Federation *f = &run->fed;
    size_t ns = run->sel.n;
    exchange_verdicts(run);
    int any = 0;
    for (int p = 0; p < run->P; p++)
        any |= kept(f->verdict[p]);
    if (run->rank == 0) log_verdicts(run, r);
    if (!any) { // nothing arrived: the global model stays
        if (run->rank == 0)
            log_info("round %d: no update arrived; the global model is unchanged", r->round);
        if (f->path == FED_SECAGG) f->secagg_ok = 0;
        return;
    }
    float *mean = run->rank == 0 ? xmalloc(ns * sizeof(float) + 1) : NULL;
    double *u = run->rank == 0 && f->update_space ? xmalloc(ns * sizeof *u + 1) : NULL;
    int ok = 1;
    switch (f->path) {
    case FED_SUM: // the sum converted where it lies: the mean, or the mean update for DP's noise
        if (f->update_space)
            comm_acc_reduce(run->acc, 0, COMM_F64, f->exponent, 1.0, u, NULL);
        else
            comm_acc_reduce(run->acc, 0, COMM_F32, f->exponent, kept_share(run, r), mean, NULL);
        break;
    case FED_PARTIES:
        ok = robust_update(run, r, mean) == 0;
        break;
    case FED_SECAGG: {
        int64_t *sum = run->rank == 0 ? xmalloc(ns * sizeof *sum + 1) : NULL;
        ok = secure_sum(run, r, (uint64_t *)sum) == 0;
        if (ok && u)
            exact_to_double(u, sum, ns, f->exponent, 1.0);
        else if (ok && mean)
            exact_to_float(mean, sum, ns, f->exponent, kept_share(run, r));
        xfree(sum);
        break;
    }
    }
    if (run->rank != 0 || !ok) {
        xfree(mean), xfree(u);
        return;
    }
    if (f->path == FED_PARTIES) { // mean holds the rule's update
        for (size_t j = 0; j < ns; j++)
            mean[j] = f->gsel[j] + mean[j];
    } else if (f->update_space) {
        dp_noise(run, r, u, ns);
        for (size_t j = 0; j < ns; j++)
            mean[j] = (float)((double)f->gsel[j] + u[j]);
    }
    memcpy(run->packed, f->gsel, ns * sizeof(float));
    run->method->protocol->server_update(run->proto, run->packed, mean, ns, r);
    selection_unpack(&run->sel, run->packed, run->global);
    xfree(mean), xfree(u);
}
