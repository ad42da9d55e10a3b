// fedma.c - Fed-MA's setup, round, records and checkpoint (fedma.h); the cloud's rules are in
// fedma_cloud.c. Every draw comes from a stream named by (seed, round, party), so a party's work
// does not depend on the rank that hosts it.
#include "protocols/fedma.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agg/scaffold.h"
#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "data/holdout.h"
#include "models/mllm_file.h"
#include "models/mllm_kind.h"
#include "nn/optim.h"
#include "protocols/fedma_impl.h"

#define RNG_KEY_STREAM 0x464d0000u // a party's stream order
#define RNG_KEY_LOCAL 0x464d4c00u  // a party's caption draws of round r: + r
#define PPL_STREAM 0x464d5050u     // the test captions' fixed draws

// ---- setup ----

// The projectors' tensors as the trainable selection, and their weight matrices.
static void select_projectors(Fedma *f) {
    char err[512];
    CHECK(model_select(f->model, "proj_", &f->proj, err, sizeof err) == 0, "fedcmp: %s", err);
    f->n = f->proj.n;
    f->n_mat = 0;
    for (int t = 0; t < f->model->n_tensors; t++) {
        const ModelTensor *mt = &f->model->tensor[t];
        int64_t po = selection_packed_offset(f->model, &f->proj, t);
        if (po < 0 || mt->ndim != 2) continue;
        CHECK(f->n_mat < FEDMA_MAX_MAT, "fedcmp: more than %d projector matrices", FEDMA_MAX_MAT);
        FedmaMat *m = &f->mat[f->n_mat++];
        snprintf(m->name, sizeof m->name, "%s", mt->name);
        m->off = po, m->d_out = (int)mt->shape[0], m->d_in = (int)mt->shape[1];
    }
}

// The starting weights: the base model's stage-1 LM and stage-2 encoders (frozen), projectors
// fresh (PyTorch's defaults from the run's init seed), LoRA as the kind made it (B = 0: no
// effect).
static void start_weights(Fedma *f) {
    const Model *m = f->model;
    f->start = xcalloc_aligned(m->n_params * sizeof(float));
    memcpy(f->start, f->env.global, m->n_params * sizeof(float));
    const char *base = optset_value(f->env.opts, "mllm.base");
    char err[1024];
    CHECK(mllm_file_read_stage(base, "lm", m, f->start, 0, err, sizeof err) == 0,
          "--mllm.base=%s: %s", base, err);
    CHECK(mllm_file_read_stage(base, "encoders", m, f->start, 0, err, sizeof err) == 0,
          "--mllm.base=%s: %s", base, err);
    float *fresh = xcalloc_aligned(m->n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, f->env.tc->init_seed, 0x70726f6au, 0, RNG_INIT);
    mllm_init_params(f->mm, fresh, &rng);
    memcpy(f->start + f->mm->proj_begin, fresh + f->mm->proj_begin,
           (f->mm->proj_end - f->mm->proj_begin) * sizeof(float));
    xfree(fresh);
}

// The stage environment of the captions and of the final tuning.
static void stage_env(Fedma *f) {
    const Dataset *ds = f->env.ds;
    prompt_classes_fashion(&f->pc);
    f->pc.words = dataset_vocab_words(ds), f->pc.n_words = dataset_vocab_size(ds);
    CHECK(f->model->K == f->pc.K,
          "--method=fedcmp: the captions name AV-FashionMNIST's %d items (the base model's words); "
          "--data has %d classes",
          f->pc.K, f->model->K);
    StageEnv *e = &f->senv;
    *e = (StageEnv){.mm = f->mm,
                    .layout = f->model,
                    .voc = mllm_kind_vocab(f->model),
                    .sl = f->env.layout,
                    .pc = &f->pc,
                    .text_mod = -1,
                    .seed = f->env.tc->seed,
                    .task_classes = dataset_class_names(ds),
                    .task_K = dataset_n_classes(ds)};
    for (int m = 0; m < f->env.spec->n_mod; m++) {
        e->mod_name[m] = f->env.spec->mod_name[m];
        if (f->env.spec->kind[m] == MODEL_TOKENS) e->text_mod = m;
    }
    for (int k = 0; k < f->mm->c.n_enc; k++) {
        e->mod_of_enc[k] = -1;
        for (int m = 0; m < f->env.spec->n_mod; m++)
            if (!strcmp(f->env.spec->mod_name[m], f->mm->c.enc[k].name)) e->mod_of_enc[k] = m;
        CHECK(e->mod_of_enc[k] >= 0, "fedcmp: the data has no '%s' modality", f->mm->c.enc[k].name);
    }
}

