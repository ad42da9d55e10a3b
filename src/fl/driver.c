// driver.c - rounds, exact aggregation, metrics, checkpoints and resume (see driver.h).
#include "fl/driver.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collab/prototypes.h"
#include "comm/exact.h"
#include "comm/placement.h"
#include "comm/proto_reduce.h"
#include "core/die.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "data/scenario.h"
#include "fl/collab.h"
#include "fl/samples.h"
#include "fl/signals.h"
#include "fl/train.h"
#include "io/ckpt.h"
#include "io/runfile.h"
#include "methods/method.h"

extern const char mmc_git_version[];

// Party models are CHECKed to stay inside ±PARAM_CAP, which fixes the fixed-point exponent of the
// aggregation: weights n_k/N sum to 1, so Σ|terms| <= PARAM_CAP and 2^PARAM_EXP resolution
// (~3.6e-15) is far below float32's.
#define PARAM_CAP 4096.0
#define PARAM_EXP 48

// Per-party statistics gathered to the cloud every round, in party order.
enum {
    ST_TRAIN_LOSS,
    ST_TRAIN_OK,
    ST_TRAIN_N,
    ST_TEST_LOSS,
    ST_TEST_OK,
    ST_TEST_N,
    ST_UP,
    ST_DOWN,
    ST_FILLED,   // collaboration methods: completed blocks in training
    ST_ADMITTED, // and those admitted by the schedule
    ST_MISSING,  // bitmask of the party's missing modalities
    ST_GENMASK,  // bitmask of the generator targets it received this round
    ST_COUNT
};

typedef struct {
    const Config *cfg;
    const FlMethod *method;
    MPI_Comm comm;
    int rank, size;
    Placement pl;
    int first, count; // hosted parties [first, first + count)
    Dataset *ds;
    SampleLayout layout;
    PartyModel pm;
    size_t n_params;
    SampleSet *train, *test; // (count) hosted parties' rows
    int64_t *n_train;        // (P) every party's training rows: the aggregation weights
    int64_t n_train_total;
    SampleSet global_test; // rank 0: every test row, all modalities
    SampleSet pooled;      // rank 0, centralized: every party's training rows
    float *global;         // (n_params) every rank
    float *server_state;   // (n_state) rank 0
    size_t n_state;
    float *party_params;  // local: (count, n_params) persistent models; collaboration methods
                          // with personal models: each party's model after this round's training
    uint8_t *personal_ok; // (count) party_params holds this round's personal model
    float *party_m, *party_v; // local: (count, n_params) their AdamW moments / SGD velocity
    int64_t *party_step;      // local: (count) their optimizer steps
    float *work_params;       // federated: the party model being trained
    OptState work_opt, cloud_opt;
    EvalStats central_train; // rank 0, centralized: the cloud's training statistics this round
    Collab *collab;          // METHOD_COLLAB: prototypes, the cloud's large model, generators
    double mm_acc;           // rank 0: the large model's test accuracy this round (NaN: none)
    int64_t *acc;            // (n_params) exact sum
    TrainScratch ts;
    double *stats;     // (count, ST_COUNT)
    double *all_stats; // rank 0: (P, ST_COUNT)
    MetricLog log;     // rank 0
    RunInfo info;
    int64_t *peak_rss_kib; // rank 0: (size), for run.h5 /meta
    // Representation-level methods (FlMethod.party_rep_loss, needs_prev_model, shares_prototypes).
    float *party_prev;         // needs_prev_model: (count, n_params) each party's last local model
    uint8_t *prev_valid;       // needs_prev_model: (count) 1 once the party has one
    PmWork rep_glob, rep_prev; // needs_prev_model: forwards of the global and previous models
    double *protos;            // shares_prototypes: (K, D) global prototypes of u, every rank
    uint8_t *proto_valid;      // shares_prototypes: (K)
    int have_protos;           // shares_prototypes: 0 before the first exchange
    char ckpt_dir[4096], hosts[4096], started[32];
} Run;

static void opt_alloc(OptState *o, size_t n) {
    o->m = xcalloc_aligned(n * sizeof(float));
    o->v = xcalloc_aligned(n * sizeof(float));
    o->step = 0;
}

static void opt_reset(OptState *o, size_t n) {
    memset(o->m, 0, n * sizeof(float));
    memset(o->v, 0, n * sizeof(float));
    o->step = 0;
}

static void opt_free(OptState *o) {
    xfree(o->m);
    xfree(o->v);
    memset(o, 0, sizeof *o);
}

// ---- setup ----

static void make_dirs(Run *run) {
    const Config *cfg = run->cfg;
    snprintf(run->ckpt_dir, sizeof run->ckpt_dir, "%s/ckpt", cfg->out);
    int ok = 1;
    char msg[4200] = "";
    if (run->rank == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s", cfg->out);
        for (char *p = path + 1; *p; p++) // mkdir -p
            if (*p == '/') *p = 0, mkdir(path, 0755), *p = '/';
        mkdir(path, 0755);
        mkdir(run->ckpt_dir, 0755);
        struct stat st;
        if (stat(run->ckpt_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            ok = 0;
            snprintf(msg, sizeof msg, "cannot create %s: %s", run->ckpt_dir, strerror(errno));
        }
    }
    MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, run->comm));
    CHECK(ok, "--out=%s: %s", cfg->out, msg);
}

