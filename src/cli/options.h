// options.h - one option table drives the parser, --help, the startup table, the run file's /config
// attributes and the checkpoint config comparison (STYLE.md 9.12).
//
// A table is an array of OptSpec, each naming a field of a caller's plain struct by offset. Values
// are given as text everywhere (defaults, command line "--key=value", config files "key = value"),
// so one parse function validates them all. String fields are fixed char arrays (OPT_STR_MAX) so
// the whole struct can be broadcast as bytes.
//
// Errors are tier 3 (STYLE.md 9.5): functions return OPT_OK or a negative OptErr and write a
// one-line message naming the key, the value, where it came from and what was expected.
#pragma once
#include <stddef.h>
#include <stdio.h>

#define OPT_STR_MAX 256

typedef enum {
    OPT_INT,    // int
    OPT_I64,    // int64_t
    OPT_DOUBLE, // double
    OPT_BOOL,   // int 0/1: true/false/1/0/yes/no/on/off
    OPT_STRING, // char[OPT_STR_MAX]
    OPT_CHOICE, // char[OPT_STR_MAX], one of choices ("a|b|c")
} OptType;

// Range flags: which bounds apply and whether they are exclusive.
enum {
    OPT_LO = 1,      // value >= lo
    OPT_HI = 2,      // value <= hi
    OPT_LO_OPEN = 4, // value > lo (with OPT_LO)
    OPT_HI_OPEN = 8, // value < hi (with OPT_HI)
};

typedef struct {
    const char *key; // "rounds", "fedprox.mu": lowercase, as on the command line
    OptType type;
    size_t offset;       // offsetof(the struct, field)
    const char *def;     // default, as text
    int range;           // OPT_LO | OPT_HI | ...; 0 = any value of the type
    double lo, hi;       // bounds for numbers (and for OPT_STRING: unused)
    const char *choices; // OPT_CHOICE only: "a|b|c"
    const char *help;    // one line
    unsigned flags;      // OPT_RESUME_NEUTRAL, ...
} OptSpec;

enum {
    OPT_RESUME_NEUTRAL = 1, // may differ between a checkpoint and the run resuming from it
};

typedef enum {
    OPT_OK = 0,
    OPT_HELP = 1, // --help was given: caller prints help and exits 0
    OPT_ERR_UNKNOWN_KEY = -1,
    OPT_ERR_BAD_VALUE = -2,
    OPT_ERR_FILE = -3,
    OPT_ERR_SYNTAX = -4,
} OptErr;

// Every field set from its default. Returns OPT_OK or an error (a bad default is a bug in the
// table).
int opts_set_defaults(const OptSpec *table, int n, void *cfg, char *err, size_t cap);
// Sets one key from text. origin names where the value came from ("command line", "x.cfg:12").
int opts_set(const OptSpec *table, int n, void *cfg, const char *key, const char *value,
             const char *origin, char *err, size_t cap);
// Reads "key = value" lines; '#' starts a comment; "[section]" prefixes later keys with "section.".
int opts_load_file(const OptSpec *table, int n, void *cfg, const char *path, char *err, size_t cap);
// Defaults, then the file named by --config=FILE (if any), then every other --key=value in argv
// (command line overrides file). Returns OPT_HELP for --help/-h. argv[0] is skipped.
int opts_parse(const OptSpec *table, int n, void *cfg, int argc, char **argv, char *err,
               size_t cap);

// The value of one option as text, in the same form the parser accepts (round-trips exactly).
void opts_format(const OptSpec *o, const void *cfg, char *buf, size_t cap);
// The spec for a key, or NULL. Borrowed.
const OptSpec *opts_find(const OptSpec *table, int n, const char *key);
// Writes the keys whose values differ between a and b, comma-separated, into buf; returns how many.
int opts_diff(const OptSpec *table, int n, const void *a, const void *b, char *buf, size_t cap);

// The value of key as given on the command line (--key=value, last wins) or else in the --config
// file (sections honoured), without validating anything else: to pick a table before parsing.
// Returns 1 and copies the text into out when found, else 0.
int opts_prescan(int argc, char **argv, const char *key, char *out, size_t cap);

// Usage text: every key with its type, default, range or choices and help.
void opts_print_help(const OptSpec *table, int n, FILE *f, const char *usage);
// The boxed "key | value" table printed at startup.
void opts_print_table(const OptSpec *table, int n, const void *cfg, FILE *f);
