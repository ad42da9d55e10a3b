// mpi_count.c - libmpicount.so: an independent count of the bytes a program passes to MPI, taken
// through the profiling interface (PMPI), to check the pipeline's own "mpi_bytes" counters against.
// Preload it into the ranks only (mpirun's -x), with an absolute path:
//   mpirun -x LD_PRELOAD=$PWD/build/lib/libmpicount.so -x MMC_MPI_COUNT_DIR=/tmp/c -np 3 prog
// Every MPI_ function below counts, then calls its PMPI_ twin. Only operations on a communicator
// named exactly "mmcollab" (MPI_Comm_set_name) count. HDF5 works on its own MPI_Comm_dup of the
// communicator it is given, and under Open MPI 4.1 a duplicate (dup, idup, dup_with_info, split)
// starts unnamed; count_probe checks both, so dups need no wrapper here.
// The rule, per calling rank: bytes = count x MPI_Type_size; sent/recv = what the rank passes in
// its send/receive buffer. Point to point: sent at the send, recv the posted count at the receive.
// Bcast: root sent n, the others recv n. Reduce: all sent n, root recv n. Allreduce, Scan,
// Exscan: sent n, recv n. Gather(v): sent own block, root recv every block; Scatter(v) mirrors it.
// Allgather(v): sent own block, recv every block. Alltoall(v): sent and recv every block.
// Reduce_scatter(_block): sent the whole vector, recv own block. Barriers: calls only. MPI_IN_PLACE
// zeroes the side whose arguments MPI then ignores (gathers, scatters, alltoalls), never a
// reduction's sent. Nonblocking twins count like the blocking ones, at the post.
// At MPI_Finalize, with MMC_MPI_COUNT_DIR set, world rank r writes $MMC_MPI_COUNT_DIR/rank_<r>.txt:
//   sent <bytes>, recv <bytes>, then "<function> calls <n> sent <bytes> recv <bytes>" per function
//   called. Not counted (the pipeline uses none): persistent requests, MPI_Mrecv, Alltoallw,
// neighbourhood collectives, one-sided, MPI-IO. Intracommunicators only; not thread safe.
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_COMM_NAME "mmcollab"
#define ALL_RANKS (-1) /* "root" of a collective where every rank receives (Allreduce, ...) */

// Every counted function, in report order (clang-format reflows X-macro lists differently on
// each pass, so it leaves this one alone).
// clang-format off
#define FUNCTIONS(X)                                                                               \
    X(Bcast) X(Ibcast) X(Reduce) X(Ireduce) X(Allreduce) X(Iallreduce) X(Gather) X(Igather)        \
    X(Gatherv) X(Igatherv) X(Scatter) X(Iscatter) X(Scatterv) X(Iscatterv) X(Allgather)            \
    X(Iallgather) X(Allgatherv) X(Iallgatherv) X(Alltoall) X(Ialltoall) X(Alltoallv)               \
    X(Ialltoallv) X(Reduce_scatter) X(Ireduce_scatter) X(Reduce_scatter_block)                     \
    X(Ireduce_scatter_block) X(Scan) X(Iscan) X(Exscan) X(Iexscan) X(Send) X(Ssend) X(Rsend)       \
    X(Bsend) X(Isend) X(Issend) X(Ibsend) X(Irsend) X(Recv) X(Irecv) X(Sendrecv)                   \
    X(Sendrecv_replace) X(Barrier) X(Ibarrier)
// clang-format on
#define AS_ENUM(f) F_##f,
#define AS_NAME(f) "MPI_" #f,
enum { FUNCTIONS(AS_ENUM) F_COUNT };
static const char *const fn_name[F_COUNT] = {FUNCTIONS(AS_NAME)};
static struct { uint64_t calls, sent, recv; } tally[F_COUNT];

// The name is read on every call: a cache keyed by handle would go stale when a freed
// communicator's handle is reused, and MPI_Comm_get_name is a string copy.
static int named(MPI_Comm comm) {
    char name[MPI_MAX_OBJECT_NAME] = "";
    int len = 0;
    return comm != MPI_COMM_NULL && PMPI_Comm_get_name(comm, name, &len) == MPI_SUCCESS &&
           strcmp(name, COUNT_COMM_NAME) == 0;
}

