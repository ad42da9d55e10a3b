// bomm_gen.c - BoMM's completion generators on the cloud (PMAC, bomm.h): one generator per
// (source → target) modality pair, trained on the uploaded rows with a supervised term (complete
// rows + prototype anchoring) and, after the warm-up, DPO against the frozen warm-up snapshot, with
// candidates ranked by the large model's label likelihood plus prototype consistency, under the
// real-time schedule. [I] reconstruction from the BoMM abstract.
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "protocols/bomm_impl.h"

void bomm_gen_init(Bomm *b) {
    GenConfig gc = {.D = b->D, .H = b->s.gen_hidden};
    generator_create(&b->gen_model, &gc);
    b->gen = b->gen_model.impl;
    b->gen_n = b->gen_model.n_params;
    b->gen_bmax = b->Bmax + b->s.dpo_rows;
    gen_work_init(&b->gw, b->gen, b->gen_bmax); // >= Bmax: the party fills use it too
    size_t slots = (size_t)b->M * (size_t)b->M, n = b->gen_n * slots;
    b->gen_params = xcalloc_aligned(n * sizeof(float));
    b->gen_trained = xcalloc(slots, 1);
    if (b->rank != 0) return;
    b->gen_ref = xcalloc_aligned(n * sizeof(float));
    b->gen_m = xcalloc_aligned(n * sizeof(float));
    b->gen_v = xcalloc_aligned(n * sizeof(float));
    b->gen_grads = xcalloc_aligned(b->gen_n * sizeof(float));
    b->gen_step = xcalloc(slots, sizeof *b->gen_step);
    for (size_t k = 0; k < slots; k++) {
        Rng r;
        rng_init(&r, b->env->tc->init_seed, 0, (uint32_t)(b->P + 2 + k), RNG_INIT);
        model_init_params(&b->gen_model, b->gen_params + k * b->gen_n, &r);
    }
    memcpy(b->gen_ref, b->gen_params, n * sizeof(float));
}

void bomm_gen_free(Bomm *b) {
    gen_work_free(&b->gw);
    xfree(b->gen_params), xfree(b->gen_trained), xfree(b->gen_ref), xfree(b->gen_m);
    xfree(b->gen_v), xfree(b->gen_grads), xfree(b->gen_step);
    model_free(&b->gen_model);
}

uint32_t bomm_gen_targets(const Bomm *b) {
    uint32_t out = 0;
    for (int t = 0; t < b->M; t++)
        for (int s = 0; s < b->M; s++)
            if (b->gen_trained[t * b->M + s]) out |= 1u << t;
    return out;
}

// λ_t: 1 (supervised only) without DPO or during the warm-up; with the mix schedule a cosine decay
// from 1 after the warm-up to lambda_min at the last round; else the fixed λ.
static double gen_lambda(const Bomm *b, int round) {
    if (!b->s.dpo || !b->s.use_mm || round <= b->s.warmup) return 1.0;
    if (!(b->s.schedule & SCHED_MIX)) return b->s.lambda_fixed;
    int span = b->env->rounds - b->s.warmup;
    double f = span > 0 ? (double)(round - b->s.warmup) / span : 1.0;
    return b->s.lambda_min + (1 - b->s.lambda_min) * 0.5 * (1 + cos(3.14159265358979323846 * f));
}

