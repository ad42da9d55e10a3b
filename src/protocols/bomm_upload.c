// bomm_upload.c - what a party of the large–small collaboration sends after its local training
// (bomm.h): per-class, per-modality sums and counts of its embeddings, and a uniform sample of
// `upload` rows as (embeddings, soft labels, label, modality mask), never raw data. The label is
// sent only with bomm.upload-labels (bomm_exchange.c); its record here stays on the host otherwise.
// [I] reconstruction from the BoMM abstract.
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "protocols/bomm_impl.h"
#include "protocols/prototypes.h"

void bomm_records_reserve(BommRecords *r, const Bomm *b, int64_t cap) {
    if (cap <= r->cap) return;
    bomm_records_free(r);
    r->emb = xmalloc((size_t)cap * b->M * b->D * sizeof(float));
    r->probs = xmalloc((size_t)cap * b->K * sizeof(float));
    r->label = xmalloc((size_t)cap * sizeof *r->label);
    r->mask = xmalloc((size_t)cap);
    r->cap = cap;
}

void bomm_records_free(BommRecords *r) {
    xfree(r->emb), xfree(r->probs), xfree(r->label), xfree(r->mask);
    memset(r, 0, sizeof *r);
}

int64_t bomm_upload_rows(const Bomm *b, int p, const RoundInfo *r) {
    int64_t n = b->env->n_train[p];
    return b->need_upload && r->arrived[p] ? (n < b->s.upload ? n : b->s.upload) : 0;
}

// Hosted party i's first record in b->up: its predecessors' uploads this round.
static int64_t first_record(const Bomm *b, int i) {
    int64_t at = 0;
    for (int j = 0; j < i; j++)
        at += b->up_n[j];
    return at;
}

double bomm_upload_bytes(const Bomm *b, int i) {
    double bytes = 0;
    int64_t at = first_record(b, i);
    for (int64_t j = 0; j < b->up_n[i]; j++)
        bytes += (double)bomm_popcount8(b->up.mask[at + j]) * b->D * sizeof(float) +
                 (double)b->K * sizeof(float) + (b->s.upload_labels ? sizeof(int32_t) : 0) + 1;
    return bytes;
}

// Per-class, per-modality sums and counts of the party's embeddings over its training rows, in
// row order (so they do not depend on the host).
static void prototype_sums(Bomm *b, int i, const float *params) {
    const SampleSet *s = &b->env->train[i];
    const Model *m = b->env->model;
    double *sums = b->sums + bomm_kmd(b) * (size_t)i;
    int64_t *counts = b->counts + (size_t)b->K * b->M * (size_t)i;
    for (int64_t start = 0; start < s->n; start += b->Bmax) {
        int B = (int)(s->n - start < b->Bmax ? s->n - start : b->Bmax);
        sampleset_batch(s, b->env->layout, NULL, start, B, &b->batch);
        model_encode(m, params, &b->batch.in, &b->pw);
        for (int mod = 0; mod < b->M; mod++)
            proto_accumulate(sums, counts, b->pw.emb[mod], b->batch.label, b->batch.mask, B, b->D,
                             b->K, b->M, mod);
    }
}

void bomm_party_upload(Bomm *b, int i, const float *params, const RoundInfo *r) {
    int party = b->env->first + i, M = b->M, D = b->D, K = b->K;
    const SampleSet *s = &b->env->train[i];
    const Model *m = b->env->model;
    b->up_n[i] = 0;
    if (!r->arrived[party]) return; // nothing it sends arrives
    if (b->need_protos) prototype_sums(b, i, params);
    int64_t k = bomm_upload_rows(b, party, r);
    if (k == 0) return;
    // A uniform sample of `upload` rows without replacement (partial Fisher–Yates).
    int64_t *idx = xmalloc((size_t)s->n * sizeof *idx + 1);
    Rng rng;
    rng_init(&rng, b->env->tc->seed, (uint32_t)r->round, (uint32_t)party, RNG_SELECT);
    rng_sample_prefix(&rng, idx, s->n, k);
    int64_t *rows = b->up_rows + (size_t)i * b->s.upload;
    memcpy(rows, idx, (size_t)k * sizeof *rows);
    xfree(idx);
    int64_t at = first_record(b, i);
    for (int64_t start = 0; start < k; start += b->Bmax) {
        int B = (int)(k - start < b->Bmax ? k - start : b->Bmax);
        sampleset_batch(s, b->env->layout, rows, start, B, &b->batch);
        model_forward(m, params, &b->batch.in, &b->pw); // no completion: the SM's own view
        model_ce(m, &b->pw, B, b->batch.label, NULL, 0, NULL);
        for (int j = 0; j < B; j++) {
            int64_t rec = at + start + j;
            unsigned bits = 0;
            for (int mod = 0; mod < M; mod++) {
                int present = b->batch.mask[(size_t)j * M + mod] != 0;
                float *e = b->up.emb + ((size_t)rec * M + mod) * D;
                bits |= (unsigned)present << mod;
                if (present)
                    memcpy(e, b->pw.emb[mod] + (size_t)j * D, (size_t)D * sizeof(float));
                else
                    memset(e, 0, (size_t)D * sizeof(float));
            }
            memcpy(b->up.probs + (size_t)rec * K, b->pw.probs + (size_t)j * K,
                   (size_t)K * sizeof(float));
            b->up.label[rec] = b->batch.label[j];
            b->up.mask[rec] = (uint8_t)bits;
        }
    }
    b->up_n[i] = k;
}
