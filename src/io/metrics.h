// metrics.h - the per-round series of a run on the cloud rank: their declarations and the row of
// the round being recorded.
//
// Only the current round's row is held (one value per column of every series); rows of earlier
// rounds live in the run files, which io/runfile.h appends to once per round. The cloud's memory
// is therefore the same after round 1 and after round 100000. Series flagged `varies` (wall-clock
// figures and what depends on the rank layout, such as the bytes passed to MPI) are the only ones
// allowed to differ between two runs of the same config.
#pragma once
#include <stddef.h>

#define METRIC_MAX_SERIES 64
#define METRIC_NAME_MAX 48
#define METRICS_MAX_ROUNDS 1000000 // the --rounds bound: a stored log longer than that is not ours

typedef struct {
    char name[METRIC_NAME_MAX];
    int width;  // 1 for a scalar series, the party count for a per-party series
    int varies; // wall-clock or rank-layout figures: differ between runs of one config, left out of
                // reproducibility comparisons
    char split[16]; // the rows the series is computed on: "train", "test", "validation", or ""
    double *v;      // (width) the current round's row, NaN where the round did not set a value;
                    // NULL before the first metriclog_next_round. Owned.
} MetricSeries;

typedef struct {
    int n_series;
    MetricSeries s[METRIC_MAX_SERIES];
    int rounds;  // rows recorded so far, the current one included (round numbers are 1..rounds)
    int has_row; // v holds row `rounds` (0 right after metriclog_resume: that row is on disk)
} MetricLog;

void metriclog_init(MetricLog *log);
void metriclog_free(MetricLog *log);
// Declares a series (before the first row); returns its index. Names are unique ([a-z0-9_]).
int metriclog_add(MetricLog *log, const char *name, int width, int varies);
// Names the rows series idx is computed on (see MetricSeries.split; at most 15 characters).
void metriclog_set_split(MetricLog *log, int idx, const char *split);
// Index of a series by name, or -1.
int metriclog_find(const MetricLog *log, const char *name);
// Starts a new round: rounds + 1, its row all NaN (the previous row is forgotten: it was written).
void metriclog_next_round(MetricLog *log);
// Sets column col of series idx in the current row.
void metriclog_set(MetricLog *log, int idx, int col, double value);
// The current row's value (NaN when unset).
double metriclog_last(const MetricLog *log, int idx, int col);
// Resume: `rounds` rows are already in the run files; the next metriclog_next_round starts round
// rounds + 1. No current row until then.
void metriclog_resume(MetricLog *log, int rounds);
// Bytes the log holds on the heap: the declared series' widths, never the number of rounds.
size_t metriclog_heap_bytes(const MetricLog *log);
