// build_avfmnist.c - builds AV-FashionMNIST (datasets/README.md, "AV-FashionMNIST"): real
// Fashion-MNIST images, each paired BY CLASS with synthetic speech of a class word (espeak-ng, as
// 98x40 log-mel) and a short noisy text. Every rank builds a block-aligned range of each split,
// rank 0 gathers and writes through dsfile.h; the bytes do not depend on the number of ranks.
//
//   mpirun -np 2 build/bin/build_avfmnist --out=data/avfmnist.h5
//   build/bin/build_avfmnist --subset=2000 --test-subset=500 --out=data/avfmnist_ci.h5
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "core/die.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "data/avfm.h"
#include "data/dsfile.h"
#include "data/idx.h"
#include "data/lexicon.h"
#include "data/speech.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_VERSION "dataset-fashion-mnist 0.0~git20200523.55506a9-1 (Debian 12)"
#define IMG 28

typedef struct {
    const char *out, *fmnist_dir;
    int64_t subset, test_subset; // -1 = all
    AvfmOpts avfm;
} Options;

static const char *usage =
    "usage: build_avfmnist [options]   (run under mpirun -np P to build in parallel)\n"
    "  --out=PATH            output file (default data/avfmnist.h5)\n"
    "  --subset=N            first N training images only (default: all 60000)\n"
    "  --test-subset=N       first N test images only (default: all 10000)\n"
    "  --seed=S              seed of every per-sample stream (default 1)\n"
    "  --words=MODE          spoken word: name (class name, default) | synonym (random WordNet\n"
    "                        synonym) | coarse (coarse group word only: top/clothing/shoe/bag)\n"
    "  --audio=u8|f32        log-mel stored as uint8 with scale/offset (default) or float32\n"
    "  --snr=LO:HI           per-sample SNR in dB, uniform (default -10:5)\n"
    "  --p-clean=P           probability that a sample gets no noise (default 0)\n"
    "  --fmnist-dir=DIR      Fashion-MNIST IDX files (default " FMNIST_DIR ")\n"
    "  --help\n";

static int64_t parse_count(const char *arg, const char *v) {
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*v == 0 || *end != 0 || n < 1) {
        fprintf(stderr, "build_avfmnist: %s needs a positive integer, got \"%s\"\n%s", arg, v, usage);
        exit(2);
    }
    return n;
}

// Tier 3: a bad option prints the usage and exits 2; this happens before MPI_Init.
static void parse(Options *o, int argc, char **argv) {
    o->out = "data/avfmnist.h5";
    o->fmnist_dir = FMNIST_DIR;
    o->subset = o->test_subset = -1;
    avfm_opts_default(&o->avfm, 1);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        const char *v = eq ? eq + 1 : "";
        size_t k = eq ? (size_t)(eq - a) : strlen(a);
#define IS(name) (k == strlen(name) && !strncmp(a, name, k))
        if (IS("--help") || IS("-h")) {
            fputs(usage, stdout);
            exit(0);
        } else if (IS("--out") && *v) o->out = v;
        else if (IS("--fmnist-dir") && *v) o->fmnist_dir = v;
        else if (IS("--subset")) o->subset = parse_count(a, v);
        else if (IS("--test-subset")) o->test_subset = parse_count(a, v);
        else if (IS("--seed") && *v) o->avfm.seed = strtoull(v, NULL, 10);
        else if (IS("--words") && !strcmp(v, "name")) o->avfm.words = AVFM_WORDS_NAME;
        else if (IS("--words") && !strcmp(v, "synonym")) o->avfm.words = AVFM_WORDS_SYNONYM;
        else if (IS("--words") && !strcmp(v, "coarse")) o->avfm.words = AVFM_WORDS_COARSE;
        else if (IS("--audio") && !strcmp(v, "u8")) o->avfm.audio_f32 = 0;
        else if (IS("--audio") && !strcmp(v, "f32")) o->avfm.audio_f32 = 1;
        else if (IS("--snr") && sscanf(v, "%f:%f", &o->avfm.snr_db_lo, &o->avfm.snr_db_hi) == 2 &&
                 o->avfm.snr_db_lo <= o->avfm.snr_db_hi) {
        } else if (IS("--p-clean") && sscanf(v, "%f", &o->avfm.p_clean) == 1 &&
                   o->avfm.p_clean >= 0 && o->avfm.p_clean <= 1) {
        } else {
            fprintf(stderr, "build_avfmnist: bad option \"%s\"\n%s", a, usage);
            exit(2);
        }
#undef IS
    }
}

