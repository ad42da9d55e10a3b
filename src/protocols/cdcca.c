// cdcca.c - CD-CCA's round, records and checkpoint (cdcca.h), and what the device and cloud
// files share: the adapter selection, the devices' quantised weights, the source model, the
// optimizer step and the downlink's decoder.
#include "protocols/cdcca.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "data/holdout.h"
#include "models/mllm_file.h"
#include "models/mllm_kind.h"
#include "nn/optim.h"
#include "nn/quant.h"
#include "protocols/cdcca_impl.h"

#define RNG_KEY_SOURCE 0x534f5552u // the source tuning's streams (round key)
#define SPEC_CAP 8192

// ---- shared helpers ----

int cd_stage(const Cdcca *c, int round) {
    return (int)((int64_t)(round - 1) * c->S / c->rounds) + 1;
}

int cd_stage_end(const Cdcca *c, int round) {
    return round == c->rounds || cd_stage(c, round + 1) != cd_stage(c, round);
}

int cd_chunk(const Cdcca *c, int round) {
    int k = 0;
    while (round - 1 - k >= 1 && cd_stage(c, round - 1 - k) == cd_stage(c, round))
        k++;
    return k;
}

void cd_net_init(CdNet *n, const Model *m, int Bmax, const float *frozen) {
    memset(n, 0, sizeof *n);
    model_work_init(m, &n->w, Bmax);
    n->params = xcalloc_aligned(m->n_params * sizeof(float));
    if (frozen) memcpy(n->params, frozen, m->n_params * sizeof(float));
    n->grads = xcalloc_aligned(m->n_params * sizeof(float));
    n->m = xcalloc_aligned(m->n_params * sizeof(float));
    n->v = xcalloc_aligned(m->n_params * sizeof(float));
}

void cd_net_free(CdNet *n, const Model *m) {
    if (n->params) model_work_free(m, &n->w);
    xfree(n->params), xfree(n->grads), xfree(n->m), xfree(n->v);
    memset(n, 0, sizeof *n);
}

void cd_load(const Cdcca *c, CdNet *n, const float *adapters) {
    selection_unpack(&c->ad, adapters, n->params);
}

void cd_forward(Cdcca *c, CdNet *n, const ModelInput *in, int train) {
    n->w.train_rng = train ? &c->drop : NULL;
    model_forward(c->model, n->params, in, &n->w);
}

void cd_adamw(const Cdcca *c, CdNet *n, double lr, long t, float *extra, float *extra_g,
              float *extra_m, float *extra_v, size_t n_extra, double wd) {
    const size_t np = c->model->n_params;
    double g = grad_global_norm(n->grads, np, c->ad.seg, c->ad.n_segs), g2 = g * g;
    for (size_t j = 0; j < n_extra; j++)
        g2 += (double)extra_g[j] * extra_g[j];
    double norm = sqrt(g2);
    if (c->o.clip > 0 && norm > c->o.clip && isfinite(norm)) { // one clip over both
        float s = (float)(c->o.clip / norm);
        for (int k = 0; k < c->ad.n_segs; k++)
            for (size_t j = 0; j < c->ad.seg[k].n; j++)
                n->grads[c->ad.seg[k].offset + j] *= s;
        for (size_t j = 0; j < n_extra; j++)
            extra_g[j] *= s;
    }
    AdamWConfig ac = {
        .lr = (float)lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = (float)wd};
    adamw_step(n->params, n->grads, n->m, n->v, np, c->ad.seg, c->ad.n_segs, &ac, t);
    if (n_extra) {
        ParamSegment all = {0, n_extra};
        adamw_step(extra, extra_g, extra_m, extra_v, n_extra, &all, 1, &ac, t);
    }
}

