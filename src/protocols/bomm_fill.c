// bomm_fill.c - the parties' side of the large–small collaboration during training and evaluation
// (bomm.h): completion of missing modalities by the method's fill (zero, mean, the pseudo-label's
// prototype, or BoMM's generators), admission of completions under the schedule, and the
// distillation from the large model's soft labels. [I] reconstruction from the BoMM abstract.
#include <math.h>
#include <string.h>

#include "core/xalloc.h"
#include "protocols/bomm_impl.h"

// Every row's pseudo-label into b->chat[0..B) (the fills that need one).
static void batch_pseudo_labels(Bomm *b, const ModelWork *w, const uint8_t *mask, int B) {
    int M = b->M, D = b->D;
    for (int r = 0; r < B; r++) {
        const float *emb[MODEL_MAX_MOD];
        unsigned bits = 0;
        for (int m = 0; m < M; m++) {
            emb[m] = w->emb[m] + (size_t)r * D;
            bits |= (unsigned)(mask[(size_t)r * M + m] != 0) << m;
        }
        b->chat[r] = bomm_pseudo_label(b, emb, bits);
    }
}

// f (B, D) += for the rows missing t: the mean over their present sources s of G(s → t)(h_s,
// P[ĉ][t]); one generator forward per source over the rows it serves.
static void fill_generated(Bomm *b, const ModelWork *w, const uint8_t *mask, int B, int t,
                           float *f) {
    int M = b->M, D = b->D;
    int *rows = b->chat + B; // scratch: the rows a source serves
    memset(b->gcount, 0, (size_t)B * sizeof *b->gcount);
    for (int s = 0; s < M; s++) {
        if (s == t || !b->gen_trained[t * M + s]) continue;
        int n = 0;
        for (int r = 0; r < B; r++) {
            const float *p = bomm_proto_at(b, b->chat[r], t);
            if (mask[(size_t)r * M + t] || !mask[(size_t)r * M + s] || !p) continue;
            memcpy(b->gsrc + (size_t)n * D, w->emb[s] + (size_t)r * D, (size_t)D * sizeof(float));
            memcpy(b->gproto + (size_t)n * D, p, (size_t)D * sizeof(float));
            rows[n++] = r;
        }
        if (!n) continue;
        gen_forward(b->gen, bomm_gen_slot(b, b->gen_params, t, s), b->gsrc, b->gproto, n, &b->gw);
        for (int j = 0; j < n; j++) {
            for (int d = 0; d < D; d++)
                f[(size_t)rows[j] * D + d] += b->gw.mu[(size_t)j * D + d];
            b->gcount[rows[j]]++;
        }
    }
    for (int r = 0; r < B; r++)
        for (int d = 0; d < D && b->gcount[r] > 1; d++)
            f[(size_t)r * D + d] /= (float)b->gcount[r];
}

// Admission (schedule "admit"): a completion enters training only when it agrees with its class
// prototype, centred cos >= γ_t (centred as in GPA: raw cosines of ReLU embeddings are all high);
// rejected blocks stay zero, in evaluation too, so that the model is tested on the kind of input it
// was trained on. Counts the party's completions in training.
static void admit(Bomm *b, const BommHookCtx *h, const uint8_t *mask, int B, int t, float *f) {
    int M = b->M, D = b->D;
    for (int r = 0; r < B; r++) {
        if (mask[(size_t)r * M + t]) continue;
        float *fr = f + (size_t)r * D;
        int any = 0;
        for (int d = 0; d < D && !any; d++)
            any = fr[d] != 0.f;
        if (!any) continue;
        if (h->training) b->filled[h->i]++;
        if (b->s.fill == FILL_GEN && (b->s.schedule & SCHED_ADMIT)) {
            if (!bomm_proto_at(b, b->chat[r], t) ||
                bomm_centred_cosine(b, fr, b->chat[r], t) < b->gamma) {
                memset(fr, 0, (size_t)D * sizeof(float));
                continue;
            }
        }
        if (h->training) b->admitted[h->i]++;
    }
}