// The data modalities the encoders read, as a mask: a row captions when it has one of them.
static int media_mask(const Fedma *f) {
    int media = 0;
    for (int k = 0; k < f->mm->c.n_enc; k++)
        media |= 1 << f->senv.mod_of_enc[k];
    return media;
}

// Rows idx (n) of split with their masks, those with image or audio only, as stage rows.
static void media_rows(const Fedma *f, StageRows *r, DsSplit split, const int64_t *idx,
                       const uint8_t *mask, int64_t n) {
    const int media = media_mask(f);
    int64_t *ix = xmalloc(((size_t)n + 1) * sizeof *ix), m = 0;
    uint8_t *mk = xmalloc((size_t)n + 1);
    for (int64_t j = 0; j < n; j++)
        if (mask[j] & media) ix[m] = idx[j], mk[m++] = mask[j];
    stage_rows_load_masked(r, f->env.ds, f->env.layout, split, ix, mk, m);
    xfree(ix), xfree(mk);
}

static void load_rows(Fedma *f) {
    const Scenario *tr = f->env.scn_train;
    f->rows = xcalloc((size_t)f->count + 1, sizeof *f->rows);
    f->order = xcalloc((size_t)f->count + 1, sizeof *f->order);
    for (int i = 0; i < f->count; i++) {
        const ScenarioParty *sp = &tr->party[f->first + i];
        media_rows(f, &f->rows[i], DS_TRAIN, sp->index, sp->mask, sp->n);
        int64_t n = f->rows[i].n;
        f->order[i] = xmalloc(((size_t)n + 1) * sizeof(int64_t));
        for (int64_t j = 0; j < n; j++)
            f->order[i][j] = j;
        Rng g;
        rng_init(&g, f->env.tc->seed, RNG_KEY_STREAM, (uint32_t)(f->first + i), RNG_SHUFFLE);
        rng_shuffle(&g, f->order[i], n);
    }
    if (f->rank != 0) return;
    // the test rows of every party, with their modalities; the public rows for the final tuning
    const Scenario *te = f->env.scn_test;
    int64_t n = 0;
    for (int p = 0; p < f->P; p++)
        n += te->party[p].n;
    int64_t *idx = xmalloc(((size_t)n + 1) * sizeof *idx);
    uint8_t *mk = xmalloc((size_t)n + 1);
    n = 0;
    for (int p = 0; p < f->P; p++)
        for (int64_t j = 0; j < te->party[p].n; j++)
            idx[n] = te->party[p].index[j], mk[n++] = te->party[p].mask[j];
    media_rows(f, &f->test_rows, f->env.test_split, idx, mk, n);
    xfree(idx), xfree(mk);
    const Model *m = f->model;
    int64_t *pub;
    int64_t np = holdout_rows(
        f->env.ds, HOLDOUT_PUBLIC,
        (HoldoutFractions){m->pretrain_val_fraction, m->pretrain_public_fraction}, 0, &pub);
    CHECK(np > 0, "fedcmp: the data has no public rows for the final tuning (--public-fraction)");
    stage_rows_load(&f->pub_rows, f->env.ds, f->env.layout, DS_TRAIN, pub, np);
    xfree(pub);
    if (f->rule == FEDMA_CENTRAL) { // every party's rows with image or audio, in party order
        const int media = media_mask(f);
        f->all_off = xcalloc((size_t)f->P + 1, sizeof *f->all_off);
        n = 0;
        for (int p = 0; p < f->P; p++)
            n += tr->party[p].n;
        idx = xmalloc(((size_t)n + 1) * sizeof *idx), mk = xmalloc((size_t)n + 1);
        n = 0;
        for (int p = 0; p < f->P; p++) {
            for (int64_t j = 0; j < tr->party[p].n; j++)
                if (tr->party[p].mask[j] & media)
                    idx[n] = tr->party[p].index[j], mk[n++] = tr->party[p].mask[j];
            f->all_off[p + 1] = n;
        }
        stage_rows_load_masked(&f->all_rows, f->env.ds, f->env.layout, DS_TRAIN, idx, mk, n);
        xfree(idx), xfree(mk);
    }
}

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    Fedma *f = xcalloc(1, sizeof *f);
    f->env = *env;
    f->o = *(const FedmaOpts *)opts;
    f->ext = ext;
    f->rule = fedma_rule_of(f->o.agg_name);
    f->rank = comm_rank(env->comm), f->size = comm_size(env->comm);
    f->P = env->parties, f->first = env->first, f->count = env->count, f->rounds = env->rounds;
    f->model = env->model;
    CHECK(!strcmp(f->model->ops->kind, "mllm"),
          "--method=%s trains the multimodal LLM's projectors: it needs --model=mllm, not "
          "--model=%s",
          env->method, f->model->ops->kind);
    f->mm = mllm_kind_mllm(f->model);
    int gp, gq;
    char err[512];
    CHECK(pdsvd_grid_parse("fedcmp.grid", f->o.grid, f->size, &gp, &gq, err, sizeof err) == 0, "%s",
          err);
    CHECK(!(f->rule == FEDMA_SCAFFOLD || f->rule == FEDMA_FEDNOVA) ||
              !strcmp(f->o.local_name, "sgdm"),
          "--fedcmp.agg=%s is defined for local SGD: it needs --fedcmp.local=sgdm, not %s",
          f->o.agg_name, f->o.local_name);
    select_projectors(f);
    for (int k = 0; k < f->n_mat; k++) { // OPM's fixed rank per matrix: r, or full = d_out
        f->opm_r[k] = f->o.full_rank ? f->mat[k].d_out : f->o.rank;
        CHECK(f->opm_r[k] <= f->mat[k].d_out,
              "--fedcmp.rank=%d is larger than the projector matrix %s (%d x %d): at most %d",
              f->o.rank, f->mat[k].name, f->mat[k].d_out, f->mat[k].d_in, f->mat[k].d_out);
    }
    // The SVD path: a matrix's size against the threshold at the most parties a round can have
    // (every one), the same at any -np.
    int big = 0;
    for (int k = 0; k < f->n_mat; k++)
        big |= (double)f->mat[k].d_out * f->P * f->mat[k].d_in >= f->o.svd_threshold;
    f->svd_scalapack =
        (f->rule == FEDMA_CRAA || f->rule == FEDMA_KNOTS) &&
        (!strcmp(f->o.svd_name, "scalapack") || (!strcmp(f->o.svd_name, "auto") && big));
    if (f->svd_scalapack) f->grid = pdsvd_grid_create_shape(comm_mpi(env->comm), gp, gq);
    start_weights(f);
    stage_env(f);
    load_rows(f);
    f->cap = stage_captions_create(&f->senv, env->batch);
    const size_t np = f->model->n_params, n = f->n;
    f->params = xcalloc_aligned(np * sizeof(float));
    f->grads = xcalloc_aligned(np * sizeof(float));
    memcpy(f->params, f->start, np * sizeof(float));
    f->x = xmalloc(n * sizeof(float));
    selection_pack(&f->proj, f->start, f->x);
    f->mom = xcalloc(n + 1, sizeof(float)), f->adam_v = xcalloc(n + 1, sizeof(float));
    f->delta = xcalloc((size_t)f->count * n + 1, sizeof(float));
    f->stats = xcalloc((size_t)(f->count + 1) * FS_N, sizeof(double));
    f->trained = xcalloc((size_t)f->count + 1, 1);
    if (f->rule == FEDMA_LOCAL) {
        f->own = xmalloc(((size_t)f->count * n + 1) * sizeof(float));
        for (int i = 0; i < f->count; i++)
            memcpy(f->own + (size_t)i * n, f->x, n * sizeof(float));
    }
    if (f->rule == FEDMA_SCAFFOLD) {
        f->c_srv = xcalloc(n + 1, sizeof(float));
        f->c_own = xcalloc((size_t)f->count * n + 1, sizeof(float));
        f->dc = xcalloc((size_t)f->count * n + 1, sizeof(float));
    }
    f->ppl = f->item_acc = f->conflict = f->orth = f->central_loss = NAN;
    if (f->rank == 0) fedma_cloud_init(f);
    if (f->rank == 0) {
        char d[512];
        selection_describe(f->model, &f->proj, d, sizeof d);
        log_info("fedcmp: %s; the parties train %s; SVD on %s%s", f->o.agg_name, d,
                 f->svd_scalapack ? "ScaLAPACK, grid " : "LAPACKE on the cloud",
                 f->svd_scalapack ? f->o.grid : "");
    }
    *shape = (ProtocolShape){.n_party_stats = FS_N, .no_finetune = 1};
    return f;
}

