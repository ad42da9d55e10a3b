// test_options.c - the option table: defaults, command line over config file, every rejection names
// the key, the value and where it came from; format → parse round-trips; diff names differing keys;
// a config file must be a regular file of bounded size (a directory, a device, a FIFO are refused
// without reading or blocking); OPT_FILE options must name regular files; ranges print in full.
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/options.h"
#include "tmpdir.h"

typedef struct {
    int rounds;
    int64_t samples;
    double alpha, beta, lr;
    int resume_ok;
    char method[OPT_STR_MAX];
    char out[OPT_STR_MAX];
    double mu;
} TestCfg;

static const OptSpec table[] = {
    {"rounds", OPT_INT, offsetof(TestCfg, rounds), "10", OPT_LO, 1, 0, NULL, "rounds to run", 0},
    {"samples", OPT_I64, offsetof(TestCfg, samples), "5000000000", OPT_LO, 0, 0, NULL, "samples",
     0},
    {"alpha", OPT_DOUBLE, offsetof(TestCfg, alpha), "0.5", OPT_LO | OPT_LO_OPEN, 0, 0, NULL,
     "Dirichlet alpha", 0},
    {"beta", OPT_DOUBLE, offsetof(TestCfg, beta), "0.3", OPT_LO | OPT_HI, 0, 1, NULL,
     "missing rate", 0},
    {"lr", OPT_DOUBLE, offsetof(TestCfg, lr), "0.1", 0, 0, 0, NULL, "learning rate", 0},
    {"resume-ok", OPT_BOOL, offsetof(TestCfg, resume_ok), "false", 0, 0, 0, NULL, "flag", 0},
    {"method", OPT_CHOICE, offsetof(TestCfg, method), "fedavg", 0, 0, 0, "fedavg|fedprox|local",
     "method", 0},
    {"out", OPT_STRING, offsetof(TestCfg, out), "runs/x", 0, 0, 0, NULL, "output dir", 0},
    {"fedprox.mu", OPT_DOUBLE, offsetof(TestCfg, mu), "0.01", OPT_LO, 0, 0, NULL, "prox weight", 0},
};
#define N_OPTS ((int)(sizeof table / sizeof table[0]))

static int parse(TestCfg *c, char *err, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    return opts_parse(table, N_OPTS, c, argc, argv, err, 512);
}

// A config file in the temp dir; returns its path (static buffer).
static const char *write_cfg(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mmc_opts_%d.cfg", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(test_defaults_fill_every_field) {
    TestCfg c;
    char err[512] = "";
    char *argv[] = {"prog"};
    ck_assert_int_eq(parse(&c, err, 1, argv), OPT_OK);
    ck_assert_int_eq(c.rounds, 10);
    ck_assert(c.samples == 5000000000LL);
    ck_assert(c.alpha == 0.5 && c.beta == 0.3 && c.lr == 0.1 && c.mu == 0.01);
    ck_assert_int_eq(c.resume_ok, 0);
    ck_assert_str_eq(c.method, "fedavg");
    ck_assert_str_eq(c.out, "runs/x");
}
END_TEST

START_TEST(test_command_line_overrides_config_file_wherever_it_stands) {
    const char *path = write_cfg("# comment\nrounds = 7\nalpha=2.5   # trailing comment\n"
                                 "method = fedprox\n\n[fedprox]\nmu = 0.25\n");
    char arg_cfg[128];
    snprintf(arg_cfg, sizeof arg_cfg, "--config=%s", path);
    TestCfg c;
    char err[512] = "";
    char *argv[] = {"prog", "--rounds=3", arg_cfg, "--resume-ok=yes"};
    ck_assert_msg(parse(&c, err, 4, argv) == OPT_OK, "%s", err);
    ck_assert_int_eq(c.rounds, 3); // command line wins though it comes before --config
    ck_assert(c.alpha == 2.5);     // from the file
    ck_assert(c.mu == 0.25);       // [fedprox] section prefixes the key
    ck_assert_str_eq(c.method, "fedprox");
    ck_assert_int_eq(c.resume_ok, 1);
    unlink(path);
}
END_TEST

// Each bad input: the expected return code and substrings of the message.
static void expect_error(int argc, char **argv, int code, const char *a, const char *b) {
    TestCfg c;
    char err[512] = "";
    ck_assert_int_eq(parse(&c, err, argc, argv), code);
    ck_assert_msg(strstr(err, a) && strstr(err, b), "message '%s' lacks '%s' or '%s'", err, a, b);
}

