// test_audit.c - what leaves a party's host: every registered method runs end to end under mpirun
// -np 3 (the method contract's tiny config: SynMM 800/200, 4 parties, bomm-hybrid, 2 rounds) with
// tests/pmpi's send-side capture (build/lib/libmpiaudit.so) preloaded, and
//   - no host rank (1 and 2; placement.h: each hosts two parties) hands MPI any window of AUDIT_W
//     consecutive bytes of a raw sample row, on any communicator or in any MPI-IO write;
//   - the same search does find the rows a program does send (tests/probes/audit_leak.c: a host
//     sends its row through comm/ behind an odd header), so a zero above is a real zero;
//   - BoMM with --bomm.upload-labels=false sends no label array: the int32 gather of the uploaded
//     rows' labels is gone from every host's traffic, which shrinks by exactly its bytes.
// The rows searched for are every row of both splits of the file, in every modality, as stored
// (float32 features, int32 token ids) and as dataset_read_features gives them (float32: the vector
// modalities' model input; token ids as floats):
// a superset of what any party holds, so the assertion does not depend on recomputing the
// scenario's split, and a host found sending another party's row fails too.
//
// CD-CCA (cdcca) and Fed-CMP (fedcmp) run only on the multimodal LLM, so not in that loop: their
// own tcase runs them on AV-FashionMNIST's CI file with the tiny base model and teacher (cd_opts),
// once per --cdcca.adapt that uploads (akd, pseudo, logit-kd; akd and logit-kd with captions asked
// on half the rows), once with --cdcca.uts=false (every row, every token) and once with
// --method=fedcmp (the parties' projector updates), and also asserts that parties did upload
// (cd_up_rows, payload_up > 0). The whole file is 2,500 rows of ~24 kB in four representations, ~80
// million windows: too many to hold. The rows searched for are a prefix of each split that contains
// every row the run's parties can hold: the train rows 0 .. the last of the first --max-train
// training rows (holdout.h at the run's --val-fraction and
// --public-fraction, which the command gives explicitly: fl/data.c takes the parties' rows from
// exactly those), and the test rows 0 .. the last of the first --max-test (the evaluation split).
// A prefix rather than the exact rows: one contiguous read per split, and the public and
// validation rows in between come along (a host has no business sending those either) for ~50%
// more windows. Each row is searched as stored, as float32 features (dataset_read_features, as
// above), as the model's batch input (sampleset_batch: standardised log-mels, pixels / 255, token
// ids with -1 padding) and as that input in float16 (the devices upload float16 tokens: a
// half-precision copy of the input would be a leak the others miss). Not searched: the input
// under a stage's shift (data/shift.h), which depends on each row's (party, position) id; a
// device that uploaded its shifted input would go unseen here. The capture is the small side, so
// it is indexed and the rows are streamed through it behind a one-bit prefilter. Its positive
// controls: held rows that audit_leak sends are found, every window of them, and no other row
// away from their bytes; a synthetic capture holding a row's batch input (float32 and float16)
// and a test row's stored bytes is found window for window.
// Runs from the repository root; the library from MMC_LIB_DIR (else build/lib), the programs from
// MMC_BIN_DIR, AV-FashionMNIST and the base models from MMC_DATA_DIR (else data).
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/placement.h"
#include "core/half.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/holdout.h"
#include "helpers.h"
#include "methods/method.h"
#include "train/samples.h"

#define AUDIT_W 32 /* window bytes: 8 float32 features or int32 tokens; 32 pixels */
// A window with fewer distinct byte values (a run of zeros, padding) is not evidence of a row: a
// zeroed buffer would match every image's black border.
#define MIN_DISTINCT 4
#define NP 3
#define PARTIES 4
#define ROUNDS 2
#define BOMM_UPLOAD                                                                                \
    64              /* rows a BoMM party uploads per round in these runs (fewer than it holds)     \
                     */
#define LEAK_ROW 10 /* audit_leak: host r sends train row LEAK_ROW + r */
#define RUN_TIMEOUT_S 120
#define MAX_HITS 8 /* hits kept for the messages */

// The SynMM search uses the first two; the CD-CCA search all four (its header paragraph).
enum { REPR_STORED = 0, REPR_FLOAT = 1, REPR_BATCH = 2, REPR_HALF = 3, N_REPR = 4 };
static const char *const repr_name[] = {"stored", "float32 input", "batch input",
                                        "float16 batch input"};

typedef struct {
    uint64_t hash;
    const uint8_t *bytes; // NULL = empty slot
    int32_t row;
    uint8_t split, mod, repr;
} Window;

typedef struct {
    Window *slot;
    size_t cap, n, skipped;
    uint8_t *store; // every row's bytes, both representations
} WindowSet;

typedef struct {
    size_t n;
    Window first[MAX_HITS];
    uint64_t offset[MAX_HITS];
} Hits;

static char work[64];
static WindowSet set;
static Dataset *ds;

