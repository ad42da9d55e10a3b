// fuzz_dataset.c - the dataset reader (data/dataset.h) behind its integrity gate.
//
// Flipping bytes of an HDF5 file would mostly test HDF5's own parser (which does not defend itself
// against corrupt metadata) or, once a digest gate stands in front of the reader, only the digest.
// This harness instead uses the input to DRIVE THE HDF5 API: it writes a well-formed file laid out
// as data/dsfile.c lays one out, and input bytes choose deviations of its CONTENT: attributes of
// other types, sizes, dataspaces and values (fixed-length strings without a terminator, empty or
// missing classes and modalities, 2-D or null dataspaces, schema/seed/n as strings, floats,
// arrays, huge or negative), datasets missing, of other types or ranks, with 0 or huge dims that
// are small on disk (chunked, never written, unlimited maxdims), fill values that break the
// reader's promises (labels out of range, NaN features, tokens outside the vocabulary), meta
// columns that disagree with the data, unknown modality kinds, width 0, odd vocabularies, extra
// objects. Then it seals the file as the gate expects and runs everything a run reads: open (with
// and without the feature scan), every description accessor, and rows of every kind, by range and
// by index. The reader may refuse (NULL with a message, or a die with one); it must not crash,
// hang, read out of bounds or allocate without bound, and what it accepts must keep dataset.h's
// promises (checked below).
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "data/dataset.h"
#include "h5gen.h"
#include "harness.h"

#define READ_MAX_BYTES (1 << 22) // what the harness reads of one modality at a time

typedef struct {
    char name[32], kind[16];
    DsDtype dtype;
    int ndims;       // 1 or 2; 3 as a deviation
    hsize_t dims[3]; // per-sample shape
    int quantised;   // scale/offset attributes (ordinarily: uint8 vectors)
} PlanMod;

// The ordinary file the input starts from (what a builder would write through data/dsfile.c).
typedef struct {
    FuzzIn *in;
    hid_t file;
    int K, M, V, n_meta;
    PlanMod mod[DS_MAX_MODALITIES];
    hsize_t n[2];
} Plan;

static const char *const kinds[4] = {"image", "audio", "text", "vector"};

// ---- the file ----

static void plan_ordinary(Plan *pl) {
    FuzzIn *in = pl->in;
    pl->K = 1 + (int)fz_pick(in, 5);
    pl->M = 1 + (int)fz_pick(in, DS_MAX_MODALITIES);
    int has_text = 0;
    for (int m = 0; m < pl->M; m++) {
        PlanMod *md = &pl->mod[m];
        int k = (int)fz_pick(in, 4);
        snprintf(md->kind, sizeof md->kind, "%s", kinds[k]);
        if (m)
            snprintf(md->name, sizeof md->name, "%s%d", kinds[k], m);
        else
            snprintf(md->name, sizeof md->name, "%s", kinds[k]);
        md->ndims = k < 2 ? 2 : 1;
        md->dims[0] = 1 + fz_pick(in, 6);
        md->dims[1] = 1 + fz_pick(in, 6);
        md->dtype = k == 0 ? DS_U8 : k == 2 ? DS_I32 : DS_F32;
        if (k == 3 && fz_u8(in) & 1) md->dtype = DS_U8, md->quantised = 1;
        has_text |= k == 2;
        // Deviations that both splits share (a split alone differing is refused early).
        unsigned twist = fz_mode(in, 6);
        if ((twist == 2 && fuzz_avoid("huge")) || (twist == 1 && fuzz_avoid("zero-dim"))) twist = 0;
        switch (twist) {
        case 1: // width 0
            md->dims[md->ndims - 1] = 0;
            break;
        case 2: // a huge row, never written
            md->dims[md->ndims - 1] = (hsize_t)1 << (16 + fz_pick(in, 19));
            break;
        case 3: // one per-sample dimension more
            md->dims[md->ndims++] = 1 + fz_pick(in, 3);
            break;
        case 4: // another dtype for the kind (text as float32, ...)
            md->dtype = (DsDtype)fz_pick(in, 3);
            break;
        case 5: // scale and offset where they do not belong, or none where they do
            md->quantised = !md->quantised;
            break;
        }
    }
    pl->V = has_text ? 2 + (int)fz_pick(in, 8) : 0;
    pl->n_meta = (int)fz_pick(in, 4);
    pl->n[0] = 1 + fz_pick(in, 40);
    pl->n[1] = 1 + fz_pick(in, 16);
    unsigned rows = fz_mode(in, 4);
    if (rows >= 2 && fuzz_avoid("huge")) rows = 0;
    if (rows == 1) // a split without rows
        pl->n[fz_pick(in, 2)] = 0;
    else if (rows >= 2) // a huge split, never written
        pl->n[rows - 2] = (hsize_t)1 << (20 + fz_pick(in, 21));
}

