// cdcca_cloud.c - CD-CCA's cloud (cdcca.h), rank 0: the teacher, the adaptation of each device's
// copy on its uploads (pseudo-labels, feature KD through learnable channel maps, logit KD) and the
// DWC downlink. Devices are served in party order, each from its own streams, so the cloud's work
// does not depend on the rank layout.
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/half.h"
#include "core/options.h"
#include "core/xalloc.h"
#include "models/mllm_file.h"
#include "models/mllm_kind.h"
#include "nn/distill.h"
#include "nn/loss.h"
#include "protocols/cdcca_impl.h"

#define RNG_KEY_CLOUD 0x43000000u // the cloud's shuffles and LoRA dropout of round r: key + r

typedef struct {
    int n;                    // rows
    uint8_t *mask;            // (n, n_mod) the modalities the cloud sees (encoders only)
    float *tok[MLLM_MAX_ENC]; // (n, n_tok, in_proj) zero where masked or absent
    int *pseudo;              // (n) the teacher's answers
    float *tlogits;           // (n, K) the teacher's option logits
    uint8_t *cap;             // (n) 1 = the row asks for a caption
    int *cap_ids, *cap_n;     // (n, cap_len + 1), (n) the teacher's captions (ids, without <eos>)
} Uploads;

void cd_cloud_init(Cdcca *c) {
    const OptSet *os = c->env.opts;
    MllmKindOpts t = {0};
    snprintf(t.base, sizeof t.base, "%s", c->o.teacher);
    snprintf(t.prompt, sizeof t.prompt, "%s", (const char *)optset_value(os, "mllm.prompt"));
    t.lora_r = *(const int *)optset_value(os, "mllm.lora_r");
    t.lora_alpha = *(const double *)optset_value(os, "mllm.lora_alpha");
    mllm_kind_create(&c->teacher, c->env.spec, &t);
    CHECK(mllm_kind_mllm(&c->teacher)->c.lm.D == c->Dt, "cdcca: the teacher's width changed");
    cd_net_init(&c->tnet, &c->teacher, c->env.batch, NULL);
    cd_caption_teacher_init(c);
    Rng rng;
    rng_init(&rng, c->env.tc->init_seed, 0, 0, RNG_INIT);
    model_init_params(&c->teacher, c->tnet.params, &rng); // the teacher's weights (B = 0 adapters)
    const int Ds = c->mm->c.lm.D;
    c->maps = xmalloc((size_t)c->P * c->n_map * sizeof(float));
    const size_t msz = (size_t)c->Dt * Ds + c->Dt;
    for (int p = 0; p < c->P; p++) { // PyTorch's Conv1d default, per device and map
        rng_init(&rng, c->env.tc->init_seed, 0x6d617073u, (uint32_t)p, RNG_INIT);
        for (int k = 0; k <= c->n_enc; k++) {
            float *W = c->maps + (size_t)p * c->n_map + (size_t)k * msz;
            feat_kd_init_map(W, W + (size_t)c->Dt * Ds, Ds, c->Dt, &rng);
        }
    }
    c->copy = xmalloc((size_t)c->P * c->ad.n * sizeof(float));
    c->mirror = xmalloc((size_t)c->P * c->ad.n * sizeof(float));
    for (int p = 0; p < c->P; p++) {
        memcpy(c->copy + (size_t)p * c->ad.n, c->source, c->ad.n * sizeof(float));
        memcpy(c->mirror + (size_t)p * c->ad.n, c->source, c->ad.n * sizeof(float));
    }
}

void cd_cloud_free(Cdcca *c) {
    if (c->teacher.ops) {
        cd_net_free(&c->tnet, &c->teacher);
        model_free(&c->teacher);
    }
    xfree(c->maps), xfree(c->copy), xfree(c->mirror);
}