void cd_apply_msg(const Cdcca *c, float *adapters, const uint8_t *msg, int64_t len, int p) {
    const uint8_t *q = msg, *end = msg + len;
    float *work = NULL;
    size_t work_n = 0;
    for (int t = 0; t < c->model->n_tensors; t++) {
        int64_t po = selection_packed_offset(c->model, &c->ad, t);
        if (po < 0) continue;
        const size_t n = c->model->tensor[t].n;
        CHECK(q < end, "cdcca: device %d's downlink ends before tensor %s", p,
              c->model->tensor[t].name);
        int send = *q++;
        if (!send) continue;
        if (!c->o.dwc) {
            CHECK(q + n * sizeof(float) <= end, "cdcca: device %d's downlink: %s cut short", p,
                  c->model->tensor[t].name);
            memcpy(adapters + po, q, n * sizeof(float)), q += n * sizeof(float);
            continue;
        }
        uint32_t k;
        CHECK(q + 4 <= end, "cdcca: device %d's downlink: %s has no count", p,
              c->model->tensor[t].name);
        memcpy(&k, q, 4), q += 4;
        CHECK(k == dwc_entries(n, c->dwc.rho), "cdcca: device %d's downlink: %s sends %u of %zu", p,
              c->model->tensor[t].name, k, n);
        size_t ib = c->dwc.rho < 1 ? (size_t)k * 4 : 0, cb = quant_code_bytes(c->dwc.fmt, k);
        size_t nb = quant_n_blocks(k, c->dwc.block);
        CHECK(q + ib + cb + nb * sizeof(float) <= end, "cdcca: device %d's downlink: %s cut short",
              p, c->model->tensor[t].name);
        // aligned copies of the fields (the bytes sit at any offset)
        uint32_t *idx = xmalloc(ib + 4);
        uint8_t *codes = xmalloc(cb + 1);
        float *scales = xmalloc(nb * sizeof(float) + 4);
        memcpy(idx, q, ib), q += ib;
        memcpy(codes, q, cb), q += cb;
        memcpy(scales, q, nb * sizeof(float)), q += nb * sizeof(float);
        if (ib)
            for (uint32_t j = 0; j < k; j++)
                CHECK(idx[j] < n && (j == 0 || idx[j] > idx[j - 1]),
                      "cdcca: device %d's downlink: %s index %u out of order or range", p,
                      c->model->tensor[t].name, idx[j]);
        if (k > work_n) xfree(work), work = xmalloc((size_t)k * sizeof(float)), work_n = k;
        DwcMsg m = {.send = 1, .k = k, .idx = ib ? idx : NULL, .codes = codes, .scales = scales};
        dwc_apply(adapters + po, &m, &c->dwc, n, work);
        xfree(idx), xfree(codes), xfree(scales);
    }
    CHECK(q == end, "cdcca: device %d's downlink has %lld bytes too many", p, (long long)(end - q));
    xfree(work);
}

// ---- setup ----

// The adapters as the released code trains them (names with lora, norm or bias): the LM's LoRA
// and RMSNorm weights, the projectors' biases; TENT's are the LM's norms.
static void select_adapters(Cdcca *c) {
    char *spec = xmalloc(SPEC_CAP), *nspec = xmalloc(SPEC_CAP), err[512];
    size_t a = 0, b = 0;
    spec[0] = nspec[0] = 0;
    for (int t = 0; t < c->model->n_tensors; t++) {
        const char *n = c->model->tensor[t].name;
        size_t len = strlen(n);
        int lm = !strncmp(n, "lm/", 3), norm = lm && strstr(n, "norm");
        int bias = !strncmp(n, "proj_", 5) && len > 2 && !strcmp(n + len - 2, "/b");
        if (!(strstr(n, "/lora_") || norm || bias)) continue;
        a += (size_t)snprintf(spec + a, SPEC_CAP - a, "%s%s", a ? "," : "", n);
        if (norm) b += (size_t)snprintf(nspec + b, SPEC_CAP - b, "%s%s", b ? "," : "", n);
        CHECK(a < SPEC_CAP && b < SPEC_CAP, "cdcca: too many adapter tensors");
    }
    CHECK(model_select(c->model, spec, &c->ad, err, sizeof err) == 0, "cdcca: %s", err);
    CHECK(model_select(c->model, nspec, &c->norms, err, sizeof err) == 0, "cdcca: %s", err);
    xfree(spec), xfree(nspec);
}

// The devices' weights: every frozen matrix through the block quantiser (encoded and decoded, so
// every rank computes with the values a device stores), the adapters in float32.
static void quantise_frozen(Cdcca *c) {
    const Model *m = c->model;
    c->frozen = xcalloc_aligned(m->n_params * sizeof(float));
    memcpy(c->frozen, c->env.global, m->n_params * sizeof(float));
    c->quant = !strcmp(c->o.quant_name, "int8")   ? QUANT_INT8
               : !strcmp(c->o.quant_name, "int4") ? QUANT_INT4
               : !strcmp(c->o.quant_name, "nf4")  ? QUANT_NF4
                                                  : -1;
    c->device_bytes = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const ModelTensor *mt = &m->tensor[t];
        int frozen = selection_packed_offset(m, &c->ad, t) < 0;
        if (c->quant < 0 || !frozen || mt->ndim < 2) {
            c->device_bytes += mt->n * sizeof(float);
            continue;
        }
        uint8_t *codes = xmalloc(quant_code_bytes(c->quant, mt->n) + 1);
        float *scales = xmalloc(quant_n_blocks(mt->n, QUANT_BLOCK_DEFAULT) * sizeof(float));
        quant_encode(c->quant, c->frozen + mt->off, mt->n, QUANT_BLOCK_DEFAULT, codes, scales);
        quant_decode(c->quant, codes, scales, mt->n, QUANT_BLOCK_DEFAULT, c->frozen + mt->off);
        c->device_bytes += quant_bytes(c->quant, mt->n, QUANT_BLOCK_DEFAULT);
        xfree(codes), xfree(scales);
    }
}