static void write_split(Plan *pl, int sp) {
    FuzzIn *in = pl->in;
    const char *gname = sp ? "test" : "train";
    unsigned gmode = fz_mode(in, 4);
    if (gmode == 1) return; // no group
    if (gmode == 2) {       // a dataset in its place
        hsize_t one = 1;
        hid_t d = fz_dataset(in, pl->file, gname, H5T_STD_I32LE, 1, &one, FZ_META, 0);
        if (d >= 0) H5Dclose(d);
        return;
    }
    if (gmode == 3 && sp == 1) { // /test is /train
        H5Lcreate_hard(pl->file, "train", pl->file, "test", H5P_DEFAULT, H5P_DEFAULT);
        return;
    }
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    hid_t g = H5Gcreate2(pl->file, gname, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (g < 0) return;
    hsize_t n = pl->n[sp];
    fz_num_attr(in, g, "n", H5T_STD_I64LE, (int64_t)n);
    hid_t d = fz_dataset(in, g, "label", H5T_STD_I32LE, 1, &n, FZ_LABEL, pl->K);
    if (d >= 0) H5Dclose(d);
    d = fz_dataset(in, g, "entity", H5T_STD_I64LE, 1, &n, FZ_ENTITY, 0);
    if (d >= 0) H5Dclose(d);
    if (pl->n_meta > 0 || fz_mode(in, 2)) {
        hsize_t md[2] = {n, (hsize_t)pl->n_meta};
        d = fz_dataset(in, g, "meta", H5T_STD_I32LE, 2, md, FZ_META, 0);
        if (d >= 0) {
            static const char *const cols[3] = {"voice", "accent", "noise"};
            fz_str_attr(in, d, "columns", pl->n_meta, cols, FZ_VLEN);
            H5Dclose(d);
        }
    }
    for (int m = 0; m < pl->M; m++) {
        const PlanMod *md = &pl->mod[m];
        hsize_t dims[4] = {n, md->dims[0], md->dims[1], md->dims[2]};
        FzWhat what = md->dtype == DS_U8 ? FZ_U8 : md->dtype == DS_I32 ? FZ_TOKEN : FZ_F32;
        hid_t ft = md->dtype == DS_U8    ? H5T_STD_U8LE
                   : md->dtype == DS_I32 ? H5T_STD_I32LE
                                         : H5T_IEEE_F32LE;
        d = fz_dataset(in, g, md->name, ft, 1 + md->ndims, dims, what, pl->V);
        if (d < 0) continue;
        const char *kind[1] = {md->kind};
        char odd[16];
        if (fz_mode(in, 3)) // another kind, or an unknown one
            kind[0] = fz_u8(in) & 1 ? kinds[fz_pick(in, 4)] : fz_str(in, odd, sizeof odd);
        fz_str_attr(in, d, "kind", -1, kind, FZ_VLEN);
        if (md->quantised || fz_mode(in, 2)) {
            fz_float_attr(in, d, "scale", 0.02f);
            fz_float_attr(in, d, "offset", -1.0f);
        }
        H5Dclose(d);
    }
    if (fz_mode(in, 2)) { // a dataset the reader does not know
        d = fz_dataset(in, g, "extra", H5T_STD_I32LE, 1, &n, FZ_META, 0);
        if (d >= 0) H5Dclose(d);
    }
    H5Gclose(g);
}

// /vocab: a 1-D variable-length string dataset of V words, or: none, empty, huge and never
// written, scalar, of integers, or with the input's words.
static void write_vocab(Plan *pl) {
    static const char *const words[10] = {"<pad>", "a", "shirt", "",  "long-word-x",
                                          "b",     "c", "d",     "e", "f"};
    FuzzIn *in = pl->in;
    hsize_t v = (hsize_t)(pl->V > 0 ? pl->V : 2);
    unsigned vm = fz_mode(in, 5);
    if (vm == 2 && fuzz_avoid("huge-vocab")) vm = 0;
    if (vm == 4) { // integers, through fz_dataset's variants
        hid_t d = fz_dataset(in, pl->file, "vocab", H5T_STD_I32LE, 1, &v, FZ_META, 0);
        if (d >= 0) H5Dclose(d);
        return;
    }
    hsize_t dims = vm == 1 ? 0 : vm == 2 ? (hsize_t)1 << (16 + fz_pick(in, 16)) : v;
    hsize_t maxd = vm == 2 ? H5S_UNLIMITED : dims;
    hid_t t = fz_vlen_str();
    hid_t s = vm == 3 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, &maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (vm == 2) H5Pset_chunk(dcpl, 1, (hsize_t[]){1024});
    hid_t d = H5Dcreate2(pl->file, "vocab", t, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d >= 0 && vm == 0) {
        const char *w[10];
        char own[10][24];
        for (hsize_t i = 0; i < v; i++)
            w[i] = fz_mode(in, 2) ? fz_str(in, own[i], sizeof own[i]) : words[i];
        H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, w);
    }
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(s);
    H5Tclose(t);
}

