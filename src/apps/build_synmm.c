// build_synmm - writes a SynMM dataset file (datasets/README.md#synmm) and prints its build rate.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "data/dataset.h"
#include "data/synmm.h"

static void usage(FILE *f, const SynmmConfig *d) {
    fprintf(f,
            "usage: build_synmm --out FILE [options]\n"
            "Writes a SynMM dataset (synthetic, linear-Gaussian, known structure) in the mmcollab "
            "format.\n"
            "  --out FILE            output path (written as FILE.tmp, renamed when complete)\n"
            "  --train N             train rows (%lld)\n"
            "  --test N              test rows (%lld)\n"
            "  --classes C           classes (%d)\n"
            "  --latent Z            latent size (%d)\n"
            "  --seed S              seed (%llu)\n"
            "  --dims a,b,...        vector modalities m0.. and their widths, at most %d (%d,%d)\n"
            "  --info a,b,...        informativeness per vector modality, in [0,1] (%g,%g)\n"
            "  --noise a,b,...       observation noise std per vector modality (%g,%g)\n"
            "  --text-len L          tokens per sample, 0 = no text modality (%d)\n"
            "  --vocab V             vocabulary size (%d)\n"
            "  --text-info P         probability that a token is a class keyword (%g)\n"
            "  --per-entity K        samples per entity (%d)\n"
            "  --class-sep S         std of the class means (%g)\n"
            "  --entity-spread S     std of an entity around its class mean (%g)\n"
            "  --sample-spread S     std of a sample around its entity (%g)\n"
            "  --domains D           domains (meta column \"domain\") (%d)\n"
            "  --domain-shift S      std of the per-domain feature offsets (%g)\n"
            "  --block B             rows generated per step (4096)\n"
            "  --no-verify           skip re-opening the file with the validating reader\n"
            "  --help                this text\n",
            (long long)d->n[0], (long long)d->n[1], d->n_classes, d->latent,
            (unsigned long long)d->seed, SYNMM_MAX_VEC, d->dims[0], d->dims[1], d->info[0],
            d->info[1], d->noise[0], d->noise[1], d->text_len, d->vocab, d->text_info,
            d->per_entity, d->class_sep, d->entity_spread, d->sample_spread, d->n_domains,
            d->domain_shift);
}

static long long parse_int(const char *opt, const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "build_synmm: %s expects an integer, got \"%s\"\n", opt, s);
        exit(2);
    }
    return v;
}
static float parse_float(const char *opt, const char *s) {
    char *end;
    float v = strtof(s, &end);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "build_synmm: %s expects a number, got \"%s\"\n", opt, s);
        exit(2);
    }
    return v;
}
// Comma list into out (at most SYNMM_MAX_VEC); returns the count.
static int parse_list(const char *opt, const char *s, float *out) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == SYNMM_MAX_VEC) {
            fprintf(stderr, "build_synmm: %s takes at most %d values\n", opt, SYNMM_MAX_VEC);
            exit(2);
        }
        out[n++] = parse_float(opt, tok);
    }
    return n;
}

int main(int argc, char **argv) {
    SynmmConfig c;
    synmm_default(&c);
    const char *out = NULL;
    long long block = 4096;
    int verify = 1;
    static const struct option opts[] = {{"out", 1, 0, 'o'},           {"train", 1, 0, 't'},
                                         {"test", 1, 0, 'T'},          {"classes", 1, 0, 'c'},
                                         {"latent", 1, 0, 'z'},        {"seed", 1, 0, 's'},
                                         {"dims", 1, 0, 'd'},          {"info", 1, 0, 'i'},
                                         {"noise", 1, 0, 'n'},         {"text-len", 1, 0, 'L'},
                                         {"vocab", 1, 0, 'V'},         {"text-info", 1, 0, 'P'},
                                         {"per-entity", 1, 0, 'k'},    {"class-sep", 1, 0, 'S'},
                                         {"entity-spread", 1, 0, 'E'}, {"sample-spread", 1, 0, 'A'},
                                         {"domains", 1, 0, 'D'},       {"domain-shift", 1, 0, 'H'},
                                         {"block", 1, 0, 'b'},         {"no-verify", 0, 0, 'N'},
                                         {"help", 0, 0, 'h'},          {0, 0, 0, 0}};
    int ch, n_info = -1, n_noise = -1;
    float tmp[SYNMM_MAX_VEC];
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *o = argc > optind - 1 ? argv[optind - 1] : "";
        switch (ch) {
        case 'o':
            out = optarg;
            break;
        case 't':
            c.n[0] = parse_int(o, optarg);
            break;
        case 'T':
            c.n[1] = parse_int(o, optarg);
            break;
        case 'c':
            c.n_classes = (int)parse_int(o, optarg);
            break;
        case 'z':
            c.latent = (int)parse_int(o, optarg);
            break;
        case 's':
            c.seed = (uint64_t)parse_int(o, optarg);
            break;
        case 'd':
            c.n_vec = parse_list(o, optarg, tmp);
            for (int m = 0; m < c.n_vec; m++)
                c.dims[m] = (int)tmp[m];
            break;
        case 'i':
            n_info = parse_list(o, optarg, c.info);
            break;
        case 'n':
            n_noise = parse_list(o, optarg, c.noise);
            break;
        case 'L':
            c.text_len = (int)parse_int(o, optarg);
            break;
        case 'V':
            c.vocab = (int)parse_int(o, optarg);
            break;
        case 'P':
            c.text_info = parse_float(o, optarg);
            break;
        case 'k':
            c.per_entity = (int)parse_int(o, optarg);
            break;
        case 'S':
            c.class_sep = parse_float(o, optarg);
            break;
        case 'E':
            c.entity_spread = parse_float(o, optarg);
            break;
        case 'A':
            c.sample_spread = parse_float(o, optarg);
            break;
        case 'D':
            c.n_domains = (int)parse_int(o, optarg);
            break;
        case 'H':
            c.domain_shift = parse_float(o, optarg);
            break;
        case 'b':
            block = parse_int(o, optarg);
            break;
        case 'N':
            verify = 0;
            break;
        case 'h':
            usage(stdout, &c);
            return 0;
        default:
            usage(stderr, &c);
            return 2;
        }
    }
    if (!out || optind != argc) {
        usage(stderr, &c);
        fprintf(stderr, "build_synmm: %s\n", out ? "unexpected argument" : "--out is required");
        return 2;
    }
    if ((n_info >= 0 && n_info != c.n_vec) || (n_noise >= 0 && n_noise != c.n_vec)) {
        fprintf(stderr, "build_synmm: --info and --noise need one value per --dims entry (%d)\n",
                c.n_vec);
        return 2;
    }
    Synmm *g = synmm_create(&c);
    double sec = synmm_write(g, out, block);
    long long total = (long long)(c.n[0] + c.n[1]);
    printf("build_synmm: wrote %s: %lld train + %lld test rows, %d classes, %d vector "
           "modalities%s, in %.2f s "
           "(%.2f M samples/min)\n",
           out, (long long)c.n[0], (long long)c.n[1], c.n_classes, c.n_vec,
           c.text_len ? " + text" : "", sec, sec > 0 ? total / sec * 60.0 / 1e6 : 0.0);
    synmm_free(g);
    if (verify) {
        char err[512];
        Dataset *ds = dataset_open(out, err, sizeof err);
        CHECK(ds != NULL, "the file just written does not validate: %s", err);
        dataset_close(ds);
        printf("build_synmm: %s validates\n", out);
    }
    return 0;
}
