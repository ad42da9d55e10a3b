// fedavg.c - the default protocol: a server rule over the mean of the parties' selection and an
// optional gradient term at the parties (see fedavg.h).
#include "protocols/fedavg.h"

#include <stdio.h>
#include <string.h>

#include "core/xalloc.h"
#include "train/tensors.h"

typedef struct {
    const ProtocolEnv *env;
    const FedavgExt *ext;
    const void *opts;
    float *state; // rank 0: (state_per_float · sel->n) the server rule's state
    size_t n_state;
    PartyHooks hooks; // the gradient term, for every hosted party
} Fedavg;

// PartyHooks.grad: the method's term against the round's global model, segment by segment.
static void grad_term(void *ctx, float *grads, const float *params, const Selection *sel) {
    const Fedavg *f = ctx;
    for (int k = 0; k < sel->n_segs; k++) {
        size_t at = sel->seg[k].offset;
        f->ext->grad(grads + at, params + at, f->env->global + at, sel->seg[k].n, f->opts);
    }
}

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    Fedavg *f = xcalloc(1, sizeof *f);
    f->env = env, f->ext = ext, f->opts = opts;
    *shape = (ProtocolShape){.parties_train = 1,
                             .aggregate = 1,
                             .global_trained = 1,
                             .uniform_weights = f->ext->uniform && f->ext->uniform(opts)};
    f->n_state = (size_t)f->ext->state_per_float * env->sel->n;
    if (comm_rank(env->comm) == 0 && f->n_state) {
        f->state = xcalloc_aligned(f->n_state * sizeof(float));
        if (f->ext->state_init) f->ext->state_init(f->state, env->sel->n, opts);
    }
    f->hooks = (PartyHooks){.ctx = f, .grad = f->ext->grad ? grad_term : NULL};
    return f;
}

static void destroy(void *st) {
    Fedavg *f = st;
    xfree(f->state);
    xfree(f);
}

static const PartyHooks *hooks(void *st, int i, int training) {
    (void)i;
    Fedavg *f = st;
    return training && f->ext->grad ? &f->hooks : NULL;
}

void protocol_mean_update(void *st, float *global, const float *mean, size_t n,
                          const RoundInfo *r) {
    (void)st, (void)r;
    memcpy(global, mean, n * sizeof *global);
}

static void server_update(void *st, float *global, const float *mean, size_t n,
                          const RoundInfo *r) {
    Fedavg *f = st;
    if (f->ext->server)
        f->ext->server(global, f->state, mean, n, f->opts, r->round);
    else
        protocol_mean_update(st, global, mean, n, r);
}

// The rule's state, per selected tensor: cloud/server/<state name>/<tensor>.
static void ckpt_fields(void *st, CkptList *l) {
    Fedavg *f = st;
    const Selection *sel = f->env->sel;
    for (int k = 0; k < f->ext->state_per_float; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "cloud/server/%s", f->ext->state_name[k]);
        model_ckpt_fields(l, prefix, f->env->model, sel, 1, CKPT_CLOUD, 0, 0, 0,
                          f->state ? f->state + (size_t)k * sel->n : NULL);
    }
}

const Protocol protocol_fedavg = {
    .name = "fedavg",
    .create = create,
    .destroy = destroy,
    .hooks = hooks,
    .server_update = server_update,
    .ckpt_fields = ckpt_fields,
};
