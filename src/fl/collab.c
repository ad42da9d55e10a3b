// collab.c - the large–small collaboration round (see collab.h). [I] BoMM reconstruction from the
// paper's abstract (research/methods.md §1).
#include "fl/collab.h"

#include <math.h>
#include <string.h>

#include "collab/align.h"
#include "collab/prototypes.h"
#include "comm/gen_p2p.h"
#include "comm/proto_reduce.h"
#include "core/die.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "models/generator.h"
#include "models/mm_large.h"
#include "nn/loss.h"
#include "nn/optim.h"

#define CON_TAU 0.1f // InfoNCE temperature of the large model's cross-modal term

typedef struct {
    Collab *c;
    int i, training;
} HookCtx;

struct Collab {
    CollabSetup cs;
    CollabSettings s;
    int rank, size, P, M, D, K, Bmax;
    int need_protos, need_upload, rec_len;
    // global prototypes, every rank
    double *protos;   // (K, M, D)
    uint8_t *valid;   // (K, M)
    int64_t *pcount;  // (K, M)
    float *protos_f;  // (K, M, D)
    float *mean_emb;  // (M, D)
    double *protos_c; // (K, M, D) centred: protos − mean_emb, for the similarity distributions
    float *centred;   // (D) scratch
    uint8_t mod_valid[PM_MAX_MOD]; // modality m has at least one valid prototype
    int64_t have_protos;           // int64: a checkpoint field
    // hosted parties
    double *sums;              // (count, K, M, D)
    int64_t *counts;           // (count, K, M)
    int64_t *up_n;             // (count) rows uploaded this round
    int64_t *up_rows;          // (count, upload) their indices
    float *up_rec;             // (count · upload, rec_len) this rank's records in party order
    float *soft;               // (Σ hosted rows, K) the large model's soft labels
    uint8_t *has_soft;         // (Σ hosted rows)
    int64_t *row_off;          // (count) first row of party i in soft / has_soft
    double *filled, *admitted; // (count) completed blocks this round, and admitted ones
    uint8_t *gen_mask;         // (count) targets received this round
    uint8_t *party_missing;    // (P) every rank: bit m = the party misses modality m somewhere
    // generators: slot (t, s) = target t from source s, at (t·M + s)·gen_n
    Generator gen;
    size_t gen_n;
    float *gen_params;
    uint8_t *gen_trained; // (M·M) every rank
    uint32_t have_targets;
    float gamma; // this round's admission threshold
    // scratch, every rank
    Batch batch;
    PmWork pw;
    GenWork gw;
    float *fill[PM_MAX_MOD]; // (Bmax, D)
    float *gsrc, *gproto;    // (Bmax, D)
    int *chat, *gcount;      // (Bmax)
    double *q, *qsum;        // (K)
    HookCtx *ctx;            // (2 · count)
    PartyHooks *hooks;       // (2 · count): training, evaluation
    // cloud, rank 0
    MmLarge mm;
    int64_t mm_n; // the large model's parameters, on every rank (checkpoint shapes)
    float *mm_params, *mm_grads;
    OptState mm_opt;
    MmWork mw[3];
    int mm_bmax;
    float *gen_ref, *gen_grads, *gen_m, *gen_v;
    int64_t *gen_step; // (M·M)
    int gen_bmax;
    float *all_rec, *rec_soft; // (n_rec, rec_len), (n_rec, K)
    int64_t n_rec;
    CollabDiag diag;
};

static int popcount8(unsigned x) { return __builtin_popcount(x & 0xffu); }

static size_t kmd(const Collab *c) { return (size_t)c->K * (size_t)c->M * (size_t)c->D; }

static float *gen_slot(const Collab *c, float *base, int t, int s) {
    return base + ((size_t)t * (size_t)c->M + (size_t)s) * c->gen_n;
}

// ---- prototypes and pseudo-labels ----

static void finish_protos(Collab *c) {
    size_t n = kmd(c);
    for (size_t k = 0; k < n; k++)
        c->protos_f[k] = (float)c->protos[k];
    int M = c->M, D = c->D;
    for (int m = 0; m < M; m++) {
        double total = 0, *acc = xcalloc((size_t)D, sizeof *acc);
        for (int k = 0; k < c->K; k++) {
            double w = (double)c->pcount[k * M + m];
            total += w;
            for (int d = 0; d < D; d++)
                acc[d] += w * c->protos[((size_t)k * M + m) * D + d];
        }
        for (int d = 0; d < D; d++)
            c->mean_emb[(size_t)m * D + d] = total > 0 ? (float)(acc[d] / total) : 0.f;
        xfree(acc);
    }
    for (int k = 0; k < c->K; k++)
        for (int m = 0; m < M; m++)
            for (int d = 0; d < D; d++) {
                size_t at = ((size_t)k * M + m) * D + d;
                c->protos_c[at] =
                    c->valid[k * M + m] ? c->protos[at] - c->mean_emb[(size_t)m * D + d] : 0;
            }
    for (int m = 0; m < M; m++) {
        c->mod_valid[m] = 0;
        for (int k = 0; k < c->K; k++)
            c->mod_valid[m] |= c->valid[k * M + m];
    }
    c->have_protos = 1;
}

// e − the modality's mean embedding, into out (D). The small models' ReLU embeddings share a large
// common component, so raw cosines to every prototype are alike (measured: no pair passed κ = 0.6
// on AV-FashionMNIST); centred, they separate the classes.
static void centre(const Collab *c, float *out, const float *e, int m) {
    for (int d = 0; d < c->D; d++)
        out[d] = e[d] - c->mean_emb[(size_t)m * c->D + d];
}

// The pseudo-label of one row: argmax of the summed similarity distributions of its present
// modalities over the global prototypes (ties: the lowest class); -1 when none can be scored.
static int pseudo_label(Collab *c, const float *const *emb, unsigned mask) {
    int scored = 0;
    memset(c->qsum, 0, (size_t)c->K * sizeof *c->qsum);
    for (int m = 0; m < c->M; m++) {
        if (!(mask >> m & 1) || !c->mod_valid[m]) continue;
        centre(c, c->centred, emb[m], m);
        align_similarity(c->q, c->centred, c->protos_c, c->valid, c->K, c->M, c->D, m, c->s.tau);
        for (int k = 0; k < c->K; k++)
            c->qsum[k] += c->q[k];
        scored = 1;
    }
    if (!scored) return -1;
    int best = 0;
    for (int k = 1; k < c->K; k++)
        if (c->qsum[k] > c->qsum[best]) best = k;
    return best;
}

static const float *proto_at(const Collab *c, int k, int m) {
    if (k < 0 || !c->valid[k * c->M + m]) return NULL;
    return c->protos_f + ((size_t)k * c->M + m) * c->D;
}

// order = [0, n) shuffled (Fisher–Yates from the end, rng_below draws).
static void shuffled_order(int64_t *order, int64_t n, Rng *rng) {
    for (int64_t r = 0; r < n; r++)
        order[r] = r;
    for (int64_t r = n - 1; r > 0; r--) {
        int64_t j = (int64_t)rng_below(rng, (uint32_t)(r + 1)), tmp = order[r];
        order[r] = order[j], order[j] = tmp;
    }
}

// idx[0..k) = a uniform sample of k of [0, n) without replacement, in draw order (partial
// Fisher–Yates from the front); idx has room for n.
static void sample_prefix(int64_t *idx, int64_t n, int64_t k, Rng *rng) {
    for (int64_t r = 0; r < n; r++)
        idx[r] = r;
    for (int64_t j = 0; j < k; j++) {
        int64_t p = j + (int64_t)rng_below(rng, (uint32_t)(n - j)), tmp = idx[j];
        idx[j] = idx[p], idx[p] = tmp;
    }
}

// *kl += KL(t ‖ q) of one row with soft target t and model probabilities q (K), term by term;
// dlogits += scale·(q − t).
static void kl_soft_row(double *kl, float *dlogits, const float *q, const float *t, int K,
                        double scale) {
    for (int k = 0; k < K; k++) {
        if (t[k] > 0) *kl += t[k] * (log(t[k]) - log(fmax(q[k], 1e-30)));
        dlogits[k] += (float)(scale * (q[k] - t[k]));
    }
}