// A zero count never looks at its type, which may then be anything (MPI_DATATYPE_NULL).
static uint64_t bytes(int count, MPI_Datatype type) {
    MPI_Count size = 0;
    if (count <= 0) return 0;
    PMPI_Type_size_x(type, &size);
    return (uint64_t)count * (uint64_t)size;
}

// n blocks of count each, or of counts[i] when counts is given.
static uint64_t blocks(int count, const int counts[], int n, MPI_Datatype type) {
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += bytes(counts ? counts[i] : count, type);
    return sum;
}

static int rank_in(MPI_Comm comm) {
    int rank = 0;
    PMPI_Comm_rank(comm, &rank);
    return rank;
}

static int size_of(MPI_Comm comm) {
    int size = 0;
    PMPI_Comm_size(comm, &size);
    return size;
}

static void add(int f, uint64_t sent, uint64_t recv) {
    tally[f].calls++;
    tally[f].sent += sent;
    tally[f].recv += recv;
}

// ---- the rule, one function per shape of call ----

static void count_p2p(int f, MPI_Comm comm, int scount, MPI_Datatype stype, int rcount,
                      MPI_Datatype rtype) {
    if (named(comm)) add(f, bytes(scount, stype), bytes(rcount, rtype));
}

static void count_bcast(int f, int count, MPI_Datatype type, int root, MPI_Comm comm) {
    if (!named(comm)) return;
    int is_root = rank_in(comm) == root;
    add(f, is_root ? bytes(count, type) : 0, is_root ? 0 : bytes(count, type));
}

// Reduce (root given), Allreduce, Scan, Exscan (ALL_RANKS): everyone passes its vector.
static void count_reduce(int f, int count, MPI_Datatype type, int root, MPI_Comm comm) {
    if (!named(comm)) return;
    int gets = root == ALL_RANKS || rank_in(comm) == root;
    add(f, bytes(count, type), gets ? bytes(count, type) : 0);
}

// Gather(v) (root given), Allgather(v) (ALL_RANKS); rcounts NULL for the fixed-size variants.
static void count_gather(int f, const void *sbuf, int scount, MPI_Datatype stype, int rcount,
                         const int rcounts[], MPI_Datatype rtype, int root, MPI_Comm comm) {
    if (!named(comm)) return;
    int gets = root == ALL_RANKS || rank_in(comm) == root;
    add(f, sbuf == MPI_IN_PLACE ? 0 : bytes(scount, stype),
        gets ? blocks(rcount, rcounts, size_of(comm), rtype) : 0);
}

static void count_scatter(int f, int scount, const int scounts[], MPI_Datatype stype,
                          const void *rbuf, int rcount, MPI_Datatype rtype, int root,
                          MPI_Comm comm) {
    if (!named(comm)) return;
    int is_root = rank_in(comm) == root;
    add(f, is_root ? blocks(scount, scounts, size_of(comm), stype) : 0,
        rbuf == MPI_IN_PLACE ? 0 : bytes(rcount, rtype));
}

static void count_alltoall(int f, const void *sbuf, int scount, const int scounts[],
                           MPI_Datatype stype, int rcount, const int rcounts[], MPI_Datatype rtype,
                           MPI_Comm comm) {
    if (!named(comm)) return;
    int n = size_of(comm);
    add(f, sbuf == MPI_IN_PLACE ? 0 : blocks(scount, scounts, n, stype),
        blocks(rcount, rcounts, n, rtype));
}

// Reduce_scatter (rcounts) and Reduce_scatter_block (rcount each).
static void count_reduce_scatter(int f, int rcount, const int rcounts[], MPI_Datatype type,
                                 MPI_Comm comm) {
    if (!named(comm)) return;
    int own = rcounts ? rcounts[rank_in(comm)] : rcount;
    add(f, blocks(rcount, rcounts, size_of(comm), type), bytes(own, type));
}

// ---- the wrappers: count, then the PMPI_ twin ----

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
    count_bcast(F_Bcast, count, type, root, comm);
    return PMPI_Bcast(buf, count, type, root, comm);
}
int MPI_Ibcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm, MPI_Request *rq) {
    count_bcast(F_Ibcast, count, type, root, comm);
    return PMPI_Ibcast(buf, count, type, root, comm, rq);
}

