// comm.h - every transfer between ranks goes through here, and is counted at the call
// (docs/architecture.md §2, §5; docs/conventions.md §10).
//
// A Comm owns a duplicate of the world communicator, named "mmcollab" (MPI_Comm_set_name, so that
// debuggers and the test's PMPI counter can tell it from HDF5's own duplicates), the placement of
// the parties on the ranks, and two byte counts:
//
//   mpi bytes      everything this rank passed to MPI through these wrappers, control-plane
//                  scalars included: at each call, "sent" += the bytes of the send buffer this
//                  rank passes and "recv" += those of the receive buffer MPI fills for it
//                  (bcast: the root sends n, every other rank receives n; reduce: every rank
//                  sends n, the root receives n; allreduce: both on every rank; gather(v): every
//                  rank sends its part, the root receives the whole; scatter(v) the reverse;
//                  isend/irecv: the posted count). tests/pmpi counts the same through PMPI.
//   payload bytes  what a deployment would send, per party and direction: the tensors' sizes in
//                  their stated dtype, no control messages. Charged by the wrappers that carry a
//                  payload (their CommPay argument), and by comm_charge where the simulation moves
//                  no data for it (the hosts keep the last broadcast model, so a party's model
//                  download is charged when it starts training; the centralized baseline's cloud
//                  reads the pooled rows from the dataset file).
//
// Only hosted parties are charged on a rank (placement.h); the driver gathers them in party order.
// Every transfer is Collective on the Comm unless it says otherwise, with identical n and type on
// every rank; errors end in MPI_CHECK (every rank exits). MPI counts are CHECKed to fit in int.
#pragma once
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "comm/placement.h"

typedef struct Comm Comm;

typedef enum { COMM_U8, COMM_I32, COMM_I64, COMM_F32, COMM_F64, COMM_CHAR } CommType;
typedef enum { COMM_SUM, COMM_MIN, COMM_MAX, COMM_BOR, COMM_LAND } CommOp;
typedef enum { COMM_UP = 0, COMM_DOWN = 1 } CommDir; // parties → cloud, cloud → parties

// The payload a transfer carries, charged to the hosted parties of this rank at the call, in
// either direction or both (an allreduce of prototypes: each party uploads its sums and downloads
// the global ones). NULL = control plane.
typedef struct {
    double up, down;          // bytes per party, where the per-party arrays are NULL
    const double *up_bytes;   // (P) bytes per party id, or NULL
    const double *down_bytes; // (P) bytes per party id, or NULL
    const uint8_t *who;       // (P) 1 = the party takes part; NULL = every party
} CommPay;

// Collective on world: duplicates it, names the duplicate, places `parties` parties (CHECKs as
// placement_init). Owned; comm_destroy frees (collective).
Comm *comm_create(MPI_Comm world, int parties);
void comm_destroy(Comm *c);

int comm_rank(const Comm *c);
int comm_size(const Comm *c);
const Placement *comm_placement(const Comm *c);
// This rank's hosted parties: [*first, *first + count).
int comm_hosted(const Comm *c, int *first);
// The communicator, for parallel HDF5 (io/ckpt) only: transfers go through the functions below.
MPI_Comm comm_mpi(const Comm *c);
size_t comm_type_size(CommType t);

// ---- counts ----
// Payload bytes of hosted party i (0..count) so far in direction dir; mpi bytes of this rank.
double comm_payload(const Comm *c, int i, CommDir dir);
void comm_mpi_bytes(const Comm *c, uint64_t *sent, uint64_t *recv);
// Rank 0: out (size, 2) = every rank's mpi bytes (sent, received) including this gather's own.
// Collective; meant as the run's last transfer.
void comm_gather_mpi_totals(Comm *c, uint64_t *out);
// Zeroes the payload counts (the driver does so at the start of every round). Local.
void comm_reset_payload(Comm *c);
// Charges bytes to hosted party `party` (a party id this rank hosts; CHECKed) in direction dir,
// with no transfer. Local.
void comm_charge(Comm *c, int party, CommDir dir, double bytes);

// Wall milliseconds this rank spent inside the MPI calls of the transfers below since the last
// call (then restarts from 0). A collective's time includes waiting for the slowest rank to join,
// so on the cloud it is mostly the hosts' compute, not the network; comm_isend/irecv only post,
// their transfer time is in comm_wait_all. Local.
double comm_take_ms(Comm *c);

// Charges pay to the hosted parties as a transfer would, for a pattern of several calls that
// carries one payload (comm/deliver.h). Local.
void comm_charge_pay(Comm *c, const CommPay *pay);

// ---- transfers ----
void comm_bcast(Comm *c, void *buf, size_t n, CommType t, int root, const CommPay *pay);
// In place on every rank. COMM_SUM only on integer types (never floats: the order would matter).
void comm_allreduce(Comm *c, void *buf, size_t n, CommType t, CommOp op, const CommPay *pay);
// In-place sum of int64 accumulators (comm/exact.h's fixed point) to root; the other ranks' acc is
// left as it was. The same bits as an MPI_SUM over int64 (wrapping on overflow, which exact.h's
// exponents rule out), whatever -np and placement: the ranks of a node sum through shared memory
// (MPI_COMM_TYPE_SHARED), each summing a slice of every rank's copy, and only the node leaders'
// sums travel through MPI (comm/sum.c, docs/exact_reduce.md). Mpi bytes count those leaders'
// messages only (every leader sends n, root's leader receives n; nothing on one node), as the PMPI
// counter does. The first call on a Comm splits it by node (an allgather of each rank's node,
// counted); shared segments of up to 4 MiB per rank are kept until comm_destroy. Chunked below
// INT_MAX. A round's aggregation uses comm/sum.h's CommAcc instead, which needs no copy.
void comm_reduce_sum_i64(Comm *c, int64_t *acc, size_t n, int root, const CommPay *pay);
// The same, with the sum in acc on every rank (each leader sends and receives n).
void comm_allreduce_sum_i64(Comm *c, int64_t *acc, size_t n, const CommPay *pay);
// Collective, for tests: the two sums above group ranks by rank / ranks_per_group instead of by
// node (several "nodes" on one machine), or by node again with 0. Replaces the current grouping.
void comm_set_reduce_groups(Comm *c, int ranks_per_group);
// recv (root: size · n) = every rank's send (n), in rank order.
void comm_gather(Comm *c, const void *send, size_t n, void *recv, CommType t, int root,
                 const CommPay *pay);
// Per-party blocks to the cloud (rank 0) in party order: party p contributes per_party[p]
// elements (the same (P) array on every rank), a host sends its parties' blocks back to back, and
// rank 0 receives all of them (Σ per_party elements; its own parties' included). recv is used on
// rank 0 only.
void comm_gather_parties(Comm *c, const void *send, const int64_t *per_party, void *recv,
                         CommType t, const CommPay *pay);
// The reverse: rank 0's send holds every party's block in party order; each rank receives its
// parties' blocks back to back in recv.
void comm_scatter_parties(Comm *c, const void *send, const int64_t *per_party, void *recv,
                          CommType t, const CommPay *pay);
// Point to point, nonblocking: posts and returns; comm_wait_all completes what this rank posted.
// Local (the matching call is on the peer).
void comm_isend(Comm *c, const void *buf, size_t n, CommType t, int dest, int tag,
                const CommPay *pay);
void comm_irecv(Comm *c, void *buf, size_t n, CommType t, int src, int tag, const CommPay *pay);
void comm_wait_all(Comm *c);
void comm_barrier(Comm *c);