// Preference pairs for slot (t ← s) on up to dpo_rows of its rows: candidates from the current
// policy, scored by the large model's likelihood of the true label plus prototype consistency.
static int dpo_pairs(Bomm *b, int t, int s, const int64_t *rows, const int *chat, int n, int round,
                     int64_t *pair_row, float *zw, float *zl) {
    int M = b->M, D = b->D, K = b->K, nc = b->s.candidates;
    int per = b->mm_bmax / nc; // rows scored per large-model forward
    uint64_t seed = b->env->tc->seed;
    const BommRecords *all = &b->all;
    int64_t *pick = xmalloc((size_t)n * sizeof *pick);
    Rng rng;
    rng_init(&rng, seed, (uint32_t)round, (uint32_t)(b->P + 2 + t * M + s), RNG_SELECT);
    int k = n < b->s.dpo_rows ? n : b->s.dpo_rows;
    rng_sample_prefix(&rng, pick, n, k);
    float *src = xmalloc((size_t)per * D * sizeof(float)),
          *proto = xmalloc((size_t)per * D * sizeof(float));
    float *cand = xmalloc((size_t)per * nc * D * sizeof(float));
    float *bufs[MODEL_MAX_MOD];
    for (int m = 0; m < M; m++)
        bufs[m] = xcalloc((size_t)per * nc * D, sizeof(float));
    uint8_t *mask = xmalloc((size_t)per * nc * M);
    float *rewards = xmalloc((size_t)nc * sizeof(float));
    float sigma = bomm_policy_sigma(b, t);
    int np = 0;
    for (int j0 = 0; j0 < k; j0 += per) {
        int B = k - j0 < per ? k - j0 : per;
        for (int r = 0; r < B; r++) {
            int64_t row = rows[pick[j0 + r]];
            memcpy(src + (size_t)r * D, bomm_rec_emb(all, b, row, s), (size_t)D * sizeof(float));
            memcpy(proto + (size_t)r * D, bomm_proto_at(b, chat[pick[j0 + r]], t),
                   (size_t)D * sizeof(float));
        }
        gen_forward(b->gen, bomm_gen_slot(b, b->gen_params, t, s), src, proto, B, &b->gw);
        for (int r = 0; r < B; r++)
            gen_sample_candidates(cand + (size_t)r * nc * D, b->gw.mu + (size_t)r * D, sigma, nc, D,
                                  seed, (uint32_t)round, (uint32_t)((t * M + s) << 20 | (j0 + r)));
        ModelInput in = {.B = B * nc, .mask = mask};
        memset(mask, 0, (size_t)B * nc * M);
        for (int r = 0; r < B; r++)
            for (int j = 0; j < nc; j++) {
                size_t x = (size_t)r * nc + j;
                memcpy(bufs[s] + x * D, src + (size_t)r * D, (size_t)D * sizeof(float));
                memcpy(bufs[t] + x * D, cand + x * D, (size_t)D * sizeof(float));
                mask[x * M + s] = mask[x * M + t] = 1;
            }
        for (int m = 0; m < M; m++)
            in.dense[m] = bufs[m];
        model_forward(&b->mm, b->mm_params, &in, &b->mw[0]);
        softmax_forward(b->mw[0].probs, b->mw[0].logits, B * nc, K);
        for (int r = 0; r < B; r++) {
            int64_t row = rows[pick[j0 + r]];
            int y = all->label[row];
            const float *py = bomm_proto_at(b, y, t);
            for (int j = 0; j < nc; j++) {
                size_t x = (size_t)r * nc + j;
                float cos = 0.f;
                if (py) cosine_forward(&cos, cand + x * D, py, 1, D);
                rewards[j] = logf(fmaxf(b->mw[0].probs[x * K + y], 1e-30f)) +
                             (py ? (float)b->s.eta * cos : 0.f);
            }
            int best, worst;
            if (!gen_rank_candidates(&best, &worst, rewards, nc)) continue;
            pair_row[np] = pick[j0 + r];
            memcpy(zw + (size_t)np * D, cand + ((size_t)r * nc + best) * D,
                   (size_t)D * sizeof(float));
            memcpy(zl + (size_t)np * D, cand + ((size_t)r * nc + worst) * D,
                   (size_t)D * sizeof(float));
            np++;
        }
    }
    xfree(pick), xfree(src), xfree(proto), xfree(cand), xfree(mask), xfree(rewards);
    for (int m = 0; m < M; m++)
        xfree(bufs[m]);
    return np;
}

// Scratch of one generator's batches: sources, prototypes, targets and their flags.
typedef struct {
    float *zs, *pr, *tg; // (gen_bmax, D)
    uint8_t *has;        // (gen_bmax)
} GenScratch;

