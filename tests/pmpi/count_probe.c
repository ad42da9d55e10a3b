// count_probe.c - known MPI traffic for libmpicount.so (mpi_count.c) to count; test_mpi_count.c
// runs it under mpirun with the library preloaded and compares the two.
//   count_probe [dups]      (MMC_MPI_COUNT_DIR set; 2 to PROBE_MAX_RANKS ranks)
// On a duplicate of MPI_COMM_WORLD named "mmcollab" it calls every function the library counts,
// with uneven sizes per rank, MPI_IN_PLACE variants and zero counts, and adds up what this rank
// passed by the library's rule (its file header). Then traffic that must not count: on an unnamed
// duplicate, on MPI_COMM_WORLD, on duplicates of the named communicator, and a collective HDF5
// write through the named one. With "dups" it does only the latter, expecting nothing.
// Rank r writes $MMC_MPI_COUNT_DIR/expect_<r>.txt: "sent <bytes>", "recv <bytes>", one
// "<function> calls <n> sent <bytes> recv <bytes>" line per function, and "inherited <k>": how
// many duplicates of the named communicator (dup, idup, dup_with_info, split) kept its name.
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MAX_RANKS 16 /* the buffers below are sized for this many */
#define BUF_DOUBLES 4096   /* every call's buffer fits: at most ~3 * PROBE_MAX_RANKS^2 */
#define MAX_FUNCTIONS 64
#define NOISE 1001 /* elements per call on the uncounted communicators: stands out if counted */

static MPI_Comm cm; // the named communicator
static int me, np;
static double sb[BUF_DOUBLES], rb[BUF_DOUBLES]; // send and receive buffers; contents do not matter
static MPI_Datatype tri;                        // 3 shorts: a derived type of 6 bytes

static struct {
    const char *fn;
    uint64_t calls, sent, recv;
} want[MAX_FUNCTIONS];
static int n_want;