static uint64_t mix(uint64_t x) { // splitmix64's finaliser
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t window_hash(const uint8_t *p) {
    uint64_t v[AUDIT_W / 8];
    memcpy(v, p, sizeof v);
    uint64_t h = 0;
    for (int i = 0; i < AUDIT_W / 8; i++)
        h = mix(h ^ v[i]);
    return h;
}

static int distinct_bytes(const uint8_t *p) {
    uint8_t seen[256] = {0};
    int n = 0;
    for (int i = 0; i < AUDIT_W; i++)
        n += !seen[p[i]], seen[p[i]] = 1;
    return n;
}

// The slot holding the window p, or the empty slot where it belongs.
static Window *find(const WindowSet *s, const uint8_t *p, uint64_t h) {
    size_t i = h & (s->cap - 1);
    while (s->slot[i].bytes && (s->slot[i].hash != h || memcmp(s->slot[i].bytes, p, AUDIT_W) != 0))
        i = (i + 1) & (s->cap - 1);
    return &s->slot[i];
}

static void add_row(WindowSet *s, const uint8_t *p, size_t len, int64_t row, int split, int mod,
                    int repr) {
    for (size_t o = 0; o + AUDIT_W <= len; o++) {
        if (distinct_bytes(p + o) < MIN_DISTINCT) {
            s->skipped++;
            continue;
        }
        uint64_t h = window_hash(p + o);
        Window *w = find(s, p + o, h);
        if (w->bytes) continue; // the same bytes seen already (float32 stored = float32 input)
        *w = (Window){h, p + o, (int32_t)row, (uint8_t)split, (uint8_t)mod, (uint8_t)repr};
        s->n++;
    }
}

static size_t dtype_bytes(DsDtype t) { return t == DS_U8 ? 1 : 4; } // DS_I32, DS_F32: 4

// Every row of both splits of the open file, every modality, both representations.
static void build_windows(WindowSet *s) {
    size_t bytes = 0, windows = 0;
    int M = dataset_n_modalities(ds);
    for (int split = 0; split < 2; split++)
        for (int m = 0; m < M; m++) {
            const DatasetModality *dm = dataset_modality(ds, m);
            size_t row = (size_t)dm->row_elems * (dtype_bytes(dm->dtype) + sizeof(float));
            bytes += (size_t)dataset_n(ds, (DsSplit)split) * row;
            windows += (size_t)dataset_n(ds, (DsSplit)split) * row;
        }
    memset(s, 0, sizeof *s);
    for (s->cap = 1024; s->cap < 2 * windows; s->cap *= 2) {
    }
    s->slot = calloc(s->cap, sizeof *s->slot);
    s->store = malloc(bytes);
    ck_assert(s->slot && s->store);
    uint8_t *at = s->store;
    for (int split = 0; split < 2; split++)
        for (int m = 0; m < M; m++) {
            const DatasetModality *dm = dataset_modality(ds, m);
            int64_t n = dataset_n(ds, (DsSplit)split);
            size_t stored = (size_t)dm->row_elems * dtype_bytes(dm->dtype);
            size_t input = (size_t)dm->row_elems * sizeof(float);
            uint8_t *raw = at, *feat = at + (size_t)n * stored;
            float *tmp = malloc((size_t)n * input);
            ck_assert(tmp != NULL);
            dataset_read_raw(ds, (DsSplit)split, m, 0, n, raw);
            dataset_read_features(ds, (DsSplit)split, m, 0, n, tmp);
            memcpy(feat, tmp, (size_t)n * input); // the bytes as they sit in a float buffer
            free(tmp);
            for (int64_t r = 0; r < n; r++) {
                add_row(s, raw + (size_t)r * stored, stored, r, split, m, REPR_STORED);
                add_row(s, feat + (size_t)r * input, input, r, split, m, REPR_FLOAT);
            }
            at = feat + (size_t)n * input;
        }
}

// Every window of data[0..len) that is a window of some row.
static void scan(const WindowSet *s, const uint8_t *data, size_t len, Hits *hits) {
    memset(hits, 0, sizeof *hits);
    for (size_t o = 0; o + AUDIT_W <= len; o++) {
        const Window *w = find(s, data + o, window_hash(data + o));
        if (!w->bytes) continue;
        if (hits->n < MAX_HITS) hits->first[hits->n] = *w, hits->offset[hits->n] = o;
        hits->n++;
    }
}

// ---- the capture's files ----

typedef struct {
    uint8_t *data;
    size_t len;
    char *idx; // the index text
    int calls; // its lines
} Dump;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no %s (did libmpiaudit.so load, and the run reach MPI_Finalize?)",
                  path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void dump_read(Dump *d, const char *dir, int rank) {
    char path[256];
    size_t n;
    snprintf(path, sizeof path, "%s/rank_%d.bin", dir, rank);
    d->data = (uint8_t *)read_file(path, &d->len);
    snprintf(path, sizeof path, "%s/rank_%d.idx", dir, rank);
    d->idx = read_file(path, &n);
    d->calls = 0;
    for (const char *c = d->idx; *c; c++)
        d->calls += *c == '\n';
}

static void dump_free(Dump *d) { free(d->data), free(d->idx); }

// The index line of the capture that holds byte `offset` of the dump, into line.
static void call_at(const Dump *d, uint64_t offset, char *line, size_t cap) {
    snprintf(line, cap, "?");
    for (const char *s = d->idx; *s; s = strchr(s, '\n') + 1) {
        char fn[64], where[64], type[64];
        int count, bytes;
        unsigned long long at;
        if (sscanf(s, "%63s %63s %63s %d %d %llu", fn, where, type, &count, &bytes, &at) == 6 &&
            offset >= at && offset < at + (unsigned long long)bytes)
            snprintf(line, cap, "%s on %s, %d x %s", fn, where, count, type);
        if (!strchr(s, '\n')) break;
    }
}

// Capture lines of function fn on communicator `where` with type `type`: how many, and their
// element counts summed.
static int calls_of(const Dump *d, const char *fn, const char *where, const char *type,
                    long *elems) {
    int n = 0;
    *elems = 0;
    for (const char *s = d->idx; *s; s = strchr(s, '\n') + 1) {
        char f[64], w[64], t[64];
        int count, bytes;
        unsigned long long at;
        if (sscanf(s, "%63s %63s %63s %d %d %llu", f, w, t, &count, &bytes, &at) == 6 &&
            !strcmp(f, fn) && !strcmp(w, where) && !strcmp(t, type))
            n++, *elems += count;
        if (!strchr(s, '\n')) break;
    }
    return n;
}

// ---- runs ----

static void setup(void) {
    char err[1024], path[128];
    mmc_workdir(work, sizeof work, "mmc_audit");
    snprintf(path, sizeof path, "%s/syn.h5", work);
    ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    build_windows(&set);
}

static void teardown(void) {
    free(set.slot), free(set.store);
    dataset_close(ds);
    run_command(NULL, 0, "rm -rf %s", work);
}

// The LD_PRELOAD of the capture, into audit directory `dir` under work (created empty).
static void launcher(char *buf, size_t cap, const char *dir) {
    const char *lib_dir = getenv("MMC_LIB_DIR") ? getenv("MMC_LIB_DIR") : "build/lib";
    char lib[PATH_MAX];
    ck_assert_msg(realpath(lib_dir, lib) != NULL, "no library directory %s", lib_dir);
    run_command(NULL, 0, "rm -rf %s/%s && mkdir -p %s/%s", work, dir, work, dir);
    snprintf(buf, cap, "-x LD_PRELOAD=%s/libmpiaudit.so -x MMC_AUDIT_DIR=%s/%s", lib, work, dir);
}

// Options that keep a method's cloud-side models tiny (test_method_contract.c's).
static const char *method_extra(const char *name) {
    if (!strcmp(name, "bomm"))
        return "--bomm.mm-width=32 --bomm.mm-layers=1 --bomm.upload=64 --bomm.warmup=1";
    if (!strcmp(name, "fedmkt")) return "--fedmkt.upload=64";
    return "";
}

// method at -np NP with the capture into audit directory dir; the run's output into out.
static void run_audited(const char *method, const char *dir, const char *more, char *out,
                        size_t cap) {
    char pre[PATH_MAX + 256];
    launcher(pre, sizeof pre, dir);
    int rc = run_command(out, cap,
                         "cd %s && timeout %d mpirun --oversubscribe -np %d %s %s/mmcollab "
                         "--data=syn.h5 --out=run_%s --parties=%d --rounds=%d --width=16 "
                         "--batch-size=16 --scenario=bomm-hybrid --method=%s %s %s 2>&1",
                         work, RUN_TIMEOUT_S, NP, pre, mmc_bin(), dir, PARTIES, ROUNDS, method,
                         method_extra(method), more);
    ck_assert_msg(rc == 0, "%s under the capture: exit %d (124 = timeout)\n%.3000s", method, rc,
                  out);
}

START_TEST(test_no_host_sends_raw_rows) {
    const char *m = method_registry[_i]->opt.name;
    char out[16384], dir[128], line[256];
    // CD-CCA refuses SynMM's party model (it needs --model=mllm): its tcase below runs it on its
    // own configuration.
    if (!strcmp(m, "cdcca") || !strcmp(m, "fedcmp")) {
        printf("audit %-11s on SynMM: skipped (needs --model=mllm; see the cdcca tcase)\n", m);
        return;
    }
    run_audited(m, m, "", out, sizeof out);
    snprintf(dir, sizeof dir, "%s/%s", work, m);
    Placement pl;
    placement_init(&pl, PARTIES, NP);
    printf("audit %-11s W=%d, %zu row windows (%zu low-entropy skipped):", m, AUDIT_W, set.n,
           set.skipped);
    for (int rank = pl.host0; rank < NP; rank++) {
        int first, count = placement_block(&pl, rank, &first);
        Dump d;
        Hits h;
        dump_read(&d, dir, rank);
        ck_assert_msg(d.calls > 0, "%s: rank %d captured no call: is the capture loaded?", m, rank);
        scan(&set, d.data, d.len, &h);
        if (h.n > 0) {
            call_at(&d, h.offset[0], line, sizeof line);
            ck_assert_msg(0,
                          "%s: rank %d (parties %d..%d) sent %zu windows of raw rows; the first "
                          "at byte %llu of its capture (%s): %s row %d, modality %s, %s bytes",
                          m, rank, first, first + count - 1, h.n, (unsigned long long)h.offset[0],
                          line, h.first[0].split == DS_TRAIN ? "train" : "test", h.first[0].row,
                          dataset_modality(ds, h.first[0].mod)->name, repr_name[h.first[0].repr]);
        }
        printf(" | rank %d (parties %d-%d) %zu bytes in %d calls, found %zu", rank, first,
               first + count - 1, d.len, d.calls, h.n);
        dump_free(&d);
    }
    printf("\n");
    fflush(stdout);
}
END_TEST

// The positive control: the rows a host does send are found, in every modality, stored and as
// model input, at any byte offset, and nothing but them.
START_TEST(test_the_search_finds_rows_that_are_sent) {
    char pre[PATH_MAX + 256], out[8192], dir[128];
    launcher(pre, sizeof pre, "leak");
    int rc =
        run_command(out, sizeof out,
                    "cd %s && timeout %d mpirun --oversubscribe -np %d %s %s/audit_leak syn.h5 "
                    "%d 2>&1",
                    work, RUN_TIMEOUT_S, NP, pre, mmc_bin(), LEAK_ROW);
    ck_assert_msg(rc == 0, "audit_leak: exit %d\n%s", rc, out);
    snprintf(dir, sizeof dir, "%s/leak", work);
    int M = dataset_n_modalities(ds);
    for (int rank = 1; rank < NP; rank++) {
        Dump d;
        Hits h;
        dump_read(&d, dir, rank);
        int found[DS_MAX_MODALITIES][2] = {{0}};
        memset(&h, 0, sizeof h);
        // Scanned modality by modality through the kept hits would miss some: count every hit.
        for (size_t o = 0; o + AUDIT_W <= d.len; o++) {
            const Window *w = find(&set, d.data + o, window_hash(d.data + o));
            if (!w->bytes) continue;
            ck_assert_msg(w->split == DS_TRAIN && w->row == LEAK_ROW + rank,
                          "rank %d sent train row %d, the audit found %s row %d at byte %zu", rank,
                          LEAK_ROW + rank, w->split == DS_TRAIN ? "train" : "test", w->row, o);
            found[w->mod][w->repr]++;
            h.n++;
        }
        for (int m = 0; m < M; m++) {
            const DatasetModality *dm = dataset_modality(ds, m);
            ck_assert_msg(
                found[m][REPR_STORED] > 0,
                "rank %d sent train row %d's stored %s bytes; the audit did not find them", rank,
                LEAK_ROW + rank, dm->name);
            if (dm->dtype != DS_F32) // else the float32 input is the stored bytes
                ck_assert_msg(found[m][REPR_FLOAT] > 0,
                              "rank %d sent train row %d's %s as float32 input; the audit did not "
                              "find it",
                              rank, LEAK_ROW + rank, dm->name);
        }
        printf("audit leak control: rank %d sent %zu bytes, found %zu windows of train row %d\n",
               rank, d.len, h.n, LEAK_ROW + rank);
        dump_free(&d);
    }
    fflush(stdout);
}
END_TEST

// BoMM's labels: with the option on, each host sends one int32 gather per round of its parties'
// uploaded rows' labels; with it off, none, and its capture is exactly those bytes smaller.
START_TEST(test_bomm_without_label_upload_sends_no_labels) {
    char out[16384], on_dir[128], off_dir[128];
    run_audited("bomm", "labels_on", "--bomm.upload-labels=true", out, sizeof out);
    run_audited("bomm", "labels_off", "--bomm.upload-labels=false", out, sizeof out);
    snprintf(on_dir, sizeof on_dir, "%s/labels_on", work);
    snprintf(off_dir, sizeof off_dir, "%s/labels_off", work);
    Placement pl;
    placement_init(&pl, PARTIES, NP);
    for (int rank = pl.host0; rank < NP; rank++) {
        int first, count = placement_block(&pl, rank, &first);
        long rows = (long)ROUNDS * count * BOMM_UPLOAD, on_elems, off_elems;
        Dump on, off;
        dump_read(&on, on_dir, rank);
        dump_read(&off, off_dir, rank);
        int n_on = calls_of(&on, "MPI_Gatherv", "mmcollab", "MPI_INT32_T", &on_elems);
        int n_off = calls_of(&off, "MPI_Gatherv", "mmcollab", "MPI_INT32_T", &off_elems);
        ck_assert_msg(n_on == ROUNDS && on_elems == rows,
                      "labels on: rank %d sent %d int32 gathers of %ld labels, expected %d of %ld "
                      "(%d rounds x %d parties x %d rows)",
                      rank, n_on, on_elems, ROUNDS, rows, ROUNDS, count, BOMM_UPLOAD);
        ck_assert_msg(n_off == 0, "labels off: rank %d still sent %d int32 gathers (%ld elements)",
                      rank, n_off, off_elems);
        ck_assert_msg(on.len - off.len == (size_t)rows * sizeof(int32_t),
                      "rank %d sent %zu bytes with labels, %zu without: expected %ld fewer", rank,
                      on.len, off.len, rows * (long)sizeof(int32_t));
        printf("audit bomm labels: rank %d sent %zu bytes with --bomm.upload-labels, %zu without "
               "(%ld labels)\n",
               rank, on.len, off.len, rows);
        dump_free(&on), dump_free(&off);
    }
    fflush(stdout);
}
END_TEST

// ---- CD-CCA on its own configuration (the header's second paragraph) ----

#define CD_MAX_TRAIN 200
#define CD_MAX_TEST 40
#define CD_VAL 0.1    /* --val-fraction, given explicitly: the held rows depend on it */
#define CD_PUBLIC 0.3 /* --public-fraction: the tiny base model's public rows */
#define CD_N_VARIANTS 5

// The uploading variants: every --cdcca.adapt whose cloud adapts (two of them with half the rows
// asking for a caption), and UTS off; Fed-CMP's parties (their projector updates), which run on the
// same model and rows.
static const char *const cd_variant[CD_N_VARIANTS] = {
    "--cdcca.adapt=akd --cdcca.captions=0.5", "--cdcca.adapt=pseudo",
    "--cdcca.adapt=logit-kd --cdcca.captions=0.5", "--cdcca.adapt=akd --cdcca.uts=false",
    "--method=fedcmp --fedcmp.chunk=16 --fedcmp.tune-steps=2"};

static Dataset *cd_ds;
static char cd_data[PATH_MAX], cd_base[PATH_MAX], cd_teacher[PATH_MAX];
static int64_t cd_n[2];   // the searched prefix of each split (DS_TRAIN, DS_TEST)
static int64_t *cd_train; // the held training rows, ascending
static int64_t cd_n_train;

// The capture's windows, by content (the first offset of each distinct window).
typedef struct {
    const uint8_t *data;
    size_t len;
    uint32_t *slot; // offset + 1, 0 = empty
    size_t cap;
} DumpIndex;

// A row whose windows a search counts: how many it has (with MIN_DISTINCT byte values) and how
// many of them the capture holds, per modality and representation; mark (the capture's length)
// gets 1 where a window of the row starts, 2 where one of another row does.
typedef struct {
    int split;
    int64_t row;
    long found[DS_MAX_MODALITIES][N_REPR], countable[DS_MAX_MODALITIES][N_REPR];
    uint8_t *mark;
    Window other; // the first window of another row found, at other_at (-1: none)
    int64_t other_at;
} Focus;

static void cd_setup(void) {
    char err[1024];
    mmc_workdir(work, sizeof work, "mmc_audit_cd");
    mmc_data_path(cd_data, "avfmnist_ci.h5");
    mmc_data_path(cd_base, "base/mllm_tiny.h5");
    mmc_data_path(cd_teacher, "base/mllm_tiny-teacher.h5");
    cd_ds = dataset_open(cd_data, err, sizeof err);
    ck_assert_msg(cd_ds != NULL, "%s", err);
    HoldoutFractions f = {CD_VAL, CD_PUBLIC};
    int64_t *test;
    cd_n_train = holdout_rows(cd_ds, HOLDOUT_TRAIN, f, CD_MAX_TRAIN, &cd_train);
    int64_t n_test = holdout_rows(cd_ds, HOLDOUT_TEST, f, CD_MAX_TEST, &test);
    ck_assert_msg(cd_n_train == CD_MAX_TRAIN && n_test == CD_MAX_TEST,
                  "%s: %lld training and %lld test rows at --val-fraction=%g "
                  "--public-fraction=%g, expected the caps %d and %d",
                  cd_data, (long long)cd_n_train, (long long)n_test, CD_VAL, CD_PUBLIC,
                  CD_MAX_TRAIN, CD_MAX_TEST);
    cd_n[DS_TRAIN] = cd_train[cd_n_train - 1] + 1;
    cd_n[DS_TEST] = test[n_test - 1] + 1;
    xfree(test);
}

static void cd_teardown(void) {
    xfree(cd_train);
    dataset_close(cd_ds);
    run_command(NULL, 0, "rm -rf %s", work);
}

static void index_build(DumpIndex *x, const uint8_t *data, size_t len) {
    x->data = data;
    for (x->cap = 1024; x->cap < 2 * len; x->cap *= 2) {
    }
    x->slot = calloc(x->cap, sizeof *x->slot);
    ck_assert(x->slot != NULL && len < UINT32_MAX);
    for (size_t o = 0; o + AUDIT_W <= len; o++) {
        size_t i = window_hash(data + o) & (x->cap - 1);
        while (x->slot[i] && memcmp(data + x->slot[i] - 1, data + o, AUDIT_W) != 0)
            i = (i + 1) & (x->cap - 1);
        if (!x->slot[i]) x->slot[i] = (uint32_t)o + 1;
    }
    x->len = len;
}

// The capture's offset of window p (of hash h), -1 when it does not hold it.
static int64_t index_find(const DumpIndex *x, const uint8_t *p, uint64_t h) {
    size_t i = h & (x->cap - 1);
    while (x->slot[i] && memcmp(x->data + x->slot[i] - 1, p, AUDIT_W) != 0)
        i = (i + 1) & (x->cap - 1);
    return (int64_t)x->slot[i] - 1;
}

// The prefilter's bit of a window: two words and two multiplies, so that the ~12 million row
// windows a search streams mostly stop at one bit test (PRE_BITS bits hold all the captures').
#define PRE_BITS 22
static uint64_t pre_key(const uint8_t *p) {
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + AUDIT_W - 8, 8);
    return (a * 0x9e3779b97f4a7c15ULL ^ b * 0xc2b2ae3d27d4eb4fULL) >> (64 - PRE_BITS);
}

