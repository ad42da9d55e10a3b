// runfile.c - append-only run.h5 + metrics.csv, truncated to the checkpoint on resume (see
// runfile.h).
#define _GNU_SOURCE // open_memstream, truncate
#include "io/runfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void delete_link(hid_t loc, const char *name) {
    htri_t have = H5Lexists(loc, name, H5P_DEFAULT);
    H5_CHECK(have);
    if (have > 0) H5_CHECK(H5Ldelete(loc, name, H5P_DEFAULT));
}

// Group name of loc, created when absent, without attributes (a reopened file's are replaced by
// this process's).
static hid_t fresh_group(hid_t loc, const char *name) {
    htri_t have = H5Lexists(loc, name, H5P_DEFAULT);
    H5_CHECK(have);
    hid_t grp = have > 0 ? H5Gopen2(loc, name, H5P_DEFAULT)
                         : H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    H5O_info_t oi;
    H5_CHECK(H5Oget_info(grp, &oi));
    for (hsize_t i = 0; i < oi.num_attrs; i++)
        H5_CHECK(H5Adelete_by_idx(grp, ".", H5_INDEX_NAME, H5_ITER_DEC, 0, H5P_DEFAULT));
    return grp;
}

// One attribute per option, typed: unset values (OPT_UNSET_OK) are written as "".
static void write_config(hid_t file, const OptSet *opts) {
    hid_t grp = fresh_group(file, "config");
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
    hid_t grp = fresh_group(file, "defaults");
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

// /meta for this process (a resumed run's hosts, start, world size...): the partition is written
// once (it follows from the configuration, which a resume keeps).
static void write_meta(hid_t file, const RunInfo *info) {
    hid_t grp = fresh_group(file, "meta");
    delete_link(grp, "peak_rss_kib");
    delete_link(grp, "mpi_bytes");
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
    if (info->partition && H5Lexists(grp, "partition", H5P_DEFAULT) <= 0)
        write_partition(grp, info->partition);
    H5_CHECK(H5Gclose(grp));
}

// ---- the append-only writer ----

#define CHUNK_VALUES 128 // doubles per chunk of a narrow series (1 KiB); wide ones: one row
#define ISTORE_K 8       // chunk B-tree nodes of 16 entries (HDF5's 64 cost 2 KiB per series)

struct RunFile {
    char h5[4200], csv[4200];
    hid_t file, metrics, round_ds, rounds_attr, rss_ds;
    hid_t ds[METRIC_MAX_SERIES];
    int n_series, width[METRIC_MAX_SERIES];
    int rows; // rows in run.h5 (and lines in metrics.csv after its header)
    int world_size;
    FILE *csv_f;
    char hint[4400];
};

// The extendible dataset of one series (width 1: (0), else (0, width)), or of the round numbers.
static hid_t create_series(hid_t grp, const char *name, int width, hid_t ftype) {
    int nd = width == 1 ? 1 : 2;
    hsize_t dims[2] = {0, (hsize_t)width}, max[2] = {H5S_UNLIMITED, (hsize_t)width};
    hsize_t chunk[2] = {(hsize_t)(width >= CHUNK_VALUES ? 1 : CHUNK_VALUES / width),
                        (hsize_t)width};
    hid_t space = H5Screate_simple(nd, dims, max);
    H5_CHECK(space);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(dcpl);
    H5_CHECK(H5Pset_chunk(dcpl, nd, chunk));
    // A row extended but never written (a crash between the two) reads NaN, not 0.
    if (H5Tget_class(ftype) == H5T_FLOAT) {
        double nan = NAN;
        H5_CHECK(H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan));
    }
    hid_t ds = H5Dcreate2(grp, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_CHECK(ds);
    H5_CHECK(H5Pclose(dcpl));
    H5_CHECK(H5Sclose(space));
    return ds;
}

// row `row` of ds (rank 1, or rank 2 of width columns) from buf, after extending it to row + 1.
static void write_row(hid_t ds, int width, hsize_t row, hid_t mtype, const void *buf) {
    int nd = width == 1 ? 1 : 2;
    hsize_t dims[2] = {row + 1, (hsize_t)width}, start[2] = {row, 0},
            count[2] = {1, (hsize_t)width};
    H5_CHECK(H5Dset_extent(ds, dims));
    hid_t fs = H5Dget_space(ds);
    H5_CHECK(fs);
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
    hid_t ms = H5Screate_simple(nd, count, NULL);
    H5_CHECK(ms);
    H5_CHECK(H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, buf));
    H5_CHECK(H5Sclose(ms));
    H5_CHECK(H5Sclose(fs));
}

