// test_method_contract.c - every registered method, end to end on one tiny fixed config (SynMM
// 800/200, 4 parties, bomm-hybrid, 2 rounds), under mpirun:
//   - its final parameters have the digest the build before the model/protocol redesign wrote
//     (tests/ref/digests.txt, per OpenBLAS core type: results are bit-reproducible per core type);
//   - -np 2 and -np 3 write h5diff-identical checkpoints;
//   - the bytes every rank passed to MPI, as the run counts them at its comm wrappers (run.h5's
//     /meta/mpi_bytes), equal an independent count through MPI's profiling interface (the
//     -np 3 run with tests/pmpi's counter preloaded);
//   - stopped after round 1 and resumed at another -np, it ends identical to the straight run;
// and FedProx at mu = 0 ends with FedAvg's parameters, bit for bit.
// A method added later runs the same checks (with no reference digest until one is recorded).
#include <check.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "methods/method.h"

#define RUN_TIMEOUT_S 300

char *openblas_get_corename(void); // OpenBLAS: the kernels' core type ("Zen", "Haswell", ...)

static char work[64], root[1024];

static void setup(void) {
    ck_assert_ptr_nonnull(getcwd(root, sizeof root));
    mmc_workdir(work, sizeof work, "mmc_contract");
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

// Options that keep a method's cloud-side models tiny: the protocol, not the accuracy, is tested.
// CD-CCA and Fed-CMP run only on the multimodal LLM: their options replace the data and the model
// (the last value of a key on the command line wins), on the tiny base model (and CD-CCA's tiny
// teacher, one stage of two rounds, so the stop after round 1 falls inside a stage).
static const char *method_extra(const char *name) {
    static const struct {
        const char *method, *extra;
    } extras[] = {
        {"bomm", "--bomm.mm-width=32 --bomm.mm-layers=1 --bomm.upload=64 --bomm.warmup=1"},
        {"fedmkt", "--fedmkt.upload=64"},
    };
    static char cdcca[3 * PATH_MAX + 512];
    if (!strcmp(name, "cdcca")) {
        char data[PATH_MAX], base[PATH_MAX], teacher[PATH_MAX];
        mmc_data_path(data, "avfmnist_ci.h5");
        mmc_data_path(base, "base/mllm_tiny.h5");
        mmc_data_path(teacher, "base/mllm_tiny-teacher.h5");
        snprintf(cdcca, sizeof cdcca,
                 "--data=%s --model=mllm --mllm.base=%s --cdcca.teacher=%s --public-fraction=0.3 "
                 "--max-train=200 --max-test=40 --batch-size=8 --cdcca.stages=1 --cdcca.chunk=16 "
                 "--cdcca.source-rows=32 --cdcca.source-epochs=1",
                 data, base, teacher);
        return cdcca;
    }
    if (!strcmp(name, "fedcmp")) { // the projectors of the tiny multimodal LLM, CRAA + OPM
        char data[PATH_MAX], base[PATH_MAX];
        mmc_data_path(data, "avfmnist_ci.h5");
        mmc_data_path(base, "base/mllm_tiny.h5");
        snprintf(cdcca, sizeof cdcca,
                 "--data=%s --model=mllm --mllm.base=%s --public-fraction=0.3 --max-train=200 "
                 "--max-test=40 --batch-size=8 --fedcmp.chunk=16 --fedcmp.tune-steps=2",
                 data, base);
        return cdcca;
    }
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++)
        if (!strcmp(extras[i].method, name)) return extras[i].extra;
    return "";
}

// mmcollab at -np np on the fixed config; launcher options (e.g. -x VAR=...) before the program.
static int mmc_with(int np, const char *launcher, const char *method, const char *out_dir,
                    const char *more, char *out, size_t cap) {
    return run_command(out, cap,
                       "cd %s && timeout %d mpirun --oversubscribe -np %d %s %s/mmcollab "
                       "--data=syn.h5 --out=%s --parties=4 --rounds=2 --width=16 --batch-size=16 "
                       "--scenario=bomm-hybrid --method=%s %s %s 2>&1",
                       work, RUN_TIMEOUT_S, np, launcher, mmc_bin(), out_dir, method,
                       method_extra(method), more);
}