// Every window of the searched prefixes' rows (every modality, the four representations) that
// capture k of the nx indexed ones holds, into hits[k]; f (NULL, or one per capture) counts its
// row's windows.
static void search_rows(const DumpIndex *x, int nx, Hits *hits, Focus *f) {
    uint64_t *pre = calloc((size_t)1 << (PRE_BITS - 6), sizeof *pre);
    ck_assert(pre != NULL);
    for (int c = 0; c < nx; c++) {
        memset(&hits[c], 0, sizeof hits[c]);
        for (size_t o = 0; o + AUDIT_W <= x[c].len; o++) {
            uint64_t key = pre_key(x[c].data + o);
            pre[key >> 6] |= 1ULL << (key & 63);
        }
    }
    int M = dataset_n_modalities(cd_ds);
    SampleLayout l;
    samples_layout(&l, cd_ds);
    for (int split = 0; split < 2; split++) {
        // every row of the prefix with every modality, as one batch: the model's input
        int64_t n = cd_n[split], *idx = xmalloc((size_t)n * sizeof *idx);
        uint8_t *mask = xmalloc((size_t)n);
        for (int64_t r = 0; r < n; r++)
            idx[r] = r, mask[r] = (uint8_t)((1u << M) - 1);
        SampleSet ss;
        Batch b;
        sampleset_load(&ss, &l, cd_ds, (DsSplit)split, idx, mask, n);
        batch_init(&b, &l, (int)n);
        sampleset_batch(&ss, &l, NULL, 0, (int)n, &b);
        for (int m = 0; m < M; m++) {
            const DatasetModality *dm = dataset_modality(cd_ds, m);
            int64_t elems = dm->row_elems;
            size_t stored = (size_t)elems * dtype_bytes(dm->dtype);
            uint8_t *raw = xmalloc((size_t)n * stored);
            float *feat = xmalloc((size_t)n * (size_t)elems * sizeof *feat);
            uint16_t *half = xmalloc((size_t)elems * sizeof *half);
            dataset_read_raw(cd_ds, (DsSplit)split, m, 0, n, raw);
            dataset_read_features(cd_ds, (DsSplit)split, m, 0, n, feat);
            for (int64_t r = 0; r < n; r++) {
                const uint8_t *in;
                if (dm->dtype == DS_I32) {
                    const int *t = b.tokens[m] + (size_t)r * (size_t)elems;
                    for (int64_t k = 0; k < elems; k++)
                        half[k] = half_from_float((float)t[k]);
                    in = (const uint8_t *)t;
                } else {
                    const float *d = b.dense[m] + (size_t)r * (size_t)elems;
                    for (int64_t k = 0; k < elems; k++) // as a device rounds (core/half.h)
                        half[k] = half_from_float(d[k]);
                    in = (const uint8_t *)d;
                }
                const uint8_t *rep[N_REPR] = {raw + (size_t)r * stored,
                                              (const uint8_t *)(feat + (size_t)r * (size_t)elems),
                                              in, (const uint8_t *)half};
                size_t len[N_REPR] = {stored, (size_t)elems * sizeof(float),
                                      (size_t)elems * 4 /* float or int */,
                                      (size_t)elems * sizeof(uint16_t)};
                for (int k = 0; k < N_REPR; k++) {
                    if (k == REPR_FLOAT && dm->dtype == DS_F32) continue; // = the stored bytes
                    const Window w = {0, NULL, (int32_t)r, (uint8_t)split, (uint8_t)m, (uint8_t)k};
                    for (int c = 0; f && c < nx; c++)
                        if (f[c].split == split && f[c].row == r)
                            for (size_t o = 0; o + AUDIT_W <= len[k]; o++)
                                f[c].countable[m][k] += distinct_bytes(rep[k] + o) >= MIN_DISTINCT;
                    for (size_t o = 0; o + AUDIT_W <= len[k]; o++) {
                        const uint8_t *p = rep[k] + o;
                        uint64_t key = pre_key(p);
                        if (!(pre[key >> 6] >> (key & 63) & 1)) continue;
                        if (distinct_bytes(p) < MIN_DISTINCT) continue;
                        uint64_t h = window_hash(p);
                        for (int c = 0; c < nx; c++) {
                            int64_t at = index_find(&x[c], p, h);
                            if (at < 0) continue;
                            if (f) {
                                int focus = f[c].split == split && f[c].row == r;
                                f[c].mark[at] |= focus ? 1 : 2, f[c].found[m][k] += focus;
                                if (!focus && f[c].other_at < 0) f[c].other = w, f[c].other_at = at;
                            }
                            if (hits[c].n < MAX_HITS)
                                hits[c].first[hits[c].n] = w,
                                hits[c].offset[hits[c].n] = (uint64_t)at;
                            hits[c].n++;
                        }
                    }
                }
            }
            xfree(raw), xfree(feat), xfree(half);
        }
        batch_free(&b);
        sampleset_free(&ss);
        xfree(idx), xfree(mask);
    }
    free(pre);
}