static void destroy(void *st) {
    Fedma *f = st;
    fedma_cloud_free(f);
    pdsvd_grid_destroy(f->grid);
    stage_captions_free(f->cap);
    for (int i = 0; i < f->count; i++) {
        stage_rows_free(&f->rows[i]);
        xfree(f->order[i]);
    }
    xfree(f->rows), xfree(f->order);
    if (f->rank == 0) {
        stage_rows_free(&f->test_rows);
        stage_rows_free(&f->pub_rows);
        if (f->all_off) stage_rows_free(&f->all_rows);
    }
    xfree(f->all_off), xfree(f->start), xfree(f->params), xfree(f->grads), xfree(f->x);
    xfree(f->mom), xfree(f->adam_v), xfree(f->own), xfree(f->delta), xfree(f->c_srv);
    xfree(f->c_own), xfree(f->dc), xfree(f->stats), xfree(f->trained);
    xfree(f);
}

// ---- the parties ----

// One pass over rows ord[0 .. n) of rows from the projector w0 (n floats) with the local
// optimiser: w (n) = the result; st (FS_N) its statistics. prox (fedprox: x) may be NULL; c and ci
// (scaffold: the server's and the party's control variates) both NULL or both set. rng: the
// round's caption draws.
static void local_pass(Fedma *f, const StageRows *rows, const int64_t *ord, int64_t n,
                       const float *w0, float *w, const float *prox, const float *c,
                       const float *ci, Rng *rng, double *st) {
    const size_t nn = f->n;
    const int Bmax = f->env.batch;
    selection_unpack(&f->proj, w0, f->params);
    memset(f->mom, 0, nn * sizeof(float)), memset(f->adam_v, 0, nn * sizeof(float));
    float *g = xmalloc((nn + 1) * sizeof(float)), *wp = xmalloc((nn + 1) * sizeof(float));
    memcpy(wp, w0, nn * sizeof(float)); // the packed weights the optimiser steps
    ParamSegment all = {0, nn};
    double sum = 0, first = NAN, last = NAN;
    long steps = 0;
    for (int64_t s = 0; s < n; s += Bmax, steps++) {
        int B = (int)(n - s < Bmax ? n - s : Bmax);
        for (int k = 0; k < f->proj.n_segs; k++)
            memset(f->grads + f->proj.seg[k].offset, 0, f->proj.seg[k].n * sizeof(float));
        double l =
            stage_captions_loss(f->cap, f->params, f->grads, rows, ord + s, B, rng, NULL, NULL);
        sum += l, last = l;
        if (steps == 0) first = l;
        selection_pack(&f->proj, f->grads, g);
        if (prox)
            for (size_t j = 0; j < nn; j++)
                g[j] += (float)f->o.mu * (wp[j] - prox[j]);
        if (c) scaffold_correct(g, c, ci, nn);
        if (!strcmp(f->o.local_name, "adamw")) {
            AdamWConfig ac = {.lr = (float)f->o.lr,
                              .beta1 = (float)f->o.momentum,
                              .beta2 = 0.999f,
                              .eps = 1e-8f,
                              .weight_decay = (float)f->o.wd};
            adamw_step(wp, g, f->mom, f->adam_v, nn, &all, 1, &ac, steps + 1);
        } else {
            SgdConfig sc = {.lr = (float)f->o.lr,
                            .momentum = (float)f->o.momentum,
                            .weight_decay = (float)f->o.wd};
            sgd_step(wp, g, f->mom, nn, &all, 1, &sc);
        }
        selection_unpack(&f->proj, wp, f->params);
    }
    memcpy(w, wp, nn * sizeof(float));
    st[FS_LOSS] = steps ? sum / (double)steps : NAN;
    st[FS_DECREASE] = steps ? first - last : 0;
    st[FS_STEPS] = (double)steps;
    st[FS_ROWS] = (double)n;
    xfree(g), xfree(wp);
}

