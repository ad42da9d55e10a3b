// placement.c - contiguous party blocks per host rank (see placement.h).
#include "comm/placement.h"

#include "core/die.h"

void placement_init(Placement *pl, int parties, int size) {
    CHECK(size >= 1, "world size %d", size);
    pl->parties = parties;
    pl->size = size;
    pl->hosts = size == 1 ? 1 : size - 1;
    pl->host0 = size == 1 ? 0 : 1;
    CHECK(parties >= pl->hosts,
          "%d parties cannot fill %d host ranks (every host rank needs at least one party; use "
          "fewer ranks or more parties)",
          parties, pl->hosts);
}

int placement_block(const Placement *pl, int rank, int *first) {
    CHECK(rank >= 0 && rank < pl->size, "rank %d of %d", rank, pl->size);
    int h = rank - pl->host0;
    if (h < 0) {
        *first = 0;
        return 0;
    }
    // Block h is [P·h/H, P·(h+1)/H): sizes differ by at most one, in party-id order.
    long long p = pl->parties, hosts = pl->hosts;
    *first = (int)(p * h / hosts);
    return (int)(p * (h + 1) / hosts) - *first;
}

int placement_host(const Placement *pl, int party) {
    CHECK(party >= 0 && party < pl->parties, "party %d of %d", party, pl->parties);
    // The h with P·h/H <= party < P·(h+1)/H.
    long long p = pl->parties, hosts = pl->hosts;
    int h = (int)(((long long)party * hosts + hosts - 1) / p);
    while (h > 0 && p * h / hosts > party)
        h--;
    while (p * (h + 1) / hosts <= party)
        h++;
    return h + pl->host0;
}
