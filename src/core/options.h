// options.h - option tables: one table drives the parser, --help, the startup table, the run file's
// /config attributes and the checkpoint config comparison (docs/conventions.md §12).
//
// A table is an array of OptSpec, each naming a field of a caller's plain struct by offset. A run
// has several tables over several structs (the core options, the scenario overrides, the chosen
// method's options, the chosen model's options): an OptSet lists them with their structs, and every
// key is looked up across the set. Values are given as text everywhere (defaults, command line
// "--key=value", config files "key = value"), so one parse function validates them all, and
// formatting a value gives text that parses back to the same bits.
//
// Errors are tier 3 (docs/conventions.md §5): functions return OPT_OK or a negative OptErr and
// write a one-line message naming the key, the value, where it came from and what was expected.
//
// Validation happens in three steps, all before a program allocates anything sized by an option:
// each value when it is set (type, range, finite; docs/options.md lists every option's range), the
// rules between options right after the whole set is parsed (an OptGroup's validate, the program's
// own), and the files options name (OPT_FILE, optset_check_files) once, on the final values.
#pragma once
#include <stddef.h>
#include <stdio.h>

#define OPT_STR_MAX 256
#define OPT_MAX_TABLES 8
// A config file is a regular file of at most this many bytes, lines of at most OPT_LINE_MAX
// characters: a device (/dev/zero), a FIFO or a directory is refused before reading, so a wrong
// --config can neither hang the parse nor fill the memory.
#define OPT_FILE_MAX_BYTES (1 << 20)
#define OPT_LINE_MAX 1022

typedef enum {
    OPT_INT,    // int
    OPT_I64,    // int64_t
    OPT_DOUBLE, // double
    OPT_BOOL,   // int 0/1: true/false/1/0/yes/no/on/off
    OPT_STRING, // char[OPT_STR_MAX]
    OPT_CHOICE, // char[OPT_STR_MAX], one of choices ("a|b|c")
    OPT_RATIOS, // char[OPT_STR_MAX], colon-separated non-negative numbers ("3:7"), at most 8
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
    unsigned flags;      // OPT_RESUME_NEUTRAL, OPT_UNSET_OK, OPT_FILE
} OptSpec;

enum {
    OPT_RESUME_NEUTRAL = 1, // may differ between a checkpoint and the run resuming from it
    OPT_UNSET_OK = 2,       // "" is a valid value meaning "not set": NaN for OPT_DOUBLE, INT_MIN
                            // for OPT_INT, INT64_MIN for OPT_I64 (opts_is_unset tells)
    OPT_FILE = 4, // OPT_STRING naming a file that must exist and be a regular file: checked by
                  // optset_check_files on the final values (a default need not exist to parse)
};

typedef enum {
    OPT_OK = 0,
    OPT_HELP = 1, // --help was given: caller prints help and exits 0
    OPT_ERR_UNKNOWN_KEY = -1,
    OPT_ERR_BAD_VALUE = -2,
    OPT_ERR_FILE = -3,
    OPT_ERR_SYNTAX = -4,
} OptErr;

// One table over one struct. An OptSet borrows both.
typedef struct {
    const OptSpec *spec;
    int n;
    void *base;
} OptTable;

typedef struct {
    int n;
    OptTable t[OPT_MAX_TABLES];
} OptSet;

// A group of options with its own struct: a method's or a model's, chosen by name (--method=...).
typedef struct OptGroup {
    const char *name;       // the --method / --model value; its keys are "<name>.<option>"
    const char *summary;    // one line for --help
    const char *provenance; // paper and equation, or "reconstruction: ..."; may be NULL
    const OptSpec *opts;    // NULL when it has none
    int n_opts;
    size_t size; // bytes of the struct the offsets refer to (0 when it has no options)
    // The rules between its options, and between them and the rest of the set (read with
    // optset_value), checked once the whole set is parsed; NULL when there are none. Returns
    // OPT_OK or OPT_ERR_BAD_VALUE with a message naming every option involved and its value.
    int (*validate)(const void *opts, const OptSet *set, char *err, size_t cap);
} OptGroup;