// The source model: rank 0 tunes the adapters on the public rows (the domain the base model was
// built on, unshifted): the question with its label and, with --cdcca.captions, every row's true
// caption too (the labelled source data teaches both tasks); every rank receives them.
static void tune_source(Cdcca *c) {
    c->source = xmalloc(c->ad.n * sizeof(float));
    selection_pack(&c->ad, c->frozen, c->source);
    if (c->rank == 0 &&
        (c->o.source_epochs > 0 || (c->o.captions > 0 && c->o.source_cap_epochs > 0))) {
        const Model *m = c->model;
        HoldoutFractions f = {m->pretrain_val_fraction, m->pretrain_public_fraction};
        int64_t *rows;
        int64_t n = holdout_rows(c->env.ds, HOLDOUT_PUBLIC, f, c->o.source_rows, &rows);
        CHECK(n > 0, "cdcca: the data has no public rows to tune the source model on "
                     "(--public-fraction)");
        uint8_t *masks = xmalloc((size_t)n);
        memset(masks, (1 << c->env.spec->n_mod) - 1, (size_t)n);
        SampleSet s;
        sampleset_load(&s, c->env.layout, c->env.ds, DS_TRAIN, rows, masks, n);
        const int W = c->o.cap_len + 1, caps = c->o.captions > 0, nm = c->env.spec->n_mod;
        int *cap = NULL, *cap_n = NULL;
        if (caps) { // masks now holds each row's caption modalities
            cap = xmalloc(((size_t)n * W + 1) * sizeof(int)), cap_n = xmalloc((size_t)n * 4);
            cd_caption_source(c, &s, rows, masks, cap, cap_n);
        }
        xfree(rows);
        int64_t *order = xmalloc((size_t)n * sizeof *order);
        for (int64_t j = 0; j < n; j++)
            order[j] = j;
        Rng shuf;
        rng_init(&shuf, c->env.tc->seed, RNG_KEY_SOURCE, 0, RNG_SHUFFLE);
        rng_init(&c->drop, c->env.tc->seed, RNG_KEY_SOURCE, 0, RNG_DROPOUT);
        CdNet *net = &c->net;
        MllmWork *sw = mllm_kind_work(&net->w);
        const MllmTrain tr = mllm_kind_train(m, &c->ad);
        CapBatch cb = {0};
        const int Bmax = c->batch.Bmax;
        if (caps) cd_caption_batch_init(&cb, c, Bmax);
        uint8_t *bmask = xmalloc((size_t)Bmax * nm);
        cd_load(c, net, c->source);
        // Two phases, as the base model's stages 3 and 4': the captions alone (the tiny student
        // needs many passes to caption again), then the question and the caption batch by batch
        // (as many passes of the question as without captions: more of it overfits). Each phase
        // has its own warm-up and cosine schedule; AdamW's moments carry over.
        const int Eq = c->o.source_epochs, Ec = caps ? c->o.source_cap_epochs : 0;
        const long spe = (long)((n + Bmax - 1) / Bmax);
        long t = 0; // AdamW's step
        int64_t hits = 0, seen = 0;
        double loss = 0, cap_loss = 0;
        for (int phase = caps ? 0 : 1; phase <= 1; phase++) {
            const int E = phase ? Eq : Ec;
            const long steps = spe * E * (phase && caps ? 2 : 1);
            long k = 0; // the phase's step
            for (int ep = 0; ep < E; ep++) {
                rng_shuffle(&shuf, order, n);
                hits = seen = 0, loss = cap_loss = 0;
                for (int64_t st = 0; st < n; st += Bmax)
                    for (int task = phase ? 0 : 1; task <= caps; task++, k++, t++) {
                        int B = (int)(n - st < Bmax ? n - st : Bmax);
                        cd_batch(c, &s, order, st, B);
                        memset(net->grads, 0, m->n_params * sizeof(float));
                        if (task == 0) {
                            cd_forward(c, net, &c->batch.in, 1);
                            net->w.grad_sel = &c->ad;
                            loss += model_ce(m, &net->w, B, c->batch.label, NULL, 1.0, &hits) * B;
                            model_backward(m, net->params, net->grads, &c->batch.in, &net->w);
                            seen += B;
                        } else {
                            const int *cp[Bmax];
                            int cn[Bmax];
                            for (int b = 0; b < B; b++) {
                                const int64_t j = order[st + b];
                                cp[b] = cap + (size_t)j * W, cn[b] = cap_n[j];
                                for (int q = 0; q < nm; q++)
                                    bmask[(size_t)b * nm + q] = (uint8_t)(masks[j] >> q & 1);
                            }
                            for (int e = 0; e < c->n_enc; e++)
                                cb.in[e] = c->batch.dense[c->enc_mod[e]];
                            cd_caption_batch(c, &cb, bmask, cp, cn, B, 0);
                            mllm_forward(c->mm, net->params, &cb.mb, sw, &c->drop);
                            cap_loss += mllm_lm_loss_last(c->mm, net->params, net->grads, &tr,
                                                          &cb.mb, cb.tgt, 1.0, sw, NULL, NULL) *
                                        B;
                        }
                        double lr =
                            lr_cosine_warmup(k, steps / E / 10, steps, (float)c->o.source_lr,
                                             (float)c->o.source_lr / 10);
                        cd_adamw(c, net, lr, t + 1, NULL, NULL, NULL, NULL, 0, 0.0);
                    }
            }
        }
        selection_pack(&c->ad, net->params, c->source);
        log_info(
            "cdcca: source model tuned on %lld public rows, %d epochs: last pass loss %.4f acc "
            "%.3f",
            (long long)n, Eq, seen ? loss / (double)seen : NAN,
            seen ? (double)hits / (double)seen : NAN);
        if (caps)
            log_info("cdcca: and on their captions, %d + %d epochs: last pass loss %.4f", Ec, Eq,
                     cap_loss / (double)n);
        cd_caption_batch_free(&cb);
        sampleset_free(&s);
        xfree(order), xfree(cap), xfree(cap_n), xfree(masks), xfree(bmask);
        memset(net->m, 0, m->n_params * sizeof(float)),
            memset(net->v, 0, m->n_params * sizeof(float));
    }
    comm_bcast(c->env.comm, c->source, c->ad.n, COMM_F32, 0, NULL); // deployed before the stream
}

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    (void)ext;
    Cdcca *c = xcalloc(1, sizeof *c);
    c->env = *env;
    c->o = *(const CdccaOpts *)opts;
    c->adapt = cdcca_adapt_of(c->o.adapt_name);
    c->cloud_adapts = c->adapt == CDCCA_AKD || c->adapt == CDCCA_PSEUDO || c->adapt == CDCCA_LOGIT;
    c->rank = comm_rank(env->comm), c->P = env->parties, c->first = env->first,
    c->count = env->count;
    c->model = env->model;
    CHECK(!strcmp(c->model->ops->kind, "mllm"),
          "--method=%s runs the devices' multimodal LLM: it needs --model=mllm, not --model=%s",
          env->method, c->model->ops->kind);
    c->mm = mllm_kind_mllm(c->model);
    c->S = c->o.stages;
    c->rounds = env->rounds;
    CHECK(c->rounds >= c->S,
          "--rounds=%d is fewer than --cdcca.stages=%d: every stage needs a round", c->rounds,
          c->S);
    CHECK(c->P < 2048, "--method=%s: at most 2047 devices (--parties=%d)", env->method, c->P);
    if (c->cloud_adapts) { // before anything large: the teacher must be this base model's
        char err[1024];
        const char *base = optset_value(env->opts, "mllm.base");
        CHECK(base && mllm_file_check_teacher(c->o.teacher, base, err, sizeof err) == 0,
              "--cdcca.teacher=%s: %s", c->o.teacher, base ? err : "no --mllm.base");
        MllmConfig tc;
        memset(&tc, 0, sizeof tc);
        CHECK(mllm_file_read_config(c->o.teacher, &tc, err, sizeof err) == 0, "--cdcca.teacher: %s",
              err);
        // the maps' size on every rank (the checkpoint's shapes): hidden, then one per encoder
        c->Dt = tc.lm.D;
        c->n_map = (size_t)(c->mm->c.n_enc + 1) * ((size_t)c->Dt * c->mm->c.lm.D + c->Dt);
    }
    c->n_enc = c->mm->c.n_enc, c->text_mod = -1;
    for (int m = 0; m < env->spec->n_mod; m++) {
        if (env->spec->kind[m] == MODEL_TOKENS) {
            c->text_mod = m;
            continue;
        }
        c->enc_mod[mllm_encoder(c->mm, env->spec->mod_name[m])] = m;
    }
    c->dwc = (DwcOpts){.tau_rel = c->o.tau,
                       .rho = c->o.rho,
                       .fmt = !strcmp(c->o.dwc_fmt_name, "int8")   ? QUANT_INT8
                              : !strcmp(c->o.dwc_fmt_name, "int4") ? QUANT_INT4
                                                                   : QUANT_NF4,
                       .block = QUANT_BLOCK_DEFAULT};
    select_adapters(c);
    quantise_frozen(c);
    batch_init(&c->batch, env->layout, env->batch);
    cd_net_init(&c->net, c->model, env->batch, c->frozen);
    c->probs = xmalloc((size_t)env->batch * c->model->K * sizeof(float));
    cd_caption_init(c);
    tune_source(c);
    const size_t an = c->ad.n;
    c->dev = xmalloc(((size_t)c->count * an + 1) * sizeof(float));
    for (int i = 0; i < c->count; i++)
        memcpy(c->dev + (size_t)i * an, c->source, an * sizeof(float));
    if (c->adapt == CDCCA_TENT || c->adapt == CDCCA_COTTA) {
        c->ema = xmalloc(((size_t)c->count * an + 1) * sizeof(float));
        memcpy(c->ema, c->dev, (size_t)c->count * an * sizeof(float));
        c->tta_m = xcalloc((size_t)c->count * an + 1, sizeof(float));
        c->tta_v = xcalloc((size_t)c->count * an + 1, sizeof(float));
        c->tta_step = xcalloc((size_t)c->count + 1, sizeof(int64_t));
    }
    c->n_stats = CS_ACC + c->S;
    c->stats = xcalloc((size_t)(c->count + 1) * c->n_stats, sizeof(double));
    c->up = xcalloc((size_t)c->count + 1, sizeof(uint8_t *));
    c->up_len = xcalloc((size_t)c->count + 1, sizeof(int64_t));
    size_t row = 1 + sizeof(float);
    for (int e = 0; e < c->n_enc; e++)
        row += (size_t)(c->mm->n_tok[e] + 7) / 8 + (size_t)c->mm->n_tok[e] * c->mm->in_proj[e] * 2;
    for (int i = 0; i < c->count; i++)
        c->up[i] = xmalloc(4 + (size_t)c->o.chunk * row);
    c->acc = xmalloc((size_t)c->S * c->S * sizeof(double));
    for (int j = 0; j < c->S * c->S; j++)
        c->acc[j] = NAN;
    c->bleu = xmalloc((size_t)c->S * 2 * sizeof(double));
    for (int j = 0; j < c->S * 2; j++)
        c->bleu[j] = NAN;
    if (c->rank == 0 && c->cloud_adapts) cd_cloud_init(c);
    if (c->rank == 0)
        log_info(
            "cdcca: %s; %d stages over %d rounds, %d rows a round; adapters %zu floats; device "
            "model %.1f kB (%s), fp32 %.1f kB",
            c->o.adapt_name, c->S, c->rounds, c->o.chunk, an, c->device_bytes / 1e3,
            c->o.quant_name, c->model->n_params * 4 / 1e3);
    *shape = (ProtocolShape){.n_party_stats = c->n_stats, .no_finetune = 1};
    return c;
}

