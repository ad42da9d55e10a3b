// calibrate.c - how much each modality of a dataset tells about the label, alone and fused.
//
//   build/bin/calibrate --data=data/avfmnist.h5,data/landsat.h5 [--epochs=3] [--width=64]
//
// For every dataset: the parties' small model (models/party_model.h) is trained centrally on the
// training rows seeing one modality only (the others masked as missing), then on all of them, and
// evaluated with the same modalities on the validation rows carved out of the train split
// (data/holdout.h; --eval-split=test for the test split, which nothing is tuned on). It prints one
// line per (dataset, modalities)
//   calibrate dataset=<name> modalities=<m|fused> <split>_acc=<a> chance=<c>
// and a Markdown table, so that it is visible that each modality carries information and that
// fusion helps. Serial (no mpirun needed); deterministic for a seed. Every file passes the
// integrity gate first (data/dataset.h; --data-unverified reads one without a digest file).
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "core/die.h"
#include "core/log.h"
#include "core/options.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/holdout.h"
#include "fl/run.h"
#include "models/party_model.h"
#include "tensor/blas.h"
#include "train/local.h"
#include "train/samples.h"

typedef struct {
    char data[OPT_STR_MAX], eval_split[OPT_STR_MAX];
    int epochs, width, batch_size, blas_threads, data_unverified;
    double lr, val_fraction;
    int64_t seed, max_train, max_test;
} CalibCfg;

#define F(f) offsetof(CalibCfg, f)
static const OptSpec calib_opts[] = {
    {"data", OPT_STRING, F(data), "data/avfmnist_small.h5", 0, 0, 0, NULL,
     "dataset files, comma-separated", 0},
    {"data-unverified", OPT_BOOL, F(data_unverified), "false", 0, 0, 0, NULL,
     "read a dataset file without a digest file unchecked, every size bounded", 0},
    {"epochs", OPT_INT, F(epochs), "3", OPT_LO, 1, 0, NULL, "passes over the training split", 0},
    {"width", OPT_INT, F(width), "64", OPT_LO, 2, 0, NULL, "model width D", 0},
    {"batch-size", OPT_INT, F(batch_size), "64", OPT_LO, 1, 0, NULL, "minibatch size", 0},
    {"lr", OPT_DOUBLE, F(lr), "0.002", OPT_LO | OPT_LO_OPEN, 0, 0, NULL, "AdamW learning rate", 0},
    {"seed", OPT_I64, F(seed), "1", OPT_LO, 0, 0, NULL, "seed", 0},
    {"blas-threads", OPT_INT, F(blas_threads), "1", OPT_LO, 1, 0, NULL,
     "OpenBLAS threads, set before any BLAS call whatever OPENBLAS_NUM_THREADS says", 0},
    {"max-train", OPT_I64, F(max_train), "0", OPT_LO, 0, 0, NULL, "first N training rows (0 = all)",
     0},
    {"max-test", OPT_I64, F(max_test), "0", OPT_LO, 0, 0, NULL, "first N evaluation rows (0 = all)",
     0},
    {"val-fraction", OPT_DOUBLE, F(val_fraction), "0.1", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "share of the train split's entities held out for validation (as mmcollab's)", 0},
    {"eval-split", OPT_CHOICE, F(eval_split), "validation", 0, 0, 0, "validation|test",
     "the rows the accuracy is measured on", 0},
};
#define N_OPTS ((int)(sizeof calib_opts / sizeof calib_opts[0]))

// The rows of a role (data/holdout.h), the first cap, every row with the same modality mask.
static void load_role(SampleSet *s, const SampleLayout *l, const Dataset *ds, const CalibCfg *cc,
                      HoldoutRole role, int64_t cap, uint8_t mask) {
    int64_t *idx, n = holdout_rows(ds, role, (HoldoutFractions){cc->val_fraction, 0}, cap, &idx);
    CHECK(n > 0, "%s: no %s rows (--val-fraction=%g)", dataset_path(ds), holdout_role_name(role),
          cc->val_fraction);
    uint8_t *masks = xmalloc((size_t)n + 1);
    memset(masks, mask, (size_t)n);
    sampleset_load(s, l, ds, holdout_split(role), idx, masks, n);
    xfree(idx);
    xfree(masks);
}

static HoldoutRole eval_role(const CalibCfg *cc) {
    return strcmp(cc->eval_split, "test") ? HOLDOUT_VALIDATION : HOLDOUT_TEST;
}

