// synmm.c - the SynMM generator (generative story in synmm.h).
#include "data/synmm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"

// Stream rounds (the counter's round word); samples use round = split, party = index.
#define ROUND_CLASS 0xFFFF0000u
#define ROUND_PROJ 0xFFFF0001u
#define ROUND_DOMAIN 0xFFFF0002u
#define ROUND_ENTITY 0xFFFF0010u // + split

struct Synmm {
    SynmmConfig c;
    float *mu;                   // C x Z class means
    float *w[SYNMM_MAX_VEC];     // d_m x Z projections
    float *shift[SYNMM_MAX_VEC]; // D x d_m domain offsets
    int kw;                      // keywords per class: tokens [c * kw, (c + 1) * kw)
    int64_t train_entities;      // test entity ids start here
    DsSpec spec;
    char **class_names, **vocab, *names[SYNMM_MAX_VEC];
};

static const char *const meta_cols[1] = {"domain"};

// n standard normals: Box-Muller in float using both halves of each pair (rng_normal keeps only
// one, and the normals are most of SynMM's cost). u1 in (0, 1] so that the log is finite.
static void normals(Rng *r, float *x, int n) {
    for (int i = 0; i < n; i += 2) {
        float u1 = (float)((rng_u32(r) >> 8) + 1) * (1.0f / 16777216.0f);
        float u2 = (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f);
        float rad = sqrtf(-2.0f * logf(u1)), th = 6.28318530717958647692f * u2;
        x[i] = rad * cosf(th);
        if (i + 1 < n) x[i + 1] = rad * sinf(th);
    }
}

void synmm_default(SynmmConfig *c) {
    CHECK_PTR(c);
    *c = (SynmmConfig){.seed = 1,
                       .n = {10000, 2000},
                       .n_classes = 10,
                       .latent = 16,
                       .n_vec = 2,
                       .dims = {32, 64, 16},
                       .info = {0.8f, 0.6f, 0.5f},
                       .noise = {1.0f, 1.0f, 1.0f},
                       .text_len = 8,
                       .vocab = 64,
                       .text_info = 0.2f,
                       .per_entity = 4,
                       .class_sep = 0.5f,
                       .entity_spread = 0.5f,
                       .sample_spread = 0.3f,
                       .n_domains = 1,
                       .domain_shift = 0.0f};
}

static char *fmt_str(const char *fmt, int a, int b) {
    char buf[32];
    // cppcheck-suppress wrongPrintfScanfArgNum ; fmt is "c%d" or "c%dk%d"
    snprintf(buf, sizeof buf, fmt, a, b);
    return xstrdup(buf);
}

