// central.c - the centralized baseline (see central.h).
#include "protocols/central.h"

#include <math.h>
#include <string.h>

#include "core/xalloc.h"
#include "train/tensors.h"

typedef struct {
    const ProtocolEnv *env;
    int cloud;         // rank 0
    SampleSet pooled;  // rank 0: every party's training rows, in party order
    OptState opt;      // rank 0: the cloud model's optimizer
    TrainScratch ts;   // rank 0
    EvalStats trained; // rank 0: this round's training statistics
} Central;

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    (void)ext, (void)opts;
    Central *c = xcalloc(1, sizeof *c);
    c->env = env;
    c->cloud = comm_rank(env->comm) == 0;
    *shape = (ProtocolShape){.global_trained = 1};
    if (!c->cloud) return c;
    const Scenario *s = env->scn_train;
    int64_t total = 0, at = 0;
    for (int p = 0; p < env->parties; p++)
        total += s->party[p].n;
    int64_t *idx = xmalloc((size_t)total * sizeof *idx + 1);
    uint8_t *mask = xmalloc((size_t)total + 1);
    for (int p = 0; p < env->parties; p++) {
        memcpy(idx + at, s->party[p].index, (size_t)s->party[p].n * sizeof *idx);
        memcpy(mask + at, s->party[p].mask, (size_t)s->party[p].n);
        at += s->party[p].n;
    }
    sampleset_load(&c->pooled, env->layout, env->ds, DS_TRAIN, idx, mask, total);
    xfree(idx), xfree(mask);
    size_t n = env->model->n_params;
    c->opt = (OptState){xcalloc_aligned(n * sizeof(float)), xcalloc_aligned(n * sizeof(float)), 0};
    train_scratch_init(&c->ts, env->model, env->layout, env->batch);
    return c;
}

static void destroy(void *st) {
    Central *c = st;
    if (c->cloud) {
        sampleset_free(&c->pooled);
        xfree(c->opt.m), xfree(c->opt.v);
        train_scratch_free(&c->ts, c->env->model);
    }
    xfree(c);
}

// The cloud trains on the pooled rows as one party numbered `parties` (its shuffle stream).
static void exchange(void *st, const RoundInfo *r) {
    Central *c = st;
    const ProtocolEnv *env = c->env;
    if (c->cloud)
        train_local(env->model, env->sel, env->global, &c->opt, &c->pooled, env->layout, env->tc,
                    r->round, env->parties, NULL, &c->ts, &c->trained);
    for (int i = 0; i < env->count && r->round == 1; i++)
        comm_charge(env->comm, env->first + i, COMM_UP,
                    (double)sampleset_bytes(&env->train[i], env->layout));
}

// The cloud's training loss and accuracy stand for the run's.
static void record(void *st, MetricLog *log, const double *party_stats, int evaluated, char *note,
                   size_t cap) {
    (void)party_stats, (void)evaluated, (void)note, (void)cap;
    Central *c = st;
    double n = (double)c->trained.n;
    metriclog_set(log, metriclog_find(log, "train_loss"), 0, n ? c->trained.loss_sum / n : NAN);
    metriclog_set(log, metriclog_find(log, "train_acc"), 0,
                  n ? (double)c->trained.correct / n : NAN);
}

static void ckpt_fields(void *st, CkptList *l) {
    Central *c = st;
    const Model *m = c->env->model;
    model_ckpt_fields(l, "cloud/opt/m", m, c->env->sel, 0, CKPT_CLOUD, 0, 0, 0, c->opt.m);
    model_ckpt_fields(l, "cloud/opt/v", m, c->env->sel, 0, CKPT_CLOUD, 0, 0, 0, c->opt.v);
    ckpt_list_add(l, "cloud/opt/step", CKPT_I64, CKPT_CLOUD, 0, 1, c->cloud ? &c->opt.step : NULL);
}

const Protocol protocol_central = {
    .name = "central",
    .create = create,
    .destroy = destroy,
    .exchange = exchange,
    .record = record,
    .ckpt_fields = ckpt_fields,
};
