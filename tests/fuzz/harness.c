// harness.c - see harness.h.
#include "harness.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"

// ---- the input as decisions ----

unsigned fz_u8(FuzzIn *in) { return in->i < in->n ? in->p[in->i++] : 0; }

uint64_t fz_bits(FuzzIn *in, int k) {
    uint64_t v = 0;
    for (int b = 0; b < k && b < 8; b++)
        v |= (uint64_t)fz_u8(in) << (8 * b);
    return v;
}

unsigned fz_pick(FuzzIn *in, unsigned n) { return n <= 1 ? 0 : fz_u8(in) % n; }

unsigned fz_mode(FuzzIn *in, unsigned n) {
    static int trace = -1;
    if (trace < 0) trace = getenv("MMC_FUZZ_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "decision at byte %zu: one of %u (%p)\n", in->i, n,
                __builtin_return_address(0));
    unsigned b = fz_u8(in);
    return n <= 1 || b < 0xd0 ? 0 : 1 + (b - 0xd0) % (n - 1);
}

char *fz_str(FuzzIn *in, char *buf, size_t cap) {
    size_t len = fz_u8(in), k = 0;
    for (size_t j = 0; j < len && k + 1 < cap && in->i < in->n; j++) {
        unsigned char c = (unsigned char)fz_u8(in);
        if (c) buf[k++] = (char)c;
    }
    if (cap) buf[k] = 0;
    return buf;
}

// ---- environment ----

static int skipped;

int fuzz_avoid(const char *name) {
    static char list[1024];
    static int read;
    if (!read) {
        read = 1;
        const char *env = getenv("MMC_FUZZ_AVOID");
        snprintf(list, sizeof list, ",%s,", env ? env : "");
    }
    char key[128];
    snprintf(key, sizeof key, ",%s,", name);
    if (!strstr(list, key)) return 0;
    skipped = 1;
    return 1;
}

int fuzz_skipped(void) {
    int s = skipped;
    skipped = 0;
    return s;
}

static char dir[512];

static void remove_dir(void) {
    if (!dir[0]) return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    dir[0] = 0;
}

void fuzz_path(char *buf, size_t cap, const char *name) {
    if (!dir[0]) {
        const char *base = getenv("MMC_FUZZ_TMP");
        if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/mmc-fuzz.XXXXXX", base);
        if (!mkdtemp(dir)) fuzz_fail("cannot create a temporary directory under %s", base);
        atexit(remove_dir);
    }
    snprintf(buf, cap, "%s/%s", dir, name);
}

_Noreturn void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz contract broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

void fuzz_note(const char *fmt, ...) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("MMC_FUZZ_VERBOSE") != NULL;
    if (!verbose) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

// ---- heap blocks allocated during a call (sanitizer builds only) ----

// The sanitizers' interface, declared weak so that a plain build links without them.
int __sanitizer_install_malloc_and_free_hooks(void (*on_malloc)(const volatile void *, size_t),
                                              void (*on_free)(const volatile void *))
    __attribute__((weak));
void __lsan_ignore_object(const void *p) __attribute__((weak));

#define TRACK_CAP (1 << 20)
static uintptr_t allocs[TRACK_CAP], frees[TRACK_CAP];
static size_t n_allocs, n_frees;
static int tracking, track_overflow;

// Called by the allocator: no allocation here.
static void on_malloc(const volatile void *p, size_t size) {
    (void)size;
    if (!tracking) return;
    if (n_allocs < TRACK_CAP)
        allocs[n_allocs++] = (uintptr_t)p;
    else
        track_overflow = 1;
}
static void on_free(const volatile void *p) {
    if (!tracking || !p) return;
    if (n_frees < TRACK_CAP)
        frees[n_frees++] = (uintptr_t)p;
    else
        track_overflow = 1;
}

static int cmp_uptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

// Blocks allocated during the call and not freed (an address can be allocated, freed and
// allocated again: it is live when it was allocated more often than freed) are not leaks.
static void ignore_live_blocks(void) {
    if (!__lsan_ignore_object || track_overflow) return;
    qsort(allocs, n_allocs, sizeof *allocs, cmp_uptr);
    qsort(frees, n_frees, sizeof *frees, cmp_uptr);
    size_t a = 0, f = 0;
    while (a < n_allocs) {
        uintptr_t p = allocs[a];
        size_t na = 0, nf = 0;
        while (a < n_allocs && allocs[a] == p)
            a++, na++;
        while (f < n_frees && frees[f] < p)
            f++;
        while (f < n_frees && frees[f] == p)
            f++, nf++;
        if (na > nf) __lsan_ignore_object((const void *)p);
    }
}

// ---- HDF5 identifiers ----

// HDF5 1.10 lists the open files and file objects (groups, datasets, named types, attributes)
// only; transient dataspaces, types and property lists cannot be listed and are left open after a
// die (a few bytes each, still reachable: no leak report).
#define IDS_CAP 4096

typedef struct {
    hid_t id[IDS_CAP];
    int n;
} IdSet;

static void open_ids(IdSet *s) {
    ssize_t n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, IDS_CAP, s->id);
    s->n = n < 0 ? 0 : (int)n;
}

int fuzz_h5_open_ids(void) { return (int)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

static IdSet before;

static void close_id(hid_t id) {
    switch (H5Iget_type(id)) {
    case H5I_ATTR:
        H5Aclose(id);
        break;
    case H5I_DATASET:
        H5Dclose(id);
        break;
    case H5I_GROUP:
        H5Gclose(id);
        break;
    case H5I_DATATYPE:
        H5Tclose(id);
        break;
    default:
        break;
    }
}

// Closes every file object that was not open before the call, then every such file.
static void close_new_ids(void) {
    static IdSet now;
    H5E_BEGIN_TRY {
        open_ids(&now);
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < now.n; i++) {
                int old = 0;
                for (int j = 0; j < before.n && !old; j++)
                    old = before.id[j] == now.id[i];
                if (old || (H5Iget_type(now.id[i]) == H5I_FILE) != pass) continue;
                if (pass)
                    H5Fclose(now.id[i]);
                else
                    close_id(now.id[i]);
            }
    }
    H5E_END_TRY;
}

// ---- calls ----

static jmp_buf die_jmp;
static int in_call;

static void on_die(void) {
    if (in_call) longjmp(die_jmp, 1);
    // outside fuzz_call: the harness itself died; let the process end (a crash to look at)
}

void fuzz_init(void) {
    static int done;
    if (done) return;
    done = 1;
    die_set_hook(on_die);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    log_init(0, LOG_ERROR);
    if (__sanitizer_install_malloc_and_free_hooks)
        __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}

int fuzz_call(void (*fn)(void *), void *arg) {
    fuzz_init();
    open_ids(&before);
    n_allocs = n_frees = 0;
    track_overflow = 0;
    tracking = 1;
    in_call = 1;
    int died = 0;
    if (setjmp(die_jmp) == 0)
        fn(arg);
    else
        died = 1;
    in_call = 0;
    tracking = 0;
    if (died) {
        close_new_ids();
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // a die inside H5E_BEGIN_TRY skipped its END
        ignore_live_blocks();
    }
    return died;
}
