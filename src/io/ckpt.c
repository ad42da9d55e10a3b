// ckpt.c - parallel HDF5 checkpoints with a content checksum and atomic publication (see ckpt.h).
#include "io/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "io/runfile.h"

#define CKPT_PATH_MAX 4096

struct Ckpt {
    MPI_Comm comm;
    int rank, round;
    hid_t file;
    char dir[CKPT_PATH_MAX], final[CKPT_PATH_MAX + 32], tmp[CKPT_PATH_MAX + 40];
};

struct CkptReader {
    hid_t file;
    int round;
    char path[CKPT_PATH_MAX];
};

static hid_t mem_type(CkptType t) {
    switch (t) {
    case CKPT_F32:
        return H5T_NATIVE_FLOAT;
    case CKPT_F64:
        return H5T_NATIVE_DOUBLE;
    case CKPT_I64:
        return H5T_NATIVE_INT64;
    case CKPT_U32:
        return H5T_NATIVE_UINT32;
    case CKPT_U8:
        return H5T_NATIVE_UINT8;
    }
    die_at(__FILE__, __LINE__, __func__, "unknown CkptType %d", (int)t);
}

static hid_t file_type(CkptType t) {
    switch (t) {
    case CKPT_F32:
        return H5T_IEEE_F32LE;
    case CKPT_F64:
        return H5T_IEEE_F64LE;
    case CKPT_I64:
        return H5T_STD_I64LE;
    case CKPT_U32:
        return H5T_STD_U32LE;
    case CKPT_U8:
        return H5T_STD_U8LE;
    }
    die_at(__FILE__, __LINE__, __func__, "unknown CkptType %d", (int)t);
}

void ckpt_path(char *buf, size_t cap, const char *dir, int round) {
    snprintf(buf, cap, "%s/round_%06d.h5", dir, round);
}

Ckpt *ckpt_create(const char *dir, int round, MPI_Comm comm) {
    CHECK_PTR(dir);
    CHECK(round >= 0 && round <= 999999, "round %d outside 0..999999", round);
    CHECK(strlen(dir) < CKPT_PATH_MAX - 32, "checkpoint dir path too long (%zu)", strlen(dir));
    Ckpt *c = xcalloc(1, sizeof *c);
    c->comm = comm;
    c->round = round;
    MPI_CHECK(MPI_Comm_rank(comm, &c->rank));
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    ckpt_path(c->final, sizeof c->final, dir, round);
    snprintf(c->tmp, sizeof c->tmp, "%s.tmp", c->final);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_CHECK(fapl);
    H5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
    c->file = H5Fcreate(c->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(c->file >= 0, "cannot create checkpoint %s (is the directory writable?)", c->tmp);
    H5_CHECK(H5Pclose(fapl));
    h5_attr_i64(c->file, "round", round);
    h5_attr_i64(c->file, "schema", CKPT_SCHEMA);
    return c;
}

void ckpt_write_config(Ckpt *c, const OptSpec *opts, int n_opts, const void *cfg) {
    hid_t grp = H5Gcreate2(c->file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    char v[OPT_STR_MAX + 32];
    for (int i = 0; i < n_opts; i++) {
        opts_format(&opts[i], cfg, v, sizeof v);
        h5_attr_str(grp, opts[i].key, v);
    }
    H5_CHECK(H5Gclose(grp));
}

void ckpt_write_rows(Ckpt *c, const char *name, CkptType type, int64_t rows, int64_t cols,
                     int64_t row0, int64_t nrows, const void *data) {
    CHECK_PTR(c);
    CHECK(rows >= 0 && cols >= 0, "%s: shape (%" PRId64 ", %" PRId64 ")", name, rows, cols);
    CHECK(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows,
          "%s: rows [%" PRId64 ", %" PRId64 ") outside (%" PRId64 ")", name, row0, row0 + nrows,
          rows);
    CHECK(nrows == 0 || cols == 0 || data != NULL, "%s: data is NULL for %" PRId64 " rows", name,
          nrows);
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    H5_CHECK(space);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(lcpl);
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(dcpl);
    H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER)); // every element is written below
    hid_t ds = H5Dcreate2(c->file, name, file_type(type), space, lcpl, dcpl, H5P_DEFAULT);
    CHECK(ds >= 0, "cannot create checkpoint dataset '%s' in %s", name, c->tmp);
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nrows, (hsize_t)cols};
    hid_t mem;
    static const uint8_t dummy[8];
    if (nrows > 0 && cols > 0) {
        H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL));
        mem = H5Screate_simple(2, count, NULL);
    } else {
        H5_CHECK(H5Sselect_none(space));
        mem = H5Scopy(space);
        H5_CHECK(mem);
        H5_CHECK(H5Sselect_none(mem));
        data = dummy; // a collective write needs a buffer even when this rank writes nothing
    }
    H5_CHECK(mem);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5_CHECK(dxpl);
    H5_CHECK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    if (rows > 0 && cols > 0) H5_CHECK(H5Dwrite(ds, mem_type(type), mem, space, dxpl, data));
    H5_CHECK(H5Pclose(dxpl));
    H5_CHECK(H5Sclose(mem));
    H5_CHECK(H5Dclose(ds));
    H5_CHECK(H5Pclose(dcpl));
    H5_CHECK(H5Pclose(lcpl));
    H5_CHECK(H5Sclose(space));
}

