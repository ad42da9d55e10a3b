// repr.c - representation-level protocols: a term on the parties' rep with the references the
// method asked for (see repr.h).
#include "protocols/repr.h"

#include <string.h>

#include "comm/proto_reduce.h"
#include "core/die.h"
#include "core/xalloc.h"
#include "protocols/prototypes.h"
#include "train/tensors.h"

typedef struct Repr Repr;

typedef struct {
    Repr *r;
    int i; // hosted party
} ReprCtx;

struct Repr {
    const ProtocolEnv *env;
    const ReprExt *ext;
    const void *opts;
    int K, D, count;
    float *prev;              // prev_models: (count, n_params) each party's last local model
    uint8_t *prev_valid;      // prev_models: (count) 1 once the party has one
    ModelWork w_glob, w_prev; // prev_models: forwards of the global and previous models
    double *protos;           // prototypes: (K, D) global prototypes of rep, every rank
    uint8_t *proto_valid;     // prototypes: (K)
    int have_protos;          // prototypes: 0 before the first exchange
    double *sums;             // prototypes: (count, K, D) this round's sums per hosted party
    int64_t *counts;          // prototypes: (count, K)
    Batch batch;              // prototypes: scratch for the sums
    ModelWork work;
    ReprCtx *ctx;           // (count)
    PartyHooks *hooks;      // (count) training
    PartyHooks *eval_hooks; // (count) evaluation (ext->logits)
};

// PartyHooks.extra: the method's term on rep, with the references it asked for.
static double term_hook(void *ctxp, const Model *m, const float *params, ModelWork *w,
                        const ModelInput *in, const int64_t *rows, const int *labels, int B) {
    (void)params, (void)rows;
    const ReprCtx *c = ctxp;
    Repr *r = c->r;
    RepBatch b = {.B = B, .D = r->D, .K = r->K, .labels = labels, .u = w->rep};
    if (r->ext->prev_models && r->prev_valid[c->i]) {
        model_forward(m, r->env->global, in, &r->w_glob);
        model_forward(m, r->prev + (size_t)c->i * m->n_params, in, &r->w_prev);
        b.u_glob = r->w_glob.rep, b.u_prev = r->w_prev.rep;
    }
    if (r->ext->prototypes && r->have_protos) b.protos = r->protos, b.proto_valid = r->proto_valid;
    return r->ext->term(w->drep, &b, r->opts);
}

// PartyHooks.logits: the method's inference from rep and the global prototypes.
static void logits_hook(void *ctxp, const Model *m, ModelWork *w, int B) {
    (void)m;
    const ReprCtx *c = ctxp;
    Repr *r = c->r;
    RepBatch b = {.B = B,
                  .D = r->D,
                  .K = r->K,
                  .u = w->rep,
                  .protos = r->protos,
                  .proto_valid = r->proto_valid};
    r->ext->logits(w->logits, &b, r->opts);
}

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    Repr *r = xcalloc(1, sizeof *r);
    r->env = env, r->ext = ext, r->opts = opts;
    r->K = env->model->K, r->D = env->model->rep_dim, r->count = env->count;
    CHECK(r->ext->term, "--method=%s: a representation protocol without a term", env->method);
    *shape = (ProtocolShape){.parties_train = 1,
                             .own_models = r->ext->own_models,
                             .aggregate = !r->ext->own_models,
                             .global_trained = !r->ext->own_models};
    size_t n = env->model->n_params, count = (size_t)env->count;
    if (r->ext->prev_models) {
        r->prev = xcalloc_aligned(count * n * sizeof(float) + 1);
        r->prev_valid = xcalloc(count + 1, 1);
        model_work_init(env->model, &r->w_glob, env->batch);
        model_work_init(env->model, &r->w_prev, env->batch);
    }
    if (r->ext->prototypes) {
        r->protos = xcalloc((size_t)r->K * r->D, sizeof *r->protos);
        r->proto_valid = xcalloc((size_t)r->K, 1);
        r->sums = xcalloc(count * (size_t)r->K * r->D + 1, sizeof *r->sums);
        r->counts = xcalloc(count * (size_t)r->K + 1, sizeof *r->counts);
        batch_init(&r->batch, env->layout, env->batch);
        model_work_init(env->model, &r->work, env->batch);
    }
    r->ctx = xcalloc(count + 1, sizeof *r->ctx);
    r->hooks = xcalloc(count + 1, sizeof *r->hooks);
    r->eval_hooks = xcalloc(count + 1, sizeof *r->eval_hooks);
    CHECK(!r->ext->logits || r->ext->prototypes,
          "--method=%s: inference from prototypes without prototypes", env->method);
    for (int i = 0; i < env->count; i++) {
        r->ctx[i] = (ReprCtx){r, i};
        r->hooks[i] = (PartyHooks){.ctx = &r->ctx[i], .extra = term_hook};
        r->eval_hooks[i] = (PartyHooks){.ctx = &r->ctx[i], .logits = logits_hook};
    }
    return r;
}

