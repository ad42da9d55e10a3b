// round.c - one round of the driver and its evaluation (run.h, protocols/protocol.h).
#include <math.h>
#include <string.h>

#include "comm/exact.h"
#include "core/die.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"
#include "train/prox.h"

// Party models are CHECKed to stay inside ±PARAM_CAP, which fixes the fixed-point exponent of the
// aggregation: weights n_k/N sum to 1, so Σ|terms| <= PARAM_CAP and 2^PARAM_EXP resolution
// (~3.6e-15) is far below float32's.
#define PARAM_CAP 4096.0
#define PARAM_EXP 48

void run_sample(Run *run, int round, RoundInfo *r) {
    int P = run->P, K = run->cfg->sample;
    uint64_t seed = config_seed(run->cfg, run->cfg->seed_sample);
    memset(run->sampled, 0, (size_t)P);
    if (K == 0 || K >= P) {
        memset(run->sampled, 1, (size_t)P);
    } else { // K of P without replacement, from the round's own stream: any -np, any resume
        int64_t *idx = xmalloc((size_t)P * sizeof *idx);
        Rng rng;
        rng_init(&rng, seed, (uint32_t)round, 0, RNG_SAMPLE);
        rng_sample_prefix(&rng, idx, P, K);
        for (int j = 0; j < K; j++)
            run->sampled[idx[j]] = 1;
        xfree(idx);
    }
    int64_t arrived_rows = 0, arrived_with_rows = 0;
    for (int p = 0; p < P; p++) {
        run->arrived[p] = run->sampled[p];
        if (run->sampled[p] && run->cfg->party_dropout > 0) {
            Rng rng;
            rng_init(&rng, seed, (uint32_t)round, (uint32_t)p, RNG_DROPOUT_PARTY);
            run->arrived[p] = rng_uniform(&rng) >= run->cfg->party_dropout;
        }
        if (run->arrived[p]) arrived_rows += run->n_train[p];
        arrived_with_rows += run->arrived[p] && run->n_train[p] > 0;
    }
    for (int p = 0; p < P; p++) { // the weights renormalise over the updates that arrive
        int in = run->arrived[p] && run->n_train[p] > 0;
        run->weight[p] = !in ? 0.0
                         : run->shape.uniform_weights
                             ? 1.0 / (double)arrived_with_rows
                             : (double)run->n_train[p] / (double)arrived_rows;
    }
    *r = (RoundInfo){.round = round,
                     .rounds = run->cfg->rounds,
                     .sampled = run->sampled,
                     .arrived = run->arrived,
                     .weight = run->weight,
                     .evaluated = round % run->cfg->eval_every == 0 || round == run->cfg->rounds};
}

static void check_party_model(const float *w, size_t n, int party, int round) {
    for (size_t i = 0; i < n; i++)
        CHECK(isfinite(w[i]) && fabsf(w[i]) <= PARAM_CAP,
              "party %d, round %d: parameter %zu is %g after local training (diverged; lower "
              "--lr or raise --clip)",
              party, round, i, (double)w[i]);
}

static void record_stats(double *st, const EvalStats *e, int first) {
    st[first] = e->loss_sum, st[first + 1] = (double)e->correct, st[first + 2] = (double)e->n;
}

// An evaluation into a party's six statistics from first (ST_G_LOSS or ST_P_LOSS).
static void record_eval(double *st, const EvalStats *e, int first) {
    record_stats(st, e, first);
    st[first + 3] = e->macro_f1, st[first + 4] = e->auc, st[first + 5] = e->auc_hard;
}

// Hosted party i's personal model (params) on its evaluation rows, with the protocol's
// completion.
static void evaluate_personal(Run *run, int i, const float *params) {
    const Protocol *pr = run->method->protocol;
    const PartyHooks *h = pr->hooks ? pr->hooks(run->proto, i, 0) : NULL;
    EvalStats e;
    evaluate_model(&run->model, params, &run->test[i], &run->layout, h, &run->ts, &e);
    record_eval(run->stats + (size_t)i * run->n_stats, &e, ST_P_LOSS);
}

// Hosted party i trains in this round (the condition of run_round).
static int trains(const Run *run, int i, const RoundInfo *r) {
    return run->shape.parties_train && r->sampled[run->first + i] && run->train[i].n > 0;
}

// The work buffers hold the global model and a fresh optimizer: where a party that does not keep
// its own model starts its training. Returns the parameters.
static float *start_from_global(Run *run) {
    size_t n = run->model.n_params;
    memcpy(run->work_params, run->global, n * sizeof(float));
    memset(run->work_opt.m, 0, n * sizeof(float));
    memset(run->work_opt.v, 0, n * sizeof(float));
    run->work_opt.step = 0;
    return run->work_params;
}