// The run's options: the tiny run on the multimodal LLM; for CD-CCA (fedcmp = 0) two stages of
// one round, 16 rows a round per device.
static void cd_opts(char *buf, size_t cap, int fedcmp) {
    int n =
        snprintf(buf, cap,
                 "--data=%s --model=mllm --mllm.base=%s --val-fraction=%g --public-fraction=%g "
                 "--max-train=%d --max-test=%d --parties=%d --rounds=%d --batch-size=8 "
                 "--scenario=bomm-hybrid ",
                 cd_data, cd_base, CD_VAL, CD_PUBLIC, CD_MAX_TRAIN, CD_MAX_TEST, PARTIES, ROUNDS);
    if (!fedcmp)
        snprintf(buf + n, cap - (size_t)n,
                 "--method=cdcca --cdcca.teacher=%s --cdcca.stages=2 --cdcca.chunk=16 "
                 "--cdcca.source-rows=32 --cdcca.source-epochs=1",
                 cd_teacher);
}

START_TEST(test_cdcca_hosts_send_no_raw_rows) {
    const char *variant = cd_variant[_i];
    char pre[PATH_MAX + 256], opts[4 * PATH_MAX + 512], out[16384], dir[32], path[128], line[256];
    snprintf(dir, sizeof dir, "cd%d", _i);
    launcher(pre, sizeof pre, dir);
    const int fedcmp = strstr(variant, "--method=fedcmp") != NULL;
    cd_opts(opts, sizeof opts, fedcmp);
    int rc = run_command(out, sizeof out,
                         "cd %s && timeout %d mpirun --oversubscribe -np %d %s %s/mmcollab "
                         "--out=run_%s %s %s 2>&1",
                         work, RUN_TIMEOUT_S, NP, pre, mmc_bin(), dir, opts, variant);
    ck_assert_msg(rc == 0, "cdcca %s under the capture: exit %d (124 = timeout)\n%.3000s", variant,
                  rc, out);
    // Uploads there were: else a clean capture would prove nothing.
    double v[64], up = 0;
    snprintf(path, sizeof path, "run_%s", dir);
    int nv = read_series(work, path, fedcmp ? "payload_up" : "cd_up_rows", v, 64);
    for (int k = 0; k < nv; k++)
        up += v[k] == v[k] ? v[k] : 0;
    ck_assert_msg(up > 0, "%s: no party uploaded (%s)", variant,
                  fedcmp ? "payload_up" : "cd_up_rows");
    Placement pl;
    placement_init(&pl, PARTIES, NP);
    printf("audit %-36s rows train 0..%lld test 0..%lld, %.0f %s uploaded:", variant,
           (long long)cd_n[DS_TRAIN] - 1, (long long)cd_n[DS_TEST] - 1, up,
           fedcmp ? "bytes" : "rows");
    snprintf(path, sizeof path, "%s/%s", work, dir);
    Dump d[NP];
    DumpIndex x[NP];
    Hits h[NP];
    for (int rank = pl.host0; rank < NP; rank++) {
        dump_read(&d[rank], path, rank);
        ck_assert_msg(d[rank].calls > 0,
                      "cdcca %s: rank %d captured no call: is the capture loaded?", variant, rank);
        index_build(&x[rank], d[rank].data, d[rank].len);
    }
    search_rows(x + pl.host0, NP - pl.host0, h + pl.host0, NULL);
    for (int rank = pl.host0; rank < NP; rank++) {
        int first, count = placement_block(&pl, rank, &first);
        if (h[rank].n > 0) {
            const Window *w = &h[rank].first[0];
            call_at(&d[rank], h[rank].offset[0], line, sizeof line);
            ck_assert_msg(0,
                          "cdcca %s: rank %d (parties %d..%d) sent %zu windows of raw rows; the "
                          "first at byte %llu of its capture (%s): %s row %d, modality %s, %s "
                          "bytes",
                          variant, rank, first, first + count - 1, h[rank].n,
                          (unsigned long long)h[rank].offset[0], line,
                          w->split == DS_TRAIN ? "train" : "test", w->row,
                          dataset_modality(cd_ds, w->mod)->name, repr_name[w->repr]);
        }
        printf(" | rank %d (parties %d-%d) %zu bytes in %d calls, found %zu", rank, first,
               first + count - 1, d[rank].len, d[rank].calls, h[rank].n);
        free(x[rank].slot);
        dump_free(&d[rank]);
    }
    printf("\n");
    fflush(stdout);
}
END_TEST

