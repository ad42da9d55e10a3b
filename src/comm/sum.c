// sum.c - exact int64 sums across ranks: once per node through shared memory, then across nodes
// (comm.h's comm_reduce_sum_i64 and comm_allreduce_sum_i64, sum.h's CommAcc).
//
// The ranks of a node (MPI_COMM_TYPE_SHARED, or groups of comm_set_reduce_groups) each own a
// segment of a shared window; node rank 0 also holds the node's area. Per chunk of columns, after
// a barrier each rank sums its own slice of the columns over every segment of the node. On one
// node it converts the slice at once, straight into its output when it wants the result and into
// the area when others do; after another barrier those copy the other slices out of the area. On
// several nodes the slices' int64 sums go to the area, the leaders (node rank 0) reduce the areas
// with MPI, and after a barrier the ranks that want the result convert the whole chunk. Integer
// sums in any grouping give the bits MPI_SUM gives. Only the leaders' messages pass through MPI:
// they are counted, on a communicator named COMM_NAME so that the PMPI counter sees them too; the
// node-local part is memory traffic and counts nothing. (Open MPI's vader moves a message through
// shared-memory fragments with a handshake each, which costs most when ranks outnumber cores; here
// a chunk costs two barriers.)
//
// A CommAcc's segments are the accumulators themselves, and each rank's part also holds a float
// vector and a slot that says what the rank holds: while a rank has added one vector, the slice
// owners make its terms from the floats (exact_add's, so the bits are the same) and read 4 bytes a
// column instead of 8. A small CommAcc sum on one node (up to SMALL_COLUMNS columns) skips
// the barriers: each rank counts itself in on a shared counter, the ranks that want the result wait
// for all and sum every column, and count themselves out on another; a rank changes its part only
// after the readers of the last sum are out. C11 atomics on the shared window carry the ordering.
// comm_reduce_sum_i64 copies a private accumulator into a scratch window, chunk by chunk.
#define _POSIX_C_SOURCE 200809L // sched_yield
#include "comm/sum.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "comm/comm_internal.h"
#include "comm/exact.h"
#include "core/common.h"
#include "core/die.h"
#include "core/timer.h"
#include "core/xalloc.h"

#define REDUCE_CHUNK ((size_t)1 << 19) // columns per chunk: a 4 MiB area, counts below INT_MAX
#define LINE 8                         // int64 per 64-byte line: slice bounds and segment sizes
#define SUM_BLOCK 512                  // columns summed over the segments while in L1
#define SMALL_COLUMNS 2048             // up to these columns on one node, a CommAcc's flag path

// What a rank's accumulator holds (comm_acc_add): nothing, one float vector and its weight (the
// round's first term on the rank), or int64 sums.
enum { HOLDS_NOTHING, HOLDS_FLOATS, HOLDS_INTS };

typedef struct {
    int32_t holds, e; // HOLDS_*, and the exponent of its terms
    double weight;    // of the float vector
    double scaled;    // weight·2^e
} Slot;

// A node's counters for a CommAcc's small sums (node rank 0's line after the area): the ranks
// that have added their part, and the readers that are done with it, since the window was made.
typedef struct {
    _Atomic uint64_t arrived, consumed;
} Flags;

typedef struct {
    MPI_Win win;   // MPI_WIN_NULL until allocated
    size_t cap;    // int64 elements per segment
    int64_t **seg; // (node_size) the node ranks' segments
    float **xs;    // (node_size) their float vectors, or NULL: segments hold ints only
    Slot **slot;   // (node_size) what each holds (with xs)
    char *area;    // the node's area: MIN(cap, REDUCE_CHUNK) elements of 8 bytes
    Flags *flags;  // (with xs) the node's counters
} Shared;

typedef struct {
    MPI_Comm node;    // this rank's node (or group)
    MPI_Comm leaders; // node rank 0 of every node, named COMM_NAME; MPI_COMM_NULL elsewhere
    int node_rank, node_size, nodes;
    int *node_of;   // (size) the leaders' rank of each rank's node
    Shared scratch; // comm_reduce_sum_i64's, kept until comm_destroy
    int accs;       // live CommAccs on this grouping
} Reducer;

struct CommAcc {
    Comm *c;
    Reducer *r;
    Shared sh;
    Slot *mine; // this rank's slot in sh
    size_t n;
    uint64_t small;   // flag-path sums so far: each rank arrives once for each
    uint64_t readers; // their readers so far: the root, or every node rank
};

