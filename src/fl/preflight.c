// preflight.c - the run's sizes against the data and the memory at its start (see preflight.h).
#include "fl/preflight.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "fl/run_impl.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

// The first number of a one-line file ("max" and unreadable: -1).
static double read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[64] = "";
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    char *end;
    errno = 0;
    double v = ok ? strtod(line, &end) : -1;
    return ok && end != line && errno == 0 ? v : -1;
}

// MemAvailable of /proc/meminfo in bytes, or -1.
static double meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kib;
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
            v = (double)kib * 1024.0;
            break;
        }
    }
    fclose(f);
    return v;
}

// The least of a and b, where a value <= 0 is unknown.
static double least_known(double a, double b) {
    if (a <= 0) return b;
    if (b <= 0) return a;
    return a < b ? a : b;
}

double preflight_mem_available(void) {
    const char *env = getenv("MMC_MEM_AVAILABLE");
    if (env && *env) {
        char *end;
        errno = 0;
        double v = strtod(env, &end);
        if (end != env && !*end && errno == 0 && v > 0) return v;
        log_warn("MMC_MEM_AVAILABLE=%s: not a positive number of bytes; ignored", env);
    }
    double avail = meminfo_available();
    // A container's or a job's limit (cgroup v2, then v1); "max" (no limit) reads as unknown.
    double limit = read_number("/sys/fs/cgroup/memory.max");
    double used = read_number("/sys/fs/cgroup/memory.current");
    if (limit <= 0) {
        limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    }
    // v1 reports "no limit" as a huge number, which least_known then ignores.
    if (limit > 0 && used >= 0) avail = least_known(avail, limit > used ? limit - used : 1);
    return avail;
}

double preflight_rank_bytes(size_t n_params, int hosts_parties, int Bmax, int64_t in_floats, int K,
                            int rep_dim) {
    double n = (double)n_params, floats = 2 * n + (hosts_parties ? 3 * n : 0);
    floats += (double)Bmax * ((double)in_floats + 3.0 * K + 2.0 * rep_dim);
    return floats * sizeof(float);
}

int preflight_memory_verdict(const PreflightMem *ranks, int n, const char *options, char *err,
                             size_t cap) {
    for (int i = 0; i < n; i++) {
        int first = 1; // i is the first rank of its host: sum that host once
        for (int j = 0; j < i && first; j++)
            first = strcmp(ranks[j].host, ranks[i].host) != 0;
        if (!first) continue;
        double need = 0, avail = ranks[i].avail;
        int count = 0;
        for (int j = i; j < n; j++)
            if (!strcmp(ranks[j].host, ranks[i].host)) {
                need += ranks[j].need, count++;
                avail = least_known(avail, ranks[j].avail);
            }
        if (avail > 0 && need > avail) {
            snprintf(err, cap,
                     "%s: the %d rank(s) on host %s need at least %.2f GiB (parameters, gradients, "
                     "optimiser moments and one batch; a lower bound), the host has %.2f GiB "
                     "available; lower the sizes, or spread the ranks over more hosts",
                     options, count, ranks[i].host, need / GIB, avail / GIB);
            return -1;
        }
    }
    return 0;
}

