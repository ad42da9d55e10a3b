// runfile.c - atomic run.h5 + metrics.csv from the MetricLog (see runfile.h).
#include "io/runfile.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "io/seal.h"

void h5_attr_str(hid_t loc, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5_CHECK(type);
    H5_CHECK(H5Tset_size(type, strlen(value) + 1));
    H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLTERM));
    hid_t space = H5Screate(H5S_SCALAR);
    H5_CHECK(space);
    hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(attr);
    H5_CHECK(H5Awrite(attr, type, value));
    H5_CHECK(H5Aclose(attr));
    H5_CHECK(H5Sclose(space));
    H5_CHECK(H5Tclose(type));
}

static void attr_scalar(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                        const void *v) {
    hid_t space = H5Screate(H5S_SCALAR);
    H5_CHECK(space);
    hid_t attr = H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(attr);
    H5_CHECK(H5Awrite(attr, mem_type, v));
    H5_CHECK(H5Aclose(attr));
    H5_CHECK(H5Sclose(space));
}

void h5_attr_i64(hid_t loc, const char *name, long long value) {
    attr_scalar(loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

void h5_attr_f64(hid_t loc, const char *name, double value) {
    attr_scalar(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void metrics_h5_write(hid_t loc, const char *name, const MetricLog *log, int with_varying) {
    hid_t grp = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    h5_attr_i64(grp, "rounds", log->rounds);
    int32_t *round = xmalloc((size_t)log->rounds * sizeof *round + 1);
    for (int r = 0; r < log->rounds; r++)
        round[r] = r + 1;
    hsize_t dims[2] = {(hsize_t)log->rounds, 0};
    hid_t space = H5Screate_simple(1, dims, NULL);
    H5_CHECK(space);
    hid_t ds =
        H5Dcreate2(grp, "round", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds);
    if (log->rounds) H5_CHECK(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, round));
    H5_CHECK(H5Dclose(ds));
    H5_CHECK(H5Sclose(space));
    xfree(round);
    for (int i = 0; i < log->n_series; i++) {
        const MetricSeries *s = &log->s[i];
        if (s->varies && !with_varying) continue;
        dims[1] = (hsize_t)s->width;
        space = H5Screate_simple(s->width == 1 ? 1 : 2, dims, NULL);
        H5_CHECK(space);
        ds = H5Dcreate2(grp, s->name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5_CHECK(ds);
        if (log->rounds)
            H5_CHECK(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->v));
        h5_attr_i64(ds, "width", s->width);
        h5_attr_i64(ds, "varies", s->varies);
        h5_attr_str(ds, "split", s->split);
        H5_CHECK(H5Dclose(ds));
        H5_CHECK(H5Sclose(space));
    }
    H5_CHECK(H5Gclose(grp));
}

// The attribute name of loc, opened when it holds exactly one element of class cls; else -1.
static hid_t open_one(hid_t loc, const char *name, H5T_class_t cls) {
    hid_t a = -1, t = -1, sp = -1;
    int ok = 0;
    H5E_BEGIN_TRY {
        if (H5Aexists(loc, name) > 0) a = H5Aopen(loc, name, H5P_DEFAULT);
        if (a >= 0) t = H5Aget_type(a), sp = H5Aget_space(a);
        ok = t >= 0 && sp >= 0 && H5Tget_class(t) == cls && H5Sget_simple_extent_npoints(sp) == 1 &&
             (cls != H5T_STRING || H5Tis_variable_str(t) == 0);
        if (t >= 0) H5Tclose(t);
        if (sp >= 0) H5Sclose(sp);
        if (!ok && a >= 0) H5Aclose(a);
    }
    H5E_END_TRY;
    return ok ? a : -1;
}

int h5_read_i64(hid_t loc, const char *name, long long *value) {
    hid_t a = open_one(loc, name, H5T_INTEGER);
    if (a < 0) return -1;
    herr_t rc;
    H5E_BEGIN_TRY { rc = H5Aread(a, H5T_NATIVE_LLONG, value); }
    H5E_END_TRY;
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

int h5_read_str(hid_t loc, const char *name, char *value, size_t cap) {
    if (cap) value[0] = 0;
    hid_t a = open_one(loc, name, H5T_STRING);
    if (a < 0) return -1;
    herr_t rc = -1;
    H5E_BEGIN_TRY {
        hid_t t = H5Aget_type(a);
        size_t size = t >= 0 ? H5Tget_size(t) : 0;
        if (size > 0 && size < cap) rc = H5Aread(a, t, value); // one element: size bytes
        if (rc >= 0) value[size] = 0; // a NULLPAD or SPACEPAD string fills its size exactly
        if (t >= 0) H5Tclose(t);
    }
    H5E_END_TRY;
    H5Aclose(a);
    if (rc < 0 && cap) value[0] = 0;
    return rc < 0 ? -1 : 0;
}

static herr_t count_link(hid_t grp, const char *name, const H5L_info_t *info, void *data) {
    (void)grp;
    (void)name;
    (void)info;
    (*(int *)data)++;
    return 0;
}

int metrics_h5_read(hid_t loc, const char *name, MetricLog *log, char *err, size_t cap) {
    CHECK(log->rounds == 0, "metrics_h5_read needs a declared, empty log (%d rounds)", log->rounds);
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        snprintf(err, cap, "group '%s' is missing", name);
        return -1;
    }
    hid_t grp = H5Gopen2(loc, name, H5P_DEFAULT);
    long long rounds;
    int n_links = 0;
    // Rounds bound every allocation below: no more than the option allows, and exactly the length
    // of the "round" series the writer stores beside them.
    hid_t rds = -1, rsp = -1;
    hssize_t round_points = -1;
    H5E_BEGIN_TRY {
        rds = grp >= 0 ? H5Dopen2(grp, "round", H5P_DEFAULT) : -1;
        rsp = rds >= 0 ? H5Dget_space(rds) : -1;
        round_points = rsp >= 0 ? H5Sget_simple_extent_npoints(rsp) : -1;
        if (rsp >= 0) H5Sclose(rsp);
        if (rds >= 0) H5Dclose(rds);
    }
    H5E_END_TRY;
    if (grp < 0 || h5_read_i64(grp, "rounds", &rounds) < 0 || rounds < 0 ||
        rounds > METRICS_MAX_ROUNDS || round_points != (hssize_t)rounds ||
        H5Literate(grp, H5_INDEX_NAME, H5_ITER_INC, NULL, count_link, &n_links) < 0) {
        snprintf(err, cap, "group '%s' is malformed (its rounds attribute and round series)", name);
        if (grp >= 0) H5Gclose(grp);
        return -1;
    }
    int required = 0, timing_found = 0;
    for (int i = 0; i < log->n_series; i++) {
        if (!log->s[i].varies)
            required++;
        else if (H5Lexists(grp, log->s[i].name, H5P_DEFAULT) > 0)
            timing_found++;
    }
    if (n_links != required + timing_found + 1) { // + the round dataset
        snprintf(err, cap, "group '%s' holds %d series, this program records %d", name, n_links - 1,
                 required);
        H5Gclose(grp);
        return -1;
    }
    for (long long r = 0; r < rounds; r++)
        metriclog_next_round(log);
    int rc = 0;
    for (int i = 0; i < log->n_series && rc == 0; i++) {
        MetricSeries *s = &log->s[i];
        long long width = -1;
        if (s->varies && H5Lexists(grp, s->name, H5P_DEFAULT) <= 0) continue; // stays NaN
        hid_t ds =
            H5Lexists(grp, s->name, H5P_DEFAULT) > 0 ? H5Dopen2(grp, s->name, H5P_DEFAULT) : -1;
        hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
        hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
        if (ds < 0 || h5_read_i64(ds, "width", &width) < 0 || width != s->width) {
            snprintf(err, cap, "series '%s/%s' is missing or has width %lld, expected %d", name,
                     s->name, width, s->width);
            rc = -1;
        } else if (npoints != (hssize_t)(rounds * s->width) ||
                   (rounds &&
                    H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->v) < 0)) {
            snprintf(err, cap, "series '%s/%s' has %lld values, expected %lld", name, s->name,
                     (long long)npoints, rounds * s->width);
            rc = -1;
        }
        if (space >= 0) H5Sclose(space);
        if (ds >= 0) H5Dclose(ds);
    }
    H5Gclose(grp);
    if (rc) metriclog_truncate(log, 0);
    return rc;
}

// One attribute per option, typed: unset values (OPT_UNSET_OK) are written as "".
static void write_config(hid_t file, const OptSet *opts) {
    hid_t grp = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    for (int t = 0; t < opts->n; t++)
        for (int i = 0; i < opts->t[t].n; i++) {
            const OptSpec *o = &opts->t[t].spec[i];
            const char *field = (const char *)opts->t[t].base + o->offset;
            if (opts_is_unset(o, opts->t[t].base)) {
                h5_attr_str(grp, o->key, "");
                continue;
            }
            switch (o->type) {
            case OPT_INT:
            case OPT_BOOL:
                h5_attr_i64(grp, o->key, *(const int *)field);
                break;
            case OPT_I64:
                h5_attr_i64(grp, o->key, (long long)*(const int64_t *)field);
                break;
            case OPT_DOUBLE: {
                double v;
                memcpy(&v, field, sizeof v);
                h5_attr_f64(grp, o->key, v);
                break;
            }
            case OPT_STRING:
            case OPT_RATIOS:
            case OPT_CHOICE:
                h5_attr_str(grp, o->key, field);
                break;
            }
        }
    H5_CHECK(H5Gclose(grp));
}

// Each option's default as its option-table text, so that readers can tell which options a run set
// (analysis/: a table row's label is the method plus its non-default method options).
static void write_defaults(hid_t file, const OptSet *opts) {
    hid_t grp = H5Gcreate2(file, "defaults", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    for (int t = 0; t < opts->n; t++)
        for (int i = 0; i < opts->t[t].n; i++) {
            const OptSpec *o = &opts->t[t].spec[i];
            h5_attr_str(grp, o->key, o->def ? o->def : "");
        }
    H5_CHECK(H5Gclose(grp));
}

// A 1- or 2-D dataset under grp from mem (native type mtype, file type ftype).
static void write_array(hid_t grp, const char *name, int ndim, const hsize_t *dims, hid_t ftype,
                        hid_t mtype, const void *mem) {
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    H5_CHECK(space);
    hid_t ds = H5Dcreate2(grp, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds);
    hsize_t count = 1;
    for (int d = 0; d < ndim; d++)
        count *= dims[d];
    if (count) H5_CHECK(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, mem));
    H5_CHECK(H5Dclose(ds));
    H5_CHECK(H5Sclose(space));
}

// One split's CSR triple under grp: <prefix>offsets, <prefix>rows, <prefix>masks.
static void write_csr(hid_t grp, const char *prefix, int parties, const int64_t *offsets,
                      const int64_t *rows, const uint8_t *masks) {
    char name[32];
    hsize_t n[1] = {(hsize_t)parties + 1};
    snprintf(name, sizeof name, "%soffsets", prefix);
    write_array(grp, name, 1, n, H5T_STD_I64LE, H5T_NATIVE_INT64, offsets);
    n[0] = (hsize_t)offsets[parties];
    snprintf(name, sizeof name, "%srows", prefix);
    write_array(grp, name, 1, n, H5T_STD_I64LE, H5T_NATIVE_INT64, rows);
    snprintf(name, sizeof name, "%smasks", prefix);
    write_array(grp, name, 1, n, H5T_STD_U8LE, H5T_NATIVE_UINT8, masks);
}

static void write_partition(hid_t meta, const RunPartition *p) {
    CHECK(p->parties >= 1 && p->train_offsets && p->eval_offsets, "partition of %d parties",
          p->parties);
    hid_t grp = H5Gcreate2(meta, "partition", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    h5_attr_str(grp, "train_split", p->train_split ? p->train_split : "");
    h5_attr_str(grp, "eval_split", p->eval_split ? p->eval_split : "");
    write_csr(grp, "train_", p->parties, p->train_offsets, p->train_rows, p->train_masks);
    write_csr(grp, "eval_", p->parties, p->eval_offsets, p->eval_rows, p->eval_masks);
    H5_CHECK(H5Gclose(grp));
}

static void write_meta(hid_t file, const RunInfo *info) {
    hid_t grp = H5Gcreate2(file, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    const char *keys[] = {
        "method",      "git",          "git_commit",         "git_diff_sha256",     "build_flags",
        "data_sha256", "slurm_job_id", "slurm_array_job_id", "slurm_array_task_id", "hosts",
        "started",     "blas_core",    "eval_split",         "model_sha256"};
    const char *vals[] = {info->method,
                          info->git,
                          info->git_commit,
                          info->git_diff_sha256,
                          info->build_flags,
                          info->data_sha256,
                          info->slurm_job_id,
                          info->slurm_array_job_id,
                          info->slurm_array_task_id,
                          info->hosts,
                          info->started,
                          info->blas_core,
                          info->eval_split,
                          info->model_sha256};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        h5_attr_str(grp, keys[i], vals[i] ? vals[i] : "");
    h5_attr_i64(grp, "world_size", info->world_size);
    h5_attr_i64(grp, "blas_threads", info->blas_threads);
    h5_attr_i64(grp, "git_dirty", info->git_dirty);
    CHECK(info->world_size >= 1 || (!info->peak_rss_kib && !info->mpi_bytes), "world_size = %d",
          info->world_size);
    hsize_t dims[2] = {(hsize_t)info->world_size, 2};
    if (info->peak_rss_kib)
        write_array(grp, "peak_rss_kib", 1, dims, H5T_STD_I64LE, H5T_NATIVE_INT64,
                    info->peak_rss_kib);
    if (info->mpi_bytes)
        write_array(grp, "mpi_bytes", 2, dims, H5T_STD_U64LE, H5T_NATIVE_UINT64, info->mpi_bytes);
    if (info->partition) write_partition(grp, info->partition);
    H5_CHECK(H5Gclose(grp));
}

// tmp (complete) becomes final durably: fsync, rename, directory fsync; on failure tmp is removed.
static void replace(const char *tmp, const char *final) {
    char err[4400];
    if (seal_replace(tmp, final, err, sizeof err) != 0) {
        unlink(tmp);
        die_at(__FILE__, __LINE__, __func__, "%s", err);
    }
}

static void write_csv(const char *path, const MetricLog *log) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    CHECK(f, "cannot create %s: %s", tmp, strerror(errno));
    fputs("round", f);
    for (int i = 0; i < log->n_series; i++)
        if (log->s[i].width == 1) fprintf(f, ",%s", log->s[i].name);
    fputc('\n', f);
    for (int r = 0; r < log->rounds; r++) {
        fprintf(f, "%d", r + 1);
        for (int i = 0; i < log->n_series; i++) {
            if (log->s[i].width != 1) continue;
            double v = log->s[i].v[r];
            if (isnan(v))
                fputs(",", f);
            else
                fprintf(f, ",%.17g", v);
        }
        fputc('\n', f);
    }
    if (ferror(f) | fclose(f)) { // both: a full disk can show only at close
        unlink(tmp);
        die_at(__FILE__, __LINE__, __func__, "writing %s failed: %s", tmp, strerror(errno));
    }
    replace(tmp, path);
}

void runfile_write(const char *dir, const RunInfo *info, const OptSet *opts, const MetricLog *log) {
    CHECK_PTR(dir);
    CHECK_PTR(info);
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    // Any HDF5 failure below (a full disk shows first in H5Dclose or H5Fclose) names the file.
    char hint[4300];
    snprintf(hint, sizeof hint, "while writing %s (disk full? the previous run files are intact)",
             tmp);
    die_set_hint(hint);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5_CHECK(fcpl);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5_CHECK(file);
    h5_attr_i64(file, "schema", RUNFILE_SCHEMA);
    h5_attr_str(file, "program", info->program ? info->program : "");
    write_config(file, opts);
    write_defaults(file, opts);
    write_meta(file, info);
    metrics_h5_write(file, "metrics", log, 1);
    H5_CHECK(H5Fclose(file));
    H5_CHECK(H5Pclose(fcpl));
    die_set_hint(NULL);
    char err[4400];
    if (seal_publish(tmp, path, NULL, err, sizeof err) != 0) { // a digest beside it, for readers
        unlink(tmp);
        die_at(__FILE__, __LINE__, __func__, "%s", err);
    }
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    write_csv(path, log);
}

void runfile_restore_varying(const char *dir, MetricLog *log) {
    char path[4200];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    char err[4400];
    if (access(path, F_OK) == 0 && seal_check(path, NULL, NULL, err, sizeof err) != 0) {
        log_warn("resume: not reading the earlier rounds' timings from %s: %s", path, err);
        return;
    }
    H5E_BEGIN_TRY {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        for (int i = 0; f >= 0 && i < log->n_series; i++) {
            MetricSeries *s = &log->s[i];
            char name[128];
            snprintf(name, sizeof name, "metrics/%s", s->name);
            if (!s->varies || log->rounds == 0) continue;
            hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
            hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
            hsize_t dims[2] = {0, 1};
            if (space >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) >= 1 &&
                dims[0] >= (hsize_t)log->rounds &&
                (s->width == 1 || dims[1] == (hsize_t)s->width)) {
                hsize_t start[2] = {0, 0}, count[2] = {(hsize_t)log->rounds, (hsize_t)s->width};
                int nd = s->width == 1 ? 1 : 2;
                hid_t mem = H5Screate_simple(nd, count, NULL);
                H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
                H5Dread(ds, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, s->v);
                H5Sclose(mem);
            }
            if (space >= 0) H5Sclose(space);
            if (ds >= 0) H5Dclose(ds);
        }
        if (f >= 0) H5Fclose(f);
    }
    H5E_END_TRY;
}