START_TEST(test_bad_values_name_key_value_and_expectation) {
    expect_error(2, (char *[]){"p", "--rounds=-2"}, OPT_ERR_BAD_VALUE, "--rounds=-2", ">= 1");
    expect_error(2, (char *[]){"p", "--rounds=3x"}, OPT_ERR_BAD_VALUE, "--rounds=3x", "integer");
    expect_error(2, (char *[]){"p", "--rounds=9999999999"}, OPT_ERR_BAD_VALUE, "rounds", "integer");
    expect_error(2, (char *[]){"p", "--alpha=0"}, OPT_ERR_BAD_VALUE, "--alpha=0", "> 0");
    expect_error(2, (char *[]){"p", "--beta=1.5"}, OPT_ERR_BAD_VALUE, "--beta=1.5", "in [0, 1]");
    expect_error(2, (char *[]){"p", "--lr=nan"}, OPT_ERR_BAD_VALUE, "--lr=nan", "finite");
    expect_error(2, (char *[]){"p", "--lr="}, OPT_ERR_BAD_VALUE, "--lr=", "number");
    expect_error(2, (char *[]){"p", "--resume-ok=maybe"}, OPT_ERR_BAD_VALUE, "resume-ok",
                 "true or false");
    expect_error(2, (char *[]){"p", "--method=fedsgd"}, OPT_ERR_BAD_VALUE, "fedsgd",
                 "fedavg|fedprox|local");
}
END_TEST

START_TEST(test_unknown_key_and_syntax_errors_are_named) {
    expect_error(2, (char *[]){"p", "--roudns=3"}, OPT_ERR_UNKNOWN_KEY, "command line", "roudns");
    expect_error(2, (char *[]){"p", "--rounds"}, OPT_ERR_SYNTAX, "'--rounds'", "--key=value");
    expect_error(2, (char *[]){"p", "rounds=3"}, OPT_ERR_SYNTAX, "rounds=3", "--key=value");
    expect_error(2, (char *[]){"p", "--resume-okk"}, OPT_ERR_SYNTAX, "resume-okk", "--key=value");
    // A bare boolean flag means true; only booleans take that form.
    TestCfg c;
    char err[512] = "";
    ck_assert_int_eq(parse(&c, err, 2, (char *[]){"p", "--resume-ok"}), OPT_OK);
    ck_assert_int_eq(c.resume_ok, 1);
    expect_error(2, (char *[]){"p", "--config=/nonexistent/x.cfg"}, OPT_ERR_FILE,
                 "/nonexistent/x.cfg", "cannot open");
}
END_TEST

START_TEST(test_config_file_errors_name_file_and_line) {
    char arg[128];
    const char *path = write_cfg("rounds = 4\nalpha = -1\n");
    snprintf(arg, sizeof arg, "--config=%s", path);
    char expect_line[96];
    snprintf(expect_line, sizeof expect_line, "%s:2", path);
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_BAD_VALUE, expect_line, "alpha");

    path = write_cfg("rounds = 4\n[fedprox]\nnu = 1\n");
    snprintf(expect_line, sizeof expect_line, "%s:3", path);
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_UNKNOWN_KEY, expect_line, "fedprox.nu");

    path = write_cfg("rounds 4\n");
    snprintf(expect_line, sizeof expect_line, "%s:1", path);
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_SYNTAX, expect_line, "key = value");

    path = write_cfg("[broken\n");
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_SYNTAX, path, "[section]");
    unlink(path);
}
END_TEST

START_TEST(test_help_is_reported_and_lists_every_key_with_default) {
    TestCfg c;
    char err[512];
    ck_assert_int_eq(parse(&c, err, 3, (char *[]){"p", "--rounds=2", "--help"}), OPT_HELP);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    opts_print_help(table, N_OPTS, f, "usage: p [options]");
    fclose(f);
    for (int i = 0; i < N_OPTS; i++) {
        char want[160];
        snprintf(want, sizeof want, "--%s=", table[i].key);
        ck_assert_msg(strstr(text, want), "help lacks %s", want);
        snprintf(want, sizeof want, "default: %s", table[i].def);
        ck_assert_msg(strstr(text, want), "help lacks '%s'", want);
    }
    ck_assert_ptr_nonnull(strstr(text, "in [0, 1]"));
    free(text);
}
END_TEST