// What the ranks that want the result get: t of ldexp(sum, -e) / divisor.
typedef struct {
    CommType t;
    int e;
    double divisor;
} Conv;

static const Conv RAW = {COMM_I64, 0, 1.0}; // the int64 sums themselves

static int reducer_key = MPI_KEYVAL_INVALID;

static void shared_free(Shared *s) {
    if (s->win != MPI_WIN_NULL) {
        MPI_CHECK(MPI_Win_unlock_all(s->win));
        MPI_CHECK(MPI_Win_free(&s->win));
    }
    xfree(s->seg), xfree(s->xs), xfree(s->slot);
    s->seg = NULL, s->xs = NULL, s->slot = NULL, s->cap = 0;
}

// Collective on the node: segments of cap elements (rounded up to whole lines), with floats a slot
// and cap floats each, and the area. A rank's part: [slot line][cap int64][cap floats], and on
// node rank 0 the area after it.
static void shared_alloc(const Reducer *r, Shared *s, size_t cap, int floats) {
    cap = MAX((cap + 2 * LINE - 1) / (2 * LINE) * (2 * LINE), (size_t)(2 * LINE));
    size_t area = MIN(cap, REDUCE_CHUNK);
    size_t mine =
        cap + (floats ? LINE + cap / 2 : 0) + (r->node_rank == 0 ? area + (floats ? LINE : 0) : 0);
    int64_t *base;
    MPI_CHECK(MPI_Win_allocate_shared((MPI_Aint)(mine * sizeof(int64_t)), sizeof(int64_t),
                                      MPI_INFO_NULL, r->node, &base, &s->win));
    MPI_CHECK(MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win));
    size_t ranks = (size_t)r->node_size;
    s->seg = xcalloc(ranks, sizeof *s->seg);
    s->xs = floats ? xcalloc(ranks, sizeof *s->xs) : NULL;
    s->slot = floats ? xcalloc(ranks, sizeof *s->slot) : NULL;
    for (int q = 0; q < r->node_size; q++) {
        MPI_Aint bytes;
        int unit;
        int64_t *at;
        MPI_CHECK(MPI_Win_shared_query(s->win, q, &bytes, &unit, &at));
        if (floats) {
            s->slot[q] = (void *)at;
            at += LINE;
            s->xs[q] = (void *)(at + cap);
        }
        s->seg[q] = at;
        if (q == 0) s->area = (char *)(at + cap + (floats ? cap / 2 : 0));
    }
    if (floats) {
        *s->slot[r->node_rank] = (Slot){HOLDS_NOTHING, 0, 0, 0};
        s->flags = (Flags *)(s->area + area * sizeof(int64_t));
        if (r->node_rank == 0)
            atomic_init(&s->flags->arrived, 0), atomic_init(&s->flags->consumed, 0);
        MPI_CHECK(MPI_Win_sync(s->win));
        MPI_CHECK(MPI_Barrier(r->node)); // the counters are zero before any rank uses them
    }
    s->cap = cap;
}

// Attribute delete callback: MPI_Comm_free (comm_destroy) runs it on every rank together.
static int reducer_delete(MPI_Comm comm, int key, void *attr, void *extra) {
    (void)comm, (void)key, (void)extra;
    Reducer *r = attr;
    shared_free(&r->scratch);
    MPI_CHECK(MPI_Comm_free(&r->node));
    if (r->leaders != MPI_COMM_NULL) MPI_CHECK(MPI_Comm_free(&r->leaders));
    xfree(r->node_of);
    xfree(r);
    return MPI_SUCCESS;
}

// Collective: the node split (group > 0: ranks rank / group together) and the leaders.
static Reducer *reducer_create(Comm *c, int group) {
    MPI_Comm comm = comm_mpi(c);
    int rank = comm_rank(c), size = comm_size(c);
    Reducer *r = xcalloc(1, sizeof *r);
    if (group > 0)
        MPI_CHECK(MPI_Comm_split(comm, rank / group, rank, &r->node));
    else
        MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &r->node));
    MPI_CHECK(MPI_Comm_rank(r->node, &r->node_rank));
    MPI_CHECK(MPI_Comm_size(r->node, &r->node_size));
    MPI_CHECK(MPI_Comm_split(comm, r->node_rank == 0 ? 0 : MPI_UNDEFINED, rank, &r->leaders));
    int mine = 0;
    if (r->leaders != MPI_COMM_NULL) {
        MPI_CHECK(MPI_Comm_set_name(r->leaders, COMM_NAME));
        MPI_CHECK(MPI_Comm_set_errhandler(r->leaders, MPI_ERRORS_RETURN));
        MPI_CHECK(MPI_Comm_rank(r->leaders, &mine));
        MPI_CHECK(MPI_Comm_size(r->leaders, &r->nodes));
    }
    MPI_CHECK(MPI_Bcast(&mine, 1, MPI_INT, 0, r->node));
    MPI_CHECK(MPI_Bcast(&r->nodes, 1, MPI_INT, 0, r->node));
    r->node_of = xmalloc((size_t)size * sizeof *r->node_of);
    comm_count_mpi(c, 1, (size_t)size, COMM_I32);
    MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, r->node_of, 1, MPI_INT, comm));
    r->scratch.win = MPI_WIN_NULL;
    return r;
}

