// nanguard.c - see nanguard.h.
#include "core/nanguard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"

int nanguard_enabled;

void nanguard_set(int on) { nanguard_enabled = on != 0; }

void nanguard_init_from_env(void) {
    const char *v = getenv("MMC_NAN_GUARD");
    if (v && strcmp(v, "0") != 0 && v[0] != '\0') nanguard_enabled = 1;
}

void nanguard_scan(const char *op, const char *buf, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        CHECK(isfinite(x[i]), "NaN guard: %s produced %s[%zu] = %g (of %zu values)", op, buf, i,
              (double)x[i], n);
}
