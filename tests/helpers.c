// helpers.c - see helpers.h.
#include "helpers.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void ck_assert_floats_near_at(const float *a, const float *b, size_t n, double atol, double rtol,
                              const char *what, const char *file, int line) {
    double max_abs = 0, max_rel = 0;
    size_t first_bad = n;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double rel = d / fmax(fabs((double)b[i]), 1e-30);
        if (d > max_abs) max_abs = d;
        if (rel > max_rel && fabs((double)b[i]) > atol) max_rel = rel;
        if (first_bad == n && !(d <= atol + rtol * fabs((double)b[i]))) first_bad = i;
    }
    if (first_bad < n)
        ck_abort_msg("%s:%d: %s differ at [%zu] of %zu: %.9g vs %.9g (max abs diff %.3g, max rel "
                     "diff %.3g; atol %.3g rtol %.3g)",
                     file, line, what, first_bad, n, (double)a[first_bad], (double)b[first_bad],
                     max_abs, max_rel, atol, rtol);
}

void fd_check_at(LossFn loss, void *ctx, float *x, const float *grad, size_t n, double h,
                 size_t max_probe, Rng *rng, const char *what, const char *file, int line) {
    size_t n_probe = n <= max_probe ? n : max_probe;
    for (size_t p = 0; p < n_probe; p++) {
        size_t i = n <= max_probe ? p : rng_below(rng, (uint32_t)n);
        float saved = x[i];
        x[i] = (float)(saved + h);
        double lp = loss(ctx);
        x[i] = (float)(saved - h);
        double lm = loss(ctx);
        // The actual step is what float rounding made of +-h.
        double step = (double)(float)(saved + h) - (double)(float)(saved - h);
        x[i] = saved;
        double fd = (lp - lm) / step;
        double g = grad[i];
        double err = fabs(fd - g);
        if (!(err <= TOL_FD_ABS + TOL_FD_REL * fmax(fabs(fd), fabs(g))))
            ck_abort_msg("%s:%d: gradient of %s at [%zu] of %zu: analytic %.6g, finite "
                         "difference %.6g (abs err %.3g)",
                         file, line, what, i, n, g, fd, err);
    }
}

void expect_die_at(void (*fn)(void *), void *arg, const char *const *needles, const char *file,
                   int line) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn(arg);
        _exit(0); // fn returned: no die
    }
    close(fds[1]);
    char out[8192];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
        ck_abort_msg("%s:%d: expected the call to die (SIGABRT), but it %s; stderr: %s", file, line,
                     WIFEXITED(status) ? "returned" : "ended otherwise", out);
    for (const char *const *s = needles; *s; s++)
        if (!strstr(out, *s))
            ck_abort_msg("%s:%d: the error message lacks \"%s\"; it was: %s", file, line, *s, out);
}

void fill_uniform(float *x, size_t n, float lo, float hi, uint32_t stream) {
    Rng r;
    rng_init(&r, 1234, 0, stream, RNG_TEST);
    rng_fill_uniform(&r, x, n, lo, hi);
}

double dot_double(const float *a, const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)g[i];
    return s;
}

int run_command(char *out, size_t cap, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen failed: %s", cmd);
    char chunk[4096];
    size_t len = 0, got;
    while ((got = fread(chunk, 1, sizeof chunk, p)) > 0) {
        size_t keep = out && len + 1 < cap ? (got < cap - 1 - len ? got : cap - 1 - len) : 0;
        if (keep) memcpy(out + len, chunk, keep), len += keep;
    }
    if (out && cap) out[len] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double value_after(const char *text, const char *key) {
    const char *at = strstr(text, key);
    ck_assert_msg(at != NULL, "no '%s' in:\n%.1500s", key, text);
    return atof(at + strlen(key));
}

// ---- end-to-end runs of build/bin/mmcollab ----

const char *mmc_bin(void) { return getenv("MMC_BIN_DIR") ? getenv("MMC_BIN_DIR") : "build/bin"; }

void mmc_data_path(char *out, const char *name) {
    const char *dir = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    ck_assert_msg(realpath(rel, out) != NULL, "no %s (make builds it)", rel);
}

void mmc_workdir(char *work, size_t cap, const char *prefix) {
    ck_assert_int_ge((int)cap, 64);
    snprintf(work, cap, "/tmp/%.40s.XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(work));
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    char abs_bin[1200];
    snprintf(abs_bin, sizeof abs_bin, "%s/%s", cwd, mmc_bin());
    if (mmc_bin()[0] != '/') setenv("MMC_BIN_DIR", abs_bin, 1);
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && %s/build_synmm --out syn.h5 --train 800 --test 200",
                                 work, mmc_bin()),
                     0);
}

void assert_same_checkpoint(const char *work, const char *a, const char *b, int round,
                            const char *obj) {
    char out[4096];
    int rc = run_command(out, sizeof out,
                         "cd %s && h5diff %s/ckpt/round_%06d.h5 %s/ckpt/round_%06d.h5 %s %s", work,
                         a, round, b, round, obj ? obj : "", obj ? obj : "");
    ck_assert_msg(rc == 0, "h5diff %s %s round %d %s: exit %d\n%.1500s", a, b, round,
                  obj ? obj : "", rc, out);
}

void assert_same_metrics(const char *work, const char *a, const char *b, int rounds) {
    char out[4096], count[64] = "true";
    if (rounds > 0) snprintf(count, sizeof count, "test $(wc -l < a.csv) -eq %d", rounds + 1);
    // The series that may differ between runs of one config (run.h5 marks them "varies"): wall
    // clock, and what depends on the rank layout.
    const char *drop = "awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i ~ /^(round_ms|comm_ms|io_ms|"
                       "host_compute_ms_max|mpi_bytes_sent|mpi_bytes_recv)$/) c[i]=1} "
                       "{s=\"\"; for(i=1;i<=NF;i++) if(!(i in c)) s=s $i \",\"; print s}'";
    int rc = run_command(out, sizeof out,
                         "cd %s && %s %s/metrics.csv > a.csv && %s %s/metrics.csv > b.csv && "
                         "diff a.csv b.csv && %s",
                         work, drop, a, drop, b, count);
    ck_assert_msg(rc == 0, "metrics of %s and %s differ (or lack rows):\n%.1500s", a, b, out);
}

int read_series(const char *work, const char *dir, const char *name, double *v, int cap) {
    char out[32768];
    ck_assert_int_eq(run_command(out, sizeof out,
                                 "cd %s && h5dump -y -w 0 -m %%.17g -d /metrics/%s %s/run.h5 | "
                                 "awk '/DATA [{]/{f=1; next} f && /[}]/{exit} f' | tr -d ', ' | "
                                 "grep -v '^$'",
                                 work, name, dir),
                     0);
    int n = 0;
    for (char *tok = strtok(out, "\n"); tok && n < cap; tok = strtok(NULL, "\n"))
        v[n++] = strcmp(tok, "nan") ? atof(tok) : NAN;
    return n;
}