static int key(void) {
    if (reducer_key == MPI_KEYVAL_INVALID)
        MPI_CHECK(
            MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, reducer_delete, &reducer_key, NULL));
    return reducer_key;
}

static Reducer *reducer(Comm *c) {
    void *attr;
    int found;
    MPI_CHECK(MPI_Comm_get_attr(comm_mpi(c), key(), &attr, &found));
    if (found) return attr;
    Reducer *r = reducer_create(c, 0);
    MPI_CHECK(MPI_Comm_set_attr(comm_mpi(c), key(), r));
    return r;
}

void comm_set_reduce_groups(Comm *c, int ranks_per_group) {
    CHECK(ranks_per_group >= 0, "ranks_per_group = %d", ranks_per_group);
    void *attr;
    int found;
    MPI_CHECK(MPI_Comm_get_attr(comm_mpi(c), key(), &attr, &found));
    if (found) {
        CHECK(((Reducer *)attr)->accs == 0, "comm_set_reduce_groups: %d CommAcc still live",
              ((Reducer *)attr)->accs);
        MPI_CHECK(MPI_Comm_delete_attr(comm_mpi(c), key()));
    }
    MPI_CHECK(MPI_Comm_set_attr(comm_mpi(c), key(), reducer_create(c, ranks_per_group)));
}

// Stores before it are visible to every node rank's loads after it.
static void node_sync(const Reducer *r, const Shared *s) {
    MPI_CHECK(MPI_Win_sync(s->win));
    MPI_CHECK(MPI_Barrier(r->node));
    MPI_CHECK(MPI_Win_sync(s->win));
}

// out[0, m) = sum[0, m) as cv says.
static void convert(void *out, const int64_t *sum, size_t m, const Conv *cv) {
    if (cv->t == COMM_F32)
        exact_to_float(out, sum, m, cv->e, cv->divisor);
    else if (cv->t == COMM_F64)
        exact_to_double(out, sum, m, cv->e, cv->divisor);
    else
        memcpy(out, sum, m * sizeof *sum);
}

// Columns [lo, hi) of the chunk at column soff of the segments, summed over what the node's ranks
// hold (int64 sums wrapping as MPI_SUM's do, exact.h's exponents rule overflow out; a float
// vector's terms as exact_add makes them), converted by cv into out and into area (either may be
// NULL), both indexed from the chunk's first column.
static void sum_slice(const Reducer *r, const Shared *s, size_t soff, size_t lo, size_t hi,
                      const Conv *cv, char *out, char *area) {
    size_t es = comm_type_size(cv->t);
    for (size_t b = lo; b < hi; b += SUM_BLOCK) {
        size_t m = MIN((size_t)SUM_BLOCK, hi - b);
        uint64_t blk[SUM_BLOCK];
        int first = 1; // blk holds nothing yet: the first contribution is written, not added
        for (int q = 0; q < r->node_size; q++) {
            const Slot *sl = s->slot ? s->slot[q] : NULL;
            const uint64_t *restrict g = (const uint64_t *)s->seg[q] + soff + b;
            if (sl && sl->holds == HOLDS_FLOATS)
                exact_add_scaled((int64_t *)blk, s->xs[q] + soff + b, sl->scaled, m, first);
            else if (sl && sl->holds == HOLDS_NOTHING)
                continue;
            else if (first)
                memcpy(blk, g, m * sizeof *blk);
            else
                for (size_t j = 0; j < m; j++)
                    blk[j] += g[j];
            first = 0;
        }
        if (first) memset(blk, 0, m * sizeof *blk);
        if (out) {
            convert(out + b * es, (const int64_t *)blk, m, cv);
            if (area) memcpy(area + b * es, out + b * es, m * es);
        } else if (area) {
            convert(area + b * es, (const int64_t *)blk, m, cv);
        }
    }
}

