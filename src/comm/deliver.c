// deliver.c - point-to-point delivery of the cloud's blocks to the hosts that need them (see
// deliver.h).
#include "comm/deliver.h"

#include "core/die.h"

enum { TAG_BLOCK = 700 }; // + block index

uint32_t deliver_rank_needs(const Comm *c, const uint8_t *party_needs, int rank) {
    int first, count = placement_block(comm_placement(c), rank, &first);
    uint32_t need = 0;
    for (int i = 0; i < count; i++)
        need |= party_needs[first + i];
    return need;
}

uint32_t deliver_blocks(Comm *c, float *blocks, size_t block_floats, int n_blocks,
                        uint32_t available, const uint8_t *party_needs, const CommPay *pay) {
    CHECK_PTR(blocks);
    CHECK_PTR(party_needs);
    CHECK(n_blocks >= 1 && n_blocks <= 8, "n_blocks = %d outside 1..8", n_blocks);
    int rank = comm_rank(c), size = comm_size(c);
    if (pay) comm_charge_pay(c, pay);
    if (rank == 0) {
        for (int r = 1; r < size; r++) {
            uint32_t send = deliver_rank_needs(c, party_needs, r) & available;
            for (int b = 0; b < n_blocks; b++)
                if (send >> b & 1)
                    comm_isend(c, blocks + (size_t)b * block_floats, block_floats, COMM_F32, r,
                               TAG_BLOCK + b, NULL);
        }
        comm_wait_all(c);
        return available;
    }
    uint32_t recv = deliver_rank_needs(c, party_needs, rank) & available;
    for (int b = 0; b < n_blocks; b++)
        if (recv >> b & 1)
            comm_irecv(c, blocks + (size_t)b * block_floats, block_floats, COMM_F32, 0,
                       TAG_BLOCK + b, NULL);
    comm_wait_all(c);
    return recv;
}
