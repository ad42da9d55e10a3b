// registry.c - lookup over the generated method table (see method.h).
#include <stdio.h>
#include <string.h>

#include "methods/method.h"

const FlMethod *method_find(const char *name) {
    for (int i = 0; i < fl_n_methods; i++)
        if (strcmp(fl_methods[i]->name, name) == 0) return fl_methods[i];
    return NULL;
}

void method_server_mean(float *global, float *state, const float *mean, size_t n_params,
                        const Config *cfg, int round) {
    (void)state;
    (void)cfg;
    (void)round;
    memcpy(global, mean, n_params * sizeof *global);
}

void method_names(char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < fl_n_methods && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? "|" : "", fl_methods[i]->name);
        used += w > 0 ? (size_t)w : 0;
    }
}
