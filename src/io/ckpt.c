// ckpt.c - parallel HDF5 checkpoints with a content checksum and atomic publication (see ckpt.h).
#define _GNU_SOURCE // fallocate(FALLOC_FL_KEEP_SIZE)
#include "io/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "io/runfile.h"
#include "io/seal.h"

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

// Rank 0: holds `bytes` of disk for the checkpoint before HDF5 writes a byte of it. A collective
// HDF5 write that meets a full disk leaves the ranks in different collectives inside H5Fclose (a
// hang), so the space is claimed first, where a failure is one rank's plain error. 0, or -1 with
// msg.
static int reserve_space(const char *dir, int64_t bytes, char *msg, size_t cap) {
    if (bytes == 0) return 0; // nothing claimed (tests of what a claim prevents)
    char path[CKPT_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.reserve", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)bytes);
    if (fd >= 0) close(fd);
    unlink(path);
    if (rc == 0) return 0;
    snprintf(msg, cap,
             "cannot write checkpoint into %s: %.1f MiB needed, %s (the disk is full or "
             "read-only?); the previous checkpoint is intact",
             dir, (double)bytes / 1048576.0, strerror(rc));
    return -1;
}

// Rank 0, after the collective create: keeps the claimed space allocated to the file itself
// (Linux fallocate without changing its size), so no other writer takes it between the claim and
// the writes. Best effort: a filesystem without fallocate keeps only the claim above.
static void hold_space(const char *tmp, int64_t bytes) {
    if (bytes == 0) return;
    int fd = open(tmp, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) != 0 && errno != EOPNOTSUPP)
        log_warn("checkpoint %s: cannot hold %.1f MiB for it: %s", tmp, (double)bytes / 1048576.0,
                 strerror(errno));
    close(fd);
}

Ckpt *ckpt_create(const char *dir, int round, int64_t reserve, MPI_Comm comm) {
    CHECK_PTR(dir);
    CHECK(round >= 0 && round <= 999999, "round %d outside 0..999999", round);
    CHECK(strlen(dir) < CKPT_PATH_MAX - 32, "checkpoint dir path too long (%zu)", strlen(dir));
    CHECK(reserve >= 0, "reserve = %" PRId64, reserve);
    Ckpt *c = xcalloc(1, sizeof *c);
    // The checkpoint's own agreement travels on a duplicate, as HDF5's does: I/O coordination, not
    // the run's traffic (the comm layer's byte counts, and PMPI's on the named communicator).
    MPI_CHECK(MPI_Comm_dup(comm, &c->comm));
    comm = c->comm;
    c->round = round;
    MPI_CHECK(MPI_Comm_rank(comm, &c->rank));
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    ckpt_path(c->final, sizeof c->final, dir, round);
    snprintf(c->tmp, sizeof c->tmp, "%s.tmp", c->final);
    // One verdict, rank 0's, and every rank stops here together on a refusal.
    char msg[CKPT_PATH_MAX + 256] = "";
    int ok = c->rank != 0 || reserve_space(dir, reserve, msg, sizeof msg) == 0;
    MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    MPI_CHECK(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, comm));
    CHECK(ok, "%s", msg);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_CHECK(fapl);
    H5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
    c->file = H5Fcreate(c->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(c->file >= 0, "cannot create checkpoint %s (is the directory writable?)", c->tmp);
    H5_CHECK(H5Pclose(fapl));
    if (c->rank == 0) hold_space(c->tmp, reserve);
    h5_attr_i64(c->file, "round", round);
    h5_attr_i64(c->file, "schema", CKPT_SCHEMA);
    return c;
}

