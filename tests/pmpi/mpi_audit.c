// mpi_audit.c - libmpiaudit.so: a copy of every byte a rank hands to MPI to send, taken through the
// profiling interface (PMPI), so that a test can search it for what must never leave a party's host
// (tests/test_audit.c: no raw sample bytes). Preload it into the ranks only, with an absolute path:
//   mpirun -x LD_PRELOAD=$PWD/build/lib/libmpiaudit.so -x MMC_AUDIT_DIR=/tmp/a -np 3 prog
// Without MMC_AUDIT_DIR every wrapper only calls its PMPI_ twin.
//
// What is captured, at the call (a nonblocking send's buffer is captured at the post: MPI may read
// it until completion, and the program must not change it before then):
//   - every send-side buffer on EVERY communicator: the project's "mmcollab", MPI_COMM_WORLD (the
//     configuration broadcast) and HDF5's own duplicates (its collective agreement on checkpoint
//     writes); unlike mpi_count.c there is no filter on the name: what leaves a rank is what it
//     passes to MPI, whichever communicator carries it.
//     Point to point: the send buffer. Bcast: the root's buffer. Reduce, Allreduce, Scan, Exscan,
//     Reduce_scatter(_block): the send vector (MPI_IN_PLACE: the receive buffer, which holds it).
//     Gather(v), Allgather(v): the rank's own block (MPI_IN_PLACE: its block of the receive
//     buffer). Scatter(v) (root), Alltoall(v): every block of the send buffer, the rank's own
//     included (it does not leave the rank, but counting it errs on the safe side).
//   - every MPI-IO write (MPI_File_write*, iwrite*, the split collectives' _begin): parallel HDF5
//     writes the checkpoints through them, and a file on shared storage leaves the host too.
// Not captured (the pipeline uses none): persistent requests, one-sided, neighbourhood
// collectives, Alltoallw. Receives are not captured.
//
// Per world rank r, in MMC_AUDIT_DIR (opened at the first capture, closed at MPI_Finalize):
//   rank_<r>.bin  the captured bytes, call after call, back to back;
//   rank_<r>.idx  one line per capture: "<function> <communicator name or file> <type name> <count>
//                 <bytes> <offset into rank_<r>.bin>" (an unnamed communicator is "-", a derived
//                 type "derived"). Blocks of one call (scatter, alltoall) are one line each.
// A derived datatype is packed (MPI_Pack) into the bytes it sends; a predefined one is copied.
// A write failure is reported on stderr and ends the capture (never the program); not thread safe.
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *bin, *idx;
static uint64_t offset;
static int state; // 0 = not opened yet, 1 = capturing, -1 = off (no MMC_AUDIT_DIR, or a failure)

static void stop(const char *what) {
    fprintf(stderr, "mpi_audit: %s: capture stopped\n", what);
    if (bin) fclose(bin);
    if (idx) fclose(idx);
    bin = idx = NULL;
    state = -1;
}

static int open_files(void) {
    const char *dir = getenv("MMC_AUDIT_DIR");
    int inited = 0, rank = 0;
    if (!dir || !dir[0]) return state = -1, 0;
    PMPI_Initialized(&inited);
    if (!inited) return 0; // before MPI_Init: nothing is sent yet, try again at the next call
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char path[4096];
    snprintf(path, sizeof path, "%s/rank_%d.bin", dir, rank);
    bin = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/rank_%d.idx", dir, rank);
    idx = fopen(path, "w");
    if (!bin || !idx) return stop(path), 0;
    state = 1;
    return 1;
}

static void type_name(MPI_Datatype type, char *name) {
    int len = 0, ni, na, nd, combiner;
    PMPI_Type_get_envelope(type, &ni, &na, &nd, &combiner);
    if (combiner != MPI_COMBINER_NAMED) {
        strcpy(name, "derived");
        return;
    }
    PMPI_Type_get_name(type, name, &len);
    if (len == 0) strcpy(name, "-");
}