START_TEST(test_format_then_parse_round_trips_exactly) {
    TestCfg a, b;
    char err[512];
    char *argv[] = {"p",           "--lr=0.1",       "--alpha=3.3333333333333335",
                    "--samples=7", "--resume-ok=on", "--out=runs/a b"};
    ck_assert_int_eq(parse(&a, err, 6, argv), OPT_OK);
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(opts_set_defaults(table, N_OPTS, &b, err, sizeof err), OPT_OK);
    for (int i = 0; i < N_OPTS; i++) {
        char v[OPT_STR_MAX + 32];
        opts_format(&table[i], &a, v, sizeof v);
        ck_assert_int_eq(opts_set(table, N_OPTS, &b, table[i].key, v, "test", err, sizeof err),
                         OPT_OK);
    }
    ck_assert_mem_eq(&a, &b, sizeof a);
    char v[64];
    opts_format(opts_find(table, N_OPTS, "lr"), &a, v, sizeof v);
    ck_assert_str_eq(v, "0.1"); // shortest form, not 0.10000000000000001
}
END_TEST

START_TEST(test_diff_names_exactly_the_differing_keys) {
    TestCfg a, b;
    char err[512], keys[256];
    ck_assert_int_eq(parse(&a, err, 1, (char *[]){"p"}), OPT_OK);
    ck_assert_int_eq(parse(&b, err, 3, (char *[]){"p", "--alpha=1", "--fedprox.mu=0.5"}), OPT_OK);
    ck_assert_int_eq(opts_diff(table, N_OPTS, &a, &b, keys, sizeof keys), 2);
    ck_assert_str_eq(keys, "alpha, fedprox.mu");
    ck_assert_int_eq(opts_diff(table, N_OPTS, &a, &a, keys, sizeof keys), 0);
    ck_assert_str_eq(keys, "");
}
END_TEST

START_TEST(test_startup_table_shows_every_value) {
    TestCfg c;
    char err[512];
    ck_assert_int_eq(parse(&c, err, 2, (char *[]){"p", "--method=local"}), OPT_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    opts_print_table(table, N_OPTS, &c, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "| method "));
    ck_assert_ptr_nonnull(strstr(text, "| local "));
    ck_assert_ptr_nonnull(strstr(text, "5000000000"));
    free(text);
}
END_TEST

// A config file that is not a regular file, is too large or has a bad line: refused, naming the
// file (and the line), without reading a device or waiting for a FIFO's writer.
START_TEST(test_config_file_must_be_a_bounded_regular_file) {
    char dir[64], fifo[96], big[96], arg[160], want[160];
    tmpdir_make(dir, sizeof dir, "mmc_opts_cfg");
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const struct {
        const char *path, *what;
    } not_files[] = {{dir, "a directory"}, {"/dev/zero", "a character device"}, {fifo, "a FIFO"}};
    for (size_t i = 0; i < sizeof not_files / sizeof not_files[0]; i++) {
        snprintf(arg, sizeof arg, "--config=%s", not_files[i].path);
        expect_error(2, (char *[]){"p", arg}, OPT_ERR_FILE, not_files[i].path, not_files[i].what);
    }
    expect_error(2, (char *[]){"p", "--config="}, OPT_ERR_FILE, "--config=", "empty");

    // At the limit it is read; one byte more is refused by its size.
    snprintf(big, sizeof big, "%s/big.cfg", dir);
    FILE *f = fopen(big, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < OPT_FILE_MAX_BYTES / 64; i++)
        fprintf(f, "#%62s\n", "comment");
    fclose(f);
    snprintf(arg, sizeof arg, "--config=%s", big);
    TestCfg c;
    char err[512] = "";
    ck_assert_msg(parse(&c, err, 2, (char *[]){"p", arg}) == OPT_OK, "%s", err);
    f = fopen(big, "a");
    fputc('\n', f);
    fclose(f);
    snprintf(want, sizeof want, "%d", OPT_FILE_MAX_BYTES);
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_FILE, big, want);
    unlink(big);

    // A line over OPT_LINE_MAX characters and a NUL byte: named by file and line.
    f = fopen(big, "w");
    fprintf(f, "rounds = 4\nalpha = 1%0*d\n", OPT_LINE_MAX, 0);
    fclose(f);
    snprintf(want, sizeof want, "%s:2", big);
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_SYNTAX, want, "longer than");
    f = fopen(big, "w");
    fwrite("rounds = 4\n\nalpha = 1\0 2\n", 1, 25, f);
    fclose(f);
    snprintf(want, sizeof want, "%s:3", big);
    expect_error(2, (char *[]){"p", arg}, OPT_ERR_SYNTAX, want, "NUL");
    unlink(fifo);
    tmpdir_remove(dir);
}
END_TEST

