// die.c - print a located error message, then abort the whole MPI job (or the process).
#include "core/die.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *pending_hint; // set by die_set_hint, printed once by die_at

static DieHook hook; // test-only (die_set_hook); NULL in the programs

void die_set_hint(const char *hint) { pending_hint = hint; }

void die_set_hook(DieHook h) { hook = h; }

static int mpi_is_running(void) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    return inited && !finalized;
}

static _Noreturn void finish(void) {
    fflush(stdout);
    fflush(stderr);
    if (hook) hook(); // a fuzz harness may longjmp out here
    if (mpi_is_running()) MPI_Abort(MPI_COMM_WORLD, 1);
    abort();
}

static void print_prefix(const char *file, int line, const char *func) {
    fflush(stdout);
    if (mpi_is_running()) {
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        fprintf(stderr, "[rank %d] ", rank);
    }
    fprintf(stderr, "%s:%d: %s: ", file, line, func);
}

static void print_hint(void) {
    if (pending_hint) fprintf(stderr, "hint: %s\n", pending_hint);
    pending_hint = NULL;
}

void die_at(const char *file, int line, const char *func, const char *fmt, ...) {
    print_prefix(file, line, func);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_hint();
    finish();
}

void die_mpi_at(const char *file, int line, const char *func, const char *call, int rc) {
    char msg[MPI_MAX_ERROR_STRING + 1] = "unknown MPI error";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) == MPI_SUCCESS) msg[len] = '\0';
    print_prefix(file, line, func);
    fprintf(stderr, "%s failed with code %d: %s\n", call, rc, msg);
    print_hint();
    finish();
}

void die_h5_at(const char *file, int line, const char *func, const char *expr) {
    print_prefix(file, line, func);
    fprintf(stderr, "HDF5 call failed: %s\n", expr);
    H5Eprint2(H5E_DEFAULT, stderr);
    print_hint();
    finish();
}