void ckpt_write_config(Ckpt *c, const OptSet *opts, unsigned skip_flags) {
    hid_t grp = H5Gcreate2(c->file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    char v[OPT_STR_MAX + 32];
    for (int t = 0; t < opts->n; t++)
        for (int i = 0; i < opts->t[t].n; i++) {
            if (opts->t[t].spec[i].flags & skip_flags) continue;
            opts_format(&opts->t[t].spec[i], opts->t[t].base, v, sizeof v);
            h5_attr_str(grp, opts->t[t].spec[i].key, v);
        }
    H5_CHECK(H5Gclose(grp));
}

void ckpt_write_meta(Ckpt *c, const char *key, const char *value) {
    CHECK_PTR(c);
    htri_t have = H5Lexists(c->file, "meta", H5P_DEFAULT);
    H5_CHECK(have);
    hid_t grp = have > 0 ? H5Gopen2(c->file, "meta", H5P_DEFAULT)
                         : H5Gcreate2(c->file, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp);
    h5_attr_str(grp, key, value);
    H5_CHECK(H5Gclose(grp));
}

// The dataset's shape: (rows, dims...) when stacked, else (dims...). Returns its rank.
static int field_shape(const CkptField *f, hsize_t *dims) {
    int nd = 0;
    if (f->rows > 0) dims[nd++] = (hsize_t)f->rows;
    for (int d = 0; d < f->ndim; d++)
        dims[nd++] = (hsize_t)f->dims[d];
    return nd;
}

static int64_t row_size(const CkptField *f) {
    int64_t n = 1;
    for (int d = 0; d < f->ndim; d++)
        n *= f->dims[d];
    return n;
}

static void check_field(const CkptField *f) {
    CHECK(f->ndim >= 1 && f->ndim <= 4, "%s: ndim %d", f->name, f->ndim);
    for (int d = 0; d < f->ndim; d++)
        CHECK(f->dims[d] >= 0, "%s: dim %d = %" PRId64, f->name, d, f->dims[d]);
    CHECK(f->rows >= 0 && f->row0 >= 0 && f->nrows >= 0 && f->row0 + f->nrows <= f->rows,
          "%s: rows [%" PRId64 ", %" PRId64 ") outside (%" PRId64 ")", f->name, f->row0,
          f->row0 + f->nrows, f->rows);
    CHECK(f->stride == 0 || f->stride >= row_size(f), "%s: stride %" PRId64 " < row %" PRId64,
          f->name, f->stride, row_size(f));
}

// This rank's part of f: [*row0, *row0 + *nrows) of the stacked rows (unstacked: 0 or 1 row).
static void rank_rows(const CkptField *f, int rank, int reading, int64_t *row0, int64_t *nrows) {
    int64_t all = f->rows > 0 ? f->rows : 1;
    *row0 = 0;
    if (f->scope == CKPT_OWN)
        *row0 = f->row0, *nrows = f->nrows;
    else if (reading)
        *nrows = f->scope == CKPT_CLOUD && rank != 0 ? 0 : all;
    else
        *nrows = rank == 0 ? all : 0;
}

// The file selection of rows [row0, row0 + nrows) and the matching memory space: rows of the
// field's row size, `stride` apart in memory.
static void select_rows(const CkptField *f, hid_t file_space, int64_t row0, int64_t nrows,
                        hid_t *mem) {
    hsize_t start[5] = {0}, count[5], dims[5];
    int nd = field_shape(f, dims);
    for (int d = 0; d < nd; d++)
        count[d] = dims[d];
    if (f->rows > 0) start[0] = (hsize_t)row0, count[0] = (hsize_t)nrows;
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL));
    int64_t rs = row_size(f), stride = f->stride ? f->stride : rs;
    hsize_t mdims[2] = {(hsize_t)nrows, (hsize_t)stride}, mstart[2] = {0, 0},
            mcount[2] = {(hsize_t)nrows, (hsize_t)rs};
    *mem = H5Screate_simple(2, mdims, NULL);
    H5_CHECK(*mem);
    H5_CHECK(H5Sselect_hyperslab(*mem, H5S_SELECT_SET, mstart, NULL, mcount, NULL));
}