// Windows of row `row` of split in representation repr that count (MIN_DISTINCT).
static long countable_windows(DsSplit split, int64_t row, int m, int repr) {
    const DatasetModality *dm = dataset_modality(cd_ds, m);
    size_t elems = (size_t)dm->row_elems;
    float *buf = xmalloc(elems * sizeof(float)); // the largest: 4 bytes an element
    size_t len = elems * (repr == REPR_STORED ? dtype_bytes(dm->dtype) : sizeof(float));
    if (repr == REPR_STORED)
        dataset_read_raw(cd_ds, split, m, row, 1, buf);
    else
        dataset_read_features(cd_ds, split, m, row, 1, buf);
    long n = 0;
    for (size_t o = 0; o + AUDIT_W <= len; o++)
        n += distinct_bytes((const uint8_t *)buf + o) >= MIN_DISTINCT;
    xfree(buf);
    return n;
}

// 1 when every modality of the train row has windows that count, stored and as float32 input
// (short texts of one or two words have fewer than MIN_DISTINCT byte values as int32 ids).
static int row_is_rich(int64_t row) {
    for (int m = 0; m < dataset_n_modalities(cd_ds); m++)
        if (countable_windows(DS_TRAIN, row, m, REPR_STORED) == 0 ||
            countable_windows(DS_TRAIN, row, m, REPR_FLOAT) == 0)
            return 0;
    return 1;
}