// The rows party i reads in round r: its chunk r of --fedcmp.chunk rows of its stream order
// (wrapping when the stream runs out: one pass needs rounds · chunk <= its rows). Returns how
// many (<= chunk), the positions in out.
static int64_t chunk_rows(const Fedma *f, const int64_t *order, int64_t n, int round,
                          int64_t *out) {
    const int64_t C = f->o.chunk;
    if (n == 0) return 0;
    int64_t k = C < n ? C : n;
    for (int64_t j = 0; j < k; j++)
        out[j] = order[((int64_t)(round - 1) * C + j) % n];
    return k;
}

static void party_round(Fedma *f, int i, const RoundInfo *r) {
    const int p = f->first + i;
    const size_t n = f->n;
    double *st = f->stats + (size_t)i * FS_N;
    for (int k = 0; k < FS_N; k++)
        st[k] = NAN;
    f->trained[i] = 0;
    if (!r->arrived[p] || f->rows[i].n == 0) return;
    int64_t *ord = xmalloc(((size_t)f->o.chunk + 1) * sizeof *ord);
    int64_t m = chunk_rows(f, f->order[i], f->rows[i].n, r->round, ord);
    Rng rng;
    rng_init(&rng, f->env.tc->seed, RNG_KEY_LOCAL + (uint32_t)r->round, (uint32_t)p, RNG_DATA);
    const float *w0 = f->rule == FEDMA_LOCAL ? f->own + (size_t)i * n : f->x;
    const int scaffold = f->rule == FEDMA_SCAFFOLD;
    float *w = xmalloc((n + 1) * sizeof(float)), *ci = scaffold ? f->c_own + (size_t)i * n : NULL;
    local_pass(f, &f->rows[i], ord, m, w0, w, f->rule == FEDMA_FEDPROX ? f->x : NULL,
               scaffold ? f->c_srv : NULL, ci, &rng, st);
    float *d = f->delta + (size_t)i * n;
    if (scaffold) // option II with momentum's step length; the party keeps c_i+
        scaffold_client_finish(d, f->dc + (size_t)i * n, ci, ci, f->c_srv, w0, w, (int)st[FS_STEPS],
                               f->o.lr, f->o.momentum, n);
    else
        for (size_t j = 0; j < n; j++)
            d[j] = w[j] - w0[j];
    if (f->rule == FEDMA_LOCAL) memcpy(f->own + (size_t)i * n, w, n * sizeof(float));
    f->trained[i] = 1;
    xfree(ord), xfree(w);
}