static void need(int ok, const char *what) {
    if (ok) return;
    fprintf(stderr, "count_probe: rank %d: %s failed\n", me, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

// Records that function fn, called once, passed sent and recv bytes on this rank.
static void expect(const char *fn, uint64_t sent, uint64_t recv) {
    int i = 0;
    while (i < n_want && strcmp(want[i].fn, fn) != 0)
        i++;
    need(i < MAX_FUNCTIONS, "the expectation table");
    if (i == n_want) want[n_want++].fn = fn;
    want[i].calls++, want[i].sent += sent, want[i].recv += recv;
}

static uint64_t tsize(MPI_Datatype t) {
    int s = 0;
    MPI_Type_size(t, &s);
    return (uint64_t)s;
}

// Sum of c[0..np-1], and displacements packing the blocks one after another.
static uint64_t total(const int c[], int displs[]) {
    uint64_t s = 0;
    for (int i = 0; i < np; i++)
        displs[i] = (int)s, s += (uint64_t)c[i];
    return s;
}

// The blocking collective f, or with nb its nonblocking twin nbf and a wait; then what this rank
// passed by the rule.
#define COLL(nb, f, nbf, sent, recv, ...)                                                          \
    do {                                                                                           \
        MPI_Request rq_;                                                                           \
        if (nb) {                                                                                  \
            MPI_##nbf(__VA_ARGS__, &rq_);                                                          \
            MPI_Wait(&rq_, MPI_STATUS_IGNORE);                                                     \
        } else {                                                                                   \
            MPI_##f(__VA_ARGS__);                                                                  \
        }                                                                                          \
        expect((nb) ? "MPI_" #nbf : "MPI_" #f, (sent), (recv));                                    \
    } while (0)
#define IP(cond, buf) ((cond) ? MPI_IN_PLACE : (void *)(buf)) /* in place when cond */

// Every collective and its nonblocking twin; sizes differ between the two and between ranks.
static void collectives(int nb) {
    const uint64_t bd = tsize(MPI_DOUBLE), bi = tsize(MPI_INT), bt = tsize(tri); // bytes each
    int root = nb ? np - 1 : 0, other = nb ? 0 : 1 % np, is_root = me == root;
    int c[PROBE_MAX_RANKS], c2[PROBE_MAX_RANKS], d[PROBE_MAX_RANKS], d2[PROBE_MAX_RANKS];
    int n = 5 + nb;
    COLL(nb, Bcast, Ibcast, is_root ? n * bd : 0, is_root ? 0 : n * bd, sb, n, MPI_DOUBLE, root,
         cm);
    n = 3 + nb; // Reduce: the root in place too, still "sent"
    int ip = !nb && me == other;
    COLL(nb, Reduce, Ireduce, n * bi, me == other ? n * bi : 0, IP(ip, sb), rb, n, MPI_INT, MPI_SUM,
         other, cm);
    n = 4 + nb;
    COLL(nb, Allreduce, Iallreduce, n * bd, n * bd, IP(nb, sb), rb, n, MPI_DOUBLE, MPI_SUM, cm);
    n = 3 + nb;
    COLL(nb, Scan, Iscan, n * bi, n * bi, sb, rb, n, MPI_INT, MPI_SUM, cm);
    n = 2 + nb;
    COLL(nb, Exscan, Iexscan, n * bd, n * bd, sb, rb, n, MPI_DOUBLE, MPI_SUM, cm);

    n = 2 + nb, ip = !nb && is_root;
    COLL(nb, Gather, Igather, ip ? 0 : n * bt, is_root ? n * bt * np : 0, IP(ip, sb), n, tri, rb, n,
         tri, root, cm);
    for (int i = 0; i < np; i++)
        c[i] = i + 1 + nb;
    uint64_t all = total(c, d);
    ip = nb && is_root;
    COLL(nb, Gatherv, Igatherv, ip ? 0 : c[me] * bd, is_root ? all * bd : 0, IP(ip, sb), c[me],
         MPI_DOUBLE, rb, c, d, MPI_DOUBLE, root, cm);
    n = 3 + nb, ip = !nb && is_root;
    COLL(nb, Scatter, Iscatter, is_root ? n * bi * np : 0, ip ? 0 : n * bi, sb, n, MPI_INT,
         IP(ip, rb), n, MPI_INT, root, cm);
    for (int i = 0; i < np; i++)
        c[i] = 2 * i + 1 + nb;
    all = total(c, d), ip = nb && is_root;
    COLL(nb, Scatterv, Iscatterv, is_root ? all * bt : 0, ip ? 0 : c[me] * bt, sb, c, d, tri,
         IP(ip, rb), c[me], tri, root, cm);
    n = 1 + nb;
    COLL(nb, Allgather, Iallgather, nb ? n * bd : 0, n * bd * np, IP(!nb, sb), n, MPI_DOUBLE, rb, n,
         MPI_DOUBLE, cm);
    for (int i = 0; i < np; i++)
        c[i] = i + 2 + nb;
    all = total(c, d);
    COLL(nb, Allgatherv, Iallgatherv, nb ? 0 : c[me] * bi, all * bi, IP(nb, sb), c[me], MPI_INT, rb,
         c, d, MPI_INT, cm);

    n = 2 + nb; // Alltoall in place only blocking: the nonblocking one may not support it
    COLL(nb, Alltoall, Ialltoall, nb ? n * bi * np : 0, n * bi * np, IP(!nb, sb), n, MPI_INT, rb, n,
         MPI_INT, cm);
    for (int j = 0; j < np; j++)
        c[j] = me + 2 * j + 1 + nb, c2[j] = j + 2 * me + 1 + nb; // what me sends j, receives from j
    uint64_t out = total(c, d), in = total(c2, d2);
    COLL(nb, Alltoallv, Ialltoallv, out * bd, in * bd, sb, c, d, MPI_DOUBLE, rb, c2, d2, MPI_DOUBLE,
         cm);
    for (int i = 0; i < np; i++)
        c[i] = i + 1 + nb;
    all = total(c, d);
    COLL(nb, Reduce_scatter, Ireduce_scatter, all * bi, c[me] * bi, IP(!nb, sb), rb, c, MPI_INT,
         MPI_SUM, cm);
    n = 2 + nb;
    COLL(nb, Reduce_scatter_block, Ireduce_scatter_block, n * bd * np, n * bd, sb, rb, n,
         MPI_DOUBLE, MPI_SUM, cm);
    if (nb) {
        MPI_Request rq;
        MPI_Ibarrier(cm, &rq);
        MPI_Wait(&rq, MPI_STATUS_IGNORE);
    } else {
        MPI_Barrier(cm);
    }
    expect(nb ? "MPI_Ibarrier" : "MPI_Barrier", 0, 0);
}

// Point to point: every send mode, receives posted larger than the messages (the rule counts the
// posted count) and a zero-count message.
static void point_to_point(void) {
    const uint64_t bd = tsize(MPI_DOUBLE), bi = tsize(MPI_INT), bt = tsize(tri);
    static char bsend_buf[1 << 16]; // for Bsend and Ibsend: a few small messages
    MPI_Buffer_attach(bsend_buf, sizeof bsend_buf);
    for (int s = 0; s < np; s++) { // each rank in turn sends to every other, so all call all
        for (int j = 0; j < np; j++) {
            if (j == s || (me != s && me != j)) continue;
            if (me == s) {
                MPI_Send(sb, s + j + 1, MPI_INT, j, 1, cm);
                expect("MPI_Send", (s + j + 1) * bi, 0);
                MPI_Send(sb, 0, MPI_INT, j, 2, cm);
                expect("MPI_Send", 0, 0);
                MPI_Ssend(sb, 2 * j + s + 1, MPI_DOUBLE, j, 3, cm);
                expect("MPI_Ssend", (2 * j + s + 1) * bd, 0);
                MPI_Bsend(sb, 3, tri, j, 4, cm);
                expect("MPI_Bsend", 3 * bt, 0);
            } else {
                MPI_Recv(rb, s + j + 6, MPI_INT, s, 1, cm, MPI_STATUS_IGNORE);
                expect("MPI_Recv", 0, (s + j + 6) * bi);
                MPI_Recv(rb, 0, MPI_INT, s, 2, cm, MPI_STATUS_IGNORE);
                expect("MPI_Recv", 0, 0);
                MPI_Recv(rb, 2 * j + s + 1, MPI_DOUBLE, s, 3, cm, MPI_STATUS_IGNORE);
                expect("MPI_Recv", 0, (2 * j + s + 1) * bd);
                MPI_Recv(rb, 4, tri, s, 4, cm, MPI_STATUS_IGNORE);
                expect("MPI_Recv", 0, 4 * bt);
            }
        }
    }
    // Around the ring: ready sends need their receives posted first, hence the barrier.
    int right = (me + 1) % np, left = (me + np - 1) % np, posted = np + 4;
    MPI_Request rq[9];
    MPI_Irecv(rb, posted, MPI_DOUBLE, left, 5, cm, &rq[0]);
    MPI_Irecv(rb + 512, posted, MPI_INT, left, 6, cm, &rq[1]);
    MPI_Irecv(rb + 1024, posted, MPI_DOUBLE, left, 7, cm, &rq[2]);
    MPI_Irecv(rb + 1536, posted, MPI_INT, right, 8, cm, &rq[3]);
    MPI_Irecv(rb + 2048, 2, tri, left, 9, cm, &rq[4]);
    for (int i = 0; i < 5; i++)
        expect("MPI_Irecv", 0, i == 4 ? 2 * bt : posted * (i % 2 ? bi : bd));
    MPI_Barrier(cm);
    expect("MPI_Barrier", 0, 0);
    MPI_Rsend(sb, me + 2, MPI_DOUBLE, right, 5, cm);
    expect("MPI_Rsend", (me + 2) * bd, 0);
    MPI_Irsend(sb, me + 1, MPI_INT, right, 6, cm, &rq[5]);
    expect("MPI_Irsend", (me + 1) * bi, 0);
    MPI_Isend(sb, me + 3, MPI_DOUBLE, right, 7, cm, &rq[6]);
    expect("MPI_Isend", (me + 3) * bd, 0);
    MPI_Issend(sb, me + 2, MPI_INT, left, 8, cm, &rq[7]);
    expect("MPI_Issend", (me + 2) * bi, 0);
    MPI_Ibsend(sb, 2, tri, right, 9, cm, &rq[8]);
    expect("MPI_Ibsend", 2 * bt, 0);
    MPI_Waitall(9, rq, MPI_STATUSES_IGNORE);
    MPI_Sendrecv(sb, me + 1, MPI_INT, right, 10, rb, np + 1, MPI_INT, left, 10, cm,
                 MPI_STATUS_IGNORE);
    expect("MPI_Sendrecv", (me + 1) * bi, (np + 1) * bi);
    MPI_Sendrecv_replace(rb, 4, MPI_DOUBLE, right, 11, left, 11, cm, MPI_STATUS_IGNORE);
    expect("MPI_Sendrecv_replace", 4 * bd, 4 * bd);
    void *addr;
    int size;
    MPI_Buffer_detach(&addr, &size);
}

// Traffic that must not count, on a communicator other than the named one.
static void noise(MPI_Comm c) {
    int rank, size;
    MPI_Comm_rank(c, &rank);
    MPI_Comm_size(c, &size);
    MPI_Allreduce(sb, rb, NOISE, MPI_INT, MPI_SUM, c);
    MPI_Bcast(sb, NOISE, MPI_DOUBLE, 0, c);
    MPI_Sendrecv(sb, NOISE, MPI_INT, (rank + 1) % size, 0, rb, NOISE, MPI_INT,
                 (rank + size - 1) % size, 0, c, MPI_STATUS_IGNORE);
    MPI_Request rq;
    MPI_Ibarrier(c, &rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
}

// Duplicates of the named communicator, each with noise; returns how many kept its name.
static int duplicates(void) {
    MPI_Comm d[4];
    MPI_Request rq;
    MPI_Comm_dup(cm, &d[0]);
    MPI_Comm_idup(cm, &d[1], &rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    MPI_Comm_dup_with_info(cm, MPI_INFO_NULL, &d[2]);
    MPI_Comm_split(cm, 0, me, &d[3]);
    int inherited = 0;
    for (int i = 0; i < 4; i++) {
        char name[MPI_MAX_OBJECT_NAME] = "";
        int len = 0;
        MPI_Comm_get_name(d[i], name, &len);
        inherited += strcmp(name, "mmcollab") == 0;
        noise(d[i]);
        MPI_Comm_free(&d[i]);
    }
    return inherited;
}

// A collective write of one row block per rank through the named communicator, as the pipeline's
// checkpoints do; HDF5 and MPI-IO talk on duplicates of their own.
static void hdf5_write(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/probe.h5", dir);
    hsize_t dims = (hsize_t)np * NOISE, start = (hsize_t)me * NOISE, rows = NOISE;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), xfer = H5Pcreate(H5P_DATASET_XFER);
    need(H5Pset_fapl_mpio(fapl, cm, MPI_INFO_NULL) >= 0, "H5Pset_fapl_mpio");
    need(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE) >= 0, "H5Pset_dxpl_mpio");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    need(file >= 0, "H5Fcreate");
    hid_t space = H5Screate_simple(1, &dims, NULL), mem = H5Screate_simple(1, &rows, NULL);
    hid_t set =
        H5Dcreate2(file, "x", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    need(set >= 0, "H5Dcreate2");
    need(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &rows, NULL) >= 0, "select");
    need(H5Dwrite(set, H5T_NATIVE_DOUBLE, mem, space, xfer, sb) >= 0, "H5Dwrite");
    need(H5Dclose(set) >= 0 && H5Sclose(mem) >= 0 && H5Sclose(space) >= 0 && H5Fclose(file) >= 0 &&
             H5Pclose(xfer) >= 0 && H5Pclose(fapl) >= 0,
         "closing the HDF5 objects");
}

static void write_expectation(const char *dir, int inherited) {
    char path[4096];
    snprintf(path, sizeof path, "%s/expect_%d.txt", dir, me);
    FILE *f = fopen(path, "w");
    need(f != NULL, "opening the expectation file");
    uint64_t sent = 0, recv = 0;
    for (int i = 0; i < n_want; i++)
        sent += want[i].sent, recv += want[i].recv;
    fprintf(f, "sent %llu\nrecv %llu\n", (unsigned long long)sent, (unsigned long long)recv);
    for (int i = 0; i < n_want; i++)
        fprintf(f, "%s calls %llu sent %llu recv %llu\n", want[i].fn,
                (unsigned long long)want[i].calls, (unsigned long long)want[i].sent,
                (unsigned long long)want[i].recv);
    fprintf(f, "inherited %d\n", inherited);
    need(fclose(f) == 0, "writing the expectation file");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    const char *dir = getenv("MMC_MPI_COUNT_DIR");
    int dups_only = argc == 2 && strcmp(argv[1], "dups") == 0;
    need(argc == 1 || dups_only, "parsing the arguments (usage: count_probe [dups])");
    need(dir && dir[0], "reading MMC_MPI_COUNT_DIR (unset)");
    need(np >= 2 && np <= PROBE_MAX_RANKS, "checking the rank count (2 to PROBE_MAX_RANKS)");
    MPI_Type_contiguous(3, MPI_SHORT, &tri);
    MPI_Type_commit(&tri);
    MPI_Comm_dup(MPI_COMM_WORLD, &cm);
    MPI_Comm_set_name(cm, "mmcollab");

    if (!dups_only) {
        collectives(0);
        collectives(1);
        MPI_Bcast(sb, 0, MPI_INT, 0, cm);
        expect("MPI_Bcast", 0, 0);
        point_to_point();
    }
    MPI_Comm unnamed;
    MPI_Comm_dup(MPI_COMM_WORLD, &unnamed);
    noise(unnamed);
    MPI_Comm_free(&unnamed);
    noise(MPI_COMM_WORLD);
    int inherited = duplicates();
    hdf5_write(dir);

    write_expectation(dir, inherited);
    MPI_Comm_free(&cm);
    MPI_Type_free(&tri);
    MPI_Finalize();
    return 0;
}