static void destroy(void *st) {
    Cdcca *c = st;
    cd_cloud_free(c);
    cd_caption_free(c);
    cd_net_free(&c->net, c->model);
    batch_free(&c->batch);
    for (int i = 0; i < c->count; i++)
        xfree(c->up[i]);
    xfree(c->up), xfree(c->up_len), xfree(c->stats), xfree(c->dev), xfree(c->ema);
    xfree(c->tta_m), xfree(c->tta_v), xfree(c->tta_step), xfree(c->frozen), xfree(c->source);
    xfree(c->probs), xfree(c->acc), xfree(c->bleu);
    xfree(c);
}

// ---- the round ----

// Uplink: every device's block to the cloud, in party order. Returns rank 0's buffer (others
// NULL) and the per-party lengths in sizes (P).
static uint8_t *uplink(Cdcca *c, int64_t *sizes) {
    memset(sizes, 0, (size_t)c->P * sizeof *sizes);
    int64_t mine = 0;
    for (int i = 0; i < c->count; i++)
        sizes[c->first + i] = c->up_len[i], mine += c->up_len[i];
    comm_allreduce(c->env.comm, sizes, (size_t)c->P, COMM_I64, COMM_SUM, NULL); // control
    uint8_t *send = xmalloc((size_t)mine + 1);
    for (int i = 0, off = 0; i < c->count; off += (int)c->up_len[i], i++)
        memcpy(send + off, c->up[i], (size_t)c->up_len[i]);
    int64_t total = 0;
    double *pay = xmalloc((size_t)c->P * sizeof(double));
    for (int p = 0; p < c->P; p++)
        total += sizes[p], pay[p] = (double)sizes[p];
    uint8_t *recv = c->rank == 0 ? xmalloc((size_t)total + 1) : NULL;
    CommPay up = {.up_bytes = pay};
    comm_gather_parties(c->env.comm, send, sizes, recv, COMM_U8, &up);
    xfree(send), xfree(pay);
    return recv;
}

