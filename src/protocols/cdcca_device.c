// cdcca_device.c - CD-CCA's devices (cdcca.h): the shifted stream, inference, the UTS uplink, the
// test-time baselines (TENT, CoTTA-lite), the downlink's apply and the per-stage evaluation. Every
// draw comes from a stream keyed by (seed, stage or round, party), so a device's work does not
// depend on the rank that hosts it.
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/half.h"
#include "core/xalloc.h"
#include "data/shift.h"
#include "models/mllm_kind.h"
#include "nn/distill.h"
#include "nn/loss.h"
#include "nn/tta.h"
#include "nn/uncertainty.h"
#include "protocols/cdcca_impl.h"

#define RNG_KEY_STREAM 0x53000000u // stream order of stage s: round key + s
#define RNG_KEY_AUG 0x41000000u    // cotta's augmentations of round r: round key + r

// A row's id for the shifts: the same row of the same party is shifted alike at any -np.
static int64_t row_id(int party, int64_t pos, int test) {
    return ((int64_t)test << 31) | ((int64_t)party << 20) | pos;
}

void cd_batch(Cdcca *c, const SampleSet *s, const int64_t *order, int64_t start, int B) {
    const SampleLayout *l = c->env.layout;
    sampleset_batch(s, l, order, start, B, &c->batch);
    if (c->text_mod >= 0 && !c->o.text) // the text stays out of the devices' questions too
        for (int b = 0; b < B; b++)
            c->batch.mask[(size_t)b * l->n_mod + c->text_mod] = 0;
}

// Rows order[start .. start + B) of s (order NULL: positions) into c->batch under stage's shift.
static void load_rows(Cdcca *c, const SampleSet *s, const int64_t *order, int64_t start, int B,
                      int stage, int party, int test) {
    cd_batch(c, s, order, start, B);
    if (stage == 0) return;
    int64_t ids[B];
    for (int b = 0; b < B; b++)
        ids[b] = row_id(party, order ? order[start + b] : start + b, test);
    const ModelSpec *sp = c->env.spec;
    for (int m = 0; m < sp->n_mod; m++) {
        if (sp->kind[m] == MODEL_TOKENS) {
            shift_tokens(stage, c->batch.tokens[m], B, sp->in_dim[m], sp->vocab[m], ids,
                         c->env.tc->seed);
            continue;
        }
        int e = mllm_encoder(c->mm, sp->mod_name[m]);
        const VitConfig *vc = &c->mm->c.enc[e].vit;
        shift_dense(stage, sp->mod_name[m], c->batch.dense[m], B, vc->H, vc->W, ids,
                    c->env.tc->seed);
    }
}

// The stored bytes of a row's present modalities (the uplink's reference).
static double raw_bytes(const Cdcca *c, const uint8_t *mask) {
    const SampleLayout *l = c->env.layout;
    double s = 0;
    for (int m = 0; m < l->n_mod; m++)
        if (mask[m]) s += (double)l->row_elems[m] * (l->dtype[m] == DS_U8 ? 1 : 4);
    return s;
}

// The bytes of one uploaded row as upload_row writes it (and cd_cloud_adapt parses it).
static size_t row_bytes(const Cdcca *c, const uint8_t *keep, int encbits) {
    size_t n = 1 + sizeof(float);
    for (int e = 0, off = 0; e < c->n_enc; off += c->mm->n_tok[e], e++) {
        if (!(encbits >> e & 1)) continue;
        int L = c->mm->n_tok[e];
        n += (size_t)(L + 7) / 8;
        for (int t = 0; t < L; t++)
            n += keep[off + t] ? (size_t)c->mm->in_proj[e] * 2 : 0;
    }
    return n;
}

