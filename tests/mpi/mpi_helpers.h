// mpi_helpers.h - agreement on a test verdict before asserting (docs/conventions.md §15): a failing
// rank must never leave the others waiting in a collective.
#pragma once

#include <check.h>
#include <mpi.h>

// Collective on MPI_COMM_WORLD: 1 when ok is true on every rank.
static inline int mpi_all_ok(int ok) {
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}

// Collective: asserts on every rank after agreeing; the message names this rank's own verdict.
#define ck_assert_all_ranks(ok, ...)                                                               \
    do {                                                                                           \
        int ok_local_ = (ok);                                                                      \
        int ok_all_ = mpi_all_ok(ok_local_);                                                       \
        ck_assert_msg(ok_all_, __VA_ARGS__);                                                       \
    } while (0)