// Appends a table (CHECKs room). Local.
void optset_add(OptSet *s, const OptSpec *spec, int n, void *base);
// The spec for a key and its struct, or NULL. Borrowed.
const OptSpec *optset_find(const OptSet *s, const char *key, void **base);
// Every field of every table from its default. A bad default is a bug in a table.
int optset_defaults(const OptSet *s, char *err, size_t cap);
// The field of key in the set (borrowed, of the option's type), or NULL when no table has it.
const void *optset_value(const OptSet *s, const char *key);
// Sets one key from text. origin names where the value came from ("command line", "x.cfg:12").
int optset_set(const OptSet *s, const char *key, const char *value, const char *origin, char *err,
               size_t cap);
// Reads "key = value" lines into the set (see opts_read_file).
int optset_load_file(const OptSet *s, const char *path, char *err, size_t cap);
// Defaults, then the file named by --config=FILE (if any), then every other --key=value in argv
// (command line overrides file). Returns OPT_HELP for --help/-h. argv[0] is skipped.
int optset_parse(const OptSet *s, int argc, char **argv, char *err, size_t cap);
// Every OPT_FILE option's value names an existing regular file (a set OPT_UNSET_OK one may be
// ""): OPT_OK, or OPT_ERR_FILE naming the option, the path and what it is instead. Local.
int optset_check_files(const OptSet *s, char *err, size_t cap);
// Keys whose formatted values differ between a and b (two sets over the same tables, in the same
// order), comma-separated into buf; with labels, each as "key (<label_a> 'x', <label_b> 'y')".
// Options with any of skip_flags are left out. Returns how many.
int optset_diff(const OptSet *a, const OptSet *b, unsigned skip_flags, const char *label_a,
                const char *label_b, char *buf, size_t cap);
// Every option as "key=value\n" lines (values as opts_format gives them) into a malloc'd string:
// the text optset_set reads back to the same bits. Owned by the caller (free).
char *optset_serialize(const OptSet *s);
// The boxed "key | value" table printed at startup.
void optset_print_table(const OptSet *s, FILE *f);

// The value of one option as text, in the same form the parser accepts (round-trips exactly;
// "" for an unset OPT_UNSET_OK value).
void opts_format(const OptSpec *o, const void *base, char *buf, size_t cap);
// 1 when an OPT_UNSET_OK field holds its "not set" value.
int opts_is_unset(const OptSpec *o, const void *base);

// One config file, line by line: "key = value"; '#' starts a comment; "[section]" prefixes later
// keys with "section.". Calls on_kv(ctx, key, value, origin, err, cap) for each pair and stops at
// its first non-zero return, which it returns. Syntax errors (a line over OPT_LINE_MAX characters,
// a NUL byte) are OPT_ERR_SYNTAX naming the file and line; an empty name, a file that cannot be
// opened, is not a regular file (checked on the open descriptor, without blocking on a FIFO) or is
// over OPT_FILE_MAX_BYTES is OPT_ERR_FILE naming it. The one reader of config files.
typedef int (*OptKvFn)(void *ctx, const char *key, const char *value, const char *origin, char *err,
                       size_t cap);
int opts_read_file(const char *path, OptKvFn on_kv, void *ctx, char *err, size_t cap);

// The value of key as given on the command line (--key=value, last wins) or else in the --config
// file (sections honoured), without validating anything else: to pick tables before parsing.
// Returns 1 and copies the text into out when found, else 0.
int opts_prescan(int argc, char **argv, const char *key, char *out, size_t cap);

// Single-table forms of the set functions, for programs with one options struct.
int opts_set_defaults(const OptSpec *table, int n, void *cfg, char *err, size_t cap);
int opts_set(const OptSpec *table, int n, void *cfg, const char *key, const char *value,
             const char *origin, char *err, size_t cap);
int opts_parse(const OptSpec *table, int n, void *cfg, int argc, char **argv, char *err,
               size_t cap);
int opts_diff(const OptSpec *table, int n, const void *a, const void *b, char *buf, size_t cap);
const OptSpec *opts_find(const OptSpec *table, int n, const char *key);
void opts_print_table(const OptSpec *table, int n, const void *cfg, FILE *f);
// "int", "number", "bool", ... for usage text. Static storage.
const char *opts_type_name(OptType t);
// The option's range as text ("in [1, 4096]", "> 0", ...); "" when it has none.
void opts_range_text(const OptSpec *o, char *buf, size_t cap);
// Usage text: every key with its type, default, range or choices and help.
void opts_print_help(const OptSpec *table, int n, FILE *f, const char *usage);
