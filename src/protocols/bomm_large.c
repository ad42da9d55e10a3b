// bomm_large.c - the cloud's multimodal large model in the large–small collaboration (bomm.h): its
// training set from the uploads (aligned rows, GPA's pseudo-aligned pairs, single-modality rows),
// its training step (CE + cross-modal InfoNCE + KD from the small models), its soft labels for the
// uploads and its test accuracy. Rank 0 only, but for the layout, which every rank builds (the
// checkpoint's field list is the same everywhere). [I] reconstruction from the BoMM abstract.
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "models/mm_large.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "protocols/align.h"
#include "protocols/bomm_impl.h"

#define CON_TAU 0.1f // InfoNCE temperature of the large model's cross-modal term

void bomm_large_init(Bomm *b) {
    MmConfig mc = {
        .n_mod = b->M, .D = b->s.mm_width, .L = b->s.mm_layers, .H = b->s.mm_heads, .K = b->K};
    for (int m = 0; m < b->M; m++)
        mc.kind[m] = MODEL_DENSE, mc.in_dim[m] = b->D, mc.n_tok[m] = b->s.mm_tokens;
    mm_large_create(&b->mm, &mc, b->env->spec->mod_name);
    if (b->rank != 0) return;
    size_t n = b->mm.n_params;
    b->mm_params = xcalloc_aligned(n * sizeof(float));
    b->mm_grads = xcalloc_aligned(n * sizeof(float));
    b->mm_opt.m = xcalloc_aligned(n * sizeof(float));
    b->mm_opt.v = xcalloc_aligned(n * sizeof(float));
    Rng r;
    rng_init(&r, b->env->tc->init_seed, 0, (uint32_t)b->P + 1, RNG_INIT);
    model_init_params(&b->mm, b->mm_params, &r);
    b->mm_bmax = b->Bmax > b->s.candidates ? b->Bmax : b->s.candidates;
    for (int k = 0; k < 3; k++)
        model_work_init(&b->mm, &b->mw[k], b->mm_bmax);
}

void bomm_large_free(Bomm *b) {
    xfree(b->mm_params), xfree(b->mm_grads), xfree(b->mm_opt.m), xfree(b->mm_opt.v);
    if (b->rank == 0 && b->mm.ops)
        for (int k = 0; k < 3; k++)
            model_work_free(&b->mm, &b->mw[k]);
    model_free(&b->mm);
}

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
// modality): all.n · M rows.
static void mmset_init(MmSet *t, const Bomm *b) {
    int64_t cap = b->all.n * b->M + 1;
    t->emb = xmalloc((size_t)cap * b->M * b->D * sizeof(float));
    t->mask = xmalloc((size_t)cap);
    t->label = xmalloc((size_t)cap * sizeof(int));
    t->weight = xmalloc((size_t)cap * sizeof(float));
    t->teacher = xmalloc((size_t)cap * b->K * sizeof(float));
    t->n = 0, t->cap = cap;
}

static void mmset_add(MmSet *t, const Bomm *b, const float *emb, unsigned mask, int label,
                      float weight, const float *teacher) {
    CHECK(t->n < t->cap, "large-model set full (%lld rows)", (long long)t->cap);
    memcpy(t->emb + (size_t)t->n * b->M * b->D, emb, (size_t)b->M * b->D * sizeof(float));
    memcpy(t->teacher + (size_t)t->n * b->K, teacher, (size_t)b->K * sizeof(float));
    t->mask[t->n] = (uint8_t)mask, t->label[t->n] = label, t->weight[t->n] = weight;
    t->n++;
}

static void mmset_free(MmSet *t) {
    xfree(t->emb), xfree(t->mask), xfree(t->label), xfree(t->weight), xfree(t->teacher);
}

