// log.c - see log.h. Each line is written with one fprintf so ranks' lines do not interleave.
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int log_rank_id;
static LogLevel log_level = LOG_INFO;

void log_init(int rank, LogLevel level) {
    log_rank_id = rank;
    log_level = level;
}

int log_level_parse(const char *name) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static void emit(FILE *f, const char *prefix, const char *fmt, va_list ap) {
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    if (prefix)
        fprintf(f, "[rank %d] %s%s\n", log_rank_id, prefix, line);
    else
        fprintf(f, "%s\n", line);
    fflush(f);
}

#define LOG_BODY(cond, f, prefix)                                                                  \
    do {                                                                                           \
        if (!(cond)) return;                                                                       \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(f, prefix, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    } while (0)

void log_info(const char *fmt, ...) {
    LOG_BODY(log_rank_id == 0 && log_level >= LOG_INFO, stdout, NULL);
}
void log_rank(const char *fmt, ...) { LOG_BODY(log_level >= LOG_INFO, stdout, ""); }
void log_warn(const char *fmt, ...) { LOG_BODY(log_level >= LOG_WARN, stderr, "warning: "); }
void log_error(const char *fmt, ...) { LOG_BODY(1, stderr, "error: "); }
void log_debug(const char *fmt, ...) { LOG_BODY(log_level >= LOG_DEBUG, stderr, "debug: "); }