// One slot's epochs over its n rows (rows, with pseudo-labels rchat), np DPO pairs first in each
// batch. Accumulates the loss parts into the sums.
static void train_slot(Bomm *b, int t, int s, const int64_t *rows, const int *rchat, int n, int np,
                       const int64_t *pair_row, const float *zw, const float *zl, double lambda,
                       int round, GenScratch *g, double *sup, double *dpo, double *acc, int *steps,
                       int *dsteps) {
    int M = b->M, D = b->D, Bm = b->Bmax;
    const BommRecords *all = &b->all;
    TrainConfig tc = *b->env->tc;
    tc.sgd = 0;
    float *params = bomm_gen_slot(b, b->gen_params, t, s);
    size_t slot = (size_t)t * M + s;
    int64_t *order = xmalloc((size_t)n * sizeof *order);
    Rng rng;
    rng_init(&rng, tc.seed, (uint32_t)round, (uint32_t)(b->P + 2 + slot), RNG_SHUFFLE);
    int n_batches = (n + Bm - 1) / Bm;
    int per_batch = np ? (np + n_batches - 1) / n_batches : 0;
    GenLossCfg lc = {(float)lambda, (float)b->s.lambda_a, (float)b->s.beta,
                     bomm_policy_sigma(b, t)};
    OptState opt = {bomm_gen_slot(b, b->gen_m, t, s), bomm_gen_slot(b, b->gen_v, t, s),
                    b->gen_step[slot]};
    for (int ep = 0; ep < b->s.gen_epochs; ep++) {
        for (int64_t r = 0; r < n; r++)
            order[r] = r;
        rng_shuffle(&rng, order, n);
        for (int bi = 0; bi < n_batches; bi++) {
            int p0 = bi * per_batch, npb = np - p0 < per_batch ? np - p0 : per_batch;
            if (npb < 0) npb = 0;
            int s0 = bi * Bm, ns = n - s0 < Bm ? n - s0 : Bm;
            int B = npb + ns;
            for (int r = 0; r < B; r++) {
                int j = r < npb ? (int)pair_row[p0 + r] : (int)order[s0 + r - npb];
                int64_t row = rows[j];
                memcpy(g->zs + (size_t)r * D, bomm_rec_emb(all, b, row, s),
                       (size_t)D * sizeof(float));
                memcpy(g->pr + (size_t)r * D, bomm_proto_at(b, rchat[j], t),
                       (size_t)D * sizeof(float));
                g->has[r] = (uint8_t)(all->mask[row] >> t & 1);
                memcpy(g->tg + (size_t)r * D, bomm_rec_emb(all, b, row, t),
                       (size_t)D * sizeof(float));
            }
            GenBatch gb = {.B = B,
                           .z_src = g->zs,
                           .proto = g->pr,
                           .target = g->tg,
                           .has_target = g->has,
                           .n_pair = npb,
                           .z_w = zw + (size_t)p0 * D,
                           .z_l = zl + (size_t)p0 * D};
            GenLossParts parts;
            memset(b->gen_grads, 0, b->gen_n * sizeof(float));
            gen_mixed_step(b->gen, params, npb ? bomm_gen_slot(b, b->gen_ref, t, s) : NULL,
                           b->gen_grads, &gb, &lc, &b->gw, &parts);
            if (tc.clip > 0) clip_grad_global_norm(b->gen_grads, b->gen_n, NULL, 0, tc.clip);
            train_opt_step(&tc, b->s.gen_lr, params, b->gen_grads, &opt, b->gen_n, NULL);
            *sup += parts.sup, (*steps)++;
            if (npb) *dpo += parts.dpo, *acc += parts.pair_acc, (*dsteps)++;
        }
    }
    b->gen_step[slot] = opt.step;
    xfree(order);
}

void bomm_gen_train(Bomm *b, int round) {
    int M = b->M, D = b->D;
    const BommRecords *all = &b->all;
    size_t slots = (size_t)M * M;
    int use_dpo = b->s.dpo && b->s.use_mm && round > b->s.warmup;
    if (use_dpo && round == b->s.warmup + 1) // the reference policy: the warm-up's result
        memcpy(b->gen_ref, b->gen_params, slots * b->gen_n * sizeof(float));
    double lambda = gen_lambda(b, round);
    int *chat = xmalloc((size_t)all->n * sizeof *chat + 1);
    for (int64_t r = 0; r < all->n; r++) {
        const float *emb[MODEL_MAX_MOD];
        for (int m = 0; m < M; m++)
            emb[m] = bomm_rec_emb(all, b, r, m);
        chat[r] = bomm_pseudo_label(b, emb, all->mask[r]);
    }
    int64_t *rows = xmalloc((size_t)all->n * sizeof *rows + 1);
    int *rchat = xmalloc((size_t)all->n * sizeof *rchat + 1);
    int64_t *pair_row = xmalloc((size_t)b->s.dpo_rows * sizeof *pair_row);
    float *zw = xmalloc((size_t)b->s.dpo_rows * D * sizeof(float));
    float *zl = xmalloc((size_t)b->s.dpo_rows * D * sizeof(float));
    GenScratch g = {xmalloc((size_t)b->gen_bmax * D * sizeof(float)),
                    xmalloc((size_t)b->gen_bmax * D * sizeof(float)),
                    xmalloc((size_t)b->gen_bmax * D * sizeof(float)), xmalloc((size_t)b->gen_bmax)};
    double sup = 0, dpo = 0, acc = 0;
    int steps = 0, dsteps = 0;
    for (int t = 0; t < M; t++)
        for (int s = 0; s < M; s++) {
            if (s == t) continue;
            int n = 0;
            for (int64_t r = 0; r < all->n; r++)
                if ((all->mask[r] >> s & 1) && bomm_proto_at(b, chat[r], t))
                    rows[n] = r, rchat[n] = chat[r], n++;
            if (n == 0) continue;
            int np = use_dpo ? dpo_pairs(b, t, s, rows, rchat, n, round, pair_row, zw, zl) : 0;
            train_slot(b, t, s, rows, rchat, n, np, pair_row, zw, zl, lambda, round, &g, &sup, &dpo,
                       &acc, &steps, &dsteps);
            b->gen_trained[(size_t)t * M + s] = 1;
        }
    b->diag.lambda = lambda;
    b->diag.gen_sup = steps ? sup / steps : NAN;
    b->diag.gen_dpo = dsteps ? dpo / dsteps : NAN;
    b->diag.gen_pair_acc = dsteps ? acc / dsteps : NAN;
    xfree(chat), xfree(rows), xfree(rchat), xfree(pair_row), xfree(zw), xfree(zl);
    xfree(g.zs), xfree(g.pr), xfree(g.tg), xfree(g.has);
}