// rows [row0, row0 + n) of a scalar series into buf. 0, or -1 when they cannot be read.
static int read_rows(hid_t ds, hsize_t row0, hsize_t n, hid_t mtype, void *buf) {
    herr_t rc = -1;
    H5E_BEGIN_TRY {
        hid_t fs = H5Dget_space(ds);
        hid_t ms = H5Screate_simple(1, &n, NULL);
        if (fs >= 0 && ms >= 0 &&
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &row0, NULL, &n, NULL) >= 0)
            rc = H5Dread(ds, mtype, ms, fs, H5P_DEFAULT, buf);
        if (ms >= 0) H5Sclose(ms);
        if (fs >= 0) H5Sclose(fs);
    }
    H5E_END_TRY;
    return rc < 0 ? -1 : 0;
}

static void set_rows_attr(RunFile *rf) {
    long long r = rf->rows;
    H5_CHECK(H5Awrite(rf->rounds_attr, H5T_NATIVE_LLONG, &r));
}

static void close_h5(RunFile *rf) {
    for (int i = 0; i < rf->n_series; i++)
        if (rf->ds[i] >= 0) H5Dclose(rf->ds[i]);
    if (rf->round_ds >= 0) H5Dclose(rf->round_ds);
    if (rf->rounds_attr >= 0) H5Aclose(rf->rounds_attr);
    if (rf->rss_ds >= 0) H5Dclose(rf->rss_ds);
    if (rf->metrics >= 0) H5Gclose(rf->metrics);
    if (rf->file >= 0) H5Fclose(rf->file);
    rf->file = rf->metrics = rf->round_ds = rf->rounds_attr = rf->rss_ds = -1;
    for (int i = 0; i < METRIC_MAX_SERIES; i++)
        rf->ds[i] = -1;
}

// Access without HDF5's file lock: the writer holds run.h5 open for the whole run, and a lock would
// refuse every reader that locks (h5py by default) meanwhile, or, held by a reader at a resume,
// make the writer's open fail and the file look damaged. Readers see the state of the last flush.
static hid_t unlocked_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_CHECK(fapl);
    H5_CHECK(H5Pset_file_locking(fapl, 0, 1));
    return fapl;
}

// A new run.h5 at path with no rows: the root attributes, an empty /metrics of log's series.
static void create_h5(RunFile *rf, const char *path, const RunInfo *info, const MetricLog *log) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5_CHECK(fcpl);
    H5_CHECK(H5Pset_istore_k(fcpl, ISTORE_K));
    hid_t fapl = unlocked_fapl();
    rf->file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    H5_CHECK(rf->file);
    H5_CHECK(H5Pclose(fapl));
    H5_CHECK(H5Pclose(fcpl));
    h5_attr_i64(rf->file, "schema", RUNFILE_SCHEMA);
    h5_attr_str(rf->file, "program", info->program ? info->program : "");
    rf->metrics = H5Gcreate2(rf->file, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(rf->metrics);
    h5_attr_i64(rf->metrics, "rounds", 0);
    rf->rounds_attr = H5Aopen(rf->metrics, "rounds", H5P_DEFAULT);
    H5_CHECK(rf->rounds_attr);
    rf->round_ds = create_series(rf->metrics, "round", 1, H5T_STD_I32LE);
    for (int i = 0; i < log->n_series; i++) {
        const MetricSeries *s = &log->s[i];
        rf->ds[i] = create_series(rf->metrics, s->name, s->width, H5T_IEEE_F64LE);
        h5_attr_i64(rf->ds[i], "width", s->width);
        h5_attr_i64(rf->ds[i], "varies", s->varies);
        h5_attr_str(rf->ds[i], "split", s->split);
    }
    rf->rows = 0;
}

