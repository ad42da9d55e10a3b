// placement.h - which rank hosts which party (docs/architecture.md §2).
//
// Rank 0 is the cloud. Ranks 1..size-1 host contiguous blocks of parties in party-id order, sizes
// differing by at most one; with a single rank, rank 0 is the cloud and hosts every party.
// Placement is a pure function of (parties, size), so every rank computes it without communication.
#pragma once

typedef struct {
    int parties, size; // party count and world size
    int hosts;         // ranks that host parties: size - 1, or 1 when size == 1
    int host0;         // first hosting rank: 1, or 0 when size == 1
} Placement;

// CHECKs parties >= 1 and that there are no more hosts than parties (every host gets one).
void placement_init(Placement *pl, int parties, int size);
// Parties hosted by rank: [*first, *first + count); count 0 for the cloud (size > 1).
int placement_block(const Placement *pl, int rank, int *first);
// The rank hosting a party.
int placement_host(const Placement *pl, int party);
