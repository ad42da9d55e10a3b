// options.c - the table-driven parser behind every program's options (see options.h).
#include "core/options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t cap, const char *fmt,
                                                       ...) {
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
}

const char *opts_type_name(OptType t) {
    switch (t) {
    case OPT_INT:
        return "int";
    case OPT_I64:
        return "int64";
    case OPT_DOUBLE:
        return "number";
    case OPT_BOOL:
        return "bool";
    case OPT_STRING:
        return "string";
    case OPT_CHOICE:
        return "choice";
    case OPT_RATIOS:
        return "ratios";
    }
    return "?";
}

// A bound as text: whole numbers in full (65536, 1000000, not 1e+06), others as %g.
static void bound_text(double v, char *buf, size_t cap) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%g", v);
}

void opts_range_text(const OptSpec *o, char *buf, size_t cap) {
    char lo_s[32], hi_s[32];
    bound_text(o->lo, lo_s, sizeof lo_s);
    bound_text(o->hi, hi_s, sizeof hi_s);
    buf[0] = 0;
    int lo = o->range & OPT_LO, hi = o->range & OPT_HI;
    if (lo && hi)
        snprintf(buf, cap, "in %c%s, %s%c", (o->range & OPT_LO_OPEN) ? '(' : '[', lo_s, hi_s,
                 (o->range & OPT_HI_OPEN) ? ')' : ']');
    else if (lo)
        snprintf(buf, cap, "%s %s", (o->range & OPT_LO_OPEN) ? ">" : ">=", lo_s);
    else if (hi)
        snprintf(buf, cap, "%s %s", (o->range & OPT_HI_OPEN) ? "<" : "<=", hi_s);
}

static int in_range(const OptSpec *o, double v) {
    if (o->range & OPT_LO) {
        if ((o->range & OPT_LO_OPEN) ? !(v > o->lo) : !(v >= o->lo)) return 0;
    }
    if (o->range & OPT_HI) {
        if ((o->range & OPT_HI_OPEN) ? !(v < o->hi) : !(v <= o->hi)) return 0;
    }
    return 1;
}

static int choice_ok(const char *choices, const char *v) {
    size_t len = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, v, n) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

// "a[:b[:...]]": at most 8 finite non-negative numbers.
static int ratios_ok(const char *v) {
    for (int k = 0; k < 8; k++) {
        char *end;
        double x = strtod(v, &end);
        if (end == v || !isfinite(x) || x < 0 || (*end != ':' && *end != '\0')) return 0;
        if (*end == '\0') return 1;
        v = end + 1;
    }
    return 0;
}

static int parse_bool(const char *v, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no",
                                                                                "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, 1;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, 1;
    }
    return 0;
}

// The "not set" value of an OPT_UNSET_OK field.
static void set_unset(const OptSpec *o, char *field) {
    switch (o->type) {
    case OPT_INT:
        *(int *)field = INT_MIN;
        break;
    case OPT_I64:
        *(int64_t *)field = INT64_MIN;
        break;
    case OPT_DOUBLE: {
        double v = NAN;
        memcpy(field, &v, sizeof v);
        break;
    }
    default:
        field[0] = 0; // strings: "" is already "not set"
    }
}

int opts_is_unset(const OptSpec *o, const void *base) {
    if (!(o->flags & OPT_UNSET_OK)) return 0;
    const char *field = (const char *)base + o->offset;
    switch (o->type) {
    case OPT_INT:
        return *(const int *)field == INT_MIN;
    case OPT_I64:
        return *(const int64_t *)field == INT64_MIN;
    case OPT_DOUBLE: {
        double v;
        memcpy(&v, field, sizeof v);
        return isnan(v);
    }
    case OPT_STRING:
    case OPT_CHOICE:
    case OPT_RATIOS:
        return field[0] == 0;
    default:
        return 0;
    }
}

