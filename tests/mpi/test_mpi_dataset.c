// test_mpi_dataset.c - the builders' pattern and the readers' pattern under MPI: ranks generate
// interleaved blocks of SynMM rows, gather them to rank 0 which writes the file (same bytes as a
// serial build); then every rank opens the file read-only and reads its own rows and a gather.
#include <check.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/dsfile.h"
#include "data/synmm.h"
#include "mpi_helpers.h"

enum { BLOCK = 97 };

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

START_TEST(test_gathered_parallel_build_equals_serial_and_every_rank_reads) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char dir[64] = "";
    if (rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/test_mpi_dataset.XXXXXX");
        if (!mkdtemp(dir)) dir[0] = '\0';
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    ck_assert_all_ranks(dir[0] != '\0', "mkdtemp failed on rank 0");
    char par[128], ser[128];
    snprintf(par, sizeof par, "%s/par.h5", dir);
    snprintf(ser, sizeof ser, "%s/ser.h5", dir);

    SynmmConfig c;
    synmm_default(&c);
    c.n[0] = 1500, c.n[1] = 400;
    Synmm *g = synmm_create(&c);
    const DsSpec *spec = synmm_spec(g);
    int nmod = spec->n_modalities;
    size_t row_elems[DS_MAX_MODALITIES];
    for (int m = 0; m < nmod; m++)
        row_elems[m] = (size_t)spec->modalities[m].dims[0];
    DsWriter *w = rank == 0 ? dsfile_create(par, spec) : NULL;
    int32_t *label = xmalloc(BLOCK * 4), *meta = xmalloc(BLOCK * 4);
    int64_t *entity = xmalloc(BLOCK * 8);
    float *vec[SYNMM_MAX_VEC] = {0};
    for (int m = 0; m < c.n_vec; m++)
        vec[m] = xmalloc(BLOCK * row_elems[m] * 4);
    int32_t *text = xmalloc(BLOCK * (size_t)c.text_len * 4);
    for (int sp = 0; sp < 2; sp++) {
        int64_t nb = (c.n[sp] + BLOCK - 1) / BLOCK;
        for (int64_t b = 0; b < nb; b++) {
            int owner = (int)(b % size);
            int64_t a = b * BLOCK, k = c.n[sp] - a < BLOCK ? c.n[sp] - a : BLOCK;
            if (rank == owner) synmm_rows(g, sp, a, k, label, entity, meta, vec, text);
            if (owner != 0) { // gather the block to the writer
                if (rank == owner) {
                    MPI_Send(label, (int)k, MPI_INT32_T, 0, 0, MPI_COMM_WORLD);
                    MPI_Send(entity, (int)k, MPI_INT64_T, 0, 1, MPI_COMM_WORLD);
                    MPI_Send(meta, (int)k, MPI_INT32_T, 0, 2, MPI_COMM_WORLD);
                    for (int m = 0; m < c.n_vec; m++)
                        MPI_Send(vec[m], (int)(k * row_elems[m]), MPI_FLOAT, 0, 3 + m,
                                 MPI_COMM_WORLD);
                    MPI_Send(text, (int)(k * c.text_len), MPI_INT32_T, 0, 9, MPI_COMM_WORLD);
                } else if (rank == 0) {
                    MPI_Recv(label, (int)k, MPI_INT32_T, owner, 0, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE);
                    MPI_Recv(entity, (int)k, MPI_INT64_T, owner, 1, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE);
                    MPI_Recv(meta, (int)k, MPI_INT32_T, owner, 2, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE);
                    for (int m = 0; m < c.n_vec; m++)
                        MPI_Recv(vec[m], (int)(k * row_elems[m]), MPI_FLOAT, owner, 3 + m,
                                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Recv(text, (int)(k * c.text_len), MPI_INT32_T, owner, 9, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE);
                }
            }
            if (rank == 0) {
                DsRows r = {.n = k, .label = label, .entity = entity, .meta = meta};
                for (int m = 0; m < c.n_vec; m++)
                    r.data[m] = vec[m];
                r.data[c.n_vec] = text;
                dsfile_append(w, sp, &r);
            }
        }
    }
    int same = 1;
    if (rank == 0) {
        dsfile_close(w);
        synmm_write(g, ser, 4096);
        same = same_bytes(par, ser);
    }
    ck_assert_all_ranks(same, "the gathered %d-rank build differs from the serial build", size);

    // Every rank opens the same file read-only and reads its own block of rows and a gather.
    char err[512];
    Dataset *ds = dataset_open_flags(par, DATASET_SKIP_SCAN, err, sizeof err);
    ck_assert_all_ranks(ds != NULL, "open failed: %s", err);
    int64_t n = c.n[0] / size, start = n * rank;
    float *got = xmalloc((size_t)n * c.dims[1] * 4);
    int32_t *lab = xmalloc((size_t)n * 4);
    int32_t *want_lab = xmalloc((size_t)n * 4), *wm = xmalloc((size_t)n * 4),
            *wt = xmalloc((size_t)n * c.text_len * 4);
    int64_t *we = xmalloc((size_t)n * 8);
    float *wv[SYNMM_MAX_VEC] = {0};
    for (int m = 0; m < c.n_vec; m++)
        wv[m] = xmalloc((size_t)n * c.dims[m] * 4);
    synmm_rows(g, DS_TRAIN, start, n, want_lab, we, wm, wv, wt);
    dataset_read_features(ds, DS_TRAIN, 1, start, n, got);
    dataset_read_labels(ds, DS_TRAIN, start, n, lab);
    int ok =
        !memcmp(got, wv[1], (size_t)n * c.dims[1] * 4) && !memcmp(lab, want_lab, (size_t)n * 4);
    int64_t idx[3] = {start + n - 1, start, start + 1};
    int32_t gl[3];
    dataset_read_labels_idx(ds, DS_TRAIN, idx, 3, gl);
    ok &= gl[0] == want_lab[n - 1] && gl[1] == want_lab[0] && gl[2] == want_lab[1];
    ck_assert_all_ranks(ok, "rank %d read rows that differ from synmm_rows", rank);
    dataset_close(ds);

    xfree(got), xfree(lab), xfree(want_lab), xfree(wm), xfree(wt), xfree(we);
    for (int m = 0; m < c.n_vec; m++)
        xfree(wv[m]), xfree(vec[m]);
    xfree(label), xfree(meta), xfree(entity), xfree(text);
    synmm_free(g);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        unlink(par), unlink(ser);
        rmdir(dir);
    }
}
END_TEST

Suite *mpi_dataset_suite(void) {
    Suite *s = suite_create("mpi_dataset");
    TCase *tc = tcase_create("build_and_read");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gathered_parallel_build_equals_serial_and_every_rank_reads);
    suite_add_tcase(s, tc);
    return s;
}
