// comm_internal.h - what comm.c shares with the comm modules that build on it (sum.c); not for
// the rest of the code, which goes through comm.h.
#pragma once
#include "comm/comm.h"

// The name of comm's communicators, which the PMPI counter (tests/pmpi) tells from HDF5's own.
#define COMM_NAME "mmcollab"

// Adds to this rank's mpi bytes as a call that passes sent and receives recv elements of t.
void comm_count_mpi(Comm *c, size_t sent, size_t recv, CommType t);
// Adds ms to the time inside MPI calls (comm_take_ms).
void comm_add_ms(Comm *c, double ms);