// Collective: every rank's result of a collective write step, agreed. On a failure anywhere every
// rank stops here together (rank 0 removes the unfinished file), instead of some ranks going on
// into the next collective while others have left.
static void agree(Ckpt *c, int ok, const char *step) {
    int all = 0;
    MPI_CHECK(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, c->comm));
    if (all) return;
    if (c->rank == 0) unlink(c->tmp);
    die_at(__FILE__, __LINE__, __func__,
           "checkpoint %s: %s failed on %s (disk full or I/O error?); the previous checkpoint is "
           "intact",
           c->tmp, step, ok ? "another rank" : "this rank");
}

// Collective. 1 when this rank's part was written.
static int write_field(Ckpt *c, const CkptField *f, int rank) {
    check_field(f);
    hsize_t dims[5];
    int nd = field_shape(f, dims);
    hid_t space = H5Screate_simple(nd, dims, NULL);
    H5_CHECK(space);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(lcpl);
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(dcpl);
    H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER)); // every element is written below
    hid_t ds = H5Dcreate2(c->file, f->name, file_type(f->type), space, lcpl, dcpl, H5P_DEFAULT);
    CHECK(ds >= 0, "cannot create checkpoint dataset '%s' in %s", f->name, c->tmp);
    if (f->offset >= 0) h5_attr_i64(ds, "offset", f->offset);
    int64_t row0, nrows;
    rank_rows(f, rank, 0, &row0, &nrows);
    hid_t mem;
    const void *data = f->data;
    static const uint8_t dummy[8];
    int64_t elems = nrows * row_size(f);
    if (elems > 0) {
        CHECK(data != NULL, "%s: data is NULL for %" PRId64 " rows", f->name, nrows);
        select_rows(f, space, row0, nrows, &mem);
    } else {
        H5_CHECK(H5Sselect_none(space));
        mem = H5Scopy(space);
        H5_CHECK(mem);
        H5_CHECK(H5Sselect_none(mem));
        data = dummy; // a collective write needs a buffer even when this rank writes nothing
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5_CHECK(dxpl);
    H5_CHECK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    int ok = 1;
    if (H5Sget_simple_extent_npoints(space) > 0)
        ok = H5Dwrite(ds, mem_type(f->type), mem, space, dxpl, data) >= 0;
    H5_CHECK(H5Pclose(dxpl));
    H5_CHECK(H5Sclose(mem));
    H5_CHECK(H5Dclose(ds));
    H5_CHECK(H5Pclose(dcpl));
    H5_CHECK(H5Pclose(lcpl));
    H5_CHECK(H5Sclose(space));
    return ok;
}

int64_t ckpt_bytes_estimate(const CkptList *l) {
    static const int64_t elem[] = {4, 8, 8, 4, 1};
    // Measured overheads are a few hundred bytes per dataset and ~100 per attribute; the margins
    // here are several times that, for HDF5's object headers, B-trees and the options' strings.
    int64_t bytes = 128 * 1024;
    for (int i = 0; i < l->n; i++) {
        const CkptField *f = &l->f[i];
        bytes += 2048 + (f->rows > 0 ? f->rows : 1) * row_size(f) * elem[f->type];
    }
    return bytes;
}

void ckpt_write(Ckpt *c, const CkptList *l, int rank) {
    int ok = 1;
    for (int i = 0; i < l->n; i++)
        ok &= write_field(c, &l->f[i], rank);
    agree(c, ok, "writing the fields");
}

CkptField *ckpt_list_add(CkptList *l, const char *name, CkptType type, CkptScope scope,
                         int64_t rows, int64_t n, void *data) {
    CHECK(strlen(name) < CKPT_NAME_MAX, "checkpoint field name '%s' longer than %d", name,
          CKPT_NAME_MAX - 1);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        CkptField *bigger = xmalloc((size_t)cap * sizeof *bigger);
        if (l->n) memcpy(bigger, l->f, (size_t)l->n * sizeof *bigger);
        xfree(l->f);
        l->f = bigger, l->cap = cap;
    }
    CkptField *f = &l->f[l->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type, f->scope = scope, f->rows = rows, f->ndim = 1, f->dims[0] = n;
    f->nrows = scope == CKPT_OWN ? 0 : rows, f->data = data, f->offset = -1;
    return f;
}

