// deliver.h - blocks go point-to-point from the cloud to exactly the hosts whose parties need
// them, instead of a broadcast: a party that needs none of them receives nothing. BoMM sends its
// generators so (one block per target modality, to the hosts of the parties missing it).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"

// Bitmask of the blocks rank `rank` needs: the OR of party_needs (P) over the parties it hosts.
// Local.
uint32_t deliver_rank_needs(const Comm *c, const uint8_t *party_needs, int rank);

// blocks (n_blocks, block_floats): on rank 0 every block; on a host, written for the blocks it
// needs (deliver_rank_needs), the others untouched. party_needs (P) bit b = the party needs block
// b; the same on every rank, as is `available` (a bitmask: only those blocks are sent). One
// comm_isend per (host, block). pay: the payload of the parties that receive something (the
// caller's figure: a block may carry padding a deployment would not send). Returns the blocks this
// rank now holds (rank 0: available). Collective on c. CHECKs n_blocks in 1..8.
uint32_t deliver_blocks(Comm *c, float *blocks, size_t block_floats, int n_blocks,
                        uint32_t available, const uint8_t *party_needs, const CommPay *pay);