static int mmc(int np, const char *method, const char *out_dir, const char *more, char *out,
               size_t cap) {
    return mmc_with(np, "", method, out_dir, more, out, cap);
}

// The preload of the PMPI counter into the ranks, counts into count_dir (absolute).
static void pmpi_launcher(char *buf, size_t cap, const char *count_dir) {
    const char *lib_dir = getenv("MMC_LIB_DIR") ? getenv("MMC_LIB_DIR") : "build/lib";
    char lib[PATH_MAX];
    ck_assert_msg(realpath(lib_dir, lib) != NULL, "no library directory %s", lib_dir);
    snprintf(buf, cap, "-x LD_PRELOAD=%s/libmpicount.so -x MMC_MPI_COUNT_DIR=%s", lib, count_dir);
}

// run.h5's /meta/mpi_bytes (ranks, 2) against the counter's rank_<r>.txt files.
static void assert_mpi_bytes_match_pmpi(const char *m, const char *run_dir, const char *count_dir,
                                        int np) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s/run.h5", work, run_dir);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "%s: cannot open %s", m, path);
    uint64_t counted[2 * 8] = {0};
    hid_t ds = H5Dopen2(f, "meta/mpi_bytes", H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "%s: no /meta/mpi_bytes", m);
    ck_assert(H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, counted) >= 0);
    H5Dclose(ds), H5Fclose(f);
    for (int r = 0; r < np; r++) {
        uint64_t sent = 0, recv = 0;
        snprintf(path, sizeof path, "%s/%s/rank_%d.txt", work, count_dir, r);
        FILE *t = fopen(path, "r");
        ck_assert_msg(t != NULL, "%s: no %s (did the counter load?)", m, path);
        int got = fscanf(t, "sent %" SCNu64 "\nrecv %" SCNu64, &sent, &recv);
        fclose(t);
        ck_assert_int_eq(got, 2);
        ck_assert_msg(sent == counted[2 * r] && recv == counted[2 * r + 1],
                      "%s rank %d: the run counted %" PRIu64 " bytes sent, %" PRIu64
                      " received; PMPI saw %" PRIu64 " and %" PRIu64,
                      m, r, counted[2 * r], counted[2 * r + 1], sent, recv);
    }
}

// The reference digest of method on this core type from tests/ref/digests.txt into want; 0 when
// there is none.
static int reference_digest(const char *core, const char *method, char *want, size_t cap) {
    FILE *f = fopen("tests/ref/digests.txt", "r");
    ck_assert_msg(f != NULL, "tests/ref/digests.txt is missing (run from the repository root)");
    char line[256], c[64], m[64], d[64];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%63s %63s %63s", c, m, d) == 3 && !strcmp(c, core) &&
            !strcmp(m, method))
            found = 1, snprintf(want, cap, "%s", d);
    fclose(f);
    return found;
}

// The digest of the final parameters (tests/params_digest.py) of the run in dir into got.
static void final_digest(const char *m, const char *dir, char *got, size_t cap) {
    int rc = run_command(got, cap,
                         "cd %s && /usr/bin/python3 %s/tests/params_digest.py "
                         "%s/ckpt/round_000002.h5 | sed -n 's/^digest //p'",
                         work, root, dir);
    ck_assert_msg(rc == 0 && strlen(got) >= 32, "%s: params_digest.py: exit %d: %s", m, rc, got);
    got[strcspn(got, "\n")] = 0;
}