// ---- the round ----

// central: rank 0 trains the global projector on every party's chunk of the round, one pass.
static void central_round(Fedma *f, const RoundInfo *r) {
    if (f->rank != 0) return;
    int64_t *ord = xmalloc(((size_t)f->P * f->o.chunk + 1) * sizeof *ord), m = 0;
    // The rows of party p are all_rows' [all_off[p], all_off[p+1]); each party's stream order as
    // its host draws it.
    for (int p = 0; p < f->P; p++) {
        int64_t lo = f->all_off[p], n = f->all_off[p + 1] - lo;
        int64_t *order = xmalloc(((size_t)n + 1) * sizeof *order);
        for (int64_t j = 0; j < n; j++)
            order[j] = j;
        Rng g;
        rng_init(&g, f->env.tc->seed, RNG_KEY_STREAM, (uint32_t)p, RNG_SHUFFLE);
        rng_shuffle(&g, order, n);
        int64_t k = chunk_rows(f, order, n, r->round, ord + m);
        for (int64_t j = 0; j < k; j++)
            ord[m + j] += lo;
        m += k;
        xfree(order);
    }
    Rng rng;
    rng_init(&rng, f->env.tc->seed, RNG_KEY_LOCAL + (uint32_t)r->round, 0xffffu, RNG_DATA);
    double st[FS_N];
    float *w = xmalloc((f->n + 1) * sizeof(float));
    local_pass(f, &f->all_rows, ord, m, f->x, w, NULL, NULL, NULL, &rng, st);
    f->central_loss = st[FS_LOSS];
    memcpy(f->x, w, f->n * sizeof(float));
    xfree(ord), xfree(w);
}

