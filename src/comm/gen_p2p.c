// gen_p2p.c - point-to-point generator distribution (see gen_p2p.h).
#include "comm/gen_p2p.h"

#include "core/die.h"
#include "core/xalloc.h"

enum { TAG_GEN = 700 }; // + target modality

uint32_t gen_rank_needs(const uint8_t *party_missing, const Placement *pl, int rank) {
    int first, count = placement_block(pl, rank, &first);
    uint32_t need = 0;
    for (int i = 0; i < count; i++)
        need |= party_missing[first + i];
    return need;
}

uint32_t gen_distribute(float *blocks, size_t block_floats, int n_targets, uint32_t available,
                        const uint8_t *party_missing, const Placement *pl, MPI_Comm comm) {
    CHECK_PTR(blocks);
    CHECK_PTR(party_missing);
    CHECK(n_targets >= 1 && n_targets <= 8, "n_targets = %d outside 1..8", n_targets);
    CHECK(block_floats <= (size_t)INT32_MAX, "block of %zu floats", block_floats);
    int rank, size;
    MPI_CHECK(MPI_Comm_rank(comm, &rank));
    MPI_CHECK(MPI_Comm_size(comm, &size));
    if (rank == 0) {
        MPI_Request *req = xmalloc(((size_t)size * (size_t)n_targets + 1) * sizeof *req);
        int n = 0;
        for (int r = 1; r < size; r++) {
            uint32_t send = gen_rank_needs(party_missing, pl, r) & available;
            for (int t = 0; t < n_targets; t++)
                if (send >> t & 1)
                    MPI_CHECK(MPI_Isend(blocks + (size_t)t * block_floats, (int)block_floats,
                                        MPI_FLOAT, r, TAG_GEN + t, comm, &req[n++]));
        }
        MPI_CHECK(MPI_Waitall(n, req, MPI_STATUSES_IGNORE));
        xfree(req);
        return available;
    }
    uint32_t recv = gen_rank_needs(party_missing, pl, rank) & available;
    MPI_Request req[8];
    int n = 0;
    for (int t = 0; t < n_targets; t++)
        if (recv >> t & 1)
            MPI_CHECK(MPI_Irecv(blocks + (size_t)t * block_floats, (int)block_floats, MPI_FLOAT, 0,
                                TAG_GEN + t, comm, &req[n++]));
    MPI_CHECK(MPI_Waitall(n, req, MPI_STATUSES_IGNORE));
    return recv;
}
