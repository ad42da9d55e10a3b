// metrics.h - the per-round series of a run, kept in memory on the cloud rank.
//
// The whole history is small (rounds × series, plus per-party series of rounds × parties), so the
// run file is rewritten from it atomically every round and the checkpoint stores it: a resumed run
// carries exactly the rows of the uninterrupted one. Series flagged `varies` (wall-clock figures
// and what depends on the rank layout, such as the bytes passed to MPI) are the only ones allowed
// to differ between two runs of the same config.
#pragma once
#include <stddef.h>

#define METRIC_MAX_SERIES 64
#define METRIC_NAME_MAX 48
#define METRICS_MAX_ROUNDS 1000000 // the --rounds bound: a stored log longer than that is not ours

typedef struct {
    char name[METRIC_NAME_MAX];
    int width;  // 1 for a scalar series, the party count for a per-party series
    int varies; // wall-clock or rank-layout figures: differ between runs of one config, left out of
                // checkpoints and of reproducibility comparisons
    char split[16]; // the rows the series is computed on: "train", "test", "validation", or ""
    double *v;      // rounds × width, row-major; NaN where a round did not set a value
} MetricSeries;

typedef struct {
    int n_series;
    MetricSeries s[METRIC_MAX_SERIES];
    int rounds, cap; // rows used and allocated
} MetricLog;

void metriclog_init(MetricLog *log);
void metriclog_free(MetricLog *log);
// Declares a series (before the first row); returns its index. Names are unique ([a-z0-9_]).
int metriclog_add(MetricLog *log, const char *name, int width, int varies);
// Names the rows series idx is computed on (see MetricSeries.split; at most 15 characters).
void metriclog_set_split(MetricLog *log, int idx, const char *split);
// Index of a series by name, or -1.
int metriclog_find(const MetricLog *log, const char *name);
// Starts a new round: appends one row of NaN to every series.
void metriclog_next_round(MetricLog *log);
// Sets column col of series idx in the last row.
void metriclog_set(MetricLog *log, int idx, int col, double value);
// The last row's value (NaN when unset).
double metriclog_last(const MetricLog *log, int idx, int col);
// Keeps only the first `rounds` rows (resume).
void metriclog_truncate(MetricLog *log, int rounds);