// GPA for modalities (ma, mb): pseudo-aligned pairs of single-modality rows into t; *right counts
// the pairs whose two rows both carry the pseudo-label as their true label. Returns the pairs.
static int gpa_pairs(Bomm *b, MmSet *t, int ma, int mb, float *merged, float *teacher,
                     double *right) {
    const BommRecords *all = &b->all;
    int M = b->M, D = b->D, K = b->K;
    AlignParams ap = {b->s.tau, b->s.delta, b->s.kappa};
    int64_t *ia = xmalloc((size_t)all->n * sizeof *ia + 1);
    int64_t *ib = xmalloc((size_t)all->n * sizeof *ib + 1);
    int na = 0, nb = 0;
    for (int64_t r = 0; r < all->n; r++) {
        if (all->mask[r] == 1u << ma) ia[na++] = r;
        if (all->mask[r] == 1u << mb) ib[nb++] = r;
    }
    float *ea = xmalloc((size_t)na * D * sizeof(float) + 1);
    float *eb = xmalloc((size_t)nb * D * sizeof(float) + 1);
    for (int j = 0; j < na; j++)
        bomm_centre(b, ea + (size_t)j * D, bomm_rec_emb(all, b, ia[j], ma), ma);
    for (int j = 0; j < nb; j++)
        bomm_centre(b, eb + (size_t)j * D, bomm_rec_emb(all, b, ib[j], mb), mb);
    int cap = na < nb ? na : nb;
    AlignPair *pairs = xmalloc((size_t)cap * sizeof *pairs + 1);
    int np =
        cap ? align_match(pairs, ea, na, ma, eb, nb, mb, b->protos_c, b->valid, K, M, D, &ap) : 0;
    for (int j = 0; j < np; j++) {
        int64_t ra = ia[pairs[j].a], rb = ib[pairs[j].b];
        memset(merged, 0, (size_t)M * D * sizeof(float));
        memcpy(merged + (size_t)ma * D, bomm_rec_emb(all, b, ra, ma), (size_t)D * sizeof(float));
        memcpy(merged + (size_t)mb * D, bomm_rec_emb(all, b, rb, mb), (size_t)D * sizeof(float));
        for (int k = 0; k < K; k++)
            teacher[k] = 0.5f * (all->probs[(size_t)ra * K + k] + all->probs[(size_t)rb * K + k]);
        mmset_add(t, b, merged, 1u << ma | 1u << mb, pairs[j].label, (float)pairs[j].weight,
                  teacher);
        *right += all->label[ra] == pairs[j].label && all->label[rb] == pairs[j].label;
    }
    xfree(ia), xfree(ib), xfree(ea), xfree(eb), xfree(pairs);
    return np;
}

// Aligned rows (>= 2 modalities), single-modality rows (bomm.mm-singles) and, with GPA,
// pseudo-aligned pairs of single-modality rows.
static void build_mm_set(Bomm *b, MmSet *t) {
    const BommRecords *all = &b->all;
    double aligned = 0, pairs = 0, right = 0;
    for (int64_t r = 0; r < all->n; r++) {
        int multi = bomm_popcount8(all->mask[r]) >= 2;
        if (multi || b->s.singles)
            mmset_add(t, b, bomm_rec_emb(all, b, r, 0), all->mask[r], all->label[r], 1.f,
                      all->probs + (size_t)r * b->K);
        aligned += multi;
    }
    if (b->s.gpa && b->have_protos) {
        float *merged = xmalloc((size_t)b->M * b->D * sizeof(float));
        float *teacher = xmalloc((size_t)b->K * sizeof(float));
        for (int ma = 0; ma < b->M; ma++)
            for (int mb = ma + 1; mb < b->M; mb++)
                if (b->mod_valid[ma] && b->mod_valid[mb])
                    pairs += gpa_pairs(b, t, ma, mb, merged, teacher, &right);
        xfree(merged), xfree(teacher);
    }
    b->diag.aligned = aligned;
    b->diag.pairs = b->s.gpa ? pairs : NAN;
    // Without uploaded labels the cloud cannot tell a right pair from a wrong one.
    b->diag.precision = b->s.gpa && pairs > 0 && b->s.upload_labels ? right / pairs : NAN;
}