// Parses value into o's field of base.
static int set_field(const OptSpec *o, void *base, const char *value, const char *origin, char *err,
                     size_t cap) {
    const char *key = o->key;
    char *field = (char *)base + o->offset;
    char rng[96];
    opts_range_text(o, rng, sizeof rng);
    if (strchr(value, '\n')) {
        fail(err, cap, "%s: --%s: the value contains a line break", origin, key);
        return OPT_ERR_BAD_VALUE;
    }
    if (!*value && (o->flags & OPT_UNSET_OK)) {
        set_unset(o, field);
        return OPT_OK;
    }
    switch (o->type) {
    case OPT_INT:
    case OPT_I64: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        int fits = o->type == OPT_I64 || (v >= INT_MIN && v <= INT_MAX);
        if (!*value || *end || errno || !fits || !in_range(o, (double)v)) {
            fail(err, cap, "%s: --%s=%s: expected an integer%s%s", origin, key, value,
                 rng[0] ? " " : "", rng);
            return OPT_ERR_BAD_VALUE;
        }
        if (o->type == OPT_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = (int64_t)v;
        return OPT_OK;
    }
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(v) || !in_range(o, v)) {
            fail(err, cap, "%s: --%s=%s: expected a finite number%s%s", origin, key, value,
                 rng[0] ? " " : "", rng);
            return OPT_ERR_BAD_VALUE;
        }
        memcpy(field, &v, sizeof v);
        return OPT_OK;
    }
    case OPT_BOOL:
        if (!parse_bool(value, (int *)field)) {
            fail(err, cap, "%s: --%s=%s: expected true or false", origin, key, value);
            return OPT_ERR_BAD_VALUE;
        }
        return OPT_OK;
    case OPT_CHOICE:
        if (!choice_ok(o->choices, value)) {
            fail(err, cap, "%s: --%s=%s: expected one of %s", origin, key, value, o->choices);
            return OPT_ERR_BAD_VALUE;
        }
        __attribute__((fallthrough)); // stored like a string
    case OPT_RATIOS:
    case OPT_STRING: {
        if (strlen(value) >= OPT_STR_MAX) {
            fail(err, cap, "%s: --%s: value is %zu characters, at most %d allowed", origin, key,
                 strlen(value), OPT_STR_MAX - 1);
            return OPT_ERR_BAD_VALUE;
        }
        if (o->type == OPT_RATIOS && !ratios_ok(value)) {
            fail(err, cap, "%s: --%s=%s: expected colon-separated non-negative numbers like 3:7",
                 origin, key, value);
            return OPT_ERR_BAD_VALUE;
        }
        memcpy(field, value, strlen(value) + 1);
        return OPT_OK;
    }
    }
    return OPT_ERR_BAD_VALUE;
}

// ---- sets of tables ----

void optset_add(OptSet *s, const OptSpec *spec, int n, void *base) {
    if (s->n >= OPT_MAX_TABLES || (n > 0 && (!spec || !base))) {
        fprintf(stderr, "optset_add: %d tables (max %d) or a NULL table/struct\n", s->n,
                OPT_MAX_TABLES);
        abort(); // a programming error in the caller's table setup
    }
    s->t[s->n++] = (OptTable){spec, n, base};
}

const OptSpec *optset_find(const OptSet *s, const char *key, void **base) {
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->t[t].n; i++)
            if (strcmp(s->t[t].spec[i].key, key) == 0) {
                if (base) *base = s->t[t].base;
                return &s->t[t].spec[i];
            }
    return NULL;
}

const void *optset_value(const OptSet *s, const char *key) {
    void *base;
    const OptSpec *o = optset_find(s, key, &base);
    return o ? (const char *)base + o->offset : NULL;
}

int optset_set(const OptSet *s, const char *key, const char *value, const char *origin, char *err,
               size_t cap) {
    void *base;
    const OptSpec *o = optset_find(s, key, &base);
    if (!o) {
        fail(err, cap, "%s: unknown option '%s' (see --help for the list)", origin, key);
        return OPT_ERR_UNKNOWN_KEY;
    }
    return set_field(o, base, value, origin, err, cap);
}

int optset_defaults(const OptSet *s, char *err, size_t cap) {
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->t[t].n; i++) {
            int rc =
                set_field(&s->t[t].spec[i], s->t[t].base, s->t[t].spec[i].def, "default", err, cap);
            if (rc != OPT_OK) return rc;
        }
    return OPT_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

// What a non-regular file is, for messages.
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

