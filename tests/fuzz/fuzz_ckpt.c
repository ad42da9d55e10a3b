// fuzz_ckpt.c - the checkpoint reader (io/ckpt.h) behind its integrity gate.
//
// A checkpoint whose digest is valid can still hold hostile content: written by another build, by
// hand, or by a bug. As fuzz_dataset.c does for datasets, the input drives the HDF5 API to write a
// well-formed checkpoint laid out as io/ckpt.c and fl/state.c write one (root round and schema,
// /config with one string per option, /meta, one dataset per field with its offset attribute; plus
// the /metrics group checkpoints of the previous layout carried, which a reader now ignores), and
// input bytes choose deviations of its content: attributes of other types, sizes and dataspaces
// (arrays where scalars belong, strings without a terminator, variable-length strings, numbers as
// strings), missing groups and datasets, fields of other shapes and types or with huge dims that
// are small on disk, metrics series of mismatched widths and lengths, rounds counts huge or
// negative, unknown options and bad values. The file is then sealed as the gate expects and read as
// a resume reads it (fl/state.c run_resume on rank 0 or another rank): open, round, /config into a
// configuration, /meta, every field of the list. The reader may refuse (NULL or -1 with a message,
// or a die with one); it must not crash, hang, read out of bounds, leak or allocate without bound.
//
// The gate: ckpt_verify checks the whole-file digest beside the file (do_open writes it, as the
// writer does), then the content checksum (FNV-1a over every object, io/ckpt.c), which seal()
// computes here. The reader entry points are called from do_open/do_read only.
#include <hdf5.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "fl/run.h"
#include "h5gen.h"
#include "harness.h"
#include "io/ckpt.h"
#include "io/seal.h"

#define P 3                        // parties
#define N_PARAMS 17                // one party's model: enc/w (4, 3) at 0, head/b (5) at 12
#define SEAL_MAX_BYTES (64u << 20) // larger objects are not read to seal: the checksum is left bad

static OptRegistry methods, models;

// ---- the field list (fl/state.c builds one like it from the model and the protocol) ----

typedef struct {
    float global[N_PARAMS], party[P * N_PARAMS];
    int64_t step[P];
    uint8_t slots[2 * 7];
    uint32_t count[2];
    double sum[3];
    float empty[1];
} State;

static void field_list(CkptList *l, State *st, int64_t row0, int64_t nrows) {
    CkptField *f = ckpt_list_add(l, "cloud/global/enc/w", CKPT_F32, CKPT_SHARED, 0, 12, st->global);
    f->ndim = 2, f->dims[0] = 4, f->dims[1] = 3, f->offset = 0;
    f = ckpt_list_add(l, "cloud/global/head/b", CKPT_F32, CKPT_SHARED, 0, 5, st->global + 12);
    f->offset = 12;
    f = ckpt_list_add(l, "parties/model/enc/w", CKPT_F32, CKPT_OWN, P, 12, st->party);
    f->ndim = 2, f->dims[0] = 4, f->dims[1] = 3, f->stride = N_PARAMS, f->offset = 0;
    f->row0 = row0, f->nrows = nrows;
    f = ckpt_list_add(l, "parties/model/head/b", CKPT_F32, CKPT_OWN, P, 5, st->party + 12);
    f->stride = N_PARAMS, f->offset = 12, f->row0 = row0, f->nrows = nrows;
    f = ckpt_list_add(l, "parties/opt/step", CKPT_I64, CKPT_OWN, P, 1, st->step);
    f->row0 = row0, f->nrows = nrows;
    ckpt_list_add(l, "cloud/slots", CKPT_U8, CKPT_CLOUD, 2, 7, st->slots);
    ckpt_list_add(l, "cloud/count", CKPT_U32, CKPT_SHARED, 0, 2, st->count);
    ckpt_list_add(l, "cloud/sum", CKPT_F64, CKPT_CLOUD, 0, 3, st->sum);
    ckpt_list_add(l, "cloud/empty", CKPT_F32, CKPT_SHARED, 0, 0, st->empty);
}

// ---- writing ----

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
    default:
        return H5T_STD_U8LE;
    }
}

static FzWhat what_of(CkptType t) {
    return t == CKPT_F32   ? FZ_F32
           : t == CKPT_F64 ? FZ_F64
           : t == CKPT_I64 ? FZ_I64
           : t == CKPT_U32 ? FZ_U32
                           : FZ_U8;
}

