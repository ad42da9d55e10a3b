// runfile.h - runs/<name>/run.h5 and metrics.csv, written by the cloud rank (docs/architecture.md
// §7).
//
// Append-only. runfile_open creates both files once, at the run's start: run.h5 with its
// /config, /defaults and /meta, and every /metrics series an empty extendible dataset; metrics.csv
// with its header. Each round runfile_append extends every series by one row, writes the round's
// row (the MetricLog holds no other), updates /meta/peak_rss_kib and the /metrics rounds attribute,
// H5Fflushes, and appends one line to metrics.csv (fflush). A round costs the same whatever the
// round number: nothing earlier is rewritten or kept in memory. The file stays open for the run.
//
// Crash consistency, "truncate to the checkpoint": the rows of rounds <= r are fsynced
// (runfile_sync) before the checkpoint of round r is published, so a checkpoint never names a
// round the run files lack. Rows past it (a kill after round k's append, before its checkpoint)
// are cut on resume: runfile_open with log->rounds = r sets every series' extent to r rows
// (H5Dset_extent) and ftruncates metrics.csv after its header and r lines; the resumed run then
// appends the rows the uninterrupted run wrote, identical in every non-varying series. Varying
// series (wall clock, MPI bytes) of rounds <= r stay as the interrupted run measured them. When
// run.h5 cannot be opened or its layout is not this run's (missing, truncated, garbage, a series
// absent, of another width, or fewer than r rows), it is renamed run.h5.damaged with a warning
// naming it and rebuilt from what the run holds: /config, /defaults, /meta from this run, and
// rows 1..r of the scalar series from metrics.csv where its lines parse, NaN elsewhere (a warning
// names the lost series and rounds). When metrics.csv lacks a readable header plus r lines it is
// rewritten from run.h5's rows. "run.h5.sha256" (sha256sum format) is written only when the run
// closes the file cleanly (the end of the rounds, or a requeue stop); runfile_open removes a
// stale one before appending, so a digest beside run.h5 always matches a closed file.
//
// The writer opens run.h5 without HDF5's file lock, so readers (h5py, analysis/) may open it while
// the run holds it: they see the state of the last H5Fflush (one that opens during an append may
// get an error and can retry).
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
//   /metrics     attribute rounds (int64, R); round (int32, R); one float64 dataset per series,
//                (R) or (R, width), attributes width, varies (1 = wall-clock or rank-layout
//                figures, differ between runs) and split (the rows it reads: "train", "test",
//                "validation", or "" for bytes/times). Every one is chunked with an unlimited first
//                dimension and fill value NaN. Chunks: a scalar series 128 rows (1 KiB), a series
//                of width w max(1, 128 / w) rows of the whole width. A round then touches one chunk
//                per series (the last, partly filled one, which HDF5's chunk cache holds and the
//                flush writes), a short run allocates 1 KiB per series rather than a large chunk,
//                and a wide series (w >= 128, e.g. per-party at 10,000 parties: 80 KB) has one row
//                per chunk, written once and never again. Chunk B-tree nodes of 16 entries
//                (istore_k 8) keep the index ~0.6 KiB per series.
// metrics.csv: "round,<scalar series...>", one line per round, values %.17g ("" = NaN; per-party
//                series only in run.h5).
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

typedef struct RunFile RunFile;

// Opens dir/run.h5 and dir/metrics.csv for appending (dir must exist). log's series are declared;
// log->rounds is 0 for a new run (both files created, replacing any) or r after metriclog_resume
// from the checkpoint of round r (truncate to the checkpoint, rebuild when damaged: see above).
// Local (cloud rank). Owned; runfile_close. Dies naming the file when it cannot write.
RunFile *runfile_open(const char *dir, const RunInfo *info, const OptSet *opts,
                      const MetricLog *log);
// Appends the log's current row as row log->rounds (which must be the file's row count + 1),
// writes info->peak_rss_kib, and flushes both files.
void runfile_append(RunFile *rf, const MetricLog *log, const RunInfo *info);
// fsync of both files: the rows appended so far survive a power loss (before a checkpoint).
void runfile_sync(RunFile *rf);
// Writes info's final /meta (peak_rss_kib, mpi_bytes when set), closes both files durably, and
// writes run.h5.sha256. Frees rf.
void runfile_close(RunFile *rf, const RunInfo *info);

// Small attribute helpers (H5_CHECK on failure).
void h5_attr_str(hid_t loc, const char *name, const char *value);
void h5_attr_i64(hid_t loc, const char *name, long long value);
void h5_attr_f64(hid_t loc, const char *name, double value);
// Readers for files that passed the integrity gate but may hold hostile content: an attribute must
// exist and hold exactly one element of the right class, else -1 (nothing written past the buffer,
// no error stack printed). h5_read_str: a fixed-length string shorter than cap, NUL-terminated.
int h5_read_i64(hid_t loc, const char *name, long long *value);
int h5_read_str(hid_t loc, const char *name, char *value, size_t cap);