// The dataset name of grp when it is an extendible series of this layout (rank 1, or 2 of width
// columns; class cls) with at least `rows` rows; else -1, the reason in why.
static hid_t open_series(hid_t grp, const char *name, int width, H5T_class_t cls, int rows,
                         hsize_t *have, char *why, size_t cap) {
    hid_t ds = -1, sp = -1, t = -1;
    int ok = 0;
    hsize_t dims[2] = {0, 0}, max[2] = {0, 0};
    H5E_BEGIN_TRY {
        if (H5Lexists(grp, name, H5P_DEFAULT) > 0) ds = H5Dopen2(grp, name, H5P_DEFAULT);
        if (ds >= 0) sp = H5Dget_space(ds), t = H5Dget_type(ds);
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        ok = t >= 0 && H5Tget_class(t) == cls && nd == (width == 1 ? 1 : 2) &&
             H5Sget_simple_extent_dims(sp, dims, max) == nd && max[0] == H5S_UNLIMITED &&
             (nd == 1 || dims[1] == (hsize_t)width) && dims[0] >= (hsize_t)rows;
        if (t >= 0) H5Tclose(t);
        if (sp >= 0) H5Sclose(sp);
        if (!ok && ds >= 0) H5Dclose(ds);
    }
    H5E_END_TRY;
    if (!ok) {
        snprintf(why, cap,
                 ds < 0 ? "has no series '%s'"
                        : "has series '%s' of another shape, type or fewer rows than round %d "
                          "(expected width %d)",
                 name, rows, width);
        return -1;
    }
    *have = dims[0];
    return ds;
}

static herr_t count_link(hid_t grp, const char *name, const H5L_info_t *info, void *data) {
    (void)grp, (void)name, (void)info;
    (*(int *)data)++;
    return 0;
}

// Opens an existing run.h5 for appending when its layout is this run's and it holds rounds 1..rows
// (round numbers checked); rf->rows = the rows it holds (maybe more). 0, or -1 with why (nothing
// left open).
static int reopen_h5(RunFile *rf, const MetricLog *log, int rows, char *why, size_t cap) {
    struct stat st;
    if (stat(rf->h5, &st) != 0) return snprintf(why, cap, "is missing"), -1;
    if (!S_ISREG(st.st_mode)) return snprintf(why, cap, "is not a regular file"), -1;
    // Not ours to write (permissions): a plain error, not a damaged file to rebuild.
    CHECK(access(rf->h5, R_OK | W_OK) == 0, "resume: cannot open %s for appending: %s", rf->h5,
          strerror(errno));
    long long schema = -1;
    int links = 0;
    hid_t fapl = unlocked_fapl();
    H5E_BEGIN_TRY {
        rf->file = H5Fopen(rf->h5, H5F_ACC_RDWR, fapl);
        if (rf->file >= 0 && H5Lexists(rf->file, "metrics", H5P_DEFAULT) > 0)
            rf->metrics = H5Gopen2(rf->file, "metrics", H5P_DEFAULT);
        if (rf->metrics >= 0) rf->rounds_attr = open_one(rf->metrics, "rounds", H5T_INTEGER);
        if (rf->file >= 0) h5_read_i64(rf->file, "schema", &schema);
        if (rf->metrics >= 0)
            H5Literate(rf->metrics, H5_INDEX_NAME, H5_ITER_INC, NULL, count_link, &links);
    }
    H5E_END_TRY;
    H5_CHECK(H5Pclose(fapl));
    if (rf->file < 0) return snprintf(why, cap, "is not a readable HDF5 file"), -1;
    int rc = 0;
    if (schema != RUNFILE_SCHEMA || rf->metrics < 0 || rf->rounds_attr < 0) {
        snprintf(why, cap, "is not a run file of schema %d with a /metrics group", RUNFILE_SCHEMA);
        rc = -1;
    } else if (links != log->n_series + 1) {
        snprintf(why, cap, "holds %d series, this run records %d", links - 1, log->n_series);
        rc = -1;
    }
    hsize_t have = 0, n;
    if (rc == 0) {
        rf->round_ds = open_series(rf->metrics, "round", 1, H5T_INTEGER, rows, &have, why, cap);
        rc = rf->round_ds < 0 ? -1 : 0;
    }
    for (int i = 0; rc == 0 && i < log->n_series; i++) {
        rf->ds[i] = open_series(rf->metrics, log->s[i].name, log->s[i].width, H5T_FLOAT, rows, &n,
                                why, cap);
        if (rf->ds[i] < 0) rc = -1;
    }
    // The round numbers of the rows kept: 1..rows (a block at a time: bounded memory).
    enum { BLOCK = 4096 };
    int32_t *num = rc == 0 ? xmalloc(BLOCK * sizeof *num) : NULL;
    for (int r0 = 0; rc == 0 && r0 < rows; r0 += BLOCK) {
        int k = rows - r0 < BLOCK ? rows - r0 : BLOCK;
        rc = read_rows(rf->round_ds, (hsize_t)r0, (hsize_t)k, H5T_NATIVE_INT32, num);
        for (int j = 0; rc == 0 && j < k; j++)
            if (num[j] != r0 + j + 1) rc = -1;
        if (rc) snprintf(why, cap, "has unreadable or wrong round numbers in rows 1..%d", rows);
    }
    xfree(num);
    if (rc) {
        close_h5(rf);
        return -1;
    }
    rf->rows = (int)have;
    return 0;
}

