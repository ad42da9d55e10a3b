// inputs.c - the run's input files through the integrity gate (run_impl.h run_open_inputs): before
// HDF5 reads a byte of them, rank 0 checks the --data file against its digest file
// (data/dataset.h dataset_gate) and the model kind's parameter file (--mllm.base: io/seal.h
// seal_check), then opens and validates the data; every rank follows its verdict. The digests it
// computed are the run's data_sha256 and the model's pretrained_sha256: each file is hashed once.
//
// A refusal is an expected error (docs/conventions.md §5, tier 3): rank 0 prints one message
// naming the file and how to proceed, the verdict is broadcast before any rank branches, and every
// rank returns it, so that they all leave together before anything was written or allocated.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/log.h"
#include "core/timer.h"
#include "fl/run_impl.h"
#include "io/seal.h"

// Rank 0: the model kind's parameter file through seal_check; its digest into hex. 0, or -1 with
// msg.
static int gate_model_file(const Run *run, char *hex, char *msg, size_t cap) {
    hex[0] = '\0';
    const char *path = run->kind->input_file ? run->kind->input_file(run->rc->model_opts) : NULL;
    if (!path || !path[0]) return 0;
    char why[SEAL_PATH_MAX + 256];
    if (access(path, F_OK) != 0)
        snprintf(why, sizeof why, "%s: no such file", path);
    else if (seal_check(path, hex, NULL, why, sizeof why) == 0)
        return 0;
    hex[0] = '\0';
    snprintf(msg, cap,
             "--model=%s: its parameter file %s; refused before HDF5 reads it: rebuild it (make "
             "base-model), or seal a file you trust with `sha256sum FILE > FILE.sha256` in its "
             "directory",
             run->kind->opt.name, why);
    return -1;
}

// Rank 0: --data through the gate, then opened and validated (the full scan) into run->ds.
static int open_data_rank0(Run *run, char *msg, size_t cap) {
    const Config *cfg = run->cfg;
    char why[1024];
    double t0 = timer_now_ms();
    int seal =
        dataset_gate(cfg->data, cfg->data_unverified, run->data_sha256, NULL, why, sizeof why);
    if (seal < 0) {
        snprintf(msg, cap, "--data: %s", why);
        return -1;
    }
    if (seal == DATASET_UNSEALED)
        log_warn(
            "--data=%s has no digest file: read unverified (--data-unverified=true), every size "
            "bounded; sha256 %s",
            cfg->data, run->data_sha256);
    else
        log_info("data %s: sha256 %s, as its digest file records (%.0f ms)", cfg->data,
                 run->data_sha256, timer_now_ms() - t0);
    run->ds = dataset_open_flags(cfg->data, DATASET_GATED, why, sizeof why);
    if (!run->ds) {
        snprintf(msg, cap, "--data: %s", why);
        return -1;
    }
    return 0;
}

int run_open_inputs(Run *run) {
    const Config *cfg = run->cfg;
    char msg[2 * SEAL_PATH_MAX + 1024] = "", model_hex[SHA256_HEX_LEN + 1] = "";
    int32_t ok = 1;
    if (run->rank == 0) {
        ok = gate_model_file(run, model_hex, msg, sizeof msg) == 0 &&
             open_data_rank0(run, msg, sizeof msg) == 0;
        if (!ok) log_error("%s", msg);
    }
    comm_bcast(run->comm, &ok, 1, COMM_I32, 0, NULL);
    if (!ok) {
        dataset_close(run->ds);
        run->ds = NULL;
        return -1;
    }
    comm_bcast(run->comm, run->data_sha256, sizeof run->data_sha256, COMM_CHAR, 0, NULL);
    comm_bcast(run->comm, model_hex, sizeof model_hex, COMM_CHAR, 0, NULL);
    memcpy(run->model_sha256, model_hex, sizeof model_hex);
    if (run->rank != 0) {
        // Rank 0 verified the bytes and scanned them: the others open the same file unhashed.
        char err[1024] = "";
        run->ds = dataset_open_flags(cfg->data, DATASET_GATED | DATASET_SKIP_SCAN, err, sizeof err);
        CHECK(run->ds, "--data: %s (rank 0 accepted it: was the file replaced?)", err);
    }
    return 0;
}