// The whole of a config file into a malloc'd, NUL-terminated buffer (*len bytes before the NUL).
// The checks are made on the open descriptor (no window between a stat and the open), and
// O_NONBLOCK keeps the open of a FIFO from waiting for a writer.
static int slurp_config(const char *path, char **text, size_t *len, char *err, size_t cap) {
    *text = NULL;
    if (!path[0]) {
        fail(err, cap, "config file: the name is empty (--config= needs a file)");
        return OPT_ERR_FILE;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fail(err, cap, "%s: cannot open config file: %s", path, strerror(errno));
        return OPT_ERR_FILE;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fail(err, cap, "%s: cannot stat config file: %s", path, strerror(errno));
        close(fd);
        return OPT_ERR_FILE;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, cap, "%s: config file is %s; expected a regular file of 'key = value' lines",
             path, file_kind(st.st_mode));
        close(fd);
        return OPT_ERR_FILE;
    }
    if (st.st_size > OPT_FILE_MAX_BYTES) {
        fail(err, cap, "%s: config file is %lld bytes, more than the %d allowed", path,
             (long long)st.st_size, OPT_FILE_MAX_BYTES);
        close(fd);
        return OPT_ERR_FILE;
    }
    // One byte more than allowed: a file that grew after fstat is refused, not truncated.
    char *buf = malloc(OPT_FILE_MAX_BYTES + 2);
    if (!buf) abort();
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, OPT_FILE_MAX_BYTES + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fail(err, cap, "%s: cannot read config file: %s", path, strerror(errno));
            free(buf), close(fd);
            return OPT_ERR_FILE;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > OPT_FILE_MAX_BYTES) {
            fail(err, cap, "%s: config file is more than %d bytes", path, OPT_FILE_MAX_BYTES);
            free(buf), close(fd);
            return OPT_ERR_FILE;
        }
    }
    close(fd);
    buf[n] = 0;
    *text = buf, *len = n;
    return OPT_OK;
}

int opts_read_file(const char *path, OptKvFn on_kv, void *ctx, char *err, size_t cap) {
    char *text;
    size_t len;
    int rc = slurp_config(path, &text, &len, err, cap);
    if (rc != OPT_OK) return rc;
    char line[OPT_LINE_MAX + 2], section[128] = "", origin[512];
    int lineno = 0;
    for (size_t at = 0; rc == OPT_OK && at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        lineno++;
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        if (n > OPT_LINE_MAX) {
            fail(err, cap, "%s: line longer than %d characters", origin, OPT_LINE_MAX);
            rc = OPT_ERR_SYNTAX;
            break;
        }
        if (memchr(text + at, '\0', n)) {
            fail(err, cap, "%s: the line holds a NUL byte (not a text file?)", origin);
            rc = OPT_ERR_SYNTAX;
            break;
        }
        memcpy(line, text + at, n);
        line[n] = 0;
        at += n + 1;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1]) {
                fail(err, cap, "%s: expected '[section]', got '%s'", origin, s);
                rc = OPT_ERR_SYNTAX;
                break;
            }
            *close = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            fail(err, cap, "%s: expected 'key = value', got '%s'", origin, s);
            rc = OPT_ERR_SYNTAX;
            break;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1), full[256];
        if (!*key) {
            fail(err, cap, "%s: empty key before '='", origin);
            rc = OPT_ERR_SYNTAX;
            break;
        }
        if (section[0])
            snprintf(full, sizeof full, "%s.%s", section, key);
        else
            snprintf(full, sizeof full, "%s", key);
        rc = on_kv(ctx, full, value, origin, err, cap);
    }
    free(text);
    return rc;
}

static int set_kv(void *ctx, const char *key, const char *value, const char *origin, char *err,
                  size_t cap) {
    return optset_set(ctx, key, value, origin, err, cap);
}

int optset_load_file(const OptSet *s, const char *path, char *err, size_t cap) {
    return opts_read_file(path, set_kv, (void *)s, err, cap);
}

// "--key=value" → key and value (borrowed into buf). Returns 0 when arg is not of that form.
static int split_arg(const char *arg, char *key, size_t cap, const char **value) {
    if (strncmp(arg, "--", 2) != 0) return 0;
    const char *eq = strchr(arg, '=');
    if (!eq) return 0;
    size_t len = (size_t)(eq - arg - 2);
    if (len == 0 || len >= cap) return 0;
    memcpy(key, arg + 2, len);
    key[len] = 0;
    *value = eq + 1;
    return 1;
}