// 1 when a window of the focus row starts less than AUDIT_W bytes from o (they overlap).
static int near_mark(const uint8_t *mark, size_t len, size_t o) {
    size_t lo = o >= AUDIT_W - 1 ? o - (AUDIT_W - 1) : 0;
    for (size_t a = lo; a < len && a < o + AUDIT_W; a++)
        if (mark[a] & 1) return 1;
    return 0;
}

// The positive control on this configuration: audit_leak's hosts send held training rows of
// avfmnist_ci.h5 (ranks 1 and 2: rows R + 1 and R + 2, stored behind an odd header and as float32
// input); the search finds every countable window of each, in every modality, and no other row
// away from their bytes.
START_TEST(test_cdcca_search_finds_rows_that_are_sent) {
    int64_t row0 = 0; // audit_leak's ROW: rank r sends row0 + r
    int picked = 0;
    for (int64_t j = 1; j + 1 < cd_n_train && !picked; j++)
        if (cd_train[j + 1] == cd_train[j] + 1 && row_is_rich(cd_train[j]) &&
            row_is_rich(cd_train[j + 1]))
            row0 = cd_train[j] - 1, picked = 1;
    ck_assert_msg(picked,
                  "%s: no two consecutive held training rows with every modality's "
                  "windows",
                  cd_data);
    char pre[PATH_MAX + 256], out[8192], dir[128];
    launcher(pre, sizeof pre, "cdleak");
    int rc = run_command(out, sizeof out,
                         "cd %s && timeout %d mpirun --oversubscribe -np %d %s %s/audit_leak %s "
                         "%lld 2>&1",
                         work, RUN_TIMEOUT_S, NP, pre, mmc_bin(), cd_data, (long long)row0);
    ck_assert_msg(rc == 0, "audit_leak %s: exit %d\n%s", cd_data, rc, out);
    snprintf(dir, sizeof dir, "%s/cdleak", work);
    int M = dataset_n_modalities(cd_ds);
    Dump d[NP];
    DumpIndex x[NP];
    Hits h[NP];
    Focus f[NP];
    for (int rank = 1; rank < NP; rank++) {
        dump_read(&d[rank], dir, rank);
        index_build(&x[rank], d[rank].data, d[rank].len);
        f[rank] = (Focus){.split = DS_TRAIN,
                          .row = row0 + rank,
                          .mark = calloc(d[rank].len + 1, 1),
                          .other_at = -1};
        ck_assert(f[rank].mark != NULL);
    }
    search_rows(x + 1, NP - 1, h + 1, f + 1);
    for (int rank = 1; rank < NP; rank++) {
        const Focus *fr = &f[rank];
        // Another row's window may start within a window of the sent row: AV-FashionMNIST's rows
        // are uint8-quantised, and a window of mostly zeros (a short text's padding) with a few
        // values of the next call (its first floats) also sits in some other row's black border.
        // Those are the sent row's bytes; another row's window anywhere else is a false hit.
        long near = 0;
        for (size_t o = 0; o < d[rank].len; o++) {
            if (fr->mark[o] != 2) continue;
            ck_assert_msg(near_mark(fr->mark, d[rank].len, o),
                          "rank %d sent train row %lld; the audit found a window of another row "
                          "at byte %zu, away from the row's bytes (the first: %s row %d's %s as "
                          "%s bytes at byte %lld)",
                          rank, (long long)fr->row, o, fr->other.split ? "test" : "train",
                          fr->other.row, dataset_modality(cd_ds, fr->other.mod)->name,
                          repr_name[fr->other.repr], (long long)fr->other_at);
            near++;
        }
        long found = 0;
        for (int m = 0; m < M; m++)
            for (int k = REPR_STORED; k <= REPR_FLOAT; k++) {
                ck_assert_msg(fr->found[m][k] == fr->countable[m][k] && fr->countable[m][k] > 0,
                              "rank %d sent train row %lld's %s as %s bytes (%ld windows); the "
                              "audit found %ld",
                              rank, (long long)fr->row, dataset_modality(cd_ds, m)->name,
                              repr_name[k], fr->countable[m][k], fr->found[m][k]);
                found += fr->found[m][k];
            }
        printf("audit cdcca leak control: rank %d sent %zu bytes, found all %ld windows of train "
               "row %lld (%ld capture windows that only other rows share overlap them)\n",
               rank, d[rank].len, found, (long long)fr->row, near);
        free(x[rank].slot), free(f[rank].mark);
        dump_free(&d[rank]);
    }
    fflush(stdout);
}
END_TEST

