// runfile.h - runs/<name>/run.h5 and metrics.csv, written by the cloud rank (DESIGN.md §6).
//
// Both files are rewritten whole after every round from the in-memory MetricLog, to "<file>.tmp"
// and then renamed: a reader (analysis/, a user's h5py) never sees a half-written file, and a
// resumed run, whose MetricLog comes from the checkpoint, rewrites exactly the rows of the
// uninterrupted run.
//
// run.h5 layout:
//   /            attributes schema (int), program
//   /config      one attribute per option: int64, float64 or string, as typed in the option table
//   /defaults    one string attribute per option: its default as the option table's text
//   /meta        string attributes: method, git, slurm_job_id, slurm_array_job_id,
//                slurm_array_task_id, hosts, started; int world_size; dataset peak_rss_kib
//                (world_size) int64, every rank's peak resident memory so far (getrusage)
//   /metrics     round (int32, R); one float64 dataset per series, (R) or (R, width), attributes
//                width and timing (1 = wall-clock, differs between runs)
// metrics.csv: "round,<scalar series...>", one row per round (per-party series only in run.h5).
#pragma once
#include <hdf5.h>
#include <stdint.h>

#include "cli/options.h"
#include "io/metrics.h"

#define RUNFILE_SCHEMA 1

typedef struct {
    const char *program, *method, *git;
    const char *slurm_job_id, *slurm_array_job_id, *slurm_array_task_id; // "" outside Slurm
    const char *hosts;   // comma-separated, in rank order
    const char *started; // ISO 8601
    int world_size;
    const int64_t *peak_rss_kib; // (world_size) KiB per rank, or NULL: not written
} RunInfo;

// Writes dir/run.h5 and dir/metrics.csv atomically (dir must exist). Local (cloud rank).
void runfile_write(const char *dir, const RunInfo *info, const OptSpec *opts, int n_opts,
                   const void *cfg, const MetricLog *log);

// The /metrics group layout, shared with checkpoints: writes every series under loc/name; timing
// series only with with_timing (checkpoints leave them out, so that two runs of one config write
// identical checkpoints whatever their speed).
void metrics_h5_write(hid_t loc, const char *name, const MetricLog *log, int with_timing);
// Reads a group written by metrics_h5_write into a log whose series are declared and which has no
// rows yet; timing series absent from the group stay NaN. Returns 0, or -1 with a message in err
// (log left empty) when the group is missing, malformed, or its series differ from the declared
// ones.
int metrics_h5_read(hid_t loc, const char *name, MetricLog *log, char *err, size_t cap);

// Fills the timing series of log's rows from dir/run.h5 where it has them (a resumed run keeps the
// timings of the rounds before the interruption). Silent when the file or a series is missing.
void runfile_restore_timings(const char *dir, MetricLog *log);

// Small attribute helpers (H5_CHECK on failure).
void h5_attr_str(hid_t loc, const char *name, const char *value);
void h5_attr_i64(hid_t loc, const char *name, long long value);
void h5_attr_f64(hid_t loc, const char *name, double value);