static float cosine(const float *a, const float *b, int D) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < D; d++)
        ab += (double)a[d] * b[d], aa += (double)a[d] * a[d], bb += (double)b[d] * b[d];
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.f;
}

// The generators' policy std for target t: bomm.sigma times the RMS of t's valid prototypes, so
// that candidates differ by the same fraction on every data set (measured RMS: 2.5 on
// AV-FashionMNIST, 0.55 on Landsat, where an absolute 0.5 drowned the signal).
static float policy_sigma(const Collab *c, int t) {
    double ss = 0;
    int64_t n = 0;
    for (int k = 0; k < c->K; k++)
        for (int d = 0; d < c->D && c->valid[k * c->M + t]; d++, n++) {
            double v = c->protos[((size_t)k * c->M + t) * c->D + d];
            ss += v * v;
        }
    double rms = n ? sqrt(ss / (double)n) : 0;
    return (float)(c->s.sigma * (rms > 0 ? rms : 1.0));
}

// cos(e − mean_t, P[k][t] − mean_t): the similarity of GPA, for one class (k valid in t).
static float centred_cosine(Collab *c, const float *e, int k, int t) {
    centre(c, c->centred, e, t);
    const double *p = c->protos_c + ((size_t)k * c->M + t) * c->D;
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < c->D; d++)
        ab += c->centred[d] * p[d], aa += (double)c->centred[d] * c->centred[d], bb += p[d] * p[d];
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.f;
}

// ---- party hooks ----

// Every row's pseudo-label into c->chat[0..B) (the fills that need one).
static void batch_pseudo_labels(Collab *c, const PmWork *w, const uint8_t *mask, int B) {
    int M = c->M, D = c->D;
    for (int b = 0; b < B; b++) {
        const float *emb[PM_MAX_MOD];
        unsigned bits = 0;
        for (int m = 0; m < M; m++) {
            emb[m] = w->h[m] + (size_t)b * D;
            bits |= (unsigned)(mask[(size_t)b * M + m] != 0) << m;
        }
        c->chat[b] = pseudo_label(c, emb, bits);
    }
}

// f (B, D) += for the rows missing t: the mean over their present sources s of G(s → t)(h_s,
// P[ĉ][t]); one generator forward per source over the rows it serves.
static void fill_generated(Collab *c, const PmWork *w, const uint8_t *mask, int B, int t,
                           float *f) {
    int M = c->M, D = c->D;
    int *rows = c->chat + B; // scratch: the rows a source serves
    memset(c->gcount, 0, (size_t)B * sizeof *c->gcount);
    for (int s = 0; s < M; s++) {
        if (s == t || !c->gen_trained[t * M + s]) continue;
        int n = 0;
        for (int b = 0; b < B; b++) {
            const float *p = proto_at(c, c->chat[b], t);
            if (mask[(size_t)b * M + t] || !mask[(size_t)b * M + s] || !p) continue;
            memcpy(c->gsrc + (size_t)n * D, w->h[s] + (size_t)b * D, (size_t)D * sizeof(float));
            memcpy(c->gproto + (size_t)n * D, p, (size_t)D * sizeof(float));
            rows[n++] = b;
        }
        if (!n) continue;
        gen_forward(&c->gen, gen_slot(c, c->gen_params, t, s), c->gsrc, c->gproto, n, &c->gw);
        for (int j = 0; j < n; j++) {
            for (int d = 0; d < D; d++)
                f[(size_t)rows[j] * D + d] += c->gw.mu[(size_t)j * D + d];
            c->gcount[rows[j]]++;
        }
    }
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D && c->gcount[b] > 1; d++)
            f[(size_t)b * D + d] /= (float)c->gcount[b];
}

// Admission (schedule "admit"): a completion enters training only when it agrees with its class
// prototype, centred cos >= γ_t (centred as in GPA: raw cosines of ReLU embeddings are all high);
// rejected blocks stay zero, in evaluation too, so that the model is tested on the kind of input it
// was trained on. Counts the party's completions in training.
static void admit(Collab *c, const HookCtx *h, const uint8_t *mask, int B, int t, float *f) {
    int M = c->M, D = c->D;
    for (int b = 0; b < B; b++) {
        if (mask[(size_t)b * M + t]) continue;
        float *fb = f + (size_t)b * D;
        int any = 0;
        for (int d = 0; d < D && !any; d++)
            any = fb[d] != 0.f;
        if (!any) continue;
        if (h->training) c->filled[h->i]++;
        if (c->s.fill == FILL_GEN && (c->s.schedule & SCHED_ADMIT)) {
            if (!proto_at(c, c->chat[b], t) || centred_cosine(c, fb, c->chat[b], t) < c->gamma) {
                memset(fb, 0, (size_t)D * sizeof(float));
                continue;
            }
        }
        if (h->training) c->admitted[h->i]++;
    }
}

// Completion of the batch's missing blocks, one target modality at a time, by the fill kind.
static void fill_hook(void *ctxp, const PartyModel *pm, PmWork *w, PmInput *in, const int64_t *rows,
                      int B) {
    (void)pm, (void)rows;
    HookCtx *h = ctxp;
    Collab *c = h->c;
    int M = c->M, D = c->D, labelled = 0;
    if (c->s.fill == FILL_ZERO || !c->have_protos) return;
    const uint8_t *mask = in->mask;
    for (int t = 0; t < M; t++) {
        int missing = 0;
        for (int b = 0; b < B; b++)
            missing += !mask[(size_t)b * M + t];
        if (!missing || (c->s.fill == FILL_GEN && !(c->have_targets >> t & 1))) continue;
        float *f = c->fill[t];
        memset(f, 0, (size_t)B * D * sizeof(float));
        if (c->s.fill != FILL_MEAN && !labelled) batch_pseudo_labels(c, w, mask, B), labelled = 1;
        for (int b = 0; b < B; b++) {
            const float *p = c->s.fill == FILL_MEAN    ? c->mean_emb + (size_t)t * D
                             : c->s.fill == FILL_PROTO ? proto_at(c, c->chat[b], t)
                                                       : NULL;
            if (p) memcpy(f + (size_t)b * D, p, (size_t)D * sizeof(float));
        }
        if (c->s.fill == FILL_GEN) fill_generated(c, w, mask, B, t, f);
        admit(c, h, mask, B, t, f);
        in->fill[t] = f;
    }
}

// KL(p_LM ‖ p_SM) on the rows that carry the large model's soft labels, scaled to the batch mean.
static double kd_hook(void *ctxp, const PartyModel *pm, const float *params, PmWork *w,
                      const PmInput *in, const int64_t *rows, const int *labels, int B) {
    (void)pm, (void)params, (void)in, (void)labels;
    HookCtx *h = ctxp;
    Collab *c = h->c;
    if (!c->s.use_mm || c->s.kd == 0) return 0;
    int K = c->K;
    const float *soft = c->soft + (size_t)c->row_off[h->i] * K;
    const uint8_t *has = c->has_soft + c->row_off[h->i];
    double loss = 0, scale = c->s.kd / B;
    for (int b = 0; b < B; b++)
        if (has[rows[b]])
            kl_soft_row(&loss, w->dlogits + (size_t)b * K, w->probs + (size_t)b * K,
                        soft + (size_t)rows[b] * K, K, scale);
    return loss * scale;
}

const PartyHooks *collab_hooks(Collab *c, int i, int training) {
    return &c->hooks[2 * i + (training ? 0 : 1)];
}

// ---- setup ----

static void mm_setup(Collab *c) {
    MmConfig mc = {
        .n_mod = c->M, .D = c->s.mm_width, .L = c->s.mm_layers, .H = c->s.mm_heads, .K = c->K};
    for (int m = 0; m < c->M; m++)
        mc.kind[m] = PM_DENSE, mc.in_dim[m] = c->D, mc.n_tok[m] = c->s.mm_tokens;
    mm_init(&c->mm, &mc);
    size_t n = c->mm.n_params;
    c->mm_params = xcalloc_aligned(n * sizeof(float));
    c->mm_grads = xcalloc_aligned(n * sizeof(float));
    c->mm_opt.m = xcalloc_aligned(n * sizeof(float));
    c->mm_opt.v = xcalloc_aligned(n * sizeof(float));
    Rng r;
    rng_init(&r, (uint64_t)c->cs.cfg->seed, 0, (uint32_t)c->P + 1, RNG_INIT);
    mm_init_params(&c->mm, c->mm_params, &r);
    c->mm_bmax = c->Bmax > c->s.candidates ? c->Bmax : c->s.candidates;
    for (int k = 0; k < 3; k++)
        mm_work_init(&c->mw[k], &c->mm, c->mm_bmax);
}