// PartyHooks.fill: completion of the batch's missing blocks, one target modality at a time.
static void fill_hook(void *ctxp, const Model *model, ModelWork *w, ModelInput *in,
                      const int64_t *rows, int B) {
    (void)model, (void)rows;
    BommHookCtx *h = ctxp;
    Bomm *b = h->b;
    int M = b->M, D = b->D, labelled = 0;
    if (b->s.fill == FILL_ZERO || !b->have_protos) return;
    const uint8_t *mask = in->mask;
    for (int t = 0; t < M; t++) {
        int missing = 0;
        for (int r = 0; r < B; r++)
            missing += !mask[(size_t)r * M + t];
        if (!missing || (b->s.fill == FILL_GEN && !(b->have_targets >> t & 1))) continue;
        float *f = b->fill[t];
        memset(f, 0, (size_t)B * D * sizeof(float));
        if (b->s.fill != FILL_MEAN && !labelled) batch_pseudo_labels(b, w, mask, B), labelled = 1;
        for (int r = 0; r < B; r++) {
            const float *p = b->s.fill == FILL_MEAN    ? b->mean_emb + (size_t)t * D
                             : b->s.fill == FILL_PROTO ? bomm_proto_at(b, b->chat[r], t)
                                                       : NULL;
            if (p) memcpy(f + (size_t)r * D, p, (size_t)D * sizeof(float));
        }
        if (b->s.fill == FILL_GEN) fill_generated(b, w, mask, B, t, f);
        admit(b, h, mask, B, t, f);
        in->fill[t] = f;
    }
}

// *kl += KL(t ‖ q) of one row with soft target t and model probabilities q (K), term by term;
// dlogits += scale·(q − t). Shared with the large model's distillation (bomm_large.c).
void bomm_kl_soft_row(double *kl, float *dlogits, const float *q, const float *t, int K,
                      double scale) {
    for (int k = 0; k < K; k++) {
        if (t[k] > 0) *kl += t[k] * (log(t[k]) - log(fmax(q[k], 1e-30)));
        dlogits[k] += (float)(scale * (q[k] - t[k]));
    }
}

// PartyHooks.extra: KL(p_LM ‖ p_SM) on the rows that carry the large model's soft labels, scaled
// to the batch mean.
static double kd_hook(void *ctxp, const Model *model, const float *params, ModelWork *w,
                      const ModelInput *in, const int64_t *rows, const int *labels, int B) {
    (void)model, (void)params, (void)in, (void)labels;
    BommHookCtx *h = ctxp;
    Bomm *b = h->b;
    if (!b->s.use_mm || b->s.kd == 0) return 0;
    int K = b->K;
    const float *soft = b->soft + (size_t)b->row_off[h->i] * K;
    const uint8_t *has = b->has_soft + b->row_off[h->i];
    double loss = 0, scale = b->s.kd / B;
    for (int r = 0; r < B; r++)
        if (has[rows[r]])
            bomm_kl_soft_row(&loss, w->dlogits + (size_t)r * K, w->probs + (size_t)r * K,
                             soft + (size_t)rows[r] * K, K, scale);
    return loss * scale;
}

void bomm_fill_init(Bomm *b) {
    int count = b->count;
    b->filled = xcalloc((size_t)count + 1, sizeof *b->filled);
    b->admitted = xcalloc((size_t)count + 1, sizeof *b->admitted);
    b->gen_mask = xcalloc((size_t)count + 1, 1);
    b->party_missing = xcalloc((size_t)b->P, 1);
    for (int m = 0; m < b->M; m++)
        b->fill[m] = xcalloc_aligned((size_t)b->Bmax * b->D * sizeof(float));
    b->gsrc = xcalloc_aligned((size_t)b->Bmax * b->D * sizeof(float));
    b->gproto = xcalloc_aligned((size_t)b->Bmax * b->D * sizeof(float));
    b->chat = xcalloc(2 * (size_t)b->Bmax, sizeof *b->chat);
    b->gcount = xcalloc((size_t)b->Bmax, sizeof *b->gcount);
    b->ctx = xcalloc(2 * (size_t)count + 1, sizeof *b->ctx);
    b->hooks = xcalloc(2 * (size_t)count + 1, sizeof *b->hooks);
    for (int i = 0; i < count; i++)
        for (int k = 0; k < 2; k++) {
            b->ctx[2 * i + k] = (BommHookCtx){b, i, k == 0};
            b->hooks[2 * i + k] =
                (PartyHooks){.ctx = &b->ctx[2 * i + k], .fill = fill_hook, .extra = kd_hook};
        }
}

void bomm_fill_free(Bomm *b) {
    xfree(b->filled), xfree(b->admitted), xfree(b->gen_mask), xfree(b->party_missing);
    for (int m = 0; m < MODEL_MAX_MOD; m++)
        xfree(b->fill[m]);
    xfree(b->gsrc), xfree(b->gproto), xfree(b->chat), xfree(b->gcount);
    xfree(b->ctx), xfree(b->hooks);
}
