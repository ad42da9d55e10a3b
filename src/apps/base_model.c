// base_model.c - builds the tiny multimodal LLM's base model from nothing (make base-model):
//
//   base_model --data=data/avfmnist_small.h5 --out=data/base/mllm.h5 [--size=full|tiny]
//              [--memes=data/memes.h5] [--public-fraction=0.3] [--seed=1] [--steps.<stage>=N]
//              [--data-unverified=true]
//   base_model --size=teacher|tiny-teacher --student=data/base/mllm.h5 --data=... --out=...
//
// The teacher sizes build CD-CCA's cloud model (docs/mllm.md "The teacher (CD-CCA)"): the
// student file's tokenizer and stage-2 encoders copied bit-exact and frozen, its own projectors
// and a wider, deeper LM trained on the same public rows (stage 1, 3, then 4' of
// train/mllm_stages.h: instructions mixed with the parties' item question and captions); the
// file gets role "teacher" and the student's SHA-256 (models/mllm_file.h
// mllm_file_check_teacher).
//
// A byte-level BPE is trained on WordNet's glosses (Debian wordnet-base) plus the prompt
// templates; then the four stages of train/mllm_stages.h run on the public rows of the data (a
// carve-out of the train split no party holds: --public-fraction, after --val-fraction's
// validation rows, which the stages' figures are measured on). The file (models/mllm_file.h) keeps
// each stage's weights, the curves, and the provenance: data digests, corpus digest, commit,
// fractions, seconds per stage. Last, the finished file is loaded the way --model=mllm loads it and
// the parties' tasks are asked zero-shot on test rows (the 10-way item question, and the memes
// question with --memes): those figures go into the file too. Written under a temporary name and
// published when complete with its digest file "<out>.sha256" (io/seal.h), which runs check
// before they read it. The data files pass the same integrity gate as a run's (data/dataset.h).
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/die.h"
#include "core/log.h"
#include "core/options.h"
#include "core/sha256.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "data/corpus.h"
#include "data/holdout.h"
#include "io/runfile.h"
#include "io/seal.h"
#include "models/mllm_file.h"
#include "models/mllm_kind.h"
#include "tensor/blas.h"
#include "train/local.h"
#include "train/mllm_open.h"
#include "train/mllm_stages.h"

extern const char mmc_git_commit[];
extern const int mmc_git_dirty;

typedef struct {
    char data[OPT_STR_MAX], out[OPT_STR_MAX], size[OPT_STR_MAX], memes[OPT_STR_MAX];
    char student[OPT_STR_MAX];
    double val_fraction, public_fraction;
    int64_t seed;
    int vocab, eval_rows, blas_threads, data_unverified;
    int steps[4]; // per stage; 0 = the size's default
} BaseCfg;