// One chunk of len columns starting at column soff of the segments: the sum as cv says into out
// (the chunk's first element) on the ranks that want it. Collective on the Comm.
static void reduce_chunk(Comm *c, const Reducer *r, const Shared *s, size_t soff, size_t len,
                         int root, const Conv *cv, char *out) {
    int wants = root < 0 || comm_rank(c) == root;
    size_t es = comm_type_size(cv->t);
    size_t per = (len / (size_t)r->node_size + LINE - 1) / LINE * LINE;
    size_t lo = MIN(len, (size_t)r->node_rank * per);
    size_t hi = r->node_rank == r->node_size - 1 ? len : MIN(len, lo + per);
    node_sync(r, s);
    if (r->nodes == 1) {
        // Others want this slice unless the result is the root's alone and this rank is the root.
        int others = r->node_size > 1 && (root < 0 || !wants);
        sum_slice(r, s, soff, lo, hi, cv, wants ? out : NULL, others ? s->area : NULL);
        if (r->node_size == 1) return;
        node_sync(r, s);
        if (wants) {
            memcpy(out, s->area, lo * es);
            memcpy(out + hi * es, s->area + hi * es, (len - hi) * es);
        }
        return;
    }
    sum_slice(r, s, soff, lo, hi, &RAW, NULL, s->area);
    node_sync(r, s);
    if (r->leaders != MPI_COMM_NULL) {
        int me, l = (int)len, lroot = root >= 0 ? r->node_of[root] : -1;
        MPI_CHECK(MPI_Comm_rank(r->leaders, &me));
        if (root < 0) {
            comm_count_mpi(c, len, len, COMM_I64);
            MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, s->area, l, MPI_INT64_T, MPI_SUM, r->leaders));
        } else {
            comm_count_mpi(c, len, me == lroot ? len : 0, COMM_I64);
            MPI_CHECK(MPI_Reduce(me == lroot ? MPI_IN_PLACE : s->area, me == lroot ? s->area : NULL,
                                 l, MPI_INT64_T, MPI_SUM, lroot, r->leaders));
        }
    }
    node_sync(r, s);
    if (wants) convert(out, (const int64_t *)s->area, len, cv);
}

static void reduce_private(Comm *c, int64_t *acc, size_t n, int root) {
    Reducer *r = reducer(c);
    if (r->scratch.cap < MIN(n, REDUCE_CHUNK)) {
        shared_free(&r->scratch);
        shared_alloc(r, &r->scratch, MIN(REDUCE_CHUNK, MAX(n, (size_t)SUM_BLOCK)), 0);
    }
    for (size_t off = 0; off < n; off += REDUCE_CHUNK) {
        size_t len = MIN(REDUCE_CHUNK, n - off);
        memcpy(r->scratch.seg[r->node_rank], acc + off, len * sizeof *acc);
        reduce_chunk(c, r, &r->scratch, 0, len, root, &RAW, (char *)(acc + off));
    }
}

void comm_reduce_sum_i64(Comm *c, int64_t *acc, size_t n, int root, const CommPay *pay) {
    CHECK(n == 0 || acc != NULL, "acc is NULL with n = %zu", n);
    CHECK(root >= 0 && root < comm_size(c), "root %d of %d ranks", root, comm_size(c));
    comm_charge_pay(c, pay);
    // The whole exchange counts as time in MPI: the node-local sums wait at its barriers too.
    double t0 = timer_now_ms();
    reduce_private(c, acc, n, root);
    comm_add_ms(c, timer_now_ms() - t0);
}

void comm_allreduce_sum_i64(Comm *c, int64_t *acc, size_t n, const CommPay *pay) {
    CHECK(n == 0 || acc != NULL, "acc is NULL with n = %zu", n);
    comm_charge_pay(c, pay);
    double t0 = timer_now_ms();
    reduce_private(c, acc, n, -1);
    comm_add_ms(c, timer_now_ms() - t0);
}

// Spins until *v >= target (acquire), yielding the core, since ranks may outnumber cores.
static void await_count(_Atomic uint64_t *v, uint64_t target) {
    for (int spins = 0; atomic_load_explicit(v, memory_order_acquire) < target; spins++)
        if (spins >= 64) sched_yield();
}

// Before this rank's part changes: the readers of every earlier small sum are done with it (the
// barriers of the other path order it by themselves).
static void await_readers(const CommAcc *a) { await_count(&a->sh.flags->consumed, a->readers); }

