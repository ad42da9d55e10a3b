// comm.c - the communication layer: a named duplicate of the world communicator, the placement,
// byte counts at every call (see comm.h).
#include "comm/comm.h"
#include "comm/comm_internal.h"

#include <limits.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/timer.h"
#include "core/xalloc.h"

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

void comm_count_mpi(Comm *c, size_t sent, size_t recv, CommType t) { count_mpi(c, sent, recv, t); }

void comm_add_ms(Comm *c, double ms) { c->ms += ms; }

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