// FedProx at mu = 0 is FedAvg bit for bit: the proximal hook adds nothing, and nothing else
// differs (docs/methods.md §5.1).
START_TEST(test_fedprox_at_mu_zero_is_fedavg) {
    char out[16384], avg[128], prox[128];
    int rc = mmc(2, "fedavg", "avg", "", out, sizeof out);
    ck_assert_msg(rc == 0, "fedavg: exit %d\n%.3000s", rc, out);
    rc = mmc(2, "fedprox", "prox0", "--fedprox.mu=0", out, sizeof out);
    ck_assert_msg(rc == 0, "fedprox mu=0: exit %d\n%.3000s", rc, out);
    final_digest("fedavg", "avg", avg, sizeof avg);
    final_digest("fedprox", "prox0", prox, sizeof prox);
    ck_assert_msg(!strcmp(avg, prox), "fedprox at mu=0 ends at digest %s, fedavg at %s", prox, avg);
}
END_TEST

START_TEST(test_method_keeps_its_numbers_across_np_and_resume) {
    const char *m = method_registry[_i]->opt.name;
    char out[16384], dir[64], got[128];
    snprintf(dir, sizeof dir, "%s_np2", m);
    int rc = mmc(2, m, dir, "", out, sizeof out);
    ck_assert_msg(rc == 0, "%s -np 2: exit %d\n%.3000s", m, rc, out);

    // The final parameters, against the build before the redesign.
    rc = run_command(got, sizeof got,
                     "cd %s && /usr/bin/python3 %s/tests/params_digest.py %s/ckpt/round_000002.h5 "
                     "| sed -n 's/^digest //p'",
                     work, root, dir);
    ck_assert_msg(rc == 0 && strlen(got) >= 32, "%s: params_digest.py: exit %d: %s", m, rc, got);
    got[strcspn(got, "\n")] = 0;
    const char *core = openblas_get_corename();
    char want[64];
    if (reference_digest(core, m, want, sizeof want))
        ck_assert_msg(!strcmp(got, want),
                      "%s: final parameters changed: digest %s, the reference for core type %s is "
                      "%s (tests/ref/digests.txt)",
                      m, got, core, want);
    else
        fprintf(stderr,
                "method_contract: no reference digest for %s on core type %s: %s not "
                "compared with the old build\n",
                m, core, m);

    // -np 3 writes the same checkpoint, and counts the bytes it passes to MPI as PMPI does.
    char count_dir[64], abs_count[160], launcher[PATH_MAX + 256];
    snprintf(count_dir, sizeof count_dir, "%s_pmpi", m);
    snprintf(abs_count, sizeof abs_count, "%s/%s", work, count_dir);
    run_command(NULL, 0, "mkdir -p %s", abs_count);
    pmpi_launcher(launcher, sizeof launcher, abs_count);
    snprintf(dir, sizeof dir, "%s_np3", m);
    rc = mmc_with(3, launcher, m, dir, "", out, sizeof out);
    ck_assert_msg(rc == 0, "%s -np 3: exit %d\n%.3000s", m, rc, out);
    char ref[64];
    snprintf(ref, sizeof ref, "%s_np2", m);
    assert_same_checkpoint(work, ref, dir, 2, NULL);
    assert_mpi_bytes_match_pmpi(m, dir, count_dir, 3);

    // Stopped after round 1 at -np 3, resumed at -np 2: the straight run's files.
    snprintf(dir, sizeof dir, "%s_stop", m);
    rc = mmc(3, m, dir, "--stop-after=1", out, sizeof out);
    ck_assert_msg(rc == 3, "%s --stop-after=1: exit %d (3 = requeue)\n%.3000s", m, rc, out);
    rc = mmc(2, m, dir, "--resume=auto", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "resumed from"), "%s resume: exit %d\n%.3000s", m, rc,
                  out);
    assert_same_checkpoint(work, ref, dir, 2, NULL);
    assert_same_metrics(work, ref, dir, 2);
}
END_TEST

Suite *method_contract_suite(void) {
    Suite *s = suite_create("method_contract");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, test_method_keeps_its_numbers_across_np_and_resume, 0, method_count);
    suite_add_tcase(s, tc);
    TCase *prox = tcase_create("fedprox");
    tcase_add_checked_fixture(prox, setup, teardown);
    tcase_set_timeout(prox, 900);
    tcase_add_test(prox, test_fedprox_at_mu_zero_is_fedavg);
    suite_add_tcase(s, prox);
    return s;
}