// Reads one device block (written by cd_device_round) into u; CHECKs every length against len.
static void parse_uploads(const Cdcca *c, int p, const uint8_t *blk, int64_t len, Uploads *u) {
    const int nm = c->env.spec->n_mod;
    memset(u, 0, sizeof *u);
    CHECK(len >= 4, "cdcca: device %d's upload has %lld bytes", p, (long long)len);
    uint32_t n;
    memcpy(&n, blk, 4);
    const uint8_t *q = blk + 4, *end = blk + len;
    CHECK(n <= (uint32_t)c->o.chunk, "cdcca: device %d uploads %u rows of a %d-row chunk", p, n,
          c->o.chunk);
    u->n = (int)n;
    u->mask = xcalloc((size_t)n * nm + 1, 1);
    for (int e = 0; e < c->n_enc; e++)
        u->tok[e] = xcalloc((size_t)n * c->mm->n_tok[e] * c->mm->in_proj[e] + 1, sizeof(float));
    u->pseudo = xmalloc(((size_t)n + 1) * sizeof(int));
    u->tlogits = xmalloc(((size_t)n * c->model->K + 1) * sizeof(float));
    u->cap = xcalloc((size_t)n + 1, 1);
    u->cap_ids = xcalloc((size_t)n * (c->o.cap_len + 1) + 1, sizeof(int));
    u->cap_n = xcalloc((size_t)n + 1, sizeof(int));
    for (uint32_t r = 0; r < n; r++) {
        CHECK(q < end, "cdcca: device %d's upload ends inside row %u", p, r);
        int bits = *q & 0x7f;
        u->cap[r] = *q++ >> 7;
        CHECK(bits > 0 && bits < (1 << c->n_enc), "cdcca: device %d row %u: encoders 0x%x", p, r,
              bits);
        CHECK(!u->cap[r] || c->o.captions > 0,
              "cdcca: device %d row %u asks for a caption (--cdcca.captions=0)", p, r);
        for (int e = 0; e < c->n_enc; e++) {
            if (!(bits >> e & 1)) continue;
            const int L = c->mm->n_tok[e], D = c->mm->in_proj[e];
            u->mask[(size_t)r * nm + c->enc_mod[e]] = 1;
            const uint8_t *map = q;
            q += (L + 7) / 8;
            CHECK(q <= end, "cdcca: device %d row %u: bitmap past the end", p, r);
            float *z = u->tok[e] + (size_t)r * L * D;
            for (int t = 0; t < L; t++) {
                if (!(map[t / 8] >> (t % 8) & 1)) continue;
                CHECK(q + 2 * (size_t)D <= end, "cdcca: device %d row %u: tokens past the end", p,
                      r);
                for (int d = 0; d < D; d++, q += 2) {
                    uint16_t h;
                    memcpy(&h, q, 2);
                    z[(size_t)t * D + d] = half_to_float(h);
                }
            }
        }
        CHECK(q + sizeof(float) <= end, "cdcca: device %d row %u: no confidence", p, r);
        q += sizeof(float); // the confidence: logged by the device, not used by the cloud
    }
    CHECK(q == end, "cdcca: device %d's upload has %lld bytes after its rows", p,
          (long long)(end - q));
}

static void free_uploads(Uploads *u) {
    xfree(u->mask), xfree(u->pseudo), xfree(u->tlogits), xfree(u->cap), xfree(u->cap_ids);
    xfree(u->cap_n);
    for (int e = 0; e < MLLM_MAX_ENC; e++)
        xfree(u->tok[e]);
}

// Rows idx (B) of u as a batch of net n: mask, and the tokens gathered into tok (per encoder,
// (B, n_tok, in_proj), caller's buffers). The ModelInput reads no raw data.
static ModelInput gather(const Cdcca *c, const Uploads *u, const int64_t *idx, int B, uint8_t *mask,
                         float **tok) {
    const int nm = c->env.spec->n_mod;
    for (int b = 0; b < B; b++) {
        memcpy(mask + (size_t)b * nm, u->mask + (size_t)idx[b] * nm, (size_t)nm);
        for (int e = 0; e < c->n_enc; e++) {
            size_t sz = (size_t)c->mm->n_tok[e] * c->mm->in_proj[e];
            memcpy(tok[e] + (size_t)b * sz, u->tok[e] + (size_t)idx[b] * sz, sz * sizeof(float));
        }
    }
    ModelInput in = {.B = B, .mask = mask};
    return in;
}

// The teacher on a batch given as tokens: its option logits in c->tnet.w.logits.
static void teacher_forward(Cdcca *c, const ModelInput *in, float *const *tok) {
    mllm_kind_set_tokens(&c->tnet.w, (const float *const *)tok);
    c->tnet.w.train_rng = NULL;
    model_forward(&c->teacher, c->tnet.params, in, &c->tnet.w);
}

