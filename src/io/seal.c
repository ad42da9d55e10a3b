// seal.c - whole-file digests beside files, crash-safe publication (see seal.h).
#include "io/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEAL_LINE_MAX 1024 // a sidecar is one short line: anything longer is not ours

static int fail(char *err, size_t cap, const char *fmt, const char *path, const char *why) {
    snprintf(err, cap, fmt, path, why);
    return -1;
}

// Opens path for reading only if it is a regular file; never blocks on a FIFO (O_NONBLOCK, then
// fstat). The fd, or -1 with err.
static int open_regular(const char *path, int64_t *bytes, char *err, size_t cap) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(err, cap, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, cap, "%s: %s", path, "not a regular file (a FIFO, device or directory)");
    }
    if (bytes) *bytes = (int64_t)st.st_size;
    return fd;
}

int seal_hash_file(const char *path, char *hex, int64_t *bytes, char *err, size_t cap) {
    hex[0] = 0;
    int fd = open_regular(path, bytes, err, cap);
    if (fd < 0) return -1;
    enum { PIECE = 1 << 20 };
    uint8_t *buf = malloc(PIECE);
    if (!buf) {
        close(fd);
        return fail(err, cap, "%s: %s", path, "out of memory for a 1 MiB read buffer");
    }
    Sha256 s;
    sha256_init(&s);
    ssize_t got;
    while ((got = read(fd, buf, PIECE)) > 0 || (got < 0 && errno == EINTR))
        if (got > 0) sha256_update(&s, buf, (size_t)got);
    int read_errno = got < 0 ? errno : 0;
    free(buf);
    close(fd);
    if (read_errno) return fail(err, cap, "%s: read error: %s", path, strerror(read_errno));
    uint8_t d[32];
    sha256_final(&s, d);
    sha256_hex(d, hex);
    return 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int seal_sync_dir(const char *path, char *err, size_t cap) {
    char dir[SEAL_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(err, cap, "%s: cannot open directory: %s", dir, strerror(errno));
    // Some filesystems refuse fsync on a directory (EINVAL): nothing more can be done there.
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    int sync_errno = errno;
    close(fd);
    if (rc) return fail(err, cap, "%s: fsync of the directory: %s", dir, strerror(sync_errno));
    return 0;
}

static int sync_file(const char *path, char *err, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, cap, "%s: cannot open to fsync: %s", path, strerror(errno));
    int rc = fsync(fd), sync_errno = errno;
    close(fd);
    if (rc != 0) return fail(err, cap, "%s: fsync: %s", path, strerror(sync_errno));
    return 0;
}

int seal_write_text(const char *path, const char *text, char *err, size_t cap) {
    char tmp[SEAL_PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return fail(err, cap, "%s: %s", path, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(err, cap, "%s: cannot create: %s", tmp, strerror(errno));
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return fail(err, cap, "%s: write: %s", tmp, strerror(e));
        }
        done += (size_t)w;
    }
    // A full disk can surface only at fsync or close (delayed allocation): check both.
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(err, cap, "%s: fsync/close: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(err, cap, "%s: rename: %s", tmp, strerror(e));
    }
    return seal_sync_dir(path, err, cap);
}

int seal_replace(const char *tmp, const char *final, char *err, size_t cap) {
    if (sync_file(tmp, err, cap)) return -1;
    if (rename(tmp, final) != 0) return fail(err, cap, "%s: rename: %s", tmp, strerror(errno));
    return seal_sync_dir(final, err, cap);
}

int seal_publish(const char *tmp, const char *final, char *hex, char *err, size_t cap) {
    char digest[SHA256_HEX_LEN + 1], side[SEAL_PATH_MAX + 16], line[SEAL_PATH_MAX + 80];
    if (snprintf(side, sizeof side, "%s" SEAL_SUFFIX, final) >= (int)sizeof side)
        return fail(err, cap, "%s: %s", final, "path too long");
    if (seal_hash_file(tmp, digest, NULL, err, cap)) return -1;
    snprintf(line, sizeof line, "%s  %s\n", digest, base_name(final));
    if (seal_write_text(side, line, err, cap) || seal_replace(tmp, final, err, cap)) return -1;
    if (hex) memcpy(hex, digest, sizeof digest);
    return 0;
}

int seal_present(const char *path) {
    char side[SEAL_PATH_MAX + 16];
    snprintf(side, sizeof side, "%s" SEAL_SUFFIX, path);
    return access(side, F_OK) == 0;
}

// Reads the digest recorded in "<path>.sha256" into want. 0, or -1 with err.
static int read_sidecar(const char *path, char *want, char *err, size_t cap) {
    char side[SEAL_PATH_MAX + 16], line[SEAL_LINE_MAX + 1];
    snprintf(side, sizeof side, "%s" SEAL_SUFFIX, path);
    if (access(side, F_OK) != 0) {
        snprintf(err, cap, "%s: no digest file %s (written by an older build, or unfinished)", path,
                 side);
        return -1;
    }
    int64_t bytes = 0;
    int fd = open_regular(side, &bytes, err, cap);
    if (fd < 0) return -1;
    ssize_t got = bytes > 0 && bytes <= SEAL_LINE_MAX ? read(fd, line, (size_t)bytes) : -1;
    close(fd);
    if (got != bytes) return fail(err, cap, "%s: %s", side, "not a one-line digest file");
    line[got] = 0;
    const char *name = base_name(path);
    size_t n = strlen(name);
    int ok = (size_t)got == SHA256_HEX_LEN + 2 + n + 1 && line[SHA256_HEX_LEN] == ' ' &&
             line[SHA256_HEX_LEN + 1] == ' ' && line[got - 1] == '\n' &&
             memcmp(line + SHA256_HEX_LEN + 2, name, n) == 0;
    for (int i = 0; ok && i < SHA256_HEX_LEN; i++)
        ok = (line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f');
    if (!ok)
        return fail(err, cap, "%s: %s", side,
                    "is not \"<64 hex>  <file name>\" for this file (damaged or another file's)");
    memcpy(want, line, SHA256_HEX_LEN);
    want[SHA256_HEX_LEN] = 0;
    return 0;
}

int seal_check(const char *path, char *hex, int64_t *bytes, char *err, size_t cap) {
    char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
    if (read_sidecar(path, want, err, cap) || seal_hash_file(path, got, bytes, err, cap)) return -1;
    if (strcmp(want, got) != 0) {
        snprintf(err, cap, "%s: sha256 %.16s..., its digest file records %.16s... (damaged)", path,
                 got, want);
        return -1;
    }
    if (hex) memcpy(hex, got, sizeof got);
    return 0;
}