// Downlink: the cloud's messages to every device, applied there.
static void downlink(Cdcca *c, const uint8_t *up, const int64_t *up_sizes, const RoundInfo *r) {
    int64_t *sizes = xcalloc((size_t)c->P, sizeof *sizes);
    uint8_t *send = NULL;
    c->down_bytes = 0, c->cloud_loss = NAN;
    if (c->rank == 0) {
        double loss = 0;
        int n = 0;
        for (int p = 0, off = 0; p < c->P; off += (int)up_sizes[p], p++) {
            double l = cd_cloud_adapt(c, p, up + off, up_sizes[p], r);
            if (!isnan(l)) loss += l, n++;
        }
        c->cloud_loss = n ? loss / n : NAN;
        size_t cap = cd_down_capacity(c);
        send = xmalloc((size_t)c->P * cap);
        int64_t off = 0;
        for (int p = 0; p < c->P; p++) {
            sizes[p] = cd_cloud_downlink(c, p, send + off);
            CHECK((size_t)sizes[p] <= cap, "cdcca: downlink of %lld bytes", (long long)sizes[p]);
            off += sizes[p], c->down_bytes += (double)sizes[p];
        }
    }
    comm_bcast(c->env.comm, sizes, (size_t)c->P, COMM_I64, 0, NULL); // control
    double *pay = xmalloc((size_t)c->P * sizeof(double));
    int64_t mine = 0;
    for (int p = 0; p < c->P; p++)
        pay[p] = (double)sizes[p];
    for (int i = 0; i < c->count; i++)
        mine += sizes[c->first + i];
    uint8_t *recv = xmalloc((size_t)mine + 1);
    CommPay down = {.down_bytes = pay};
    comm_scatter_parties(c->env.comm, send, sizes, recv, COMM_U8, &down);
    for (int i = 0, off = 0; i < c->count; off += (int)sizes[c->first + i], i++)
        cd_apply_msg(c, c->dev + (size_t)i * c->ad.n, recv + off, sizes[c->first + i],
                     c->first + i);
    xfree(sizes), xfree(send), xfree(pay), xfree(recv);
}