// Appends count elements of type at buf (a send buffer as MPI reads it) and its index line.
static void capture(const char *fn, const char *where, const void *buf, int count,
                    MPI_Datatype type) {
    if (count <= 0 || state < 0 || (state == 0 && !open_files())) return;
    char tname[MPI_MAX_OBJECT_NAME + 1];
    type_name(type, tname);
    int size = 0;
    const void *data = buf;
    void *packed = NULL;
    if (strcmp(tname, "derived") == 0) { // gaps and repeats as MPI sends them
        int position = 0;
        PMPI_Pack_size(count, type, MPI_COMM_WORLD, &size);
        packed = malloc((size_t)size + 1);
        if (!packed) return stop("out of memory");
        PMPI_Pack(buf, count, type, packed, size, &position, MPI_COMM_WORLD);
        size = position, data = packed;
    } else {
        PMPI_Type_size(type, &size);
        size *= count; // below INT_MAX: MPI itself takes the count as int
    }
    int ok = fwrite(data, 1, (size_t)size, bin) == (size_t)size &&
             fprintf(idx, "%s %s %s %d %d %llu\n", fn, where, tname, count, size,
                     (unsigned long long)offset) > 0;
    free(packed);
    if (!ok) return stop("write");
    offset += (uint64_t)size;
}

static void capture_comm(const char *fn, MPI_Comm comm, const void *buf, int count,
                         MPI_Datatype type) {
    if (count <= 0 || state < 0) return;
    char name[MPI_MAX_OBJECT_NAME + 1] = "";
    int len = 0;
    PMPI_Comm_get_name(comm, name, &len);
    for (int i = 0; i < len; i++) // the index is space-separated
        if (name[i] == ' ') name[i] = '_';
    capture(fn, len ? name : "-", buf, count, type);
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

static const char *at(const void *buf, MPI_Aint elems, MPI_Datatype type) {
    MPI_Aint lb = 0, extent = 0;
    PMPI_Type_get_extent(type, &lb, &extent);
    return (const char *)buf + elems * extent;
}

// n blocks of count elements each (counts NULL), or of counts[i] at displs[i] elements.
static void capture_blocks(const char *fn, MPI_Comm comm, const void *buf, int count,
                           const int counts[], const int displs[], MPI_Datatype type) {
    int n = size_of(comm);
    for (int i = 0; i < n; i++)
        if (counts)
            capture_comm(fn, comm, at(buf, displs[i], type), counts[i], type);
        else
            capture_comm(fn, comm, at(buf, (MPI_Aint)i * count, type), count, type);
}

// ---- collectives ----

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
    if (rank_in(comm) == root) capture_comm("MPI_Bcast", comm, buf, count, type);
    return PMPI_Bcast(buf, count, type, root, comm);
}
int MPI_Ibcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm, MPI_Request *rq) {
    if (rank_in(comm) == root) capture_comm("MPI_Ibcast", comm, buf, count, type);
    return PMPI_Ibcast(buf, count, type, root, comm, rq);
}

// The send vector of a reduction: in the receive buffer under MPI_IN_PLACE.
#define VEC(s, r) ((s) == MPI_IN_PLACE ? (const void *)(r) : (s))

