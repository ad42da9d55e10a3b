// metrics.c - the declared series and the current round's row (see metrics.h).
#include "io/metrics.h"

#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"

void metriclog_init(MetricLog *log) { memset(log, 0, sizeof *log); }

void metriclog_free(MetricLog *log) {
    for (int i = 0; i < log->n_series; i++)
        xfree(log->s[i].v);
    memset(log, 0, sizeof *log);
}

int metriclog_find(const MetricLog *log, const char *name) {
    for (int i = 0; i < log->n_series; i++)
        if (strcmp(log->s[i].name, name) == 0) return i;
    return -1;
}

int metriclog_add(MetricLog *log, const char *name, int width, int varies) {
    CHECK(log->rounds == 0, "series '%s' added after %d rounds were recorded", name, log->rounds);
    CHECK(log->n_series < METRIC_MAX_SERIES, "more than %d series", METRIC_MAX_SERIES);
    CHECK(strlen(name) > 0 && strlen(name) < METRIC_NAME_MAX, "series name '%s' length", name);
    for (const char *p = name; *p; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_',
              "series name '%s': only [a-z0-9_] allowed", name);
    CHECK(metriclog_find(log, name) < 0, "series '%s' declared twice", name);
    CHECK(width >= 1, "series '%s' width %d", name, width);
    MetricSeries *s = &log->s[log->n_series];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, strlen(name) + 1);
    s->width = width;
    s->varies = varies;
    return log->n_series++;
}

void metriclog_set_split(MetricLog *log, int idx, const char *split) {
    CHECK(idx >= 0 && idx < log->n_series, "series %d of %d", idx, log->n_series);
    CHECK(strlen(split) < sizeof log->s[idx].split, "split '%s' too long", split);
    memcpy(log->s[idx].split, split, strlen(split) + 1);
}

void metriclog_next_round(MetricLog *log) {
    CHECK(log->rounds < METRICS_MAX_ROUNDS, "more than %d rounds", METRICS_MAX_ROUNDS);
    for (int i = 0; i < log->n_series; i++) {
        MetricSeries *s = &log->s[i];
        if (!s->v) s->v = xmalloc((size_t)s->width * sizeof *s->v); // once: one row per series
        for (int c = 0; c < s->width; c++)
            s->v[c] = NAN;
    }
    log->rounds++;
    log->has_row = 1;
}

void metriclog_set(MetricLog *log, int idx, int col, double value) {
    CHECK(idx >= 0 && idx < log->n_series, "series index %d of %d", idx, log->n_series);
    CHECK(log->has_row, "metriclog_next_round was not called");
    MetricSeries *s = &log->s[idx];
    CHECK(col >= 0 && col < s->width, "series '%s' column %d of %d", s->name, col, s->width);
    s->v[col] = value;
}

double metriclog_last(const MetricLog *log, int idx, int col) {
    CHECK(idx >= 0 && idx < log->n_series && log->has_row, "series %d, %d rounds, no current row",
          idx, log->rounds);
    const MetricSeries *s = &log->s[idx];
    CHECK(col >= 0 && col < s->width, "series '%s' column %d of %d", s->name, col, s->width);
    return s->v[col];
}

void metriclog_resume(MetricLog *log, int rounds) {
    CHECK(rounds >= 0 && rounds <= METRICS_MAX_ROUNDS, "resume at round %d", rounds);
    log->rounds = rounds;
    log->has_row = 0;
}

size_t metriclog_heap_bytes(const MetricLog *log) {
    size_t bytes = 0;
    for (int i = 0; i < log->n_series; i++)
        if (log->s[i].v) bytes += (size_t)log->s[i].width * sizeof(double);
    return bytes;
}