int MPI_Reduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, int root,
               MPI_Comm comm) {
    count_reduce(F_Reduce, count, type, root, comm);
    return PMPI_Reduce(sbuf, rbuf, count, type, op, root, comm);
}
int MPI_Ireduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, int root,
                MPI_Comm comm, MPI_Request *rq) {
    count_reduce(F_Ireduce, count, type, root, comm);
    return PMPI_Ireduce(sbuf, rbuf, count, type, op, root, comm, rq);
}
int MPI_Allreduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm) {
    count_reduce(F_Allreduce, count, type, ALL_RANKS, comm);
    return PMPI_Allreduce(sbuf, rbuf, count, type, op, comm);
}
int MPI_Iallreduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                   MPI_Comm comm, MPI_Request *rq) {
    count_reduce(F_Iallreduce, count, type, ALL_RANKS, comm);
    return PMPI_Iallreduce(sbuf, rbuf, count, type, op, comm, rq);
}
int MPI_Scan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
    count_reduce(F_Scan, count, type, ALL_RANKS, comm);
    return PMPI_Scan(sbuf, rbuf, count, type, op, comm);
}
int MPI_Iscan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm,
              MPI_Request *rq) {
    count_reduce(F_Iscan, count, type, ALL_RANKS, comm);
    return PMPI_Iscan(sbuf, rbuf, count, type, op, comm, rq);
}
int MPI_Exscan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
               MPI_Comm comm) {
    count_reduce(F_Exscan, count, type, ALL_RANKS, comm);
    return PMPI_Exscan(sbuf, rbuf, count, type, op, comm);
}
int MPI_Iexscan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                MPI_Comm comm, MPI_Request *rq) {
    count_reduce(F_Iexscan, count, type, ALL_RANKS, comm);
    return PMPI_Iexscan(sbuf, rbuf, count, type, op, comm, rq);
}

int MPI_Gather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
               MPI_Datatype rtype, int root, MPI_Comm comm) {
    count_gather(F_Gather, sbuf, scount, stype, rcount, NULL, rtype, root, comm);
    return PMPI_Gather(sbuf, scount, stype, rbuf, rcount, rtype, root, comm);
}
int MPI_Igather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                MPI_Datatype rtype, int root, MPI_Comm comm, MPI_Request *rq) {
    count_gather(F_Igather, sbuf, scount, stype, rcount, NULL, rtype, root, comm);
    return PMPI_Igather(sbuf, scount, stype, rbuf, rcount, rtype, root, comm, rq);
}
int MPI_Gatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, const int rcounts[],
                const int displs[], MPI_Datatype rtype, int root, MPI_Comm comm) {
    count_gather(F_Gatherv, sbuf, scount, stype, 0, rcounts, rtype, root, comm);
    return PMPI_Gatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, root, comm);
}
int MPI_Igatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, const int rcounts[],
                 const int displs[], MPI_Datatype rtype, int root, MPI_Comm comm, MPI_Request *rq) {
    count_gather(F_Igatherv, sbuf, scount, stype, 0, rcounts, rtype, root, comm);
    return PMPI_Igatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, root, comm, rq);
}
int MPI_Allgather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm) {
    count_gather(F_Allgather, sbuf, scount, stype, rcount, NULL, rtype, ALL_RANKS, comm);
    return PMPI_Allgather(sbuf, scount, stype, rbuf, rcount, rtype, comm);
}
int MPI_Iallgather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                   MPI_Datatype rtype, MPI_Comm comm, MPI_Request *rq) {
    count_gather(F_Iallgather, sbuf, scount, stype, rcount, NULL, rtype, ALL_RANKS, comm);
    return PMPI_Iallgather(sbuf, scount, stype, rbuf, rcount, rtype, comm, rq);
}
int MPI_Allgatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf,
                   const int rcounts[], const int displs[], MPI_Datatype rtype, MPI_Comm comm) {
    count_gather(F_Allgatherv, sbuf, scount, stype, 0, rcounts, rtype, ALL_RANKS, comm);
    return PMPI_Allgatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm);
}
int MPI_Iallgatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf,
                    const int rcounts[], const int displs[], MPI_Datatype rtype, MPI_Comm comm,
                    MPI_Request *rq) {
    count_gather(F_Iallgatherv, sbuf, scount, stype, 0, rcounts, rtype, ALL_RANKS, comm);
    return PMPI_Iallgatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm, rq);
}

