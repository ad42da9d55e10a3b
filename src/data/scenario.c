// scenario.c - party splits and modality masks (scenario.h). Every random choice is drawn from
// the stream (seed, TAG_*, index, RNG_PARTITION), index being a label, party, unit or sample
// number, so the result depends only on (data, config, seed) and not on who computes it or in
// which order. Steps: units (samples, or entities when overlap is controlled) -> per-label
// Dirichlet x quantity shares -> party modality sets (cross-modal, hybrid) -> per-sample masks
// (missing rates) -> entity splits across parties (overlap) -> stages -> stream chunks.
// Also the load-time stage transform, next to the stream tags it draws from. The module's other
// files: scenario_config.c (presets, keys, the config check), scenario_draw.c (Dirichlet draws,
// apportioning), scenario_counts.c (per-party counts and summary); scenario_impl.h what they share.
#include "data/scenario.h"

#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "data/scenario_impl.h"

// Counter word 1 of each step's streams (word 2 is the index, word 3 RNG_PARTITION). Append-only:
// changing one changes every stored split.
enum {
    TAG_QUANTITY = 1,    // index 0: party size weights
    TAG_DIRICHLET = 2,   // index label: that label's party proportions
    TAG_SHUFFLE = 3,     // index label: order of that label's units
    TAG_PARTY_MOD = 4,   // index party: hybrid modality presence
    TAG_SAMPLE = 5,      // index sample: missing draws, hybrid fallback, random stage
    TAG_OVERLAP = 6,     // index unit: split across parties or not, modality, partner
    TAG_STREAM = 7,      // index party: order of the one-pass stream
    TAG_STAGE_NOISE = 8, // index sample: load-time stage noise
};

// ---- compute ----

// Column of meta named key, or die naming the stage.
static int meta_column(const ScenarioData *d, const char *key, int s) {
    for (int j = 0; j < d->n_meta; j++)
        if (d->meta_names && d->meta_names[j] && !strcmp(d->meta_names[j], key)) return j;
    CHECK(0, "scenario: stage.%d.meta=%s: the data has no such meta column (%d columns)", s, key,
          d->n_meta);
    return -1;
}

