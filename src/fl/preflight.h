// preflight.h - the run's sizes against the data and the memory, checked at its start: after the
// data file's header and the model's layout are known, before anything sized by them is allocated
// (docs/options.md, "At the run's start").
//
// What the option parser cannot know: whether --parties fits the data's training rows, whether the
// scenario's cross ratios fit its modalities, whether --trainable names tensors of the model, and
// whether the buffers the options ask for fit in memory. A failure is an expected error (tier 3,
// docs/conventions.md §5): every rank takes rank 0's verdict and mmcollab exits 2 on every rank,
// with rank 0's message naming the options. The memory rule is a lower bound (parameters,
// gradients, optimiser moments, one batch's input and outputs; not the kinds' own activations, the
// protocols' extra models or the data), so it never refuses a run that would fit; it catches sizes
// that cannot work, instead of an out-of-memory error that names no option.
//
// The pure parts are public for tests; run_preflight (run_impl.h) is the driver's call.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PREFLIGHT_HOST_MAX 64

// One rank's view, gathered to rank 0.
typedef struct {
    double need;  // bytes this rank will allocate at least (a lower bound)
    double avail; // bytes its host can give (preflight_mem_available); <= 0 unknown
    char host[PREFLIGHT_HOST_MAX]; // its host name: ranks of one host share its memory
} PreflightMem;

// The memory a process may still allocate, in bytes: MMC_MEM_AVAILABLE when set (bytes: a
// scheduler's limit the machine cannot tell), else the least of /proc/meminfo's MemAvailable and
// the cgroup's limit minus its usage (v2 memory.max, v1 memory.limit_in_bytes). -1 when none can be
// read. Local.
double preflight_mem_available(void);

// The lower bound of one rank's allocation (bytes): the global model and its gradients (2 n_params
// floats), a working or own model with two optimiser moments when it hosts parties (3 n_params),
// and one batch of Bmax rows of in_floats inputs, K-wide logits, probabilities and their gradient,
// and a rep_dim-wide representation and its gradient. Local, pure.
double preflight_rank_bytes(size_t n_params, int hosts_parties, int Bmax, int64_t in_floats, int K,
                            int rep_dim);

// Rank 0's verdict over every rank's view (n of them): 0 when, on every host, the sum of its
// ranks' needs fits its available memory (a host whose memory is unknown passes); else -1 with a
// message naming the host, the ranks, the bytes and `options` (the options that size the run).
// Local, pure.
int preflight_memory_verdict(const PreflightMem *ranks, int n, const char *options, char *err,
                             size_t cap);