void ckpt_list_free(CkptList *l) {
    xfree(l->f);
    memset(l, 0, sizeof *l);
}

// ---- checksum: FNV-1a over names, shapes and bytes of every dataset and attribute, name order
// ----

typedef struct {
    uint64_t h;
    int failed;
    int64_t limit; // no object of the file can hold more bytes than the file: a bound on reads
} Hash;

static void fnv(Hash *s, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        s->h = (s->h ^ b[i]) * 0x100000001b3ULL;
}

// Only fixed-size types are hashed: a variable-length one would hash heap pointers (and this
// writer never makes one, so a file holding one is not ours).
static int fixed_size(hid_t t) {
    return t >= 0 && H5Tdetect_class(t, H5T_VLEN) == 0 && H5Tis_variable_str(t) == 0;
}

static herr_t hash_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    Hash *s = data;
    if (strcmp(name, "checksum") == 0) return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return s->failed = 1, -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    size_t size = fixed_size(t) ? H5Tget_size(t) : 0;
    if (np < 0 || size == 0 || (int64_t)np > s->limit / (int64_t)size) {
        H5Sclose(sp), H5Tclose(t), H5Aclose(a);
        return s->failed = 1, -1;
    }
    size_t bytes = (size_t)np * size;
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
    if (H5Aiterate2(ds, H5_INDEX_NAME, H5_ITER_INC, NULL, hash_attr, s) < 0) {
        H5Dclose(ds);
        return s->failed = 1, -1;
    }
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    hsize_t dims[8] = {0};
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    fnv(s, dims, sizeof dims);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    size_t size = fixed_size(t) ? H5Tget_size(t) : 0;
    if (nd < 0 || np < 0 || size == 0 || (int64_t)np > s->limit / (int64_t)size) {
        H5Sclose(sp), H5Tclose(t), H5Dclose(ds);
        return s->failed = 1, -1;
    }
    size_t bytes = (size_t)np * size;
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
static int content_checksum(hid_t file, int64_t file_bytes, char *out, size_t cap) {
    Hash s = {0xcbf29ce484222325ULL, 0, file_bytes};
    herr_t rc = -1;
    H5E_BEGIN_TRY { rc = H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, hash_object, &s); }
    H5E_END_TRY;
    if (rc < 0 || s.failed) return -1;
    snprintf(out, cap, "fnv1a64:%016" PRIx64, s.h);
    return 0;
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

// Rank 0: the file's size, after giving back space held beyond it (hold_space). -1 on error.
static int64_t trim(const char *path) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    struct stat st;
    int64_t size = fd >= 0 && fstat(fd, &st) == 0 ? (int64_t)st.st_size : -1;
    if (size >= 0 && ftruncate(fd, (off_t)size) != 0) size = -1;
    if (fd >= 0) close(fd);
    return size;
}

