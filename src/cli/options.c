// options.c - the table-driven parser behind every program's options (see options.h).
#include "cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t cap, const char *fmt,
                                                       ...) {
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
}

const OptSpec *opts_find(const OptSpec *table, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].key, key) == 0) return &table[i];
    return NULL;
}

static const char *type_name(OptType t) {
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
    }
    return "?";
}

// "in [0, 1]", "> 0", ... for messages and --help. Empty when unbounded.
static void range_text(const OptSpec *o, char *buf, size_t cap) {
    buf[0] = 0;
    int lo = o->range & OPT_LO, hi = o->range & OPT_HI;
    if (lo && hi)
        snprintf(buf, cap, "in %c%g, %g%c", (o->range & OPT_LO_OPEN) ? '(' : '[', o->lo, o->hi,
                 (o->range & OPT_HI_OPEN) ? ')' : ']');
    else if (lo)
        snprintf(buf, cap, "%s %g", (o->range & OPT_LO_OPEN) ? ">" : ">=", o->lo);
    else if (hi)
        snprintf(buf, cap, "%s %g", (o->range & OPT_HI_OPEN) ? "<" : "<=", o->hi);
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

static int parse_bool(const char *v, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no",
                                                                                "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, 1;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, 1;
    }
    return 0;
}

int opts_set(const OptSpec *table, int n, void *cfg, const char *key, const char *value,
             const char *origin, char *err, size_t cap) {
    const OptSpec *o = opts_find(table, n, key);
    if (!o) {
        fail(err, cap, "%s: unknown option '%s' (see --help for the list)", origin, key);
        return OPT_ERR_UNKNOWN_KEY;
    }
    char *field = (char *)cfg + o->offset;
    char rng[64];
    range_text(o, rng, sizeof rng);
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
    case OPT_STRING:
        if (strlen(value) >= OPT_STR_MAX) {
            fail(err, cap, "%s: --%s: value is %zu characters, at most %d allowed", origin, key,
                 strlen(value), OPT_STR_MAX - 1);
            return OPT_ERR_BAD_VALUE;
        }
        memcpy(field, value, strlen(value) + 1);
        return OPT_OK;
    }
    return OPT_ERR_BAD_VALUE;
}

int opts_set_defaults(const OptSpec *table, int n, void *cfg, char *err, size_t cap) {
    for (int i = 0; i < n; i++) {
        int rc = opts_set(table, n, cfg, table[i].key, table[i].def, "default", err, cap);
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

int opts_load_file(const OptSpec *table, int n, void *cfg, const char *path, char *err,
                   size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fail(err, cap, "%s: cannot open config file: %s", path, strerror(errno));
        return OPT_ERR_FILE;
    }
    char line[1024], section[128] = "", origin[512];
    int lineno = 0, rc = OPT_OK;
    while (rc == OPT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            fail(err, cap, "%s: line longer than %zu characters", origin, sizeof line - 2);
            rc = OPT_ERR_SYNTAX;
            break;
        }
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
        rc = opts_set(table, n, cfg, full, value, origin, err, cap);
    }
    fclose(f);
    return rc;
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

int opts_parse(const OptSpec *table, int n, void *cfg, int argc, char **argv, char *err,
               size_t cap) {
    int rc = opts_set_defaults(table, n, cfg, err, cap);
    if (rc != OPT_OK) return rc;
    char key[256];
    const char *value;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return OPT_HELP;
    // The file first, whatever its position, so the command line always wins.
    for (int i = 1; i < argc; i++) {
        if (split_arg(argv[i], key, sizeof key, &value) && strcmp(key, "config") == 0) {
            rc = opts_load_file(table, n, cfg, value, err, cap);
            if (rc != OPT_OK) return rc;
            if (opts_find(table, n, "config"))
                rc = opts_set(table, n, cfg, "config", value, "command line", err, cap);
            if (rc != OPT_OK) return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (!split_arg(argv[i], key, sizeof key, &value)) {
            fail(err, cap, "command line: '%s': expected --key=value (see --help)", argv[i]);
            return OPT_ERR_SYNTAX;
        }
        if (strcmp(key, "config") == 0) continue;
        rc = opts_set(table, n, cfg, key, value, "command line", err, cap);
        if (rc != OPT_OK) return rc;
    }
    return OPT_OK;
}

static int file_value(const char *path, const char *key, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024], section[128] = "", full[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line), *eq;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close) *close = 0, snprintf(section, sizeof section, "%s", trim(s + 1));
        } else if ((eq = strchr(s, '='))) {
            *eq = 0;
            if (section[0])
                snprintf(full, sizeof full, "%s.%s", section, trim(s));
            else
                snprintf(full, sizeof full, "%s", trim(s));
            if (strcmp(full, key) == 0) found = 1, snprintf(out, cap, "%s", trim(eq + 1));
        }
    }
    fclose(f);
    return found;
}

int opts_prescan(int argc, char **argv, const char *key, char *out, size_t cap) {
    char k[256];
    const char *value;
    int found = 0;
    for (int i = 1; i < argc; i++)
        if (split_arg(argv[i], k, sizeof k, &value) && strcmp(k, key) == 0)
            found = 1, snprintf(out, cap, "%s", value);
    if (found) return 1;
    for (int i = 1; i < argc; i++)
        if (split_arg(argv[i], k, sizeof k, &value) && strcmp(k, "config") == 0)
            found = file_value(value, key, out, cap);
    return found;
}

void opts_format(const OptSpec *o, const void *cfg, char *buf, size_t cap) {
    const char *field = (const char *)cfg + o->offset;
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
        snprintf(buf, cap, "%s", field);
        break;
    }
}

int opts_diff(const OptSpec *table, int n, const void *a, const void *b, char *buf, size_t cap) {
    char va[OPT_STR_MAX + 32], vb[OPT_STR_MAX + 32];
    int count = 0;
    size_t used = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < n; i++) {
        opts_format(&table[i], a, va, sizeof va);
        opts_format(&table[i], b, vb, sizeof vb);
        if (strcmp(va, vb) == 0) continue;
        count++;
        if (used < cap) {
            int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", table[i].key);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    return count;
}

void opts_print_help(const OptSpec *table, int n, FILE *f, const char *usage) {
    if (usage) fprintf(f, "%s\n\n", usage);
    fprintf(f, "Options (--key=value; --config=FILE reads 'key = value' lines, the command line "
               "overrides it):\n");
    for (int i = 0; i < n; i++) {
        const OptSpec *o = &table[i];
        char rng[64];
        range_text(o, rng, sizeof rng);
        fprintf(f, "  --%s=<%s>\n      %s [default: %s", o->key,
                o->type == OPT_CHOICE ? o->choices : type_name(o->type), o->help,
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

void opts_print_table(const OptSpec *table, int n, const void *cfg, FILE *f) {
    size_t kw = 3, vw = 5;
    char v[OPT_STR_MAX + 32];
    for (int i = 0; i < n; i++) {
        opts_format(&table[i], cfg, v, sizeof v);
        kw = strlen(table[i].key) > kw ? strlen(table[i].key) : kw;
        vw = strlen(v) > vw ? strlen(v) : vw;
    }
    rule(f, kw, vw);
    fprintf(f, "| %-*s | %-*s |\n", (int)kw, "key", (int)vw, "value");
    rule(f, kw, vw);
    for (int i = 0; i < n; i++) {
        opts_format(&table[i], cfg, v, sizeof v);
        fprintf(f, "| %-*s | %-*s |\n", (int)kw, table[i].key, (int)vw, v);
    }
    rule(f, kw, vw);
}