int MPI_Scatter(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                MPI_Datatype rtype, int root, MPI_Comm comm) {
    count_scatter(F_Scatter, scount, NULL, stype, rbuf, rcount, rtype, root, comm);
    return PMPI_Scatter(sbuf, scount, stype, rbuf, rcount, rtype, root, comm);
}
int MPI_Iscatter(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                 MPI_Datatype rtype, int root, MPI_Comm comm, MPI_Request *rq) {
    count_scatter(F_Iscatter, scount, NULL, stype, rbuf, rcount, rtype, root, comm);
    return PMPI_Iscatter(sbuf, scount, stype, rbuf, rcount, rtype, root, comm, rq);
}
int MPI_Scatterv(const void *sbuf, const int scounts[], const int displs[], MPI_Datatype stype,
                 void *rbuf, int rcount, MPI_Datatype rtype, int root, MPI_Comm comm) {
    count_scatter(F_Scatterv, 0, scounts, stype, rbuf, rcount, rtype, root, comm);
    return PMPI_Scatterv(sbuf, scounts, displs, stype, rbuf, rcount, rtype, root, comm);
}
int MPI_Iscatterv(const void *sbuf, const int scounts[], const int displs[], MPI_Datatype stype,
                  void *rbuf, int rcount, MPI_Datatype rtype, int root, MPI_Comm comm,
                  MPI_Request *rq) {
    count_scatter(F_Iscatterv, 0, scounts, stype, rbuf, rcount, rtype, root, comm);
    return PMPI_Iscatterv(sbuf, scounts, displs, stype, rbuf, rcount, rtype, root, comm, rq);
}

int MPI_Alltoall(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                 MPI_Datatype rtype, MPI_Comm comm) {
    count_alltoall(F_Alltoall, sbuf, scount, NULL, stype, rcount, NULL, rtype, comm);
    return PMPI_Alltoall(sbuf, scount, stype, rbuf, rcount, rtype, comm);
}
int MPI_Ialltoall(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm, MPI_Request *rq) {
    count_alltoall(F_Ialltoall, sbuf, scount, NULL, stype, rcount, NULL, rtype, comm);
    return PMPI_Ialltoall(sbuf, scount, stype, rbuf, rcount, rtype, comm, rq);
}
int MPI_Alltoallv(const void *sbuf, const int scounts[], const int sdispls[], MPI_Datatype stype,
                  void *rbuf, const int rcounts[], const int rdispls[], MPI_Datatype rtype,
                  MPI_Comm comm) {
    count_alltoall(F_Alltoallv, sbuf, 0, scounts, stype, 0, rcounts, rtype, comm);
    return PMPI_Alltoallv(sbuf, scounts, sdispls, stype, rbuf, rcounts, rdispls, rtype, comm);
}
int MPI_Ialltoallv(const void *sbuf, const int scounts[], const int sdispls[], MPI_Datatype stype,
                   void *rbuf, const int rcounts[], const int rdispls[], MPI_Datatype rtype,
                   MPI_Comm comm, MPI_Request *rq) {
    count_alltoall(F_Ialltoallv, sbuf, 0, scounts, stype, 0, rcounts, rtype, comm);
    return PMPI_Ialltoallv(sbuf, scounts, sdispls, stype, rbuf, rcounts, rdispls, rtype, comm, rq);
}

int MPI_Reduce_scatter(const void *sbuf, void *rbuf, const int rcounts[], MPI_Datatype type,
                       MPI_Op op, MPI_Comm comm) {
    count_reduce_scatter(F_Reduce_scatter, 0, rcounts, type, comm);
    return PMPI_Reduce_scatter(sbuf, rbuf, rcounts, type, op, comm);
}
int MPI_Ireduce_scatter(const void *sbuf, void *rbuf, const int rcounts[], MPI_Datatype type,
                        MPI_Op op, MPI_Comm comm, MPI_Request *rq) {
    count_reduce_scatter(F_Ireduce_scatter, 0, rcounts, type, comm);
    return PMPI_Ireduce_scatter(sbuf, rbuf, rcounts, type, op, comm, rq);
}
int MPI_Reduce_scatter_block(const void *sbuf, void *rbuf, int rcount, MPI_Datatype type, MPI_Op op,
                             MPI_Comm comm) {
    count_reduce_scatter(F_Reduce_scatter_block, rcount, NULL, type, comm);
    return PMPI_Reduce_scatter_block(sbuf, rbuf, rcount, type, op, comm);
}
int MPI_Ireduce_scatter_block(const void *sbuf, void *rbuf, int rcount, MPI_Datatype type,
                              MPI_Op op, MPI_Comm comm, MPI_Request *rq) {
    count_reduce_scatter(F_Ireduce_scatter_block, rcount, NULL, type, comm);
    return PMPI_Ireduce_scatter_block(sbuf, rbuf, rcount, type, op, comm, rq);
}

