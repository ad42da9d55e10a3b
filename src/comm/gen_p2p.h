// gen_p2p.h - BoMM's generators go point-to-point from the cloud to exactly the hosts whose parties
// miss their target modality (research/methods.md §1.6, [I]): one MPI_Isend per (host, target)
// instead of a broadcast, so a party that has every modality receives no generator.
#pragma once

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "comm/placement.h"

// Bitmask of the targets rank `rank` needs: the OR of party_missing over the parties it hosts.
uint32_t gen_rank_needs(const uint8_t *party_missing, const Placement *pl, int rank);

// blocks (n_targets, block_floats): on rank 0 every target's block (the generators of every source
// for that target modality); on a host, written for the targets it needs (gen_rank_needs), the
// other blocks untouched. party_missing (P) bit m = the party misses modality m somewhere; the same
// on every rank. Only targets in `available` (a bitmask, the same on every rank) are sent.
// Returns the targets this rank now holds (rank 0: available). Collective on comm.
uint32_t gen_distribute(float *blocks, size_t block_floats, int n_targets, uint32_t available,
                        const uint8_t *party_missing, const Placement *pl, MPI_Comm comm);