static void write_file(Plan *pl, const char *path) {
    FuzzIn *in = pl->in;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_obj_track_times(fcpl, 0);
    pl->file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (pl->file < 0) fuzz_fail("cannot create %s", path);
    hid_t root = pl->file;
    fz_num_attr(in, root, "schema", H5T_STD_I32LE, DSFILE_SCHEMA);
    static const char *const keys[5] = {"name", "version", "source", "licence", "builder"};
    static const char *const values[5] = {"Fuzz", "1", "tests/fuzz", "CC0", "fuzz_dataset"};
    for (int i = 0; i < 5; i++)
        fz_str_attr(in, root, keys[i], -1, &values[i], FZ_VLEN);
    fz_num_attr(in, root, "seed", H5T_STD_U64LE, 42);
    static const char *const class_names[5] = {"zero", "one", "two", "three", "four"};
    fz_str_attr(in, root, "classes", pl->K, class_names, FZ_VLEN);
    const char *mnames[DS_MAX_MODALITIES];
    for (int m = 0; m < pl->M; m++)
        mnames[m] = pl->mod[m].name;
    fz_str_attr(in, root, "modalities", pl->M, mnames, FZ_VLEN);
    if (pl->V > 0 || fz_mode(in, 2)) write_vocab(pl);
    for (int sp = 0; sp < 2; sp++)
        write_split(pl, sp);
    if (H5Fclose(pl->file) < 0) fuzz_fail("cannot close %s", path);
}

// What the integrity gate in front of the reader checks: a "<file>.sha256" sidecar in sha256sum's
// format. The one place to adapt when the gate's contract changes.
static void seal(const char *path) {
    char hex[SHA256_HEX_LEN + 1], side[600];
    if (sha256_file_hex(path, hex) != 0) fuzz_fail("cannot hash %s", path);
    snprintf(side, sizeof side, "%s.sha256", path);
    FILE *f = fopen(side, "w");
    if (!f) fuzz_fail("cannot write %s", side);
    const char *base = strrchr(path, '/');
    fprintf(f, "%s  %s\n", hex, base ? base + 1 : path);
    fclose(f);
}

// ---- the reader, as a run uses it ----

typedef struct {
    const char *path;
    unsigned flags;
    FuzzIn *in;
    Dataset *ds; // set by do_open
    char err[1024];
} Job;

static void do_open(void *arg) {
    Job *j = arg;
    j->ds = dataset_open_flags(j->path, j->flags, j->err, sizeof j->err);
}

