// test_ckpt_damage.c - checkpoints in a hostile environment, end to end under mpirun -np 3 on a
// small SynMM file:
//   - a flipped bit anywhere in the newest checkpoint (metadata included) is refused before HDF5
//     parses the file, and every rank resumes from the previous one, ending identical to an
//     uninterrupted run (rank 0 decides, the others follow);
//   - a FIFO under a checkpoint's name is skipped without blocking;
//   - every checkpoint damaged: --resume=auto refuses, --resume=fresh-if-none starts over loudly;
//   - a full disk (a small tmpfs) and a read-only one: every rank exits non-zero within a bound,
//     the message names the directory, and the newest checkpoint left behind resumes to the same
//     end;
//   - run files past the checkpoint (killed after round 3's append, before its checkpoint; junk
//     lines in metrics.csv) are cut to it on resume: every non-varying series of run.h5 and
//     metrics.csv end identical to the uninterrupted run's;
//   - a run.h5 replaced by garbage before the resume is set aside as run.h5.damaged with a warning
//     and rebuilt: its scalar series equal the uninterrupted run's, the per-party ones are NaN for
//     the rounds before the resume (the warning names them) and equal after.
// Runs from the repository root; binaries from MMC_BIN_DIR.
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "io/ckpt.h"

#define RUN_TIMEOUT_S 60 /* a healthy run takes 1-2 s; the timeout catches a hang */

static char work[64];

static int mmc(const char *out_dir, const char *extra, char *out, size_t cap) {
    return run_command(out, cap,
                       "cd %s && timeout %d mpirun --oversubscribe -np 3 %s/mmcollab --data=syn.h5 "
                       "--out=%s --parties=4 --rounds=4 --width=16 --batch-size=16 %s 2>&1",
                       work, RUN_TIMEOUT_S, mmc_bin(), out_dir, extra);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void setup(void) {
    mmc_workdir(work, sizeof work, "mmc_ckptdmg");
    char out[16384];
    ck_assert_int_eq(mmc("straight", "", out, sizeof out), 0);
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static void flip_bit(const char *path, long off) {
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char c;
    ck_assert_int_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x04;
    ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

START_TEST(test_a_flipped_bit_anywhere_is_refused_and_every_rank_resumes_from_the_previous) {
    char out[16384], path[256], err[1024];
    ck_assert_int_eq(mmc("cut", "--stop-after=3", out, sizeof out), 3);
    snprintf(path, sizeof path, "%s/cut/ckpt/round_000003.h5", work);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    // Every byte of the first and last 8 KiB (superblock, object headers, the attributes and
    // metrics rank 0 adds last) and every 97th in between: refused, naming the file, never parsed.
    long n = (long)st.st_size, tried = 0;
    for (long off = 0; off < n; off += (off < 8192 || off >= n - 8192) ? 1 : 97, tried++) {
        flip_bit(path, off);
        ck_assert_msg(ckpt_verify(path, err, sizeof err) == -1 && strstr(err, path) &&
                          strstr(err, "damaged"),
                      "offset %ld: %s", off, err);
        flip_bit(path, off);
    }
    ck_assert_int_gt(tried, 16000);
    ck_assert_msg(ckpt_verify(path, err, sizeof err) == 0, "%s", err);
    // End to end: a bit in the superblock region of the newest file.
    flip_bit(path, 100);
    int rc = mmc("cut", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "skipping checkpoint") && strstr(out, "round_000003.h5: sha256"),
                  "%.3000s", out);
    ck_assert_msg(strstr(out, "resumed from cut/ckpt/round_000002.h5"), "%.3000s", out);
    assert_same_checkpoint(work, "straight", "cut", 4, NULL);
    assert_same_metrics(work, "straight", "cut", 4);
}
END_TEST

START_TEST(test_a_fifo_under_a_checkpoint_name_is_skipped_without_blocking) {
    char out[16384];
    ck_assert_int_eq(mmc("pipe", "--stop-after=3", out, sizeof out), 3);
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s/pipe/ckpt && rm round_000003.h5 && mkfifo round_000003.h5",
                                 work),
                     0);
    double t0 = now_s();
    int rc = mmc("pipe", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d after %.0f s\n%.3000s", rc, now_s() - t0, out);
    ck_assert_msg(strstr(out, "not a regular file"), "%.3000s", out);
    ck_assert_msg(strstr(out, "resumed from pipe/ckpt/round_000002.h5"), "%.3000s", out);
    assert_same_checkpoint(work, "straight", "pipe", 4, NULL);
}
END_TEST

START_TEST(test_every_checkpoint_damaged_auto_refuses_and_fresh_if_none_starts_over) {
    char out[16384];
    ck_assert_int_eq(mmc("dead", "--stop-after=3", out, sizeof out), 3);
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s/dead/ckpt && for f in round_*.h5; do "
                                 "printf 'X' | dd of=$f bs=1 seek=200 conv=notrunc 2>/dev/null; "
                                 "done",
                                 work),
                     0);
    int rc = mmc("dead", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "none of the 3 checkpoint(s)") && strstr(out, "fresh-if-none"),
                  "%.3000s", out);
    ck_assert_msg(!strstr(out, "round 1/4"), "a round ran after the refusal:\n%.3000s", out);
    rc = mmc("dead", "--resume=fresh-if-none", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "STARTING AGAIN FROM ROUND 0"), "%.3000s", out);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cd %s/dead/ckpt && ls round_000003.h5.damaged", work), 0);
    assert_same_checkpoint(work, "straight", "dead", 4, NULL);
    assert_same_metrics(work, "straight", "dead", 4);
}
END_TEST