// Every series (and the round numbers) cut to rows rows.
static void truncate_h5(RunFile *rf, int rows) {
    hsize_t dims[2] = {(hsize_t)rows, 0};
    H5_CHECK(H5Dset_extent(rf->round_ds, dims));
    for (int i = 0; i < rf->n_series; i++) {
        dims[1] = (hsize_t)rf->width[i];
        H5_CHECK(H5Dset_extent(rf->ds[i], dims));
    }
    rf->rows = rows;
    set_rows_attr(rf);
}

// Appends one row: row[i] holds series i's values (width[i]).
static void append_h5(RunFile *rf, double *const *row) {
    int32_t round = rf->rows + 1;
    write_row(rf->round_ds, 1, (hsize_t)rf->rows, H5T_NATIVE_INT32, &round);
    for (int i = 0; i < rf->n_series; i++)
        write_row(rf->ds[i], rf->width[i], (hsize_t)rf->rows, H5T_NATIVE_DOUBLE, row[i]);
    rf->rows++;
    set_rows_attr(rf);
}

// /config, /defaults and /meta as this process has them; the per-round peak_rss_kib opened.
static void write_header(RunFile *rf, const RunInfo *info, const OptSet *opts) {
    write_config(rf->file, opts);
    write_defaults(rf->file, opts);
    write_meta(rf->file, info);
    rf->world_size = info->world_size;
    if (info->peak_rss_kib) {
        rf->rss_ds = H5Dopen2(rf->file, "meta/peak_rss_kib", H5P_DEFAULT);
        H5_CHECK(rf->rss_ds);
    }
}

// ---- metrics.csv ----

static void csv_header(FILE *f, const MetricLog *log) {
    fputs("round", f);
    for (int i = 0; i < log->n_series; i++)
        if (log->s[i].width == 1) fprintf(f, ",%s", log->s[i].name);
    fputc('\n', f);
}

// One line: the round, then every scalar series' value (%.17g: read back exactly; "" = NaN).
static void csv_line(FILE *f, int round, double *const *row, const MetricLog *log) {
    fprintf(f, "%d", round);
    for (int i = 0; i < log->n_series; i++) {
        if (log->s[i].width != 1) continue;
        if (isnan(row[i][0]))
            fputs(",", f);
        else
            fprintf(f, ",%.17g", row[i][0]);
    }
    fputc('\n', f);
}

// Called for each valid line k (1-based) with its scalar values, in the log's scalar order.
typedef void (*CsvRowFn)(void *ctx, int k, const double *values);

// Reads path: its header must be log's, then lines 1, 2, ... each "<k>" plus one field per scalar
// series ("" or a number). Returns how many leading lines (at most rows) are valid, with *end the
// byte offset just after the last of them, or -1 when the file or its header is unreadable.
static int csv_scan(const char *path, const MetricLog *log, int rows, long *end, CsvRowFn fn,
                    void *ctx) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *want = NULL, *line = NULL;
    size_t want_len = 0, cap = 0;
    FILE *h = open_memstream(&want, &want_len);
    CHECK(h, "open_memstream: %s", strerror(errno));
    csv_header(h, log);
    fclose(h);
    int ncol = 0, k = 0;
    for (int i = 0; i < log->n_series; i++)
        ncol += log->s[i].width == 1;
    double *v = xmalloc((size_t)ncol * sizeof *v + 1);
    ssize_t n = getline(&line, &cap, f);
    if (n != (ssize_t)want_len || memcmp(line, want, want_len) != 0) k = -1;
    *end = k < 0 ? 0 : (long)n;
    while (k >= 0 && k < rows && (n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
        line[n - 1] = 0;
        char *p = line, *q;
        long round = strtol(p, &q, 10);
        int ok = q != p && round == k + 1;
        for (int c = 0; ok && c < ncol; c++) {
            if (*q != ',') ok = 0;
            p = q + 1;
            if (!ok || *p == ',' || *p == 0) {
                v[c] = NAN, q = p;
                continue;
            }
            v[c] = strtod(p, &q);
            ok = q != p;
        }
        if (!ok || *q != 0) break;
        if (fn) fn(ctx, k + 1, v);
        *end += (long)n;
        k++;
    }
    xfree(v), free(line), free(want);
    fclose(f);
    return k;
}