static void exchange(void *st, const RoundInfo *r) {
    Fedma *f = st;
    const size_t n = f->n;
    for (int i = 0; i < f->count; i++)
        if (f->rule != FEDMA_CENTRAL) party_round(f, i, r);
    if (f->rule == FEDMA_CENTRAL) {
        central_round(f, r);
        comm_bcast(f->env.comm, f->x, n, COMM_F32, 0, NULL);
        return;
    }
    if (f->rule == FEDMA_LOCAL) return;
    // uplink: Δ, (scaffold) Δc, the reported decrease and the step count of every trained party
    const int rec = (int)n * (f->rule == FEDMA_SCAFFOLD ? 2 : 1) + 2;
    int64_t *per = xcalloc((size_t)f->P, sizeof *per);
    double *pay = xcalloc((size_t)f->P, sizeof *pay);
    for (int i = 0; i < f->count; i++)
        if (f->trained[i]) per[f->first + i] = rec;
    comm_allreduce(f->env.comm, per, (size_t)f->P, COMM_I64, COMM_SUM, NULL); // control
    int64_t mine = 0, total = 0;
    for (int i = 0; i < f->count; i++)
        mine += per[f->first + i];
    for (int p = 0; p < f->P; p++)
        total += per[p], pay[p] = (double)per[p] * sizeof(float);
    float *send = xmalloc(((size_t)mine + 1) * sizeof(float)), *o = send;
    for (int i = 0; i < f->count; i++) {
        if (!f->trained[i]) continue;
        memcpy(o, f->delta + (size_t)i * n, n * sizeof(float)), o += n;
        if (f->rule == FEDMA_SCAFFOLD) memcpy(o, f->dc + (size_t)i * n, n * sizeof(float)), o += n;
        *o++ = (float)f->stats[(size_t)i * FS_N + FS_DECREASE];
        *o++ = (float)f->stats[(size_t)i * FS_N + FS_STEPS];
    }
    float *up = f->rank == 0 ? xmalloc(((size_t)total + 1) * sizeof(float)) : NULL;
    CommPay cp = {.up_bytes = pay};
    comm_gather_parties(f->env.comm, send, per, up, COMM_F32, &cp);
    int K = 0;
    int *arrived = xmalloc(((size_t)f->P + 1) * sizeof(int));
    double *w = xmalloc(((size_t)f->P + 1) * sizeof(double)), wsum = 0;
    for (int p = 0; p < f->P; p++)
        if (per[p]) arrived[K] = p, w[K] = (double)f->env.n_train[p], wsum += w[K], K++;
    for (int k = 0; k < K; k++)
        w[k] /= wsum;
    if (K > 0) fedma_aggregate(f, up, rec, arrived, w, K, r);
    // downlink: the new global projector (and scaffold's control variate) to every rank
    double *dpay = xmalloc((size_t)f->P * sizeof(double));
    for (int p = 0; p < f->P; p++)
        dpay[p] = (double)n * sizeof(float) * (f->rule == FEDMA_SCAFFOLD ? 2 : 1);
    CommPay dp = {.down_bytes = dpay};
    comm_bcast(f->env.comm, f->x, n, COMM_F32, 0, &dp);
    if (f->rule == FEDMA_SCAFFOLD) comm_bcast(f->env.comm, f->c_srv, n, COMM_F32, 0, NULL);
    xfree(per), xfree(pay), xfree(send), xfree(up), xfree(arrived), xfree(w), xfree(dpay);
}

