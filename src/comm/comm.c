// comm.c - the communication layer: a named duplicate of the world communicator, the placement,
// byte counts at every call (see comm.h).
#include "comm/comm.h"

#include <limits.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/timer.h"
#include "core/xalloc.h"

#define COMM_NAME "mmcollab"

struct Comm {
    MPI_Comm comm;
    int rank, size;
    Placement pl;
    int first, count;
    double *payload;     // (count, 2) bytes per hosted party: up, down
    uint64_t sent, recv; // mpi bytes of this rank
    MPI_Request *req;    // posted nonblocking transfers
    double ms;           // wall time inside MPI calls since the last comm_take_ms
    int n_req, cap_req;
};

Comm *comm_create(MPI_Comm world, int parties) {
    Comm *c = xcalloc(1, sizeof *c);
    MPI_CHECK(MPI_Comm_dup(world, &c->comm));
    MPI_CHECK(MPI_Comm_set_name(c->comm, COMM_NAME));
    MPI_CHECK(MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(c->comm, &c->rank));
    MPI_CHECK(MPI_Comm_size(c->comm, &c->size));
    placement_init(&c->pl, parties, c->size);
    c->count = placement_block(&c->pl, c->rank, &c->first);
    c->payload = xcalloc(2 * (size_t)c->count + 1, sizeof *c->payload);
    return c;
}

void comm_destroy(Comm *c) {
    if (!c) return;
    CHECK(c->n_req == 0, "comm_destroy: %d transfers still posted", c->n_req);
    MPI_CHECK(MPI_Comm_free(&c->comm));
    xfree(c->payload), xfree(c->req);
    xfree(c);
}

int comm_rank(const Comm *c) { return c->rank; }
int comm_size(const Comm *c) { return c->size; }
const Placement *comm_placement(const Comm *c) { return &c->pl; }
MPI_Comm comm_mpi(const Comm *c) { return c->comm; }

int comm_hosted(const Comm *c, int *first) {
    *first = c->first;
    return c->count;
}

static MPI_Datatype mpi_type(CommType t) {
    switch (t) {
    case COMM_U8:
        return MPI_UINT8_T;
    case COMM_I32:
        return MPI_INT32_T;
    case COMM_I64:
        return MPI_INT64_T;
    case COMM_F32:
        return MPI_FLOAT;
    case COMM_F64:
        return MPI_DOUBLE;
    case COMM_CHAR:
        return MPI_CHAR;
    }
    die_at(__FILE__, __LINE__, __func__, "unknown CommType %d", (int)t);
}

size_t comm_type_size(CommType t) {
    static const size_t bytes[] = {1, 4, 8, 4, 8, 1};
    CHECK((int)t >= 0 && (int)t < 6, "unknown CommType %d", (int)t);
    return bytes[t];
}

static MPI_Op mpi_op(CommOp op, CommType t) {
    int integer = t == COMM_U8 || t == COMM_I32 || t == COMM_I64;
    switch (op) {
    case COMM_SUM:
        CHECK(integer, "comm: MPI_SUM over floats depends on the reduction order; reduce exact "
                       "fixed-point sums instead (comm/exact.h)");
        return MPI_SUM;
    case COMM_MIN:
        return MPI_MIN;
    case COMM_MAX:
        return MPI_MAX;
    case COMM_BOR:
        CHECK(integer, "comm: MPI_BOR needs an integer type");
        return MPI_BOR;
    case COMM_LAND:
        CHECK(integer, "comm: MPI_LAND needs an integer type");
        return MPI_LAND;
    }
    die_at(__FILE__, __LINE__, __func__, "unknown CommOp %d", (int)op);
}

static int count_of(size_t n) {
    CHECK(n <= INT_MAX, "comm: %zu elements in one call exceed MPI's int count", n);
    return (int)n;
}

// ---- counts ----

double comm_payload(const Comm *c, int i, CommDir dir) {
    CHECK(i >= 0 && i < c->count, "hosted party %d of %d", i, c->count);
    return c->payload[2 * (size_t)i + dir];
}

void comm_mpi_bytes(const Comm *c, uint64_t *sent, uint64_t *recv) {
    *sent = c->sent, *recv = c->recv;
}

void comm_gather_mpi_totals(Comm *c, uint64_t *out) {
    // This gather passes 2 int64 from every rank and the root receives size of them: count them
    // first, so that the totals include the gather that carries them.
    uint64_t mine[2] = {c->sent + 2 * sizeof(int64_t),
                        c->recv + (c->rank == 0 ? 2 * sizeof(int64_t) * (uint64_t)c->size : 0)};
    comm_gather(c, mine, 2, out, COMM_I64, 0, NULL);
}