// ---- resume ----

typedef struct {
    RunFile *rf;
    const MetricLog *log;
    double **row; // (n_series) one row's buffers
} Rebuild;

static void rebuild_row(void *ctx, int k, const double *values) {
    Rebuild *b = ctx;
    (void)k;
    for (int i = 0, c = 0; i < b->log->n_series; i++)
        if (b->log->s[i].width == 1) b->row[i][0] = values[c++];
    append_h5(b->rf, b->row);
}

static double **nan_row(const MetricLog *log) {
    double **row = xcalloc((size_t)log->n_series + 1, sizeof *row);
    for (int i = 0; i < log->n_series; i++) {
        row[i] = xmalloc((size_t)log->s[i].width * sizeof **row);
        for (int c = 0; c < log->s[i].width; c++)
            row[i][c] = NAN;
    }
    return row;
}

static void free_row(double **row, const MetricLog *log) {
    for (int i = 0; i < log->n_series; i++)
        xfree(row[i]);
    xfree(row);
}

static void replace_or_die(const char *tmp, const char *final) {
    char err[4400];
    if (seal_replace(tmp, final, err, sizeof err) != 0) {
        unlink(tmp);
        die_at(__FILE__, __LINE__, __func__, "%s", err);
    }
}

// run.h5 is not usable for rounds 1..rows: set aside, rebuilt with those rows from metrics.csv's
// scalar series where its lines are valid, NaN elsewhere; then reopened.
static void rebuild_h5(RunFile *rf, const RunInfo *info, const OptSet *opts, const MetricLog *log,
                       int rows, const char *why) {
    char aside[4300], tmp[4300];
    snprintf(aside, sizeof aside, "%s.damaged", rf->h5);
    snprintf(tmp, sizeof tmp, "%s.tmp", rf->h5);
    struct stat st;
    if (stat(rf->h5, &st) == 0) {
        CHECK(rename(rf->h5, aside) == 0, "cannot rename %s to %s: %s", rf->h5, aside,
              strerror(errno));
        log_warn("resume: %s %s: moved to %s; rebuilding it for rounds 1..%d", rf->h5, why, aside,
                 rows);
    } else {
        log_warn("resume: %s %s: rebuilding it for rounds 1..%d", rf->h5, why, rows);
    }
    create_h5(rf, tmp, info, log);
    Rebuild b = {rf, log, nan_row(log)};
    long end;
    int from_csv = csv_scan(rf->csv, log, rows, &end, rebuild_row, &b);
    if (from_csv < 0) from_csv = 0;
    for (int i = 0; i < log->n_series; i++)
        if (log->s[i].width == 1) b.row[i][0] = NAN;
    while (rf->rows < rows)
        append_h5(rf, b.row);
    free_row(b.row, log);
    write_header(rf, info, opts);
    close_h5(rf);
    replace_or_die(tmp, rf->h5);
    char lost[2048] = "";
    size_t used = 0;
    for (int i = 0; i < log->n_series && used < sizeof lost; i++)
        if (log->s[i].width > 1)
            used += (size_t)snprintf(lost + used, sizeof lost - used, "%s%s", used ? ", " : "",
                                     log->s[i].name);
    if (used)
        log_warn("resume: %s rebuilt: rounds 1..%d of the per-party series (%s) are lost (NaN)",
                 rf->h5, rows, lost);
    if (from_csv < rows)
        log_warn("resume: %s rebuilt: %s holds valid lines for rounds 1..%d only: rounds %d..%d "
                 "of every series are lost (NaN)",
                 rf->h5, rf->csv, from_csv, from_csv + 1, rows);
    else
        log_warn("resume: %s rebuilt: the scalar series of rounds 1..%d from %s", rf->h5, rows,
                 rf->csv);
}