Synmm *synmm_create(const SynmmConfig *cfg) {
    CHECK_PTR(cfg);
    const SynmmConfig *c = cfg;
    CHECK(c->n_classes >= 2, "synmm: classes = %d, need >= 2", c->n_classes);
    CHECK(c->latent >= 1 && c->latent <= 4096, "synmm: latent = %d, need 1..4096", c->latent);
    CHECK(c->n_vec >= 0 && c->n_vec <= SYNMM_MAX_VEC, "synmm: n_vec = %d, need 0..%d", c->n_vec,
          SYNMM_MAX_VEC);
    CHECK(c->n_vec + (c->text_len > 0) >= 1, "synmm: no modality (n_vec 0 and text_len 0)");
    for (int m = 0; m < c->n_vec; m++) {
        CHECK(c->dims[m] >= 1, "synmm: dims[%d] = %d", m, c->dims[m]);
        CHECK(c->info[m] >= 0 && c->info[m] <= 1, "synmm: info[%d] = %g outside [0, 1]", m,
              c->info[m]);
        CHECK(c->noise[m] >= 0 && isfinite(c->noise[m]), "synmm: noise[%d] = %g", m, c->noise[m]);
    }
    CHECK(c->text_len >= 0, "synmm: text_len = %d", c->text_len);
    CHECK(c->text_len == 0 || c->vocab >= c->n_classes, "synmm: vocab = %d < classes = %d",
          c->vocab, c->n_classes);
    CHECK(c->text_info >= 0 && c->text_info <= 1, "synmm: text_info = %g outside [0, 1]",
          c->text_info);
    CHECK(c->per_entity >= 1, "synmm: per_entity = %d", c->per_entity);
    CHECK(c->n[0] >= 0 && c->n[1] >= 0 && c->n[0] <= UINT32_MAX && c->n[1] <= UINT32_MAX,
          "synmm: n = %lld / %lld (each split < 2^32)", (long long)c->n[0], (long long)c->n[1]);
    CHECK(c->n_domains >= 1, "synmm: n_domains = %d", c->n_domains);
    CHECK(isfinite(c->class_sep) && isfinite(c->entity_spread) && isfinite(c->sample_spread) &&
              isfinite(c->domain_shift),
          "synmm: class_sep %g entity_spread %g sample_spread %g domain_shift %g", c->class_sep,
          c->entity_spread, c->sample_spread, c->domain_shift);

    Synmm *g = xcalloc(1, sizeof *g);
    g->c = *c;
    int C = c->n_classes, Z = c->latent;
    Rng r;
    g->mu = xmalloc((size_t)C * Z * sizeof(float));
    for (int k = 0; k < C; k++) {
        rng_init(&r, c->seed, ROUND_CLASS, (uint32_t)k, RNG_DATA);
        rng_fill_normal(&r, g->mu + (size_t)k * Z, (size_t)Z, 0.0f, c->class_sep);
    }
    for (int m = 0; m < c->n_vec; m++) {
        g->w[m] = xmalloc((size_t)c->dims[m] * Z * sizeof(float));
        rng_init(&r, c->seed, ROUND_PROJ, (uint32_t)m, RNG_DATA);
        rng_fill_normal(&r, g->w[m], (size_t)c->dims[m] * Z, 0.0f, 1.0f / sqrtf((float)Z));
        g->shift[m] = xmalloc((size_t)c->n_domains * c->dims[m] * sizeof(float));
        for (int d = 0; d < c->n_domains; d++) {
            rng_init(&r, c->seed, ROUND_DOMAIN, (uint32_t)(d * SYNMM_MAX_VEC + m), RNG_DATA);
            // Domain 0 is the unshifted reference domain.
            rng_fill_normal(&r, g->shift[m] + (size_t)d * c->dims[m], (size_t)c->dims[m], 0.0f,
                            d == 0 ? 0.0f : c->domain_shift);
        }
    }
    g->train_entities = (c->n[0] + c->per_entity - 1) / c->per_entity;

    // The spec.
    g->class_names = xmalloc((size_t)C * sizeof(char *));
    for (int k = 0; k < C; k++)
        g->class_names[k] = fmt_str("class%d", k, 0);
    DsSpec *s = &g->spec;
    *s = (DsSpec){.name = "SynMM",
                  .version = "1",
                  .source = "synthetic (src/data/synmm.c)",
                  .licence = "CC0-1.0",
                  .builder = "build_synmm",
                  .seed = c->seed,
                  .n_classes = C,
                  .class_names = (const char *const *)g->class_names,
                  .n_meta = 1,
                  .meta_names = meta_cols,
                  .n = {c->n[0], c->n[1]}};
    for (int m = 0; m < c->n_vec; m++) {
        g->names[m] = fmt_str("m%d", m, 0);
        s->modalities[m] = (DsModality){g->names[m], "vector", DS_F32, 1, {c->dims[m]}, 0, 0};
    }
    s->n_modalities = c->n_vec;
    if (c->text_len > 0) {
        g->kw = c->vocab / (2 * C) > 0 ? c->vocab / (2 * C) : 1;
        g->vocab = xmalloc((size_t)c->vocab * sizeof(char *));
        for (int v = 0; v < c->vocab; v++)
            g->vocab[v] =
                v < C * g->kw ? fmt_str("c%dk%d", v / g->kw, v % g->kw) : fmt_str("w%d", v, 0);
        s->modalities[s->n_modalities++] =
            (DsModality){"text", "text", DS_I32, 1, {c->text_len}, 0, 0};
        s->vocab_size = c->vocab;
        s->vocab = (const char *const *)g->vocab;
    }
    return g;
}

void synmm_free(Synmm *g) {
    if (!g) return;
    xfree(g->mu);
    for (int m = 0; m < SYNMM_MAX_VEC; m++)
        xfree(g->w[m]), xfree(g->shift[m]), xfree(g->names[m]);
    for (int k = 0; k < g->c.n_classes; k++)
        xfree(g->class_names[k]);
    xfree(g->class_names);
    if (g->vocab)
        for (int v = 0; v < g->c.vocab; v++)
            xfree(g->vocab[v]);
    xfree(g->vocab);
    xfree(g);
}

const DsSpec *synmm_spec(const Synmm *g) {
    CHECK_PTR(g);
    return &g->spec;
}

