// harness.h - what the fuzz harnesses share (tests/fuzz/fuzz_*.c, docs/fuzzing.md): a reader
// of the fuzz input as a stream of decisions, a private temporary directory, and fuzz_call, which
// runs a piece of the project so that a refusal by CHECK / H5_CHECK / xmalloc (die_at) ends that
// input instead of the process.
//
// Each harness defines LLVMFuzzerTestOneInput; libFuzzer (make fuzz) or replay.c (make test)
// calls it. Built by gcc without sanitizers, under ASan/UBSan (make asan) and by clang with
// -fsanitize=fuzzer,address,undefined (make fuzz): the sanitizer hooks used here are weak and
// simply absent in a plain build.
#pragma once

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

// ---- the input as decisions ----

// A cursor over the input. Every reader returns 0 (or "") once the input is used up, so that a
// short input takes the ordinary path of every later decision.
typedef struct {
    const uint8_t *p;
    size_t n, i;
} FuzzIn;

// The next byte (0 when exhausted).
unsigned fz_u8(FuzzIn *in);
// The next k bytes (1..8) as a little-endian integer.
uint64_t fz_bits(FuzzIn *in, int k);
// A value in [0, n) from one byte (n <= 256; 0 for n <= 1).
unsigned fz_pick(FuzzIn *in, unsigned n);
// A deviation choice: 0 (the ordinary case) for most bytes, else 1..n-1. Bytes below 0xd0 are
// ordinary, so random mutations leave most objects of a file intact and reach the deep checks.
unsigned fz_mode(FuzzIn *in, unsigned n);
// A string of up to cap - 1 bytes (a length byte, then the bytes; may hold any byte but NUL)
// into buf. Returns buf.
char *fz_str(FuzzIn *in, char *buf, size_t cap);

// ---- environment ----

// Once per process: installs the die hook, silences HDF5's automatic error printing and sets
// the log level to errors only (the harnesses' expected refusals are noisy). Idempotent.
void fuzz_init(void);
// "<dir>/<name>" in the harness's private directory: mkdtemp under $MMC_FUZZ_TMP, else /dev/shm,
// else /tmp; created on first use and removed with its files at exit. Files only (no subdirs).
void fuzz_path(char *buf, size_t cap, const char *name);

// Known crashes pending a fix (tests/fuzz/open/) would keep a long run rediscovering them; a
// generator asks fuzz_avoid(class) before choosing a deviation of a named class (the classes are
// listed in docs/fuzzing.md). It returns 1 when the class is listed in $MMC_FUZZ_AVOID
// (comma-separated; make fuzz passes FUZZ_AVOID) and then marks the input as skipped: the
// generator writes the ordinary object instead, and the harness returns -1 without running the
// reader (libFuzzer keeps no such input). So an input that is kept or crashes never chose an
// avoided class, and replays the same with or without the variable.
int fuzz_avoid(const char *name);
// 1 when fuzz_avoid skipped the current input; clears the mark.
int fuzz_skipped(void);

// ---- running the code under test ----

// Runs fn(arg). Returns 0 when it returned, 1 when it died (die_at and kin: the project's message
// has been printed). After a die, the HDF5 files and file objects opened during the call are
// closed, HDF5's error printing is silenced again, and the heap blocks allocated during the call
// and still live are marked for LeakSanitizer as not leaks (the frames that owned them are gone; a
// real run would have ended). Nested calls are not supported.
int fuzz_call(void (*fn)(void *), void *arg);

// Fails the input as a crash (abort) with a message: a broken contract of the code under test
// (e.g. an error message that does not name the file, a value outside what the reader promised).
_Noreturn void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn)); // noreturn spelled out for cppcheck

// With MMC_FUZZ_VERBOSE set, prints one line to stderr: what became of an input (opened, refused
// and why). For looking at a corpus; silent otherwise.
void fuzz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Open HDF5 files and file objects (groups, datasets, named types, attributes): a harness checks
// the count is back to what it was after a reader returned normally.
int fuzz_h5_open_ids(void);