static void exchange(void *st, const RoundInfo *r) {
    Cdcca *c = st;
    for (int i = 0; i < c->count; i++)
        cd_device_round(c, i, r);
    if (c->cloud_adapts) {
        int64_t *sizes = xmalloc((size_t)c->P * sizeof *sizes);
        uint8_t *up = uplink(c, sizes);
        downlink(c, up, sizes, r);
        xfree(sizes), xfree(up);
    }
    if (cd_stage_end(c, r->round)) // every device is tested on every stage so far
        for (int i = 0; i < c->count; i++)
            cd_device_evaluate(c, i, cd_stage(c, r->round));
}

static void party_stats(void *st, int i, double *out) {
    const Cdcca *c = st;
    memcpy(out, c->stats + (size_t)i * c->n_stats, (size_t)c->n_stats * sizeof(double));
}

// ---- records ----

enum {
    M_STAGE = 0,
    M_ROWS,
    M_UNCERTAIN,
    M_UP_ROWS,
    M_UP_BYTES,
    M_RAW_BYTES,
    M_UP_SHARE,
    M_DOWN_BYTES,
    M_DOWN_SHARE,
    M_CONF,
    M_CLOUD_LOSS,
    M_STAGE_ACC,
    M_AVG_ACC,
    M_FORGETTING,
    M_CAP_ROWS,
    M_CAP_UP,
    M_BLEU1,
    M_BLEU4,
    M_AVG_BLEU1,
    M_AVG_BLEU4,
    M_N
};
static const char *const series_names[M_N] = {
    "cd_stage",       "cd_rows",      "cd_uncertain",  "cd_up_rows",    "cd_up_bytes",
    "cd_raw_bytes",   "cd_up_share",  "cd_down_bytes", "cd_down_share", "cd_confidence",
    "cd_cloud_loss",  "cd_stage_acc", "cd_avg_acc",    "cd_forgetting", "cd_cap_rows",
    "cd_cap_up_rows", "cd_bleu1",     "cd_bleu4",      "cd_avg_bleu1",  "cd_avg_bleu4"};