// Point to point: the six send modes share one signature, the two receives another.
#define SEND_WRAPPER(f)                                                                            \
    int MPI_##f(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) { \
        count_p2p(F_##f, comm, count, type, 0, MPI_DATATYPE_NULL);                                 \
        return PMPI_##f(buf, count, type, dest, tag, comm);                                        \
    }
#define ISEND_WRAPPER(f)                                                                           \
    int MPI_##f(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,   \
                MPI_Request *rq) {                                                                 \
        count_p2p(F_##f, comm, count, type, 0, MPI_DATATYPE_NULL);                                 \
        return PMPI_##f(buf, count, type, dest, tag, comm, rq);                                    \
    }
SEND_WRAPPER(Send)
SEND_WRAPPER(Ssend)
SEND_WRAPPER(Rsend)
SEND_WRAPPER(Bsend)
ISEND_WRAPPER(Isend)
ISEND_WRAPPER(Issend)
ISEND_WRAPPER(Ibsend)
ISEND_WRAPPER(Irsend)

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
             MPI_Status *status) {
    count_p2p(F_Recv, comm, 0, MPI_DATATYPE_NULL, count, type);
    return PMPI_Recv(buf, count, type, source, tag, comm, status);
}
int MPI_Irecv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
              MPI_Request *rq) {
    count_p2p(F_Irecv, comm, 0, MPI_DATATYPE_NULL, count, type);
    return PMPI_Irecv(buf, count, type, source, tag, comm, rq);
}
int MPI_Sendrecv(const void *sbuf, int scount, MPI_Datatype stype, int dest, int stag, void *rbuf,
                 int rcount, MPI_Datatype rtype, int source, int rtag, MPI_Comm comm,
                 MPI_Status *status) {
    count_p2p(F_Sendrecv, comm, scount, stype, rcount, rtype);
    return PMPI_Sendrecv(sbuf, scount, stype, dest, stag, rbuf, rcount, rtype, source, rtag, comm,
                         status);
}
int MPI_Sendrecv_replace(void *buf, int count, MPI_Datatype type, int dest, int stag, int source,
                         int rtag, MPI_Comm comm, MPI_Status *status) {
    count_p2p(F_Sendrecv_replace, comm, count, type, count, type);
    return PMPI_Sendrecv_replace(buf, count, type, dest, stag, source, rtag, comm, status);
}

int MPI_Barrier(MPI_Comm comm) {
    count_p2p(F_Barrier, comm, 0, MPI_DATATYPE_NULL, 0, MPI_DATATYPE_NULL);
    return PMPI_Barrier(comm);
}
int MPI_Ibarrier(MPI_Comm comm, MPI_Request *rq) {
    count_p2p(F_Ibarrier, comm, 0, MPI_DATATYPE_NULL, 0, MPI_DATATYPE_NULL);
    return PMPI_Ibarrier(comm, rq);
}

// ---- the report ----

// Written to a temporary name and renamed, so a reader never sees half a file. A failure is
// reported but does not stop the program: counting must not change how it ends.
static void write_report(const char *dir) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/rank_%d.txt", dir, rank_in(MPI_COMM_WORLD));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "mpi_count: cannot write %s\n", tmp);
        return;
    }
    uint64_t sent = 0, recv = 0;
    for (int i = 0; i < F_COUNT; i++)
        sent += tally[i].sent, recv += tally[i].recv;
    fprintf(f, "sent %llu\nrecv %llu\n", (unsigned long long)sent, (unsigned long long)recv);
    for (int i = 0; i < F_COUNT; i++)
        if (tally[i].calls > 0)
            fprintf(f, "%s calls %llu sent %llu recv %llu\n", fn_name[i],
                    (unsigned long long)tally[i].calls, (unsigned long long)tally[i].sent,
                    (unsigned long long)tally[i].recv);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "mpi_count: cannot write %s\n", path);
}

int MPI_Finalize(void) {
    const char *dir = getenv("MMC_MPI_COUNT_DIR");
    if (dir && dir[0]) write_report(dir);
    return PMPI_Finalize();
}
