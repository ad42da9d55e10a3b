// state.c - checkpoints of a run and the resume from them (run.h, io/ckpt.h): one field list, the
// same for writing and reading, so that the two cannot drift apart.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "fl/run.h"
#include "fl/run_impl.h"
#include "io/ckpt.h"
#include "train/tensors.h"

// Every piece of run state a checkpoint holds beyond /config and /meta (the metric history is not
// state: the run files hold it, cut to the checkpoint's round on resume, io/runfile.h): the global
// model, the parties' own models and optimizers, the protocol's state.
static void state_fields(Run *run, CkptList *l) {
    const Model *m = &run->model;
    model_ckpt_fields(l, "cloud/global", m, NULL, 0, CKPT_SHARED, 0, 0, 0, run->global);
    if (run->shape.own_models) {
        int P = run->P, first = run->first, count = run->count;
        model_ckpt_fields(l, "parties/model", m, NULL, 0, CKPT_OWN, P, first, count,
                          run->party_params);
        // the optimizer touches the selection only
        model_ckpt_fields(l, "parties/opt/m", m, &run->sel, 0, CKPT_OWN, P, first, count,
                          run->party_m);
        model_ckpt_fields(l, "parties/opt/v", m, &run->sel, 0, CKPT_OWN, P, first, count,
                          run->party_v);
        CkptField *f =
            ckpt_list_add(l, "parties/opt/step", CKPT_I64, CKPT_OWN, P, 1, run->party_step);
        f->row0 = first, f->nrows = count;
    }
    const Protocol *pr = run->method->protocol;
    if (pr->ckpt_fields) pr->ckpt_fields(run->proto, l);
}

void run_write_checkpoint(Run *run, int round) {
    // The run files' rows of rounds <= round reach the disk before the checkpoint names the round.
    if (run->rank == 0) runfile_sync(run->runfile);
    CkptList l = {0};
    state_fields(run, &l);
    int64_t bytes = ckpt_bytes_estimate(&l);
    Ckpt *ck = ckpt_create(run->ckpt_dir, round, bytes, comm_mpi(run->comm));
    ckpt_write_config(ck, &run->opts, OPT_RESUME_NEUTRAL); // neutral options may differ on resume
    // What the state was computed under: a resume refuses other data, warns about another BLAS.
    char threads[32];
    snprintf(threads, sizeof threads, "%d", run->info.blas_threads);
    ckpt_write_meta(ck, "data_sha256", run->data_sha256);
    ckpt_write_meta(ck, "blas_core", run->info.blas_core);
    ckpt_write_meta(ck, "blas_threads", threads);
    ckpt_write(ck, &l, run->rank);
    ckpt_commit(ck, run->cfg->ckpt_keep);
    ckpt_list_free(&l);
    log_info("checkpoint %s/round_%06d.h5", run->ckpt_dir, round);
    if (run->rank == 0)
        log_debug("checkpoint round %d: %.1f kB claimed before writing", round,
                  (double)bytes / 1e3);
}

typedef struct {
    char *text;
    size_t len, cap;
} Text;

static int append_kv(void *ctx, const char *key, const char *value, const char *origin, char *err,
                     size_t cap) {
    (void)origin, (void)err, (void)cap;
    Text *t = ctx;
    size_t need = strlen(key) + strlen(value) + 3;
    if (t->len + need >= t->cap) {
        size_t c = (t->cap ? 2 * t->cap : 4096) + need;
        char *bigger = xmalloc(c);
        if (t->len) memcpy(bigger, t->text, t->len);
        xfree(t->text);
        t->text = bigger, t->cap = c;
    }
    t->len += (size_t)snprintf(t->text + t->len, t->cap - t->len, "%s=%s\n", key, value);
    return 0;
}

// Rank 0: CHECKs that the checkpoint was written with this run's configuration, naming the keys
// that differ (options marked neutral may differ).
static void compare_config(Run *run, const CkptReader *r, const char *path) {
    char err[1024];
    Text t = {xcalloc(1, 1), 0, 1};
    CHECK(ckpt_read_config(r, append_kv, &t, err, sizeof err) == 0, "resume: %s", err);
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig ck;
    int rc = config_read_text(&ck, &methods, &models, t.text, path, err, sizeof err);
    xfree(t.text);
    CHECK(rc == OPT_OK, "resume: %s was written by a configuration this build cannot read: %s",
          path, err);
    OptSet a, b;
    run_config_optset(&ck, &a);
    run_config_optset(run->rc, &b);
    // Another method's or model's options cannot be compared field by field: then only the core
    // and scenario blocks (run_config_optset's first two), whose method and model keys differ.
    if (ck.method != run->rc->method || ck.model != run->rc->model) a.n = b.n = 2;
    char keys[2048];
    int diff = optset_diff(&a, &b, OPT_RESUME_NEUTRAL, "checkpoint", "now", keys, sizeof keys);
    run_config_free(&ck);
    CHECK(diff == 0, "resume: %s was written with a different configuration: %s", path, keys);
}

