// run.h - the round driver: one run of a method on the ranks (docs/architecture.md §2, §4).
//
// Rank 0 is the cloud; ranks 1..R-1 host contiguous blocks of parties (comm/placement.h). The
// driver speaks to the method's protocol (protocols/protocol.h) and to the parties' model through
// the model contract (models/model.h): it samples the round's parties, trains them locally through
// the protocol's hooks, forms the exact sample-weighted mean of their trainable selection
// (comm/exact.h) for the protocol's server update, calls the protocol's exchange, broadcasts the
// global model, evaluates, writes run.h5 and metrics.csv (rank 0) and checkpoints (all ranks
// together). Files: run.c (setup, the loop), data.c (the parties' rows), round.c (one round and
// its evaluation), record.c (series and run files), state.c (checkpoints and resume).
#pragma once
#include <mpi.h>

#include "cli/config.h"
#include "train/local.h"

// Bad options: a value the parser refused, sizes the run's start found too large for the data or
// the memory (fl/preflight.h), or an input file (--data, the model kind's parameter file) refused
// by the integrity gate or the data's validation. Every rank exits with it together.
#define EXIT_USAGE 2

// Runs rc on a duplicate of world (collective). Returns 0 when every round is done, EXIT_REQUEUE
// (fl/signals.h) when a signal or --stop-after stopped it after writing a checkpoint, EXIT_USAGE
// on every rank when an input file or the preflight was refused (rank 0 logged why, naming the
// file or the option; nothing was written). Other errors end in CHECK (every rank exits non-zero).
int fl_run(const RunConfig *rc, MPI_Comm world);

// The method and model-kind registries as option groups (for cli/config.h). Borrowed (static).
void fl_registries(OptRegistry *methods, OptRegistry *models);
// The parties' training options of a configuration. Local.
void fl_train_config(TrainConfig *tc, const Config *cfg);