// The scenario of one split: every rank computes all of it (cheap), then keeps its parties.
static void split_scenario(Run *run, DsSplit split, int64_t n, Scenario *scn) {
    const Config *cfg = run->cfg;
    ScenarioConfig sc;
    int n_mod = run->layout.n_mod;
    if (scenario_preset(&sc, cfg->scenario, cfg->parties, n_mod) != 0) {
        char names[1024] = "";
        for (int i = 0; SCENARIO_PRESETS[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     SCENARIO_PRESETS[i]);
        CHECK(0, "--scenario=%s: unknown preset; expected one of %s", cfg->scenario, names);
    }
    const struct {
        const char *key, *value;
    } overrides[] = {{"alpha", cfg->scn_alpha},
                     {"missing", cfg->scn_missing},
                     {"cross", cfg->scn_cross},
                     {"hybrid_p", cfg->scn_hybrid_p},
                     {"overlap", cfg->scn_overlap},
                     {"quantity", cfg->scn_quantity},
                     {"min_per_label", cfg->scn_min_per_label}};
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++)
        if (overrides[i].value[0]) scenario_config_set(&sc, overrides[i].key, overrides[i].value);
    if (split == DS_TEST) sc.min_per_label = 0; // test rows follow the split, without a floor

    int32_t *label = xmalloc((size_t)n * sizeof *label + 1);
    int64_t *entity = xmalloc((size_t)n * sizeof *entity + 1);
    int n_meta = dataset_n_meta(run->ds);
    int32_t *meta = n_meta ? xmalloc((size_t)n * (size_t)n_meta * sizeof *meta) : NULL;
    const char *meta_names[64];
    CHECK(n_meta <= 64, "%d meta columns", n_meta);
    for (int k = 0; k < n_meta; k++)
        meta_names[k] = dataset_meta_name(run->ds, k);
    dataset_read_labels(run->ds, split, 0, n, label);
    dataset_read_entities(run->ds, split, 0, n, entity);
    if (meta) dataset_read_meta(run->ds, split, 0, n, meta);
    ScenarioData d = {.n = n,
                      .n_classes = dataset_n_classes(run->ds),
                      .n_modalities = n_mod,
                      .label = label,
                      .entity = entity,
                      .meta = meta,
                      .n_meta = n_meta,
                      .meta_names = meta_names};
    scenario_compute(scn, &sc, &d, (uint64_t)cfg->seed);
    xfree(label);
    xfree(entity);
    xfree(meta);
}

static void load_parties(Run *run, DsSplit split, int64_t n, SampleSet *sets, int64_t *sizes) {
    Scenario scn;
    split_scenario(run, split, n, &scn);
    // Rows that lost every modality (FedMLLM's "both can be missing") carry nothing to learn.
    for (int p = 0; p < run->pl.parties; p++) {
        ScenarioParty *sp = &scn.party[p];
        int64_t kept = 0;
        for (int64_t i = 0; i < sp->n; i++)
            if (sp->mask[i]) sp->index[kept] = sp->index[i], sp->mask[kept++] = sp->mask[i];
        sp->n = kept;
        if (sizes) sizes[p] = kept;
    }
    for (int i = 0; i < run->count; i++) {
        const ScenarioParty *sp = &scn.party[run->first + i];
        sampleset_load(&sets[i], &run->layout, run->ds, split, sp->index, sp->mask, sp->n);
    }
    if (split == DS_TRAIN && run->method->kind == METHOD_CENTRAL && run->rank == 0) {
        // The cloud pools every party's rows (with their masks), in party order: one read.
        int64_t total = 0, at = 0;
        for (int p = 0; p < run->pl.parties; p++)
            total += scn.party[p].n;
        int64_t *idx = xmalloc((size_t)total * sizeof *idx + 1);
        uint8_t *mask = xmalloc((size_t)total + 1);
        for (int p = 0; p < run->pl.parties; p++) {
            memcpy(idx + at, scn.party[p].index, (size_t)scn.party[p].n * sizeof *idx);
            memcpy(mask + at, scn.party[p].mask, (size_t)scn.party[p].n);
            at += scn.party[p].n;
        }
        sampleset_load(&run->pooled, &run->layout, run->ds, split, idx, mask, total);
        xfree(idx);
        xfree(mask);
    }
    scenario_free(&scn);
}

// Rank 0 validates the whole file (a full scan); the others trust it and skip the scan.
static void open_data(Run *run) {
    const Config *cfg = run->cfg;
    char err[1024] = "";
    if (run->rank == 0) {
        run->ds = dataset_open(cfg->data, err, sizeof err);
        if (!run->ds && access(cfg->data, F_OK) != 0)
            die_set_hint("build the datasets with 'make data' (datasets/README.md), or pass "
                         "--data=FILE");
        CHECK(run->ds, "--data: %s", err);
    }
    MPI_CHECK(MPI_Barrier(run->comm));
    if (run->rank != 0) {
        run->ds = dataset_open_flags(cfg->data, DATASET_SKIP_SCAN, err, sizeof err);
        CHECK(run->ds, "--data: %s", err);
    }
    samples_layout(&run->layout, run->ds);
}

static int64_t split_rows(const Run *run, DsSplit split) {
    int64_t n = dataset_n(run->ds, split),
            cap = split == DS_TRAIN ? run->cfg->max_train : run->cfg->max_test;
    return cap > 0 && cap < n ? cap : n;
}

static void load_data(Run *run) {
    int P = run->pl.parties;
    run->train = xcalloc((size_t)run->count + 1, sizeof *run->train);
    run->test = xcalloc((size_t)run->count + 1, sizeof *run->test);
    run->n_train = xcalloc((size_t)P, sizeof *run->n_train);
    load_parties(run, DS_TRAIN, split_rows(run, DS_TRAIN), run->train, run->n_train);
    load_parties(run, DS_TEST, split_rows(run, DS_TEST), run->test, NULL);
    run->n_train_total = 0;
    for (int p = 0; p < P; p++)
        run->n_train_total += run->n_train[p];
    CHECK(run->n_train_total > 0, "scenario %s leaves no training rows", run->cfg->scenario);
    if (run->rank == 0) {
        int64_t n = split_rows(run, DS_TEST);
        int64_t *idx = xmalloc((size_t)n * sizeof *idx);
        uint8_t *all = xmalloc((size_t)n);
        for (int64_t i = 0; i < n; i++)
            idx[i] = i, all[i] = (uint8_t)((1u << run->layout.n_mod) - 1);
        sampleset_load(&run->global_test, &run->layout, run->ds, DS_TEST, idx, all, n);
        xfree(idx);
        xfree(all);
    }
}