// metrics.csv from run.h5's rows 1..rf->rows (crash-safely: tmp, then rename).
static void rewrite_csv(RunFile *rf, const MetricLog *log) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", rf->csv);
    FILE *f = fopen(tmp, "w");
    CHECK(f, "cannot create %s: %s", tmp, strerror(errno));
    csv_header(f, log);
    enum { BLOCK = 1024 };
    double **row = nan_row(log);
    double *block = xmalloc((size_t)log->n_series * BLOCK * sizeof *block);
    for (int r0 = 0; r0 < rf->rows; r0 += BLOCK) {
        int k = rf->rows - r0 < BLOCK ? rf->rows - r0 : BLOCK;
        for (int i = 0; i < log->n_series; i++)
            if (log->s[i].width == 1)
                CHECK(read_rows(rf->ds[i], (hsize_t)r0, (hsize_t)k, H5T_NATIVE_DOUBLE,
                                block + (size_t)i * BLOCK) == 0,
                      "%s: series '%s' rows %d..%d cannot be read", rf->h5, log->s[i].name, r0 + 1,
                      r0 + k);
        for (int j = 0; j < k; j++) {
            for (int i = 0; i < log->n_series; i++)
                if (log->s[i].width == 1) row[i][0] = block[(size_t)i * BLOCK + j];
            csv_line(f, r0 + j + 1, row, log);
        }
    }
    xfree(block);
    free_row(row, log);
    if (ferror(f) | fclose(f)) { // both: a full disk can show only at close
        unlink(tmp);
        die_at(__FILE__, __LINE__, __func__, "writing %s failed: %s", tmp, strerror(errno));
    }
    replace_or_die(tmp, rf->csv);
}

// ---- the public writer ----

RunFile *runfile_open(const char *dir, const RunInfo *info, const OptSet *opts,
                      const MetricLog *log) {
    CHECK_PTR(dir);
    CHECK_PTR(info);
    RunFile *rf = xcalloc(1, sizeof *rf);
    snprintf(rf->h5, sizeof rf->h5, "%s/run.h5", dir);
    snprintf(rf->csv, sizeof rf->csv, "%s/metrics.csv", dir);
    rf->file = rf->metrics = rf->round_ds = rf->rounds_attr = rf->rss_ds = -1;
    for (int i = 0; i < METRIC_MAX_SERIES; i++)
        rf->ds[i] = -1;
    rf->n_series = log->n_series;
    for (int i = 0; i < log->n_series; i++)
        rf->width[i] = log->s[i].width;
    // Any HDF5 failure below (a full disk shows first in a write or a flush) names the file.
    snprintf(rf->hint, sizeof rf->hint, "while writing %s (disk full?)", rf->h5);
    die_set_hint(rf->hint);
    char digest[4300];
    snprintf(digest, sizeof digest, "%s" SEAL_SUFFIX, rf->h5);
    unlink(digest); // from here on run.h5 changes: a digest beside it would be stale
    int rows = log->rounds;
    if (rows == 0) { // a new run: both files from scratch
        create_h5(rf, rf->h5, info, log);
        write_header(rf, info, opts);
        rf->csv_f = fopen(rf->csv, "w");
        CHECK(rf->csv_f, "cannot create %s: %s", rf->csv, strerror(errno));
        csv_header(rf->csv_f, log);
    } else { // truncate to the checkpoint of round `rows`
        char why[512];
        long end = 0;
        int rebuilt = 0;
        int csv_rows = csv_scan(rf->csv, log, rows, &end, NULL, NULL);
        if (reopen_h5(rf, log, rows, why, sizeof why) == 0) {
            if (rf->rows > rows)
                log_info("resume: %s and %s cut to the checkpoint's %d rounds (they held %d)",
                         rf->h5, rf->csv, rows, rf->rows);
            truncate_h5(rf, rows);
            write_header(rf, info, opts);
        } else {
            rebuild_h5(rf, info, opts, log, rows, why);
            CHECK(reopen_h5(rf, log, rows, why, sizeof why) == 0, "%s rebuilt but %s", rf->h5, why);
            write_header(rf, info, opts);
            rebuilt = 1;
        }
        if (!rebuilt && csv_rows == rows) {
            CHECK(truncate(rf->csv, (off_t)end) == 0, "cannot truncate %s: %s", rf->csv,
                  strerror(errno));
        } else { // from run.h5: after a rebuild, the same rows (empty fields for the lost ones)
            if (!rebuilt)
                log_warn("resume: %s does not hold a valid header and lines for rounds 1..%d (%d "
                         "found): rewritten from %s",
                         rf->csv, rows, csv_rows < 0 ? 0 : csv_rows, rf->h5);
            rewrite_csv(rf, log);
        }
        rf->csv_f = fopen(rf->csv, "a");
        CHECK(rf->csv_f, "cannot open %s: %s", rf->csv, strerror(errno));
    }
    CHECK(fflush(rf->csv_f) == 0, "writing %s failed: %s", rf->csv, strerror(errno));
    H5_CHECK(H5Fflush(rf->file, H5F_SCOPE_LOCAL));
    die_set_hint(NULL);
    return rf;
}

