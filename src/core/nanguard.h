// nanguard.h - optional NaN/Inf guard after each op (--nan-guard, or MMC_NAN_GUARD=1).
//
// When enabled, every nn/ forward and backward calls NANGUARD on the buffer it wrote; the first
// non-finite value is a tier-1 error that names the op, the buffer and the index. Disabled, the
// cost is one predictable branch per op. The flag is process-wide state like the log level
// (STYLE 9.4).
#pragma once

#include <stddef.h>

extern int nanguard_enabled;

// Local. Also enabled at first use when the environment has MMC_NAN_GUARD=1 (see nanguard_init).
void nanguard_set(int on);
// Reads MMC_NAN_GUARD from the environment; called by the mains at startup.
void nanguard_init_from_env(void);
// CHECKs that x[0..n) is finite; names op and buffer in the error.
void nanguard_scan(const char *op, const char *buf, const float *x, size_t n);

#define NANGUARD(op, buf, x, n)                                                                    \
    do {                                                                                           \
        if (nanguard_enabled) nanguard_scan((op), (buf), (x), (size_t)(n));                        \
    } while (0)