// /config: one fixed-length string per option that is not resume-neutral, as ckpt_write_config
// writes them (the defaults of the input's method), plus unknown keys and bad values.
static void write_config(FuzzIn *in, hid_t file) {
    unsigned gm = fz_mode(in, 3);
    if (gm == 1) return;
    if (gm == 2) { // a dataset in its place
        hsize_t one = 1;
        hid_t d = fz_dataset(in, file, "config", H5T_STD_I32LE, 1, &one, FZ_META, 0);
        if (d >= 0) H5Dclose(d);
        return;
    }
    hid_t g = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return;
    char method[32], *argv[2] = {"mmcollab", method}, err[1024];
    snprintf(method, sizeof method, "--method=%s",
             methods.n ? methods.group[fz_pick(in, (unsigned)methods.n)]->name : "fedavg");
    RunConfig rc;
    if (config_parse(&rc, &methods, &models, 2, argv, err, sizeof err) != OPT_OK)
        fuzz_fail("the default configuration of %s does not parse: %s", method, err);
    OptSet s;
    run_config_optset(&rc, &s);
    char v[OPT_STR_MAX + 32];
    for (int t = 0; t < s.n; t++)
        for (int i = 0; i < s.t[t].n; i++) {
            const OptSpec *o = &s.t[t].spec[i];
            if (o->flags & OPT_RESUME_NEUTRAL) continue;
            opts_format(o, s.t[t].base, v, sizeof v);
            if (fz_mode(in, 3) == 1) fz_str(in, v, sizeof v); // a bad value
            const char *one[1] = {v};
            fz_str_attr(in, g, o->key, -1, one, FZ_FIXED);
        }
    run_config_free(&rc);
    if (fz_mode(in, 2)) { // an unknown key
        char key[32], val[32];
        const char *one[1] = {fz_str(in, val, sizeof val)};
        fz_str(in, key, sizeof key);
        if (key[0]) fz_str_attr(in, g, key, -1, one, FZ_FIXED);
    }
    H5Gclose(g);
}

static void write_meta(FuzzIn *in, hid_t file) {
    if (fz_mode(in, 2)) return; // a checkpoint written before /meta existed
    hid_t g = H5Gcreate2(file, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return;
    static const char *const keys[3] = {"data_sha256", "blas_core", "blas_threads"};
    static const char *const values[3] = {
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "Haswell", "1"};
    for (int i = 0; i < 3; i++)
        fz_str_attr(in, g, keys[i], -1, &values[i], FZ_FIXED);
    H5Gclose(g);
}

// /metrics as checkpoints of the previous layout held it (rounds, round (1..R), one f64 dataset per
// series): no reader looks at it now, and its presence must change nothing. Kept so that the corpus
// inputs still drive the rest of the file as they did.
static void write_metrics(FuzzIn *in, hid_t file, int64_t rounds) {
    if (fz_mode(in, 3) == 1) return;
    hid_t g = H5Gcreate2(file, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return;
    fz_num_attr(in, g, "rounds", H5T_STD_I64LE, rounds);
    hsize_t r = (hsize_t)rounds;
    hid_t d = fz_dataset(in, g, "round", H5T_STD_I32LE, 1, &r, FZ_I64, 0);
    if (d >= 0) H5Dclose(d);
    static const char *const names[5] = {"train_loss", "test_acc", "party_acc", "round_ms",
                                         "extra_series"};
    static const int widths[5] = {1, 1, P, 1, 2};
    for (int i = 0; i < 5; i++) {
        int write = i < 3 ? !fz_mode(in, 2) : fz_mode(in, 2) != 0; // the varying one: rarely
        if (!write) continue;
        hsize_t dims[2] = {r, (hsize_t)widths[i]};
        d = fz_dataset(in, g, names[i], H5T_IEEE_F64LE, widths[i] == 1 ? 1 : 2, dims, FZ_F64, 0);
        if (d < 0) continue;
        fz_num_attr(in, d, "width", H5T_STD_I64LE, widths[i]);
        fz_num_attr(in, d, "varies", H5T_STD_I64LE, i == 3);
        const char *split[1] = {i == 1 ? "test" : ""};
        fz_str_attr(in, d, "split", -1, split, FZ_FIXED);
        H5Dclose(d);
    }
    H5Gclose(g);
}

static void write_fields(FuzzIn *in, hid_t file, const CkptList *l) {
    for (int i = 0; i < l->n; i++) {
        const CkptField *f = &l->f[i];
        hsize_t dims[5];
        int nd = 0;
        if (f->rows > 0) dims[nd++] = (hsize_t)f->rows;
        for (int k = 0; k < f->ndim; k++)
            dims[nd++] = (hsize_t)f->dims[k];
        hid_t d = fz_dataset(in, file, f->name, file_type(f->type), nd, dims, what_of(f->type), 0);
        if (d < 0) continue;
        if (f->offset >= 0 || fz_mode(in, 2))
            fz_num_attr(in, d, "offset", H5T_STD_I64LE, f->offset);
        H5Dclose(d);
    }
    if (fz_mode(in, 2)) { // a dataset no field names
        hsize_t two = 2;
        hid_t d = fz_dataset(in, file, "protocol/unknown", H5T_IEEE_F32LE, 1, &two, FZ_F32, 0);
        if (d >= 0) H5Dclose(d);
    }
}

// ---- the gate: FNV-1a over names, shapes and bytes of every dataset and attribute in name
// order, as io/ckpt.c's content_checksum (its hash_object / hash_attr, restated) ----

typedef struct {
    uint64_t h;
    int unsealable; // an object this harness cannot hash as the reader does (or too large)
} Seal;

static void fnv(Seal *s, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        s->h = (s->h ^ b[i]) * 0x100000001b3ULL;
}

// The reader hashes the bytes HDF5 returns for the object's own type: for variable-length data
// those are pointers, which differ from run to run: such a file cannot be sealed.
static int hashable(hid_t t, hssize_t np) {
    return np >= 0 && H5Tdetect_class(t, H5T_VLEN) <= 0 && H5Tis_variable_str(t) <= 0 &&
           (size_t)np * H5Tget_size(t) <= SEAL_MAX_BYTES;
}

static herr_t seal_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    Seal *s = data;
    if (strcmp(name, "checksum") == 0) return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (hashable(t, np)) {
        size_t bytes = (size_t)np * H5Tget_size(t);
        uint8_t *buf = malloc(bytes + 1);
        if (H5Aread(a, t, buf) < 0) s->unsealable = 1;
        fnv(s, name, strlen(name) + 1);
        fnv(s, buf, bytes);
        free(buf);
    } else {
        s->unsealable = 1;
    }
    H5Sclose(sp), H5Tclose(t), H5Aclose(a);
    return s->unsealable ? -1 : 0;
}

static herr_t seal_object(hid_t root, const char *name, const H5O_info_t *info, void *data) {
    Seal *s = data;
    fnv(s, name, strlen(name) + 1);
    if (info->type == H5O_TYPE_GROUP) {
        hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
        herr_t rc = H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, seal_attr, s);
        H5Gclose(g);
        return rc < 0 ? -1 : 0;
    }
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
    if (ds < 0 || H5Aiterate2(ds, H5_INDEX_NAME, H5_ITER_INC, NULL, seal_attr, s) < 0) {
        if (ds >= 0) H5Dclose(ds);
        s->unsealable = 1;
        return -1;
    }
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    hsize_t dims[8] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    fnv(s, dims, sizeof dims);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (hashable(t, np)) {
        size_t bytes = (size_t)np * H5Tget_size(t);
        uint8_t *buf = malloc(bytes + 1);
        if (bytes && H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) s->unsealable = 1;
        fnv(s, buf, bytes);
        free(buf);
    } else {
        s->unsealable = 1;
    }
    H5Sclose(sp), H5Tclose(t), H5Dclose(ds);
    return s->unsealable ? -1 : 0;
}

