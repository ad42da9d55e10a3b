// test_mpi_count.c - the PMPI byte counter (tests/pmpi/mpi_count.c, build/lib/libmpicount.so)
// preloaded into build/bin/count_probe under mpirun at -np 2 and 3:
//   - every rank's sent/recv totals, and calls and bytes per MPI function, equal what the probe
//     computed by the counting rule for its calls on the communicator named "mmcollab";
//   - traffic on MPI_COMM_WORLD, on an unnamed duplicate, on duplicates of the named communicator
//     (which Open MPI leaves unnamed) and HDF5's own on a collective write counts nothing.
// Runs from the repository root (where `make test` runs); the library from MMC_LIB_DIR, else
// build/lib; count_probe from MMC_BIN_DIR.
#include <check.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tmpdir.h"

#define RUN_TIMEOUT_S 60     /* a healthy run takes ~1 s; the timeout catches a hang */
#define WRAPPED_FUNCTIONS 44 /* the MPI_ functions mpi_count.c counts; the probe calls each */

static char dir[64];

static void setup(void) { tmpdir_make(dir, sizeof dir, "mmc_mpi_count"); }

static void teardown(void) { tmpdir_remove(dir); }

// count_probe with the counter preloaded at -np np; mode "" or "dups".
static void run_probe(int np, const char *mode) {
    const char *lib_dir = getenv("MMC_LIB_DIR") ? getenv("MMC_LIB_DIR") : "build/lib";
    char lib[PATH_MAX + 32], out[8192];
    ck_assert_msg(realpath(lib_dir, lib) != NULL, "no library directory %s", lib_dir);
    strcat(lib, "/libmpicount.so");              // absolute: the ranks' loader resolves it
    run_command(NULL, 0, "rm -f %s/*.txt", dir); // no file left from the previous run
    int rc = run_command(out, sizeof out,
                         "timeout %d mpirun --oversubscribe -np %d -x LD_PRELOAD=%s "
                         "-x MMC_MPI_COUNT_DIR=%s %s/count_probe %s 2>&1",
                         RUN_TIMEOUT_S, np, lib, dir, mmc_bin(), mode);
    ck_assert_msg(rc == 0, "count_probe -np %d %s: exit %d (124 = timeout)\n%s", np, mode, rc, out);
}

static void read_text(const char *name, int rank, char *text, size_t cap) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s_%d.txt", dir, name, rank);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s (did the library load and MPI_Finalize run?)", path);
    size_t len = fread(text, 1, cap - 1, f);
    text[len] = '\0';
    fclose(f);
}

static void totals(const char *text, uint64_t *sent, uint64_t *recv) {
    ck_assert_msg(sscanf(text, "sent %" SCNu64 "\nrecv %" SCNu64, sent, recv) == 2,
                  "no sent/recv lines in:\n%s", text);
}

// Lines of text that start with "MPI_": one per function called.
static int function_lines(const char *text) {
    int n = 0;
    for (const char *s = strstr(text, "\nMPI_"); s; s = strstr(s + 1, "\nMPI_"))
        n++;
    return n;
}

// The interposer's file for rank equals the probe's expectation, total and per function.
static void assert_rank_matches(int np, int rank, int n_functions) {
    char got[8192], want[8192], line[256];
    read_text("rank", rank, got, sizeof got);
    read_text("expect", rank, want, sizeof want);
    uint64_t gs, gr, ws, wr;
    totals(got, &gs, &gr);
    totals(want, &ws, &wr);
    ck_assert_msg(gs == ws && gr == wr,
                  "-np %d rank %d: counted sent %" PRIu64 " recv %" PRIu64
                  ", expected sent %" PRIu64 " recv %" PRIu64 "\ncounted:\n%s\nexpected:\n%s",
                  np, rank, gs, gr, ws, wr, got, want);
    ck_assert_msg(function_lines(got) == n_functions && function_lines(want) == n_functions,
                  "-np %d rank %d: %d functions counted, %d expected, %d wrapped\n%s", np, rank,
                  function_lines(got), function_lines(want), n_functions, got);
    for (const char *s = strstr(want, "\nMPI_"); s; s = strstr(s + 1, "\nMPI_")) {
        size_t len = strcspn(s + 1, "\n") + 2; // with both newlines: a whole line
        snprintf(line, sizeof line, "%.*s", (int)len, s);
        ck_assert_msg(strstr(got, line), "-np %d rank %d: expected%scounted:\n%s", np, rank, line,
                      got);
    }
    // A duplicate that kept the name would be counted: the library would need to wrap MPI_Comm_dup.
    ck_assert_msg(strstr(want, "\ninherited 0\n"), "-np %d rank %d: %s", np, rank, want);
}

START_TEST(test_counts_equal_the_rule_for_every_rank_and_function) {
    for (int np = 2; np <= 3; np++) {
        run_probe(np, "");
        for (int rank = 0; rank < np; rank++)
            assert_rank_matches(np, rank, WRAPPED_FUNCTIONS);
    }
}
END_TEST

START_TEST(test_traffic_off_the_named_communicator_counts_nothing) {
    for (int np = 2; np <= 3; np++) {
        run_probe(np, "dups");
        for (int rank = 0; rank < np; rank++) {
            char got[8192];
            read_text("rank", rank, got, sizeof got);
            ck_assert_msg(strcmp(got, "sent 0\nrecv 0\n") == 0, "-np %d rank %d counted:\n%s", np,
                          rank, got);
            assert_rank_matches(np, rank, 0);
        }
    }
}
END_TEST

Suite *mpi_count_suite(void) {
    Suite *s = suite_create("mpi_count");
    TCase *tc = tcase_create("pmpi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 4 * RUN_TIMEOUT_S + 30);
    tcase_add_test(tc, test_counts_equal_the_rule_for_every_rank_and_function);
    tcase_add_test(tc, test_traffic_off_the_named_communicator_counts_nothing);
    suite_add_tcase(s, tc);
    return s;
}
