// metrics.c - growable per-round series (see metrics.h).
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
    if (log->rounds == log->cap) {
        int cap = log->cap ? 2 * log->cap : 16;
        for (int i = 0; i < log->n_series; i++) {
            MetricSeries *s = &log->s[i];
            double *v = xmalloc((size_t)cap * (size_t)s->width * sizeof *v);
            if (s->v) memcpy(v, s->v, (size_t)log->rounds * (size_t)s->width * sizeof *v);
            xfree(s->v);
            s->v = v;
        }
        log->cap = cap;
    }
    for (int i = 0; i < log->n_series; i++) {
        MetricSeries *s = &log->s[i];
        for (int c = 0; c < s->width; c++)
            s->v[(size_t)log->rounds * (size_t)s->width + c] = NAN;
    }
    log->rounds++;
}

void metriclog_set(MetricLog *log, int idx, int col, double value) {
    CHECK(idx >= 0 && idx < log->n_series, "series index %d of %d", idx, log->n_series);
    CHECK(log->rounds > 0, "metriclog_next_round was not called");
    MetricSeries *s = &log->s[idx];
    CHECK(col >= 0 && col < s->width, "series '%s' column %d of %d", s->name, col, s->width);
    s->v[(size_t)(log->rounds - 1) * (size_t)s->width + col] = value;
}

double metriclog_last(const MetricLog *log, int idx, int col) {
    CHECK(idx >= 0 && idx < log->n_series && log->rounds > 0, "series %d, %d rounds", idx,
          log->rounds);
    const MetricSeries *s = &log->s[idx];
    CHECK(col >= 0 && col < s->width, "series '%s' column %d of %d", s->name, col, s->width);
    return s->v[(size_t)(log->rounds - 1) * (size_t)s->width + col];
}

void metriclog_truncate(MetricLog *log, int rounds) {
    CHECK(rounds >= 0 && rounds <= log->rounds, "truncate to %d of %d rounds", rounds, log->rounds);
    log->rounds = rounds;
}