static void gen_setup(Collab *c) {
    size_t slots = (size_t)c->M * (size_t)c->M, n = c->gen_n * slots;
    c->gen_params = xcalloc_aligned(n * sizeof(float));
    c->gen_trained = xcalloc(slots, 1);
    if (c->rank != 0) return;
    c->gen_ref = xcalloc_aligned(n * sizeof(float));
    c->gen_m = xcalloc_aligned(n * sizeof(float));
    c->gen_v = xcalloc_aligned(n * sizeof(float));
    c->gen_grads = xcalloc_aligned(c->gen_n * sizeof(float));
    c->gen_step = xcalloc(slots, sizeof *c->gen_step);
    for (size_t k = 0; k < slots; k++) {
        Rng r;
        rng_init(&r, (uint64_t)c->cs.cfg->seed, 0, (uint32_t)(c->P + 2 + k), RNG_INIT);
        gen_init_params(&c->gen, c->gen_params + k * c->gen_n, &r);
    }
    memcpy(c->gen_ref, c->gen_params, n * sizeof(float));
}

// Every party's missing modalities (train and test rows) to every rank; and CHECKs that the large
// model will have something to learn from.
static void survey_parties(Collab *c) {
    uint8_t *mine = xcalloc((size_t)c->P, 1);
    int64_t multi = 0;
    unsigned full = (1u << c->M) - 1;
    for (int i = 0; i < c->cs.count; i++) {
        const SampleSet *sets[2] = {&c->cs.train[i], &c->cs.test[i]};
        for (int k = 0; k < 2; k++)
            for (int64_t r = 0; r < sets[k]->n; r++) {
                unsigned bits = sets[k]->mask[r];
                mine[c->cs.first + i] |= (uint8_t)(~bits & full);
                multi += k == 0 && popcount8(bits) >= 2;
            }
    }
    MPI_CHECK(MPI_Allreduce(mine, c->party_missing, c->P, MPI_UINT8_T, MPI_BOR, c->cs.comm));
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &multi, 1, MPI_INT64_T, MPI_SUM, c->cs.comm));
    xfree(mine);
    CHECK(
        !c->s.use_mm || c->s.gpa || c->s.singles || multi > 0,
        "--method=%s: no training row of any party has two modalities (scenario %s), so the "
        "large model has no aligned sample to learn from; enable --bomm.gpa or --bomm.mm-singles, "
        "or choose a scenario with multimodal rows",
        c->cs.cfg->method, c->cs.cfg->scenario);
}