void synmm_rows(const Synmm *g, DsSplit split, int64_t start, int64_t n, int32_t *label,
                int64_t *entity, int32_t *meta, float *const *vec, int32_t *text) {
    CHECK_PTR(g);
    const SynmmConfig *c = &g->c;
    CHECK(split == DS_TRAIN || split == DS_TEST, "synmm_rows: split %d", (int)split);
    CHECK(start >= 0 && n >= 0 && start + n <= c->n[split],
          "synmm_rows: rows [%lld, %lld) outside [0, %lld)", (long long)start,
          (long long)(start + n), (long long)c->n[split]);
    CHECK_PTR(label);
    CHECK_PTR(entity);
    CHECK_PTR(meta);
    CHECK(c->n_vec == 0 || vec != NULL, "synmm_rows: vec is NULL");
    CHECK(c->text_len == 0 || text != NULL, "synmm_rows: text is NULL");
    int Z = c->latent, C = c->n_classes;
    float *z = xmalloc((size_t)Z * sizeof(float)), *u = xmalloc((size_t)Z * sizeof(float));
    float *ze = xmalloc((size_t)Z * sizeof(float));
    int n_norm = Z; // per sample: latent, then per vector modality its nuisance and its noise
    for (int m = 0; m < c->n_vec; m++)
        n_norm += Z + c->dims[m];
    float *eps = xmalloc((size_t)n_norm * sizeof(float));
    int64_t cached_e = -1;
    int32_t cached_y = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t i = start + r, e = i / c->per_entity;
        if (e != cached_e) { // the entity's label and latent, from its own stream
            Rng er;
            rng_init(&er, c->seed, ROUND_ENTITY + (uint32_t)split, (uint32_t)e, RNG_DATA);
            cached_y = (int32_t)rng_below(&er, (uint32_t)C);
            const float *mu = g->mu + (size_t)cached_y * Z;
            normals(&er, ze, Z);
            for (int k = 0; k < Z; k++)
                ze[k] = mu[k] + c->entity_spread * ze[k];
            cached_e = e;
        }
        label[r] = cached_y;
        entity[r] = split == DS_TRAIN ? e : g->train_entities + e;
        Rng sr;
        rng_init(&sr, c->seed, (uint32_t)split, (uint32_t)i, RNG_DATA);
        int32_t dom = c->n_domains > 1 ? (int32_t)rng_below(&sr, (uint32_t)c->n_domains) : 0;
        meta[r] = dom;
        normals(&sr, eps, n_norm);
        const float *e_ = eps;
        for (int k = 0; k < Z; k++)
            z[k] = ze[k] + c->sample_spread * e_[k];
        e_ += Z;
        for (int m = 0; m < c->n_vec; m++) {
            int d = c->dims[m];
            float a = c->info[m], b = 1.0f - a;
            for (int k = 0; k < Z; k++)
                u[k] = a * z[k] + b * e_[k];
            e_ += Z;
            const float *w = g->w[m], *sh = g->shift[m] + (size_t)dom * d;
            float *x = vec[m] + (size_t)r * d;
            for (int j = 0; j < d; j++) {
                const float *wj = w + (size_t)j * Z;
                float acc = 0;
                for (int k = 0; k < Z; k++)
                    acc += wj[k] * u[k];
                x[j] = acc + sh[j] + c->noise[m] * e_[j];
            }
            e_ += d;
        }
        if (c->text_len > 0) {
            int32_t *t = text + (size_t)r * c->text_len;
            for (int p = 0; p < c->text_len; p++)
                t[p] = rng_uniform(&sr) < c->text_info
                           ? cached_y * g->kw + (int32_t)rng_below(&sr, (uint32_t)g->kw)
                           : (int32_t)rng_below(&sr, (uint32_t)c->vocab);
        }
    }
    xfree(z), xfree(u), xfree(ze), xfree(eps);
}

double synmm_write(const Synmm *g, const char *path, int64_t block) {
    CHECK_PTR(g);
    CHECK_PTR(path);
    CHECK(block >= 1, "synmm_write: block = %lld", (long long)block);
    const SynmmConfig *c = &g->c;
    Timer t = {0};
    timer_start(&t);
    DsWriter *w = dsfile_create(path, &g->spec);
    int32_t *label = xmalloc((size_t)block * 4), *meta = xmalloc((size_t)block * 4);
    int64_t *entity = xmalloc((size_t)block * 8);
    float *vec[SYNMM_MAX_VEC] = {0};
    for (int m = 0; m < c->n_vec; m++)
        vec[m] = xmalloc((size_t)block * c->dims[m] * sizeof(float));
    int32_t *text = c->text_len ? xmalloc((size_t)block * c->text_len * 4) : NULL;
    for (int sp = 0; sp < 2; sp++) {
        for (int64_t a = 0; a < c->n[sp]; a += block) {
            int64_t k = c->n[sp] - a < block ? c->n[sp] - a : block;
            synmm_rows(g, (DsSplit)sp, a, k, label, entity, meta, vec, text);
            DsRows rows = {.n = k, .label = label, .entity = entity, .meta = meta};
            for (int m = 0; m < c->n_vec; m++)
                rows.data[m] = vec[m];
            if (text) rows.data[c->n_vec] = text;
            dsfile_append(w, (DsSplit)sp, &rows);
        }
    }
    dsfile_close(w);
    xfree(label), xfree(meta), xfree(entity), xfree(text);
    for (int m = 0; m < c->n_vec; m++)
        xfree(vec[m]);
    return timer_stop(&t) / 1000.0;
}