// Feature KD of the student's last forward (sw on batch sb) against the teacher's (tw on tb) on
// the final hidden states of every position and on each encoder's projected tokens, through
// device p's maps; sets sw's dhid_add / dproj_add (into kd scratch) and the maps' gradients.
// Returns the loss.
static double feature_kd(Cdcca *c, int p, MllmWork *sw, const MllmBatch *sb, const MllmWork *tw,
                         const MllmBatch *tb, float *mg, FeatKd *kw, float *kd_h,
                         float *kd_p[MLLM_MAX_ENC], float *hs, float *ht, float *dhs) {
    const int B = sb->B, Ds = c->mm->c.lm.D, Dt = c->Dt, T = sw->T;
    CHECK(tw->T == T,
          "cdcca: the teacher's sequences have %d positions, the student's %d (the "
          "prompts must be the same: the same tokenizer and --mllm.prompt)",
          tw->T, T);
    const size_t msz = (size_t)Dt * Ds + Dt;
    float *maps = c->maps + (size_t)p * c->n_map;
    double loss = 0;
    // hidden states at every position of every row
    int N = 0;
    for (int b = 0; b < B; b++) {
        CHECK(sb->len[b] == tb->len[b] && !memcmp(sb->ids + (size_t)b * T, tb->ids + (size_t)b * T,
                                                  sizeof(int) * sb->len[b]),
              "cdcca: row %d's sequence differs between the student and the teacher", b);
        for (int t = 0; t < sb->len[b]; t++, N++) {
            memcpy(hs + (size_t)N * Ds, mllm_hidden(sw, c->mm, b, t), Ds * sizeof(float));
            memcpy(ht + (size_t)N * Dt, mllm_hidden(tw, mllm_kind_mllm(&c->teacher), b, t),
                   Dt * sizeof(float));
        }
    }
    memset(dhs, 0, (size_t)N * Ds * sizeof(float));
    loss += c->o.kd_hidden * feat_kd_forward(kw, hs, ht, maps, maps + (size_t)Dt * Ds, N);
    feat_kd_backward(kw, dhs, mg, mg + (size_t)Dt * Ds, hs, ht, maps, maps + (size_t)Dt * Ds, N,
                     c->o.kd_hidden);
    memset(kd_h, 0, (size_t)B * T * Ds * sizeof(float));
    N = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < sb->len[b]; t++, N++)
            memcpy(kd_h + ((size_t)b * T + t) * Ds, dhs + (size_t)N * Ds, Ds * sizeof(float));
    sw->dhid_add = kd_h;
    // each encoder's projected tokens (the same rows in the same order in both)
    for (int e = 0; e < c->n_enc; e++) {
        int n = sw->n_rows[e] * c->mm->n_tok[e];
        CHECK(sw->n_rows[e] == tw->n_rows[e], "cdcca: encoder %d: %d rows, the teacher %d", e,
              sw->n_rows[e], tw->n_rows[e]);
        sw->dproj_add[e] = NULL;
        if (!n) continue;
        const float *W = maps + (size_t)(e + 1) * msz;
        float *g = mg + (size_t)(e + 1) * msz;
        memset(kd_p[e], 0, (size_t)n * Ds * sizeof(float));
        loss += c->o.kd_query *
                feat_kd_forward(kw, sw->proj[e], tw->proj[e], W, W + (size_t)Dt * Ds, n);
        feat_kd_backward(kw, kd_p[e], g, g + (size_t)Dt * Ds, sw->proj[e], tw->proj[e], W,
                         W + (size_t)Dt * Ds, n, c->o.kd_query);
        sw->dproj_add[e] = kd_p[e];
    }
    return loss;
}