Collab *collab_create(const CollabSetup *cs) {
    Collab *c = xcalloc(1, sizeof *c);
    c->cs = *cs;
    c->s = cs->s;
    MPI_CHECK(MPI_Comm_rank(cs->comm, &c->rank));
    MPI_CHECK(MPI_Comm_size(cs->comm, &c->size));
    c->P = cs->pl->parties;
    c->M = cs->pm->c.n_mod;
    c->D = cs->pm->c.D;
    c->K = cs->pm->c.K;
    c->Bmax = cs->cfg->batch_size;
    CHECK(c->M >= 2 || (c->s.fill == FILL_ZERO && !c->s.use_mm),
          "--method=%s needs at least two modalities; %s has %d", cs->cfg->method, cs->cfg->data,
          c->M);
    c->need_protos = c->s.fill != FILL_ZERO || c->s.gpa;
    c->need_upload = c->s.use_mm || c->s.fill == FILL_GEN;
    c->rec_len = c->M * c->D + c->K + 2;
    int M = c->M, D = c->D, K = c->K, count = cs->count;
    size_t n = kmd(c);
    c->protos = xcalloc(n, sizeof *c->protos);
    c->protos_f = xcalloc(n, sizeof *c->protos_f);
    c->protos_c = xcalloc(n, sizeof *c->protos_c);
    c->centred = xcalloc((size_t)c->D, sizeof *c->centred);
    c->valid = xcalloc((size_t)K * M, 1);
    c->pcount = xcalloc((size_t)K * M, sizeof *c->pcount);
    c->mean_emb = xcalloc((size_t)M * D, sizeof *c->mean_emb);
    c->sums = xcalloc(n * (size_t)count + 1, sizeof *c->sums);
    c->counts = xcalloc((size_t)K * M * (size_t)count + 1, sizeof *c->counts);
    c->up_n = xcalloc((size_t)count + 1, sizeof *c->up_n);
    c->up_rows = xcalloc((size_t)count * (size_t)c->s.upload + 1, sizeof *c->up_rows);
    c->up_rec =
        xcalloc((size_t)count * (size_t)c->s.upload * (size_t)c->rec_len + 1, sizeof *c->up_rec);
    c->row_off = xcalloc((size_t)count + 1, sizeof *c->row_off);
    int64_t rows = 0;
    for (int i = 0; i < count; i++)
        c->row_off[i] = rows, rows += cs->train[i].n;
    c->soft = xcalloc((size_t)rows * K + 1, sizeof *c->soft);
    c->has_soft = xcalloc((size_t)rows + 1, 1);
    c->filled = xcalloc((size_t)count + 1, sizeof *c->filled);
    c->admitted = xcalloc((size_t)count + 1, sizeof *c->admitted);
    c->gen_mask = xcalloc((size_t)count + 1, 1);
    c->party_missing = xcalloc((size_t)c->P, 1);
    survey_parties(c);

    GenConfig gc = {.D = D, .H = c->s.gen_hidden};
    gen_init(&c->gen, &gc);
    c->gen_n = c->gen.n_params;
    c->gen_bmax = c->Bmax + c->s.dpo_rows;
    gen_work_init(&c->gw, &c->gen, c->gen_bmax); // >= Bmax: the party fills use it too
    gen_setup(c);

    batch_init(&c->batch, cs->layout, c->Bmax);
    pm_work_init(&c->pw, cs->pm, c->Bmax);
    for (int m = 0; m < M; m++)
        c->fill[m] = xcalloc_aligned((size_t)c->Bmax * D * sizeof(float));
    c->gsrc = xcalloc_aligned((size_t)c->Bmax * D * sizeof(float));
    c->gproto = xcalloc_aligned((size_t)c->Bmax * D * sizeof(float));
    c->chat = xcalloc(2 * (size_t)c->Bmax, sizeof *c->chat);
    c->gcount = xcalloc((size_t)c->Bmax, sizeof *c->gcount);
    c->q = xcalloc((size_t)K, sizeof *c->q);
    c->qsum = xcalloc((size_t)K, sizeof *c->qsum);
    c->ctx = xcalloc(2 * (size_t)count + 1, sizeof *c->ctx);
    c->hooks = xcalloc(2 * (size_t)count + 1, sizeof *c->hooks);
    for (int i = 0; i < count; i++)
        for (int k = 0; k < 2; k++) {
            c->ctx[2 * i + k] = (HookCtx){c, i, k == 0};
            c->hooks[2 * i + k] =
                (PartyHooks){.ctx = &c->ctx[2 * i + k], .fill = fill_hook, .extra = kd_hook};
        }
    if (c->rank == 0 && c->s.use_mm) mm_setup(c);
    c->mm_n = (int64_t)(c->rank == 0 && c->s.use_mm ? c->mm.n_params : 0);
    MPI_CHECK(MPI_Bcast(&c->mm_n, 1, MPI_INT64_T, 0, cs->comm));
    c->diag = (CollabDiag){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    return c;
}

void collab_free(Collab *c) {
    if (!c) return;
    xfree(c->protos), xfree(c->protos_f), xfree(c->protos_c), xfree(c->centred), xfree(c->valid),
        xfree(c->pcount), xfree(c->mean_emb);
    xfree(c->sums), xfree(c->counts), xfree(c->up_n), xfree(c->up_rows), xfree(c->up_rec);
    xfree(c->row_off), xfree(c->soft), xfree(c->has_soft), xfree(c->filled), xfree(c->admitted);
    xfree(c->gen_mask), xfree(c->party_missing);
    xfree(c->gen_params), xfree(c->gen_trained), xfree(c->gen_ref), xfree(c->gen_m);
    xfree(c->gen_v), xfree(c->gen_grads), xfree(c->gen_step);
    gen_work_free(&c->gw);
    batch_free(&c->batch);
    pm_work_free(&c->pw);
    for (int m = 0; m < PM_MAX_MOD; m++)
        xfree(c->fill[m]);
    xfree(c->gsrc), xfree(c->gproto), xfree(c->chat), xfree(c->gcount), xfree(c->q);
    xfree(c->qsum), xfree(c->ctx), xfree(c->hooks);
    xfree(c->mm_params), xfree(c->mm_grads), xfree(c->mm_opt.m), xfree(c->mm_opt.v);
    for (int k = 0; k < 3; k++)
        mm_work_free(&c->mw[k]);
    xfree(c->all_rec), xfree(c->rec_soft);
    xfree(c);
}

void collab_begin_round(Collab *c, int round) {
    int R = c->cs.cfg->rounds;
    double f = R > 1 ? (double)(round - 1) / (double)(R - 1) : 1.0;
    c->gamma = (float)(c->s.gamma0 + (c->s.gamma1 - c->s.gamma0) * f);
    for (int i = 0; i < c->cs.count; i++)
        c->filled[i] = c->admitted[i] = 0, c->gen_mask[i] = 0;
}

// ---- party side: prototype sums and uploaded rows ----

// Hosted party i's first record in up_rec: its predecessors' uploads this round.
static int64_t rec_offset(const Collab *c, int i) {
    int64_t at = 0;
    for (int j = 0; j < i; j++)
        at += c->up_n[j];
    return at;
}

void collab_party_done(Collab *c, int i, const float *params, int round) {
    const SampleSet *s = &c->cs.train[i];
    int M = c->M, D = c->D, K = c->K, party = c->cs.first + i;
    const PartyModel *pm = c->cs.pm;
    double *sums = c->sums + kmd(c) * (size_t)i;
    int64_t *counts = c->counts + (size_t)K * M * (size_t)i;
    memset(sums, 0, kmd(c) * sizeof *sums);
    memset(counts, 0, (size_t)K * M * sizeof *counts);
    if (c->need_protos)
        for (int64_t start = 0; start < s->n; start += c->Bmax) {
            int B = (int)(s->n - start < c->Bmax ? s->n - start : c->Bmax);
            sampleset_batch(s, c->cs.layout, NULL, start, B, &c->batch);
            pm_encode(pm, params, &c->batch.in, &c->pw);
            for (int m = 0; m < M; m++)
                proto_accumulate(sums, counts, c->pw.h[m], c->batch.label, c->batch.mask, B, D, K,
                                 M, m);
        }
    c->up_n[i] = 0;
    if (!c->need_upload) return;
    // A uniform sample of `upload` rows without replacement (partial Fisher–Yates).
    int64_t n = s->n, k = n < c->s.upload ? n : c->s.upload;
    int64_t *idx = xmalloc((size_t)n * sizeof *idx + 1);
    Rng rng;
    rng_init(&rng, (uint64_t)c->cs.cfg->seed, (uint32_t)round, (uint32_t)party, RNG_SELECT);
    sample_prefix(idx, n, k, &rng);
    int64_t *rows = c->up_rows + (size_t)i * c->s.upload;
    memcpy(rows, idx, (size_t)k * sizeof *rows);
    xfree(idx);
    int64_t at = rec_offset(c, i);
    for (int64_t start = 0; start < k; start += c->Bmax) {
        int B = (int)(k - start < c->Bmax ? k - start : c->Bmax);
        sampleset_batch(s, c->cs.layout, rows, start, B, &c->batch);
        pm_forward(pm, params, &c->batch.in, &c->pw); // no completion: the SM's own view
        pm_ce(pm, &c->pw, B, c->batch.label, NULL, 0, NULL);
        for (int b = 0; b < B; b++) {
            float *rec = c->up_rec + (size_t)(at + start + b) * c->rec_len;
            unsigned bits = 0;
            for (int m = 0; m < M; m++) {
                int present = c->batch.mask[(size_t)b * M + m] != 0;
                bits |= (unsigned)present << m;
                if (present)
                    memcpy(rec + (size_t)m * D, c->pw.h[m] + (size_t)b * D,
                           (size_t)D * sizeof(float));
                else
                    memset(rec + (size_t)m * D, 0, (size_t)D * sizeof(float));
            }
            memcpy(rec + (size_t)M * D, c->pw.probs + (size_t)b * K, (size_t)K * sizeof(float));
            rec[M * D + K] = (float)c->batch.label[b];
            rec[M * D + K + 1] = (float)bits;
        }
    }
    c->up_n[i] = k;
}

// ---- the cloud ----

// One row of the large model's training set: embeddings per modality, mask, target, weight and
// the small models' soft label.
typedef struct {
    float *emb;     // (n, M·D)
    uint8_t *mask;  // (n) bits
    int *label;     // (n)
    float *weight;  // (n)
    float *teacher; // (n, K)
    int64_t n, cap;
} MmSet;

// Room for every aligned row and every pair (a single-modality row pairs at most once per other
// modality): n_rec · M rows.
static void mmset_init(MmSet *t, const Collab *c) {
    int64_t cap = c->n_rec * c->M + 1;
    t->emb = xmalloc((size_t)cap * c->M * c->D * sizeof(float));
    t->mask = xmalloc((size_t)cap);
    t->label = xmalloc((size_t)cap * sizeof(int));
    t->weight = xmalloc((size_t)cap * sizeof(float));
    t->teacher = xmalloc((size_t)cap * c->K * sizeof(float));
    t->n = 0, t->cap = cap;
}

static void mmset_add(MmSet *t, const Collab *c, const float *emb, unsigned mask, int label,
                      float weight, const float *teacher) {
    CHECK(t->n < t->cap, "large-model set full (%lld rows)", (long long)t->cap);
    memcpy(t->emb + (size_t)t->n * c->M * c->D, emb, (size_t)c->M * c->D * sizeof(float));
    memcpy(t->teacher + (size_t)t->n * c->K, teacher, (size_t)c->K * sizeof(float));
    t->mask[t->n] = (uint8_t)mask, t->label[t->n] = label, t->weight[t->n] = weight;
    t->n++;
}

static void mmset_free(MmSet *t) {
    xfree(t->emb), xfree(t->mask), xfree(t->label), xfree(t->weight), xfree(t->teacher);
}

static const float *rec_emb(const Collab *c, int64_t r) {
    return c->all_rec + (size_t)r * c->rec_len;
}
static const float *rec_probs(const Collab *c, int64_t r) { return rec_emb(c, r) + c->M * c->D; }
static int rec_label(const Collab *c, int64_t r) { return (int)rec_probs(c, r)[c->K]; }
static unsigned rec_mask(const Collab *c, int64_t r) { return (unsigned)rec_probs(c, r)[c->K + 1]; }

// Aligned rows (>= 2 modalities) and, with GPA, pseudo-aligned pairs of single-modality rows.
static void build_mm_set(Collab *c, MmSet *t) {
    int M = c->M, D = c->D, K = c->K;
    double aligned = 0, pairs = 0, right = 0;
    for (int64_t r = 0; r < c->n_rec; r++) {
        int multi = popcount8(rec_mask(c, r)) >= 2;
        if (multi || c->s.singles)
            mmset_add(t, c, rec_emb(c, r), rec_mask(c, r), rec_label(c, r), 1.f, rec_probs(c, r));
        aligned += multi;
    }
    if (c->s.gpa && c->have_protos) {
        AlignParams ap = {c->s.tau, c->s.delta, c->s.kappa};
        float *merged = xmalloc((size_t)M * D * sizeof(float));
        float *teacher = xmalloc((size_t)K * sizeof(float));
        for (int ma = 0; ma < M; ma++)
            for (int mb = ma + 1; mb < M; mb++) {
                if (!c->mod_valid[ma] || !c->mod_valid[mb]) continue;
                int64_t *ia = xmalloc((size_t)c->n_rec * sizeof *ia + 1);
                int64_t *ib = xmalloc((size_t)c->n_rec * sizeof *ib + 1);
                int na = 0, nb = 0;
                for (int64_t r = 0; r < c->n_rec; r++) {
                    if (rec_mask(c, r) == 1u << ma) ia[na++] = r;
                    if (rec_mask(c, r) == 1u << mb) ib[nb++] = r;
                }
                float *ea = xmalloc((size_t)na * D * sizeof(float) + 1);
                float *eb = xmalloc((size_t)nb * D * sizeof(float) + 1);
                for (int j = 0; j < na; j++)
                    centre(c, ea + (size_t)j * D, rec_emb(c, ia[j]) + (size_t)ma * D, ma);
                for (int j = 0; j < nb; j++)
                    centre(c, eb + (size_t)j * D, rec_emb(c, ib[j]) + (size_t)mb * D, mb);
                int cap = na < nb ? na : nb;
                AlignPair *ap_out = xmalloc((size_t)cap * sizeof *ap_out + 1);
                int np = cap ? align_match_greedy(ap_out, ea, na, ma, eb, nb, mb, c->protos_c,
                                                  c->valid, K, M, D, &ap)
                             : 0;
                for (int j = 0; j < np; j++) {
                    int64_t a = ia[ap_out[j].a], b = ib[ap_out[j].b];
                    memset(merged, 0, (size_t)M * D * sizeof(float));
                    memcpy(merged + (size_t)ma * D, rec_emb(c, a) + (size_t)ma * D,
                           (size_t)D * sizeof(float));
                    memcpy(merged + (size_t)mb * D, rec_emb(c, b) + (size_t)mb * D,
                           (size_t)D * sizeof(float));
                    for (int k = 0; k < K; k++)
                        teacher[k] = 0.5f * (rec_probs(c, a)[k] + rec_probs(c, b)[k]);
                    mmset_add(t, c, merged, 1u << ma | 1u << mb, ap_out[j].label,
                              (float)ap_out[j].weight, teacher);
                    right +=
                        rec_label(c, a) == ap_out[j].label && rec_label(c, b) == ap_out[j].label;
                }
                pairs += np;
                xfree(ia), xfree(ib), xfree(ea), xfree(eb), xfree(ap_out);
            }
        xfree(merged), xfree(teacher);
    }
    c->diag.aligned = aligned;
    c->diag.pairs = c->s.gpa ? pairs : NAN;
    c->diag.precision = c->s.gpa && pairs > 0 ? right / pairs : NAN;
}

// The large model's input for rows[0..B) of set t (one dense (B, D) block per modality), with the
// their mask bits.
static void mm_input(Collab *c, const MmSet *t, const int64_t *rows, int B, float **bufs,
                     uint8_t *mask, PmInput *in) {
    int M = c->M, D = c->D;
    memset(in, 0, sizeof *in);
    in->B = B;
    for (int b = 0; b < B; b++) {
        unsigned bits = t->mask[rows[b]];
        for (int m = 0; m < M; m++) {
            memcpy(bufs[m] + (size_t)b * D, t->emb + (size_t)rows[b] * M * D + (size_t)m * D,
                   (size_t)D * sizeof(float));
            mask[(size_t)b * M + m] = (uint8_t)(bits >> m & 1);
        }
    }
    for (int m = 0; m < M; m++)
        in->dense[m] = bufs[m];
    in->mask = mask;
}

static unsigned lowest_bits(unsigned mask, int n) { // the n lowest set bits of mask
    unsigned out = 0;
    for (int m = 0; m < 8 && n > 0; m++)
        if (mask >> m & 1) out |= 1u << m, n--;
    return out;
}

static void adamw(float *params, const float *grads, float *m, float *v, size_t n, double lr,
                  const Config *cfg, long step) {
    AdamWConfig a = {(float)lr, 0.9f, 0.999f, 1e-8f, (float)cfg->weight_decay};
    adamw_step(params, grads, m, v, n, NULL, 0, &a, step);
}

// Scratch of the large model's training steps.
typedef struct {
    float *bufs[3][PM_MAX_MOD]; // (Bmax, D) inputs of the full view and the two single views
    uint8_t *masks[3];          // (Bmax, M)
    float *nce_probs, *nce_work;
    int64_t *multi; // (Bmax) the batch's rows with two or more modalities
} MmScratch;

// Cross-modal InfoNCE (symmetric) between the large model's views of each row's first and second
// modality, over the batch's rows that have two: the two views of one entity (or of one pseudo
// pair) attract, other rows repel. Adds the gradient; returns mm_con · the loss (0 with < 2 rows).
static double contrastive_step(Collab *c, const MmSet *t, const int64_t *rows, int B,
                               MmScratch *sc) {
    int M = c->M, W = c->s.mm_width, n = 0;
    for (int b = 0; b < B; b++)
        if (popcount8(t->mask[rows[b]]) >= 2) sc->multi[n++] = rows[b];
    if (n < 2) return 0;
    PmInput in[3];
    for (int v = 1; v <= 2; v++) {
        mm_input(c, t, sc->multi, n, sc->bufs[v], sc->masks[v], &in[v]);
        for (int b = 0; b < n; b++) {
            unsigned bits = t->mask[sc->multi[b]];
            unsigned keep =
                v == 1 ? lowest_bits(bits, 1) : lowest_bits(bits, 2) & ~lowest_bits(bits, 1);
            for (int m = 0; m < M; m++)
                sc->masks[v][(size_t)b * M + m] = (uint8_t)(keep >> m & 1);
        }
        mm_forward(&c->mm, c->mm_params, &in[v], &c->mw[v]);
    }
    const float *ra = mm_rep(&c->mw[1]), *rb = mm_rep(&c->mw[2]);
    double w = 0.5 * c->s.mm_con, nce = 0;
    nce += infonce_forward(sc->nce_probs, ra, rb, CON_TAU, n, W, sc->nce_work);
    infonce_backward(c->mw[1].drep, c->mw[2].drep, sc->nce_probs, ra, rb, CON_TAU, n, W, w,
                     sc->nce_work);
    nce += infonce_forward(sc->nce_probs, rb, ra, CON_TAU, n, W, sc->nce_work);
    infonce_backward(c->mw[2].drep, c->mw[1].drep, sc->nce_probs, rb, ra, CON_TAU, n, W, w,
                     sc->nce_work);
    for (int v = 1; v <= 2; v++)
        mm_backward(&c->mm, c->mm_params, c->mm_grads, &in[v], &c->mw[v]);
    return w * nce;
}

static void train_large(Collab *c, int round) {
    MmSet t;
    mmset_init(&t, c);
    build_mm_set(c, &t);
    c->diag.mm_loss = NAN;
    if (t.n == 0) {
        mmset_free(&t);
        return;
    }
    int M = c->M, D = c->D, K = c->K, W = c->s.mm_width, Bm = c->Bmax;
    const Config *cfg = c->cs.cfg;
    MmScratch scratch, *sc = &scratch;
    for (int k = 0; k < 3; k++) {
        sc->masks[k] = xmalloc((size_t)Bm * M);
        for (int m = 0; m < M; m++)
            sc->bufs[k][m] = xmalloc((size_t)Bm * D * sizeof(float));
    }
    sc->nce_probs = xmalloc((size_t)Bm * Bm * sizeof(float));
    sc->nce_work = xmalloc(infonce_workspace_size(Bm, W) * sizeof(float) + 16);
    sc->multi = xmalloc((size_t)Bm * sizeof *sc->multi);
    float *weights = xmalloc((size_t)Bm * sizeof(float));
    int *labels = xmalloc((size_t)Bm * sizeof(int));
    int64_t *order = xmalloc((size_t)t.n * sizeof *order);
    Rng rng;
    rng_init(&rng, (uint64_t)cfg->seed, (uint32_t)round, (uint32_t)c->P, RNG_SHUFFLE);
    double loss_sum = 0;
    int64_t loss_n = 0;
    for (int ep = 0; ep < c->s.mm_epochs; ep++) {
        shuffled_order(order, t.n, &rng);
        for (int64_t start = 0; start < t.n; start += Bm) {
            int B = (int)(t.n - start < Bm ? t.n - start : Bm);
            const int64_t *rows = order + start;
            PmInput in;
            for (int b = 0; b < B; b++)
                labels[b] = t.label[rows[b]], weights[b] = t.weight[rows[b]];
            mm_input(c, &t, rows, B, sc->bufs[0], sc->masks[0], &in);
            memset(c->mm_grads, 0, c->mm.n_params * sizeof(float));
            mm_forward(&c->mm, c->mm_params, &in, &c->mw[0]);
            double loss = mm_ce(&c->mm, &c->mw[0], B, labels, weights, 1.0, NULL);
            // KD from the small models: KL(p_SM ‖ p_LM), scaled to the batch mean.
            double kd = 0, scale = c->s.mm_kd / B;
            for (int b = 0; b < B && c->s.mm_kd > 0; b++)
                kl_soft_row(&kd, c->mw[0].dlogits + (size_t)b * K, c->mw[0].probs + (size_t)b * K,
                            t.teacher + (size_t)rows[b] * K, K, scale);
            loss += kd * scale;
            mm_backward(&c->mm, c->mm_params, c->mm_grads, &in, &c->mw[0]);
            if (c->s.mm_con > 0) loss += contrastive_step(c, &t, rows, B, sc);
            if (cfg->clip > 0)
                clip_grad_global_norm(c->mm_grads, c->mm.n_params, NULL, 0, cfg->clip);
            c->mm_opt.step++;
            adamw(c->mm_params, c->mm_grads, c->mm_opt.m, c->mm_opt.v, c->mm.n_params, c->s.mm_lr,
                  cfg, c->mm_opt.step);
            loss_sum += loss * B, loss_n += B;
        }
    }
    c->diag.mm_loss = loss_sum / (double)loss_n;
    for (int k = 0; k < 3; k++) {
        xfree(sc->masks[k]);
        for (int m = 0; m < M; m++)
            xfree(sc->bufs[k][m]);
    }
    xfree(sc->nce_probs), xfree(sc->nce_work), xfree(sc->multi);
    xfree(weights), xfree(labels), xfree(order);
    mmset_free(&t);
}

// The large model's soft labels for every uploaded row, as uploaded (its own modalities).
static void soft_labels(Collab *c) {
    int M = c->M, D = c->D, K = c->K, Bm = c->Bmax;
    float *bufs[PM_MAX_MOD];
    uint8_t *mask = xmalloc((size_t)Bm * M);
    for (int m = 0; m < M; m++)
        bufs[m] = xmalloc((size_t)Bm * D * sizeof(float));
    for (int64_t start = 0; start < c->n_rec; start += Bm) {
        int B = (int)(c->n_rec - start < Bm ? c->n_rec - start : Bm);
        PmInput in = {.B = B, .mask = mask};
        for (int b = 0; b < B; b++) {
            unsigned bits = rec_mask(c, start + b);
            for (int m = 0; m < M; m++) {
                memcpy(bufs[m] + (size_t)b * D, rec_emb(c, start + b) + (size_t)m * D,
                       (size_t)D * sizeof(float));
                mask[(size_t)b * M + m] = (uint8_t)(bits >> m & 1);
            }
        }
        for (int m = 0; m < M; m++)
            in.dense[m] = bufs[m];
        mm_forward(&c->mm, c->mm_params, &in, &c->mw[0]);
        softmax_forward(c->rec_soft + (size_t)start * K, c->mw[0].logits, B, K);
    }
    xfree(mask);
    for (int m = 0; m < M; m++)
        xfree(bufs[m]);
}

// λ_t: 1 (supervised only) without DPO or during the warm-up; with the mix schedule a cosine decay
// from 1 after the warm-up to lambda_min at the last round; else the fixed λ.
static double gen_lambda(const Collab *c, int round) {
    if (!c->s.dpo || !c->s.use_mm || round <= c->s.warmup) return 1.0;
    if (!(c->s.schedule & SCHED_MIX)) return c->s.lambda_fixed;
    int span = c->cs.cfg->rounds - c->s.warmup;
    double f = span > 0 ? (double)(round - c->s.warmup) / span : 1.0;
    return c->s.lambda_min + (1 - c->s.lambda_min) * 0.5 * (1 + cos(3.14159265358979323846 * f));
}

// Preference pairs for slot (t ← s) on up to dpo_rows of its rows: candidates from the current
// policy, scored by the large model's likelihood of the true label plus prototype consistency.
static int dpo_pairs(Collab *c, int t, int s, const int64_t *rows, const int *chat, int n,
                     int round, int64_t *pair_row, float *zw, float *zl) {
    int M = c->M, D = c->D, K = c->K, nc = c->s.candidates;
    int per = c->mm_bmax / nc; // rows scored per large-model forward
    const Config *cfg = c->cs.cfg;
    int64_t *pick = xmalloc((size_t)n * sizeof *pick);
    Rng rng;
    rng_init(&rng, (uint64_t)cfg->seed, (uint32_t)round, (uint32_t)(c->P + 2 + t * M + s),
             RNG_SELECT);
    int k = n < c->s.dpo_rows ? n : c->s.dpo_rows;
    sample_prefix(pick, n, k, &rng);
    float *src = xmalloc((size_t)per * D * sizeof(float)),
          *proto = xmalloc((size_t)per * D * sizeof(float));
    float *cand = xmalloc((size_t)per * nc * D * sizeof(float));
    float *bufs[PM_MAX_MOD];
    for (int m = 0; m < M; m++)
        bufs[m] = xcalloc((size_t)per * nc * D, sizeof(float));
    uint8_t *mask = xmalloc((size_t)per * nc * M);
    float *rewards = xmalloc((size_t)nc * sizeof(float));
    int np = 0;
    for (int j0 = 0; j0 < k; j0 += per) {
        int B = k - j0 < per ? k - j0 : per;
        for (int b = 0; b < B; b++) {
            int64_t r = rows[pick[j0 + b]];
            memcpy(src + (size_t)b * D, rec_emb(c, r) + (size_t)s * D, (size_t)D * sizeof(float));
            memcpy(proto + (size_t)b * D, proto_at(c, chat[pick[j0 + b]], t),
                   (size_t)D * sizeof(float));
        }
        gen_forward(&c->gen, gen_slot(c, c->gen_params, t, s), src, proto, B, &c->gw);
        for (int b = 0; b < B; b++)
            gen_sample_candidates(cand + (size_t)b * nc * D, c->gw.mu + (size_t)b * D,
                                  policy_sigma(c, t), nc, D, (uint64_t)cfg->seed, (uint32_t)round,
                                  (uint32_t)((t * M + s) << 20 | (j0 + b)));
        PmInput in = {.B = B * nc, .mask = mask};
        memset(mask, 0, (size_t)B * nc * M);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < nc; j++) {
                size_t row = (size_t)b * nc + j;
                memcpy(bufs[s] + row * D, src + (size_t)b * D, (size_t)D * sizeof(float));
                memcpy(bufs[t] + row * D, cand + row * D, (size_t)D * sizeof(float));
                mask[row * M + s] = mask[row * M + t] = 1;
            }
        for (int m = 0; m < M; m++)
            in.dense[m] = bufs[m];
        mm_forward(&c->mm, c->mm_params, &in, &c->mw[0]);
        softmax_forward(c->mw[0].probs, c->mw[0].logits, B * nc, K);
        for (int b = 0; b < B; b++) {
            int64_t r = rows[pick[j0 + b]];
            int y = rec_label(c, r);
            const float *py = proto_at(c, y, t);
            for (int j = 0; j < nc; j++) {
                size_t row = (size_t)b * nc + j;
                rewards[j] = logf(fmaxf(c->mw[0].probs[row * K + y], 1e-30f)) +
                             (py ? (float)c->s.eta * cosine(cand + row * D, py, D) : 0.f);
            }
            int best, worst;
            if (!gen_rank_candidates(&best, &worst, rewards, nc)) continue;
            pair_row[np] = pick[j0 + b];
            memcpy(zw + (size_t)np * D, cand + ((size_t)b * nc + best) * D,
                   (size_t)D * sizeof(float));
            memcpy(zl + (size_t)np * D, cand + ((size_t)b * nc + worst) * D,
                   (size_t)D * sizeof(float));
            np++;
        }
    }
    xfree(pick), xfree(src), xfree(proto), xfree(cand), xfree(mask), xfree(rewards);
    for (int m = 0; m < M; m++)
        xfree(bufs[m]);
    return np;
}