void comm_reset_payload(Comm *c) { memset(c->payload, 0, 2 * (size_t)c->count * sizeof(double)); }

void comm_charge(Comm *c, int party, CommDir dir, double bytes) {
    CHECK(party >= c->first && party < c->first + c->count,
          "comm_charge: party %d is not hosted on rank %d", party, c->rank);
    c->payload[2 * (size_t)(party - c->first) + dir] += bytes;
}

static void charge(Comm *c, const CommPay *pay) {
    if (!pay) return;
    for (int i = 0; i < c->count; i++) {
        int p = c->first + i;
        if (pay->who && !pay->who[p]) continue;
        c->payload[2 * (size_t)i + COMM_UP] += pay->up_bytes ? pay->up_bytes[p] : pay->up;
        c->payload[2 * (size_t)i + COMM_DOWN] += pay->down_bytes ? pay->down_bytes[p] : pay->down;
    }
}

void comm_charge_pay(Comm *c, const CommPay *pay) { charge(c, pay); }

static void count_mpi(Comm *c, size_t sent, size_t recv, CommType t) {
    c->sent += (uint64_t)sent * comm_type_size(t);
    c->recv += (uint64_t)recv * comm_type_size(t);
}

// Runs one MPI call and adds its wall time to c->ms (waiting for the other ranks included).
#define TIMED(c, call)                                                                             \
    do {                                                                                           \
        double t0_ = timer_now_ms();                                                               \
        MPI_CHECK(call);                                                                           \
        (c)->ms += timer_now_ms() - t0_;                                                           \
    } while (0)

double comm_take_ms(Comm *c) {
    double ms = c->ms;
    c->ms = 0;
    return ms;
}

// ---- transfers ----

void comm_bcast(Comm *c, void *buf, size_t n, CommType t, int root, const CommPay *pay) {
    charge(c, pay);
    count_mpi(c, c->rank == root ? n : 0, c->rank == root ? 0 : n, t);
    TIMED(c, MPI_Bcast(buf, count_of(n), mpi_type(t), root, c->comm));
}

void comm_allreduce(Comm *c, void *buf, size_t n, CommType t, CommOp op, const CommPay *pay) {
    MPI_Op mop = mpi_op(op, t);
    charge(c, pay);
    count_mpi(c, n, n, t);
    TIMED(c, MPI_Allreduce(MPI_IN_PLACE, buf, count_of(n), mpi_type(t), mop, c->comm));
}

// ---- exact int64 reductions: once per node through shared memory, then across nodes ----
//
// Per chunk, the ranks of a node (MPI_COMM_TYPE_SHARED, or groups of comm_set_reduce_groups) copy
// their accumulators, but for their own slice of the columns, into their segment of a shared
// window; after a barrier each sums its own slice (its private acc plus every other segment) into
// the node's sum segment; after another, the leaders (node rank 0) reduce the node sums across
// nodes with MPI (skipped on one node), and the ranks that want the result copy it out. On one
// node the root keeps its own slice's sum in place. Integer sums in any grouping give the bits
// MPI_SUM gives. Only the leaders' messages pass through MPI: they are counted, on a communicator
// named COMM_NAME so that the PMPI counter sees them too; the node-local part is memory traffic
// and counts nothing. Open MPI's vader moves a message through shared-memory fragments with a
// handshake each, which costs most when ranks outnumber cores; here a chunk costs two barriers.
#define REDUCE_CHUNK ((size_t)1 << 19) // int64 elements per segment: 4 MiB, below INT_MAX
#define SLICE_ALIGN 8                  // slice bounds on 64-byte lines
#define SUM_BLOCK 512                  // columns summed over the segments while in L1

typedef struct {
    MPI_Comm node;    // this rank's node (or group)
    MPI_Comm leaders; // node rank 0 of every node, named COMM_NAME; MPI_COMM_NULL elsewhere
    int node_rank, node_size, nodes;
    int *node_of;  // (size) the leaders' rank of each rank's node
    MPI_Win win;   // MPI_WIN_NULL until the first reduce on a node of several ranks
    size_t cap;    // int64 elements per segment of win
    int64_t **seg; // (node_size) the node ranks' segments
    int64_t *sum;  // the node's sum segment (node rank 0's second half)
} Reducer;

static int reducer_key = MPI_KEYVAL_INVALID;