// Rank 0: refuses a checkpoint computed on another data file (by content: the path may be the
// same); warns when the BLAS core or thread count differs, since either can change the sums.
static void compare_meta(Run *run, const CkptReader *r, const char *path) {
    char ck[128];
    if (ckpt_read_meta(r, "data_sha256", ck, sizeof ck) != 0)
        log_warn("resume: %s records no data digest: cannot check that --data=%s is the file it "
                 "was computed on",
                 path, run->cfg->data);
    else
        CHECK(strcmp(ck, run->data_sha256) == 0,
              "resume: %s was computed on data with sha256 %s, but --data=%s now has sha256 %s: "
              "refusing to continue on other data (restore that file, or start a new --out)",
              path, ck, run->cfg->data, run->data_sha256);
    char now[32];
    snprintf(now, sizeof now, "%d", run->info.blas_threads);
    const char *keys[] = {"blas_core", "blas_threads"}, *vals[] = {run->info.blas_core, now};
    for (int i = 0; i < 2; i++)
        if (ckpt_read_meta(r, keys[i], ck, sizeof ck) == 0 && strcmp(ck, vals[i]) != 0)
            log_warn("resume: %s was written with %s %s, this run has %s %s: results may differ "
                     "from an uninterrupted run (--blas-threads, OPENBLAS_CORETYPE)",
                     path, keys[i], ck, keys[i], vals[i]);
}

// Rank 0, when --resume=fresh-if-none found checkpoints but none usable: keeps them for inspection
// under "<name>.damaged" (with their digest files), out of the way of the new run's checkpoints.
static void set_aside_damaged(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "round_", 6) != 0 || strstr(e->d_name, ".damaged")) continue;
        char from[4400], to[4420];
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        snprintf(to, sizeof to, "%s.damaged", from);
        if (rename(from, to) != 0) log_warn("cannot rename %s: %s", from, strerror(errno));
    }
    if (d) closedir(d);
}

int run_resume(Run *run) {
    const Config *cfg = run->cfg;
    char path[4200] = "";
    int32_t round = 0;
    int automatic = strcmp(cfg->resume, "never") != 0;
    if (run->rank == 0) {
        int files = ckpt_count(run->ckpt_dir);
        if (automatic) round = files ? ckpt_find_valid(run->ckpt_dir, path, sizeof path) : 0;
        // Checkpoints of an earlier run are never overwritten silently, nor skipped quietly when
        // every one of them is damaged (each was named by a warning above).
        if (!automatic)
            CHECK(files == 0,
                  "%s holds checkpoints of an earlier run: continue it with --resume=auto, or "
                  "choose another --out (or delete that directory)",
                  run->ckpt_dir);
        else if (files && !round && strcmp(cfg->resume, "fresh-if-none") != 0)
            CHECK(0,
                  "--resume=%s: none of the %d checkpoint(s) in %s is usable (see the warnings "
                  "above): refusing to start the run again from round 0; --resume=fresh-if-none "
                  "starts over (keeping them as *.damaged)",
                  cfg->resume, files, run->ckpt_dir);
        else if (files && !round) {
            log_warn("--resume=fresh-if-none: none of the %d checkpoint(s) in %s is usable: "
                     "STARTING AGAIN FROM ROUND 0 (they are kept as *.damaged)",
                     files, run->ckpt_dir);
            set_aside_damaged(run->ckpt_dir);
        }
    }
    comm_bcast(run->comm, &round, 1, COMM_I32, 0, NULL);
    if (round == 0) {
        if (automatic)
            log_info("resume=%s: no checkpoint in %s, starting fresh", cfg->resume, run->ckpt_dir);
        return 0;
    }
    comm_bcast(run->comm, path, sizeof path, COMM_CHAR, 0, NULL);
    char err[1024];
    CkptReader *r = ckpt_open(path, err, sizeof err);
    CHECK(r, "resume: %s", err);
    if (run->rank == 0) {
        compare_config(run, r, path);
        compare_meta(run, r, path);
        metriclog_resume(&run->log, round); // runfile_open cuts the run files to this round
    }
    CkptList l = {0};
    state_fields(run, &l);
    ckpt_read(r, &l, run->rank);
    ckpt_list_free(&l);
    const Protocol *pr = run->method->protocol;
    if (pr->ckpt_restored) pr->ckpt_restored(run->proto);
    ckpt_close(r);
    log_info("resumed from %s (round %d of %d)", path, round, cfg->rounds);
    return round;
}
