// fuzz_options.c - the command-line parser: config_parse on an argv of "mmcollab" and the input's
// arguments (split at NUL and newline bytes, at most FUZZ_MAX_ARGS). An input holding "\0\0"
// continues with the content of a config file: every --config=... argument is pointed at it, so
// that the file and the command line are read together without the harness opening any path the
// input names (/dev/stdin would hang the harness, not the parser). Nothing may crash, leak or read
// out of bounds; errors are one non-empty line; an accepted configuration passes the same checks
// as in fuzz_config.c.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "harness.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    char path[512];
    fuzz_path(path, sizeof path, "args.cfg");
    size_t args_len = size;
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == 0 && data[i + 1] == 0) {
            args_len = i;
            break;
        }
    FILE *f = fopen(path, "wb");
    size_t file_len = args_len + 2 <= size ? size - args_len - 2 : 0;
    if (!f || fwrite(data + size - file_len, 1, file_len, f) != file_len || fclose(f) != 0)
        fuzz_fail("cannot write %s", path);
    char *buf = malloc(args_len + 1), *argv[FUZZ_MAX_ARGS + 1];
    memcpy(buf, data, args_len);
    buf[args_len] = 0;
    int argc = 0;
    argv[argc++] = "mmcollab";
    char *configs[FUZZ_MAX_ARGS];
    int n_configs = 0;
    for (size_t a = 0; a < args_len && argc < FUZZ_MAX_ARGS;) {
        size_t b = a;
        while (b < args_len && buf[b] && buf[b] != '\n')
            b++;
        buf[b] = 0;
        if (!strncmp(buf + a, "--config=", 9)) {
            configs[n_configs] = malloc(strlen(path) + 10);
            sprintf(configs[n_configs], "--config=%s", path);
            argv[argc++] = configs[n_configs++];
        } else {
            argv[argc++] = buf + a;
        }
        a = b + 1;
    }
    argv[argc] = NULL;
    fuzz_check_parse(argc, argv);
    for (int i = 0; i < n_configs; i++)
        free(configs[i]);
    free(buf);
    return 0;
}
