// driver.h - the round driver: the only place that moves models between ranks (DESIGN.md §2).
//
// Rank 0 is the cloud; ranks 1..R-1 host contiguous blocks of parties (comm/placement.h). One round
// of a federated method: broadcast the global model; every host trains each of its parties from it
// (fl/train.h); the sample-weighted sum of the party models is reduced exactly to the cloud
// (comm/exact.h) so the result does not depend on -np or placement; the method's server_update
// makes the new global model; on evaluation rounds every party tests it on its own test rows and
// the cloud on the global test set. Per-party statistics are gathered in party order. Rank 0 then
// appends the round to the metric log, rewrites run.h5 and metrics.csv, and every checkpoint_every
// rounds (and at the end, and when a stop is requested) all ranks write a checkpoint together.
// Representation-level methods (methods/method.h: party_rep_loss, needs_prev_model,
// shares_prototypes) get their term as PartyHooks.extra, their parties' previous models kept and
// checkpointed per party, and an exact prototype exchange after local training every round.
#pragma once
#include <mpi.h>

#include "cli/config.h"

// Runs cfg on comm (collective). Returns 0 when every round is done, EXIT_REQUEUE (fl/signals.h)
// when a signal or --stop-after stopped it after writing a checkpoint. Errors end in CHECK (every
// rank exits non-zero).
int fl_run(const Config *cfg, MPI_Comm comm);