int MPI_Reduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, int root,
               MPI_Comm comm) {
    capture_comm("MPI_Reduce", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Reduce(sbuf, rbuf, count, type, op, root, comm);
}
int MPI_Ireduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, int root,
                MPI_Comm comm, MPI_Request *rq) {
    capture_comm("MPI_Ireduce", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Ireduce(sbuf, rbuf, count, type, op, root, comm, rq);
}
int MPI_Allreduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm) {
    capture_comm("MPI_Allreduce", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Allreduce(sbuf, rbuf, count, type, op, comm);
}
int MPI_Iallreduce(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                   MPI_Comm comm, MPI_Request *rq) {
    capture_comm("MPI_Iallreduce", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Iallreduce(sbuf, rbuf, count, type, op, comm, rq);
}
int MPI_Scan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
    capture_comm("MPI_Scan", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Scan(sbuf, rbuf, count, type, op, comm);
}
int MPI_Iscan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm,
              MPI_Request *rq) {
    capture_comm("MPI_Iscan", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Iscan(sbuf, rbuf, count, type, op, comm, rq);
}
int MPI_Exscan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
               MPI_Comm comm) {
    capture_comm("MPI_Exscan", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Exscan(sbuf, rbuf, count, type, op, comm);
}
int MPI_Iexscan(const void *sbuf, void *rbuf, int count, MPI_Datatype type, MPI_Op op,
                MPI_Comm comm, MPI_Request *rq) {
    capture_comm("MPI_Iexscan", comm, VEC(sbuf, rbuf), count, type);
    return PMPI_Iexscan(sbuf, rbuf, count, type, op, comm, rq);
}
int MPI_Reduce_scatter(const void *sbuf, void *rbuf, const int rcounts[], MPI_Datatype type,
                       MPI_Op op, MPI_Comm comm) {
    int n = 0;
    for (int i = 0; i < size_of(comm); i++)
        n += rcounts[i];
    capture_comm("MPI_Reduce_scatter", comm, VEC(sbuf, rbuf), n, type);
    return PMPI_Reduce_scatter(sbuf, rbuf, rcounts, type, op, comm);
}
int MPI_Ireduce_scatter(const void *sbuf, void *rbuf, const int rcounts[], MPI_Datatype type,
                        MPI_Op op, MPI_Comm comm, MPI_Request *rq) {
    int n = 0;
    for (int i = 0; i < size_of(comm); i++)
        n += rcounts[i];
    capture_comm("MPI_Ireduce_scatter", comm, VEC(sbuf, rbuf), n, type);
    return PMPI_Ireduce_scatter(sbuf, rbuf, rcounts, type, op, comm, rq);
}
int MPI_Reduce_scatter_block(const void *sbuf, void *rbuf, int rcount, MPI_Datatype type, MPI_Op op,
                             MPI_Comm comm) {
    capture_comm("MPI_Reduce_scatter_block", comm, VEC(sbuf, rbuf), rcount * size_of(comm), type);
    return PMPI_Reduce_scatter_block(sbuf, rbuf, rcount, type, op, comm);
}
int MPI_Ireduce_scatter_block(const void *sbuf, void *rbuf, int rcount, MPI_Datatype type,
                              MPI_Op op, MPI_Comm comm, MPI_Request *rq) {
    capture_comm("MPI_Ireduce_scatter_block", comm, VEC(sbuf, rbuf), rcount * size_of(comm), type);
    return PMPI_Ireduce_scatter_block(sbuf, rbuf, rcount, type, op, comm, rq);
}

// A gather's own block: under MPI_IN_PLACE (root, or everyone for allgather) it sits in the
// receive buffer, at the rank's block (count rcount, or rcounts/displs for the v variants).
static void capture_own(const char *fn, MPI_Comm comm, const void *sbuf, int scount,
                        MPI_Datatype stype, const void *rbuf, int rcount, const int rcounts[],
                        const int displs[], MPI_Datatype rtype) {
    if (sbuf != MPI_IN_PLACE) {
        capture_comm(fn, comm, sbuf, scount, stype);
        return;
    }
    int me = rank_in(comm);
    if (rcounts)
        capture_comm(fn, comm, at(rbuf, displs[me], rtype), rcounts[me], rtype);
    else
        capture_comm(fn, comm, at(rbuf, (MPI_Aint)me * rcount, rtype), rcount, rtype);
}

int MPI_Gather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
               MPI_Datatype rtype, int root, MPI_Comm comm) {
    capture_own("MPI_Gather", comm, sbuf, scount, stype, rbuf, rcount, NULL, NULL, rtype);
    return PMPI_Gather(sbuf, scount, stype, rbuf, rcount, rtype, root, comm);
}
int MPI_Igather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                MPI_Datatype rtype, int root, MPI_Comm comm, MPI_Request *rq) {
    capture_own("MPI_Igather", comm, sbuf, scount, stype, rbuf, rcount, NULL, NULL, rtype);
    return PMPI_Igather(sbuf, scount, stype, rbuf, rcount, rtype, root, comm, rq);
}
int MPI_Gatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, const int rcounts[],
                const int displs[], MPI_Datatype rtype, int root, MPI_Comm comm) {
    capture_own("MPI_Gatherv", comm, sbuf, scount, stype, rbuf, 0, rcounts, displs, rtype);
    return PMPI_Gatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, root, comm);
}
int MPI_Igatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, const int rcounts[],
                 const int displs[], MPI_Datatype rtype, int root, MPI_Comm comm, MPI_Request *rq) {
    capture_own("MPI_Igatherv", comm, sbuf, scount, stype, rbuf, 0, rcounts, displs, rtype);
    return PMPI_Igatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, root, comm, rq);
}
int MPI_Allgather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm) {
    capture_own("MPI_Allgather", comm, sbuf, scount, stype, rbuf, rcount, NULL, NULL, rtype);
    return PMPI_Allgather(sbuf, scount, stype, rbuf, rcount, rtype, comm);
}
int MPI_Iallgather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                   MPI_Datatype rtype, MPI_Comm comm, MPI_Request *rq) {
    capture_own("MPI_Iallgather", comm, sbuf, scount, stype, rbuf, rcount, NULL, NULL, rtype);
    return PMPI_Iallgather(sbuf, scount, stype, rbuf, rcount, rtype, comm, rq);
}
int MPI_Allgatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf,
                   const int rcounts[], const int displs[], MPI_Datatype rtype, MPI_Comm comm) {
    capture_own("MPI_Allgatherv", comm, sbuf, scount, stype, rbuf, 0, rcounts, displs, rtype);
    return PMPI_Allgatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm);
}
int MPI_Iallgatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf,
                    const int rcounts[], const int displs[], MPI_Datatype rtype, MPI_Comm comm,
                    MPI_Request *rq) {
    capture_own("MPI_Iallgatherv", comm, sbuf, scount, stype, rbuf, 0, rcounts, displs, rtype);
    return PMPI_Iallgatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm, rq);
}