// Accuracy of the small model trained and evaluated with the modalities in mask.
static double probe(const Dataset *ds, const SampleLayout *l, const CalibCfg *cc, uint8_t mask) {
    // The pipeline's training options: its defaults (mmcollab's option table) plus ours.
    OptRegistry methods, models;
    fl_registries(&methods, &models);
    RunConfig rc;
    char err[512];
    CHECK(config_parse(&rc, &methods, &models, 1, (char *[]){"calibrate", NULL}, err, sizeof err) ==
              OPT_OK,
          "%s", err);
    TrainConfig tc;
    fl_train_config(&tc, &rc.c);
    run_config_free(&rc);
    tc.epochs = cc->epochs;
    tc.lr = cc->lr;
    tc.seed = tc.init_seed = (uint64_t)cc->seed;
    ModelSpec spec;
    samples_model_spec(&spec, l, ds);
    Model m;
    party_model_create(&m, &spec, cc->width);
    Selection all;
    CHECK(model_select(&m, "all", &all, err, sizeof err) == 0, "%s", err);
    float *params = xcalloc_aligned(m.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, (uint64_t)cc->seed, 0, 0, RNG_INIT);
    model_init_params(&m, params, &rng);
    OptState opt = {xcalloc_aligned(m.n_params * sizeof(float)),
                    xcalloc_aligned(m.n_params * sizeof(float)), 0};
    SampleSet train, test;
    load_role(&train, l, ds, cc, HOLDOUT_TRAIN, cc->max_train, mask);
    load_role(&test, l, ds, cc, eval_role(cc), cc->max_test, mask);
    TrainScratch ts;
    train_scratch_init(&ts, &m, l, cc->batch_size);
    EvalStats st;
    train_local(&m, &all, params, &opt, &train, l, &tc, 1, 0, NULL, &ts, &st);
    evaluate_model(&m, params, &test, l, NULL, &ts, &st);
    train_scratch_free(&ts, &m);
    sampleset_free(&train);
    sampleset_free(&test);
    xfree(opt.m), xfree(opt.v), xfree(params);
    model_free(&m);
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
                        "Validation (or test) accuracy of the small model per modality alone "
                        "and fused.");
        MPI_Finalize();
        return 0;
    }
    if (rc != OPT_OK) {
        fprintf(stderr, "calibrate: %s\n", err);
        MPI_Finalize();
        return 2;
    }
    blas_set_num_threads(cc.blas_threads); // before any BLAS call: results follow the count
    log_info("BLAS %s, %d thread(s)", blas_core_name(), blas_num_threads());
    char table[8192] = "";
    size_t used = 0;
    for (char *save = NULL, *path = strtok_r(cc.data, ",", &save); path;
         path = strtok_r(NULL, ",", &save)) {
        Dataset *ds =
            dataset_open_flags(path, cc.data_unverified ? DATASET_UNVERIFIED : 0, err, sizeof err);
        if (!ds) {
            fprintf(stderr, "calibrate: %s\n", err);
            MPI_Finalize();
            return 1;
        }
        SampleLayout l;
        samples_layout(&l, ds);
        double chance = 1.0 / dataset_n_classes(ds);
        const char *split = holdout_role_name(eval_role(&cc));
        for (int m = 0; m <= l.n_mod; m++) {
            uint8_t mask = m < l.n_mod ? (uint8_t)(1u << m) : (uint8_t)((1u << l.n_mod) - 1);
            const char *what = m < l.n_mod ? dataset_modality(ds, m)->name : "fused";
            double t0 = timer_now_ms(), acc = probe(ds, &l, &cc, mask);
            printf("calibrate dataset=%s modalities=%s %s_acc=%.4f chance=%.4f\n", dataset_name(ds),
                   what, split, acc, chance);
            fflush(stdout);
            used += (size_t)snprintf(table + used, sizeof table - used,
                                     "| %s | %lld / %lld | %s | %.3f | %.3f | %.1f s |\n",
                                     dataset_name(ds), (long long)dataset_n(ds, DS_TRAIN),
                                     (long long)dataset_n(ds, DS_TEST), what, acc, chance,
                                     (timer_now_ms() - t0) / 1e3);
        }
        dataset_close(ds);
    }
    printf(
        "\n| dataset | train / test rows in the file | modalities | %s accuracy | chance | time |\n"
        "|---|---|---|---|---|---|\n%s",
        holdout_role_name(eval_role(&cc)), table);
    MPI_Finalize();
    return 0;
}