// UTS's token level for the tokens z (L, D) of one encoder: keep[t] = 0 for the round(r·L) masked
// tokens. x is scratch of mc·L·D floats, u of L doubles, idx of 2L.
static void uts_tokens(Cdcca *c, const float *z, int L, int D, uint8_t *keep, float *x, double *u,
                       uint32_t *idx) {
    const int S = c->o.mc;
    const float p = (float)c->o.mc_p, scale = 1.0f / (1.0f - p);
    for (int s = 0; s < S; s++) // inverted dropout, as PyTorch's
        for (int i = 0; i < L * D; i++)
            x[(size_t)s * L * D + i] = rng_uniform(&c->drop) < p ? 0.0f : z[i] * scale;
    mc_token_variance(u, x, S, L, D);
    if (!strcmp(c->o.keep_name, "uncertain")) // mask the least uncertain instead
        for (int t = 0; t < L; t++)
            u[t] = -u[t];
    uint8_t sel[L];
    top_uncertain_tokens(sel, u, L, c->o.mask, idx);
    for (int t = 0; t < L; t++)
        keep[t] = !sel[t];
}

// Appends row b of the last forward to device i's upload block, marked as a caption row (the
// task's prompt) when caption; returns 0 (nothing appended) for a row without any encoder's
// modality: its text never leaves the device, so there is nothing to send.
static int upload_row(Cdcca *c, int i, int b, double conf, const uint8_t *present, int caption) {
    MllmWork *mw = mllm_kind_work(&c->net.w);
    int maxL = 0, maxD = 0, tokens = 0;
    for (int e = 0; e < c->n_enc; e++) {
        if (c->mm->n_tok[e] > maxL) maxL = c->mm->n_tok[e];
        if (c->mm->in_proj[e] > maxD) maxD = c->mm->in_proj[e];
        tokens += c->mm->n_tok[e];
    }
    float x[(size_t)c->o.mc * maxL * maxD];
    double u[maxL];
    uint32_t idx[2 * maxL];
    uint8_t keep[tokens];
    const float *z_of[MLLM_MAX_ENC] = {0}; // encoder e's tokens of row b, NULL when it sends none
    int encbits = 0;
    for (int e = 0, off = 0; e < c->n_enc; off += c->mm->n_tok[e], e++) {
        const int L = c->mm->n_tok[e], D = c->mm->in_proj[e];
        int k = -1;
        for (int j = 0; j < mw->n_rows[e]; j++)
            if (mw->rows[e][j] == b) k = j;
        if (k < 0 || !present[c->enc_mod[e]]) continue;
        encbits |= 1 << e;
        z_of[e] = mw->shuf[e] + (size_t)k * L * D;
        if (c->o.uts)
            uts_tokens(c, z_of[e], L, D, keep + off, x, u, idx);
        else
            memset(keep + off, 1, (size_t)L);
    }
    if (!encbits) return 0;
    uint8_t *o = c->up[i] + c->up_len[i];
    *o++ = (uint8_t)(encbits | caption << 7);
    for (int e = 0, off = 0; e < c->n_enc; off += c->mm->n_tok[e], e++) {
        if (!z_of[e]) continue;
        const int L = c->mm->n_tok[e], D = c->mm->in_proj[e];
        const float *z = z_of[e];
        memset(o, 0, (size_t)(L + 7) / 8);
        for (int t = 0; t < L; t++)
            if (keep[off + t]) o[t / 8] |= (uint8_t)(1u << (t % 8));
        o += (L + 7) / 8;
        for (int t = 0; t < L; t++) {
            if (!keep[off + t]) continue;
            for (int d = 0; d < D; d++) {
                uint16_t h = half_from_float(z[(size_t)t * D + d]);
                memcpy(o, &h, 2), o += 2;
            }
        }
    }
    float cf = (float)conf;
    memcpy(o, &cf, sizeof cf), o += sizeof cf;
    size_t n = (size_t)(o - (c->up[i] + c->up_len[i]));
    CHECK(n == row_bytes(c, keep, encbits), "cdcca: upload row of %zu bytes", n);
    c->up_len[i] += (int64_t)n;
    return 1;
}