int optset_parse(const OptSet *s, int argc, char **argv, char *err, size_t cap) {
    int rc = optset_defaults(s, err, cap);
    if (rc != OPT_OK) return rc;
    char key[256];
    const char *value;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return OPT_HELP;
    // The file first, whatever its position, so the command line always wins.
    for (int i = 1; i < argc; i++) {
        if (split_arg(argv[i], key, sizeof key, &value) && strcmp(key, "config") == 0) {
            rc = optset_load_file(s, value, err, cap);
            if (rc != OPT_OK) return rc;
            if (optset_find(s, "config", NULL))
                rc = optset_set(s, "config", value, "command line", err, cap);
            if (rc != OPT_OK) return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const OptSpec *flag = strncmp(argv[i], "--", 2) == 0 && !strchr(argv[i], '=')
                                  ? optset_find(s, argv[i] + 2, NULL)
                                  : NULL;
        if (flag && flag->type == OPT_BOOL) { // a bare --flag is --flag=true
            rc = optset_set(s, argv[i] + 2, "true", "command line", err, cap);
            if (rc != OPT_OK) return rc;
            continue;
        }
        if (!split_arg(argv[i], key, sizeof key, &value)) {
            fail(err, cap, "command line: '%s': expected --key=value (see --help)", argv[i]);
            return OPT_ERR_SYNTAX;
        }
        if (strcmp(key, "config") == 0) continue;
        rc = optset_set(s, key, value, "command line", err, cap);
        if (rc != OPT_OK) return rc;
    }
    return OPT_OK;
}

int optset_check_files(const OptSet *s, char *err, size_t cap) {
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->t[t].n; i++) {
            const OptSpec *o = &s->t[t].spec[i];
            if (!(o->flags & OPT_FILE) || o->type != OPT_STRING) continue;
            const char *path = (const char *)s->t[t].base + o->offset;
            if (!path[0] && (o->flags & OPT_UNSET_OK)) continue;
            struct stat st;
            if (!path[0]) {
                fail(err, cap, "--%s=: the file name is empty", o->key);
                return OPT_ERR_FILE;
            }
            if (stat(path, &st) != 0) {
                fail(err, cap, "--%s=%s: %s", o->key, path, strerror(errno));
                return OPT_ERR_FILE;
            }
            if (!S_ISREG(st.st_mode)) {
                fail(err, cap, "--%s=%s: is %s; expected a regular file", o->key, path,
                     file_kind(st.st_mode));
                return OPT_ERR_FILE;
            }
        }
    return OPT_OK;
}

typedef struct {
    const char *key;
    char *out;
    size_t cap;
    int found;
} Prescan;

static int prescan_kv(void *ctx, const char *key, const char *value, const char *origin, char *err,
                      size_t cap) {
    (void)origin, (void)err, (void)cap;
    Prescan *p = ctx;
    if (strcmp(key, p->key) == 0) p->found = 1, snprintf(p->out, p->cap, "%s", value);
    return OPT_OK;
}

int opts_prescan(int argc, char **argv, const char *key, char *out, size_t cap) {
    char k[256];
    const char *value;
    int found = 0;
    for (int i = 1; i < argc; i++)
        if (split_arg(argv[i], k, sizeof k, &value) && strcmp(k, key) == 0)
            found = 1, snprintf(out, cap, "%s", value);
    if (found) return 1;
    // A file that cannot be read or has a syntax error is reported by the real parse.
    Prescan p = {key, out, cap, 0};
    char ignored[8];
    for (int i = 1; i < argc; i++)
        if (split_arg(argv[i], k, sizeof k, &value) && strcmp(k, "config") == 0)
            p.found = 0, opts_read_file(value, prescan_kv, &p, ignored, sizeof ignored);
    return p.found;
}

void opts_format(const OptSpec *o, const void *base, char *buf, size_t cap) {
    const char *field = (const char *)base + o->offset;
    if (opts_is_unset(o, base)) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    switch (o->type) {
    case OPT_INT:
        snprintf(buf, cap, "%d", *(const int *)field);
        break;
    case OPT_I64:
        snprintf(buf, cap, "%" PRId64, *(const int64_t *)field);
        break;
    case OPT_DOUBLE: {
        // Shortest text that reads back to the same double.
        double v;
        memcpy(&v, field, sizeof v);
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
        break;
    }
    case OPT_BOOL:
        snprintf(buf, cap, "%s", *(const int *)field ? "true" : "false");
        break;
    case OPT_STRING:
    case OPT_CHOICE:
    case OPT_RATIOS:
        snprintf(buf, cap, "%s", field);
        break;
    }
}

int optset_diff(const OptSet *a, const OptSet *b, unsigned skip_flags, const char *label_a,
                const char *label_b, char *buf, size_t cap) {
    char va[OPT_STR_MAX + 32], vb[OPT_STR_MAX + 32];
    int count = 0;
    size_t used = 0;
    if (cap) buf[0] = 0;
    for (int t = 0; t < a->n && t < b->n; t++)
        for (int i = 0; i < a->t[t].n; i++) {
            const OptSpec *o = &a->t[t].spec[i];
            if (o->flags & skip_flags) continue;
            opts_format(o, a->t[t].base, va, sizeof va);
            opts_format(o, b->t[t].base, vb, sizeof vb);
            if (strcmp(va, vb) == 0) continue;
            count++;
            if (used < cap) {
                int w = label_a
                            ? snprintf(buf + used, cap - used, "%s%s (%s '%s', %s '%s')",
                                       used ? ", " : "", o->key, label_a, va, label_b, vb)
                            : snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", o->key);
                used += w > 0 ? (size_t)w : 0;
            }
        }
    return count;
}