#define F(f) offsetof(BaseCfg, f)
static const OptSpec base_opts[] = {
    {"data", OPT_STRING, F(data), "data/avfmnist_small.h5", 0, 0, 0, NULL,
     "dataset whose public rows train stages 2-4", 0},
    {"out", OPT_STRING, F(out), "data/base/mllm.h5", 0, 0, 0, NULL, "the base-model file", 0},
    {"size", OPT_CHOICE, F(size), "full", 0, 0, 0, "full|tiny|teacher|tiny-teacher",
     "full: the FedMLLM base model (10-15 min); tiny: a few seconds, for tests; teacher, "
     "tiny-teacher: CD-CCA's cloud model from --student",
     0},
    {"student", OPT_STRING, F(student), "", 0, 0, 0, NULL,
     "the student base-model file a teacher size takes its tokenizer and encoders from", 0},
    {"memes", OPT_STRING, F(memes), "", 0, 0, 0, NULL,
     "also measure zero-shot on this memes file (its test rows)", 0},
    {"data-unverified", OPT_BOOL, F(data_unverified), "false", 0, 0, 0, NULL,
     "read --data and --memes files without a digest file unchecked, every size bounded", 0},
    {"val-fraction", OPT_DOUBLE, F(val_fraction), "0.1", OPT_LO | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "validation carve-out, as mmcollab's", 0},
    {"public-fraction", OPT_DOUBLE, F(public_fraction), "0.3",
     OPT_LO | OPT_LO_OPEN | OPT_HI | OPT_HI_OPEN, 0, 1, NULL,
     "public carve-out the stages train on (runs pass the same value)", 0},
    {"seed", OPT_I64, F(seed), "1", OPT_LO, 0, 0, NULL, "seed of every stage", 0},
    {"vocab", OPT_INT, F(vocab), "0", OPT_LO, 0, 0, NULL, "BPE vocabulary (0 = the size's)", 0},
    {"eval-rows", OPT_INT, F(eval_rows), "1000", OPT_LO, 1, 0, NULL,
     "test rows of the zero-shot figures", 0},
    {"blas-threads", OPT_INT, F(blas_threads), "1", OPT_LO, 1, 0, NULL, "OpenBLAS threads", 0},
    {"steps.text", OPT_INT, F(steps[0]), "0", OPT_LO, 0, 0, NULL, "stage 1 steps (0 = size's)", 0},
    {"steps.encoders", OPT_INT, F(steps[1]), "0", OPT_LO, 0, 0, NULL, "stage 2 steps", 0},
    {"steps.align", OPT_INT, F(steps[2]), "0", OPT_LO, 0, 0, NULL, "stage 3 steps", 0},
    {"steps.instruct", OPT_INT, F(steps[3]), "0", OPT_LO, 0, 0, NULL, "stage 4 steps", 0},
};
#undef F
#define N_OPTS ((int)(sizeof base_opts / sizeof base_opts[0]))

#define PROMPT_WEIGHT 64

// The sizes: the model, the tokenizer and each stage's optimisation.
typedef struct {
    MllmConfig c;
    int vocab, text_T;
    StageOpts st[4];
} SizePreset;

static void size_preset(SizePreset *p, int tiny) {
    memset(p, 0, sizeof *p);
    MllmConfig *c = &p->c;
    c->n_enc = 2;
    int De = tiny ? 16 : 48;
    c->enc[0] = (MllmEncConfig){"image", {1, 28, 28, 7, 7, De, tiny ? 1 : 2, 4}, 2, 2, 2 * De};
    c->enc[1] = (MllmEncConfig){"audio", {1, 98, 40, 7, 40, De, tiny ? 1 : 2, 4}, 2, 1, 2 * De};
    c->lm = (LlamaConfig){.D = tiny ? 16 : 48,
                          .L = tiny ? 3 : 4, // 3: --prox=adaptive has a middle layer
                          .H = tiny ? 2 : 4,
                          .F = tiny ? 32 : 128,
                          .Tmax = tiny ? 384 : 256, // tiny's few merges spell bytes
                          .r = 1,
                          .alpha = 1,
                          .tied = 1,
                          .theta = 10000.0};
    p->vocab = tiny ? 400 : 1024;
    p->text_T = tiny ? 32 : 64;
    //                     steps              batch  lr      wd    clip
    p->st[0] = (StageOpts){tiny ? 30 : 6000, 16, 3e-3, 0.01, 1.0};
    p->st[1] = (StageOpts){tiny ? 20 : 1500, 32, 2e-3, 0.01, 1.0};
    p->st[2] = (StageOpts){tiny ? 20 : 2500, 16, 2e-3, 0.0, 1.0};
    p->st[3] = (StageOpts){tiny ? 30 : 6000, 16, 1e-3, 0.01, 1.0};
}

