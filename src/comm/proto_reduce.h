// proto_reduce.h - global prototypes from every party's sums and counts, exactly (BoMM GPA,
// docs/methods.md §1.4; [I] reconstruction).
//
// P[c][m] = Σ_k sums_k[c][m] / Σ_k counts_k[c][m]. Float sums over parties would depend on -np and
// on placement, so each party's double sums are rounded once to fixed point (comm/exact.h) and the
// int64 totals are reduced with MPI_SUM: any grouping of parties on ranks gives the same bits. The
// exponent comes from a bound that depends only on the set of parties: (total parties) × (max over
// parties of max |sum|), the max taken with an exact MPI_MAX. Counts are int64 MPI_SUM.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"

// Payload of one party: up, its sums as K·M·D floats plus K·M int64 counts; down, the global
// prototypes as K·M·D floats plus K·M validity bytes.
double proto_bytes_up(int K, int M, int D);
double proto_bytes_down(int K, int M, int D);

// protos (K, M, D) in double and valid (K, M) (count > 0; may be NULL) on every rank, written; also
// counts_global (K, M) when not NULL. This rank's parties come as sums (n_local, K, M, D) in double
// and counts (n_local, K, M) from proto_accumulate, one block per hosted party in any order;
// n_local may be 0 (the cloud). Cells with no samples anywhere get zero prototypes and valid 0.
// pay: the payload (proto_bytes_up / _down for the parties taking part), charged on the sums'
// reduction; the bound and shape agreements are control plane. Collective on c (every rank passes
// the same K, M, D; CHECKed). CHECKs: pointers, dimensions, finite sums, counts >= 0.
void proto_allreduce(Comm *c, double *protos, uint8_t *valid, int64_t *counts_global,
                     const double *sums, const int64_t *counts, int n_local, int K, int M, int D,
                     const CommPay *pay);