// The teacher on the uploads: option logits and pseudo-labels of the multiple-choice rows (idx,
// n), a greedy caption of each caption row. tok and mask are gather's scratch.
static void teacher_answers(Cdcca *c, Uploads *u, const int64_t *idx, int n, uint8_t *mask,
                            float **tok) {
    const int K = c->model->K, Bmax = c->env.batch;
    for (int s = 0; s < n; s += Bmax) {
        int B = n - s < Bmax ? n - s : Bmax;
        ModelInput in = gather(c, u, idx + s, B, mask, tok);
        teacher_forward(c, &in, tok);
        for (int b = 0; b < B; b++) {
            const float *z = c->tnet.w.logits + (size_t)b * K;
            memcpy(u->tlogits + (size_t)idx[s + b] * K, z, K * sizeof(float));
            int best = 0;
            for (int k = 1; k < K; k++)
                if (z[k] > z[best]) best = k;
            u->pseudo[idx[s + b]] = best;
        }
    }
    const int nm = c->env.spec->n_mod, W = c->o.cap_len + 1;
    for (int r = 0; r < u->n; r++) {
        if (!u->cap[r]) continue;
        uint8_t has[MLLM_MAX_ENC] = {0};
        const float *in[MLLM_MAX_ENC] = {0};
        for (int e = 0; e < c->n_enc; e++) {
            has[e] = u->mask[(size_t)r * nm + c->enc_mod[e]];
            in[e] = u->tok[e] + (size_t)r * c->mm->n_tok[e] * c->mm->in_proj[e];
        }
        double conf;
        u->cap_n[r] = cd_caption_greedy(c, mllm_kind_mllm(&c->teacher), c->tnet.params,
                                        mllm_kind_work(&c->tnet.w), &c->tgen, has, in, 1,
                                        u->cap_ids + (size_t)r * W, &conf);
    }
}