// A teacher over student config sc: sc's encoders (config, and later weights) with the
// student's projector hidden width, a wider and deeper LM of the same vocabulary, context and
// rotary base. Stage 1 runs fewer steps than the student's (the build must stay under 30 minutes
// on two cores: docs/mllm.md); stage 2 is the copy (no steps); stage 4' tunes on the mixture.
static void teacher_preset(SizePreset *p, const MllmConfig *sc, int tiny) {
    memset(p, 0, sizeof *p);
    p->c.n_enc = sc->n_enc;
    memcpy(p->c.enc, sc->enc, sizeof p->c.enc);
    p->c.lm = (LlamaConfig){.V = sc->lm.V,
                            .D = tiny ? 24 : 64,
                            .L = tiny ? 4 : 6,
                            .H = tiny ? 2 : 4,
                            .F = tiny ? 48 : 176,
                            .Tmax = sc->lm.Tmax,
                            .r = 1,
                            .alpha = 1,
                            .tied = 1,
                            .theta = sc->lm.theta};
    p->vocab = sc->lm.V;
    p->text_T = tiny ? 32 : 64;
    //                     steps              batch  lr      wd    clip
    p->st[0] = (StageOpts){tiny ? 20 : 3000, 16, 3e-3, 0.01, 1.0};
    p->st[1] = (StageOpts){0, 32, 0, 0, 0};
    p->st[2] = (StageOpts){tiny ? 15 : 2000, 16, 2e-3, 0.0, 1.0};
    p->st[3] = (StageOpts){tiny ? 40 : 6000, 16, 1e-3, 0.01, 1.0};
}

static int is_teacher(const BaseCfg *bc) { return strstr(bc->size, "teacher") != NULL; }

// The student file a teacher is built from: its config into sc, after checking (naming the
// file) that it is a base model and not itself a teacher, and that it recorded the carve-outs of
// this build (a teacher trains on the student's public rows, not on rows a party holds); its
// SHA-256 into sha (SHA256_HEX_LEN + 1), taken before its tokenizer and encoders are read.
static void read_student(const BaseCfg *bc, MllmConfig *sc, char *sha) {
    char err[1024];
    memset(sc, 0, sizeof *sc);
    sc->lm.theta = 10000.0;
    CHECK(mllm_file_read_config(bc->student, sc, err, sizeof err) == 0, "--student: %s", err);
    char role[64];
    CHECK(
        mllm_file_attr_str(bc->student, "role", role, sizeof role) != 0 || strcmp(role, "teacher"),
        "--student=%s is a teacher file (role \"teacher\"), not a student base model", bc->student);
    double vf = mllm_file_attr_f64(bc->student, "val_fraction"),
           pf = mllm_file_attr_f64(bc->student, "public_fraction");
    CHECK(vf == bc->val_fraction && pf == bc->public_fraction,
          "--student=%s records val_fraction=%g public_fraction=%g; this build has "
          "--val-fraction=%g --public-fraction=%g (the teacher must train on the student's "
          "public rows)",
          bc->student, vf, pf, bc->val_fraction, bc->public_fraction);
    CHECK(sha256_file_hex(bc->student, sha) == 0, "--student=%s: cannot be read to hash it",
          bc->student);
}

// Every line of text as its own document: <bos> tokens ...; into a growing int array.
static int *encode_docs(const Bpe *b, const char *text, int64_t *n_out) {
    size_t len = strlen(text);
    int64_t cap = (int64_t)len / 2 + 16, n = 0;
    int *ids = xmalloc((size_t)cap * sizeof(int));
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t l = end ? (size_t)(end - line) : strlen(line);
        int k = bpe_encode_n(b, line, l, BPE_SPECIALS_AS_BYTES, NULL, 0);
        if (n + k + 1 > cap) {
            int64_t c2 = 2 * (n + k + 1);
            int *grown = xmalloc((size_t)c2 * sizeof(int));
            memcpy(grown, ids, (size_t)n * sizeof(int));
            xfree(ids), ids = grown, cap = c2;
        }
        ids[n++] = MLLM_TOK_BOS;
        n += bpe_encode_n(b, line, l, BPE_SPECIALS_AS_BYTES, ids + n, (int)(cap - n));
        line += l + (end != NULL);
    }
    *n_out = n;
    return ids;
}

