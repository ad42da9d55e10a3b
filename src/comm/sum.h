// sum.h - an exact accumulator that the reduce reads where it lies (docs/exact_reduce.md).
//
// The round's aggregation adds every hosted party's update into one accumulator per rank (exact.h's
// fixed point), sums the accumulators over the ranks and converts the sum once. A CommAcc puts
// each rank's accumulator in memory shared by the ranks of its node, so that the sum needs no copy
// in: after a barrier, each rank of a node sums its own slice of the columns over every
// accumulator of the node and converts that slice itself, and the ranks that want the result copy
// the other slices out after another. An accumulator that holds one vector keeps it in float, so
// that the sum reads half the bytes. Across nodes, the node sums travel between the node
// leaders through MPI (comm.h's mpi bytes count those messages only), and the ranks that want the
// result convert them. The bits are those of exact_to_float / exact_to_double of an MPI_SUM over
// int64, for any -np, placement or grouping.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"

typedef struct CommAcc CommAcc;

// Collective over c: this rank's accumulator of n columns, empty. Owned; free it with
// comm_acc_free (collective) before comm_destroy(c). comm_set_reduce_groups must not be called
// while one exists (CHECKed).
CommAcc *comm_acc_create(Comm *c, size_t n);
void comm_acc_free(CommAcc *a);
// Local: empty again (the sum of nothing).
void comm_acc_clear(CommAcc *a);
// Local: adds round(ldexp(weight·x[i], e)) for every column, the terms (and the CHECKs) of
// exact_add. The round's first vector on a rank stays a float vector with its weight, when all its
// terms take exact_add's fast path: the reduce then reads 4 bytes a column of it instead of 8 and
// makes its terms there. A second vector folds it into int64 sums first.
void comm_acc_add(CommAcc *a, const float *x, double weight, int e);
// Local: the int64 sums at exponent e (n elements), folding a float vector in, for callers that
// add terms of their own (exact_add_f64, tests). Valid until the next comm_acc_clear.
int64_t *comm_acc_ints(CommAcc *a, int e);

// Collective over the Comm: out (n elements of t) = the sum of every rank's accumulator, on root
// (root < 0: on every rank; out is not touched elsewhere and may be NULL there), as
//   COMM_I64  the int64 sum itself (e and divisor unused),
//   COMM_F32  exact_to_float(sum, e, divisor),
//   COMM_F64  exact_to_double(sum, e, divisor),
// with e (the exponent of every term added; CHECKed, in [-1023, 1022] for floats), divisor and t
// the same on every rank. The accumulators are left as they were. Charges pay and counts its time
// in MPI as comm_reduce_sum_i64 does.
void comm_acc_reduce(CommAcc *a, int root, CommType t, int e, double divisor, void *out,
                     const CommPay *pay);