// Rank 0, after every rank's data is in c->tmp: adds the content checksum, seals the
// file (digest beside it, fsync, rename, directory fsync), points "latest" at it and prunes. 0, or
// -1 with msg (c->tmp removed; the previous checkpoint stays the newest).
static int publish(Ckpt *c, int keep, char *msg, size_t cap) {
    hid_t file = H5Fopen(c->tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(file >= 0, "cannot reopen %s", c->tmp);
    char sum[64];
    CHECK(content_checksum(file, INT64_MAX, sum, sizeof sum) == 0, "cannot read back %s", c->tmp);
    h5_attr_str(file, "checksum", sum);
    H5_CHECK(H5Fclose(file));
    char latest[CKPT_PATH_MAX + 8], name[32];
    snprintf(latest, sizeof latest, "%s/latest", c->dir);
    snprintf(name, sizeof name, "round_%06d.h5\n", c->round);
    if (trim(c->tmp) < 0 || seal_publish(c->tmp, c->final, NULL, msg, cap) != 0 ||
        seal_write_text(latest, name, msg, cap) != 0) {
        if (!msg[0]) snprintf(msg, cap, "%s: %s", c->tmp, strerror(errno));
        unlink(c->tmp);
        return -1;
    }
    int n, *rounds = list_rounds(c->dir, &n);
    for (int i = keep; i < n; i++) {
        char old[CKPT_PATH_MAX + 32], side[CKPT_PATH_MAX + 48];
        ckpt_path(old, sizeof old, c->dir, rounds[i]);
        snprintf(side, sizeof side, "%s" SEAL_SUFFIX, old);
        if (rounds[i] == c->round) continue;
        if (unlink(old) != 0) log_warn("cannot remove old checkpoint %s: %s", old, strerror(errno));
        unlink(side);
    }
    xfree(rounds);
    return 0;
}

void ckpt_commit(Ckpt *c, int keep) {
    CHECK_PTR(c);
    CHECK(keep >= 1, "keep = %d must be >= 1", keep);
    herr_t closed;
    H5E_BEGIN_TRY { closed = H5Fclose(c->file); }
    H5E_END_TRY;
    agree(c, closed >= 0, "closing"); // and every rank's data is on disk before rank 0 reopens
    char msg[CKPT_PATH_MAX + 256] = "";
    int ok = c->rank != 0 || publish(c, keep, msg, sizeof msg) == 0;
    // Rank 0's verdict for every rank: nobody reads "latest" before it is there, and a failed
    // publication stops every rank together, naming the file.
    MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, c->comm));
    MPI_CHECK(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, c->comm));
    CHECK(ok, "checkpoint round %d not written: %s (the previous checkpoint is intact)", c->round,
          msg);
    MPI_CHECK(MPI_Comm_free(&c->comm));
    xfree(c);
}

int ckpt_count(const char *dir) {
    int n, *rounds = list_rounds(dir, &n);
    xfree(rounds);
    return n;
}

