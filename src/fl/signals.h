// signals.h - stop requests (docs/signals.md). SIGUSR1 (Slurm's --signal, run.sbatch's trap, or
// mpirun forwarding it) and SIGTERM set a flag; the round driver agrees on it at the end of every
// round, writes a checkpoint of that round and exits with EXIT_REQUEUE.
//
// SIGTERM also arms a one-shot grace timer (--term-grace): whoever sends TERM kills soon after
// (mpirun 1 s after its TERM reaches the ranks, Slurm KillWait later), so a rank whose round has
// not reached the agreement when the timer fires exits EXIT_REQUEUE at once from the handler,
// after one line on stderr saying which round a resume starts from. The partial round (or a
// checkpoint being written) is lost; the newest published checkpoint is intact because
// publication is a rename (io/ckpt.h), so --resume=auto continues from it bit-exactly.
//
// [I] reconstruction: the handler only sets flags, arms the timer (timer_settime), write(2)s a
// line formatted beforehand (signals_progress) and calls _exit: all async-signal-safe.
#pragma once
#include "comm/comm.h"

#define EXIT_REQUEUE 3 // documented in README and slurm/run.sbatch

// Local: installs the handlers of SIGUSR1, SIGTERM and SIGALRM (the grace timer's) with
// SA_RESTART, so blocking MPI calls are not interrupted, and creates the timer. Before
// signals_set_term_grace a SIGTERM only sets the flag. CHECKs sigaction and timer_create.
void signals_install(void);
// Local: seconds (>= 0; 0 = exit at once) a rank waits after its first SIGTERM for the round's
// agreement; a SIGTERM already received arms the timer now. rank prefixes the handler's lines.
void signals_set_term_grace(double seconds, int rank);
// Local: what the handler's lines say: the round in progress (0 = start-up), the newest round whose
// checkpoint is published in ckpt_dir (0 = none), and whether round's checkpoint is being
// written. Formats into a spare buffer, then switches (the handler reads a complete one).
void signals_progress(const char *ckpt_dir, int round, int published, int writing);
// Local: the largest signal number received so far, or 0.
int signals_pending(void);
// Collective: the largest signal number received on any rank (0 = none). A non-zero answer is a
// stop every rank has agreed on: the grace timer is disarmed, so the checkpoint of the round is
// written however long it takes (until the sender kills).
int signals_agree(Comm *c);
// Local: the rounds are over (their last checkpoint is published): from here on a SIGTERM only
// sets the flag, and an armed grace timer no longer exits, so the run files are written and the
// ranks finish together (an _exit inside MPI_Finalize crashed mpirun once in ~25 tries).
void signals_done(void);
// "SIGUSR1", "SIGTERM", or "signal N". Borrowed (static).
const char *signals_name(int sig);