static void destroy(void *st) {
    Repr *r = st;
    const Model *m = r->env->model;
    xfree(r->prev), xfree(r->prev_valid);
    if (r->ext->prev_models) model_work_free(m, &r->w_glob), model_work_free(m, &r->w_prev);
    xfree(r->protos), xfree(r->proto_valid), xfree(r->sums), xfree(r->counts);
    if (r->ext->prototypes) batch_free(&r->batch), model_work_free(m, &r->work);
    xfree(r->ctx), xfree(r->hooks), xfree(r->eval_hooks);
    xfree(r);
}

static const PartyHooks *hooks(void *st, int i, int training) {
    Repr *r = st;
    if (training) return &r->hooks[i];
    return r->ext->logits && r->have_protos ? &r->eval_hooks[i] : NULL;
}

static void begin_round(void *st, const RoundInfo *ri) {
    (void)ri;
    Repr *r = st;
    if (r->ext->prototypes) {
        memset(r->sums, 0, (size_t)r->count * r->K * r->D * sizeof *r->sums);
        memset(r->counts, 0, (size_t)r->count * r->K * sizeof *r->counts);
    }
}

// After local training: the previous model, and the per-class sums and counts of rep over the
// party's training rows (in row order, so they do not depend on the host).
static void after_local(void *st, int i, const float *params, const RoundInfo *ri) {
    Repr *r = st;
    const Model *m = r->env->model;
    if (r->ext->prev_models) {
        memcpy(r->prev + (size_t)i * m->n_params, params, m->n_params * sizeof(float));
        r->prev_valid[i] = 1;
    }
    if (!r->ext->prototypes || !ri->arrived[r->env->first + i]) return;
    const SampleSet *s = &r->env->train[i];
    size_t kd = (size_t)r->K * r->D;
    for (int64_t start = 0; start < s->n; start += r->batch.Bmax) {
        int B = (int)(s->n - start < r->batch.Bmax ? s->n - start : r->batch.Bmax);
        sampleset_batch(s, r->env->layout, NULL, start, B, &r->batch);
        model_forward(m, params, &r->batch.in, &r->work);
        proto_accumulate(r->sums + (size_t)i * kd, r->counts + (size_t)i * r->K, r->work.rep,
                         r->batch.label, NULL, B, r->D, r->K, 1, 0);
    }
}

// The prototypes' exact exchange: the arrived parties with rows send their sums, the round's
// parties receive the global prototypes (the others fetch them when they next take part).
static void exchange(void *st, const RoundInfo *ri) {
    Repr *r = st;
    if (!r->ext->prototypes) return;
    const ProtocolEnv *env = r->env;
    double *up = xcalloc((size_t)env->parties, sizeof *up);
    for (int p = 0; p < env->parties; p++)
        up[p] = ri->arrived[p] && env->n_train[p] > 0 ? proto_bytes_up(r->K, 1, r->D) : 0;
    CommPay pay = {.up_bytes = up, .down = proto_bytes_down(r->K, 1, r->D), .who = ri->sampled};
    proto_allreduce(env->comm, r->protos, r->proto_valid, NULL, r->sums, r->counts, r->count, r->K,
                    1, r->D, &pay);
    r->have_protos = 1;
    xfree(up);
}

static void ckpt_fields(void *st, CkptList *l) {
    Repr *r = st;
    const ProtocolEnv *env = r->env;
    if (r->ext->prev_models) {
        model_ckpt_fields(l, "parties/prev", env->model, NULL, 0, CKPT_OWN, env->parties,
                          env->first, env->count, r->prev);
        CkptField *f = ckpt_list_add(l, "parties/prev_valid", CKPT_U8, CKPT_OWN, env->parties, 1,
                                     r->prev_valid);
        f->row0 = env->first, f->nrows = env->count;
    }
    if (r->ext->prototypes) { // every checkpoint follows an exchange
        CkptField *f = ckpt_list_add(l, "cloud/protos", CKPT_F64, CKPT_SHARED, 0, r->K, r->protos);
        f->ndim = 2, f->dims[1] = r->D;
        ckpt_list_add(l, "cloud/proto_valid", CKPT_U8, CKPT_SHARED, 0, r->K, r->proto_valid);
    }
}

static void ckpt_restored(void *st) {
    Repr *r = st;
    if (r->ext->prototypes) r->have_protos = 1;
}

const Protocol protocol_repr = {
    .name = "repr",
    .create = create,
    .destroy = destroy,
    .begin_round = begin_round,
    .hooks = hooks,
    .after_local = after_local,
    .server_update = protocol_mean_update,
    .exchange = exchange,
    .ckpt_fields = ckpt_fields,
    .ckpt_restored = ckpt_restored,
};