// Seals the checkpoint at path as the gate expects (or, as the input chooses, with a wrong
// checksum or none). The one place to adapt when the gate's contract changes (e.g. a whole-file
// SHA-256 recorded beside the file).
static void seal(FuzzIn *in, const char *path) {
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) fuzz_fail("cannot reopen %s", path);
    Seal s = {0xcbf29ce484222325ULL, 0};
    herr_t rc = H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, seal_object, &s);
    char sum[64];
    snprintf(sum, sizeof sum, "fnv1a64:%016" PRIx64, s.h);
    unsigned mode = fz_mode(in, 3);
    if (rc < 0 || s.unsealable || mode == 1) snprintf(sum, sizeof sum, "fnv1a64:unsealable");
    if (mode != 2) {
        const char *one[1] = {sum};
        FuzzIn none = {NULL, 0, 0}; // the ordinary form, always
        fz_str_attr(&none, file, "checksum", -1, one, FZ_FIXED);
    }
    if (H5Fclose(file) < 0) fuzz_fail("cannot close %s", path);
}

// ---- reading, as run_resume does ----

typedef struct {
    const char *path;
    FuzzIn *in;
    int rank;
    CkptReader *r;
    char err[1024];
    char *text; // /config as key=value lines
    size_t len, cap;
} Job;

// As a resume does: ckpt_verify (the whole-file digest, written here beside the file as the
// writer would, so the content behind it is what is fuzzed; then the content checksum, with its
// reads bounded), then ckpt_open.
static void do_open(void *arg) {
    Job *j = arg;
    char hex[SHA256_HEX_LEN + 1], line[SHA256_HEX_LEN + 64], side[600];
    const char *base = strrchr(j->path, '/');
    snprintf(side, sizeof side, "%s" SEAL_SUFFIX, j->path);
    if (seal_hash_file(j->path, hex, NULL, j->err, sizeof j->err) != 0) return;
    snprintf(line, sizeof line, "%s  %s\n", hex, base ? base + 1 : j->path);
    if (seal_write_text(side, line, j->err, sizeof j->err) != 0) return;
    if (ckpt_verify(j->path, j->err, sizeof j->err) != 0) return;
    j->r = ckpt_open(j->path, j->err, sizeof j->err);
}