// Every accessor, and dataset.h's promises about what an accepted file holds.
static void describe(void *arg) {
    Job *j = arg;
    const Dataset *ds = j->ds;
    (void)dataset_path(ds), (void)dataset_schema(ds), (void)dataset_seed(ds);
    if (strlen(dataset_name(ds)) > (1u << 20))
        fuzz_fail("name of %zu bytes", strlen(dataset_name(ds)));
    int K = dataset_n_classes(ds), M = dataset_n_modalities(ds), V = dataset_vocab_size(ds);
    if (K < 1) fuzz_fail("%s accepted with %d classes", j->path, K);
    if (M < 1 || M > DS_MAX_MODALITIES) fuzz_fail("%s accepted with %d modalities", j->path, M);
    for (int c = 0; c < K; c++)
        (void)strlen(dataset_class_name(ds, c));
    const char *const *cls = dataset_class_names(ds);
    for (int c = 0; c < K; c++)
        (void)strlen(cls[c]);
    for (int m = 0; m < M; m++) {
        const DatasetModality *md = dataset_modality(ds, m);
        (void)strlen(md->name), (void)strlen(md->kind);
        if (dataset_modality_index(ds, md->name) != m)
            fuzz_fail("%s: modality %d (%s) is found at index %d", j->path, m, md->name,
                      dataset_modality_index(ds, md->name));
        if (md->ndims < 1 || md->ndims > DS_MAX_DIMS)
            fuzz_fail("%s: modality %s accepted with %d per-sample dims", j->path, md->name,
                      md->ndims);
        int64_t prod = 1;
        for (int d = 0; d < md->ndims; d++)
            prod *= md->dims[d];
        if (prod != md->row_elems)
            fuzz_fail("%s: modality %s: row_elems %lld is not the product of its dims", j->path,
                      md->name, (long long)md->row_elems);
        if (!strcmp(md->kind, "text") && md->dtype != DS_I32)
            fuzz_fail("%s: text modality %s accepted with dtype %d", j->path, md->name, md->dtype);
    }
    if (dataset_modality_index(ds, "no such modality") != -1) fuzz_fail("phantom modality");
    for (int i = 0; i < V; i++)
        (void)strlen(dataset_vocab_word(ds, i));
    const char *const *words = dataset_vocab_words(ds);
    for (int i = 0; words && i < V; i++)
        (void)strlen(words[i]);
    int pad = dataset_pad_id(ds);
    if (pad < -1 || pad >= V) fuzz_fail("pad id %d with %d words", pad, V);
    for (int k = 0; k < dataset_n_meta(ds); k++)
        if (dataset_meta_index(ds, dataset_meta_name(ds, k)) < 0) fuzz_fail("meta column lost");
    for (int sp = 0; sp < 2; sp++)
        if (dataset_n(ds, (DsSplit)sp) < 0) fuzz_fail("negative row count");
}