double cd_cloud_adapt(Cdcca *c, int p, const uint8_t *blk, int64_t len, const RoundInfo *r) {
    Uploads u;
    parse_uploads(c, p, blk, len, &u);
    if (u.n == 0) {
        free_uploads(&u);
        return NAN;
    }
    const int K = c->model->K, nm = c->env.spec->n_mod, Bmax = c->env.batch;
    const int Ds = c->mm->c.lm.D;
    float *tok[MLLM_MAX_ENC] = {0};
    for (int e = 0; e < c->n_enc; e++)
        tok[e] = xmalloc((size_t)Bmax * c->mm->n_tok[e] * c->mm->in_proj[e] * sizeof(float));
    uint8_t *mask = xmalloc((size_t)Bmax * nm);
    // the rows of each task (multiple choice first), and the teacher's answers to them
    int64_t *idx = xmalloc((size_t)u.n * sizeof *idx), *ord = xmalloc((size_t)u.n * sizeof *ord);
    int n_mc = 0;
    for (int j = 0; j < u.n; j++)
        if (!u.cap[j]) idx[n_mc++] = j;
    for (int j = 0, k = n_mc; j < u.n; j++)
        if (u.cap[j]) idx[k++] = j;
    teacher_answers(c, &u, idx, n_mc, mask, tok);
    // the device's copy trains on them
    const int Tm = mllm_kind_work(&c->net.w)->Tmax, Dt = c->Dt;
    size_t Nmax = (size_t)Bmax * Tm;
    FeatKd kw = {0};
    FeatKdOpts ko = feat_kd_opts_default(); // db6, symmetric, J = 3: the paper's
    if (c->adapt == CDCCA_AKD) feat_kd_init(&kw, &ko, (int)Nmax, Ds, Dt);
    float *kd_h = xmalloc(Nmax * Ds * sizeof(float)), *hs = xmalloc(Nmax * Ds * sizeof(float));
    float *ht = xmalloc(Nmax * Dt * sizeof(float)), *dhs = xmalloc(Nmax * Ds * sizeof(float));
    float *kd_p[MLLM_MAX_ENC] = {0};
    for (int e = 0; e < c->n_enc; e++)
        kd_p[e] = xmalloc((size_t)Bmax * c->mm->n_tok[e] * Ds * sizeof(float));
    float *mg = xmalloc(c->n_map * sizeof(float)), *mm_ = xcalloc(c->n_map, sizeof(float));
    float *mv = xcalloc(c->n_map, sizeof(float)), pc[(size_t)Bmax * K], qc[(size_t)Bmax * K];
    int y[Bmax];
    float tl[(size_t)Bmax * K];
    CapBatch cb = {0};
    if (u.n > n_mc) cd_caption_batch_init(&cb, c, Bmax);
    const MllmTrain tr = mllm_kind_train(c->model, &c->ad);
    MllmWork *sw = mllm_kind_work(&c->net.w), *tw = mllm_kind_work(&c->tnet.w);
    const Mllm *tmm = mllm_kind_mllm(&c->teacher);
    cd_load(c, &c->net, c->copy + (size_t)p * c->ad.n);
    // a fresh AdamW each round: each cloud update is a new fine-tuning job, as in the released code
    for (int sgi = 0; sgi < c->ad.n_segs; sgi++) {
        memset(c->net.m + c->ad.seg[sgi].offset, 0, c->ad.seg[sgi].n * sizeof(float));
        memset(c->net.v + c->ad.seg[sgi].offset, 0, c->ad.seg[sgi].n * sizeof(float));
    }
    Rng shuf;
    rng_init(&shuf, c->env.tc->seed, RNG_KEY_CLOUD + (uint32_t)r->round, (uint32_t)p, RNG_SHUFFLE);
    rng_init(&c->drop, c->env.tc->seed, RNG_KEY_CLOUD + (uint32_t)r->round, (uint32_t)p,
             RNG_DROPOUT);
    const int n_cap = u.n - n_mc;
    const long spe = (n_mc + Bmax - 1) / Bmax + (n_cap + Bmax - 1) / Bmax,
               total = spe * c->o.epochs;
    const long warm = (long)ceil(c->o.warmup * (double)spe);
    double loss_sum = 0;
    long t = 0;
    for (int ep = 0; ep < c->o.epochs; ep++) {
        // each task's rows in a new order; a batch holds one task's rows
        rng_shuffle(&shuf, idx, u.n);
        int a = 0, z = n_mc;
        for (int j = 0; j < u.n; j++)
            ord[u.cap[idx[j]] ? z++ : a++] = idx[j];
        for (int s = 0; s < u.n; t++) {
            const int cap = s >= n_mc, end = cap ? u.n : n_mc;
            int B = end - s < Bmax ? end - s : Bmax;
            ModelInput in = gather(c, &u, ord + s, B, mask, tok);
            memset(mg, 0, c->n_map * sizeof(float));
            memset(c->net.grads, 0, c->model->n_params * sizeof(float));
            double loss = 0;
            if (!cap) {
                for (int b = 0; b < B; b++) {
                    y[b] = u.pseudo[ord[s + b]];
                    memcpy(tl + (size_t)b * K, u.tlogits + (size_t)ord[s + b] * K,
                           K * sizeof(float));
                }
                mllm_kind_set_tokens(&c->net.w, (const float *const *)tok);
                cd_forward(c, &c->net, &in, 1);
                loss = model_ce(c->model, &c->net.w, B, y, NULL, 1.0, NULL);
                if (c->adapt == CDCCA_LOGIT) {
                    loss += kl_div_forward(pc, qc, c->net.w.logits, tl, (float)c->o.kd_t, B, K);
                    kl_div_backward(c->net.w.dlogits, pc, qc, (float)c->o.kd_t, B, K, 1.0);
                } else if (c->adapt == CDCCA_AKD) {
                    teacher_forward(c, &in, tok);
                    loss +=
                        feature_kd(c, p, sw, mllm_kind_batch(&c->net.w), tw,
                                   mllm_kind_batch(&c->tnet.w), mg, &kw, kd_h, kd_p, hs, ht, dhs);
                }
                c->net.w.grad_sel = &c->ad;
                model_backward(c->model, c->net.params, c->net.grads, &in, &c->net.w);
            } else { // the teacher's caption: CE on its tokens (+ KD), through the LM loss
                const int *caps[Bmax];
                int cap_n[Bmax];
                for (int b = 0; b < B; b++)
                    caps[b] = u.cap_ids + (size_t)ord[s + b] * (c->o.cap_len + 1),
                    cap_n[b] = u.cap_n[ord[s + b]];
                for (int e = 0; e < c->n_enc; e++)
                    cb.in[e] = tok[e];
                cd_caption_batch(c, &cb, mask, caps, cap_n, B, 1);
                mllm_forward(c->mm, c->net.params, &cb.mb, sw, &c->drop);
                if (c->adapt != CDCCA_PSEUDO) mllm_forward(tmm, c->tnet.params, &cb.mb, tw, NULL);
                if (c->adapt == CDCCA_AKD)
                    loss +=
                        feature_kd(c, p, sw, &cb.mb, tw, &cb.mb, mg, &kw, kd_h, kd_p, hs, ht, dhs);
                else if (c->adapt == CDCCA_LOGIT)
                    loss += cd_caption_logit_kd(c, &cb, sw, tw, kd_h);
                loss += mllm_lm_loss_last(c->mm, c->net.params, c->net.grads, &tr, &cb.mb, cb.tgt,
                                          1.0, sw, NULL, NULL);
            }
            sw->dhid_add = NULL;
            for (int e = 0; e < MLLM_MAX_ENC; e++)
                sw->dproj_add[e] = NULL;
            double lr = lr_cosine_warmup(t, warm, total, (float)c->o.lr, (float)c->o.lr_min);
            cd_adamw(c, &c->net, lr, t + 1, c->maps + (size_t)p * c->n_map, mg, mm_, mv,
                     c->adapt == CDCCA_AKD ? c->n_map : 0, c->o.wd);
            loss_sum += loss;
            s += B;
        }
    }
    mllm_kind_set_tokens(&c->net.w, NULL);
    mllm_kind_set_tokens(&c->tnet.w, NULL);
    selection_pack(&c->ad, c->net.params, c->copy + (size_t)p * c->ad.n);
    feat_kd_free(&kw);
    cd_caption_batch_free(&cb);
    xfree(kd_h), xfree(hs), xfree(ht), xfree(dhs), xfree(mg), xfree(mm_), xfree(mv), xfree(mask);
    xfree(idx), xfree(ord);
    for (int e = 0; e < c->n_enc; e++)
        xfree(tok[e]), xfree(kd_p[e]);
    free_uploads(&u);
    return loss_sum / (double)t;
}