// The large model's input for rows[0..B) of set t (one dense (B, D) block per modality), with
// their mask bits.
static void mm_input(Bomm *b, const MmSet *t, const int64_t *rows, int B, float **bufs,
                     uint8_t *mask, ModelInput *in) {
    int M = b->M, D = b->D;
    memset(in, 0, sizeof *in);
    in->B = B;
    for (int r = 0; r < B; r++) {
        unsigned bits = t->mask[rows[r]];
        for (int m = 0; m < M; m++) {
            memcpy(bufs[m] + (size_t)r * D, t->emb + (size_t)rows[r] * M * D + (size_t)m * D,
                   (size_t)D * sizeof(float));
            mask[(size_t)r * M + m] = (uint8_t)(bits >> m & 1);
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

// Scratch of the large model's training steps.
typedef struct {
    float *bufs[3][MODEL_MAX_MOD]; // (Bmax, D) inputs of the full view and the two single views
    uint8_t *masks[3];             // (Bmax, M)
    float *nce_probs, *nce_work;
    int64_t *multi; // (Bmax) the batch's rows with two or more modalities
} MmScratch;

// Cross-modal InfoNCE (symmetric) between the large model's views of each row's first and second
// modality, over the batch's rows that have two: the two views of one entity (or of one pseudo
// pair) attract, other rows repel. Adds the gradient; returns mm_con · the loss (0 with < 2 rows).
static double contrastive_step(Bomm *b, const MmSet *t, const int64_t *rows, int B, MmScratch *sc) {
    int M = b->M, W = b->s.mm_width, n = 0;
    for (int r = 0; r < B; r++)
        if (bomm_popcount8(t->mask[rows[r]]) >= 2) sc->multi[n++] = rows[r];
    if (n < 2) return 0;
    ModelInput in[3];
    for (int v = 1; v <= 2; v++) {
        mm_input(b, t, sc->multi, n, sc->bufs[v], sc->masks[v], &in[v]);
        for (int r = 0; r < n; r++) {
            unsigned bits = t->mask[sc->multi[r]];
            unsigned keep =
                v == 1 ? lowest_bits(bits, 1) : lowest_bits(bits, 2) & ~lowest_bits(bits, 1);
            for (int m = 0; m < M; m++)
                sc->masks[v][(size_t)r * M + m] = (uint8_t)(keep >> m & 1);
        }
        model_forward(&b->mm, b->mm_params, &in[v], &b->mw[v]);
    }
    const float *ra = b->mw[1].rep, *rb = b->mw[2].rep;
    double w = 0.5 * b->s.mm_con, nce = 0;
    nce += infonce_forward(sc->nce_probs, ra, rb, CON_TAU, n, W, sc->nce_work);
    infonce_backward(b->mw[1].drep, b->mw[2].drep, sc->nce_probs, ra, rb, CON_TAU, n, W, w,
                     sc->nce_work);
    nce += infonce_forward(sc->nce_probs, rb, ra, CON_TAU, n, W, sc->nce_work);
    infonce_backward(b->mw[2].drep, b->mw[1].drep, sc->nce_probs, rb, ra, CON_TAU, n, W, w,
                     sc->nce_work);
    for (int v = 1; v <= 2; v++)
        model_backward(&b->mm, b->mm_params, b->mm_grads, &in[v], &b->mw[v]);
    return w * nce;
}

static void scratch_init(MmScratch *sc, const Bomm *b) {
    int Bm = b->Bmax;
    for (int k = 0; k < 3; k++) {
        sc->masks[k] = xmalloc((size_t)Bm * b->M);
        for (int m = 0; m < b->M; m++)
            sc->bufs[k][m] = xmalloc((size_t)Bm * b->D * sizeof(float));
    }
    sc->nce_probs = xmalloc((size_t)Bm * Bm * sizeof(float));
    sc->nce_work = xmalloc(infonce_workspace_size(Bm, b->s.mm_width) * sizeof(float) + 16);
    sc->multi = xmalloc((size_t)Bm * sizeof *sc->multi);
}

static void scratch_free(MmScratch *sc, const Bomm *b) {
    for (int k = 0; k < 3; k++) {
        xfree(sc->masks[k]);
        for (int m = 0; m < b->M; m++)
            xfree(sc->bufs[k][m]);
    }
    xfree(sc->nce_probs), xfree(sc->nce_work), xfree(sc->multi);
}

void bomm_large_train(Bomm *b, int round) {
    MmSet t;
    mmset_init(&t, b);
    build_mm_set(b, &t);
    b->diag.mm_loss = NAN;
    if (t.n == 0) {
        mmset_free(&t);
        return;
    }
    int K = b->K, Bm = b->Bmax;
    TrainConfig tc = *b->env->tc;
    tc.sgd = 0; // the cloud's models train with AdamW at their own learning rate
    MmScratch scratch, *sc = &scratch;
    scratch_init(sc, b);
    float *weights = xmalloc((size_t)Bm * sizeof(float));
    int *labels = xmalloc((size_t)Bm * sizeof(int));
    int64_t *order = xmalloc((size_t)t.n * sizeof *order);
    Rng rng;
    rng_init(&rng, tc.seed, (uint32_t)round, (uint32_t)b->P, RNG_SHUFFLE);
    double loss_sum = 0;
    int64_t loss_n = 0;
    for (int ep = 0; ep < b->s.mm_epochs; ep++) {
        for (int64_t r = 0; r < t.n; r++)
            order[r] = r;
        rng_shuffle(&rng, order, t.n);
        for (int64_t start = 0; start < t.n; start += Bm) {
            int B = (int)(t.n - start < Bm ? t.n - start : Bm);
            const int64_t *rows = order + start;
            ModelInput in;
            for (int r = 0; r < B; r++)
                labels[r] = t.label[rows[r]], weights[r] = t.weight[rows[r]];
            mm_input(b, &t, rows, B, sc->bufs[0], sc->masks[0], &in);
            memset(b->mm_grads, 0, b->mm.n_params * sizeof(float));
            model_forward(&b->mm, b->mm_params, &in, &b->mw[0]);
            double loss = model_ce(&b->mm, &b->mw[0], B, labels, weights, 1.0, NULL);
            // KD from the small models: KL(p_SM ‖ p_LM), scaled to the batch mean.
            double kd = 0, scale = b->s.mm_kd / B;
            for (int r = 0; r < B && b->s.mm_kd > 0; r++)
                bomm_kl_soft_row(&kd, b->mw[0].dlogits + (size_t)r * K,
                                 b->mw[0].probs + (size_t)r * K, t.teacher + (size_t)rows[r] * K, K,
                                 scale);
            loss += kd * scale;
            model_backward(&b->mm, b->mm_params, b->mm_grads, &in, &b->mw[0]);
            if (b->s.mm_con > 0) loss += contrastive_step(b, &t, rows, B, sc);
            if (tc.clip > 0) clip_grad_global_norm(b->mm_grads, b->mm.n_params, NULL, 0, tc.clip);
            train_opt_step(&tc, b->s.mm_lr, b->mm_params, b->mm_grads, &b->mm_opt, b->mm.n_params,
                           NULL);
            loss_sum += loss * B, loss_n += B;
        }
    }
    b->diag.mm_loss = loss_sum / (double)loss_n;
    scratch_free(sc, b);
    xfree(weights), xfree(labels), xfree(order);
    mmset_free(&t);
}

// The large model's input for uploaded rows [start, start + B) of b->all, as uploaded.
static void upload_input(Bomm *b, int64_t start, int B, float **bufs, uint8_t *mask,
                         ModelInput *in) {
    int M = b->M, D = b->D;
    *in = (ModelInput){.B = B, .mask = mask};
    for (int r = 0; r < B; r++) {
        unsigned bits = b->all.mask[start + r];
        for (int m = 0; m < M; m++) {
            memcpy(bufs[m] + (size_t)r * D, bomm_rec_emb(&b->all, b, start + r, m),
                   (size_t)D * sizeof(float));
            mask[(size_t)r * M + m] = (uint8_t)(bits >> m & 1);
        }
    }
    for (int m = 0; m < M; m++)
        in->dense[m] = bufs[m];
}

void bomm_large_soft_labels(Bomm *b) {
    int M = b->M, D = b->D, K = b->K, Bm = b->Bmax;
    float *bufs[MODEL_MAX_MOD];
    uint8_t *mask = xmalloc((size_t)Bm * M);
    for (int m = 0; m < M; m++)
        bufs[m] = xmalloc((size_t)Bm * D * sizeof(float));
    for (int64_t start = 0; start < b->all.n; start += Bm) {
        int B = (int)(b->all.n - start < Bm ? b->all.n - start : Bm);
        ModelInput in;
        upload_input(b, start, B, bufs, mask, &in);
        model_forward(&b->mm, b->mm_params, &in, &b->mw[0]);
        softmax_forward(b->all_soft + (size_t)start * K, b->mw[0].logits, B, K);
    }
    xfree(mask);
    for (int m = 0; m < M; m++)
        xfree(bufs[m]);
}

double bomm_large_eval(Bomm *b, const float *sm_params, const SampleSet *test) {
    if (!b->s.use_mm || b->rank != 0 || test->n == 0) return NAN;
    int64_t ok = 0;
    for (int64_t start = 0; start < test->n; start += b->Bmax) {
        int B = (int)(test->n - start < b->Bmax ? test->n - start : b->Bmax);
        sampleset_batch(test, b->env->layout, NULL, start, B, &b->batch);
        model_encode(b->env->model, sm_params, &b->batch.in, &b->pw);
        ModelInput in = {.B = B, .mask = b->batch.mask};
        for (int m = 0; m < b->M; m++)
            in.dense[m] = b->pw.emb[m];
        model_forward(&b->mm, b->mm_params, &in, &b->mw[0]);
        ok += argmax_hits(b->mw[0].logits, b->batch.label, B, b->K);
    }
    return (double)ok / (double)test->n;
}