static int append_kv(void *ctx, const char *key, const char *value, const char *origin, char *err,
                     size_t cap) {
    (void)origin, (void)err, (void)cap;
    Job *j = ctx;
    size_t need = strlen(key) + strlen(value) + 3;
    if (j->len + need >= j->cap) {
        j->cap = 2 * j->cap + need;
        j->text = realloc(j->text, j->cap);
    }
    j->len += (size_t)snprintf(j->text + j->len, j->cap - j->len, "%s=%s\n", key, value);
    return 0;
}

// /config, then the configuration it describes, as compare_config does (rank 0).
static void do_config(void *arg) {
    Job *j = arg;
    (void)ckpt_round(j->r);
    if (ckpt_read_config(j->r, append_kv, j, j->err, sizeof j->err) != 0) return;
    RunConfig rc;
    if (config_read_text(&rc, &methods, &models, j->text ? j->text : "", j->path, j->err,
                         sizeof j->err) == OPT_OK)
        run_config_free(&rc);
}

static void do_meta(void *arg) {
    Job *j = arg;
    static const char *const keys[4] = {"data_sha256", "blas_core", "blas_threads", "absent"};
    static const size_t caps[4] = {128, 128, 32, 16};
    for (int i = 0; i < 4; i++) {
        char value[128 + 16];
        memset(value, 'x', sizeof value);
        int rc = ckpt_read_meta(j->r, keys[i], value, caps[i]);
        if (!memchr(value, 0, caps[i]))
            fuzz_fail("%s: ckpt_read_meta(%s) left no terminator within its %zu bytes (rc %d)",
                      j->path, keys[i], caps[i], rc);
    }
}

static void do_fields(void *arg) {
    Job *j = arg;
    State *st = calloc(1, sizeof *st);
    CkptList l = {0};
    int64_t row0 = j->rank ? j->rank - 1 : 0, nrows = j->rank ? 1 : P; // rank 0 hosts all
    field_list(&l, st, row0, nrows);
    ckpt_read(j->r, &l, j->rank);
    ckpt_list_free(&l);
    free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    if (!methods.n) fl_registries(&methods, &models);
    FuzzIn in = {data, size, 0};
    char path[512];
    fuzz_path(path, sizeof path, "round_000007.h5");
    // the checkpoint
    int64_t rounds = 1 + fz_pick(&in, 12);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) fuzz_fail("cannot create %s", path);
    fz_num_attr(&in, file, "round", H5T_STD_I64LE, rounds);
    fz_num_attr(&in, file, "schema", H5T_STD_I64LE, CKPT_SCHEMA);
    write_config(&in, file);
    write_meta(&in, file);
    write_metrics(&in, file, rounds);
    {
        State st;
        CkptList l = {0};
        field_list(&l, &st, 0, P);
        write_fields(&in, file, &l);
        ckpt_list_free(&l);
    }
    if (H5Fclose(file) < 0) fuzz_fail("cannot close %s", path);
    seal(&in, path);
    if (fuzz_skipped()) return -1; // an avoided deviation (MMC_FUZZ_AVOID): not run, not kept
    // the resume
    int ids = fuzz_h5_open_ids();
    Job j = {.path = path, .in = &in, .rank = (int)fz_pick(&in, P + 1)};
    if (fuzz_call(do_open, &j)) {
        fuzz_note("ckpt: open died");
        return 0;
    }
    if (!j.r) {
        fuzz_note("ckpt: refused: %s", j.err);
        if (!strstr(j.err, path))
            fuzz_fail("ckpt_open refused %s with a message that does not name it: '%s'", path,
                      j.err);
        if (fuzz_h5_open_ids() != ids)
            fuzz_fail("ckpt_open left %d HDF5 identifiers open after refusing %s",
                      fuzz_h5_open_ids() - ids, path);
        return 0;
    }
    int died = j.rank == 0 && fuzz_call(do_config, &j);
    died = died || (j.rank == 0 && fuzz_call(do_meta, &j));
    died = died || fuzz_call(do_fields, &j);
    fuzz_note("ckpt: opened, rank %d, %s (last message: %s); %zu input bytes used", j.rank,
              died ? "a read died" : "every read done", j.err, in.i);
    free(j.text);
    ckpt_close(j.r);
    if (!died && fuzz_h5_open_ids() != ids)
        fuzz_fail("the checkpoint reader left %d HDF5 identifiers open", fuzz_h5_open_ids() - ids);
    return 0;
}
