// run.c - one run: setup of the ranks, the data, the model and the protocol; the loop of rounds;
// teardown (see run.h).
#include "fl/run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/die.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"
#include "fl/signals.h"
#include "tensor/blas.h"

// The build's provenance (the Makefile's generated version.c).
extern const char mmc_git_version[], mmc_git_commit[], mmc_git_diff_sha256[], mmc_build_flags[];
extern const int mmc_git_dirty;

void fl_registries(OptRegistry *methods, OptRegistry *models) {
    static const OptGroup *method_groups[64], *model_groups[16];
    CHECK(method_count <= 64 && model_n_kinds <= 16, "%d methods, %d model kinds", method_count,
          model_n_kinds);
    for (int i = 0; i < method_count; i++)
        method_groups[i] = &method_registry[i]->opt;
    for (int i = 0; i < model_n_kinds; i++)
        model_groups[i] = &model_kinds[i]->opt;
    *methods = (OptRegistry){method_groups, method_count};
    *models = (OptRegistry){model_groups, model_n_kinds};
}

void fl_train_config(TrainConfig *tc, const Config *cfg) {
    *tc = (TrainConfig){.seed = config_seed(cfg, cfg->seed_train),
                        .init_seed = config_seed(cfg, cfg->seed_init),
                        .epochs = cfg->local_epochs,
                        .sgd = strcmp(cfg->optimizer, "sgd") == 0,
                        .lr = cfg->lr,
                        .momentum = cfg->momentum,
                        .weight_decay = cfg->weight_decay,
                        .beta2 = cfg->adam_beta2,
                        .clip = cfg->clip,
                        .schedule = strcmp(cfg->lr_schedule, "cosine") == 0,
                        .warmup = cfg->warmup,
                        .rounds = cfg->rounds};
}

// ---- setup ----

static void make_dirs(Run *run) {
    const Config *cfg = run->cfg;
    // Every rank reads the same config, so every rank stops here together.
    CHECK(cfg->out[0], "--out is empty (an unset shell variable?): refusing to write the run into "
                       "/ckpt, /run.h5 and /metrics.csv; name a run directory");
    snprintf(run->ckpt_dir, sizeof run->ckpt_dir, "%s/ckpt", cfg->out);
    int32_t ok = 1;
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
    comm_bcast(run->comm, &ok, 1, COMM_I32, 0, NULL);
    CHECK(ok, "--out=%s: %s", cfg->out, msg);
}

