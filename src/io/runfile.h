// runfile.h - runs/<name>/run.h5 and metrics.csv, written by the cloud rank (docs/architecture.md
// §7).
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
//   /meta        string attributes: method, git (git describe), git_commit (40 hex, "unknown"
//                outside git), git_diff_sha256 (SHA-256 of `git diff HEAD` plus the untracked
//                files' names and contents when dirty, else ""), build_flags (compiler and flags),
//                data_sha256 (SHA-256 of the --data file), model_sha256 (of a pre-trained
//                model kind's base file, "" otherwise), slurm_job_id, slurm_array_job_id,
//                slurm_array_task_id, hosts, started, blas_core (OpenBLAS's kernels),
//                eval_split ("test" | "validation": the rows of every evaluation series); int
//                world_size, git_dirty (0/1), blas_threads (in force, --blas-threads); datasets
//                peak_rss_kib (world_size) int64, every rank's peak resident memory so far
//                (getrusage), and at the end of a run mpi_bytes (world_size, 2) uint64: the bytes
//                each rank passed to MPI (sent, received) in the whole process (comm/comm.h's
//                count)
//   /meta/partition  which rows each party holds, CSR style (P parties, N rows in all):
//                train_offsets (P+1) int64, party p's rows are [offsets[p], offsets[p+1]);
//                train_rows (N) int64, row indices into the dataset file's split named by the
//                attribute train_split ("train"); train_masks (N) uint8, bit m = modality m
//                present; the same with eval_ for the evaluation rows; attribute eval_split is
//                "test" (rows of the file's test split) or "validation" (rows of its train split,
//                the carve-out of data/holdout.h)
//   /metrics     round (int32, R); one float64 dataset per series, (R) or (R, width), attributes
//                width, varies (1 = wall-clock or rank-layout figures, differ between runs) and
//                split (the rows it reads: "train", "test", "validation", or "" for bytes/times)
// metrics.csv: "round,<scalar series...>", one row per round (per-party series only in run.h5).
#pragma once
#include <hdf5.h>
#include <stdint.h>

#include "core/options.h"
#include "io/metrics.h"

#define RUNFILE_SCHEMA 1

// The scenario's rows per party, CSR style (see the layout above). Borrowed.
typedef struct {
    int parties;
    const char *train_split, *eval_split;        // the dataset splits the row indices refer to
    const int64_t *train_offsets, *eval_offsets; // (parties + 1), from 0
    const int64_t *train_rows, *eval_rows;       // (offsets[parties])
    const uint8_t *train_masks, *eval_masks;     // (offsets[parties])
} RunPartition;

typedef struct {
    const char *program, *method, *git;
    const char *git_commit, *git_diff_sha256, *build_flags, *data_sha256, *model_sha256;
    const char *eval_split; // the rows every evaluation series reads: "test" or "validation"
    int git_dirty;
    const char *slurm_job_id, *slurm_array_job_id, *slurm_array_task_id; // "" outside Slurm
    const char *hosts;   // comma-separated, in rank order
    const char *started; // ISO 8601
    int world_size;
    const int64_t *peak_rss_kib; // (world_size) KiB per rank, or NULL: not written
    const uint64_t *mpi_bytes;   // (world_size, 2) sent, received per rank, or NULL: not written
    const char *blas_core;       // OpenBLAS core type ("" when unknown)
    int blas_threads;
    const RunPartition *partition; // or NULL: no /meta/partition
} RunInfo;

// Writes dir/run.h5 and dir/metrics.csv atomically (dir must exist). Local (cloud rank).
void runfile_write(const char *dir, const RunInfo *info, const OptSet *opts, const MetricLog *log);

// The /metrics group layout, shared with checkpoints: writes every series under loc/name; varying
// series only with with_varying (checkpoints leave them out, so that two runs of one config write
// identical checkpoints whatever their speed).
void metrics_h5_write(hid_t loc, const char *name, const MetricLog *log, int with_varying);
// Reads a group written by metrics_h5_write into a log whose series are declared and which has no
// rows yet; varying series absent from the group stay NaN. Returns 0, or -1 with a message in err
// (log left empty) when the group is missing, malformed, or its series differ from the declared
// ones.
int metrics_h5_read(hid_t loc, const char *name, MetricLog *log, char *err, size_t cap);

// Fills the varying series of log's rows from dir/run.h5 where it has them (a resumed run keeps the
// timings and MPI bytes of the rounds before the interruption). Silent when the file or a series is
// missing; warns and reads nothing when run.h5 fails its digest (run.h5.sha256, written beside it).
void runfile_restore_varying(const char *dir, MetricLog *log);

// Small attribute helpers (H5_CHECK on failure).
void h5_attr_str(hid_t loc, const char *name, const char *value);
void h5_attr_i64(hid_t loc, const char *name, long long value);
void h5_attr_f64(hid_t loc, const char *name, double value);
// Readers for files that passed the integrity gate but may hold hostile content: an attribute must
// exist and hold exactly one element of the right class, else -1 (nothing written past the buffer,
// no error stack printed). h5_read_str: a fixed-length string shorter than cap, NUL-terminated.
int h5_read_i64(hid_t loc, const char *name, long long *value);
int h5_read_str(hid_t loc, const char *name, char *value, size_t cap);