static void train_generators(Collab *c, int round) {
    int M = c->M, D = c->D, Bm = c->Bmax;
    const Config *cfg = c->cs.cfg;
    size_t slots = (size_t)M * M;
    int use_dpo = c->s.dpo && c->s.use_mm && round > c->s.warmup;
    if (use_dpo && round == c->s.warmup + 1) // the reference policy: the warm-up's result
        memcpy(c->gen_ref, c->gen_params, slots * c->gen_n * sizeof(float));
    double lambda = gen_lambda(c, round);
    int *chat = xmalloc((size_t)c->n_rec * sizeof *chat + 1);
    for (int64_t r = 0; r < c->n_rec; r++) {
        const float *emb[PM_MAX_MOD];
        for (int m = 0; m < M; m++)
            emb[m] = rec_emb(c, r) + (size_t)m * D;
        chat[r] = pseudo_label(c, emb, rec_mask(c, r));
    }
    int64_t *rows = xmalloc((size_t)c->n_rec * sizeof *rows + 1);
    int *rchat = xmalloc((size_t)c->n_rec * sizeof *rchat + 1);
    int64_t *pair_row = xmalloc((size_t)c->s.dpo_rows * sizeof *pair_row);
    float *zw = xmalloc((size_t)c->s.dpo_rows * D * sizeof(float));
    float *zl = xmalloc((size_t)c->s.dpo_rows * D * sizeof(float));
    int Bg = c->gen_bmax;
    float *zs = xmalloc((size_t)Bg * D * sizeof(float)),
          *pr = xmalloc((size_t)Bg * D * sizeof(float));
    float *tg = xmalloc((size_t)Bg * D * sizeof(float));
    uint8_t *has = xmalloc((size_t)Bg);
    double sup = 0, dpo = 0, acc = 0;
    int steps = 0, dsteps = 0;
    for (int t = 0; t < M; t++)
        for (int s = 0; s < M; s++) {
            if (s == t) continue;
            int n = 0;
            for (int64_t r = 0; r < c->n_rec; r++)
                if ((rec_mask(c, r) >> s & 1) && proto_at(c, chat[r], t))
                    rows[n] = r, rchat[n] = chat[r], n++;
            if (n == 0) continue;
            int np = use_dpo ? dpo_pairs(c, t, s, rows, rchat, n, round, pair_row, zw, zl) : 0;
            float *params = gen_slot(c, c->gen_params, t, s);
            size_t slot = (size_t)t * M + s;
            int64_t *order = xmalloc((size_t)n * sizeof *order);
            Rng rng;
            rng_init(&rng, (uint64_t)cfg->seed, (uint32_t)round, (uint32_t)(c->P + 2 + slot),
                     RNG_SHUFFLE);
            int n_batches = (n + Bm - 1) / Bm;
            int per_batch = np ? (np + n_batches - 1) / n_batches : 0;
            GenLossCfg lc = {(float)lambda, (float)c->s.lambda_a, (float)c->s.beta,
                             policy_sigma(c, t)};
            for (int ep = 0; ep < c->s.gen_epochs; ep++) {
                shuffled_order(order, n, &rng);
                for (int bi = 0; bi < n_batches; bi++) {
                    int p0 = bi * per_batch, npb = np - p0 < per_batch ? np - p0 : per_batch;
                    if (npb < 0) npb = 0;
                    int s0 = bi * Bm, ns = n - s0 < Bm ? n - s0 : Bm;
                    int B = npb + ns;
                    for (int b = 0; b < B; b++) {
                        int j = b < npb ? (int)pair_row[p0 + b] : (int)order[s0 + b - npb];
                        int64_t r = rows[j];
                        memcpy(zs + (size_t)b * D, rec_emb(c, r) + (size_t)s * D,
                               (size_t)D * sizeof(float));
                        memcpy(pr + (size_t)b * D, proto_at(c, rchat[j], t),
                               (size_t)D * sizeof(float));
                        has[b] = (uint8_t)(rec_mask(c, r) >> t & 1);
                        memcpy(tg + (size_t)b * D, rec_emb(c, r) + (size_t)t * D,
                               (size_t)D * sizeof(float));
                    }
                    GenBatch gb = {.B = B,
                                   .z_src = zs,
                                   .proto = pr,
                                   .target = tg,
                                   .has_target = has,
                                   .n_pair = npb,
                                   .z_w = zw + (size_t)p0 * D,
                                   .z_l = zl + (size_t)p0 * D};
                    GenLossParts parts;
                    memset(c->gen_grads, 0, c->gen_n * sizeof(float));
                    gen_mixed_step(&c->gen, params, npb ? gen_slot(c, c->gen_ref, t, s) : NULL,
                                   c->gen_grads, &gb, &lc, &c->gw, &parts);
                    if (cfg->clip > 0)
                        clip_grad_global_norm(c->gen_grads, c->gen_n, NULL, 0, cfg->clip);
                    c->gen_step[slot]++;
                    adamw(params, c->gen_grads, gen_slot(c, c->gen_m, t, s),
                          gen_slot(c, c->gen_v, t, s), c->gen_n, c->s.gen_lr, cfg,
                          (long)c->gen_step[slot]);
                    sup += parts.sup, steps++;
                    if (npb) dpo += parts.dpo, acc += parts.pair_acc, dsteps++;
                }
            }
            xfree(order);
            c->gen_trained[slot] = 1;
        }
    c->diag.lambda = lambda;
    c->diag.gen_sup = steps ? sup / steps : NAN;
    c->diag.gen_dpo = dsteps ? dpo / dsteps : NAN;
    c->diag.gen_pair_acc = dsteps ? acc / dsteps : NAN;
    xfree(chat), xfree(rows), xfree(rchat), xfree(pair_row), xfree(zw), xfree(zl);
    xfree(zs), xfree(pr), xfree(tg), xfree(has);
}