// ---- checksum: FNV-1a over names, shapes and bytes of every dataset and attribute, name order
// ----

typedef struct {
    uint64_t h;
    int failed;
} Hash;

static void fnv(Hash *s, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        s->h = (s->h ^ b[i]) * 0x100000001b3ULL;
}

static herr_t hash_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    Hash *s = data;
    if (strcmp(name, "checksum") == 0) return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return s->failed = 1, -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    size_t bytes = (size_t)np * H5Tget_size(t);
    uint8_t *buf = xmalloc(bytes + 1);
    herr_t rc = H5Aread(a, t, buf);
    fnv(s, name, strlen(name) + 1);
    fnv(s, buf, bytes);
    xfree(buf);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    if (rc < 0) s->failed = 1;
    return rc < 0 ? -1 : 0;
}

static herr_t hash_object(hid_t root, const char *name, const H5O_info_t *info, void *data) {
    Hash *s = data;
    fnv(s, name, strlen(name) + 1);
    if (info->type == H5O_TYPE_GROUP) {
        hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
        if (g < 0) return s->failed = 1, -1;
        herr_t rc = H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, hash_attr, s);
        H5Gclose(g);
        return rc < 0 ? -1 : 0;
    }
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
    if (ds < 0) return s->failed = 1, -1;
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    hsize_t dims[8] = {0};
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    fnv(s, dims, sizeof dims);
    size_t bytes = (size_t)H5Sget_simple_extent_npoints(sp) * H5Tget_size(t);
    uint8_t *buf = xmalloc(bytes + 1);
    herr_t rc = nd < 0 ? -1 : bytes ? H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    fnv(s, buf, bytes);
    xfree(buf);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(ds);
    if (rc < 0) s->failed = 1;
    return rc < 0 ? -1 : 0;
}

// 0 and the checksum text, or -1 when some object could not be read (truncated, corrupted).
static int content_checksum(hid_t file, char *out, size_t cap) {
    Hash s = {0xcbf29ce484222325ULL, 0};
    herr_t rc = -1;
    H5E_BEGIN_TRY { rc = H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, hash_object, &s); }
    H5E_END_TRY;
    if (rc < 0 || s.failed) return -1;
    snprintf(out, cap, "fnv1a64:%016" PRIx64, s.h);
    return 0;
}

