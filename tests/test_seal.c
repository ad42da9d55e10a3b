// test_seal.c - whole-file digests beside files: publication, the checks a reader relies on, and
// the refusals (damaged byte, missing or foreign digest, a FIFO under the name) without blocking.
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "io/seal.h"
#include "tmpdir.h"

static void write_bytes(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_publish_then_check_matches_sha256sum) {
    char dir[64], tmp[128], fin[128], err[512], hex[SHA256_HEX_LEN + 1], out[256];
    tmpdir_make(dir, sizeof dir, "seal");
    snprintf(tmp, sizeof tmp, "%s/a.h5.tmp", dir);
    snprintf(fin, sizeof fin, "%s/a.h5", dir);
    write_bytes(tmp, "hello, sealed world\n");
    ck_assert_int_eq(seal_publish(tmp, fin, hex, err, sizeof err), 0);
    ck_assert_int_eq(access(tmp, F_OK), -1); // renamed, not copied
    int64_t bytes = 0;
    char again[SHA256_HEX_LEN + 1];
    ck_assert_msg(seal_check(fin, again, &bytes, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(hex, again);
    ck_assert_int_eq(bytes, 20);
    // The sidecar is sha256sum's own format: the tool checks it.
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s && sha256sum -c a.h5.sha256", dir), 0);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_every_flipped_byte_is_refused_naming_the_file) {
    char dir[64], tmp[128], fin[128], err[512];
    tmpdir_make(dir, sizeof dir, "seal");
    snprintf(tmp, sizeof tmp, "%s/b.h5.tmp", dir);
    snprintf(fin, sizeof fin, "%s/b.h5", dir);
    write_bytes(tmp, "0123456789abcdef");
    ck_assert_int_eq(seal_publish(tmp, fin, NULL, err, sizeof err), 0);
    for (int i = 0; i < 16; i++) {
        int fd = open(fin, O_RDWR);
        unsigned char c;
        ck_assert_int_eq(pread(fd, &c, 1, i), 1);
        c ^= 0x10;
        ck_assert_int_eq(pwrite(fd, &c, 1, i), 1);
        ck_assert_int_eq(seal_check(fin, NULL, NULL, err, sizeof err), -1);
        ck_assert_msg(strstr(err, fin) && strstr(err, "damaged"), "%s", err);
        c ^= 0x10;
        ck_assert_int_eq(pwrite(fd, &c, 1, i), 1);
        close(fd);
        ck_assert_int_eq(seal_check(fin, NULL, NULL, err, sizeof err), 0);
    }
    // Appended bytes (a torn later write) are damage too.
    FILE *f = fopen(fin, "a");
    fputc('x', f);
    fclose(f);
    ck_assert_int_eq(seal_check(fin, NULL, NULL, err, sizeof err), -1);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_missing_damaged_or_foreign_digest_is_refused) {
    char dir[64], tmp[128], fin[128], other[128], side[160], err[512];
    tmpdir_make(dir, sizeof dir, "seal");
    snprintf(tmp, sizeof tmp, "%s/c.h5.tmp", dir);
    snprintf(fin, sizeof fin, "%s/c.h5", dir);
    snprintf(other, sizeof other, "%s/d.h5", dir);
    snprintf(side, sizeof side, "%s/d.h5.sha256", dir);
    write_bytes(tmp, "same bytes");
    ck_assert_int_eq(seal_publish(tmp, fin, NULL, err, sizeof err), 0);
    write_bytes(other, "same bytes");
    ck_assert_int_eq(seal_check(other, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no digest file"), "%s", err);
    ck_assert_int_eq(seal_present(other), 0);
    // c.h5's sidecar copied beside d.h5: the digest matches, the name does not.
    char out[256];
    ck_assert_int_eq(run_command(out, sizeof out, "cp %s/c.h5.sha256 %s", dir, side), 0);
    ck_assert_int_eq(seal_present(other), 1);
    ck_assert_int_eq(seal_check(other, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "another file's"), "%s", err);
    write_bytes(side, "zz\n");
    ck_assert_int_eq(seal_check(other, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, side), "%s", err);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_fifo_under_the_name_is_refused_without_blocking) {
    char dir[64], fin[128], err[512], hex[SHA256_HEX_LEN + 1];
    tmpdir_make(dir, sizeof dir, "seal");
    snprintf(fin, sizeof fin, "%s/e.h5", dir);
    ck_assert_int_eq(mkfifo(fin, 0600), 0);
    char side[160];
    snprintf(side, sizeof side, "%s.sha256", fin);
    write_bytes(side, "0000000000000000000000000000000000000000000000000000000000000000  e.h5\n");
    // No writer ever opens the FIFO: a blocking open would hang here (the test's timeout fails it).
    ck_assert_int_eq(seal_check(fin, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
    ck_assert_int_eq(seal_hash_file(dir, hex, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
    unlink(side);
    ck_assert_int_eq(mkfifo(side, 0600), 0); // the sidecar itself a FIFO
    ck_assert_int_eq(seal_check(fin, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_write_text_replaces_atomically_and_reports_a_missing_directory) {
    char dir[64], path[128], err[512], out[64];
    tmpdir_make(dir, sizeof dir, "seal");
    snprintf(path, sizeof path, "%s/latest", dir);
    ck_assert_int_eq(seal_write_text(path, "round_000001.h5\n", err, sizeof err), 0);
    ck_assert_int_eq(seal_write_text(path, "round_000002.h5\n", err, sizeof err), 0);
    ck_assert_int_eq(run_command(out, sizeof out, "cat %s", path), 0);
    ck_assert_str_eq(out, "round_000002.h5\n");
    ck_assert_int_eq(access("latest.tmp", F_OK), -1);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/latest", dir);
    ck_assert_int_eq(seal_write_text(missing, "x", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no/such/latest.tmp"), "%s", err);
    tmpdir_remove(dir);
}
END_TEST

Suite *seal_suite(void) {
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("seal");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_publish_then_check_matches_sha256sum);
    tcase_add_test(tc, test_every_flipped_byte_is_refused_naming_the_file);
    tcase_add_test(tc, test_missing_damaged_or_foreign_digest_is_refused);
    tcase_add_test(tc, test_fifo_under_the_name_is_refused_without_blocking);
    tcase_add_test(tc, test_write_text_replaces_atomically_and_reports_a_missing_directory);
    suite_add_tcase(s, tc);
    return s;
}