// conf (B) = each row's confidence in its multiple-choice answer, from the last forward's option
// logits.
static void confidences(Cdcca *c, int B, double *conf) {
    const int K = c->model->K;
    for (int b = 0; b < B; b++) // one generated token (the option letter, constrained decoding)
        conf[b] = sequence_confidence(c->net.w.logits + (size_t)b * K, 1, K);
}

// Captions row b of c->batch (present: its n_mod flags) with the adapters in c->net; returns the
// caption's confidence. With f (else NULL), bs += its BLEU statistics against f's references.
static double caption_row(Cdcca *c, int b, const uint8_t *present, BleuStats *bs,
                          const SampleFacts *f) {
    uint8_t has[MLLM_MAX_ENC] = {0};
    const float *in[MLLM_MAX_ENC] = {0};
    for (int e = 0; e < c->n_enc; e++) {
        const int m = c->enc_mod[e];
        has[e] = present[m];
        in[e] = c->batch.dense[m] + (size_t)b * c->env.spec->in_dim[m];
    }
    int ids[c->o.cap_len + 1];
    double conf;
    int n = cd_caption_greedy(c, c->mm, c->net.params, mllm_kind_work(&c->net.w), &c->gen, has, in,
                              0, ids, &conf);
    if (f) cd_caption_score(c, bs, ids, n, f);
    return conf;
}

