// die.h - the one exit path for bugs (tier 1) and failed external calls (tier 2),
// docs/conventions.md §5.
//
// Every macro here funnels into die_at(), which prints
//   [rank R] src/nn/linear.c:88: linear_forward: inp has C=63, weight expects C=64
// (plus an optional "hint:" line), flushes, and then calls MPI_Abort(MPI_COMM_WORLD, 1) when MPI is
// initialised, abort() otherwise. It never returns and never calls exit() under MPI, because one
// exiting rank would leave the others hung in a collective.
#pragma once

#include <limits.h>
#include <stddef.h>

_Noreturn void die_at(const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn)); // noreturn spelled out for cppcheck

// Sets a hint printed after the next die message (borrowed string, must outlive the call). Local.
void die_set_hint(const char *hint);

// Test-only: a function every die path calls after printing its message and before ending the
// process. The fuzz harnesses (tests/fuzz/, docs/fuzzing.md) set one that longjmps back into the
// harness, so that a reader's refusal by CHECK ends one input, not the fuzzer. When the hook
// returns, the process ends as above. NULL (the default, and all the programs ever use) changes
// nothing. A longjmp out of it skips the cleanup of every frame in between: only harnesses that
// then release what those frames held (HDF5 identifiers, memory) may set one. Local.
typedef void (*DieHook)(void);
void die_set_hook(DieHook hook);

// Always on (not assert, not NDEBUG). Braced: safe inside an unbraced if/else.
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) die_at(__FILE__, __LINE__, __func__, __VA_ARGS__);                            \
    } while (0)

// Pointer arguments that must not be NULL: names the argument.
#define CHECK_PTR(p) CHECK((p) != NULL, "%s is NULL", #p)

// BLAS and MPI counts are int: a size_t above INT_MAX would silently wrap.
#define CHECK_INT_COUNT(n)                                                                         \
    CHECK((size_t)(n) <= (size_t)INT_MAX, "%s = %zu exceeds INT_MAX (BLAS/MPI counts are int)",    \
          #n, (size_t)(n))

// MPI: the error string comes from MPI_Error_string (comm setup sets MPI_ERRORS_RETURN).
#define MPI_CHECK(call)                                                                            \
    do {                                                                                           \
        int mpi_check_rc_ = (call);                                                                \
        if (mpi_check_rc_ != 0) die_mpi_at(__FILE__, __LINE__, __func__, #call, mpi_check_rc_);    \
    } while (0)
_Noreturn void die_mpi_at(const char *file, int line, const char *func, const char *call, int rc);

// HDF5: identifiers and herr_t are negative on failure; prints the HDF5 error stack.
#define H5_CHECK(expr)                                                                             \
    do {                                                                                           \
        if ((long long)(expr) < 0) die_h5_at(__FILE__, __LINE__, __func__, #expr);                 \
    } while (0)
_Noreturn void die_h5_at(const char *file, int line, const char *func, const char *expr);

// LAPACK/ScaLAPACK info: < 0 is a bad argument (bug), > 0 a numerical failure (no convergence).
#define LAPACK_CHECK(info)                                                                         \
    do {                                                                                           \
        int lapack_check_info_ = (int)(info);                                                      \
        if (lapack_check_info_ != 0)                                                               \
            die_at(__FILE__, __LINE__, __func__, "%s returned info=%d (%s)", #info,                \
                   lapack_check_info_,                                                             \
                   lapack_check_info_ < 0 ? "illegal argument at that position"                    \
                                          : "did not converge / singular");                        \
    } while (0)