int MPI_Scatter(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                MPI_Datatype rtype, int root, MPI_Comm comm) {
    if (rank_in(comm) == root) capture_blocks("MPI_Scatter", comm, sbuf, scount, NULL, NULL, stype);
    return PMPI_Scatter(sbuf, scount, stype, rbuf, rcount, rtype, root, comm);
}
int MPI_Iscatter(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                 MPI_Datatype rtype, int root, MPI_Comm comm, MPI_Request *rq) {
    if (rank_in(comm) == root)
        capture_blocks("MPI_Iscatter", comm, sbuf, scount, NULL, NULL, stype);
    return PMPI_Iscatter(sbuf, scount, stype, rbuf, rcount, rtype, root, comm, rq);
}
int MPI_Scatterv(const void *sbuf, const int scounts[], const int displs[], MPI_Datatype stype,
                 void *rbuf, int rcount, MPI_Datatype rtype, int root, MPI_Comm comm) {
    if (rank_in(comm) == root)
        capture_blocks("MPI_Scatterv", comm, sbuf, 0, scounts, displs, stype);
    return PMPI_Scatterv(sbuf, scounts, displs, stype, rbuf, rcount, rtype, root, comm);
}
int MPI_Iscatterv(const void *sbuf, const int scounts[], const int displs[], MPI_Datatype stype,
                  void *rbuf, int rcount, MPI_Datatype rtype, int root, MPI_Comm comm,
                  MPI_Request *rq) {
    if (rank_in(comm) == root)
        capture_blocks("MPI_Iscatterv", comm, sbuf, 0, scounts, displs, stype);
    return PMPI_Iscatterv(sbuf, scounts, displs, stype, rbuf, rcount, rtype, root, comm, rq);
}

int MPI_Alltoall(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                 MPI_Datatype rtype, MPI_Comm comm) {
    if (sbuf == MPI_IN_PLACE)
        capture_blocks("MPI_Alltoall", comm, rbuf, rcount, NULL, NULL, rtype);
    else
        capture_blocks("MPI_Alltoall", comm, sbuf, scount, NULL, NULL, stype);
    return PMPI_Alltoall(sbuf, scount, stype, rbuf, rcount, rtype, comm);
}
int MPI_Ialltoall(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm, MPI_Request *rq) {
    if (sbuf == MPI_IN_PLACE)
        capture_blocks("MPI_Ialltoall", comm, rbuf, rcount, NULL, NULL, rtype);
    else
        capture_blocks("MPI_Ialltoall", comm, sbuf, scount, NULL, NULL, stype);
    return PMPI_Ialltoall(sbuf, scount, stype, rbuf, rcount, rtype, comm, rq);
}
int MPI_Alltoallv(const void *sbuf, const int scounts[], const int sdispls[], MPI_Datatype stype,
                  void *rbuf, const int rcounts[], const int rdispls[], MPI_Datatype rtype,
                  MPI_Comm comm) {
    if (sbuf == MPI_IN_PLACE)
        capture_blocks("MPI_Alltoallv", comm, rbuf, 0, rcounts, rdispls, rtype);
    else
        capture_blocks("MPI_Alltoallv", comm, sbuf, 0, scounts, sdispls, stype);
    return PMPI_Alltoallv(sbuf, scounts, sdispls, stype, rbuf, rcounts, rdispls, rtype, comm);
}
int MPI_Ialltoallv(const void *sbuf, const int scounts[], const int sdispls[], MPI_Datatype stype,
                   void *rbuf, const int rcounts[], const int rdispls[], MPI_Datatype rtype,
                   MPI_Comm comm, MPI_Request *rq) {
    if (sbuf == MPI_IN_PLACE)
        capture_blocks("MPI_Ialltoallv", comm, rbuf, 0, rcounts, rdispls, rtype);
    else
        capture_blocks("MPI_Ialltoallv", comm, sbuf, 0, scounts, sdispls, stype);
    return PMPI_Ialltoallv(sbuf, scounts, sdispls, stype, rbuf, rcounts, rdispls, rtype, comm, rq);
}

// ---- point to point: the six send modes share one signature ----

