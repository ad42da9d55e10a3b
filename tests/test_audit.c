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
// Runs from the repository root; the library from MMC_LIB_DIR (else build/lib), the programs from
// MMC_BIN_DIR.
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/placement.h"
#include "data/dataset.h"
#include "helpers.h"
#include "methods/method.h"

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

enum { REPR_STORED = 0, REPR_FLOAT = 1 };
static const char *const repr_name[] = {"stored", "float32 input"};

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

Suite *audit_suite(void) {
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("raw_rows");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 2 * RUN_TIMEOUT_S + 30);
    tcase_add_test(tc, test_the_search_finds_rows_that_are_sent);
    tcase_add_loop_test(tc, test_no_host_sends_raw_rows, 0, method_count);
    tcase_add_test(tc, test_bomm_without_label_upload_sends_no_labels);
    suite_add_tcase(s, tc);
    return s;
}
