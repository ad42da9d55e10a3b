// signals.h - stop requests: SIGUSR1 or SIGTERM (from Slurm's --signal, scancel, or mpirun
// forwarding) set a flag; the round driver agrees on it at the end of every round, writes a
// checkpoint and exits with EXIT_REQUEUE so the sbatch script requeues the job.
#pragma once
#include "comm/comm.h"

#define EXIT_REQUEUE 3 // documented in README and slurm/run.sbatch

// Local: installs the handlers (SA_RESTART so blocking MPI calls are not interrupted).
void signals_install(void);
// Local: the signal number received so far, or 0.
int signals_pending(void);
// Collective: the largest signal number received on any rank (0 = none).
int signals_agree(Comm *c);
