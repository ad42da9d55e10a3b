// config_check.h - the checks fuzz_config.c and fuzz_options.c share on the option parsers
// (cli/config.h): parse, and for an accepted configuration its invariants and text round trip.
#pragma once

// config_parse(argc, argv) with the real method and model registries. On error: a one-line,
// non-empty message. On OPT_OK: the chosen method and model are the ones the configuration names,
// and config_text reads back (config_read_text) to a configuration with the same text.
void fuzz_check_parse(int argc, char **argv);
// config_read_text(text) with the same checks.
void fuzz_check_text(const char *text);