// Hosted party i trains: from its own model, or from the global one with a fresh optimizer (its
// download is the selection). Then the protocol sees it, and its selection joins the exact sum.
static void train_party(Run *run, int i, const RoundInfo *r) {
    const Protocol *pr = run->method->protocol;
    int party = run->first + i;
    size_t n = run->model.n_params, ns = run->sel.n;
    float *params = run->work_params;
    OptState own, *opt = &run->work_opt;
    if (run->shape.own_models) {
        params = run->party_params + (size_t)i * n;
        own.m = run->party_m + (size_t)i * n;
        own.v = run->party_v + (size_t)i * n;
        own.step = run->party_step[i];
        opt = &own;
    } else {
        start_from_global(run);
        comm_charge(run->comm, party, COMM_DOWN, (double)ns * sizeof(float));
    }
    EvalStats e;
    const PartyHooks *h = pr->hooks ? pr->hooks(run->proto, i, 1) : NULL;
    ProxHooks ph;
    if (run->prox.n_runs) h = prox_hooks(&ph, h, &run->prox, run->global);
    train_local(&run->model, &run->sel, params, opt, &run->train[i], &run->layout, &run->tc,
                r->round, party, h, &run->ts, &e);
    if (run->shape.own_models) run->party_step[i] = own.step;
    record_stats(run->stats + (size_t)i * run->n_stats, &e, ST_TRAIN_LOSS);
    check_party_model(params, n, party, r->round);
    if (pr->after_local) pr->after_local(run->proto, i, params, r);
    if (r->evaluated && !run->shape.own_models) evaluate_personal(run, i, params);
    if (run->shape.aggregate && r->arrived[party]) { // its update and its sample count arrive
        selection_pack(&run->sel, params, run->packed);
        exact_add(run->acc, run->packed, r->weight[party], ns, PARAM_EXP);
        comm_charge(run->comm, party, COMM_UP, (double)ns * sizeof(float) + sizeof(int64_t));
    }
}

// The exact sample-weighted mean of the arrived selections to the cloud, and its server update.
static void aggregate(Run *run, const RoundInfo *r) {
    size_t ns = run->sel.n;
    int any = 0;
    for (int p = 0; p < run->P; p++)
        any |= r->weight[p] > 0;
    if (!any) { // nothing arrived: the global model stays
        log_info("round %d: no update arrived; the global model is unchanged", r->round);
        return;
    }
    comm_reduce_sum_i64(run->comm, run->acc, ns, 0, NULL);
    if (run->rank != 0) return;
    float *mean = xmalloc(ns * sizeof(float) + 1);
    exact_to_float(mean, run->acc, ns, PARAM_EXP, 1.0);
    selection_pack(&run->sel, run->global, run->packed);
    run->method->protocol->server_update(run->proto, run->packed, mean, ns, r);
    selection_unpack(&run->sel, run->packed, run->global);
    xfree(mean);
}

void run_round(Run *run, const RoundInfo *r) {
    const Protocol *pr = run->method->protocol;
    comm_reset_payload(run->comm);
    memset(run->stats, 0, (size_t)run->count * run->n_stats * sizeof *run->stats);
    if (pr->begin_round) pr->begin_round(run->proto, r);
    if (run->shape.aggregate) memset(run->acc, 0, run->sel.n * sizeof *run->acc);
    for (int i = 0; i < run->count; i++)
        if (trains(run, i, r)) train_party(run, i, r);
    if (run->shape.aggregate) aggregate(run, r);
    if (pr->exchange) pr->exchange(run->proto, r);
    // Every rank holds the same global model: it changes only in the selection, which the cloud
    // broadcasts (each party's download was charged when it started training).
    if (run->shape.global_trained) {
        selection_pack(&run->sel, run->global, run->packed);
        comm_bcast(run->comm, run->packed, run->sel.n, COMM_F32, 0, NULL);
        selection_unpack(&run->sel, run->packed, run->global);
    }
}

// The personal model of a party that did not train in the final round: the global model
// fine-tuned on its rows for the parties' epochs, from a fresh optimizer, with the protocol's
// completion only (its loss terms belong to training rounds). Into the work buffers.
static const float *fine_tune(Run *run, int i, const RoundInfo *r) {
    const Protocol *pr = run->method->protocol;
    PartyHooks fill = {0};
    const PartyHooks *h = pr->hooks ? pr->hooks(run->proto, i, 0) : NULL;
    if (h) fill.ctx = h->ctx, fill.fill = h->fill;
    float *params = start_from_global(run);
    EvalStats e;
    train_local(&run->model, &run->sel, params, &run->work_opt, &run->train[i], &run->layout,
                &run->tc, r->round, run->first + i, &fill, &run->ts, &e);
    return params;
}

void run_evaluate(Run *run, const RoundInfo *r, EvalStats *global) {
    const Protocol *pr = run->method->protocol;
    size_t n = run->model.n_params;
    int final = r->round == r->rounds;
    for (int i = 0; i < run->count; i++) {
        double *st = run->stats + (size_t)i * run->n_stats;
        const PartyHooks *h = pr->hooks ? pr->hooks(run->proto, i, 0) : NULL;
        if (run->shape.global_trained) { // protocol global
            EvalStats e;
            evaluate_model(&run->model, run->global, &run->test[i], &run->layout, h, &run->ts, &e);
            record_eval(st, &e, ST_G_LOSS);
        }
        if (run->shape.own_models) // protocol personal (the others' were tested as they trained)
            evaluate_personal(run, i, run->party_params + (size_t)i * n);
        else if (final && !trains(run, i, r) && run->train[i].n > 0)
            evaluate_personal(run, i, run->shape.no_finetune ? run->global : fine_tune(run, i, r));
    }
    memset(global, 0, sizeof *global);
    if (run->rank == 0 && run->shape.global_trained)
        evaluate_model(&run->model, run->global, &run->global_test, &run->layout, NULL, &run->ts,
                       global);
    if (pr->evaluate) pr->evaluate(run->proto, r);
}