// ---- the exchange ----

// Bitmask of the target modalities with at least one trained generator.
static uint32_t trained_targets(const Collab *c) {
    uint32_t out = 0;
    for (int t = 0; t < c->M; t++)
        for (int s = 0; s < c->M; s++)
            if (c->gen_trained[t * c->M + s]) out |= 1u << t;
    return out;
}

// Per rank: the number of records (rows uploaded by its parties) and where they start.
static void record_layout(const Collab *c, int *counts, int *displs, int scale) {
    int at = 0;
    for (int r = 0; r < c->size; r++) {
        int first, cnt = placement_block(c->cs.pl, r, &first), n = 0;
        for (int p = first; p < first + cnt; p++)
            n += (int)(c->cs.n_train[p] < c->s.upload ? c->cs.n_train[p] : c->s.upload);
        counts[r] = n * scale, displs[r] = at * scale, at += n;
    }
}

void collab_exchange(Collab *c, int round) {
    MPI_Comm comm = c->cs.comm;
    if (c->need_protos) {
        proto_allreduce(c->protos, c->valid, c->pcount, c->sums, c->counts, c->cs.count, c->K, c->M,
                        c->D, comm);
        finish_protos(c);
    }
    if (!c->need_upload) return;
    int *counts = xmalloc((size_t)c->size * sizeof *counts);
    int *displs = xmalloc((size_t)c->size * sizeof *displs);
    record_layout(c, counts, displs, c->rec_len);
    int64_t mine = 0;
    for (int i = 0; i < c->cs.count; i++)
        mine += c->up_n[i];
    CHECK(mine * c->rec_len == counts[c->rank], "upload layout: %lld records, expected %d",
          (long long)mine, counts[c->rank] / c->rec_len);
    if (c->rank == 0) {
        c->n_rec = (displs[c->size - 1] + counts[c->size - 1]) / c->rec_len;
        xfree(c->all_rec), xfree(c->rec_soft);
        c->all_rec = xmalloc((size_t)c->n_rec * c->rec_len * sizeof(float) + 1);
        c->rec_soft = xcalloc((size_t)c->n_rec * c->K + 1, sizeof(float));
    }
    MPI_CHECK(MPI_Gatherv(c->up_rec, counts[c->rank], MPI_FLOAT, c->all_rec, counts, displs,
                          MPI_FLOAT, 0, comm));
    if (c->rank == 0) {
        double t0 = timer_now_ms(), t1 = t0, t2 = t0;
        if (c->s.use_mm) {
            train_large(c, round);
            t1 = timer_now_ms();
            soft_labels(c);
            t2 = timer_now_ms();
        }
        if (c->s.fill == FILL_GEN) train_generators(c, round);
        log_debug("cloud: large model %.0f ms, soft labels %.0f ms, generators %.0f ms", t1 - t0,
                  t2 - t1, timer_now_ms() - t2);
    }
    if (c->s.use_mm) {
        record_layout(c, counts, displs, c->K);
        float *back = xmalloc((size_t)mine * c->K * sizeof(float) + 1);
        MPI_CHECK(MPI_Scatterv(c->rec_soft, counts, displs, MPI_FLOAT, back, counts[c->rank],
                               MPI_FLOAT, 0, comm));
        int64_t at = 0;
        for (int i = 0; i < c->cs.count; i++)
            for (int64_t j = 0; j < c->up_n[i]; j++, at++) {
                int64_t row = c->row_off[i] + c->up_rows[(size_t)i * c->s.upload + j];
                memcpy(c->soft + (size_t)row * c->K, back + (size_t)at * c->K,
                       (size_t)c->K * sizeof(float));
                c->has_soft[row] = 1;
            }
        xfree(back);
    }
    if (c->s.fill == FILL_GEN) {
        int M = c->M;
        MPI_CHECK(MPI_Bcast(c->gen_trained, M * M, MPI_UINT8_T, 0, comm));
        uint32_t available = trained_targets(c);
        c->have_targets = gen_distribute(c->gen_params, (size_t)M * c->gen_n, M, available,
                                         c->party_missing, c->cs.pl, comm);
        for (int i = 0; i < c->cs.count; i++)
            c->gen_mask[i] = (uint8_t)(c->party_missing[c->cs.first + i] & available);
    }
    xfree(counts), xfree(displs);
}