// Options and data: the checks every rank computes to the same verdict (same configuration, same
// data header, same model layout). 0, or -1 with a message naming the options.
static int check_sizes(Run *run, char *err, size_t cap) {
    const Config *cfg = run->cfg;
    int64_t rows = dataset_n(run->ds, DS_TRAIN);
    if (cfg->max_train > 0 && cfg->max_train < rows) rows = cfg->max_train;
    if (cfg->parties > rows) {
        snprintf(err, cap,
                 "--parties=%d: more parties than the %lld training rows of --data=%s "
                 "(--max-train=%lld)",
                 cfg->parties, (long long)rows, cfg->data, (long long)cfg->max_train);
        return -1;
    }
    if (scenario_overrides_check(cfg->scenario, &cfg->scn, cfg->parties, run->layout.n_mod, err,
                                 cap) != 0)
        return -1;
    const Model *m = &run->model;
    if (m->pretrained && (fabs(cfg->public_fraction - m->pretrain_public_fraction) >= 1e-12 ||
                          fabs(cfg->val_fraction - m->pretrain_val_fraction) >= 1e-12)) {
        snprintf(err, cap,
                 "--public-fraction=%g --val-fraction=%g: the %s model was pre-trained on the "
                 "public %g of the train split after a validation carve-out of %g; pass "
                 "--public-fraction=%g --val-fraction=%g so that no party holds its rows",
                 cfg->public_fraction, cfg->val_fraction, m->ops->kind, m->pretrain_public_fraction,
                 m->pretrain_val_fraction, m->pretrain_public_fraction, m->pretrain_val_fraction);
        return -1;
    }
    char why[512];
    if (model_select(&run->model, cfg->trainable, &run->sel, why, sizeof why) != 0) {
        snprintf(err, cap, "--trainable=%s: %s", cfg->trainable, why);
        return -1;
    }
    if (prox_build(&run->prox, &run->model, &run->sel, prox_mode_parse(cfg->prox), cfg->prox_mu,
                   cfg->prox_weight, cfg->prox_free, why, sizeof why) != 0) {
        snprintf(err, cap, "--prox=%s: %s", cfg->prox, why);
        return -1;
    }
    return 0;
}

int run_preflight(Run *run) {
    const Config *cfg = run->cfg;
    typedef struct {
        int32_t ok;
        PreflightMem mem;
        char msg[1200];
    } View;
    View me;
    memset(&me, 0, sizeof me);
    me.ok = check_sizes(run, me.msg, sizeof me.msg) == 0;
    int64_t in_floats = 0;
    for (int m = 0; m < run->layout.n_mod; m++)
        in_floats += run->layout.row_elems[m];
    me.mem.need = preflight_rank_bytes(run->model.n_params, run->count > 0, cfg->batch_size,
                                       in_floats, run->model.K, run->model.rep_dim);
    me.mem.avail = preflight_mem_available();
    if (gethostname(me.mem.host, sizeof me.mem.host) != 0) snprintf(me.mem.host, 8, "?");
    me.mem.host[sizeof me.mem.host - 1] = 0;

    // Rank 0 decides over every rank's view (a host's memory is the sum of its ranks' needs) and
    // the others follow its verdict (docs/conventions.md §5).
    View *all = run->rank == 0 ? xcalloc((size_t)run->size, sizeof *all) : NULL;
    comm_gather(run->comm, &me, sizeof me, all, COMM_U8, 0, NULL);
    int32_t ok = 1;
    if (run->rank == 0) {
        char err[2048] = "";
        for (int r = 0; r < run->size && ok; r++)
            if (!all[r].ok) {
                ok = 0;
                snprintf(err, sizeof err, "%s", all[r].msg);
            }
        if (ok) {
            PreflightMem *mem = xcalloc((size_t)run->size, sizeof *mem);
            for (int r = 0; r < run->size; r++)
                mem[r] = all[r].mem;
            char options[1024];
            snprintf(options, sizeof options,
                     "--model=%s (%zu parameters; --width=%d%s%s%s) with --batch-size=%d and "
                     "--parties=%d on %d ranks",
                     cfg->model, run->model.n_params, cfg->width,
                     run->rc->model->n_opts ? " and its --" : "",
                     run->rc->model->n_opts ? cfg->model : "",
                     run->rc->model->n_opts ? ".* options" : "", cfg->batch_size, cfg->parties,
                     run->size);
            ok = preflight_memory_verdict(mem, run->size, options, err, sizeof err) == 0;
            xfree(mem);
        }
        if (!ok) log_error("%s", err);
        xfree(all);
    }
    comm_bcast(run->comm, &ok, 1, COMM_I32, 0, NULL);
    return ok ? 0 : -1;
}
