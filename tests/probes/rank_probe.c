// rank_probe.c - the MPI program the Slurm tests launch (tests/slurm/): every rank writes what it
// sees, so that a test can check from files alone that all ranks started with the right world size.
//   rank_probe OUTDIR [SECONDS]
// Each rank writes OUTDIR/rank_<R>.txt as one line
//   rank=R size=S sum=S(S-1)/2 host=H job=J array_task=A restart=N
// where sum comes from an MPI_Allreduce (so the ranks really talked), then sleeps SECONDS
// (default 0; a requeue test interrupts it here), then meets the others in a barrier.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    log_init(rank, LOG_INFO);
    CHECK(argc >= 2 && argc <= 3, "usage: rank_probe OUTDIR [SECONDS] (got %d arguments)",
          argc - 1);
    char *end = NULL;
    long seconds = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    CHECK(argc < 3 || (*end == '\0' && seconds >= 0 && seconds <= 3600),
          "rank_probe: SECONDS must be an integer in [0, 3600], got '%s'", argv[2]);

    long mine = rank, sum = -1;
    MPI_CHECK(MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD));
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/rank_%d.txt", argv[1], rank);
    CHECK(n > 0 && (size_t)n < sizeof path, "rank_probe: OUTDIR too long (%zu chars)", sizeof path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "rank_probe: cannot write %s", path);
    // SLURMD_NODENAME tells emulated nodes (n1, n2) apart; they share one hostname.
    fprintf(f, "rank=%d size=%d sum=%ld host=%s job=%s array_task=%s restart=%s\n", rank, size, sum,
            env_or("SLURMD_NODENAME", host), env_or("SLURM_JOB_ID", "-"),
            env_or("SLURM_ARRAY_TASK_ID", "-"), env_or("SLURM_RESTART_COUNT", "0"));
    CHECK(fclose(f) == 0, "rank_probe: error writing %s", path);

    if (seconds > 0) sleep((unsigned)seconds);
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    log_info("rank_probe: %d ranks wrote %s/rank_*.txt", size, argv[1]);
    MPI_Finalize();
    return 0;
}
