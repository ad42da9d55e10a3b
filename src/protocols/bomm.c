// bomm.c - the large–small collaboration as a protocol (bomm.h): its state's life cycle, the hooks
// it gives the parties, its series and checkpoint fields. The rooms: bomm_protos.c,
// bomm_upload.c, bomm_fill.c, bomm_large.c, bomm_gen.c, bomm_exchange.c.
// [I] reconstruction from the BoMM abstract.
#include <math.h>
#include <string.h>

#include "comm/deliver.h"
#include "core/die.h"
#include "core/xalloc.h"
#include "protocols/bomm_impl.h"
#include "train/tensors.h"

// Every party's missing modalities (train and test rows) to every rank; and CHECKs that the large
// model will have something to learn from. Collective.
static void survey_parties(Bomm *b) {
    const ProtocolEnv *env = b->env;
    int64_t multi = 0;
    unsigned full = (1u << b->M) - 1;
    for (int i = 0; i < b->count; i++) {
        const SampleSet *sets[2] = {&env->train[i], &env->test[i]};
        for (int k = 0; k < 2; k++)
            for (int64_t r = 0; r < sets[k]->n; r++) {
                unsigned bits = sets[k]->mask[r];
                b->party_missing[env->first + i] |= (uint8_t)(~bits & full);
                multi += k == 0 && bomm_popcount8(bits) >= 2;
            }
    }
    comm_allreduce(env->comm, b->party_missing, (size_t)b->P, COMM_U8, COMM_BOR, NULL);
    comm_allreduce(env->comm, &multi, 1, COMM_I64, COMM_SUM, NULL);
    CHECK(
        !b->s.use_mm || b->s.gpa || b->s.singles || multi > 0,
        "--method=%s: no training row of any party has two modalities (scenario %s), so the "
        "large model has no aligned sample to learn from; enable --bomm.gpa or --bomm.mm-singles, "
        "or choose a scenario with multimodal rows",
        env->method, env->scenario);
}

static void check_settings(const Bomm *b) {
    const BommSettings *s = &b->s;
    const ProtocolEnv *env = b->env;
    CHECK(s->mm_width % s->mm_heads == 0,
          "--bomm.mm-width=%d is not a multiple of --bomm.mm-heads=%d", s->mm_width, s->mm_heads);
    CHECK(
        s->gamma0 <= s->gamma1,
        "--bomm.gamma0=%g exceeds --bomm.gamma1=%g: the admission threshold rises over the rounds",
        s->gamma0, s->gamma1);
    CHECK(b->M >= 2 || (s->fill == FILL_ZERO && !s->use_mm),
          "--method=%s needs at least two modalities; %s has %d", env->method, env->data, b->M);
    CHECK(model_has_split(env->model),
          "--method=%s completes missing modalities from the others' embeddings: it needs a model "
          "with an encode/fuse split (--model=party), not a %s model",
          env->method, env->model->ops->kind);
}

enum { PS_FILLED, PS_ADMITTED, PS_MISSING, PS_GENMASK, PS_COUNT }; // party_stats' doubles

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    Bomm *b = xcalloc(1, sizeof *b);
    b->env = env;
    ((const BommExt *)ext)->settings(&b->s, opts);
    b->s.schedule = !strcmp(b->s.schedule_name, "both")    ? SCHED_MIX | SCHED_ADMIT
                    : !strcmp(b->s.schedule_name, "mix")   ? SCHED_MIX
                    : !strcmp(b->s.schedule_name, "admit") ? SCHED_ADMIT
                                                           : 0;
    b->rank = comm_rank(env->comm);
    b->P = env->parties, b->count = env->count;
    b->M = env->model->n_mod, b->D = env->model->emb_dim, b->K = env->model->K;
    b->Bmax = env->batch;
    check_settings(b);
    b->need_protos = b->s.fill != FILL_ZERO || b->s.gpa;
    b->need_upload = b->s.use_mm || b->s.fill == FILL_GEN;
    *shape = (ProtocolShape){
        .parties_train = 1, .aggregate = 1, .global_trained = 1, .n_party_stats = PS_COUNT};
    int count = b->count;
    bomm_protos_init(b);
    b->sums = xcalloc(bomm_kmd(b) * (size_t)count + 1, sizeof *b->sums);
    b->counts = xcalloc((size_t)b->K * b->M * (size_t)count + 1, sizeof *b->counts);
    b->up_n = xcalloc((size_t)count + 1, sizeof *b->up_n);
    b->up_rows = xcalloc((size_t)count * (size_t)b->s.upload + 1, sizeof *b->up_rows);
    bomm_records_reserve(&b->up, b, (int64_t)count * b->s.upload + 1);
    b->row_off = xcalloc((size_t)count + 1, sizeof *b->row_off);
    int64_t rows = 0;
    for (int i = 0; i < count; i++)
        b->row_off[i] = rows, rows += env->train[i].n;
    b->soft = xcalloc((size_t)rows * b->K + 1, sizeof *b->soft);
    b->has_soft = xcalloc((size_t)rows + 1, 1);
    bomm_fill_init(b);
    survey_parties(b);
    bomm_gen_init(b);
    batch_init(&b->batch, env->layout, b->Bmax);
    model_work_init(env->model, &b->pw, b->Bmax);
    if (b->s.use_mm) bomm_large_init(b);
    b->diag = (BommDiag){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    return b;
}