// One Adam step of device i's adapters on c->net.grads (the floats of sel move; its moments and
// step count persist between rounds, packed), then its adapters back from the net.
static void device_adam(Cdcca *c, int i, const Selection *sel) {
    CdNet *n = &c->net;
    const size_t an = c->ad.n;
    selection_unpack(&c->ad, c->tta_m + (size_t)i * an, n->m);
    selection_unpack(&c->ad, c->tta_v + (size_t)i * an, n->v);
    AdamWConfig ac = {.lr = (float)c->o.tta_lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    adamw_step(n->params, n->grads, n->m, n->v, c->model->n_params, sel->seg, sel->n_segs, &ac,
               ++c->tta_step[i]);
    selection_pack(&c->ad, n->m, c->tta_m + (size_t)i * an);
    selection_pack(&c->ad, n->v, c->tta_v + (size_t)i * an);
    selection_pack(&c->ad, n->params, c->dev + (size_t)i * an);
}

// TENT: one step of entropy minimisation of the norms on the batch.
static void tent_step(Cdcca *c, int i, int B) {
    CdNet *n = &c->net;
    const int K = c->model->K;
    n->w.grad_sel = &c->norms;
    memset(n->grads, 0, c->model->n_params * sizeof(float));
    entropy_backward(n->w.dlogits, n->w.logits, B, K, 1.0);
    model_backward(c->model, n->params, n->grads, &c->batch.in, &n->w);
    device_adam(c, i, &c->norms);
}

// CoTTA-lite: the EMA teacher's option distribution averaged over the rows as read and cotta_augs
// noisy copies (each the rows + N(0, 0.1²) on the dense inputs, from aug) is the student's soft
// target on the rows as read; then the EMA update and the stochastic restore to the source.
static void cotta_step(Cdcca *c, int i, int B, Rng *aug) {
    CdNet *n = &c->net;
    const int K = c->model->K, A = c->o.cotta_augs;
    const size_t an = c->ad.n;
    float *dev = c->dev + (size_t)i * an, *ema = c->ema + (size_t)i * an;
    const ModelSpec *sp = c->env.spec;
    float q[(size_t)B * K];
    memset(q, 0, sizeof q);
    float *orig[MODEL_MAX_MOD] = {0};
    for (int m = 0; m < sp->n_mod; m++)
        if (sp->kind[m] == MODEL_DENSE) {
            size_t sz = (size_t)B * sp->in_dim[m] * sizeof(float);
            orig[m] = xmalloc(sz);
            memcpy(orig[m], c->batch.dense[m], sz);
        }
    cd_load(c, n, ema);
    for (int a = 0; a <= A; a++) {
        for (int m = 0; m < sp->n_mod; m++)
            if (orig[m] && a > 0)
                for (size_t j = 0; j < (size_t)B * sp->in_dim[m]; j++)
                    c->batch.dense[m][j] = orig[m][j] + 0.1f * rng_normal(aug);
        cd_forward(c, n, &c->batch.in, 0);
        softmax_forward(c->probs, n->w.logits, B, K);
        for (size_t j = 0; j < (size_t)B * K; j++)
            q[j] += c->probs[j] / (float)(A + 1);
    }
    for (int m = 0; m < sp->n_mod; m++)
        if (orig[m]) {
            memcpy(c->batch.dense[m], orig[m], (size_t)B * sp->in_dim[m] * sizeof(float));
            xfree(orig[m]);
        }
    // the student on the rows as read: soft-target CE
    cd_load(c, n, dev);
    cd_forward(c, n, &c->batch.in, 1);
    n->w.grad_sel = &c->ad;
    memset(n->grads, 0, c->model->n_params * sizeof(float));
    soft_ce_forward(c->probs, n->w.logits, q, B, K);
    soft_ce_backward(n->w.dlogits, c->probs, q, B, K, 1.0);
    model_backward(c->model, n->params, n->grads, &c->batch.in, &n->w);
    device_adam(c, i, &c->ad);
    ema_update(ema, dev, an, c->o.cotta_ema);
    stochastic_restore(dev, c->source, an, c->o.cotta_restore, aug);
}

void cd_device_round(Cdcca *c, int i, const RoundInfo *r) {
    const int party = c->first + i;
    const int stage = cd_stage(c, r->round), chunk = cd_chunk(c, r->round);
    double *st = c->stats + (size_t)i * c->n_stats;
    for (int j = 0; j < c->n_stats; j++)
        st[j] = j >= CS_ACC ? NAN : 0.0;
    c->up_len[i] = 0;
    const SampleSet *s = &c->env.train[i];
    if (s->n == 0) return;
    // this stage's order of the device's rows, and the round's chunk of it
    Rng g;
    rng_init(&g, c->env.tc->seed, RNG_KEY_STREAM + (uint32_t)stage, (uint32_t)party, RNG_SHUFFLE);
    int64_t *perm = xmalloc((size_t)s->n * sizeof *perm);
    for (int64_t j = 0; j < s->n; j++)
        perm[j] = j;
    rng_shuffle(&g, perm, s->n);
    const int C = c->o.chunk;
    int64_t *order = xmalloc((size_t)C * sizeof *order);
    for (int k = 0; k < C; k++)
        order[k] = perm[((int64_t)chunk * C + k) % s->n];
    xfree(perm);
    rng_init(&c->drop, c->env.tc->seed, (uint32_t)r->round, (uint32_t)party, RNG_DROPOUT);
    Rng aug;
    rng_init(&aug, c->env.tc->seed, RNG_KEY_AUG + (uint32_t)r->round, (uint32_t)party, RNG_DATA);
    const int Bmax = c->batch.Bmax, nm = c->env.spec->n_mod;
    float *dev = c->dev + (size_t)i * c->ad.n;
    for (int start = 0; start < C; start += Bmax) {
        int B = C - start < Bmax ? C - start : Bmax;
        load_rows(c, s, order, start, B, stage, party, 0);
        uint8_t present[(size_t)B * nm];
        for (int b = 0; b < B; b++)
            for (int m = 0; m < nm; m++)
                present[(size_t)b * nm + m] = c->batch.mask[(size_t)b * nm + m];
        // inference: what the device answers (cotta answers with its EMA teacher)
        cd_load(c, &c->net, c->adapt == CDCCA_COTTA ? c->ema + (size_t)i * c->ad.n : dev);
        cd_forward(c, &c->net, &c->batch.in, 0);
        double conf[B];
        uint8_t cap[B];
        confidences(c, B, conf);
        st[CS_ROWS] += B;
        for (int b = 0; b < B; b++) {
            st[CS_RAW_BYTES] += raw_bytes(c, present + (size_t)b * nm);
            cap[b] =
                (uint8_t)cd_caption_row(c, party, order[start + b], 0, present + (size_t)b * nm);
        }
        for (int b = 0; b < B; b++) { // the multiple-choice rows
            if (cap[b]) continue;
            st[CS_CONF] += conf[b], st[CS_UNCERTAIN] += conf[b] < c->o.conf;
            if (!c->cloud_adapts || (c->o.uts && conf[b] >= c->o.conf)) continue;
            size_t before = (size_t)c->up_len[i];
            st[CS_UP_ROWS] += upload_row(c, i, b, conf[b], present + (size_t)b * nm, 0);
            st[CS_UP_BYTES] += (double)((size_t)c->up_len[i] - before);
        }
        for (int b = 0; b < B; b++) { // the caption rows, with the same adapters
            if (!cap[b]) continue;
            const uint8_t *pr = present + (size_t)b * nm;
            double cf = caption_row(c, b, pr, NULL, NULL);
            st[CS_CAP_ROWS]++;
            st[CS_CONF] += cf, st[CS_UNCERTAIN] += cf < c->o.conf;
            if (!c->cloud_adapts || (c->o.uts && cf >= c->o.conf)) continue;
            size_t before = (size_t)c->up_len[i];
            int up = upload_row(c, i, 0, cf, pr, 1); // row 0 of the caption's forward
            st[CS_UP_ROWS] += up, st[CS_CAP_UP] += up;
            st[CS_UP_BYTES] += (double)((size_t)c->up_len[i] - before);
        }
        // the device baselines adapt on every row's inputs (through the multiple-choice prompt)
        if (c->adapt == CDCCA_TENT) {
            cd_load(c, &c->net, dev);
            cd_forward(c, &c->net, &c->batch.in, 1);
            tent_step(c, i, B);
        } else if (c->adapt == CDCCA_COTTA) {
            cotta_step(c, i, B, &aug);
        }
    }
    if (c->cloud_adapts) { // the block's header: its row count
        memmove(c->up[i] + 4, c->up[i], (size_t)c->up_len[i]);
        uint32_t nrows = (uint32_t)st[CS_UP_ROWS];
        memcpy(c->up[i], &nrows, 4);
        c->up_len[i] += 4;
        st[CS_UP_BYTES] += 4;
    }
    xfree(order);
}

void cd_device_evaluate(Cdcca *c, int i, int stage) {
    const int party = c->first + i, K = c->model->K, nm = c->env.spec->n_mod;
    const SampleSet *s = &c->env.test[i];
    double *st = c->stats + (size_t)i * c->n_stats;
    cd_load(c, &c->net, (c->adapt == CDCCA_COTTA ? c->ema : c->dev) + (size_t)i * c->ad.n);
    BleuStats bs;
    bleu_stats_init(&bs);
    for (int j = 1; j <= stage; j++) {
        int64_t hits = 0;
        for (int64_t start = 0; start < s->n; start += c->batch.Bmax) {
            int B = (int)(s->n - start < c->batch.Bmax ? s->n - start : c->batch.Bmax);
            load_rows(c, s, NULL, start, B, j, party, 1);
            cd_forward(c, &c->net, &c->batch.in, 0);
            hits += argmax_hits(c->net.w.logits, c->batch.label, B, K);
            if (j < stage) continue;
            for (int b = 0; b < B; b++) { // this stage's captions
                const uint8_t *pr = c->batch.mask + (size_t)b * nm;
                if (cd_caption_row(c, party, start + b, 1, pr))
                    caption_row(c, b, pr, &bs, &c->facts[i][start + b]);
            }
        }
        st[CS_ACC + j - 1] = s->n ? (double)hits / (double)s->n : NAN;
    }
    for (int k = 0; k < BLEU_MAX_N; k++)
        st[CS_BLEU + k] = (double)bs.match[k], st[CS_BLEU + BLEU_MAX_N + k] = (double)bs.total[k];
    st[CS_BLEU + 8] = (double)bs.hyp_len, st[CS_BLEU + 9] = (double)bs.ref_len;
    st[CS_BLEU + 10] = (double)bs.sentences;
}
