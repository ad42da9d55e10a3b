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

// --straggler.deadline: party p's simulated time this round, its rows against the mean party's
// at a log-normal speed drawn from its own stream, is past the deadline (its update is dropped).
static int late(const Run *run, uint64_t seed, int round, int p) {
    const SecurityOpts *s = &run->cfg->sec;
    if (s->straggler_deadline <= 0) return 0;
    Rng rng;
    rng_init(&rng, seed, (uint32_t)round, (uint32_t)p, RNG_STRAGGLER);
    double mean_rows = (double)run->n_train_total / run->P;
    double t = (double)run->n_train[p] / mean_rows * exp(s->straggler_sigma * rng_normal(&rng));
    return t > s->straggler_deadline;
}

void run_sample(Run *run, int round, RoundInfo *r) {
    int P = run->P, K = run->cfg->sample;
    uint64_t seed = config_seed(run->cfg, run->cfg->seed_sample);
    memset(run->sampled, 0, (size_t)P);
    if (K == 0 || K >= P) {
        memset(run->sampled, 1, (size_t)P);
    } else if (!strcmp(run->cfg->sec.sample_mode, "poisson")) { // each with rate K/P, own stream
        for (int p = 0; p < P; p++) {
            Rng rng;
            rng_init(&rng, seed, (uint32_t)round, (uint32_t)p, RNG_SAMPLE);
            run->sampled[p] = rng_uniform(&rng) < (double)K / P;
        }
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
        if (run->arrived[p] && late(run, seed, round, p)) run->arrived[p] = 0;
        if (run->arrived[p]) arrived_rows += run->n_train[p];
        arrived_with_rows += run->arrived[p] && run->n_train[p] > 0;
    }
    double dp_w = 1.0 / (run->fed.dp_q * P);
    for (int p = 0; p < P; p++) { // the weights renormalise over the updates that arrive
        int in = run->arrived[p] && run->n_train[p] > 0;
        run->weight[p] = !in                     ? 0.0
                         : run->fed.update_space ? dp_w // DP: fixed, over the expected parties
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
// download is the selection). Then the protocol sees it, and its selection goes to the cloud
// (upload.c).
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
    if (pr->after_local) pr->after_local(run->proto, i, params, r);
    if (r->evaluated && !run->shape.own_models) evaluate_personal(run, i, params);
    if (run->shape.aggregate && r->arrived[party]) fed_upload(run, i, params, r);
}

void run_round(Run *run, const RoundInfo *r) {
    const Protocol *pr = run->method->protocol;
    comm_reset_payload(run->comm);
    memset(run->stats, 0, (size_t)run->count * run->n_stats * sizeof *run->stats);
    if (pr->begin_round) pr->begin_round(run->proto, r);
    if (run->shape.aggregate) {
        comm_acc_clear(run->acc);
        fed_begin_round(run, r);
    }
    for (int i = 0; i < run->count; i++)
        if (trains(run, i, r)) train_party(run, i, r);
    if (run->shape.aggregate) fed_aggregate(run, r);
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