static void destroy(void *st) {
    Bomm *b = st;
    bomm_protos_free(b);
    xfree(b->sums), xfree(b->counts), xfree(b->up_n), xfree(b->up_rows);
    bomm_records_free(&b->up), bomm_records_free(&b->all), xfree(b->all_soft);
    xfree(b->row_off), xfree(b->soft), xfree(b->has_soft);
    bomm_fill_free(b);
    bomm_gen_free(b);
    batch_free(&b->batch);
    model_work_free(b->env->model, &b->pw);
    bomm_large_free(b);
    xfree(b);
}

static void begin_round(void *st, const RoundInfo *r) {
    Bomm *b = st;
    int R = r->rounds;
    double f = R > 1 ? (double)(r->round - 1) / (double)(R - 1) : 1.0;
    b->gamma = (float)(b->s.gamma0 + (b->s.gamma1 - b->s.gamma0) * f);
    for (int i = 0; i < b->count; i++) {
        b->filled[i] = b->admitted[i] = 0, b->gen_mask[i] = 0;
        b->up_n[i] = 0; // a party that does not train this round uploads nothing
    }
    memset(b->sums, 0, bomm_kmd(b) * (size_t)b->count * sizeof *b->sums);
    memset(b->counts, 0, (size_t)b->K * b->M * (size_t)b->count * sizeof *b->counts);
    b->diag.mm_acc = NAN;
}

static const PartyHooks *hooks(void *st, int i, int training) {
    Bomm *b = st;
    return &b->hooks[2 * i + (training ? 0 : 1)];
}

static void after_local(void *st, int i, const float *params, const RoundInfo *r) {
    Bomm *b = st;
    bomm_party_upload(b, i, params, r);
}

static void exchange(void *st, const RoundInfo *r) { bomm_exchange(st, r); }

static void evaluate(void *st, const RoundInfo *r) {
    (void)r;
    Bomm *b = st;
    if (b->rank == 0) b->diag.mm_acc = bomm_large_eval(b, b->env->global, b->env->global_test);
}

static void party_stats(void *st, int i, double *out) {
    Bomm *b = st;
    out[PS_FILLED] = b->filled[i], out[PS_ADMITTED] = b->admitted[i];
    out[PS_MISSING] = b->party_missing[b->env->first + i], out[PS_GENMASK] = b->gen_mask[i];
}

static const char *const series[] = {"mm_test_acc",   "mm_train_loss",      "aligned_rows",
                                     "gpa_pairs",     "gpa_precision",      "gen_lambda",
                                     "gen_sup_loss",  "gen_dpo_loss",       "gen_pair_acc",
                                     "fill_admitted", "party_missing_mask", "party_gen_mask"};
#define N_SERIES ((int)(sizeof series / sizeof series[0]))

static void declare_series(void *st, MetricLog *log) {
    Bomm *b = st;
    for (int k = 0; k < N_SERIES; k++)
        metriclog_add(log, series[k], k >= N_SERIES - 2 ? b->P : 1, 0);
}

static void record(void *st, MetricLog *log, const double *ps, int evaluated, char *note,
                   size_t cap) {
    Bomm *b = st;
    const BommDiag *d = &b->diag;
    const double v[] = {d->mm_acc, d->mm_loss, d->aligned, d->pairs,       d->precision,
                        d->lambda, d->gen_sup, d->gen_dpo, d->gen_pair_acc};
    for (int k = 0; k < (int)(sizeof v / sizeof v[0]); k++)
        metriclog_set(log, metriclog_find(log, series[k]), 0, v[k]);
    double filled = 0, admitted = 0;
    int missing = metriclog_find(log, "party_missing_mask");
    int gen = metriclog_find(log, "party_gen_mask");
    for (int p = 0; p < b->P; p++) {
        const double *x = ps + (size_t)p * PS_COUNT;
        filled += x[PS_FILLED], admitted += x[PS_ADMITTED];
        metriclog_set(log, missing, p, x[PS_MISSING]);
        metriclog_set(log, gen, p, x[PS_GENMASK]);
    }
    metriclog_set(log, metriclog_find(log, "fill_admitted"), 0,
                  filled > 0 ? admitted / filled : NAN);
    if (evaluated && !isnan(d->mm_acc)) snprintf(note, cap, " | large acc %.3f", d->mm_acc);
}

