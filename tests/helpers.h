// helpers.h - shared test helpers (docs/conventions.md §15): tensor comparison that reports the
// first failing index, central-difference gradient checks in double, and "this call must die with
// this message".
#pragma once

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

// Tolerances: named, each with its reason.
#define TOL_FD_REL 2e-2   /* float32 forward, central differences with h = 1e-2 (relative error) */
#define TOL_FD_ABS 1e-3   /* absolute floor for near-zero gradients under the same h */
#define TOL_BLAS_REF 1e-4 /* BLAS vs naive loops: float32 sums in a different order */

// Fails the running test with the first index where |a-b| > atol + rtol*|b|, both values and the
// max abs/rel difference. what names the compared buffer in the message.
void ck_assert_floats_near_at(const float *a, const float *b, size_t n, double atol, double rtol,
                              const char *what, const char *file, int line);
#define ck_assert_floats_near(a, b, n, atol, rtol)                                                 \
    ck_assert_floats_near_at((a), (b), (n), (atol), (rtol), #a " vs " #b, __FILE__, __LINE__)

// Gradient check by central differences, ggml's method.
// loss(ctx) computes a scalar in double from the current contents of x (which the check perturbs
// in place). grad[i] is the analytic dloss/dx[i]. Checks every index when n <= max_probe, else
// max_probe indices drawn from rng. Fails the test on the first index where
// |fd - grad| > TOL_FD_ABS + TOL_FD_REL * max(|fd|, |grad|).
typedef double (*LossFn)(void *ctx);
void fd_check_at(LossFn loss, void *ctx, float *x, const float *grad, size_t n, double h,
                 size_t max_probe, Rng *rng, const char *what, const char *file, int line);
#define fd_check(loss, ctx, x, grad, n, h, max_probe, rng)                                         \
    fd_check_at((loss), (ctx), (x), (grad), (n), (h), (max_probe), (rng), #x, __FILE__, __LINE__)

// Runs fn(arg) in a forked child with stderr captured; fails the test unless the child was killed
// by SIGABRT (CHECK's path without MPI) and its stderr contains every string in needles
// (NULL-ended).
void expect_die_at(void (*fn)(void *), void *arg, const char *const *needles, const char *file,
                   int line);
#define expect_die(fn, arg, ...)                                                                   \
    expect_die_at((fn), (arg), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

// Test data: x[i] ~ U(lo, hi) from the test stream `purpose_index` of seed 1234.
void fill_uniform(float *x, size_t n, float lo, float hi, uint32_t stream);

// Sum over i of a[i]*g[i] in double: the scalar "loss" whose gradient w.r.t. a is g.
double dot_double(const float *a, const float *g, size_t n);

// Runs a shell command (printf-style), reading its whole output (stdout; add 2>&1 for stderr) and
// keeping the first cap - 1 bytes in out (may be NULL). Returns the exit code, or -1 when the shell
// was killed by a signal. The pipe is drained to the end, so a long output never stalls the job.
int run_command(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// The value after "key" in text (e.g. "modalities=audio test_acc="), or fails the test naming key.
double value_after(const char *text, const char *key);

// ---- end-to-end runs of build/bin/mmcollab (test_pipeline.c, test_bomm.c) ----

// The binaries' directory: MMC_BIN_DIR (made absolute by mmc_workdir), else build/bin.
const char *mmc_bin(void);
// The absolute path of name (e.g. "base/mllm_tiny.h5") in the data directory, MMC_DATA_DIR (else
// data), into out (PATH_MAX); fails the test naming the path when it does not exist.
void mmc_data_path(char *out, const char *name);
// A fresh temporary work directory /tmp/<prefix>.XXXXXX in work (cap >= 64) holding syn.h5, a small
// SynMM file (800 / 200 rows); MMC_BIN_DIR becomes absolute so commands can cd there.
void mmc_workdir(char *work, size_t cap, const char *prefix);
// h5diff of round `round`'s checkpoints of run directories a and b under work: the whole files, or
// the object obj (e.g. "/cloud/global") when not NULL. Fails the test with h5diff's output.
void assert_same_checkpoint(const char *work, const char *a, const char *b, int round,
                            const char *obj);
// Every cell of series /metrics/<name> in work/<dir>/run.h5 (row-major: round, then party), NaN
// included, into v (at most cap); returns the count. Fails the test when h5dump cannot read it.
int read_series(const char *work, const char *dir, const char *name, double *v, int cap);
// metrics.csv of a and b equal once the varying columns (round_ms, mpi_bytes_*) are dropped; with
// rounds > 0 also that they hold exactly that many rows.
void assert_same_metrics(const char *work, const char *a, const char *b, int rounds);