#define SEND_WRAPPER(f)                                                                            \
    int MPI_##f(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) { \
        capture_comm("MPI_" #f, comm, buf, count, type);                                           \
        return PMPI_##f(buf, count, type, dest, tag, comm);                                        \
    }
#define ISEND_WRAPPER(f)                                                                           \
    int MPI_##f(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,   \
                MPI_Request *rq) {                                                                 \
        capture_comm("MPI_" #f, comm, buf, count, type);                                           \
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

int MPI_Sendrecv(const void *sbuf, int scount, MPI_Datatype stype, int dest, int stag, void *rbuf,
                 int rcount, MPI_Datatype rtype, int source, int rtag, MPI_Comm comm,
                 MPI_Status *status) {
    capture_comm("MPI_Sendrecv", comm, sbuf, scount, stype);
    return PMPI_Sendrecv(sbuf, scount, stype, dest, stag, rbuf, rcount, rtype, source, rtag, comm,
                         status);
}
int MPI_Sendrecv_replace(void *buf, int count, MPI_Datatype type, int dest, int stag, int source,
                         int rtag, MPI_Comm comm, MPI_Status *status) {
    capture_comm("MPI_Sendrecv_replace", comm, buf, count, type);
    return PMPI_Sendrecv_replace(buf, count, type, dest, stag, source, rtag, comm, status);
}

// ---- MPI-IO writes: "file" in the index ----

#define WRITE_WRAPPER(f)                                                                           \
    int MPI_File_##f(MPI_File fh, const void *buf, int count, MPI_Datatype type,                   \
                     MPI_Status *status) {                                                         \
        capture("MPI_File_" #f, "file", buf, count, type);                                         \
        return PMPI_File_##f(fh, buf, count, type, status);                                        \
    }
#define WRITE_AT_WRAPPER(f)                                                                        \
    int MPI_File_##f(MPI_File fh, MPI_Offset off, const void *buf, int count, MPI_Datatype type,   \
                     MPI_Status *status) {                                                         \
        capture("MPI_File_" #f, "file", buf, count, type);                                         \
        return PMPI_File_##f(fh, off, buf, count, type, status);                                   \
    }
#define IWRITE_WRAPPER(f)                                                                          \
    int MPI_File_##f(MPI_File fh, const void *buf, int count, MPI_Datatype type,                   \
                     MPI_Request *rq) {                                                            \
        capture("MPI_File_" #f, "file", buf, count, type);                                         \
        return PMPI_File_##f(fh, buf, count, type, rq);                                            \
    }
#define IWRITE_AT_WRAPPER(f)                                                                       \
    int MPI_File_##f(MPI_File fh, MPI_Offset off, const void *buf, int count, MPI_Datatype type,   \
                     MPI_Request *rq) {                                                            \
        capture("MPI_File_" #f, "file", buf, count, type);                                         \
        return PMPI_File_##f(fh, off, buf, count, type, rq);                                       \
    }
WRITE_WRAPPER(write)
WRITE_WRAPPER(write_all)
WRITE_WRAPPER(write_shared)
WRITE_WRAPPER(write_ordered)
WRITE_AT_WRAPPER(write_at)
WRITE_AT_WRAPPER(write_at_all)
IWRITE_WRAPPER(iwrite)
IWRITE_WRAPPER(iwrite_all)
IWRITE_WRAPPER(iwrite_shared)
IWRITE_AT_WRAPPER(iwrite_at)
IWRITE_AT_WRAPPER(iwrite_at_all)

int MPI_File_write_all_begin(MPI_File fh, const void *buf, int count, MPI_Datatype type) {
    capture("MPI_File_write_all_begin", "file", buf, count, type);
    return PMPI_File_write_all_begin(fh, buf, count, type);
}
int MPI_File_write_ordered_begin(MPI_File fh, const void *buf, int count, MPI_Datatype type) {
    capture("MPI_File_write_ordered_begin", "file", buf, count, type);
    return PMPI_File_write_ordered_begin(fh, buf, count, type);
}
int MPI_File_write_at_all_begin(MPI_File fh, MPI_Offset off, const void *buf, int count,
                                MPI_Datatype type) {
    capture("MPI_File_write_at_all_begin", "file", buf, count, type);
    return PMPI_File_write_at_all_begin(fh, off, buf, count, type);
}

int MPI_Finalize(void) {
    if (state > 0 && (fclose(bin) != 0) + (fclose(idx) != 0))
        fprintf(stderr, "mpi_audit: error closing the capture files\n");
    bin = idx = NULL;
    state = -1;
    return PMPI_Finalize();
}