// Rows of every kind from each split: a range and a gather by index, as the training and the
// scenarios read them, with the values checked against what dataset.h promises.
static void read_rows(void *arg) {
    Job *j = arg;
    const Dataset *ds = j->ds;
    FuzzIn *in = j->in;
    int scanned = !(j->flags & DATASET_SKIP_SCAN);
    int K = dataset_n_classes(ds), V = dataset_vocab_size(ds), nm = dataset_n_meta(ds);
    for (int sp = 0; sp < 2; sp++) {
        int64_t N = dataset_n(ds, (DsSplit)sp);
        if (N == 0) continue;
        int64_t cnt = N < 64 ? N : 64, start = (int64_t)(fz_bits(in, 4) % (uint64_t)(N - cnt + 1));
        int64_t idx[64];
        for (int64_t i = 0; i < cnt; i++)
            idx[i] = (int64_t)(fz_bits(in, 4) % (uint64_t)N);
        int32_t lab[64];
        int64_t ent[64];
        dataset_read_labels(ds, (DsSplit)sp, start, cnt, lab);
        for (int64_t i = 0; i < cnt; i++)
            if (lab[i] < 0 || lab[i] >= K)
                fuzz_fail("%s: accepted label %d at /%s/label[%lld], outside [0, %d)", j->path,
                          lab[i], sp ? "test" : "train", (long long)(start + i), K);
        dataset_read_labels_idx(ds, (DsSplit)sp, idx, cnt, lab);
        for (int64_t i = 0; i < cnt; i++)
            if (lab[i] < 0 || lab[i] >= K) fuzz_fail("%s: accepted label %d", j->path, lab[i]);
        dataset_read_entities(ds, (DsSplit)sp, start, cnt, ent);
        dataset_read_entities_idx(ds, (DsSplit)sp, idx, cnt, ent);
        if (nm > 0 && (size_t)nm * 4 * 64 <= READ_MAX_BYTES) {
            int32_t *meta = malloc((size_t)cnt * (size_t)nm * 4);
            dataset_read_meta(ds, (DsSplit)sp, start, cnt, meta);
            dataset_read_meta_idx(ds, (DsSplit)sp, idx, cnt, meta);
            free(meta);
        }
        for (int m = 0; m < dataset_n_modalities(ds); m++) {
            const DatasetModality *md = dataset_modality(ds, m);
            if (md->row_elems < 1 || md->row_elems > READ_MAX_BYTES / 4) continue;
            int64_t rows = READ_MAX_BYTES / 4 / md->row_elems;
            rows = rows < cnt ? rows : cnt;
            size_t elems = (size_t)rows * (size_t)md->row_elems;
            void *buf = malloc(elems * 4);
            float *x = buf;
            dataset_read_features(ds, (DsSplit)sp, m, start, rows, x);
            for (size_t e = 0; scanned && md->dtype == DS_F32 && e < elems; e++)
                if (!isfinite(x[e]))
                    fuzz_fail("%s: accepted a non-finite value in /%s/%s", j->path,
                              sp ? "test" : "train", md->name);
            dataset_read_features_idx(ds, (DsSplit)sp, m, idx, rows, x);
            dataset_read_raw(ds, (DsSplit)sp, m, start, rows, x);
            dataset_read_raw_idx(ds, (DsSplit)sp, m, idx, rows, x);
            if (md->dtype == DS_I32) {
                int32_t *t = buf;
                dataset_read_tokens(ds, (DsSplit)sp, m, start, rows, t);
                for (size_t e = 0; scanned && !strcmp(md->kind, "text") && e < elems; e++)
                    if (t[e] < 0 || t[e] >= V)
                        fuzz_fail("%s: accepted token %d in /%s/%s, vocabulary of %d", j->path,
                                  t[e], sp ? "test" : "train", md->name, V);
                dataset_read_tokens_idx(ds, (DsSplit)sp, m, idx, rows, t);
            }
            free(buf);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    FuzzIn in = {data, size, 0};
    char path[512];
    fuzz_path(path, sizeof path, "data.h5");
    Plan pl = {.in = &in};
    plan_ordinary(&pl);
    write_file(&pl, path);
    seal(path);
    if (fuzz_skipped()) return -1; // an avoided deviation (MMC_FUZZ_AVOID): not run, not kept
    int ids = fuzz_h5_open_ids();
    Job j = {.path = path, .flags = fz_u8(&in) & 1 ? DATASET_SKIP_SCAN : 0, .in = &in};
    if (fuzz_call(do_open, &j)) { // a refusal by die: fine
        fuzz_note("dataset: open died");
        return 0;
    }
    if (!j.ds) {
        fuzz_note("dataset: refused: %s", j.err);
        if (strncmp(j.err, path, strlen(path)) != 0)
            fuzz_fail("dataset_open refused %s with a message that does not name it: '%s'", path,
                      j.err);
        if (fuzz_h5_open_ids() != ids)
            fuzz_fail("dataset_open left %d HDF5 identifiers open after refusing %s",
                      fuzz_h5_open_ids() - ids, path);
        return 0;
    }
    int died = fuzz_call(describe, &j) || fuzz_call(read_rows, &j);
    fuzz_note("dataset: opened (%s), %s; %zu input bytes used", j.flags ? "no scan" : "scanned",
              died ? "a read died" : "every read done", in.i);
    dataset_close(j.ds);
    if (fuzz_h5_open_ids() != ids)
        fuzz_fail("dataset_close left %d HDF5 identifiers open", fuzz_h5_open_ids() - ids);
    return 0;
}