typedef struct {
    char data[OPT_STR_MAX], base[OPT_STR_MAX];
} FileCfg;

static const OptSpec file_table[] = {
    {"data", OPT_STRING, offsetof(FileCfg, data), "/nonexistent/default.h5", 0, 0, 0, NULL,
     "a file that must exist", OPT_FILE},
    {"base", OPT_STRING, offsetof(FileCfg, base), "", 0, 0, 0, NULL, "optional file",
     OPT_FILE | OPT_UNSET_OK},
};

// OPT_FILE is checked on the final values (a default that does not exist parses), and refuses a
// missing file, a directory and an empty name, naming the option and the path.
START_TEST(test_file_options_must_name_regular_files) {
    char dir[64], file[96], arg[160], err[512] = "";
    tmpdir_make(dir, sizeof dir, "mmc_opts_file");
    snprintf(file, sizeof file, "%s/x.h5", dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    FileCfg c;
    OptSet s = {0};
    optset_add(&s, file_table, 2, &c);
    ck_assert_int_eq(optset_parse(&s, 1, (char *[]){"p"}, err, sizeof err), OPT_OK);
    ck_assert_int_eq(optset_check_files(&s, err, sizeof err), OPT_ERR_FILE);
    ck_assert_msg(strstr(err, "--data=/nonexistent/default.h5") && strstr(err, "No such file"),
                  "%s", err);
    const struct {
        const char *value, *a, *b;
    } bad[] = {{dir, dir, "a directory"}, {"", "--data=", "empty"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(arg, sizeof arg, "--data=%s", bad[i].value);
        ck_assert_int_eq(optset_parse(&s, 2, (char *[]){"p", arg}, err, sizeof err), OPT_OK);
        ck_assert_int_eq(optset_check_files(&s, err, sizeof err), OPT_ERR_FILE);
        ck_assert_msg(strstr(err, bad[i].a) && strstr(err, bad[i].b) && strstr(err, "--data"),
                      "'%s': %s", bad[i].value, err);
    }
    snprintf(arg, sizeof arg, "--data=%s", file);
    ck_assert_int_eq(optset_parse(&s, 2, (char *[]){"p", arg}, err, sizeof err), OPT_OK);
    ck_assert_msg(optset_check_files(&s, err, sizeof err) == OPT_OK, "%s", err); // base unset: ok
    ck_assert_str_eq((const char *)optset_value(&s, "data"), file);
    ck_assert_ptr_null(optset_value(&s, "nope"));
    unlink(file);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_ranges_print_whole_bounds_in_full) {
    const OptSpec o[] = {
        {"a", OPT_INT, 0, "1", OPT_LO | OPT_HI, 1, 1000000, NULL, "", 0},
        {"b", OPT_DOUBLE, 0, "1", OPT_LO | OPT_LO_OPEN | OPT_HI, 0, 10, NULL, "", 0},
        {"c", OPT_DOUBLE, 0, "1", OPT_LO | OPT_HI, 0, 0.6931471805599453, NULL, "", 0},
        {"d", OPT_I64, 0, "1", OPT_LO, -1, 0, NULL, "", 0},
    };
    const char *want[] = {"in [1, 1000000]", "in (0, 10]", "in [0, 0.693147]", ">= -1"};
    char buf[96];
    for (int i = 0; i < 4; i++) {
        opts_range_text(&o[i], buf, sizeof buf);
        ck_assert_str_eq(buf, want[i]);
    }
}
END_TEST

Suite *options_suite(void) {
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_fill_every_field);
    tcase_add_test(tc, test_command_line_overrides_config_file_wherever_it_stands);
    tcase_add_test(tc, test_bad_values_name_key_value_and_expectation);
    tcase_add_test(tc, test_unknown_key_and_syntax_errors_are_named);
    tcase_add_test(tc, test_config_file_errors_name_file_and_line);
    tcase_add_test(tc, test_help_is_reported_and_lists_every_key_with_default);
    tcase_add_test(tc, test_format_then_parse_round_trips_exactly);
    tcase_add_test(tc, test_diff_names_exactly_the_differing_keys);
    tcase_add_test(tc, test_startup_table_shows_every_value);
    tcase_add_test(tc, test_config_file_must_be_a_bounded_regular_file);
    tcase_add_test(tc, test_file_options_must_name_regular_files);
    tcase_add_test(tc, test_ranges_print_whole_bounds_in_full);
    suite_add_tcase(s, tc);
    return s;
}