static void party_stats(void *st, int i, double *out) {
    const Fedma *f = st;
    memcpy(out, f->stats + (size_t)i * FS_N, FS_N * sizeof(double));
}

// ---- evaluation (rank 0) ----

// The caption perplexity of projector w on the test rows.
static double test_ppl(Fedma *f, const float *w) {
    memcpy(f->params, f->start, f->model->n_params * sizeof(float));
    selection_unpack(&f->proj, w, f->params);
    return stage_captions_ppl(f->cap, f->params, &f->test_rows, PPL_STREAM);
}

// The item accuracy on the test rows after the same short centralised tuning (stage 4' on the
// public rows) of the model with projector w.
static double tuned_items(Fedma *f, const float *w) {
    float *p = xcalloc_aligned(f->model->n_params * sizeof(float));
    memcpy(p, f->start, f->model->n_params * sizeof(float));
    selection_unpack(&f->proj, w, p);
    StageOpts so = {.steps = f->o.tune_steps,
                    .batch = f->env.batch,
                    .lr = 1e-3,
                    .weight_decay = 0.01,
                    .clip = 1.0};
    Curve c = {0};
    TeacherTuneFigures fig;
    double acc = stage_teacher_tune(&f->senv, p, &f->pub_rows, &f->test_rows, &so, &c, &fig);
    curve_free(&c);
    xfree(p);
    return acc;
}

static void evaluate(void *st, const RoundInfo *r) {
    Fedma *f = st;
    const size_t n = f->n;
    f->ppl = f->item_acc = NAN;
    float *own = NULL; // local: every party's own projector on rank 0
    if (f->rule == FEDMA_LOCAL) {
        int64_t *per = xmalloc((size_t)f->P * sizeof *per);
        for (int p = 0; p < f->P; p++)
            per[p] = (int64_t)n;
        own = f->rank == 0 ? xmalloc(((size_t)f->P * n + 1) * sizeof(float)) : NULL;
        comm_gather_parties(f->env.comm, f->own, per, own, COMM_F32, NULL);
        xfree(per);
    }
    if (f->rank != 0) return;
    const int last = r->round == r->rounds && f->o.tune_steps > 0;
    if (own) { // the mean over parties of their own models
        double s = 0, a = 0;
        for (int p = 0; p < f->P; p++) {
            s += test_ppl(f, own + (size_t)p * n);
            if (last) a += tuned_items(f, own + (size_t)p * n);
        }
        f->ppl = s / f->P;
        if (last) f->item_acc = a / f->P;
        xfree(own);
        return;
    }
    f->ppl = test_ppl(f, f->x);
    if (last) f->item_acc = tuned_items(f, f->x);
}

// ---- records ----

enum { M_PPL = 0, M_ITEM_ACC, M_LOSS, M_CONFLICT, M_ORTH, M_SPECTRUM, M_N };
static const char *const series_names[M_N] = {"fm_caption_ppl",   "fm_item_acc", "fm_local_loss",
                                              "fm_sign_conflict", "fm_orth_err", "fm_spectrum"};

static void declare_series(void *st, MetricLog *log) {
    Fedma *f = st;
    for (int k = 0; k < M_N; k++) {
        f->series[k] = metriclog_add(log, series_names[k], k == M_SPECTRUM ? FEDMA_SV_N : 1, 0);
        if (k <= M_ITEM_ACC) metriclog_set_split(log, f->series[k], "test");
    }
}