static void describe_run(Run *run) {
    const Config *cfg = run->cfg;
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len;
    MPI_CHECK(MPI_Get_processor_name(name, &len));
    char *all = run->rank == 0 ? xcalloc((size_t)run->size, MPI_MAX_PROCESSOR_NAME) : NULL;
    comm_gather(run->comm, name, MPI_MAX_PROCESSOR_NAME, all, COMM_CHAR, 0, NULL);
    if (run->rank == 0) {
        size_t used = 0;
        for (int r = 0; r < run->size && used < sizeof run->hosts; r++)
            used += (size_t)snprintf(run->hosts + used, sizeof run->hosts - used, "%s%s",
                                     r ? "," : "", all + (size_t)r * MPI_MAX_PROCESSOR_NAME);
        xfree(all);
    }
    // Rank 0's core name for every rank: checkpoints store one value, written collectively.
    if (run->rank == 0) snprintf(run->blas_core, sizeof run->blas_core, "%s", blas_core_name());
    comm_bcast(run->comm, run->blas_core, sizeof run->blas_core, COMM_CHAR, 0, NULL);
    time_t now = time(NULL);
    strftime(run->started, sizeof run->started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *job = getenv("SLURM_JOB_ID"), *array = getenv("SLURM_ARRAY_JOB_ID"),
               *task = getenv("SLURM_ARRAY_TASK_ID");
    run->info = (RunInfo){.program = "mmcollab",
                          .method = cfg->method,
                          .git = mmc_git_version,
                          .git_commit = mmc_git_commit,
                          .git_dirty = mmc_git_dirty,
                          .git_diff_sha256 = mmc_git_diff_sha256,
                          .build_flags = mmc_build_flags,
                          .data_sha256 = run->data_sha256,
                          .model_sha256 = run->model.pretrained_sha256,
                          .eval_split = holdout_role_name(run->eval_role),
                          .partition = run->rank == 0 ? &run->partition : NULL,
                          .slurm_job_id = job ? job : "",
                          .slurm_array_job_id = array ? array : "",
                          .slurm_array_task_id = task ? task : "",
                          .hosts = run->hosts,
                          .started = run->started,
                          .world_size = run->size,
                          .peak_rss_kib = run->peak_rss_kib,
                          .blas_core = run->blas_core,
                          .blas_threads = blas_num_threads()}; // in force, not as asked
}

// One scenario as a CSR triple (runfile.h /meta/partition). The arrays are owned (xfree).
static void partition_csr(const Scenario *scn, int64_t **offsets, int64_t **rows, uint8_t **masks) {
    int P = scn->n_parties;
    int64_t *off = xcalloc((size_t)P + 1, sizeof *off);
    for (int p = 0; p < P; p++)
        off[p + 1] = off[p] + scn->party[p].n;
    int64_t *r = xmalloc((size_t)off[P] * sizeof *r + 1);
    uint8_t *m = xmalloc((size_t)off[P] + 1);
    for (int p = 0; p < P; p++) {
        const ScenarioParty *sp = &scn->party[p];
        memcpy(r + off[p], sp->index, (size_t)sp->n * sizeof *r);
        memcpy(m + off[p], sp->mask, (size_t)sp->n);
    }
    *offsets = off, *rows = r, *masks = m;
}

// Rank 0, once: the partition does not change across rounds (run.h5 gets it when created).
static void build_partition(Run *run) {
    RunPartition *p = &run->partition;
    int64_t *to, *tr, *eo, *er;
    uint8_t *tm, *em;
    partition_csr(&run->scn_train, &to, &tr, &tm);
    partition_csr(&run->scn_test, &eo, &er, &em);
    *p = (RunPartition){.parties = run->P,
                        .train_split = "train",
                        .eval_split = holdout_role_name(run->eval_role),
                        .train_offsets = to,
                        .train_rows = tr,
                        .train_masks = tm,
                        .eval_offsets = eo,
                        .eval_rows = er,
                        .eval_masks = em};
}

static void free_partition(RunPartition *p) {
    xfree((void *)p->train_offsets), xfree((void *)p->train_rows), xfree((void *)p->train_masks);
    xfree((void *)p->eval_offsets), xfree((void *)p->eval_rows), xfree((void *)p->eval_masks);
    memset(p, 0, sizeof *p);
}

// The parties' model: its layout only (an mllm kind also reads its base file). Its buffers come
// after the preflight has checked what they will need (setup_model).
static void create_model(Run *run) {
    run->kind->create(&run->model, &run->spec, run->cfg->width, run->rc->model_opts);
    // The digest rank 0's gate computed for the kind's parameter file (inputs.c): hashed once.
    if (run->model_sha256[0])
        memcpy(run->model.pretrained_sha256, run->model_sha256, sizeof run->model_sha256);
}

// The parties' model's buffers and the training options; the selection and the proximal term are
// the preflight's (run_preflight).
static void setup_model(Run *run) {
    const Config *cfg = run->cfg;
    fl_train_config(&run->tc, cfg);
    size_t n = run->model.n_params;
    run->global = xcalloc_aligned(n * sizeof(float));
    Rng rng;
    rng_init(&rng, run->tc.init_seed, 0, 0, RNG_INIT); // every rank: the same initial model
    model_init_params(&run->model, run->global, &rng);
    train_scratch_init(&run->ts, &run->model, &run->layout, cfg->batch_size);
}

// The protocol, and the buffers its shape asks the driver for.
static void setup_protocol(Run *run) {
    const Config *cfg = run->cfg;
    run->env = (ProtocolEnv){.comm = run->comm,
                             .opts = &run->opts,
                             .method = run->method->opt.name,
                             .spec = &run->spec,
                             .model = &run->model,
                             .sel = &run->sel,
                             .tc = &run->tc,
                             .batch = cfg->batch_size,
                             .parties = run->P,
                             .rounds = cfg->rounds,
                             .first = run->first,
                             .count = run->count,
                             .layout = &run->layout,
                             .ds = run->ds,
                             .data = cfg->data,
                             .scenario = cfg->scenario,
                             .scn_train = &run->scn_train,
                             .scn_test = &run->scn_test,
                             .test_split = holdout_split(run->eval_role),
                             .train = run->train,
                             .test = run->test,
                             .n_train = run->n_train,
                             .global_test = &run->global_test,
                             .global = run->global};
    const Protocol *pr = run->method->protocol;
    run->proto = pr->create(&run->env, run->method->ext, run->rc->method_opts, &run->shape);
    CHECK(!run->shape.aggregate || pr->server_update,
          "protocol %s aggregates without a server update", pr->name);
    size_t n = run->model.n_params, count = (size_t)run->count;
    if (run->shape.own_models) {
        run->party_params = xcalloc_aligned(count * n * sizeof(float) + 1);
        run->party_m = xcalloc_aligned(count * n * sizeof(float) + 1);
        run->party_v = xcalloc_aligned(count * n * sizeof(float) + 1);
        run->party_step = xcalloc(count + 1, sizeof *run->party_step);
        for (size_t i = 0; i < count; i++)
            memcpy(run->party_params + i * n, run->global, n * sizeof(float));
    } else {
        run->work_params = xcalloc_aligned(n * sizeof(float));
        run->work_opt.m = xcalloc_aligned(n * sizeof(float));
        run->work_opt.v = xcalloc_aligned(n * sizeof(float));
    }
    run->acc = comm_acc_create(run->comm, run->sel.n);
    run->packed = xcalloc_aligned(run->sel.n * sizeof(float));
}

// 0, or -1 on every rank when an input file was refused (the integrity gate, the data's
// validation) or the preflight refused the sizes (with everything it had set up released).
static void teardown(Run *run);

static int setup(Run *run, const RunConfig *rc, MPI_Comm world) {
    memset(run, 0, sizeof *run);
    run->rc = rc;
    run->cfg = &rc->c;
    const Config *cfg = run->cfg;
    // Before any BLAS call: OpenBLAS's own default follows the environment and the binding (one
    // thread per core it may use), and the thread count changes the results.
    blas_set_num_threads(cfg->blas_threads);
    run->method = method_find(cfg->method);
    run->kind = model_kind_find(cfg->model);
    CHECK(run->method && run->kind, "--method=%s or --model=%s: unknown", cfg->method, cfg->model);
    run_config_optset(rc, &run->opts);
    run->comm = comm_create(world, cfg->parties);
    run->rank = comm_rank(run->comm), run->size = comm_size(run->comm), run->P = cfg->parties;
    run->count = comm_hosted(run->comm, &run->first);
    CHECK(cfg->sample <= cfg->parties, "--sample=%d exceeds --parties=%d", cfg->sample,
          cfg->parties);
    run->eval_role = strcmp(cfg->eval_split, "validation") ? HOLDOUT_TEST : HOLDOUT_VALIDATION;
    // The input files through the integrity gate before HDF5 reads them and before anything is
    // written or allocated for them (inputs.c).
    if (run_open_inputs(run) != 0) {
        comm_destroy(run->comm);
        return -1;
    }
    run_open_data(run);
    create_model(run);
    if (run_preflight(run) != 0) {
        prox_free(&run->prox);
        model_free(&run->model);
        dataset_close(run->ds);
        comm_destroy(run->comm);
        return -1;
    }
    make_dirs(run);
    run_load_data(run);
    if (run->rank == 0) {
        build_partition(run);
        run->peak_rss_kib = xcalloc((size_t)run->size, sizeof *run->peak_rss_kib);
        run->mpi_prev = xcalloc((size_t)run->size * 2, sizeof *run->mpi_prev);
        run->mpi_total = xcalloc((size_t)run->size * 2, sizeof *run->mpi_total);
    }
    describe_run(run);
    setup_model(run);
    setup_protocol(run);
    char err[512];
    if (fed_check(run, err, sizeof err) != 0) { // the same verdict on every rank
        if (run->rank == 0) log_error("%s", err);
        teardown(run);
        return -1;
    }
    fed_init(run);
    int P = run->P;
    run->sampled = xcalloc((size_t)P, 1);
    run->arrived = xcalloc((size_t)P, 1);
    run->weight = xcalloc((size_t)P, sizeof *run->weight);
    run->n_stats = ST_COUNT + run->shape.n_party_stats;
    run->stats = xcalloc((size_t)run->count * run->n_stats + 1, sizeof *run->stats);
    if (run->rank == 0) {
        run->all_stats = xcalloc((size_t)P * run->n_stats, sizeof *run->all_stats);
        run_declare_series(run);
    }
    return 0;
}

static void teardown(Run *run) {
    run->method->protocol->destroy(run->proto);
    fed_free(run);
    xfree(run->party_params), xfree(run->party_m), xfree(run->party_v), xfree(run->party_step);
    xfree(run->work_params), xfree(run->work_opt.m), xfree(run->work_opt.v);
    comm_acc_free(run->acc), xfree(run->packed), xfree(run->global);
    train_scratch_free(&run->ts, &run->model);
    prox_free(&run->prox);
    model_free(&run->model);
    xfree(run->sampled), xfree(run->arrived), xfree(run->weight);
    xfree(run->stats), xfree(run->all_stats), xfree(run->peak_rss_kib), xfree(run->mpi_prev);
    xfree(run->mpi_total);
    if (run->rank == 0) metriclog_free(&run->log), free_partition(&run->partition);
    run_free_data(run);
    comm_destroy(run->comm);
}

static void print_startup(const Run *run) {
    if (run->rank != 0) return;
    optset_print_table(&run->opts, stdout);
    char sel[512];
    selection_describe(&run->model, &run->sel, sel, sizeof sel);
    log_info("mmcollab %s | method %s (%s) | %d ranks: cloud + %d host(s) | %d parties | data %s "
             "(%lld train rows used, %lld %s) | %s model, %zu parameters; trained and "
             "exchanged: %s | BLAS %s, %d thread(s)",
             mmc_git_version, run->method->opt.name,
             run->method->opt.provenance ? run->method->opt.provenance : "", run->size,
             comm_placement(run->comm)->hosts, run->P, run->cfg->data,
             (long long)run->n_train_total, (long long)run->global_test.n,
             holdout_role_name(run->eval_role), run->kind->opt.name, run->model.n_params, sel,
             run->info.blas_core, run->info.blas_threads);
    const Protocol *pr = run->method->protocol;
    size_t large = pr->cloud_params ? pr->cloud_params(run->proto) : 0;
    if (large)
        log_info("the cloud's multimodal large model: %zu parameters (%.1fx the parties' model)",
                 large, (double)large / (double)run->model.n_params);
}

int fl_run(const RunConfig *rc, MPI_Comm world) {
    Run run;
    if (setup(&run, rc, world) != 0) return EXIT_USAGE;
    const Config *cfg = run.cfg;
    print_startup(&run);
    signals_progress(run.ckpt_dir, 0, 0, 0);
    int start = run_resume(&run), code = 0, published = start;
    // Created, or cut to the checkpoint's round (io/runfile.h); one row appended per round.
    if (run.rank == 0) run.runfile = runfile_open(cfg->out, &run.info, &run.opts, &run.log);
    double t_start = timer_now_ms() / 1e3;
    run.io_ms = NAN;
    for (int round = start + 1; round <= cfg->rounds; round++) {
        // What a SIGTERM's grace exit will say (fl/signals.h): the round, the checkpoint to resume.
        signals_progress(run.ckpt_dir, round, published, 0);
        double t0 = timer_now_ms() / 1e3;
        comm_take_ms(run.comm); // this round's transfer time starts here
        RoundInfo r;
        run_sample(&run, round, &r);
        run_round(&run, &r);
        EvalStats global = {0};
        if (r.evaluated) run_evaluate(&run, &r, &global);
        run_gather_stats(&run);
        int sig = signals_agree(run.comm), stop = sig || cfg->stop_after == round;
        const char *why = sig ? signals_name(sig) : "--stop-after";
        // Before the checkpoint, which the sender of the signal may cut short by killing.
        if (stop && round < cfg->rounds)
            log_info("stop requested (%s) in round %d: writing its checkpoint, then exit %d", why,
                     round, EXIT_REQUEUE);
        run_gather_meta(&run, 0);
        double now = timer_now_ms() / 1e3, ms = (now - t0) * 1e3;
        double eta = (now - t_start) / (round - start) * (cfg->rounds - round);
        // Compute = the round outside transfers; its slowest host rank (the cloud hosts no party).
        run.comm_ms = comm_take_ms(run.comm);
        run.host_ms_max = run.count ? ms - run.comm_ms : 0;
        comm_allreduce(run.comm, &run.host_ms_max, 1, COMM_F64, COMM_MAX, NULL);
        run_record(&run, &r, &global, ms, eta); // sets run.io_ms to its run-file writing
        if (round % cfg->ckpt_every == 0 || round == cfg->rounds || stop) {
            double c0 = timer_now_ms();
            signals_progress(run.ckpt_dir, round, published, 1);
            run_write_checkpoint(&run, round);
            published = round; // the next round's signals_progress says so
            run.io_ms += timer_now_ms() - c0;
        }
        if (stop && round < cfg->rounds) {
            log_info("stop requested (%s): checkpoint of round %d written; exit %d to be requeued "
                     "and resumed with --resume=auto",
                     why, round, EXIT_REQUEUE);
            code = EXIT_REQUEUE;
            break;
        }
    }
    signals_done(); // the last checkpoint is published: a SIGTERM now lets the run files be written
    if (run.rank == 0 && start >= cfg->rounds)
        log_info("nothing to do: the run already has %d rounds", start);
    run_gather_meta(&run, 1); // the process's MPI totals, this gather's own bytes included
    if (run.rank == 0) runfile_close(run.runfile, &run.info), run.runfile = NULL;
    teardown(&run);
    return code;
}
