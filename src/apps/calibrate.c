// calibrate.c - how much each modality of a dataset tells about the label, alone and fused.
//
//   build/bin/calibrate --data=data/avfmnist.h5,data/landsat.h5 [--epochs=3] [--width=64]
//
// For every dataset: the parties' small model (models/party_model.h) is trained centrally on the
// training split seeing one modality only (the others masked as missing), then on all of them, and
// tested on the test split with the same modalities. It prints one line per (dataset, modalities)
//   calibrate dataset=<name> modalities=<m|fused> test_acc=<a> chance=<c>
// and a Markdown table, so that it is visible that each modality carries information and that
// fusion helps. Serial (no mpirun needed); deterministic for a seed.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "cli/options.h"
#include "core/die.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "fl/samples.h"
#include "fl/train.h"
#include "models/party_model.h"

typedef struct {
    char data[OPT_STR_MAX];
    int epochs, width, batch_size;
    double lr;
    int64_t seed, max_train, max_test;
} CalibCfg;

#define F(f) offsetof(CalibCfg, f)
static const OptSpec calib_opts[] = {
    {"data", OPT_STRING, F(data), "data/avfmnist_small.h5", 0, 0, 0, NULL,
     "dataset files, comma-separated", 0},
    {"epochs", OPT_INT, F(epochs), "3", OPT_LO, 1, 0, NULL, "passes over the training split", 0},
    {"width", OPT_INT, F(width), "64", OPT_LO, 2, 0, NULL, "model width D", 0},
    {"batch-size", OPT_INT, F(batch_size), "64", OPT_LO, 1, 0, NULL, "minibatch size", 0},
    {"lr", OPT_DOUBLE, F(lr), "0.002", OPT_LO | OPT_LO_OPEN, 0, 0, NULL, "AdamW learning rate", 0},
    {"seed", OPT_I64, F(seed), "1", OPT_LO, 0, 0, NULL, "seed", 0},
    {"max-train", OPT_I64, F(max_train), "0", OPT_LO, 0, 0, NULL, "first N training rows (0 = all)",
     0},
    {"max-test", OPT_I64, F(max_test), "0", OPT_LO, 0, 0, NULL, "first N test rows (0 = all)", 0},
};
#define N_OPTS ((int)(sizeof calib_opts / sizeof calib_opts[0]))

// Rows [0, n) of a split, every row with the same modality mask.
static void load_all(SampleSet *s, const SampleLayout *l, const Dataset *ds, DsSplit split,
                     int64_t cap, uint8_t mask) {
    int64_t n = dataset_n(ds, split);
    if (cap > 0 && cap < n) n = cap;
    int64_t *idx = xmalloc((size_t)n * sizeof *idx + 1);
    uint8_t *masks = xmalloc((size_t)n + 1);
    for (int64_t i = 0; i < n; i++)
        idx[i] = i, masks[i] = mask;
    sampleset_load(s, l, ds, split, idx, masks, n);
    xfree(idx);
    xfree(masks);
}

// Test accuracy of the small model trained and tested with the modalities in mask.
static double probe(const Dataset *ds, const SampleLayout *l, const CalibCfg *cc, uint8_t mask) {
    Config cfg; // the pipeline's training options, from its defaults plus ours
    char err[512];
    int n;
    const OptSpec *table = config_table("centralized", &n);
    CHECK(opts_set_defaults(table, n, &cfg, err, sizeof err) == OPT_OK, "%s", err);
    cfg.local_epochs = cc->epochs;
    cfg.batch_size = cc->batch_size;
    cfg.lr = cc->lr;
    cfg.seed = cc->seed;
    PmConfig pc;
    samples_model_config(&pc, l, ds, cc->width);
    PartyModel pm;
    pm_init(&pm, &pc);
    float *params = xcalloc_aligned(pm.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, (uint64_t)cc->seed, 0, 0, RNG_INIT);
    pm_init_params(&pm, params, &rng);
    OptState opt = {xcalloc_aligned(pm.n_params * sizeof(float)),
                    xcalloc_aligned(pm.n_params * sizeof(float)), 0};
    SampleSet train, test;
    load_all(&train, l, ds, DS_TRAIN, cc->max_train, mask);
    load_all(&test, l, ds, DS_TEST, cc->max_test, mask);
    TrainScratch ts;
    train_scratch_init(&ts, &pm, l, cc->batch_size);
    EvalStats st;
    train_party(&pm, params, &opt, &train, l, &cfg, NULL, NULL, 1, 0, NULL, &ts, &st);
    eval_model(&pm, params, &test, l, NULL, &ts, &st);
    train_scratch_free(&ts);
    sampleset_free(&train);
    sampleset_free(&test);
    xfree(opt.m), xfree(opt.v), xfree(params);
    return st.n ? (double)st.correct / (double)st.n : 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv); // the library's error path (MPI_Abort) expects it; one process
    log_init(0, LOG_INFO);
    CalibCfg cc;
    char err[1024];
    int rc = opts_parse(calib_opts, N_OPTS, &cc, argc, argv, err, sizeof err);
    if (rc == OPT_HELP) {
        opts_print_help(calib_opts, N_OPTS, stdout,
                        "usage: calibrate --data=FILE[,FILE...] [options]\n"
                        "Test accuracy of the small model per modality alone and fused.");
        MPI_Finalize();
        return 0;
    }
    if (rc != OPT_OK) {
        fprintf(stderr, "calibrate: %s\n", err);
        MPI_Finalize();
        return 2;
    }
    char table[8192] = "";
    size_t used = 0;
    for (char *save = NULL, *path = strtok_r(cc.data, ",", &save); path;
         path = strtok_r(NULL, ",", &save)) {
        Dataset *ds = dataset_open(path, err, sizeof err);
        if (!ds) {
            fprintf(stderr, "calibrate: %s\n", err);
            MPI_Finalize();
            return 1;
        }
        SampleLayout l;
        samples_layout(&l, ds);
        double chance = 1.0 / dataset_n_classes(ds);
        for (int m = 0; m <= l.n_mod; m++) {
            uint8_t mask = m < l.n_mod ? (uint8_t)(1u << m) : (uint8_t)((1u << l.n_mod) - 1);
            const char *what = m < l.n_mod ? dataset_modality(ds, m)->name : "fused";
            double t0 = timer_now_ms(), acc = probe(ds, &l, &cc, mask);
            printf("calibrate dataset=%s modalities=%s test_acc=%.4f chance=%.4f\n",
                   dataset_name(ds), what, acc, chance);
            fflush(stdout);
            used += (size_t)snprintf(table + used, sizeof table - used,
                                     "| %s | %lld / %lld | %s | %.3f | %.3f | %.1f s |\n",
                                     dataset_name(ds), (long long)dataset_n(ds, DS_TRAIN),
                                     (long long)dataset_n(ds, DS_TEST), what, acc, chance,
                                     (timer_now_ms() - t0) / 1e3);
        }
        dataset_close(ds);
    }
    printf("\n| dataset | train / test rows | modalities | test accuracy | chance | time |\n"
           "|---|---|---|---|---|---|\n%s",
           table);
    MPI_Finalize();
    return 0;
}