// (entity, sample) pairs sorted by entity then sample: the first sample names the unit.
typedef struct EntIdx {
    int64_t e, i;
} EntIdx;
static int by_entity(const void *a, const void *b) {
    const EntIdx *x = a, *y = b;
    if (x->e != y->e) return x->e < y->e ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void scenario_compute(Scenario *s, const ScenarioConfig *cfg, const ScenarioData *d,
                      uint64_t seed) {
    CHECK_PTR(s);
    CHECK_PTR(cfg);
    CHECK_PTR(d);
    CHECK_PTR(d->label);
    CHECK(d->n >= 1 && d->n < ((int64_t)1 << 32),
          "scenario %s: %s gives it %lld rows, outside [1, 2^32)%s", cfg->name,
          d->source ? d->source : "the data", (long long)d->n,
          d->n < 1 ? " (no rows left to partition: a split without rows, or fractions and caps "
                     "that hold out every row)"
                   : "");
    CHECK(d->n_classes >= 1, "scenario: n_classes=%d", d->n_classes);
    CHECK(d->n_modalities >= 1 && d->n_modalities <= SCN_MAX_MODALITIES,
          "scenario: n_modalities=%d outside [1,%d]", d->n_modalities, SCN_MAX_MODALITIES);
    CHECK(d->n_meta == 0 || d->meta != NULL, "scenario: n_meta=%d but meta is NULL", d->n_meta);
    scn_check_config(cfg, d);
    for (int64_t i = 0; i < d->n; i++)
        CHECK(d->label[i] >= 0 && d->label[i] < d->n_classes,
              "scenario: label[%lld]=%d outside [0,%d)", (long long)i, d->label[i], d->n_classes);

    const int64_t n = d->n;
    const int K = cfg->n_parties, M = d->n_modalities, C = d->n_classes;
    const unsigned full = (1u << M) - 1u;
    memset(s, 0, sizeof *s);
    s->n_parties = K;
    s->n_modalities = M;
    s->n_classes = C;

    // -- samples grouped by entity (for units and for the overlap count) --
    int64_t *order = xmalloc((size_t)n * sizeof *order);
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    if (d->entity) {
        EntIdx *pairs = xmalloc((size_t)n * sizeof *pairs);
        for (int64_t i = 0; i < n; i++)
            pairs[i] = (EntIdx){d->entity[i], i};
        qsort(pairs, (size_t)n, sizeof *pairs, by_entity);
        for (int64_t i = 0; i < n; i++)
            order[i] = pairs[i].i;
        free(pairs);
    }
    // ent_start (n_ent + 1): group g is order[ent_start[g] .. ent_start[g+1])
    int64_t *ent_start = xmalloc((size_t)(n + 1) * sizeof *ent_start);
    int64_t n_ent = 0;
    for (int64_t r = 0; r < n; r++)
        if (r == 0 || !d->entity || d->entity[order[r]] != d->entity[order[r - 1]])
            ent_start[n_ent++] = r;
    ent_start[n_ent] = n;
    s->n_entities = n_ent;

    // -- units: whole entities when the overlap is controlled, else samples --
    const int by_ent = cfg->overlap >= 0;
    const int64_t U = by_ent ? n_ent : n;
    CHECK(K <= U, "scenario %s: parties=%d exceeds the %lld %s", cfg->name, K, (long long)U,
          by_ent ? "entities (overlap >= 0 splits by entity)" : "samples");
    // unit u's first sample and label
    int64_t *unit_first = xmalloc((size_t)U * sizeof *unit_first);
    for (int64_t u = 0; u < U; u++)
        unit_first[u] = by_ent ? order[ent_start[u]] : u;

    // -- per-label Dirichlet x quantity shares --
    int64_t *label_count = xcalloc((size_t)C, sizeof *label_count);
    for (int64_t u = 0; u < U; u++)
        label_count[d->label[unit_first[u]]]++;
    for (int c = 0; c < C; c++)
        CHECK(label_count[c] >= (int64_t)K * cfg->min_per_label,
              "scenario %s: min_per_label=%d impossible: label %d has %lld units for parties=%d",
              cfg->name, cfg->min_per_label, c, (long long)label_count[c], K);
    double *q = xmalloc((size_t)K * sizeof *q), *p = xmalloc((size_t)K * sizeof *p);
    for (int k = 0; k < K; k++)
        q[k] = 1.0 / K;
    Rng rng;
    if (cfg->quantity > 0) {
        rng_init(&rng, seed, TAG_QUANTITY, 0, RNG_PARTITION);
        scn_dirichlet_draw(&rng, cfg->quantity, q, K);
    }
    int64_t *unit_party = xmalloc((size_t)U * sizeof *unit_party);
    int64_t *bucket = xmalloc((size_t)U * sizeof *bucket),
            *count = xmalloc((size_t)K * sizeof *count);
    for (int c = 0; c < C; c++) {
        int64_t nc = 0;
        for (int64_t u = 0; u < U; u++)
            if (d->label[unit_first[u]] == c) bucket[nc++] = u;
        if (nc == 0) continue;
        if (cfg->skew == SCN_SKEW_DIRICHLET) {
            rng_init(&rng, seed, TAG_DIRICHLET, (uint32_t)c, RNG_PARTITION);
            scn_dirichlet_draw(&rng, cfg->alpha, p, K);
        } else {
            for (int k = 0; k < K; k++)
                p[k] = 1.0;
        }
        double wsum = 0;
        for (int k = 0; k < K; k++)
            wsum += p[k] *= q[k];
        if (!(wsum > 0))
            for (int k = 0; k < K; k++)
                p[k] = 1.0; // every weight underflowed: share evenly
        scn_apportion(count, p, K, nc, cfg->min_per_label);
        rng_init(&rng, seed, TAG_SHUFFLE, (uint32_t)c, RNG_PARTITION);
        for (int64_t i = nc - 1; i > 0; i--) { // Fisher-Yates
            int64_t j = rng_below(&rng, (uint32_t)(i + 1));
            int64_t t = bucket[i];
            bucket[i] = bucket[j];
            bucket[j] = t;
        }
        int64_t pos = 0;
        for (int k = 0; k < K; k++)
            for (int64_t j = 0; j < count[k]; j++)
                unit_party[bucket[pos++]] = k;
    }

    // -- party modality sets --
    s->party = xcalloc((size_t)K, sizeof *s->party);
    double cross_sum = 0;
    for (int m = 0; m < M; m++)
        cross_sum += cfg->cross[m];
    if (cross_sum > 0) {
        // parties 0.. take modality 0, the next ones modality 1, ... in proportion to the ratios
        double w[SCN_MAX_MODALITIES];
        int64_t nk[SCN_MAX_MODALITIES];
        for (int m = 0; m < M; m++)
            w[m] = cfg->cross[m];
        scn_apportion(nk, w, M, K, 0);
        int k = 0;
        for (int m = 0; m < M; m++)
            for (int64_t j = 0; j < nk[m]; j++)
                s->party[k++].modalities = (uint8_t)(1u << m);
    } else if (cfg->hybrid_p >= 0) {
        for (int k = 0; k < K; k++) {
            rng_init(&rng, seed, TAG_PARTY_MOD, (uint32_t)k, RNG_PARTITION);
            unsigned a = 0;
            for (int m = 0; m < M; m++)
                if (rng_uniform(&rng) < cfg->hybrid_p) a |= 1u << m;
            s->party[k].modalities = (uint8_t)a; // 0: each sample gets one random modality
        }
    } else {
        for (int k = 0; k < K; k++)
            s->party[k].modalities = (uint8_t)full;
    }

    // -- per-sample masks, random stage --
    int32_t *owner = xmalloc((size_t)n * sizeof *owner),
            *owner2 = xmalloc((size_t)n * sizeof *owner2);
    uint8_t *mask = xmalloc((size_t)n), *mask2 = xmalloc((size_t)n);
    int8_t *stage = xcalloc((size_t)n, 1);
    int random_stage = cfg->n_stages > 0 && cfg->stages[0].meta_key[0] == '\0';
    for (int64_t u = 0; u < U; u++) {
        int64_t lo = by_ent ? ent_start[u] : u, hi = by_ent ? ent_start[u + 1] : u + 1;
        for (int64_t r = lo; r < hi; r++)
            owner[by_ent ? order[r] : r] = (int32_t)unit_party[u];
    }
    for (int64_t i = 0; i < n; i++) {
        rng_init(&rng, seed, TAG_SAMPLE, (uint32_t)i, RNG_PARTITION);
        unsigned base = s->party[owner[i]].modalities;
        // fixed draw layout (one hybrid word, M missing words, one keep_one word, one stage
        // word) so that changing one rate does not reshuffle the other draws
        uint32_t pick = rng_u32(&rng);
        if (base == 0) base = 1u << (pick % (uint32_t)M);
        unsigned got = 0;
        for (int m = 0; m < M; m++) {
            float u01 = rng_uniform(&rng);
            if (((base >> m) & 1u) && u01 >= cfg->missing[m]) got |= 1u << m;
        }
        uint32_t back = rng_u32(&rng);
        if (got == 0 && cfg->keep_one)
            got = 1u << scn_nth_bit(base, (int)(back % (uint32_t)scn_popcount8(base)));
        mask[i] = (uint8_t)got;
        owner2[i] = -1;
        mask2[i] = 0;
        float us = rng_uniform(&rng);
        if (random_stage) stage[i] = (int8_t)((int)(us * (float)cfg->n_stages) % cfg->n_stages);
    }

    // -- controlled overlap: split a fraction of entities across two parties by modality --
    if (by_ent && M >= 2 && K >= 2) {
        int *cand = xmalloc((size_t)K * sizeof *cand);
        for (int64_t u = 0; u < U; u++) {
            rng_init(&rng, seed, TAG_OVERLAP, (uint32_t)u, RNG_PARTITION);
            float sel = rng_uniform(&rng);
            uint32_t mdraw = rng_u32(&rng), pick = rng_u32(&rng);
            if (sel >= cfg->overlap) continue;
            // m': a modality the entity's first sample lacks here (the partner holds it), else
            // any (it moves to the partner)
            unsigned first = mask[order[ent_start[u]]];
            if (first == 0) continue;
            unsigned choose = (full & ~first) ? (full & ~first) : full;
            int mp = scn_nth_bit(choose, (int)(mdraw % (uint32_t)scn_popcount8(choose)));
            int k = (int)unit_party[u], nc = 0;
            for (int j = 0; j < K; j++)
                if (j != k &&
                    (s->party[j].modalities == 0 || ((s->party[j].modalities >> mp) & 1u)))
                    cand[nc++] = j;
            if (nc == 0) continue;
            int partner = cand[pick % (uint32_t)nc];
            unsigned bit = 1u << mp;
            for (int64_t r = ent_start[u]; r < ent_start[u + 1]; r++) {
                int64_t i = order[r];
                if (mask[i] == 0 || mask[i] == bit) continue; // nothing to keep here
                mask[i] = (uint8_t)(mask[i] & ~bit); // moved, or held by the partner instead
                owner2[i] = partner;
                mask2[i] = (uint8_t)bit;
            }
        }
        free(cand);
    }

    // -- stages by meta column --
    if (cfg->n_stages > 0 && !random_stage) {
        int col[SCN_MAX_STAGES];
        for (int st = 0; st < cfg->n_stages; st++)
            col[st] = meta_column(d, cfg->stages[st].meta_key, st);
        for (int64_t i = 0; i < n; i++) {
            stage[i] = -1;
            for (int st = 0; st < cfg->n_stages; st++) {
                int32_t v = d->meta[i * d->n_meta + col[st]];
                if (v >= cfg->stages[st].meta_lo && v <= cfg->stages[st].meta_hi) {
                    stage[i] = (int8_t)st;
                    break;
                }
            }
            if (stage[i] < 0) { // in no stage: in no party
                owner[i] = owner2[i] = -1;
                s->n_unassigned++;
            }
        }
    }

    // -- achieved overlap: entities with rows at two parties holding different modalities --
    for (int64_t g = 0; g < n_ent; g++) {
        int first_k[SCN_MAX_MODALITIES], multi[SCN_MAX_MODALITIES];
        for (int m = 0; m < M; m++)
            first_k[m] = -1, multi[m] = 0;
        for (int64_t r = ent_start[g]; r < ent_start[g + 1]; r++) {
            int64_t i = order[r];
            for (int w = 0; w < 2; w++) {
                int k = w ? owner2[i] : owner[i];
                unsigned mk = w ? mask2[i] : mask[i];
                if (k < 0) continue;
                for (int m = 0; m < M; m++) {
                    if (!((mk >> m) & 1u)) continue;
                    if (first_k[m] < 0)
                        first_k[m] = k;
                    else if (first_k[m] != k)
                        multi[m] = 1;
                }
            }
        }
        int split = 0;
        for (int a = 0; a < M && !split; a++)
            for (int b = 0; b < M && !split; b++)
                if (a != b && first_k[a] >= 0 && first_k[b] >= 0 &&
                    (first_k[a] != first_k[b] || multi[a] || multi[b]))
                    split = 1;
        s->n_split_entities += split;
    }

    // -- party rows, ascending by sample --
    for (int64_t i = 0; i < n; i++) {
        if (owner[i] >= 0) s->party[owner[i]].n++;
        if (owner2[i] >= 0) s->party[owner2[i]].n++;
    }
    // One allocation for every party's four arrays, party after party in each (int64 index,
    // int32 chunk, then the bytes: each array stays aligned): 4 allocations a party cost ~100 B of
    // headers and rounding apiece at 10^5 parties of a few rows.
    size_t total = 0;
    for (int k = 0; k < K; k++)
        total += (size_t)s->party[k].n;
    char *block = xcalloc(total * (sizeof(int64_t) + sizeof(int32_t) + 2) + 1, 1);
    s->block = block;
    int64_t *index_at = (int64_t *)block;
    int32_t *chunk_at = (int32_t *)(index_at + total);
    uint8_t *mask_at = (uint8_t *)(chunk_at + total);
    int8_t *stage_at = (int8_t *)(mask_at + total);
    for (int k = 0; k < K; k++) {
        ScenarioParty *pp = &s->party[k];
        pp->index = index_at, pp->chunk = chunk_at, pp->mask = mask_at, pp->stage = stage_at;
        index_at += pp->n, chunk_at += pp->n, mask_at += pp->n, stage_at += pp->n;
        pp->n = 0;
    }
    for (int64_t i = 0; i < n; i++)
        for (int w = 0; w < 2; w++) {
            int k = w ? owner2[i] : owner[i];
            if (k < 0) continue;
            ScenarioParty *pp = &s->party[k];
            pp->index[pp->n] = i;
            pp->mask[pp->n] = w ? mask2[i] : mask[i];
            pp->stage[pp->n] = stage[i] < 0 ? 0 : stage[i];
            pp->n++;
        }

    // -- one-pass stream: a random order cut into stream_rounds equal chunks --
    if (cfg->stream_rounds > 0) {
        for (int k = 0; k < K; k++) {
            ScenarioParty *pp = &s->party[k];
            int64_t *perm = xmalloc((size_t)(pp->n > 0 ? pp->n : 1) * sizeof *perm);
            for (int64_t j = 0; j < pp->n; j++)
                perm[j] = j;
            rng_init(&rng, seed, TAG_STREAM, (uint32_t)k, RNG_PARTITION);
            for (int64_t j = pp->n - 1; j > 0; j--) {
                int64_t t = rng_below(&rng, (uint32_t)(j + 1)), x = perm[j];
                perm[j] = perm[t];
                perm[t] = x;
            }
            for (int64_t j = 0; j < pp->n; j++)
                pp->chunk[perm[j]] = (int32_t)(j * cfg->stream_rounds / pp->n);
            free(perm);
        }
    }

    free(order);
    free(ent_start);
    free(unit_first);
    free(label_count);
    free(q);
    free(p);
    free(unit_party);
    free(bucket);
    free(count);
    free(owner);
    free(owner2);
    free(mask);
    free(mask2);
    free(stage);
}

void scenario_free(Scenario *s) {
    if (!s) return;
    free(s->block);
    free(s->party);
    memset(s, 0, sizeof *s);
}

void scenario_stage_apply(const ScenarioStage *st, int is_image, float *x, int64_t n,
                          float feature_std, uint64_t seed, int64_t sample) {
    CHECK_PTR(st);
    CHECK_PTR(x);
    CHECK(n >= 0 && sample >= 0 && sample < ((int64_t)1 << 32), "n=%lld sample=%lld", (long long)n,
          (long long)sample);
    if (is_image) {
        if (st->contrast == 1.0f && st->intensity == 0.0f) return;
        // in [0,1] units: p = 255 x, so 127.5 -> 0.5 and intensity -> intensity / 255
        const float shift = st->intensity / 255.0f;
        for (int64_t j = 0; j < n; j++) {
            float v = st->contrast * (x[j] - 0.5f) + 0.5f + shift;
            x[j] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
        return;
    }
    if (st->noise == 0.0f) return;
    Rng rng;
    rng_init(&rng, seed, TAG_STAGE_NOISE, (uint32_t)sample, RNG_PARTITION);
    const float sd = st->noise * feature_std;
    for (int64_t j = 0; j < n; j++)
        x[j] += sd * rng_normal(&rng);
}