static void record(void *st, MetricLog *log, const double *ps, int evaluated, char *note,
                   size_t cap) {
    Fedma *f = st;
    double loss = 0;
    int k = 0;
    for (int p = 0; p < f->P; p++) {
        double v = ps[(size_t)p * FS_N + FS_LOSS];
        if (!isnan(v)) loss += v, k++;
    }
    if (f->rule == FEDMA_CENTRAL) loss = f->central_loss, k = 1;
    const int *m = f->series;
    metriclog_set(log, m[M_LOSS], 0, k ? loss / k : NAN);
    metriclog_set(log, m[M_CONFLICT], 0, f->conflict);
    metriclog_set(log, m[M_ORTH], 0, f->orth);
    for (int j = 0; j < FEDMA_SV_N; j++)
        metriclog_set(log, m[M_SPECTRUM], j, f->sv[j]);
    snprintf(note, cap, " | local loss %.3f", k ? loss / k : NAN);
    if (!evaluated) return;
    metriclog_set(log, m[M_PPL], 0, f->ppl);
    metriclog_set(log, m[M_ITEM_ACC], 0, f->item_acc);
    size_t used = strlen(note);
    snprintf(note + used, cap - used, " | caption ppl %.3f", f->ppl);
    used = strlen(note);
    if (!isnan(f->item_acc)) snprintf(note + used, cap - used, " items %.3f", f->item_acc);
}

// ---- checkpoint ----

static void ckpt_fields(void *st, CkptList *l) {
    Fedma *f = st;
    const int64_t n = (int64_t)f->n;
    ckpt_list_add(l, "cloud/fedcmp/x", CKPT_F32, CKPT_SHARED, 0, n, f->x);
    if (f->own) {
        CkptField *c = ckpt_list_add(l, "parties/fedcmp/own", CKPT_F32, CKPT_OWN, f->P, n, f->own);
        c->row0 = f->first, c->nrows = f->count;
    }
    if (f->c_own) {
        ckpt_list_add(l, "cloud/fedcmp/c", CKPT_F32, CKPT_SHARED, 0, n, f->c_srv);
        CkptField *c = ckpt_list_add(l, "parties/fedcmp/c", CKPT_F32, CKPT_OWN, f->P, n, f->c_own);
        c->row0 = f->first, c->nrows = f->count;
    }
    const int r0 = f->rank == 0;
    if (fedma_uses_fedopt(f))
        ckpt_list_add(l, "cloud/fedcmp/server", CKPT_F32, CKPT_CLOUD, 0, 2 * n, r0 ? f->srv : NULL);
    if (!fedma_uses_opm(f)) return;
    for (int k = 0; k < f->n_mat; k++) { // OPM's state per matrix (the same list on every rank)
        char name[CKPT_NAME_MAX];
        OpmState *o = &f->opm[k];
        const int64_t dr = (int64_t)f->mat[k].d_out * f->opm_r[k];
        snprintf(name, sizeof name, "cloud/fedcmp/opm/%s/u", f->mat[k].name);
        ckpt_list_add(l, name, CKPT_F64, CKPT_CLOUD, 0, dr, r0 ? o->u_prev : NULL);
        snprintf(name, sizeof name, "cloud/fedcmp/opm/%s/m", f->mat[k].name);
        ckpt_list_add(l, name, CKPT_F64, CKPT_CLOUD, 0, dr, r0 ? o->mom : NULL);
        snprintf(name, sizeof name, "cloud/fedcmp/opm/%s/t", f->mat[k].name);
        ckpt_list_add(l, name, CKPT_I64, CKPT_CLOUD, 0, 1, r0 ? &o->rounds : NULL);
    }
}

const Protocol protocol_fedma = {.name = "fedma",
                                 .create = create,
                                 .destroy = destroy,
                                 .exchange = exchange,
                                 .evaluate = evaluate,
                                 .party_stats = party_stats,
                                 .declare_series = declare_series,
                                 .record = record,
                                 .ckpt_fields = ckpt_fields};