typedef struct {
    IdxArray images, labels; // images only on rank 0
    int64_t n;
    int64_t lo, hi; // this rank's range
    uint8_t *audio; // (hi - lo, frames, mels) of u8 or f32 bytes; on rank 0 (n, ...)
    int32_t *text, *meta;
} SplitData;

// Block-aligned share of rank in [0, n): blocks divided as evenly as possible, in rank order.
static void rank_range(int64_t n, int rank, int size, int64_t *lo, int64_t *hi) {
    int64_t nb = (n + AVFM_BLOCK - 1) / AVFM_BLOCK;
    *lo = MIN(n, nb * rank / size * AVFM_BLOCK);
    *hi = MIN(n, nb * (rank + 1) / size * AVFM_BLOCK);
}

// Gathers rows [lo, hi) of every rank into buf on rank 0 (buf already holds rank 0's rows at 0).
static void gather_rows(void *buf, size_t row_bytes, int rank, int size, int64_t n) {
    int *counts = xmalloc(sizeof(int) * (size_t)size), *displs = xmalloc(sizeof(int) * (size_t)size);
    for (int r = 0; r < size; r++) {
        int64_t a, b;
        rank_range(n, r, size, &a, &b);
        CHECK_INT_COUNT((size_t)b * row_bytes);
        counts[r] = (int)((size_t)(b - a) * row_bytes);
        displs[r] = (int)((size_t)a * row_bytes);
    }
    const void *send = rank == 0 ? MPI_IN_PLACE : buf;
    MPI_CHECK(MPI_Gatherv(send, counts[rank], MPI_BYTE, buf, counts, displs, MPI_BYTE, 0,
                          MPI_COMM_WORLD));
    xfree(counts);
    xfree(displs);
}