void collab_party_stats(const Collab *c, int i, double *up, double *down, double *filled,
                        double *admitted, double *missing_mask, double *gen_mask) {
    int M = c->M, D = c->D, K = c->K;
    *up = *down = 0;
    if (c->need_protos) {
        *up += (double)proto_bytes_per_party(K, M, D);
        *down += (double)K * M * D * sizeof(float) + (double)K * M; // prototypes + valid flags
    }
    int64_t at = rec_offset(c, i);
    for (int64_t j = 0; j < c->up_n[i]; j++) {
        unsigned bits = (unsigned)c->up_rec[(size_t)(at + j) * c->rec_len + M * D + K + 1];
        *up += (double)popcount8(bits) * D * sizeof(float) + K * sizeof(float) + 4 + 1;
    }
    if (c->s.use_mm) *down += (double)c->up_n[i] * K * sizeof(float);
    *down += (double)popcount8(c->gen_mask[i]) * (M - 1) * c->gen_n * sizeof(float);
    *filled = c->filled[i], *admitted = c->admitted[i];
    *missing_mask = c->party_missing[c->cs.first + i];
    *gen_mask = c->gen_mask[i];
}

double collab_eval_large(Collab *c, const float *sm_params, const SampleSet *test) {
    if (!c->s.use_mm || c->rank != 0 || test->n == 0) return NAN;
    int64_t ok = 0;
    for (int64_t start = 0; start < test->n; start += c->Bmax) {
        int B = (int)(test->n - start < c->Bmax ? test->n - start : c->Bmax);
        sampleset_batch(test, c->cs.layout, NULL, start, B, &c->batch);
        pm_encode(c->cs.pm, sm_params, &c->batch.in, &c->pw);
        PmInput in = {.B = B, .mask = c->batch.mask};
        for (int m = 0; m < c->M; m++)
            in.dense[m] = c->pw.h[m];
        mm_forward(&c->mm, c->mm_params, &in, &c->mw[0]);
        ok += argmax_hits(c->mw[0].logits, c->batch.label, B, c->K);
    }
    return (double)ok / (double)test->n;
}