// A small sum on one node, without barriers: each rank announces its part (release), and the
// ranks that want the result wait for every part, sum all columns and convert them at once. The
// others return at once; their next change waits for the readers (await_readers).
static void reduce_small(CommAcc *a, int root, const Conv *cv, char *out) {
    const Reducer *r = a->r;
    Flags *fl = a->sh.flags;
    int wants = root < 0 || comm_rank(a->c) == root;
    a->small++;
    atomic_fetch_add_explicit(&fl->arrived, 1, memory_order_release);
    if (wants) {
        await_count(&fl->arrived, a->small * (uint64_t)r->node_size);
        sum_slice(r, &a->sh, 0, 0, a->n, cv, out, NULL);
        atomic_fetch_add_explicit(&fl->consumed, 1, memory_order_release);
    }
    a->readers += root < 0 ? (uint64_t)r->node_size : 1;
}

CommAcc *comm_acc_create(Comm *c, size_t n) {
    CommAcc *a = xcalloc(1, sizeof *a);
    a->c = c, a->n = n, a->r = reducer(c);
    a->sh.win = MPI_WIN_NULL;
    shared_alloc(a->r, &a->sh, n, 1);
    a->mine = a->sh.slot[a->r->node_rank];
    a->r->accs++;
    return a;
}

void comm_acc_free(CommAcc *a) {
    if (!a) return;
    await_readers(a);
    shared_free(&a->sh);
    a->r->accs--;
    xfree(a);
}

void comm_acc_clear(CommAcc *a) {
    await_readers(a);
    a->mine->holds = HOLDS_NOTHING;
}

int64_t *comm_acc_ints(CommAcc *a, int e) {
    await_readers(a);
    Slot *sl = a->mine;
    int64_t *acc = a->sh.seg[a->r->node_rank];
    CHECK(sl->holds == HOLDS_NOTHING || sl->e == e,
          "comm_acc: exponent %d after terms at exponent %d", e, sl->e);
    if (sl->holds == HOLDS_NOTHING) memset(acc, 0, a->n * sizeof *acc);
    if (sl->holds == HOLDS_FLOATS) exact_set(acc, a->sh.xs[a->r->node_rank], sl->weight, a->n, e);
    sl->holds = HOLDS_INTS, sl->e = e;
    return acc;
}

void comm_acc_add(CommAcc *a, const float *x, double weight, int e) {
    await_readers(a);
    Slot *sl = a->mine;
    if (sl->holds == HOLDS_NOTHING &&
        exact_copy_fast(a->sh.xs[a->r->node_rank], x, weight, a->n, e)) {
        *sl = (Slot){HOLDS_FLOATS, e, weight, ldexp(weight, e)};
        return;
    }
    // A float vector whose terms leave exact_add's fast path goes in as ints at once, where
    // exact_add's CHECKs name a term that does not fit.
    exact_add(comm_acc_ints(a, e), x, weight, a->n, e);
}

void comm_acc_reduce(CommAcc *a, int root, CommType t, int e, double divisor, void *out,
                     const CommPay *pay) {
    Comm *c = a->c;
    CHECK(root >= -1 && root < comm_size(c), "root %d of %d ranks", root, comm_size(c));
    CHECK(t == COMM_I64 || t == COMM_F32 || t == COMM_F64, "comm_acc_reduce: CommType %d", (int)t);
    CHECK(t == COMM_I64 || (e >= -1023 && e <= 1022), "comm_acc_reduce: exponent %d", e);
    CHECK(a->mine->holds == HOLDS_NOTHING || a->mine->e == e,
          "comm_acc_reduce: exponent %d for terms at exponent %d", e, a->mine->e);
    CHECK(a->n == 0 || out || (root >= 0 && comm_rank(c) != root),
          "comm_acc_reduce: out is NULL on a rank that wants the result");
    comm_charge_pay(c, pay);
    double t0 = timer_now_ms();
    const Conv cv = {t, e, divisor};
    size_t es = comm_type_size(t);
    int P = a->r->node_size;
    if (a->r->nodes == 1 && P > 1 && a->n <= SMALL_COLUMNS)
        reduce_small(a, root, &cv, out);
    else
        for (size_t off = 0; off < a->n; off += REDUCE_CHUNK)
            reduce_chunk(c, a->r, &a->sh, off, MIN(REDUCE_CHUNK, a->n - off), root, &cv,
                         out ? (char *)out + off * es : NULL);
    comm_add_ms(c, timer_now_ms() - t0);
}