// The soft labels as one dataset over every party's training rows in party order: its rows, this
// rank's first row and its row count.
static void soft_rows(const Bomm *b, int64_t *total, int64_t *row0, int64_t *mine) {
    *total = *row0 = *mine = 0;
    for (int p = 0; p < b->P; p++) {
        if (p < b->env->first) *row0 += b->env->n_train[p];
        *total += b->env->n_train[p];
    }
    for (int i = 0; i < b->count; i++)
        *mine += b->env->train[i].n;
}

static void ckpt_fields(void *st, CkptList *l) {
    Bomm *b = st;
    int M = b->M, K = b->K;
    int64_t slots = (int64_t)M * M;
    if (b->need_protos) { // every rank reads them: the fills use them
        CkptField *f = ckpt_list_add(l, "cloud/protos", CKPT_F64, CKPT_SHARED, 0, K, b->protos);
        f->ndim = 3, f->dims[1] = M, f->dims[2] = b->D;
        f = ckpt_list_add(l, "cloud/proto_valid", CKPT_U8, CKPT_SHARED, 0, K, b->valid);
        f->ndim = 2, f->dims[1] = M;
        f = ckpt_list_add(l, "cloud/proto_count", CKPT_I64, CKPT_SHARED, 0, K, b->pcount);
        f->ndim = 2, f->dims[1] = M;
        ckpt_list_add(l, "cloud/have_protos", CKPT_I64, CKPT_SHARED, 0, 1, &b->have_protos);
    }
    if (b->s.use_mm) {
        const Model *mm = &b->mm;
        model_ckpt_fields(l, "cloud/large", mm, NULL, 0, CKPT_CLOUD, 0, 0, 0, b->mm_params);
        model_ckpt_fields(l, "cloud/large_opt/m", mm, NULL, 0, CKPT_CLOUD, 0, 0, 0, b->mm_opt.m);
        model_ckpt_fields(l, "cloud/large_opt/v", mm, NULL, 0, CKPT_CLOUD, 0, 0, 0, b->mm_opt.v);
        ckpt_list_add(l, "cloud/large_opt/step", CKPT_I64, CKPT_CLOUD, 0, 1,
                      b->rank == 0 ? &b->mm_opt.step : NULL);
        int64_t total, row0, mine;
        soft_rows(b, &total, &row0, &mine);
        CkptField *f =
            ckpt_list_add(l, "parties/soft_labels", CKPT_F32, CKPT_OWN, total, K, b->soft);
        f->row0 = row0, f->nrows = mine;
        f = ckpt_list_add(l, "parties/has_soft_label", CKPT_U8, CKPT_OWN, total, 1, b->has_soft);
        f->row0 = row0, f->nrows = mine;
    }
    if (b->s.fill == FILL_GEN) {
        const Model *g = &b->gen_model;
        model_ckpt_fields(l, "cloud/generators", g, NULL, 0, CKPT_SHARED, slots, 0, 0,
                          b->gen_params);
        ckpt_list_add(l, "cloud/generators_trained", CKPT_U8, CKPT_SHARED, slots, 1,
                      b->gen_trained);
        model_ckpt_fields(l, "cloud/generators_ref", g, NULL, 0, CKPT_CLOUD, slots, 0, 0,
                          b->gen_ref);
        model_ckpt_fields(l, "cloud/generators_opt/m", g, NULL, 0, CKPT_CLOUD, slots, 0, 0,
                          b->gen_m);
        model_ckpt_fields(l, "cloud/generators_opt/v", g, NULL, 0, CKPT_CLOUD, slots, 0, 0,
                          b->gen_v);
        ckpt_list_add(l, "cloud/generators_opt/step", CKPT_I64, CKPT_CLOUD, slots, 1, b->gen_step);
    }
}

static void ckpt_restored(void *st) {
    Bomm *b = st;
    if (b->need_protos && b->have_protos) bomm_protos_finish(b);
    if (b->s.fill != FILL_GEN) return;
    // What this rank held after the checkpoint's round: the targets its parties miss.
    uint32_t available = bomm_gen_targets(b);
    b->have_targets = b->rank == 0
                          ? available
                          : deliver_rank_needs(b->env->comm, b->party_missing, b->rank) & available;
}

static size_t cloud_params(void *st) {
    Bomm *b = st;
    return b->s.use_mm && b->rank == 0 ? b->mm.n_params : 0;
}

const Protocol protocol_bomm = {
    .name = "bomm",
    .create = create,
    .destroy = destroy,
    .begin_round = begin_round,
    .hooks = hooks,
    .after_local = after_local,
    .server_update = protocol_mean_update,
    .exchange = exchange,
    .evaluate = evaluate,
    .party_stats = party_stats,
    .declare_series = declare_series,
    .record = record,
    .ckpt_fields = ckpt_fields,
    .ckpt_restored = ckpt_restored,
    .cloud_params = cloud_params,
};