int ckpt_verify(const char *path, char *err, size_t cap) {
    // The whole-file digest first: HDF5 never parses bytes that are not the ones written.
    int64_t bytes = 0;
    if (seal_check(path, NULL, &bytes, err, cap) != 0) return -1;
    hid_t file = -1;
    H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (file < 0) {
        snprintf(err, cap, "%s: not a readable HDF5 file (truncated or corrupted)", path);
        return -1;
    }
    char want[64] = "", got[64];
    int rc = h5_read_str(file, "checksum", want, sizeof want);
    if (rc < 0) {
        snprintf(err, cap, "%s: no checksum attribute (unfinished checkpoint)", path);
    } else if (content_checksum(file, bytes, got, sizeof got) < 0) {
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
    CkptReader *r = xcalloc(1, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    H5E_BEGIN_TRY { r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (r->file < 0) {
        snprintf(err, cap, "%s: cannot open (it passed verification: changed since?)", path);
        xfree(r);
        return NULL;
    }
    long long round = -1, schema = -1;
    if (h5_read_i64(r->file, "round", &round) < 0) round = -1;
    if (h5_read_i64(r->file, "schema", &schema) < 0) schema = -1;
    r->round = round >= 0 && round <= 999999 ? (int)round : -1;
    if (schema != CKPT_SCHEMA) {
        snprintf(err, cap,
                 "%s: checkpoint schema %lld, this build reads schema %d (written by "
                 "another version of mmcollab: start the run again in a new --out)",
                 path, schema, CKPT_SCHEMA);
        ckpt_close(r);
        return NULL;
    }
    if (r->round < 0) {
        snprintf(err, cap, "%s: no valid round attribute", path);
        ckpt_close(r);
        return NULL;
    }
    return r;
}

void ckpt_close(CkptReader *r) {
    if (!r) return;
    H5Fclose(r->file);
    xfree(r);
}

int ckpt_round(const CkptReader *r) { return r->round; }

typedef struct {
    OptKvFn on_kv;
    void *ctx;
    const char *path;
    char *err;
    size_t cap;
    int rc;
} ConfigIter;

static herr_t config_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    ConfigIter *it = data;
    char value[OPT_STR_MAX + 32] = "";
    if (h5_read_str(loc, name, value, sizeof value) < 0) {
        snprintf(it->err, it->cap, "%s: /config/%s is not a readable string", it->path, name);
        it->rc = -1;
    }
    if (it->rc == 0) it->rc = it->on_kv(it->ctx, name, value, it->path, it->err, it->cap);
    return it->rc != 0 ? 1 : 0;
}

int ckpt_read_config(const CkptReader *r, OptKvFn on_kv, void *ctx, char *err, size_t cap) {
    ConfigIter it = {on_kv, ctx, r->path, err, cap, 0};
    hid_t g = -1;
    H5E_BEGIN_TRY { g = H5Gopen2(r->file, "config", H5P_DEFAULT); }
    H5E_END_TRY;
    if (g < 0) {
        snprintf(err, cap, "%s: no /config group", r->path);
        return -1;
    }
    H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, config_attr, &it);
    H5Gclose(g);
    return it.rc;
}

int ckpt_read_meta(const CkptReader *r, const char *key, char *value, size_t cap) {
    if (cap) value[0] = 0;
    hid_t g = -1;
    H5E_BEGIN_TRY { g = H5Gopen2(r->file, "meta", H5P_DEFAULT); }
    H5E_END_TRY;
    if (g < 0) return -1;
    int rc = h5_read_str(g, key, value, cap);
    H5Gclose(g);
    return rc;
}

static void read_field(const CkptReader *r, const CkptField *f, int rank) {
    check_field(f);
    int64_t row0, nrows;
    rank_rows(f, rank, 1, &row0, &nrows);
    if (nrows == 0) return;
    hid_t ds = -1;
    H5E_BEGIN_TRY { ds = H5Dopen2(r->file, f->name, H5P_DEFAULT); }
    H5E_END_TRY;
    CHECK(ds >= 0, "%s: dataset '%s' is missing", r->path, f->name);
    hid_t space = H5Dget_space(ds);
    H5_CHECK(space);
    hsize_t want[5], got[5] = {0};
    int nd = field_shape(f, want), gnd = H5Sget_simple_extent_ndims(space);
    CHECK(gnd == nd && H5Sget_simple_extent_dims(space, got, NULL) == nd &&
              memcmp(want, got, (size_t)nd * sizeof *want) == 0,
          "%s: dataset '%s' has %d dimensions (first %llu), expected %d (first %llu)", r->path,
          f->name, gnd, (unsigned long long)got[0], nd, (unsigned long long)want[0]);
    hid_t ft = H5Dget_type(ds);
    H5_CHECK(ft);
    CHECK(H5Tequal(ft, file_type(f->type)) > 0, "%s: dataset '%s' has another element type",
          r->path, f->name);
    H5_CHECK(H5Tclose(ft));
    if (nrows * row_size(f) > 0) {
        CHECK(f->data != NULL, "%s: no buffer to read '%s' into", r->path, f->name);
        hid_t mem;
        select_rows(f, space, row0, nrows, &mem);
        H5_CHECK(H5Dread(ds, mem_type(f->type), mem, space, H5P_DEFAULT, f->data));
        H5_CHECK(H5Sclose(mem));
    }
    H5_CHECK(H5Sclose(space));
    H5_CHECK(H5Dclose(ds));
}

void ckpt_read(const CkptReader *r, const CkptList *l, int rank) {
    for (int i = 0; i < l->n; i++)
        read_field(r, &l->f[i], rank);
}