static void write_text_atomic(const char *path, const char *text) {
    char tmp[CKPT_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    CHECK(f, "cannot create %s: %s", tmp, strerror(errno));
    fputs(text, f);
    CHECK(fclose(f) == 0, "writing %s: %s", tmp, strerror(errno));
    CHECK(rename(tmp, path) == 0, "rename %s: %s", tmp, strerror(errno));
}

// Rounds of the round_NNNNNN.h5 files in dir, newest first. Owned array; *n set.
static int *list_rounds(const char *dir, int *n) {
    int cap = 16, *r = xmalloc((size_t)cap * sizeof *r);
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return r;
    struct dirent *e;
    while ((e = readdir(d))) {
        int round;
        char tail[8] = "";
        if (sscanf(e->d_name, "round_%6d.h%7s", &round, tail) != 2 || strcmp(tail, "5") != 0 ||
            strlen(e->d_name) != strlen("round_000000.h5"))
            continue;
        if (*n == cap) {
            int *bigger = xmalloc((size_t)(cap *= 2) * sizeof *r);
            memcpy(bigger, r, (size_t)*n * sizeof *r);
            xfree(r);
            r = bigger;
        }
        r[(*n)++] = round;
    }
    closedir(d);
    for (int i = 1; i < *n; i++) // insertion sort, descending: a handful of files
        for (int j = i; j > 0 && r[j] > r[j - 1]; j--) {
            int t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    return r;
}

static void publish(Ckpt *c, const MetricLog *log, int keep) {
    hid_t file = H5Fopen(c->tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(file >= 0, "cannot reopen %s", c->tmp);
    if (log) metrics_h5_write(file, "metrics", log, 0);
    char sum[64];
    CHECK(content_checksum(file, sum, sizeof sum) == 0, "cannot read back %s", c->tmp);
    h5_attr_str(file, "checksum", sum);
    H5_CHECK(H5Fclose(file));
    CHECK(rename(c->tmp, c->final) == 0, "rename %s: %s", c->tmp, strerror(errno));
    char latest[CKPT_PATH_MAX + 8], name[32];
    snprintf(latest, sizeof latest, "%s/latest", c->dir);
    snprintf(name, sizeof name, "round_%06d.h5\n", c->round);
    write_text_atomic(latest, name);
    int n, *rounds = list_rounds(c->dir, &n);
    for (int i = keep; i < n; i++) {
        char old[CKPT_PATH_MAX + 32];
        ckpt_path(old, sizeof old, c->dir, rounds[i]);
        if (rounds[i] != c->round && unlink(old) != 0)
            log_warn("cannot remove old checkpoint %s: %s", old, strerror(errno));
    }
    xfree(rounds);
}

void ckpt_commit(Ckpt *c, const MetricLog *log, int keep) {
    CHECK_PTR(c);
    CHECK(keep >= 1, "keep = %d must be >= 1", keep);
    H5_CHECK(H5Fclose(c->file));
    MPI_CHECK(MPI_Barrier(c->comm)); // every rank's data is on disk before rank 0 reopens
    if (c->rank == 0) publish(c, log, keep);
    MPI_CHECK(MPI_Barrier(c->comm)); // nobody reads "latest" before it is there
    xfree(c);
}

void ckpt_abandon(Ckpt *c) {
    if (!c) return;
    H5Fclose(c->file);
    MPI_Barrier(c->comm);
    if (c->rank == 0) unlink(c->tmp);
    xfree(c);
}

int ckpt_count(const char *dir) {
    int n, *rounds = list_rounds(dir, &n);
    xfree(rounds);
    return n;
}

int ckpt_verify(const char *path, char *err, size_t cap) {
    hid_t file = -1;
    H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (file < 0) {
        snprintf(err, cap, "%s: not a readable HDF5 file (truncated or corrupted)", path);
        return -1;
    }
    char want[64] = "", got[64];
    int rc = 0;
    H5E_BEGIN_TRY {
        hid_t a = H5Aopen(file, "checksum", H5P_DEFAULT);
        hid_t t = a >= 0 ? H5Aget_type(a) : -1;
        if (a < 0 || t < 0 || H5Tget_size(t) >= sizeof want || H5Aread(a, t, want) < 0) rc = -1;
        if (t >= 0) H5Tclose(t);
        if (a >= 0) H5Aclose(a);
    }
    H5E_END_TRY;
    if (rc < 0) {
        snprintf(err, cap, "%s: no checksum attribute (unfinished checkpoint)", path);
    } else if (content_checksum(file, got, sizeof got) < 0) {
        snprintf(err, cap, "%s: a dataset cannot be read (truncated or corrupted)", path);
        rc = -1;
    } else if (strcmp(want, got) != 0) {
        snprintf(err, cap, "%s: checksum %s, stored %s (corrupted)", path, got, want);
        rc = -1;
    }
    H5Fclose(file);
    return rc;
}

int ckpt_find_valid(const char *dir, char *path, size_t cap) {
    int n, *rounds = list_rounds(dir, &n), found = 0;
    for (int i = 0; i < n && !found; i++) {
        char err[CKPT_PATH_MAX + 128];
        ckpt_path(path, cap, dir, rounds[i]);
        if (ckpt_verify(path, err, sizeof err) == 0)
            found = rounds[i];
        else
            log_warn("skipping checkpoint: %s", err);
    }
    xfree(rounds);
    if (!found && cap) path[0] = 0;
    return found;
}

CkptReader *ckpt_open(const char *path, char *err, size_t cap) {
    if (ckpt_verify(path, err, cap) != 0) return NULL;
    CkptReader *r = xcalloc(1, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5_CHECK(r->file);
    long long round;
    hid_t a = H5Aopen(r->file, "round", H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Aread(a, H5T_NATIVE_LLONG, &round));
    H5_CHECK(H5Aclose(a));
    r->round = (int)round;
    return r;
}

void ckpt_close(CkptReader *r) {
    if (!r) return;
    H5Fclose(r->file);
    xfree(r);
}

int ckpt_round(const CkptReader *r) { return r->round; }

// The stored text of /config/<key>, or "" (missing).
static void stored_option(hid_t file, const char *key, char *out, size_t cap) {
    out[0] = 0;
    H5E_BEGIN_TRY {
        hid_t a = H5Aopen_by_name(file, "config", key, H5P_DEFAULT, H5P_DEFAULT);
        hid_t t = a >= 0 ? H5Aget_type(a) : -1;
        if (t >= 0 && H5Tget_size(t) < cap && H5Aread(a, t, out) < 0) out[0] = 0;
        if (t >= 0) H5Tclose(t);
        if (a >= 0) H5Aclose(a);
    }
    H5E_END_TRY;
}

int ckpt_config_diff(const CkptReader *r, const OptSpec *opts, int n_opts, const void *cfg,
                     char *keys, size_t cap) {
    char mine[OPT_STR_MAX + 32], theirs[OPT_STR_MAX + 32];
    int count = 0;
    size_t used = 0;
    if (cap) keys[0] = 0;
    for (int i = 0; i < n_opts; i++) {
        opts_format(&opts[i], cfg, mine, sizeof mine);
        stored_option(r->file, opts[i].key, theirs, sizeof theirs);
        if (strcmp(mine, theirs) == 0) continue;
        count++;
        if (used < cap) {
            int w = snprintf(keys + used, cap - used, "%s%s (checkpoint '%s', now '%s')",
                             used ? ", " : "", opts[i].key, theirs, mine);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    return count;
}

void ckpt_read_rows(const CkptReader *r, const char *name, CkptType type, int64_t rows,
                    int64_t cols, int64_t row0, int64_t nrows, void *out) {
    CHECK(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows,
          "%s: rows [%" PRId64 ", %" PRId64 ") outside (%" PRId64 ")", name, row0, row0 + nrows,
          rows);
    hid_t ds = -1;
    H5E_BEGIN_TRY { ds = H5Dopen2(r->file, name, H5P_DEFAULT); }
    H5E_END_TRY;
    CHECK(ds >= 0, "%s: dataset '%s' is missing", r->path, name);
    hid_t space = H5Dget_space(ds);
    H5_CHECK(space);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_dims(space, dims, NULL);
    CHECK(nd == 2 && dims[0] == (hsize_t)rows && dims[1] == (hsize_t)cols,
          "%s: dataset '%s' has shape (%llu, %llu), expected (%" PRId64 ", %" PRId64 ")", r->path,
          name, (unsigned long long)dims[0], (unsigned long long)dims[1], rows, cols);
    hid_t ft = H5Dget_type(ds);
    H5_CHECK(ft);
    CHECK(H5Tequal(ft, file_type(type)) > 0, "%s: dataset '%s' has another element type", r->path,
          name);
    H5_CHECK(H5Tclose(ft));
    if (nrows > 0 && cols > 0) {
        hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nrows, (hsize_t)cols};
        H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL));
        hid_t mem = H5Screate_simple(2, count, NULL);
        H5_CHECK(mem);
        H5_CHECK(H5Dread(ds, mem_type(type), mem, space, H5P_DEFAULT, out));
        H5_CHECK(H5Sclose(mem));
    }
    H5_CHECK(H5Sclose(space));
    H5_CHECK(H5Dclose(ds));
}

int ckpt_read_metrics(const CkptReader *r, MetricLog *log, char *err, size_t cap) {
    return metrics_h5_read(r->file, "metrics", log, err, cap);
}

void ckpt_write_fields(Ckpt *c, const CkptField *f, int n, int rank) {
    for (int i = 0; i < n; i++) {
        int own = f[i].scope == CKPT_OWN;
        ckpt_write_rows(c, f[i].name, f[i].type, f[i].rows, f[i].cols, own ? f[i].row0 : 0,
                        own ? f[i].nrows : (rank == 0 ? f[i].rows : 0), f[i].data);
    }
}

void ckpt_read_fields(const CkptReader *r, const CkptField *f, int n, int rank) {
    for (int i = 0; i < n; i++) {
        if (f[i].scope == CKPT_CLOUD && rank != 0) continue;
        int own = f[i].scope == CKPT_OWN;
        ckpt_read_rows(r, f[i].name, f[i].type, f[i].rows, f[i].cols, own ? f[i].row0 : 0,
                       own ? f[i].nrows : f[i].rows, f[i].data);
    }
}
