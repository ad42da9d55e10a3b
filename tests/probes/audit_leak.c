// audit_leak.c - the positive control of the raw-data audit (tests/test_audit.c): a program that
// DOES send a party's raw rows, through the project's comm layer, so that the audit must find them.
//   audit_leak DATA ROW      (under mpirun, >= 2 ranks, libmpiaudit.so preloaded)
// Every host rank r (1..size-1) sends train row ROW + r of DATA to the cloud (rank 0): every
// modality's stored bytes (dataset_read_raw) behind a 3-byte header, so that they sit at an offset
// no float or int32 alignment would give (comm_isend, COMM_U8), and every modality's float32 model
// input (dataset_read_features) through comm_gather (COMM_F32). Rank 0 sends zeros in the gather.
// Exits 0; any failure ends every rank (die.h).
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "data/dataset.h"

#define HEADER 3 /* bytes before the stored row: an odd offset */

static size_t dtype_bytes(DsDtype t) { return t == DS_U8 ? 1 : 4; } // DS_I32, DS_F32: 4

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    log_init(rank, LOG_INFO);
    CHECK(argc == 3, "usage: audit_leak DATA ROW (got %d arguments)", argc - 1);
    CHECK(size >= 2, "audit_leak: needs a cloud and at least one host, got %d rank(s)", size);
    char *end = NULL, err[1024];
    long row0 = strtol(argv[2], &end, 10);
    CHECK(*end == '\0' && row0 >= 0, "audit_leak: ROW must be a row number, got '%s'", argv[2]);
    Dataset *ds = dataset_open_flags(argv[1], DATASET_SKIP_SCAN, err, sizeof err);
    CHECK(ds != NULL, "audit_leak: %s", err);
    int64_t row = row0 + rank;
    CHECK(row < dataset_n(ds, DS_TRAIN), "audit_leak: %s has %lld train rows, row %lld asked",
          argv[1], (long long)dataset_n(ds, DS_TRAIN), (long long)row);

    Comm *c = comm_create(MPI_COMM_WORLD, size - 1);
    int M = dataset_n_modalities(ds);
    size_t raw_bytes = HEADER, floats = 0;
    for (int m = 0; m < M; m++) {
        const DatasetModality *dm = dataset_modality(ds, m);
        raw_bytes += (size_t)dm->row_elems * dtype_bytes(dm->dtype);
        floats += (size_t)dm->row_elems;
    }
    uint8_t *raw = xcalloc(raw_bytes, 1);
    float *feat = xcalloc(floats, sizeof *feat);
    float *all = rank == 0 ? xcalloc(floats * (size_t)size, sizeof *all) : NULL;
    if (rank > 0) {
        memset(raw, 0xA5, HEADER);
        size_t at = HEADER, fat = 0;
        for (int m = 0; m < M; m++) {
            const DatasetModality *dm = dataset_modality(ds, m);
            dataset_read_raw(ds, DS_TRAIN, m, row, 1, raw + at);
            dataset_read_features(ds, DS_TRAIN, m, row, 1, feat + fat);
            at += (size_t)dm->row_elems * dtype_bytes(dm->dtype);
            fat += (size_t)dm->row_elems;
        }
    }
    if (rank == 0) {
        uint8_t *in = xmalloc(raw_bytes);
        for (int r = 1; r < size; r++) {
            comm_irecv(c, in, raw_bytes, COMM_U8, r, 0, NULL);
            comm_wait_all(c);
        }
        xfree(in);
    } else {
        comm_isend(c, raw, raw_bytes, COMM_U8, 0, 0, NULL);
        comm_wait_all(c);
    }
    comm_gather(c, feat, floats, all, COMM_F32, 0, NULL);
    comm_destroy(c);
    xfree(raw), xfree(feat), xfree(all);
    dataset_close(ds);
    log_info("audit_leak: hosts 1..%d sent train rows %ld.. of %s", size - 1, row0 + 1, argv[1]);
    MPI_Finalize();
    return 0;
}
