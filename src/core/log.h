// log.h - rank-aware logging (docs/conventions.md §13). Nothing else in src/ calls printf.
//
// log_init caches the rank and level (the only mutable globals besides the NaN guard flag).
// Before log_init every call behaves as rank 0 at LOG_INFO.
#pragma once

typedef enum LogLevel { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 } LogLevel;

// Local. Call once after MPI_Init (rank = 0 for serial tools).
void log_init(int rank, LogLevel level);
// Parses "error", "warn", "info", "debug"; returns -1 on an unknown name.
int log_level_parse(const char *name);

// Rank 0 only, to stdout.
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Every rank, prefixed "[rank R] ", to stdout.
void log_rank(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Every rank, prefixed "[rank R] warning: " / "error: ", to stderr.
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Every rank, only at LOG_DEBUG, to stderr.
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