void runfile_append(RunFile *rf, const MetricLog *log, const RunInfo *info) {
    CHECK_PTR(rf);
    CHECK(log->n_series == rf->n_series && log->has_row && log->rounds == rf->rows + 1,
          "appending round %d (current row: %d) to %s, which holds %d rounds", log->rounds,
          log->has_row, rf->h5, rf->rows);
    die_set_hint(rf->hint);
    double *row[METRIC_MAX_SERIES];
    for (int i = 0; i < log->n_series; i++)
        row[i] = log->s[i].v;
    append_h5(rf, row);
    if (rf->rss_ds >= 0 && info->peak_rss_kib)
        H5_CHECK(H5Dwrite(rf->rss_ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                          info->peak_rss_kib));
    H5_CHECK(H5Fflush(rf->file, H5F_SCOPE_LOCAL));
    csv_line(rf->csv_f, log->rounds, row, log);
    CHECK(fflush(rf->csv_f) == 0 && !ferror(rf->csv_f), "writing %s failed: %s", rf->csv,
          strerror(errno));
    die_set_hint(NULL);
}

// fsync of path (a file the caller flushed).
static void sync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && fsync(fd) == 0, "fsync %s: %s", path, strerror(errno));
    close(fd);
}

void runfile_sync(RunFile *rf) {
    CHECK_PTR(rf);
    CHECK(fsync(fileno(rf->csv_f)) == 0, "fsync %s: %s", rf->csv, strerror(errno));
    sync_path(rf->h5); // its flushed pages: fsync through any descriptor of the file
}

void runfile_close(RunFile *rf, const RunInfo *info) {
    CHECK_PTR(rf);
    die_set_hint(rf->hint);
    if (rf->rss_ds >= 0 && info->peak_rss_kib)
        H5_CHECK(H5Dwrite(rf->rss_ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                          info->peak_rss_kib));
    if (info->mpi_bytes) {
        CHECK(info->world_size == rf->world_size, "world_size %d, run.h5 has %d", info->world_size,
              rf->world_size);
        hid_t meta = H5Gopen2(rf->file, "meta", H5P_DEFAULT);
        H5_CHECK(meta);
        delete_link(meta, "mpi_bytes");
        hsize_t dims[2] = {(hsize_t)info->world_size, 2};
        write_array(meta, "mpi_bytes", 2, dims, H5T_STD_U64LE, H5T_NATIVE_UINT64, info->mpi_bytes);
        H5_CHECK(H5Gclose(meta));
    }
    for (int i = 0; i < rf->n_series; i++)
        H5_CHECK(H5Dclose(rf->ds[i]));
    H5_CHECK(H5Dclose(rf->round_ds));
    H5_CHECK(H5Aclose(rf->rounds_attr));
    if (rf->rss_ds >= 0) H5_CHECK(H5Dclose(rf->rss_ds));
    H5_CHECK(H5Gclose(rf->metrics));
    H5_CHECK(H5Fclose(rf->file));
    int bad = ferror(rf->csv_f) | fflush(rf->csv_f) | fsync(fileno(rf->csv_f));
    CHECK((fclose(rf->csv_f) | bad) == 0, "writing %s failed: %s", rf->csv, strerror(errno));
    sync_path(rf->h5);
    // The digest of the closed file, for readers that check it (sha256sum -c).
    char hex[SHA256_HEX_LEN + 1], err[4400], side[4300], text[SHA256_HEX_LEN + 16];
    CHECK(seal_hash_file(rf->h5, hex, NULL, err, sizeof err) == 0, "%s", err);
    snprintf(side, sizeof side, "%s" SEAL_SUFFIX, rf->h5);
    snprintf(text, sizeof text, "%s  run.h5\n", hex);
    CHECK(seal_write_text(side, text, err, sizeof err) == 0, "%s", err);
    die_set_hint(NULL);
    xfree(rf);
}