static void describe_run(Run *run) {
    const Config *cfg = run->cfg;
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len;
    MPI_CHECK(MPI_Get_processor_name(name, &len));
    char *all = run->rank == 0 ? xcalloc((size_t)run->size, MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_CHECK(MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME,
                         MPI_CHAR, 0, run->comm));
    if (run->rank == 0) {
        size_t used = 0;
        for (int r = 0; r < run->size && used < sizeof run->hosts; r++)
            used += (size_t)snprintf(run->hosts + used, sizeof run->hosts - used, "%s%s",
                                     r ? "," : "", all + (size_t)r * MPI_MAX_PROCESSOR_NAME);
        xfree(all);
    }
    time_t now = time(NULL);
    strftime(run->started, sizeof run->started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *job = getenv("SLURM_JOB_ID"), *array = getenv("SLURM_ARRAY_JOB_ID"),
               *task = getenv("SLURM_ARRAY_TASK_ID");
    run->info = (RunInfo){.program = "mmcollab",
                          .method = cfg->method,
                          .git = mmc_git_version,
                          .slurm_job_id = job ? job : "",
                          .slurm_array_job_id = array ? array : "",
                          .slurm_array_task_id = task ? task : "",
                          .hosts = run->hosts,
                          .started = run->started,
                          .world_size = run->size};
}

// Every rank's peak resident memory so far, to the cloud for run.h5's /meta: a fact about the
// layout like the hosts, so it never enters a checkpoint. Collective.
static void gather_peak_rss(Run *run) {
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage: %s", strerror(errno));
    int64_t kib = ru.ru_maxrss; // Linux: KiB
    log_debug("peak RSS %.1f MiB (%d parties hosted)", (double)kib / 1024.0, run->count);
    if (run->rank == 0 && !run->peak_rss_kib) {
        run->peak_rss_kib = xcalloc((size_t)run->size, sizeof *run->peak_rss_kib);
        run->info.peak_rss_kib = run->peak_rss_kib;
    }
    MPI_CHECK(MPI_Gather(&kib, 1, MPI_INT64_T, run->peak_rss_kib, 1, MPI_INT64_T, 0, run->comm));
}

// Series of the metric log, in the order they appear in metrics.csv.
enum {
    M_TRAIN_LOSS,
    M_TRAIN_ACC,
    M_TEST_LOSS,
    M_TEST_ACC,
    M_PARTY_TEST_ACC_MEAN,
    M_BYTES_UP,
    M_BYTES_DOWN,
    M_BYTES_UP_WIRE,
    M_BYTES_DOWN_WIRE,
    M_ROUND_MS,
    M_P_TRAIN_LOSS,
    M_P_TRAIN_ACC,
    M_P_TEST_ACC,
    M_P_N_TRAIN,
    M_P_BYTES_UP,
    M_P_BYTES_DOWN,
    M_P_BYTES_UP_WIRE,
    M_P_BYTES_DOWN_WIRE,
    M_COUNT
};

// Series of the collaboration methods only, after the common ones.
enum {
    MC_MM_TEST_ACC = M_COUNT,
    MC_MM_LOSS,
    MC_ALIGNED,
    MC_GPA_PAIRS,
    MC_GPA_PRECISION,
    MC_GEN_LAMBDA,
    MC_GEN_SUP,
    MC_GEN_DPO,
    MC_GEN_PAIR_ACC,
    MC_ADMITTED,
    MC_P_MISSING_MASK,
    MC_P_GEN_MASK,
    MC_END
};

static void declare_series(Run *run) {
    static const struct {
        const char *name;
        int per_party, timing;
    } series[M_COUNT] = {
        {"train_loss", 0, 0},       {"train_acc", 0, 0},           {"test_loss", 0, 0},
        {"test_acc", 0, 0},         {"party_test_acc_mean", 0, 0}, {"bytes_up", 0, 0},
        {"bytes_down", 0, 0},       {"bytes_up_wire", 0, 0},       {"bytes_down_wire", 0, 0},
        {"round_ms", 0, 1},         {"party_train_loss", 1, 0},    {"party_train_acc", 1, 0},
        {"party_test_acc", 1, 0},   {"party_n_train", 1, 0},       {"party_bytes_up", 1, 0},
        {"party_bytes_down", 1, 0}, {"party_bytes_up_wire", 1, 0}, {"party_bytes_down_wire", 1, 0},
    };
    metriclog_init(&run->log);
    for (int i = 0; i < M_COUNT; i++) {
        int idx = metriclog_add(&run->log, series[i].name,
                                series[i].per_party ? run->pl.parties : 1, series[i].timing);
        CHECK(idx == i, "series order");
    }
    if (run->method->kind != METHOD_COLLAB) return;
    static const char *collab_series[MC_END - M_COUNT] = {
        "mm_test_acc",   "mm_train_loss", "aligned_rows",       "gpa_pairs",
        "gpa_precision", "gen_lambda",    "gen_sup_loss",       "gen_dpo_loss",
        "gen_pair_acc",  "fill_admitted", "party_missing_mask", "party_gen_mask"};
    for (int i = M_COUNT; i < MC_END; i++) {
        int per_party = i >= MC_P_MISSING_MASK;
        int idx = metriclog_add(&run->log, collab_series[i - M_COUNT],
                                per_party ? run->pl.parties : 1, 0);
        CHECK(idx == i, "series order");
    }
}

// The state of the representation-level methods (see method.h), zero when the method has none.
static void setup_rep(Run *run) {
    const FlMethod *m = run->method;
    size_t n = run->n_params;
    CHECK(!m->needs_prev_model || m->kind == METHOD_FEDERATED,
          "method %s: needs_prev_model is implemented for federated methods only", m->name);
    CHECK(!m->shares_prototypes || m->kind == METHOD_LOCAL,
          "method %s: shares_prototypes is implemented for methods with party models only",
          m->name);
    if (m->needs_prev_model) {
        run->party_prev = xcalloc_aligned((size_t)run->count * n * sizeof(float) + 1);
        run->prev_valid = xcalloc((size_t)run->count + 1, 1);
        pm_work_init(&run->rep_glob, &run->pm, run->cfg->batch_size);
        pm_work_init(&run->rep_prev, &run->pm, run->cfg->batch_size);
    }
    if (m->shares_prototypes) {
        run->protos = xcalloc((size_t)run->pm.c.K * run->pm.c.D, sizeof *run->protos);
        run->proto_valid = xcalloc((size_t)run->pm.c.K, 1);
    }
}

static void teardown_rep(Run *run) {
    xfree(run->party_prev), xfree(run->prev_valid), xfree(run->protos), xfree(run->proto_valid);
    if (run->rep_glob.Bmax) pm_work_free(&run->rep_glob);
    if (run->rep_prev.Bmax) pm_work_free(&run->rep_prev);
}

static void setup(Run *run, const Config *cfg, MPI_Comm comm) {
    memset(run, 0, sizeof *run);
    run->cfg = cfg;
    run->comm = comm;
    run->method = method_find(cfg->method);
    CHECK(run->method, "--method=%s: unknown", cfg->method);
    MPI_CHECK(MPI_Comm_rank(comm, &run->rank));
    MPI_CHECK(MPI_Comm_size(comm, &run->size));
    placement_init(&run->pl, cfg->parties, run->size);
    run->count = placement_block(&run->pl, run->rank, &run->first);
    make_dirs(run);
    open_data(run);
    PmConfig pc;
    samples_model_config(&pc, &run->layout, run->ds, cfg->width);
    pm_init(&run->pm, &pc);
    run->n_params = run->pm.n_params;
    load_data(run);
    describe_run(run);

    size_t n = run->n_params;
    run->global = xcalloc_aligned(n * sizeof(float));
    Rng rng;
    rng_init(&rng, (uint64_t)cfg->seed, 0, 0, RNG_INIT); // every rank: the same initial model
    pm_init_params(&run->pm, run->global, &rng);
    if (run->method->server_state_floats) run->n_state = run->method->server_state_floats(n);
    if (run->rank == 0 && run->n_state) {
        run->server_state = xcalloc_aligned(run->n_state * sizeof(float));
        if (run->method->server_init) run->method->server_init(run->server_state, n, cfg);
    }
    switch (run->method->kind) {
    case METHOD_FEDERATED:
    case METHOD_COLLAB:
        run->work_params = xcalloc_aligned(n * sizeof(float));
        opt_alloc(&run->work_opt, n);
        run->acc = xcalloc(n, sizeof *run->acc);
        break;
    case METHOD_LOCAL:
        run->party_params = xcalloc_aligned((size_t)run->count * n * sizeof(float) + 1);
        run->party_m = xcalloc_aligned((size_t)run->count * n * sizeof(float) + 1);
        run->party_v = xcalloc_aligned((size_t)run->count * n * sizeof(float) + 1);
        run->party_step = xcalloc((size_t)run->count + 1, sizeof *run->party_step);
        for (int i = 0; i < run->count; i++)
            memcpy(run->party_params + (size_t)i * n, run->global, n * sizeof(float));
        break;
    case METHOD_CENTRAL:
        if (run->rank == 0) opt_alloc(&run->cloud_opt, n);
        break;
    }
    train_scratch_init(&run->ts, &run->pm, &run->layout, cfg->batch_size);
    if (run->method->kind == METHOD_COLLAB) {
        CollabSetup cs = {.cfg = cfg,
                          .pm = &run->pm,
                          .layout = &run->layout,
                          .pl = &run->pl,
                          .first = run->first,
                          .count = run->count,
                          .train = run->train,
                          .test = run->test,
                          .n_train = run->n_train,
                          .comm = comm};
        CHECK(run->method->collab_settings, "%s: no collab_settings", run->method->name);
        run->method->collab_settings(&cs.s, cfg);
        run->collab = collab_create(&cs);
        if (collab_personal(run->collab)) {
            run->party_params = xcalloc_aligned((size_t)run->count * n * sizeof(float) + 1);
            run->personal_ok = xcalloc((size_t)run->count + 1, 1);
        }
    }
    run->mm_acc = NAN;
    setup_rep(run);
    run->stats = xcalloc((size_t)run->count * ST_COUNT + 1, sizeof *run->stats);
    if (run->rank == 0) {
        run->all_stats = xcalloc((size_t)run->pl.parties * ST_COUNT, sizeof *run->all_stats);
        declare_series(run);
    }
}

static void teardown(Run *run) {
    for (int i = 0; i < run->count; i++) {
        sampleset_free(&run->train[i]);
        sampleset_free(&run->test[i]);
    }
    xfree(run->train), xfree(run->test), xfree(run->n_train);
    xfree(run->party_m), xfree(run->party_v), xfree(run->party_step);
    sampleset_free(&run->global_test);
    sampleset_free(&run->pooled);
    xfree(run->global), xfree(run->server_state), xfree(run->party_params), xfree(run->personal_ok);
    xfree(run->work_params), xfree(run->acc), xfree(run->stats), xfree(run->all_stats);
    if (run->work_opt.m) opt_free(&run->work_opt);
    if (run->cloud_opt.m) opt_free(&run->cloud_opt);
    train_scratch_free(&run->ts);
    collab_free(run->collab);
    teardown_rep(run);
    xfree(run->peak_rss_kib);
    if (run->rank == 0) metriclog_free(&run->log);
    dataset_close(run->ds);
}

// ---- one round ----

static void check_party_model(const float *w, size_t n, int party, int round) {
    for (size_t i = 0; i < n; i++)
        CHECK(isfinite(w[i]) && fabsf(w[i]) <= PARAM_CAP,
              "party %d, round %d: parameter %zu is %g after local training (diverged; lower "
              "--lr or raise --clip)",
              party, round, i, (double)w[i]);
}

static void record_train(double *st, const EvalStats *e) {
    st[ST_TRAIN_LOSS] = e->loss_sum;
    st[ST_TRAIN_OK] = (double)e->correct;
    st[ST_TRAIN_N] = (double)e->n;
}

// Every rank holds the same global model at the start (same seeded init, or the checkpoint's) and
// after every round: the cloud broadcasts it once, where it changes, for the next round's training
// and this round's evaluation alike.
static void share_global(Run *run) {
    MPI_CHECK(MPI_Bcast(run->global, (int)run->n_params, MPI_FLOAT, 0, run->comm));
}

// ---- representation-level methods ----

// The PartyHooks.extra context: which hosted party is training.
typedef struct {
    Run *run;
    int i;
} RepCtx;

// PartyHooks.extra: the method's term on u, with the references it asked for (method.h RepBatch).
static double rep_extra(void *ctx, const PartyModel *pm, const float *params, PmWork *w,
                        const PmInput *in, const int64_t *rows, const int *labels, int B) {
    (void)params, (void)rows;
    const RepCtx *c = ctx;
    Run *run = c->run;
    RepBatch b = {.B = B, .D = pm->c.D, .K = pm->c.K, .labels = labels, .u = w->u};
    if (run->method->needs_prev_model && run->prev_valid[c->i]) {
        pm_forward(pm, run->global, in, &run->rep_glob);
        pm_forward(pm, run->party_prev + (size_t)c->i * run->n_params, in, &run->rep_prev);
        b.u_glob = run->rep_glob.u, b.u_prev = run->rep_prev.u;
    }
    if (run->method->shares_prototypes && run->have_protos)
        b.protos = run->protos, b.proto_valid = run->proto_valid;
    return run->method->party_rep_loss(w->drep, &b, run->cfg);
}

// Hosted party i's hooks (in *h, with *c), or NULL when the method has no term on u.
static const PartyHooks *rep_hooks(Run *run, int i, RepCtx *c, PartyHooks *h) {
    if (!run->method->party_rep_loss) return NULL;
    *c = (RepCtx){run, i};
    *h = (PartyHooks){.ctx = c, .extra = rep_extra};
    return h;
}

// needs_prev_model: hosted party i's model as it left local training, for its next round.
static void keep_prev_model(Run *run, int i, const float *params) {
    if (!run->method->needs_prev_model) return;
    memcpy(run->party_prev + (size_t)i * run->n_params, params, run->n_params * sizeof(float));
    run->prev_valid[i] = 1;
}

// shares_prototypes, after local training: every party's per-class sums and counts of u over its
// training rows (in row order, so they do not depend on the host), reduced exactly to the global
// prototypes on every rank. Each party with rows sends its prototypes; every party receives P̄.
static void share_prototypes(Run *run) {
    int K = run->pm.c.K, D = run->pm.c.D;
    size_t n = run->n_params, kd = (size_t)K * D;
    double *sums = xcalloc((size_t)run->count * kd + 1, sizeof *sums);
    int64_t *counts = xcalloc((size_t)run->count * K + 1, sizeof *counts);
    TrainScratch *t = &run->ts;
    for (int i = 0; i < run->count; i++) {
        const SampleSet *s = &run->train[i];
        for (int64_t start = 0; start < s->n; start += t->batch.Bmax) {
            int B = (int)(s->n - start < t->batch.Bmax ? s->n - start : t->batch.Bmax);
            sampleset_batch(s, &run->layout, NULL, start, B, &t->batch);
            for (int m = 0; m < PM_MAX_MOD; m++)
                t->batch.in.fill[m] = NULL;
            pm_forward(&run->pm, run->party_params + (size_t)i * n, &t->batch.in, &t->work);
            proto_accumulate(sums + (size_t)i * kd, counts + (size_t)i * K, t->work.u,
                             t->batch.label, NULL, B, D, K, 1, 0);
        }
    }
    size_t bytes = proto_allreduce(run->protos, run->proto_valid, NULL, sums, counts, run->count, K,
                                   1, D, run->comm);
    run->have_protos = 1;
    for (int i = 0; i < run->count; i++) {
        double *st = run->stats + (size_t)i * ST_COUNT;
        st[ST_UP] += run->train[i].n > 0 ? (double)bytes : 0.0;
        st[ST_DOWN] += (double)bytes;
    }
    xfree(sums), xfree(counts);
}

// Federated averaging of the small models; the collaboration methods add their hooks, uploads and
// the cloud's side (fl/collab.h) around it.
static void federated_round(Run *run, int round) {
    size_t n = run->n_params, bytes = n * sizeof(float);
    Collab *co = run->collab;
    memset(run->acc, 0, n * sizeof *run->acc);
    if (co) collab_begin_round(co, round);
    for (int i = 0; i < run->count; i++) {
        int party = run->first + i;
        double *st = run->stats + (size_t)i * ST_COUNT;
        if (run->train[i].n == 0) continue; // nothing to learn from, nothing sent
        memcpy(run->work_params, run->global, bytes);
        opt_reset(&run->work_opt, n);
        EvalStats e;
        RepCtx rc;
        PartyHooks h;
        train_party(&run->pm, run->work_params, &run->work_opt, &run->train[i], &run->layout,
                    run->cfg, run->method, run->global, round, party,
                    co ? collab_hooks(co, i, 1) : rep_hooks(run, i, &rc, &h), &run->ts, &e);
        record_train(st, &e);
        check_party_model(run->work_params, n, party, round);
        keep_prev_model(run, i, run->work_params);
        if (co) collab_party_done(co, i, run->work_params, round);
        if (run->personal_ok) { // recomputed every round before it is used: no checkpoint needed
            memcpy(run->party_params + (size_t)i * n, run->work_params, bytes);
            run->personal_ok[i] = 1;
        }
        exact_add(run->acc, run->work_params,
                  (double)run->n_train[party] / (double)run->n_train_total, n, PARAM_EXP);
        st[ST_DOWN] = (double)bytes;
        st[ST_UP] = (double)(bytes + sizeof(int64_t)); // the model and its sample count
    }
    exact_reduce(run->acc, n, 0, run->comm);
    if (run->rank == 0) {
        float *mean = xmalloc(bytes);
        exact_to_float(mean, run->acc, n, PARAM_EXP, 1.0);
        run->method->server_update(run->global, run->server_state, mean, n, run->cfg, round);
        xfree(mean);
    }
    if (co) {
        collab_exchange(co, round);
        for (int i = 0; i < run->count; i++) {
            double *st = run->stats + (size_t)i * ST_COUNT, up, down;
            collab_party_stats(co, i, &up, &down, &st[ST_FILLED], &st[ST_ADMITTED], &st[ST_MISSING],
                               &st[ST_GENMASK]);
            st[ST_UP] += up, st[ST_DOWN] += down;
        }
    }
    share_global(run);
}

static void local_round(Run *run, int round) {
    size_t n = run->n_params;
    for (int i = 0; i < run->count; i++) {
        EvalStats e;
        RepCtx rc;
        PartyHooks h;
        OptState opt = {run->party_m + (size_t)i * n, run->party_v + (size_t)i * n,
                        run->party_step[i]};
        train_party(&run->pm, run->party_params + (size_t)i * n, &opt, &run->train[i], &run->layout,
                    run->cfg, run->method, NULL, round, run->first + i, rep_hooks(run, i, &rc, &h),
                    &run->ts, &e);
        run->party_step[i] = opt.step;
        record_train(run->stats + (size_t)i * ST_COUNT, &e);
    }
}

static void central_round(Run *run, int round) {
    if (run->rank == 0)
        train_party(&run->pm, run->global, &run->cloud_opt, &run->pooled, &run->layout, run->cfg,
                    run->method, NULL, round, run->pl.parties, NULL, &run->ts, &run->central_train);
    share_global(run);
    // The data travels once, in the first round: each party uploads its rows.
    for (int i = 0; i < run->count && round == 1; i++)
        run->stats[(size_t)i * ST_COUNT + ST_UP] =
            (double)sampleset_bytes(&run->train[i], &run->layout);
}

// Party-side tests of the current model(s); the cloud tests the global model on every test row.
static void evaluate(Run *run, double *global_loss, double *global_acc) {
    size_t n = run->n_params;
    int local = run->method->kind == METHOD_LOCAL;
    for (int i = 0; i < run->count; i++) {
        EvalStats e;
        int own = local || (run->personal_ok && run->personal_ok[i]);
        const float *w = own ? run->party_params + (size_t)i * n : run->global;
        eval_model(&run->pm, w, &run->test[i], &run->layout,
                   run->collab ? collab_hooks(run->collab, i, 0) : NULL, &run->ts, &e);
        double *st = run->stats + (size_t)i * ST_COUNT;
        st[ST_TEST_LOSS] = e.loss_sum, st[ST_TEST_OK] = (double)e.correct,
        st[ST_TEST_N] = (double)e.n;
    }
    *global_loss = *global_acc = NAN;
    if (run->rank == 0 && !local) {
        EvalStats e;
        eval_model(&run->pm, run->global, &run->global_test, &run->layout, NULL, &run->ts, &e);
        if (e.n)
            *global_loss = e.loss_sum / (double)e.n, *global_acc = (double)e.correct / (double)e.n;
        if (run->collab)
            run->mm_acc = collab_eval_large(run->collab, run->global, &run->global_test);
    }
}

// Per-party statistics to the cloud in party order (contiguous blocks in rank order).
static void gather_stats(Run *run) {
    int *counts = NULL, *displs = NULL;
    if (run->rank == 0) {
        counts = xmalloc((size_t)run->size * sizeof *counts);
        displs = xmalloc((size_t)run->size * sizeof *displs);
        for (int r = 0; r < run->size; r++) {
            int first, cnt = placement_block(&run->pl, r, &first);
            counts[r] = cnt * ST_COUNT;
            displs[r] = first * ST_COUNT;
        }
    }
    MPI_CHECK(MPI_Gatherv(run->stats, run->count * ST_COUNT, MPI_DOUBLE, run->all_stats, counts,
                          displs, MPI_DOUBLE, 0, run->comm));
    // Centralized: one model trained on the cloud; its statistics stand for every party.
    for (int p = 0; run->rank == 0 && run->method->kind == METHOD_CENTRAL && p < run->pl.parties;
         p++)
        record_train(run->all_stats + (size_t)p * ST_COUNT, &run->central_train);
    xfree(counts);
    xfree(displs);
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void fmt_bytes(char *buf, size_t cap, double b) {
    if (b >= 1e9)
        snprintf(buf, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, cap, "%.2f MB", b / 1e6);
    else
        snprintf(buf, cap, "%.1f kB", b / 1e3);
}

// The collaboration methods' series: the large model, GPA, the generators and the completions.
static void record_collab(Run *run) {
    MetricLog *L = &run->log;
    CollabDiag d;
    collab_diag(run->collab, &d);
    metriclog_set(L, MC_MM_TEST_ACC, 0, run->mm_acc);
    metriclog_set(L, MC_MM_LOSS, 0, d.mm_loss);
    metriclog_set(L, MC_ALIGNED, 0, d.aligned);
    metriclog_set(L, MC_GPA_PAIRS, 0, d.pairs);
    metriclog_set(L, MC_GPA_PRECISION, 0, d.precision);
    metriclog_set(L, MC_GEN_LAMBDA, 0, d.lambda);
    metriclog_set(L, MC_GEN_SUP, 0, d.gen_sup);
    metriclog_set(L, MC_GEN_DPO, 0, d.gen_dpo);
    metriclog_set(L, MC_GEN_PAIR_ACC, 0, d.gen_pair_acc);
    double filled = 0, admitted = 0;
    for (int p = 0; p < run->pl.parties; p++) {
        const double *st = run->all_stats + (size_t)p * ST_COUNT;
        filled += st[ST_FILLED], admitted += st[ST_ADMITTED];
        metriclog_set(L, MC_P_MISSING_MASK, p, st[ST_MISSING]);
        metriclog_set(L, MC_P_GEN_MASK, p, st[ST_GENMASK]);
    }
    metriclog_set(L, MC_ADMITTED, 0, ratio(admitted, filled));
}

static void record_round(Run *run, int round, int evaluated, double gloss, double gacc, double ms,
                         double eta_s) {
    MetricLog *L = &run->log;
    int P = run->pl.parties;
    metriclog_next_round(L);
    double loss = 0, ok = 0, cnt = 0, up = 0, down = 0, acc_sum = 0;
    int acc_parties = 0;
    for (int p = 0; p < P; p++) {
        const double *st = run->all_stats + (size_t)p * ST_COUNT;
        loss += st[ST_TRAIN_LOSS], ok += st[ST_TRAIN_OK], cnt += st[ST_TRAIN_N];
        up += st[ST_UP], down += st[ST_DOWN];
        metriclog_set(L, M_P_TRAIN_LOSS, p, ratio(st[ST_TRAIN_LOSS], st[ST_TRAIN_N]));
        metriclog_set(L, M_P_TRAIN_ACC, p, ratio(st[ST_TRAIN_OK], st[ST_TRAIN_N]));
        metriclog_set(L, M_P_N_TRAIN, p, (double)run->n_train[p]);
        // No compression yet: the wire carries the logical bytes.
        metriclog_set(L, M_P_BYTES_UP, p, st[ST_UP]);
        metriclog_set(L, M_P_BYTES_DOWN, p, st[ST_DOWN]);
        metriclog_set(L, M_P_BYTES_UP_WIRE, p, st[ST_UP]);
        metriclog_set(L, M_P_BYTES_DOWN_WIRE, p, st[ST_DOWN]);
        if (evaluated && st[ST_TEST_N] > 0) {
            double a = st[ST_TEST_OK] / st[ST_TEST_N];
            metriclog_set(L, M_P_TEST_ACC, p, a);
            acc_sum += a, acc_parties++;
        }
    }
    metriclog_set(L, M_TRAIN_LOSS, 0, ratio(loss, cnt));
    metriclog_set(L, M_TRAIN_ACC, 0, ratio(ok, cnt));
    metriclog_set(L, M_TEST_LOSS, 0, gloss);
    metriclog_set(L, M_TEST_ACC, 0, gacc);
    metriclog_set(L, M_PARTY_TEST_ACC_MEAN, 0, acc_parties ? acc_sum / acc_parties : NAN);
    metriclog_set(L, M_BYTES_UP, 0, up);
    metriclog_set(L, M_BYTES_DOWN, 0, down);
    metriclog_set(L, M_BYTES_UP_WIRE, 0, up);
    metriclog_set(L, M_BYTES_DOWN_WIRE, 0, down);
    metriclog_set(L, M_ROUND_MS, 0, ms);
    char ub[32], db[32], accs[64] = "";
    fmt_bytes(ub, sizeof ub, up);
    fmt_bytes(db, sizeof db, down);
    if (run->collab) record_collab(run);
    if (evaluated && run->collab && !isnan(run->mm_acc))
        snprintf(accs, sizeof accs, " | acc %.3f | party acc %.3f | large acc %.3f", gacc,
                 acc_parties ? acc_sum / acc_parties : NAN, run->mm_acc);
    else if (evaluated)
        snprintf(accs, sizeof accs, " | acc %.3f | party acc %.3f", gacc,
                 acc_parties ? acc_sum / acc_parties : NAN);
    log_info("round %d/%d | loss %.4f%s | up %s | down %s | %.0f ms | eta %.0fs", round,
             run->cfg->rounds, ratio(loss, cnt), accs, ub, db, ms, eta_s);
}

// ---- checkpoints ----

static const OptSpec *comparable_options(const Config *cfg, int *n) {
    static OptSpec kept[128];
    int all;
    const OptSpec *table = config_table(cfg->method, &all);
    *n = 0;
    for (int i = 0; i < all && *n < 128; i++)
        if (!(table[i].flags & OPT_RESUME_NEUTRAL)) kept[(*n)++] = table[i];
    return kept;
}

// Every piece of run state a checkpoint holds beyond /config and /metrics: one list for writing
// and reading, so the two cannot drift apart.
#define STATE_FIELDS (16 + COLLAB_CKPT_FIELDS)
static int state_fields(Run *run, CkptField *f) {
    int64_t n = (int64_t)run->n_params, P = run->pl.parties, K = run->pm.c.K, D = run->pm.c.D;
    int64_t first = run->first, count = run->count;
    int k = 0;
    f[k++] = (CkptField){"cloud/global", CKPT_F32, CKPT_SHARED, 1, n, 0, 0, run->global};
    if (run->n_state)
        f[k++] = (CkptField){"cloud/server_state",  CKPT_F32, CKPT_CLOUD, 1,
                             (int64_t)run->n_state, 0,        0,          run->server_state};
    if (run->method->kind == METHOD_CENTRAL) {
        f[k++] = (CkptField){"cloud/opt_m", CKPT_F32, CKPT_CLOUD, 1, n, 0, 0, run->cloud_opt.m};
        f[k++] = (CkptField){"cloud/opt_v", CKPT_F32, CKPT_CLOUD, 1, n, 0, 0, run->cloud_opt.v};
        f[k++] =
            (CkptField){"cloud/opt_step", CKPT_I64, CKPT_CLOUD, 1, 1, 0, 0, &run->cloud_opt.step};
    }
    if (run->method->kind == METHOD_LOCAL) {
        f[k++] = (CkptField){"parties/params", CKPT_F32, CKPT_OWN, P, n, first, count,
                             run->party_params};
        f[k++] = (CkptField){"parties/opt_m", CKPT_F32, CKPT_OWN, P, n, first, count, run->party_m};
        f[k++] = (CkptField){"parties/opt_v", CKPT_F32, CKPT_OWN, P, n, first, count, run->party_v};
        f[k++] = (CkptField){"parties/opt_step", CKPT_I64, CKPT_OWN, P, 1, first, count,
                             run->party_step};
    }
    if (run->method->needs_prev_model) {
        f[k++] =
            (CkptField){"parties/prev", CKPT_F32, CKPT_OWN, P, n, first, count, run->party_prev};
        f[k++] = (CkptField){"parties/prev_valid", CKPT_U8, CKPT_OWN, P, 1, first, count,
                             run->prev_valid};
    }
    if (run->method->shares_prototypes) { // every checkpoint follows an exchange
        f[k++] = (CkptField){"cloud/protos", CKPT_F64, CKPT_SHARED, 1, K * D, 0, 0, run->protos};
        f[k++] =
            (CkptField){"cloud/proto_valid", CKPT_U8, CKPT_SHARED, 1, K, 0, 0, run->proto_valid};
    }
    if (run->collab) k += collab_ckpt_fields(run->collab, f + k);
    CHECK(k <= STATE_FIELDS, "%d checkpoint fields", k);
    return k;
}

static void write_checkpoint(Run *run, int round) {
    int me = run->rank == 0, n_opts, nf;
    const OptSpec *opts = comparable_options(run->cfg, &n_opts);
    CkptField f[STATE_FIELDS];
    nf = state_fields(run, f);
    Ckpt *ck = ckpt_create(run->ckpt_dir, round, run->comm);
    ckpt_write_config(ck, opts, n_opts, run->cfg);
    ckpt_write_fields(ck, f, nf, run->rank);
    ckpt_commit(ck, me ? &run->log : NULL, run->cfg->ckpt_keep);
    log_info("checkpoint %s/round_%06d.h5", run->ckpt_dir, round);
}

// Restores the newest valid checkpoint; returns its round (0 = start fresh).
static int resume(Run *run) {
    const Config *cfg = run->cfg;
    char path[4200] = "";
    int round = 0;
    if (run->rank == 0) {
        if (strcmp(cfg->resume, "auto") == 0)
            round = ckpt_find_valid(run->ckpt_dir, path, sizeof path);
        else // checkpoints of an earlier run are never overwritten silently
            CHECK(ckpt_count(run->ckpt_dir) == 0,
                  "%s holds checkpoints of an earlier run: continue it with --resume=auto, or "
                  "choose another --out (or delete that directory)",
                  run->ckpt_dir);
    }
    MPI_CHECK(MPI_Bcast(&round, 1, MPI_INT, 0, run->comm));
    if (round == 0) {
        if (strcmp(cfg->resume, "auto") == 0)
            log_info("resume=auto: no checkpoint in %s, starting fresh", run->ckpt_dir);
        return 0;
    }
    MPI_CHECK(MPI_Bcast(path, (int)sizeof path, MPI_CHAR, 0, run->comm));
    char err[1024];
    CkptReader *r = ckpt_open(path, err, sizeof err);
    CHECK(r, "resume: %s", err);
    if (run->rank == 0) {
        int n_cmp;
        const OptSpec *cmp = comparable_options(cfg, &n_cmp);
        char keys[2048];
        int diff = ckpt_config_diff(r, cmp, n_cmp, cfg, keys, sizeof keys);
        CHECK(diff == 0, "resume: %s was written with a different configuration: %s", path, keys);
        CHECK(ckpt_read_metrics(r, &run->log, err, sizeof err) == 0, "resume: %s: %s", path, err);
        CHECK(run->log.rounds == round, "resume: %s holds %d metric rows for round %d", path,
              run->log.rounds, round);
        runfile_restore_timings(cfg->out, &run->log);
    }
    CkptField f[STATE_FIELDS];
    ckpt_read_fields(r, f, state_fields(run, f), run->rank);
    if (run->method->shares_prototypes) run->have_protos = 1;
    if (run->collab) collab_ckpt_restored(run->collab);
    ckpt_close(r);
    log_info("resumed from %s (round %d of %d)", path, round, cfg->rounds);
    return round;
}

static void print_startup(const Run *run) {
    if (run->rank != 0) return;
    int n_opts;
    const OptSpec *opts = config_table(run->cfg->method, &n_opts);
    opts_print_table(opts, n_opts, run->cfg, stdout);
    log_info("mmcollab %s | method %s (%s) | %d ranks: cloud + %d host(s) | %d parties | data %s "
             "(%lld train rows used, %lld test) | small model %zu parameters",
             mmc_git_version, run->method->name, run->method->provenance, run->size, run->pl.hosts,
             run->pl.parties, run->cfg->data, (long long)run->n_train_total,
             (long long)run->global_test.n, run->n_params);
    size_t large = run->collab ? collab_large_params(run->collab) : 0;
    if (large)
        log_info("the cloud's multimodal large model: %zu parameters (%.1fx the small model)",
                 large, (double)large / (double)run->n_params);
}

int fl_run(const Config *cfg, MPI_Comm comm) {
    Run run;
    setup(&run, cfg, comm);
    print_startup(&run);
    int start = resume(&run), code = 0;
    double t_start = timer_now_ms() / 1e3;
    for (int round = start + 1; round <= cfg->rounds; round++) {
        double t0 = timer_now_ms() / 1e3;
        memset(run.stats, 0, (size_t)run.count * ST_COUNT * sizeof *run.stats);
        switch (run.method->kind) {
        case METHOD_FEDERATED:
        case METHOD_COLLAB:
            federated_round(&run, round);
            break;
        case METHOD_LOCAL:
            local_round(&run, round);
            break;
        case METHOD_CENTRAL:
            central_round(&run, round);
            break;
        }
        if (run.method->shares_prototypes) share_prototypes(&run);
        int evaluated = round % cfg->eval_every == 0 || round == cfg->rounds;
        double gloss = NAN, gacc = NAN;
        run.mm_acc = NAN;
        if (evaluated) evaluate(&run, &gloss, &gacc);
        gather_stats(&run);
        int stop = signals_agree(comm) || cfg->stop_after == round;
        gather_peak_rss(&run);
        if (run.rank == 0) {
            double now = timer_now_ms() / 1e3, ms = (now - t0) * 1e3;
            double eta = (now - t_start) / (round - start) * (cfg->rounds - round);
            record_round(&run, round, evaluated, gloss, gacc, ms, eta);
            int n_opts;
            const OptSpec *opts = config_table(cfg->method, &n_opts);
            runfile_write(cfg->out, &run.info, opts, n_opts, cfg, &run.log);
        }
        if (round % cfg->ckpt_every == 0 || round == cfg->rounds || stop)
            write_checkpoint(&run, round);
        if (stop && round < cfg->rounds) {
            log_info("stop requested (%s): checkpoint of round %d written; exit %d to be requeued "
                     "and resumed with --resume=auto",
                     cfg->stop_after == round ? "--stop-after" : "signal", round, EXIT_REQUEUE);
            code = EXIT_REQUEUE;
            break;
        }
    }
    if (run.rank == 0 && start >= cfg->rounds)
        log_info("nothing to do: the run already has %d rounds", start);
    teardown(&run);
    return code;
}