void collab_diag(const Collab *c, CollabDiag *d) { *d = c->diag; }

int collab_personal(const Collab *c) { return c->s.personal; }

size_t collab_large_params(const Collab *c) {
    return c->s.use_mm && c->rank == 0 ? c->mm.n_params : 0;
}

// ---- checkpoints ----

// The soft labels as one dataset over every party's training rows in party order: its rows, this
// rank's first row and its row count.
static void soft_rows(const Collab *c, int64_t *total, int64_t *row0, int64_t *mine) {
    *total = *row0 = *mine = 0;
    for (int p = 0; p < c->P; p++) {
        if (p < c->cs.first) *row0 += c->cs.n_train[p];
        *total += c->cs.n_train[p];
    }
    for (int i = 0; i < c->cs.count; i++)
        *mine += c->cs.train[i].n;
}

int collab_ckpt_fields(Collab *c, CkptField *f) {
    int M = c->M, K = c->K, k = 0;
    int64_t slots = (int64_t)M * M, gn = (int64_t)c->gen_n;
    if (c->need_protos) { // every rank reads them: the fills use them
        f[k++] = (CkptField){"collab/protos", CKPT_F64, CKPT_SHARED, 1,
                             (int64_t)kmd(c), 0,        0,           c->protos};
        f[k++] = (CkptField){"collab/proto_valid", CKPT_U8, CKPT_SHARED, 1,
                             (int64_t)K * M,       0,       0,           c->valid};
        f[k++] = (CkptField){"collab/proto_count", CKPT_I64, CKPT_SHARED, 1,
                             (int64_t)K * M,       0,        0,           c->pcount};
        f[k++] =
            (CkptField){"collab/have_protos", CKPT_I64, CKPT_SHARED, 1, 1, 0, 0, &c->have_protos};
    }
    if (c->s.use_mm) {
        int64_t total, row0, mine;
        soft_rows(c, &total, &row0, &mine);
        f[k++] =
            (CkptField){"collab/mm_params", CKPT_F32, CKPT_CLOUD, 1, c->mm_n, 0, 0, c->mm_params};
        f[k++] =
            (CkptField){"collab/mm_opt_m", CKPT_F32, CKPT_CLOUD, 1, c->mm_n, 0, 0, c->mm_opt.m};
        f[k++] =
            (CkptField){"collab/mm_opt_v", CKPT_F32, CKPT_CLOUD, 1, c->mm_n, 0, 0, c->mm_opt.v};
        f[k++] =
            (CkptField){"collab/mm_opt_step", CKPT_I64, CKPT_CLOUD, 1, 1, 0, 0, &c->mm_opt.step};
        f[k++] = (CkptField){"collab/soft", CKPT_F32, CKPT_OWN, total, K, row0, mine, c->soft};
        f[k++] =
            (CkptField){"collab/has_soft", CKPT_U8, CKPT_OWN, total, 1, row0, mine, c->has_soft};
    }
    if (c->s.fill == FILL_GEN) {
        f[k++] =
            (CkptField){"collab/gen_params", CKPT_F32, CKPT_SHARED, slots, gn, 0, 0, c->gen_params};
        f[k++] =
            (CkptField){"collab/gen_trained", CKPT_U8, CKPT_SHARED, slots, 1, 0, 0, c->gen_trained};
        f[k++] = (CkptField){"collab/gen_ref", CKPT_F32, CKPT_CLOUD, slots, gn, 0, 0, c->gen_ref};
        f[k++] = (CkptField){"collab/gen_opt_m", CKPT_F32, CKPT_CLOUD, slots, gn, 0, 0, c->gen_m};
        f[k++] = (CkptField){"collab/gen_opt_v", CKPT_F32, CKPT_CLOUD, slots, gn, 0, 0, c->gen_v};
        f[k++] =
            (CkptField){"collab/gen_opt_step", CKPT_I64, CKPT_CLOUD, slots, 1, 0, 0, c->gen_step};
    }
    CHECK(k <= COLLAB_CKPT_FIELDS, "%d checkpoint fields", k);
    return k;
}

void collab_ckpt_restored(Collab *c) {
    if (c->need_protos && c->have_protos) finish_protos(c);
    if (c->s.fill != FILL_GEN) return;
    // What this rank held after the checkpoint's round: the targets its parties miss.
    uint32_t available = trained_targets(c);
    c->have_targets =
        c->rank == 0 ? available : gen_rank_needs(c->party_missing, c->cs.pl, c->rank) & available;
}