static void declare_series(void *st, MetricLog *log) {
    Cdcca *c = st;
    CHECK(M_N + c->S <= CDCCA_MAX_SERIES, "cdcca: %d series", M_N + c->S);
    for (int k = 0; k < M_N; k++) {
        c->series[k] = metriclog_add(log, series_names[k], 1, 0);
        if (k == M_STAGE_ACC || k == M_AVG_ACC || k == M_FORGETTING || k >= M_BLEU1)
            metriclog_set_split(log, c->series[k], "test");
    }
    for (int j = 0; j < c->S; j++) {
        char name[METRIC_NAME_MAX];
        snprintf(name, sizeof name, "cd_acc_stage%d", j + 1);
        c->series[M_N + j] = metriclog_add(log, name, 1, 0);
        metriclog_set_split(log, c->series[M_N + j], "test");
    }
}

static void record(void *st, MetricLog *log, const double *ps, int evaluated, char *note,
                   size_t cap) {
    Cdcca *c = st;
    (void)evaluated;
    double sum[CS_ACC] = {0}; // every per-party count (and the BLEU statistics) summed
    for (int p = 0; p < c->P; p++)
        for (int k = 0; k < CS_ACC; k++)
            sum[k] += ps[(size_t)p * c->n_stats + k];
    const int round = log->rounds, stage = cd_stage(c, round);
    const int *m = c->series;
    metriclog_set(log, m[M_STAGE], 0, stage);
    metriclog_set(log, m[M_ROWS], 0, sum[CS_ROWS]);
    metriclog_set(log, m[M_UNCERTAIN], 0, sum[CS_UNCERTAIN]);
    metriclog_set(log, m[M_UP_ROWS], 0, sum[CS_UP_ROWS]);
    metriclog_set(log, m[M_UP_BYTES], 0, sum[CS_UP_BYTES]);
    metriclog_set(log, m[M_RAW_BYTES], 0, sum[CS_RAW_BYTES]);
    metriclog_set(log, m[M_UP_SHARE], 0,
                  sum[CS_RAW_BYTES] ? sum[CS_UP_BYTES] / sum[CS_RAW_BYTES] : NAN);
    metriclog_set(log, m[M_DOWN_BYTES], 0, c->down_bytes);
    metriclog_set(log, m[M_DOWN_SHARE], 0,
                  c->down_bytes / ((double)c->P * (double)c->model->n_params * sizeof(float)));
    metriclog_set(log, m[M_CONF], 0, sum[CS_ROWS] ? sum[CS_CONF] / sum[CS_ROWS] : NAN);
    metriclog_set(log, m[M_CLOUD_LOSS], 0, c->cloud_loss);
    metriclog_set(log, m[M_CAP_ROWS], 0, sum[CS_CAP_ROWS]);
    metriclog_set(log, m[M_CAP_UP], 0, sum[CS_CAP_UP]);
    snprintf(note, cap, " | stage %d up %.0f/%.0f rows", stage, sum[CS_UP_ROWS], sum[CS_ROWS]);
    if (!cd_stage_end(c, round)) return;
    // a stage end: the mean over devices of each stage's accuracy
    double *row = c->acc + (size_t)(stage - 1) * c->S;
    for (int j = 0; j < stage; j++) {
        double a = 0;
        int n = 0;
        for (int p = 0; p < c->P; p++) {
            double v = ps[(size_t)p * c->n_stats + CS_ACC + j];
            if (!isnan(v)) a += v, n++;
        }
        row[j] = n ? a / n : NAN;
        metriclog_set(log, c->series[M_N + j], 0, row[j]);
    }
    double avg = 0, forget = 0;
    for (int s = 0; s < stage; s++) // each stage's accuracy when it ended
        avg += c->acc[(size_t)s * c->S + s];
    for (int j = 0; j + 1 < stage; j++) { // the drop from the best earlier accuracy on stage j
        double best = -INFINITY;
        for (int s = j; s + 1 < stage; s++)
            best = fmax(best, c->acc[(size_t)s * c->S + j]);
        forget += best - row[j];
    }
    metriclog_set(log, m[M_STAGE_ACC], 0, row[stage - 1]);
    metriclog_set(log, m[M_AVG_ACC], 0, avg / stage);
    metriclog_set(log, m[M_FORGETTING], 0, stage > 1 ? forget / (stage - 1) : NAN);
    size_t used = strlen(note);
    snprintf(note + used, cap - used, " | stage acc %.3f avg %.3f", row[stage - 1], avg / stage);
    // the stage's test captions, one corpus over every device
    BleuStats bs;
    bleu_stats_init(&bs);
    for (int k = 0; k < BLEU_MAX_N; k++)
        bs.match[k] = (int64_t)sum[CS_BLEU + k], bs.total[k] = (int64_t)sum[CS_BLEU + 4 + k];
    bs.hyp_len = (int64_t)sum[CS_BLEU + 8], bs.ref_len = (int64_t)sum[CS_BLEU + 9];
    bs.sentences = (int64_t)sum[CS_BLEU + 10];
    if (!bs.sentences) return;
    double *b = c->bleu + (size_t)(stage - 1) * 2, avg1 = 0, avg4 = 0;
    b[0] = bleu_score(&bs, 1), b[1] = bleu_score(&bs, 4);
    int n = 0;
    for (int s = 0; s < stage; s++)
        if (!isnan(c->bleu[2 * s])) avg1 += c->bleu[2 * s], avg4 += c->bleu[2 * s + 1], n++;
    metriclog_set(log, m[M_BLEU1], 0, b[0]);
    metriclog_set(log, m[M_BLEU4], 0, b[1]);
    metriclog_set(log, m[M_AVG_BLEU1], 0, avg1 / n);
    metriclog_set(log, m[M_AVG_BLEU4], 0, avg4 / n);
    used = strlen(note);
    snprintf(note + used, cap - used, " bleu-4 %.3f", b[1]);
}