char *optset_serialize(const OptSet *s) {
    size_t cap = 4096, used = 0;
    char *out = malloc(cap), v[OPT_STR_MAX + 32];
    if (!out) abort();
    out[0] = 0;
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->t[t].n; i++) {
            const OptSpec *o = &s->t[t].spec[i];
            opts_format(o, s->t[t].base, v, sizeof v);
            size_t need = strlen(o->key) + strlen(v) + 3;
            if (used + need >= cap) {
                while (used + need >= cap)
                    cap *= 2;
                char *bigger = realloc(out, cap);
                if (!bigger) abort();
                out = bigger;
            }
            used += (size_t)snprintf(out + used, cap - used, "%s=%s\n", o->key, v);
        }
    return out;
}

// ---- single-table forms ----

static OptSet one_table(const OptSpec *table, int n, const void *cfg) {
    OptSet s = {0};
    optset_add(&s, table, n, (void *)cfg);
    return s;
}

const OptSpec *opts_find(const OptSpec *table, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].key, key) == 0) return &table[i];
    return NULL;
}

int opts_set(const OptSpec *table, int n, void *cfg, const char *key, const char *value,
             const char *origin, char *err, size_t cap) {
    OptSet s = one_table(table, n, cfg);
    return optset_set(&s, key, value, origin, err, cap);
}

int opts_set_defaults(const OptSpec *table, int n, void *cfg, char *err, size_t cap) {
    OptSet s = one_table(table, n, cfg);
    return optset_defaults(&s, err, cap);
}

int opts_parse(const OptSpec *table, int n, void *cfg, int argc, char **argv, char *err,
               size_t cap) {
    OptSet s = one_table(table, n, cfg);
    return optset_parse(&s, argc, argv, err, cap);
}

int opts_diff(const OptSpec *table, int n, const void *a, const void *b, char *buf, size_t cap) {
    OptSet sa = one_table(table, n, a), sb = one_table(table, n, b);
    return optset_diff(&sa, &sb, 0, NULL, NULL, buf, cap);
}

void opts_print_help(const OptSpec *table, int n, FILE *f, const char *usage) {
    if (usage) fprintf(f, "%s\n\n", usage);
    fprintf(f, "Options (--key=value; --config=FILE reads 'key = value' lines, the command line "
               "overrides it):\n");
    for (int i = 0; i < n; i++) {
        const OptSpec *o = &table[i];
        char rng[96];
        opts_range_text(o, rng, sizeof rng);
        fprintf(f, "  --%s=<%s>\n      %s [default: %s", o->key,
                o->type == OPT_CHOICE ? o->choices : opts_type_name(o->type), o->help,
                o->def[0] ? o->def : "\"\"");
        if (rng[0]) fprintf(f, "; %s", rng);
        fprintf(f, "]\n");
    }
}

static void rule(FILE *f, size_t kw, size_t vw) {
    fputc('+', f);
    for (size_t i = 0; i < kw + 2; i++)
        fputc('-', f);
    fputc('+', f);
    for (size_t i = 0; i < vw + 2; i++)
        fputc('-', f);
    fputs("+\n", f);
}

void optset_print_table(const OptSet *s, FILE *f) {
    size_t kw = 3, vw = 5;
    char v[OPT_STR_MAX + 32];
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->t[t].n; i++) {
            const OptSpec *o = &s->t[t].spec[i];
            opts_format(o, s->t[t].base, v, sizeof v);
            kw = strlen(o->key) > kw ? strlen(o->key) : kw;
            vw = strlen(v) > vw ? strlen(v) : vw;
        }
    rule(f, kw, vw);
    fprintf(f, "| %-*s | %-*s |\n", (int)kw, "key", (int)vw, "value");
    rule(f, kw, vw);
    for (int t = 0; t < s->n; t++)
        for (int i = 0; i < s->t[t].n; i++) {
            opts_format(&s->t[t].spec[i], s->t[t].base, v, sizeof v);
            fprintf(f, "| %-*s | %-*s |\n", (int)kw, s->t[t].spec[i].key, (int)vw, v);
        }
    rule(f, kw, vw);
}

void opts_print_table(const OptSpec *table, int n, const void *cfg, FILE *f) {
    OptSet s = one_table(table, n, cfg);
    optset_print_table(&s, f);
}
