// test_die_mpi.c - under mpirun, a CHECK or MPI_CHECK failure on one rank prints its location and
// values, and every rank exits non-zero promptly (MPI_Abort, never a hang in a collective).
// Runs build/bin/die_probe under mpirun from the repository root (where `make test` runs).
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/timer.h"

#define PROBE_TIMEOUT_S 60 /* generous: a hang is what we detect; a healthy abort takes ~1 s */

// Runs the probe; returns the exit status of the shell pipeline and fills out with the output.
static int run_probe(const char *mode, char *out, size_t cap, double *elapsed_ms) {
    const char *bin = getenv("MMC_BIN_DIR") ? getenv("MMC_BIN_DIR") : "build/bin";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "timeout %d mpirun --oversubscribe -np 3 %s/die_probe %s 2>&1",
             PROBE_TIMEOUT_S, bin, mode);
    double t0 = timer_now_ms();
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    *elapsed_ms = timer_now_ms() - t0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_probe_without_failure_exits_zero) {
    char out[16384];
    double ms;
    int rc = run_probe("ok", out, sizeof out, &ms);
    ck_assert_msg(rc == 0, "exit %d, output: %s", rc, out);
    ck_assert_msg(strstr(out, "all ranks passed the barrier") != NULL, "output: %s", out);
}
END_TEST

START_TEST(test_check_on_one_rank_aborts_every_rank_with_location) {
    char out[16384];
    double ms;
    int rc = run_probe("check", out, sizeof out, &ms);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d (124 = timeout: a hang), output: %s", rc, out);
    ck_assert_msg(strstr(out, "[rank 1] tests/probes/die_probe.c:") != NULL, "output: %s", out);
    ck_assert_msg(strstr(out, "inp has C=63, weight expects C=64") != NULL, "output: %s", out);
    ck_assert_msg(strstr(out, "all ranks passed the barrier") == NULL, "a rank went on: %s", out);
}
END_TEST

START_TEST(test_mpi_check_prints_the_mpi_error_string) {
    char out[16384];
    double ms;
    int rc = run_probe("mpi", out, sizeof out, &ms);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d (124 = timeout: a hang), output: %s", rc, out);
    ck_assert_msg(strstr(out, "[rank 0] tests/probes/die_probe.c:") != NULL, "output: %s", out);
    ck_assert_msg(strstr(out, "MPI_Send(&x, 1, MPI_INT, size + 5, 0, MPI_COMM_WORLD) failed") !=
                      NULL,
                  "output: %s", out);
    ck_assert_msg(strstr(out, "invalid rank") != NULL, "no MPI error string in: %s", out);
}
END_TEST

Suite *die_mpi_suite(void) {
    Suite *s = suite_create("die_mpi");
    TCase *tc = tcase_create("abort");
    tcase_set_timeout(tc, PROBE_TIMEOUT_S + 30);
    tcase_add_test(tc, test_probe_without_failure_exits_zero);
    tcase_add_test(tc, test_check_on_one_rank_aborts_every_rank_with_location);
    tcase_add_test(tc, test_mpi_check_prints_the_mpi_error_string);
    suite_add_tcase(s, tc);
    return s;
}