// ---- checkpoint ----

static void ckpt_fields(void *st, CkptList *l) {
    Cdcca *c = st;
    const int64_t an = (int64_t)c->ad.n;
    CkptField *f = ckpt_list_add(l, "parties/cdcca/adapters", CKPT_F32, CKPT_OWN, c->P, an, c->dev);
    f->row0 = c->first, f->nrows = c->count;
    if (c->ema) {
        float *bufs[3] = {c->ema, c->tta_m, c->tta_v};
        const char *names[3] = {"parties/cdcca/ema", "parties/cdcca/tta_m", "parties/cdcca/tta_v"};
        for (int k = 0; k < 3; k++) {
            f = ckpt_list_add(l, names[k], CKPT_F32, CKPT_OWN, c->P, an, bufs[k]);
            f->row0 = c->first, f->nrows = c->count;
        }
        f = ckpt_list_add(l, "parties/cdcca/tta_step", CKPT_I64, CKPT_OWN, c->P, 1, c->tta_step);
        f->row0 = c->first, f->nrows = c->count;
    }
    ckpt_list_add(l, "cloud/cdcca/acc", CKPT_F64, CKPT_CLOUD, 0, (int64_t)c->S * c->S,
                  c->rank == 0 ? c->acc : NULL);
    ckpt_list_add(l, "cloud/cdcca/bleu", CKPT_F64, CKPT_CLOUD, 0, (int64_t)c->S * 2,
                  c->rank == 0 ? c->bleu : NULL);
    if (c->cloud_adapts) {
        ckpt_list_add(l, "cloud/cdcca/copy", CKPT_F32, CKPT_CLOUD, c->P, an, c->copy);
        ckpt_list_add(l, "cloud/cdcca/mirror", CKPT_F32, CKPT_CLOUD, c->P, an, c->mirror);
        ckpt_list_add(l, "cloud/cdcca/maps", CKPT_F32, CKPT_CLOUD, c->P, (int64_t)c->n_map,
                      c->maps);
    }
}

static size_t cloud_params(void *st) {
    const Cdcca *c = st;
    return c->teacher.ops ? c->teacher.n_params : 0;
}

const Protocol protocol_cdcca = {.name = "cdcca",
                                 .create = create,
                                 .destroy = destroy,
                                 .exchange = exchange,
                                 .party_stats = party_stats,
                                 .declare_series = declare_series,
                                 .record = record,
                                 .ckpt_fields = ckpt_fields,
                                 .cloud_params = cloud_params};