static void free_window(Reducer *r) {
    if (r->win == MPI_WIN_NULL) return;
    MPI_CHECK(MPI_Win_unlock_all(r->win));
    MPI_CHECK(MPI_Win_free(&r->win));
    r->cap = 0;
}

// Attribute delete callback: MPI_Comm_free (comm_destroy) runs it on every rank together.
static int reducer_delete(MPI_Comm comm, int key, void *attr, void *extra) {
    (void)comm, (void)key, (void)extra;
    Reducer *r = attr;
    free_window(r);
    MPI_CHECK(MPI_Comm_free(&r->node));
    if (r->leaders != MPI_COMM_NULL) MPI_CHECK(MPI_Comm_free(&r->leaders));
    xfree(r->node_of), xfree(r->seg);
    xfree(r);
    return MPI_SUCCESS;
}

// Collective: the node split (group > 0: ranks rank / group together) and the leaders.
static Reducer *reducer_create(Comm *c, int group) {
    Reducer *r = xcalloc(1, sizeof *r);
    if (group > 0)
        MPI_CHECK(MPI_Comm_split(c->comm, c->rank / group, c->rank, &r->node));
    else
        MPI_CHECK(
            MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &r->node));
    MPI_CHECK(MPI_Comm_rank(r->node, &r->node_rank));
    MPI_CHECK(MPI_Comm_size(r->node, &r->node_size));
    MPI_CHECK(MPI_Comm_split(c->comm, r->node_rank == 0 ? 0 : MPI_UNDEFINED, c->rank, &r->leaders));
    int mine = 0;
    if (r->leaders != MPI_COMM_NULL) {
        MPI_CHECK(MPI_Comm_set_name(r->leaders, COMM_NAME));
        MPI_CHECK(MPI_Comm_set_errhandler(r->leaders, MPI_ERRORS_RETURN));
        MPI_CHECK(MPI_Comm_rank(r->leaders, &mine));
        MPI_CHECK(MPI_Comm_size(r->leaders, &r->nodes));
    }
    MPI_CHECK(MPI_Bcast(&mine, 1, MPI_INT, 0, r->node));
    MPI_CHECK(MPI_Bcast(&r->nodes, 1, MPI_INT, 0, r->node));
    r->node_of = xmalloc((size_t)c->size * sizeof *r->node_of);
    count_mpi(c, 1, (size_t)c->size, COMM_I32);
    MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, r->node_of, 1, MPI_INT, c->comm));
    r->seg = xcalloc((size_t)r->node_size, sizeof *r->seg);
    r->win = MPI_WIN_NULL;
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
    MPI_CHECK(MPI_Comm_get_attr(c->comm, key(), &attr, &found));
    if (found) return attr;
    Reducer *r = reducer_create(c, 0);
    MPI_CHECK(MPI_Comm_set_attr(c->comm, key(), r));
    return r;
}

void comm_set_reduce_groups(Comm *c, int ranks_per_group) {
    CHECK(ranks_per_group >= 0, "ranks_per_group = %d", ranks_per_group);
    void *attr;
    int found;
    MPI_CHECK(MPI_Comm_get_attr(c->comm, key(), &attr, &found));
    if (found) MPI_CHECK(MPI_Comm_delete_attr(c->comm, key()));
    MPI_CHECK(MPI_Comm_set_attr(c->comm, key(), reducer_create(c, ranks_per_group)));
}

// Collective on the node: segments of at least len elements (the same len on every rank).
static void ensure_window(Reducer *r, size_t len) {
    if (len <= r->cap) return;
    free_window(r);
    size_t cap = MIN(REDUCE_CHUNK, MAX(len, (size_t)SUM_BLOCK));
    size_t mine = (r->node_rank == 0 ? 2 : 1) * cap; // node rank 0 also holds the sum
    int64_t *base;
    MPI_CHECK(MPI_Win_allocate_shared((MPI_Aint)(mine * sizeof(int64_t)), sizeof(int64_t),
                                      MPI_INFO_NULL, r->node, &base, &r->win));
    MPI_CHECK(MPI_Win_lock_all(MPI_MODE_NOCHECK, r->win));
    for (int q = 0; q < r->node_size; q++) {
        MPI_Aint bytes;
        int unit;
        MPI_CHECK(MPI_Win_shared_query(r->win, q, &bytes, &unit, &r->seg[q]));
    }
    r->sum = r->seg[0] + cap;
    r->cap = cap;
}