// The model's input of a row, every modality present (sampleset_batch), into b (Bmax 1).
static void batch_of_row(DsSplit split, int64_t row, const SampleLayout *l, Batch *b) {
    SampleSet ss;
    uint8_t mask = (uint8_t)((1u << dataset_n_modalities(cd_ds)) - 1);
    sampleset_load(&ss, l, cd_ds, split, &row, &mask, 1);
    batch_init(b, l, 1);
    sampleset_batch(&ss, l, NULL, 0, 1, b);
    sampleset_free(&ss);
}

// The batch representations and the test split's prefix: a synthetic capture holding a late
// held training row's model input as float32 and as float16 and the last searched test row as
// stored, each block behind one odd byte; the search finds every countable window of both.
START_TEST(test_cdcca_search_finds_batch_half_and_test_rows) {
    int M = dataset_n_modalities(cd_ds);
    int64_t pick = cd_n_train - 1; // the last held training row whose text has windows that count
    while (pick > 0 && !row_is_rich(cd_train[pick]))
        pick--;
    const int64_t row[2] = {cd_train[pick], cd_n[DS_TEST] - 1};
    const int reprs[2][2] = {{REPR_BATCH, REPR_HALF}, {REPR_STORED, REPR_STORED}};
    SampleLayout l;
    Batch b;
    samples_layout(&l, cd_ds);
    batch_of_row(DS_TRAIN, row[0], &l, &b);
    size_t cap = 0;
    for (int m = 0; m < M; m++)
        cap += 3 + (size_t)dataset_modality(cd_ds, m)->row_elems * (4 + 2 + 4);
    uint8_t *dump = xcalloc(cap, 1);
    size_t at = 0;
    for (int m = 0; m < M; m++) {
        const DatasetModality *dm = dataset_modality(cd_ds, m);
        size_t E = (size_t)dm->row_elems;
        const void *in = dm->dtype == DS_I32 ? (const void *)b.tokens[m] : (const void *)b.dense[m];
        dump[at++] = 0xA5;
        memcpy(dump + at, in, E * 4), at += E * 4;
        dump[at++] = 0xA5;
        for (size_t k = 0; k < E; k++, at += 2) {
            float v = dm->dtype == DS_I32 ? (float)b.tokens[m][k] : b.dense[m][k];
            uint16_t hv = half_from_float(v);
            memcpy(dump + at, &hv, 2);
        }
        dump[at++] = 0xA5;
        dataset_read_raw(cd_ds, DS_TEST, m, row[1], 1, dump + at);
        at += E * dtype_bytes(dm->dtype);
    }
    batch_free(&b);
    DumpIndex x;
    Hits h;
    index_build(&x, dump, at);
    for (int s = 0; s < 2; s++) {
        Focus f = {.split = s, .row = row[s], .mark = calloc(at + 1, 1), .other_at = -1};
        ck_assert(f.mark != NULL);
        search_rows(&x, 1, &h, &f);
        for (int m = 0; m < M; m++)
            for (int j = 0; j < 2; j++) {
                int k = reprs[s][j];
                long want = f.countable[m][k];
                ck_assert_msg(f.found[m][k] == want,
                              "a capture holding %s row %lld's %s as %s bytes (%ld windows): the "
                              "audit found %ld",
                              s ? "test" : "train", (long long)row[s],
                              dataset_modality(cd_ds, m)->name, repr_name[k], want, f.found[m][k]);
                // a float16 row of 16 values or more has windows; the other blocks all have
                if (k != REPR_HALF || dataset_modality(cd_ds, m)->row_elems * 2 >= AUDIT_W)
                    ck_assert_msg(want > 0, "%s row %lld's %s has no countable %s window",
                                  s ? "test" : "train", (long long)row[s],
                                  dataset_modality(cd_ds, m)->name, repr_name[k]);
            }
        free(f.mark);
    }
    printf("audit cdcca synthetic capture: %zu bytes, train row %lld as batch input (float32 and "
           "float16) and test row %lld as stored found\n",
           at, (long long)row[0], (long long)row[1]);
    free(x.slot), xfree(dump);
}
END_TEST

Suite *audit_suite(void) {
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("raw_rows");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 2 * RUN_TIMEOUT_S + 30);
    tcase_add_test(tc, test_the_search_finds_rows_that_are_sent);
    tcase_add_loop_test(tc, test_no_host_sends_raw_rows, 0, method_count);
    tcase_add_test(tc, test_bomm_without_label_upload_sends_no_labels);
    suite_add_tcase(s, tc);
    TCase *cd = tcase_create("cdcca");
    tcase_add_checked_fixture(cd, cd_setup, cd_teardown);
    tcase_set_timeout(cd, RUN_TIMEOUT_S + 30);
    tcase_add_test(cd, test_cdcca_search_finds_batch_half_and_test_rows);
    tcase_add_test(cd, test_cdcca_search_finds_rows_that_are_sent);
    tcase_add_loop_test(cd, test_cdcca_hosts_send_no_raw_rows, 0, CD_N_VARIANTS);
    suite_add_tcase(s, cd);
    return s;
}