// The task through --model=mllm's own code (every modality present, the plain prompt):
// accuracy, macro-F1, AUC on the test rows, or (validation = 1) on the validation rows the
// stages measure on.
static EvalStats task_eval(const char *base, const char *data, const BaseCfg *bc, int validation) {
    MllmOpened op;
    mllm_open(&op, base, data, bc->data_unverified ? DATASET_UNVERIFIED : 0, 0, 0.0);
    Dataset *ds = op.ds; // the parts, owned as before: model_free(&m) and dataset_close(ds)
    SampleLayout sl = op.sl;
    Model m = op.m;
    float *params = xcalloc_aligned(m.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, (uint64_t)bc->seed, 0, 0, RNG_INIT);
    model_init_params(&m, params, &rng); // fresh adapters: B = 0, the base model exactly
    int64_t *rows,
        n = holdout_rows(ds, validation ? HOLDOUT_VALIDATION : HOLDOUT_TEST,
                         (HoldoutFractions){bc->val_fraction, validation ? bc->public_fraction : 0},
                         bc->eval_rows, &rows);
    uint8_t *all = xmalloc((size_t)n + 1);
    memset(all, (1u << sl.n_mod) - 1, (size_t)n);
    SampleSet s;
    sampleset_load(&s, &sl, ds, validation ? DS_TRAIN : DS_TEST, rows, all, n);
    TrainScratch ts;
    train_scratch_init(&ts, &m, &sl, 16);
    EvalStats e;
    evaluate_model(&m, params, &s, &sl, NULL, &ts, &e);
    train_scratch_free(&ts, &m);
    sampleset_free(&s);
    xfree(all), xfree(rows), xfree(params);
    model_free(&m);
    dataset_close(ds);
    return e;
}

// The student's zero-shot figures into the file at tmp: the 10-way item question on test rows
// (and the memes question with --memes).
static void zero_shot_figures(const char *tmp, const BaseCfg *bc, const Dataset *ds) {
    EvalStats zs = task_eval(tmp, bc->data, bc, 0);
    double zs_acc = zs.n ? (double)zs.correct / (double)zs.n : NAN;
    log_info("zero-shot items (%lld test rows): accuracy %.3f (chance %.3f), macro-F1 %.3f",
             (long long)zs.n, zs_acc, 1.0 / dataset_n_classes(ds), zs.macro_f1);
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    H5_CHECK(f);
    h5_attr_f64(f, "zeroshot_items_acc", zs_acc);
    h5_attr_f64(f, "zeroshot_items_macro_f1", zs.macro_f1);
    if (bc->memes[0]) {
        EvalStats zm = task_eval(tmp, bc->memes, bc, 0);
        log_info("zero-shot memes (%lld test rows): accuracy %.3f, AUC %.3f, hard-label AUC %.3f",
                 (long long)zm.n, zm.n ? (double)zm.correct / (double)zm.n : NAN, zm.auc,
                 zm.auc_hard);
        h5_attr_f64(f, "zeroshot_memes_acc", zm.n ? (double)zm.correct / (double)zm.n : NAN);
        h5_attr_f64(f, "zeroshot_memes_auc", zm.auc);
    }
    H5_CHECK(H5Fclose(f));
}

// The teacher's figures on the task it was tuned on (so not zero-shot): the 10-way item question
// on the validation rows (items_val_acc) and on test rows (items_test_acc), every modality
// present, the plain prompt, the option letters' logits as --model=mllm scores them.
static void teacher_task_figures(const char *tmp, const BaseCfg *bc) {
    EvalStats ev = task_eval(tmp, bc->data, bc, 1), et = task_eval(tmp, bc->data, bc, 0);
    double va = ev.n ? (double)ev.correct / (double)ev.n : NAN;
    double ta = et.n ? (double)et.correct / (double)et.n : NAN;
    log_info("teacher items: validation accuracy %.3f (%lld rows), test accuracy %.3f (%lld rows), "
             "test macro-F1 %.3f",
             va, (long long)ev.n, ta, (long long)et.n, et.macro_f1);
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    H5_CHECK(f);
    h5_attr_f64(f, "items_val_acc", va);
    h5_attr_f64(f, "items_val_macro_f1", ev.macro_f1);
    h5_attr_f64(f, "items_test_acc", ta);
    h5_attr_f64(f, "items_test_macro_f1", et.macro_f1);
    H5_CHECK(H5Fclose(f));
}