int main(int argc, char **argv) {
    Options opt;
    parse(&opt, argc, argv);
    Speech *speech = speech_start(); // forks the helper: must precede MPI_Init
    MPI_CHECK(MPI_Init(&argc, &argv));
    int rank, size;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    log_init(rank, LOG_INFO);
    double t0 = timer_now_ms();

    static const char *const files[2][2] = {
        {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
        {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}};
    SplitData sd[2];
    memset(sd, 0, sizeof(sd));
    Avfm gen;
    avfm_init(&gen, &opt.avfm, speech);
    const size_t feat = AVFM_FRAMES * AVFM_MELS, abytes = opt.avfm.audio_f32 ? 4 : 1;
    for (int s = 0; s < 2; s++) {
        char path[1024];
        int64_t want = s == 0 ? opt.subset : opt.test_subset;
        snprintf(path, sizeof(path), "%s/%s", opt.fmnist_dir, files[s][1]);
        idx_read_first(&sd[s].labels, path, want);
        sd[s].n = sd[s].labels.dims[0];
        CHECK(want < 0 || sd[s].n == want, "%s: asked for %lld samples, the file has %lld", path,
              (long long)want, (long long)sd[s].n);
        if (rank == 0) {
            snprintf(path, sizeof(path), "%s/%s", opt.fmnist_dir, files[s][0]);
            idx_read_first(&sd[s].images, path, want);
            CHECK(sd[s].images.ndim == 3 && sd[s].images.dims[0] == sd[s].n &&
                      sd[s].images.dims[1] == IMG && sd[s].images.dims[2] == IMG,
                  "%s: shape %lld x %lld x %lld, expected %lld x 28 x 28", path,
                  (long long)sd[s].images.dims[0], (long long)sd[s].images.dims[1],
                  (long long)sd[s].images.dims[2], (long long)sd[s].n);
        }
        rank_range(sd[s].n, rank, size, &sd[s].lo, &sd[s].hi);
        int64_t rows = rank == 0 ? sd[s].n : sd[s].hi - sd[s].lo;
        sd[s].audio = xmalloc((size_t)rows * feat * abytes + 1);
        sd[s].text = xmalloc(sizeof(int32_t) * ((size_t)rows * AVFM_TEXT_LEN + 1));
        sd[s].meta = xmalloc(sizeof(int32_t) * ((size_t)rows * AVFM_N_META + 1));
        int64_t m = sd[s].hi - sd[s].lo;
        if (m > 0)
            avfm_generate(&gen, s, sd[s].lo, m, sd[s].n, sd[s].labels.data + sd[s].lo, sd[s].audio,
                          sd[s].text, sd[s].meta);
    }
    double t_gen = timer_now_ms() - t0;
    double t_gen_max;
    MPI_CHECK(MPI_Reduce(&t_gen, &t_gen_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD));
    for (int s = 0; s < 2; s++) {
        gather_rows(sd[s].audio, feat * abytes, rank, size, sd[s].n);
        gather_rows(sd[s].text, sizeof(int32_t) * AVFM_TEXT_LEN, rank, size,
                    sd[s].n);
        gather_rows(sd[s].meta, sizeof(int32_t) * AVFM_N_META, rank, size,
                    sd[s].n);
    }

    if (rank == 0) {
        const char *class_names[LEX_CLASSES];
        for (int c = 0; c < LEX_CLASSES; c++) class_names[c] = lexicon_class_name(c);
        const char *vocab[TEXT_MAX_VOCAB];
        for (int v = 0; v < gen.vocab.size; v++) vocab[v] = gen.vocab.words[v];
        DsSpec spec = {
            .name = "avfmnist",
            .version = "1",
            .source = FMNIST_VERSION "; speech: libespeak-ng 1.51 (espeak-ng-data "
                      "1.51+dfsg-10+deb12u2); synonyms: WordNet 3.0 (curated)",
            .licence = "images Expat (MIT) (c) 2017 Zalando SE; generated speech/text: program "
                       "output (espeak-ng GPL-3+ not applicable to output); WordNet 3.0 licence",
            .builder = "build_avfmnist",
            .seed = opt.avfm.seed,
            .n_classes = LEX_CLASSES,
            .class_names = class_names,
            .n_modalities = 3,
            .modalities = {
                {.name = "image", .kind = "image", .dtype = DS_U8, .ndims = 2, .dims = {IMG, IMG}},
                {.name = "audio", .kind = "audio", .dtype = opt.avfm.audio_f32 ? DS_F32 : DS_U8,
                 .ndims = 2, .dims = {AVFM_FRAMES, AVFM_MELS},
                 .scale = opt.avfm.audio_f32 ? 0 : AVFM_Q_SCALE,
                 .offset = opt.avfm.audio_f32 ? 0 : AVFM_Q_OFFSET},
                {.name = "text", .kind = "text", .dtype = DS_I32, .ndims = 1,
                 .dims = {AVFM_TEXT_LEN}}},
            .vocab_size = gen.vocab.size,
            .vocab = vocab,
            .n_meta = AVFM_N_META,
            .meta_names = avfm_meta_names(),
            .n = {sd[0].n, sd[1].n}};
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s", opt.out);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            mkdir(dir, 0755); // data/ by default; an existing directory is fine
        }
        DsWriter *w = dsfile_create(opt.out, &spec);
        for (int s = 0; s < 2; s++) {
            int64_t n = sd[s].n;
            int32_t *label = xmalloc(sizeof(int32_t) * (size_t)(n + 1));
            int64_t *entity = xmalloc(sizeof(int64_t) * (size_t)(n + 1));
            // Entity = the Fashion-MNIST image (train i -> i, test i -> 60000 + i): the audio and
            // text are paired with it by class only, not as views of the same object.
            for (int64_t i = 0; i < n; i++) {
                label[i] = sd[s].labels.data[i];
                entity[i] = (s == 0 ? 0 : 60000) + i;
            }
            DsRows rows = {.n = n,
                           .label = label,
                           .entity = entity,
                           .meta = sd[s].meta,
                           .data = {sd[s].images.data, sd[s].audio, sd[s].text}};
            dsfile_append(w, s == 0 ? DS_TRAIN : DS_TEST, &rows);
            xfree(label);
            xfree(entity);
        }
        dsfile_close(w);
        struct stat st;
        CHECK(stat(opt.out, &st) == 0, "cannot stat %s after writing it", opt.out);
        double t_all = timer_now_ms() - t0;
        log_info("avfmnist: %lld train + %lld test samples, %d ranks, words=%s, audio=%s",
                 (long long)sd[0].n, (long long)sd[1].n, size,
                 opt.avfm.words == AVFM_WORDS_NAME ? "name"
                 : opt.avfm.words == AVFM_WORDS_SYNONYM ? "synonym" : "coarse",
                 opt.avfm.audio_f32 ? "f32" : "u8");
        log_info("wrote %s: %.1f MB in %.1f s (generation %.1f s on the slowest rank, gather + "
                 "write %.1f s)",
                 opt.out, st.st_size / 1e6, t_all / 1e3, t_gen_max / 1e3, (t_all - t_gen_max) / 1e3);
    }
    for (int s = 0; s < 2; s++) {
        idx_free(&sd[s].images);
        idx_free(&sd[s].labels);
        xfree(sd[s].audio);
        xfree(sd[s].text);
        xfree(sd[s].meta);
    }
    avfm_free(&gen);
    speech_stop(speech);
    MPI_CHECK(MPI_Finalize());
    return 0;
}