size_t cd_down_capacity(const Cdcca *c) {
    size_t n = 0;
    for (int t = 0; t < c->model->n_tensors; t++) {
        if (selection_packed_offset(c->model, &c->ad, t) < 0) continue;
        size_t k = c->model->tensor[t].n;
        n += 1 + 4 + 9 * k + 4 * quant_n_blocks(k, QUANT_BLOCK_DEFAULT);
    }
    return n;
}

int64_t cd_cloud_downlink(Cdcca *c, int p, uint8_t *out) {
    const size_t an = c->ad.n;
    float *copy = c->copy + (size_t)p * an, *mirror = c->mirror + (size_t)p * an;
    uint8_t *o = out;
    size_t nmax = 0;
    for (int t = 0; t < c->model->n_tensors; t++)
        if (selection_packed_offset(c->model, &c->ad, t) >= 0 && c->model->tensor[t].n > nmax)
            nmax = c->model->tensor[t].n;
    float *delta = xmalloc(nmax * sizeof(float)), *work = xmalloc(dwc_work_floats(nmax) * 4 + 16);
    double *key = xmalloc(dwc_work_doubles(nmax) * sizeof(double) + 16);
    uint32_t *uwork = xmalloc(dwc_work_u32(nmax) * sizeof(uint32_t) + 16);
    uint32_t *idx = xmalloc(nmax * sizeof(uint32_t) + 4);
    uint8_t *codes = xmalloc(nmax + 4);
    float *scales = xmalloc(quant_n_blocks(nmax, QUANT_BLOCK_DEFAULT) * sizeof(float) + 4);
    for (int t = 0; t < c->model->n_tensors; t++) {
        int64_t po = selection_packed_offset(c->model, &c->ad, t);
        if (po < 0) continue;
        size_t n = c->model->tensor[t].n;
        if (!c->o.dwc) { // the full tensor in float32
            *o++ = 1;
            memcpy(o, copy + po, n * sizeof(float)), o += n * sizeof(float);
            continue;
        }
        for (size_t j = 0; j < n; j++)
            delta[j] = copy[po + j] - mirror[po + j];
        DwcMsg m = {.idx = idx, .codes = codes, .scales = scales};
        dwc_encode(&m, &c->dwc, delta, mirror + po, n, key, work, uwork);
        *o++ = (uint8_t)m.send;
        if (!m.send) continue;
        uint32_t k = (uint32_t)m.k;
        memcpy(o, &k, 4), o += 4;
        if (c->dwc.rho < 1) memcpy(o, m.idx, (size_t)k * 4), o += (size_t)k * 4;
        size_t cb = quant_code_bytes(c->dwc.fmt, k), nb = quant_n_blocks(k, c->dwc.block);
        memcpy(o, m.codes, cb), o += cb;
        memcpy(o, m.scales, nb * sizeof(float)), o += nb * sizeof(float);
    }
    xfree(delta), xfree(work), xfree(key), xfree(uwork), xfree(idx), xfree(codes), xfree(scales);
    int64_t len = o - out;
    cd_apply_msg(c, mirror, out, len, p); // exactly what the device will hold
    return len;
}