static void write_curve(hid_t f, const char *stage, const Curve *c) {
    mllm_file_write_curve(f, stage, "step", c->step, c->n);
    mllm_file_write_curve(f, stage, "loss", c->value, c->n);
}

static int run(const BaseCfg *bc) {
    char err[1024];
    double t_all = timer_now_ms();
    const int teacher = is_teacher(bc);
    SizePreset sp;
    MllmConfig sc;                             // the student's (teacher sizes)
    char student_sha[SHA256_HEX_LEN + 1] = ""; // its digest, taken before reading it
    if (teacher) {
        CHECK(bc->student[0], "--size=%s needs --student=<the student base-model file>", bc->size);
        CHECK(!bc->vocab, "--vocab=%d: a teacher keeps its student's tokenizer", bc->vocab);
        CHECK(!bc->steps[1], "--steps.encoders=%d: a teacher copies its student's encoders",
              bc->steps[1]);
        CHECK(!bc->memes[0], "--memes=%s: a teacher is measured on --data's item question only",
              bc->memes);
        read_student(bc, &sc, student_sha);
        teacher_preset(&sp, &sc, !strcmp(bc->size, "tiny-teacher"));
    } else {
        CHECK(!bc->student[0], "--student=%s is for the teacher sizes, not --size=%s", bc->student,
              bc->size);
        size_preset(&sp, !strcmp(bc->size, "tiny"));
    }
    for (int s = 0; s < 4; s++)
        if (bc->steps[s]) sp.st[s].steps = bc->steps[s];
    Dataset *ds =
        dataset_open_flags(bc->data, bc->data_unverified ? DATASET_UNVERIFIED : 0, err, sizeof err);
    CHECK(ds, "%s", err);
    if (teacher) { // the same rows as the student's: the same data file
        char ssha[SHA256_HEX_LEN + 1];
        CHECK(mllm_file_attr_str(bc->student, "data_sha256", ssha, sizeof ssha) == 0 &&
                  !strcmp(ssha, dataset_sha256(ds)),
              "--student=%s was built from data with SHA-256 %s, --data=%s has %s", bc->student,
              mllm_file_attr_str(bc->student, "data_sha256", ssha, sizeof ssha) ? "(none)" : ssha,
              bc->data, dataset_sha256(ds));
    }
    SampleLayout sl;
    samples_layout(&sl, ds);
    // the text: WordNet glosses and the prompt templates
    CorpusOpts co;
    corpus_opts_default(&co);
    char *gloss;
    size_t gloss_len;
    CHECK(corpus_build(&co, &gloss, &gloss_len, err, sizeof err) == 0, "%s", err);
    char corpus_sha[SHA256_HEX_LEN + 1];
    corpus_sha256_hex(gloss, gloss_len, corpus_sha);
    PromptClasses pc;
    prompt_classes_fashion(&pc);
    pc.words = dataset_vocab_words(ds), pc.n_words = dataset_vocab_size(ds);
    FactsSource fsrc;
    facts_source_init(&fsrc, ds);
    size_t pcap = 1 << 20;
    char *prompts = xmalloc(pcap);
    const char *const *classes = dataset_class_names(ds);
    CHECK(prompt_corpus(prompts, pcap, &pc, &fsrc, classes, dataset_n_classes(ds), 0, 8,
                        (uint64_t)bc->seed) >= 0,
          "the prompt corpus exceeds %zu bytes", pcap);
    // The prompt templates weigh PROMPT_WEIGHT times their size in the merge counts: every sample
    // the models read is spelled with them, so they must compress well (a 10-way question with its
    // options then takes about half the tokens it would with the glosses' merges alone).
    const char *texts[1 + PROMPT_WEIGHT];
    texts[0] = gloss;
    for (int i = 1; i <= PROMPT_WEIGHT; i++)
        texts[i] = prompts;
    static const char *const specials[] = MLLM_SPECIALS;
    Bpe bpe = {0};
    double t0 = timer_now_ms();
    if (teacher) {
        CHECK(mllm_file_read_tokenizer(bc->student, &bpe, err, sizeof err) == 0, "--student: %s",
              err);
        CHECK(bpe.vocab_size == sc.lm.V, "--student=%s: a tokenizer of %d tokens, lm.V=%d",
              bc->student, bpe.vocab_size, sc.lm.V);
    } else {
        bpe_train(&bpe, texts, 1 + PROMPT_WEIGHT, bc->vocab ? bc->vocab : sp.vocab, specials,
                  MLLM_N_SPECIALS);
    }
    log_info("tokenizer: %d tokens (%.1f s)", bpe.vocab_size, (timer_now_ms() - t0) / 1e3);
    sp.c.lm.V = bpe.vocab_size;
    // the model
    Mllm mm;
    mllm_init(&mm, &sp.c);
    Model layout;
    memset(&layout, 0, sizeof layout);
    mllm_add_tensors(&mm, &layout, 1);
    layout.n_params = mm.n_params;
    float *params = xcalloc_aligned(mm.n_params * sizeof(float));
    Rng rng;
    rng_init(&rng, (uint64_t)bc->seed, 0, 0, RNG_INIT);
    mllm_init_params(&mm, params, &rng);
    MllmVocab voc;
    CHECK(mllm_vocab_init(&voc, &bpe, &mm, err, sizeof err) == 0, "%s", err);
    log_info("model: %zu parameters (LM %zu)", mm.n_params, mm.lm.n_params);
    StageEnv env = {.mm = &mm,
                    .layout = &layout,
                    .voc = &voc,
                    .sl = &sl,
                    .pc = &pc,
                    .text_mod = fsrc.text_mod,
                    .seed = (uint64_t)bc->seed,
                    .task_classes = classes,
                    .task_K = dataset_n_classes(ds)};
    for (int m = 0; m < sl.n_mod && m < FACTS_MAX_MOD; m++)
        env.mod_name[m] = dataset_modality(ds, m)->name;
    for (int e = 0; e < mm.c.n_enc; e++) {
        env.mod_of_enc[e] = -1;
        for (int m = 0; m < sl.n_mod; m++)
            if (!strcmp(dataset_modality(ds, m)->name, mm.c.enc[e].name)) env.mod_of_enc[e] = m;
        CHECK(env.mod_of_enc[e] >= 0, "%s has no '%s' modality", bc->data, mm.c.enc[e].name);
    }
    // rows: public (train) and validation
    HoldoutFractions hf = {bc->val_fraction, bc->public_fraction};
    int64_t *idx, n = holdout_rows(ds, HOLDOUT_PUBLIC, hf, 0, &idx);
    StageRows pub, val;
    stage_rows_load(&pub, ds, &sl, DS_TRAIN, idx, n);
    xfree(idx);
    n = holdout_rows(ds, HOLDOUT_VALIDATION, hf, bc->eval_rows, &idx);
    stage_rows_load(&val, ds, &sl, DS_TRAIN, idx, n);
    xfree(idx);
    log_info("rows: %lld public, %lld validation", (long long)pub.n, (long long)val.n);
    // the file, under a temporary name until it is complete
    char tmp[OPT_STR_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", bc->out);
    hid_t f = mllm_file_create(tmp, &mm.c);
    mllm_file_write_tokenizer(f, &voc.bpe);
    Curve curve[4] = {0};
    double secs[4], fig[4];
    // stage 1
    t0 = timer_now_ms();
    // The stream: the prompt templates PROMPT_WEIGHT times (so the tokens the tokenizer merged for
    // them are trained here, not left at their initial embeddings), then the glosses, whose last
    // 2 % is held out.
    int64_t n_tok, n_p, n_g;
    int *pt = encode_docs(&voc.bpe, prompts, &n_p), *gt = encode_docs(&voc.bpe, gloss, &n_g);
    n_tok = n_p * PROMPT_WEIGHT + n_g;
    int *tok = xmalloc((size_t)n_tok * sizeof(int));
    for (int i = 0; i < PROMPT_WEIGHT; i++)
        memcpy(tok + (size_t)i * n_p, pt, (size_t)n_p * sizeof(int));
    memcpy(tok + (size_t)PROMPT_WEIGHT * n_p, gt, (size_t)n_g * sizeof(int));
    xfree(pt), xfree(gt);
    int64_t n_val = n_g / 50;
    double ppl;
    stage_text(&env, params, tok, n_tok - n_val, sp.text_T, tok + (n_tok - n_val), n_val, &sp.st[0],
               &curve[0], &ppl);
    fig[0] = ppl, secs[0] = (timer_now_ms() - t0) / 1e3;
    log_info("stage 1 (text): %lld tokens, held-out perplexity %.2f (%.0f s)", (long long)n_tok,
             ppl, secs[0]);
    xfree(tok);
    mllm_file_write_stage(f, "lm", &layout, params, "lm/");
    // stage 2
    t0 = timer_now_ms();
    double enc_acc[MLLM_MAX_ENC] = {NAN, NAN, NAN};
    if (teacher) { // the student's, bit-exact; no stage below selects them
        CHECK(mllm_file_read_stage(bc->student, "encoders", &layout, params, 0, err, sizeof err) ==
                  0,
              "--student: %s", err);
        enc_acc[0] = mllm_file_attr_f64(bc->student, "image_encoder_val_acc");
        enc_acc[1] = mllm_file_attr_f64(bc->student, "audio_encoder_val_acc");
        log_info("stage 2: the encoders of %s, copied", bc->student);
    }
    for (int e = 0; e < mm.c.n_enc && !teacher; e++) {
        enc_acc[e] = stage_encoder(&env, params, e, &pub, &val, &sp.st[1], &curve[1]);
        log_info("stage 2 (encoder %s): validation accuracy %.3f", mm.c.enc[e].name, enc_acc[e]);
    }
    fig[1] = enc_acc[0], secs[1] = (timer_now_ms() - t0) / 1e3;
    mllm_file_write_stage(f, "encoders", &layout, params, "enc_");
    // stage 3
    t0 = timer_now_ms();
    fig[2] = stage_align(&env, params, &pub, &val, &sp.st[2], &curve[2]);
    secs[2] = (timer_now_ms() - t0) / 1e3;
    log_info("stage 3 (alignment): validation caption perplexity %.2f (%.0f s)", fig[2], secs[2]);
    mllm_file_write_stage(f, "aligned", &layout, params, "proj_");
    // stage 4
    t0 = timer_now_ms();
    TeacherTuneFigures tf = {NAN, NAN, NAN};
    if (teacher) {
        stage_teacher_tune(&env, params, &pub, &val, &sp.st[3], &curve[3], &tf);
        fig[3] = tf.instruct_acc;
        log_info("stage 4' (tune): validation items %.3f, caption perplexity %.2f, instructions "
                 "%.3f (%.0f s)",
                 tf.items_acc, tf.caption_ppl, tf.instruct_acc, (timer_now_ms() - t0) / 1e3);
    } else {
        fig[3] = stage_instruct(&env, params, &pub, &val, &sp.st[3], &curve[3]);
    }
    secs[3] = (timer_now_ms() - t0) / 1e3;
    if (!teacher)
        log_info("stage 4 (instructions): validation answer accuracy %.3f (%.0f s)", fig[3],
                 secs[3]);
    mllm_file_write_stage(f, "final", &layout, params, "");
    static const char *const student_stages[4] = {"text", "encoders", "align", "instruct"};
    static const char *const teacher_stages[4] = {"text", "encoders", "align", "tune"};
    const char *const *stage_name = teacher ? teacher_stages : student_stages;
    for (int s = 0; s < 4; s++)
        write_curve(f, stage_name[s], &curve[s]);
    // provenance
    h5_attr_str(f, "data", bc->data);
    h5_attr_str(f, "data_sha256", dataset_sha256(ds)); // the integrity gate's: hashed once
    h5_attr_str(f, "corpus", "WordNet 3.0 glosses (Debian wordnet-base), WordNet 3.0 licence");
    h5_attr_str(f, "corpus_sha256", corpus_sha);
    h5_attr_str(f, "git_commit", mmc_git_commit);
    h5_attr_i64(f, "git_dirty", mmc_git_dirty);
    h5_attr_str(f, "size", bc->size);
    h5_attr_i64(f, "seed", bc->seed);
    h5_attr_f64(f, "val_fraction", bc->val_fraction);
    h5_attr_f64(f, "public_fraction", bc->public_fraction);
    h5_attr_i64(f, "public_rows", pub.n);
    h5_attr_i64(f, "n_params", (long long)mm.n_params);
    h5_attr_f64(f, "text_val_perplexity", fig[0]);
    h5_attr_f64(f, "image_encoder_val_acc", enc_acc[0]);
    h5_attr_f64(f, "audio_encoder_val_acc", mm.c.n_enc > 1 ? enc_acc[1] : NAN);
    if (teacher) { // caption_val_perplexity: after the tuning, the model that pseudo-labels
        h5_attr_str(f, "role", "teacher");
        h5_attr_str(f, "student", bc->student);
        h5_attr_str(f, "student_sha256", student_sha);
        h5_attr_f64(f, "align_caption_val_perplexity", fig[2]);
        h5_attr_f64(f, "caption_val_perplexity", tf.caption_ppl);
        h5_attr_f64(f, "tune_items_val_acc", tf.items_acc);
    } else {
        h5_attr_f64(f, "caption_val_perplexity", fig[2]);
    }
    h5_attr_f64(f, "instruct_val_acc", fig[3]);
    for (int s = 0; s < 4; s++) {
        char key[64];
        snprintf(key, sizeof key, "seconds_%s", stage_name[s]);
        h5_attr_f64(f, key, secs[s]);
    }
    H5_CHECK(H5Fclose(f));
    // the parties' task, through the code the runs use
    if (teacher)
        teacher_task_figures(tmp, bc);
    else
        zero_shot_figures(tmp, bc, ds);
    f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    H5_CHECK(f);
    h5_attr_f64(f, "seconds_total", (timer_now_ms() - t_all) / 1e3);
    H5_CHECK(H5Fclose(f));
    char why[SEAL_PATH_MAX + 256];
    CHECK(seal_publish(tmp, bc->out, NULL, why, sizeof why) == 0, "publishing %s: %s", bc->out,
          why);
    log_info("wrote %s (%.0f s)", bc->out, (timer_now_ms() - t_all) / 1e3);
    for (int s = 0; s < 4; s++)
        curve_free(&curve[s]);
    stage_rows_free(&pub), stage_rows_free(&val);
    mllm_vocab_free(&voc);
    xfree(params), xfree(gloss), xfree(prompts);
    model_free(&layout);
    dataset_close(ds);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv); // the library's error path (MPI_Abort) expects it; one process
    log_init(0, LOG_INFO);
    BaseCfg bc;
    char err[1024];
    int rc = opts_parse(base_opts, N_OPTS, &bc, argc, argv, err, sizeof err);
    if (rc == OPT_HELP) {
        opts_print_help(base_opts, N_OPTS, stdout,
                        "usage: base_model [options]\n"
                        "Trains the tiny multimodal LLM's base model (tokenizer, text, encoders, "
                        "alignment, instructions) and writes it with its zero-shot figures.");
        MPI_Finalize();
        return 0;
    }
    if (rc != OPT_OK) {
        fprintf(stderr, "base_model: %s\n", err);
        MPI_Finalize();
        return 2;
    }
    blas_set_num_threads(bc.blas_threads);
    rc = run(&bc);
    MPI_Finalize();
    return rc;
}