// A tmpfs of kib KiB at work/<name>; 0, or -1 when this process may not mount (then the caller
// fails: make check runs as root, and a test that silently skips proves nothing).
static int mount_small(const char *name, int kib) {
    char dir[128], opts[64];
    snprintf(dir, sizeof dir, "%s/%s", work, name);
    mkdir(dir, 0755);
    snprintf(opts, sizeof opts, "size=%dk", kib);
    return mount("tmpfs", dir, "tmpfs", 0, opts);
}

static void unmount(const char *name) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/%s", work, name);
    umount2(dir, MNT_DETACH);
}

START_TEST(test_a_full_disk_stops_every_rank_with_the_previous_checkpoint_intact) {
    char out[16384];
    // The straight run's checkpoints are ~31 kB (each claims ~164 kB before writing) and its run
    // files ~99 kB from round 1 on: 280 KiB holds the run files and the first checkpoint, not the
    // claim of a later one.
    ck_assert_msg(mount_small("full", 280) == 0, "mount tmpfs: %s (make check runs as root)",
                  strerror(errno));
    double t0 = now_s();
    int rc = mmc("full/run", "", out, sizeof out);
    double took = now_s() - t0;
    ck_assert_msg(rc != 0 && rc != 124, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(took < 30, "took %.0f s to stop", took);
    ck_assert_msg(strstr(out, "cannot write checkpoint into full/run/ckpt") &&
                      strstr(out, "No space left on device") && strstr(out, "intact"),
                  "%.3000s", out);
    // What was left resumes (on a disk with room) to the uninterrupted run's end.
    ck_assert_int_eq(
        run_command(out, sizeof out, "cd %s && cp -r full/run after && ls after/ckpt", work), 0);
    ck_assert_msg(strstr(out, "round_000001.h5"), "no checkpoint left:\n%s", out);
    unmount("full");
    rc = mmc("after", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from after/ckpt/round_"), "exit %d\n%.3000s", rc,
                  out);
    assert_same_checkpoint(work, "straight", "after", 4, NULL);
    assert_same_metrics(work, "straight", "after", 4);
}
END_TEST

START_TEST(test_a_read_only_disk_stops_every_rank_naming_the_directory) {
    char out[16384], dir[128];
    ck_assert_msg(mount_small("ro", 4096) == 0, "mount tmpfs: %s", strerror(errno));
    ck_assert_int_eq(mmc("ro/run", "--stop-after=2", out, sizeof out), 3);
    snprintf(dir, sizeof dir, "%s/ro", work);
    ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=4096k"), 0);
    int rc = mmc("ro/run", "--resume=auto", out, sizeof out);
    unmount("ro");
    ck_assert_msg(rc != 0 && rc != 124, "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "ro/run") && strstr(out, "Read-only file system"), "%.3000s", out);
}
END_TEST

// Every non-varying series of a's run.h5 equals b's (h5diff: values, shapes, attributes; NaN equals
// NaN), both holding the same datasets of the same shapes; or only the scalar ones (metrics.csv's
// columns). Series whose varies attribute is 1 (wall-clock, rank layout) are skipped. h5diff 1.10's
// --exclude-path does not apply to named objects: one call per series.
static void assert_same_series(const char *a, const char *b, int scalar_only) {
    char out[8192];
    int rc = run_command(
        out, sizeof out,
        "cd %s && test \"$(h5ls %s/run.h5/metrics)\" = \"$(h5ls %s/run.h5/metrics)\" && "
        "for s in $(%s); do h5dump -a /metrics/$s/varies %s/run.h5 | grep -q '(0): 1' && continue; "
        "h5diff %s/run.h5 %s/run.h5 /metrics/$s /metrics/$s || exit 1; done 2>&1",
        work, a, b,
        scalar_only ? "head -1 straight/metrics.csv | tr , ' '"
                    : "h5ls straight/run.h5/metrics | cut -d' ' -f1",
        a, a, b);
    ck_assert_msg(rc == 0, "series of %s and %s differ: exit %d\n%.3000s", a, b, rc, out);
}

START_TEST(test_run_files_past_the_checkpoint_are_cut_to_it_on_resume) {
    char out[16384];
    ck_assert_int_eq(mmc("past", "--stop-after=3", out, sizeof out), 3);
    // As if killed after round 3's rows were appended, before its checkpoint was published; and
    // a torn line after them.
    ck_assert_int_eq(run_command(out, sizeof out,
                                 "cd %s/past && rm ckpt/round_000003.h5* && "
                                 "printf '4,0.5,junk\\n5,0.' >> metrics.csv && "
                                 "test $(wc -l < metrics.csv) = 5",
                                 work),
                     0);
    int rc = mmc("past", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from past/ckpt/round_000002.h5") &&
                      strstr(out, "cut to the checkpoint's 2 rounds (they held 3)"),
                  "exit %d\n%.3000s", rc, out);
    assert_same_checkpoint(work, "straight", "past", 4, NULL);
    assert_same_metrics(work, "straight", "past", 4);
    assert_same_series("straight", "past", 0);
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s/past && sha256sum -c run.h5.sha256", work),
                     0);
}
END_TEST

START_TEST(test_a_garbage_run_h5_is_set_aside_and_rebuilt_on_resume) {
    char out[16384];
    ck_assert_int_eq(mmc("junk", "--stop-after=2", out, sizeof out), 3);
    ck_assert_int_eq(
        run_command(out, sizeof out, "cd %s/junk && head -c 20000 /dev/urandom > run.h5", work), 0);
    int rc = mmc("junk", "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from junk/ckpt/round_000002.h5"),
                  "exit %d\n%.3000s", rc, out);
    ck_assert_msg(strstr(out, "junk/run.h5 is not a readable HDF5 file: moved to "
                              "junk/run.h5.damaged") &&
                      strstr(out, "rounds 1..2 of the per-party series (party_train_loss"),
                  "%.3000s", out);
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s/junk && test -s run.h5.damaged", work), 0);
    assert_same_checkpoint(work, "straight", "junk", 4, NULL);
    assert_same_metrics(work, "straight", "junk", 4);
    // Every scalar series (metrics.csv's columns) but the varying ones equals the straight run's.
    assert_same_series("straight", "junk", 1);
    // A per-party series: NaN for rounds 1..2 (4 parties), the straight run's after.
    double a[16], b[16];
    ck_assert_int_eq(read_series(work, "straight", "party_train_loss", a, 16), 16);
    ck_assert_int_eq(read_series(work, "junk", "party_train_loss", b, 16), 16);
    for (int k = 0; k < 16; k++)
        ck_assert_msg(k < 8 ? isnan(b[k]) : b[k] == a[k], "value %d: %.17g, straight %.17g", k,
                      b[k], a[k]);
}
END_TEST

Suite *ckpt_damage_suite(void) {
    Suite *s = suite_create("ckpt_damage");
    TCase *tc = tcase_create("ckpt_damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc,
                   test_a_flipped_bit_anywhere_is_refused_and_every_rank_resumes_from_the_previous);
    tcase_add_test(tc, test_a_fifo_under_a_checkpoint_name_is_skipped_without_blocking);
    tcase_add_test(tc, test_every_checkpoint_damaged_auto_refuses_and_fresh_if_none_starts_over);
    tcase_add_test(tc, test_a_full_disk_stops_every_rank_with_the_previous_checkpoint_intact);
    tcase_add_test(tc, test_a_read_only_disk_stops_every_rank_naming_the_directory);
    tcase_add_test(tc, test_run_files_past_the_checkpoint_are_cut_to_it_on_resume);
    tcase_add_test(tc, test_a_garbage_run_h5_is_set_aside_and_rebuilt_on_resume);
    suite_add_tcase(s, tc);
    return s;
}