// Stores before it are visible to every node rank's loads after it.
static void node_sync(Reducer *r) {
    MPI_CHECK(MPI_Win_sync(r->win));
    MPI_CHECK(MPI_Barrier(r->node));
    MPI_CHECK(MPI_Win_sync(r->win));
}

// own[lo, hi) + Σ_{q != node_rank} seg[q][lo, hi) into out and out2 (either may be NULL, or own),
// wrapping as MPI_SUM's int64 does (no overflow with exact.h's exponents).
static void sum_slice(const Reducer *r, int64_t *out, int64_t *out2, const int64_t *own, size_t lo,
                      size_t hi) {
    for (size_t b = lo; b < hi; b += SUM_BLOCK) {
        size_t m = MIN((size_t)SUM_BLOCK, hi - b);
        uint64_t blk[SUM_BLOCK];
        memcpy(blk, own + b, m * sizeof *blk);
        for (int q = 0; q < r->node_size; q++) {
            if (q == r->node_rank) continue;
            const uint64_t *restrict s = (const uint64_t *)r->seg[q] + b;
            for (size_t j = 0; j < m; j++)
                blk[j] += s[j];
        }
        if (out) memcpy(out + b, blk, m * sizeof *blk);
        if (out2) memcpy(out2 + b, blk, m * sizeof *blk);
    }
}

// The sum of acc over every rank, in acc on root (root >= 0) or on every rank (root < 0). On a
// node, each rank sums its own slice from its private acc and shares only the rest; on a single
// node a rank that wants the result keeps its own slice's sum in place and copies the others'.
static void reduce_i64(Comm *c, int64_t *acc, size_t n, int root) {
    Reducer *r = reducer(c);
    int shared = r->node_size > 1, lroot = root >= 0 ? r->node_of[root] : -1;
    int wants = root < 0 || c->rank == root;
    int direct = wants && r->nodes == 1; // the own slice's sum lands in acc at once
    int share = !direct || root < 0;     // and in the sum segment for the others
    if (shared) ensure_window(r, MIN(n, REDUCE_CHUNK));
    for (size_t off = 0; off < n; off += REDUCE_CHUNK) {
        size_t len = MIN(REDUCE_CHUNK, n - off), lo = 0, hi = 0;
        int64_t *a = acc + off, *node_sum = a; // the node's sum, where the leader reduces it
        if (shared) {
            size_t per = (len / (size_t)r->node_size + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
            lo = MIN(len, (size_t)r->node_rank * per);
            hi = r->node_rank == r->node_size - 1 ? len : MIN(len, lo + per);
            int64_t *mine = r->seg[r->node_rank];
            memcpy(mine, a, lo * sizeof *a);
            memcpy(mine + hi, a + hi, (len - hi) * sizeof *a);
            node_sync(r);
            sum_slice(r, share ? r->sum : NULL, direct ? a : NULL, a, lo, hi);
            node_sync(r);
            node_sum = r->sum;
        }
        if (r->nodes > 1) {
            if (r->leaders != MPI_COMM_NULL) {
                int me, l = (int)len;
                MPI_CHECK(MPI_Comm_rank(r->leaders, &me));
                if (root < 0) {
                    count_mpi(c, len, len, COMM_I64);
                    MPI_CHECK(
                        MPI_Allreduce(MPI_IN_PLACE, node_sum, l, MPI_INT64_T, MPI_SUM, r->leaders));
                } else {
                    count_mpi(c, len, me == lroot ? len : 0, COMM_I64);
                    MPI_CHECK(MPI_Reduce(me == lroot ? MPI_IN_PLACE : node_sum,
                                         me == lroot ? node_sum : NULL, l, MPI_INT64_T, MPI_SUM,
                                         lroot, r->leaders));
                }
            }
            if (shared) node_sync(r);
        }
        if (shared && wants) {
            if (direct) { // the other slices
                memcpy(a, r->sum, lo * sizeof *a);
                memcpy(a + hi, r->sum + hi, (len - hi) * sizeof *a);
            } else {
                memcpy(a, r->sum, len * sizeof *a);
            }
        }
    }
}

void comm_reduce_sum_i64(Comm *c, int64_t *acc, size_t n, int root, const CommPay *pay) {
    CHECK(n == 0 || acc != NULL, "acc is NULL with n = %zu", n);
    CHECK(root >= 0 && root < c->size, "root %d of %d ranks", root, c->size);
    charge(c, pay);
    // The whole exchange counts as time in MPI: the node-local sums wait at its barriers too.
    double t0 = timer_now_ms();
    reduce_i64(c, acc, n, root);
    c->ms += timer_now_ms() - t0;
}

void comm_allreduce_sum_i64(Comm *c, int64_t *acc, size_t n, const CommPay *pay) {
    CHECK(n == 0 || acc != NULL, "acc is NULL with n = %zu", n);
    charge(c, pay);
    double t0 = timer_now_ms();
    reduce_i64(c, acc, n, -1);
    c->ms += timer_now_ms() - t0;
}

void comm_gather(Comm *c, const void *send, size_t n, void *recv, CommType t, int root,
                 const CommPay *pay) {
    charge(c, pay);
    count_mpi(c, n, c->rank == root ? n * (size_t)c->size : 0, t);
    TIMED(c, MPI_Gather(send, count_of(n), mpi_type(t), recv, count_of(n), mpi_type(t), root,
                        c->comm));
}

// counts/displs (size, owned) of each rank's block of per-party elements, in party order; returns
// the total.
static int64_t party_layout(const Comm *c, const int64_t *per_party, int **counts_out,
                            int **displs_out) {
    int *counts = xmalloc((size_t)c->size * sizeof *counts);
    int *displs = xmalloc((size_t)c->size * sizeof *displs);
    int64_t at = 0;
    for (int r = 0; r < c->size; r++) {
        int first, cnt = placement_block(&c->pl, r, &first);
        int64_t n = 0;
        for (int p = first; p < first + cnt; p++) {
            CHECK(per_party[p] >= 0, "party %d: %lld elements", p, (long long)per_party[p]);
            n += per_party[p];
        }
        CHECK(at + n <= INT_MAX, "comm: %lld elements gathered exceed MPI's int count",
              (long long)(at + n));
        counts[r] = (int)n, displs[r] = (int)at;
        at += n;
    }
    *counts_out = counts, *displs_out = displs;
    return at;
}

void comm_gather_parties(Comm *c, const void *send, const int64_t *per_party, void *recv,
                         CommType t, const CommPay *pay) {
    int *counts, *displs;
    int64_t total = party_layout(c, per_party, &counts, &displs);
    charge(c, pay);
    count_mpi(c, (size_t)counts[c->rank], c->rank == 0 ? (size_t)total : 0, t);
    static const uint8_t dummy[8]; // a rank with nothing to send still passes a buffer
    TIMED(c, MPI_Gatherv(counts[c->rank] ? send : dummy, counts[c->rank], mpi_type(t), recv, counts,
                         displs, mpi_type(t), 0, c->comm));
    xfree(counts), xfree(displs);
}

void comm_scatter_parties(Comm *c, const void *send, const int64_t *per_party, void *recv,
                          CommType t, const CommPay *pay) {
    int *counts, *displs;
    int64_t total = party_layout(c, per_party, &counts, &displs);
    charge(c, pay);
    count_mpi(c, c->rank == 0 ? (size_t)total : 0, (size_t)counts[c->rank], t);
    static uint8_t dummy[8];
    TIMED(c, MPI_Scatterv(send, counts, displs, mpi_type(t), counts[c->rank] ? recv : dummy,
                          counts[c->rank], mpi_type(t), 0, c->comm));
    xfree(counts), xfree(displs);
}

static MPI_Request *next_request(Comm *c) {
    if (c->n_req == c->cap_req) {
        int cap = c->cap_req ? 2 * c->cap_req : 16;
        MPI_Request *bigger = xmalloc((size_t)cap * sizeof *bigger);
        if (c->n_req) memcpy(bigger, c->req, (size_t)c->n_req * sizeof *bigger);
        xfree(c->req);
        c->req = bigger, c->cap_req = cap;
    }
    return &c->req[c->n_req++];
}

void comm_isend(Comm *c, const void *buf, size_t n, CommType t, int dest, int tag,
                const CommPay *pay) {
    charge(c, pay);
    count_mpi(c, n, 0, t);
    TIMED(c, MPI_Isend(buf, count_of(n), mpi_type(t), dest, tag, c->comm, next_request(c)));
}

void comm_irecv(Comm *c, void *buf, size_t n, CommType t, int src, int tag, const CommPay *pay) {
    charge(c, pay);
    count_mpi(c, 0, n, t);
    TIMED(c, MPI_Irecv(buf, count_of(n), mpi_type(t), src, tag, c->comm, next_request(c)));
}

void comm_wait_all(Comm *c) {
    TIMED(c, MPI_Waitall(c->n_req, c->req, MPI_STATUSES_IGNORE));
    c->n_req = 0;
}

void comm_barrier(Comm *c) { TIMED(c, MPI_Barrier(c->comm)); }
