// bench_mllm.c - the tiny multimodal LLM's LoRA fine-tuning step and KV-cached greedy generation,
// the C side of `make bench`'s mllm lines (issue 12 item 2); tests/bench/torch_mllm.py is the
// PyTorch twin on the same weights and sequences.
//
//   bench_mllm model=mllm|mllm_gen [threads=T] [min_time=S] [base=FILE] [data=FILE] [dump=FILE]
//              [sgemm=0|1]   (sgemm=0: no sgemm_share timing, to profile the step alone)
//   → model=mllm:     `train model=mllm threads=<t> steps_per_s=<x> steps=<n> loss=<a>-><b>
//                      cpu_steps_per_s=<c> params=<p> trainable=<n> B=<b> T=<t> gflops=<g>
//                      sgemm_ms=<s> step_ms=<m> sgemm_share=<s/b> base=<file> core=<name>
//                      best_ms=<b>`
//     model=mllm_gen: `train model=mllm_gen threads=<t> tokens_per_s=<x> runs=<n> prompt=<T>
//                      new=32 ids=<first 8 generated ids> base=<file> core=<name>`
//
// base: data/base/mllm.h5 (the FedMLLM base model) when it exists, else data/base/mllm_tiny.h5
// (MMC_DATA_DIR overrides data/); data: data/avfmnist_small.h5. Both sides read one file written
// here first (dump=, default /tmp/bench_mllm.<pid>.h5, removed after) by tests/probes/mllm_dump.c's
// code: the weights (LoRA B random, so the adapters are not a no-op) and the sequences of 4 test
// rows with image, audio and text (FedMLLM's item task: 116-120 tokens with the full base model).
//
// mllm: one step of --model=mllm fine-tuning through the model contract, as a party runs it:
// model_loss_backward (the kind spells the 4 prompts, encoders and projectors frozen, LoRA r 4 α 4
// dropout 0.05 on q, k, v, o, CE of the option letters at the last position, backward through the
// whole sequence with LoRA gradients only) + AdamW (lr 1e-3, wd 1e-2) on the LoRA tensors.
// sgemm_share (gemm_share.h): the time plain sgemm_rm calls take for the step's matrix products
// (every GEMM of the forward and backward at the step's shapes, attention's per head) over the
// step's time, both the best of passes that alternate with each other (so both see the machine's
// load alike); step_ms and steps_per_s are the steps' mean, best_ms their best, gflops the GEMM
// flops over best_ms. All on gemm_share.h's clock: at threads=1 the thread's CPU time (so the
// figures hold on a shared machine), else wall-clock.
// mllm_gen: row 0's embedded prompt (media tokens in their slots), llama_generate greedy: prefill
// + 31 cached steps = 32 new tokens, eos off; tokens/s = 32 / the whole call's time.
#define MLLM_DUMP_NO_MAIN
#include "probes/mllm_dump.c" // dump_main, dump_rows: the sequences the twin reads

#include <math.h>
#include <time.h>
#include <unistd.h>

#include "core/timer.h"
#include "gemm_share.h"
#include "nn/optim.h"
#include "tensor/blas.h"

#define BENCH_ROWS 4
#define GEN_NEW 32

static double cpu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void read_ds(hid_t f, const char *name, hid_t type, void *out) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    CHECK(ds >= 0, "bench_mllm: no %s in the dump", name);
    CHECK(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0, "bench_mllm: reading %s",
          name);
    H5Dclose(ds);
}

// ---- the step's matrix products, for sgemm_share (gemm_share.h) ----

// Forward of the frozen encoders and the LM, backward of the LM for LoRA gradients (the input
// gradient through every layer, adapters' dA, dB; no base weight gradients), as llama_lm.c runs.
static void step_gemms(GemmList *l, const Mllm *mm, int B, int T) {
    memset(l, 0, sizeof *l);
    for (int e = 0; e < mm->c.n_enc; e++) {
        const VitConfig *v = &mm->c.enc[e].vit;
        int n = B * mm->vit[e].Np, De = v->D, hd = De / v->heads, Np = mm->vit[e].Np;
        int nt = B * mm->n_tok[e], Dp = mm->c.enc[e].Dp;
        gemm_add(l, 0, 1, n, De, mm->vit[e].patch_dim, 1);
        gemm_add(l, 0, 1, n, 3 * De, De, v->L), gemm_add(l, 0, 1, n, De, De, v->L);
        gemm_add(l, 0, 1, n, 4 * De, De, v->L), gemm_add(l, 0, 1, n, De, 4 * De, v->L);
        gemm_add(l, 0, 1, Np, Np, hd, v->L * B * v->heads),
            gemm_add(l, 0, 0, Np, hd, Np, v->L * B * v->heads);
        gemm_add(l, 0, 1, nt, Dp, mm->in_proj[e], 1), gemm_add(l, 0, 1, nt, mm->c.lm.D, Dp, 1);
    }
    const LlamaConfig *c = &mm->c.lm;
    int N = B * T, D = c->D, F = c->F, r = c->r, L = c->L, hd = D / c->H, bh = B * c->H;
    // forward: q k v o and their adapters, MLP, attention per head
    gemm_add(l, 0, 1, N, D, D, 4 * L), gemm_add(l, 0, 1, N, r, D, 4 * L),
        gemm_add(l, 0, 1, N, D, r, 4 * L);
    gemm_add(l, 0, 1, N, F, D, 2 * L), gemm_add(l, 0, 1, N, D, F, L);
    gemm_add(l, 0, 1, T, T, hd, L * bh), gemm_add(l, 0, 0, T, hd, T, L * bh);
    // backward: MLP input gradients, projections' input gradients, adapters (dB, dla, dA, dinp)
    gemm_add(l, 0, 0, N, F, D, L), gemm_add(l, 0, 0, N, D, F, 2 * L),
        gemm_add(l, 0, 0, N, D, D, 4 * L);
    gemm_add(l, 1, 0, D, r, N, 4 * L), gemm_add(l, 0, 0, N, r, D, 4 * L),
        gemm_add(l, 1, 0, r, D, N, 4 * L);
    gemm_add(l, 0, 0, N, D, r, 4 * L);
    gemm_add(l, 1, 0, T, hd, T, L * bh), gemm_add(l, 0, 1, T, T, hd, L * bh); // dV, dP
    gemm_add(l, 0, 0, T, hd, T, L * bh), gemm_add(l, 1, 0, T, hd, T, L * bh); // dQ, dK
}

// ---- the two benchmarks ----

typedef struct {
    const char *base, *data, *dump;
    int threads;
    double min_time;
    int sgemm; // 0: skip sgemm_share's timing (profiling the step alone)
} Args;

// Every named tensor of m from the dump's /params into p.
static void read_params(hid_t f, const Model *m, float *p) {
    char name[256];
    for (int t = 0; t < m->n_tensors; t++) {
        snprintf(name, sizeof name, "params/%s", m->tensor[t].name);
        read_ds(f, name, H5T_NATIVE_FLOAT, p + m->tensor[t].off);
    }
}

static void bench_step(const Args *a) {
    char err[1024];
    // the kind's defaults (src/models/kinds.c): r 4, α 4, dropout 0.05, projectors frozen
    MllmOpened op;
    mllm_open(&op, a->base, a->data, 0, 0, 0.05);
    Dataset *ds = op.ds; // the parts, owned as before: model_free(&m) and dataset_close(ds)
    SampleLayout sl = op.sl;
    ModelSpec spec = op.spec;
    Model m = op.m;
    int64_t idx[BENCH_ROWS];
    uint8_t mask[BENCH_ROWS];
    dump_rows(idx, mask, BENCH_ROWS, spec.n_mod, 1);
    SampleSet s;
    sampleset_load(&s, &sl, ds, DS_TEST, idx, mask, BENCH_ROWS);
    Batch bt;
    batch_init(&bt, &sl, BENCH_ROWS);
    sampleset_batch(&s, &sl, NULL, 0, BENCH_ROWS, &bt);
    float *p = xcalloc_aligned(m.n_params * 4), *g = xcalloc_aligned(m.n_params * 4);
    float *m1 = xcalloc_aligned(m.n_params * 4), *v1 = xcalloc_aligned(m.n_params * 4);
    hid_t f = H5Fopen(a->dump, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "bench_mllm: cannot open %s", a->dump);
    read_params(f, &m, p);
    int T = 0;
    hid_t ids = H5Dopen2(f, "batch/ids", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ids);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    T = (int)dims[1];
    H5Sclose(sp), H5Dclose(ids), H5Fclose(f);
    Selection sel;
    CHECK(model_select(&m, "", &sel, err, sizeof err) == 0, "bench_mllm: %s", err);
    ModelWork w;
    model_work_init(&m, &w, BENCH_ROWS);
    Rng drop;
    rng_init(&drop, 1, 0, 0, RNG_DROPOUT);
    w.grad_sel = &sel, w.train_rng = &drop;
    AdamWConfig ac = {
        .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-2f};
    // the step's matrix products alone, through sgemm_rm at the same shapes and threads
    MllmConfig c;
    memset(&c, 0, sizeof c);
    c.lm.theta = 10000.0;
    CHECK(mllm_file_read_config(a->base, &c, err, sizeof err) == 0, "bench_mllm: %s", err);
    c.lm.r = MLLM_OPEN_LORA_R, c.lm.alpha = MLLM_OPEN_LORA_ALPHA;
    Mllm mm;
    mllm_init(&mm, &c);
    GemmList gl;
    step_gemms(&gl, &mm, BENCH_ROWS, T);
    GemmBufs gb;
    gemm_bufs_init(&gb, &gl);
    const double flops = gemm_flops(&gl);
    long t = 0, steps = 0;
    double l0 = 0, l1 = 0;
    // warm-up (5 steps), then rounds of one GEMM pass and 3 steps for min_time: the two alternate,
    // so that they see the same machine load, and each keeps its best time (sgemm_share); the
    // steps' mean gives steps_per_s and step_ms as before
    double t_start = 0, sum_ms = 0, cpu_ms = 0, best_ms = 1e30, gemm_ms = a->sgemm ? 1e30 : 0;
    for (int i = 0;; i++) {
        if (i >= 5 && (i - 5) % 3 == 0 && a->sgemm) {
            double gt = gemm_pass_ms(&gl, &gb);
            gemm_ms = gt < gemm_ms ? gt : gemm_ms;
        }
        double s0 = bench_clock_ms(), sc0 = cpu_now_ms();
        if (i == 5) t_start = timer_now_ms();
        for (int k = 0; k < sel.n_segs; k++)
            memset(g + sel.seg[k].offset, 0, sel.seg[k].n * sizeof(float));
        double loss = model_loss_backward(&m, p, g, &bt.in, &w, bt.label, NULL, NULL);
        adamw_step(p, g, m1, v1, m.n_params, sel.seg, sel.n_segs, &ac, ++t);
        if (i == 0) l0 = loss;
        l1 = loss;
        if (i >= 5) {
            double s1 = bench_clock_ms();
            steps++, sum_ms += s1 - s0, cpu_ms += cpu_now_ms() - sc0;
            best_ms = s1 - s0 < best_ms ? s1 - s0 : best_ms;
            if (timer_now_ms() - t_start >= a->min_time * 1e3 && steps >= 6) break;
        }
    }
    double step_ms = sum_ms / steps, cpu_sps = steps / (cpu_ms * 1e-3);
    CHECK(l1 < l0, "bench_mllm: the loss did not fall (%.4f -> %.4f)", l0, l1);
    gemm_bufs_free(&gb);
    printf("train model=mllm threads=%d steps_per_s=%.2f steps=%ld loss=%.4f->%.4f "
           "cpu_steps_per_s=%.2f params=%zu trainable=%zu B=%d T=%d gflops=%.2f sgemm_ms=%.3f "
           "step_ms=%.3f sgemm_share=%.2f base=%s core=%s best_ms=%.3f\n",
           a->threads, 1e3 / step_ms, steps, l0, l1, cpu_sps, m.n_params, sel.n, BENCH_ROWS, T,
           flops / best_ms * 1e-6, gemm_ms, step_ms, gemm_ms / best_ms, a->base, blas_core_name(),
           best_ms);
    model_work_free(&m, &w);
    model_free(&m);
    batch_free(&bt);
    sampleset_free(&s);
    dataset_close(ds);
    xfree(p), xfree(g), xfree(m1), xfree(v1);
}

static void bench_gen(const Args *a) {
    char err[1024];
    MllmConfig c;
    memset(&c, 0, sizeof c);
    c.lm.theta = 10000.0;
    CHECK(mllm_file_read_config(a->base, &c, err, sizeof err) == 0, "bench_mllm: %s", err);
    c.lm.r = 4, c.lm.alpha = 4, c.lm.lora_p = 0;
    Mllm mm;
    mllm_init(&mm, &c);
    Model lay;
    memset(&lay, 0, sizeof lay);
    mllm_add_tensors(&mm, &lay, 0);
    float *p = xcalloc_aligned(mm.n_params * 4);
    hid_t f = H5Fopen(a->dump, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "bench_mllm: cannot open %s", a->dump);
    read_params(f, &lay, p);
    hid_t d = H5Dopen2(f, "batch/ids", H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp), H5Dclose(d);
    const int B = (int)dims[0], T = (int)dims[1], D = c.lm.D;
    int *ids = xmalloc((size_t)B * T * sizeof(int)), len[MAX_ROWS], slot[MLLM_MAX_ENC][MAX_ROWS];
    float *enc[MLLM_MAX_ENC] = {0};
    read_ds(f, "batch/ids", H5T_NATIVE_INT, ids);
    read_ds(f, "batch/len", H5T_NATIVE_INT, len);
    MllmBatch mb = {.B = B, .T = T, .ids = ids, .len = len};
    for (int e = 0; e < c.n_enc; e++) {
        char name[128];
        snprintf(name, sizeof name, "batch/slot_%s", c.enc[e].name);
        read_ds(f, name, H5T_NATIVE_INT, slot[e]);
        enc[e] = xmalloc((size_t)B * c.enc[e].vit.H * c.enc[e].vit.W * sizeof(float));
        snprintf(name, sizeof name, "batch/enc_%s", c.enc[e].name);
        read_ds(f, name, H5T_NATIVE_FLOAT, enc[e]);
        mb.enc_in[e] = enc[e], mb.slot[e] = slot[e];
    }
    H5Fclose(f);
    MllmWork mw;
    mllm_work_init(&mw, &mm, B, T);
    mllm_forward(&mm, p, &mb, &mw, NULL); // mw.x: the embedded prompts
    const int Tp = len[0];
    float *x = xmalloc((size_t)Tp * D * sizeof(float));
    memcpy(x, mw.x, (size_t)Tp * D * sizeof(float));
    LlamaGen g;
    llama_gen_init(&g, &mm.lm, 1, Tp + GEN_NEW);
    int out[GEN_NEW];
    long runs = 0;
    double t0 = 0;
    for (int i = 0;; i++) {
        if (i == 2) t0 = timer_now_ms();
        llama_gen_reset(&g);
        int n = llama_generate(&mm.lm, p, x, Tp, GEN_NEW, -1, 0.0f, NULL, out, &g);
        CHECK(n == GEN_NEW, "bench_mllm: %d tokens generated", n);
        if (i >= 2 && ++runs >= 5 && timer_now_ms() - t0 >= a->min_time * 1e3) break;
    }
    double ms = (timer_now_ms() - t0) / runs;
    printf("train model=mllm_gen threads=%d tokens_per_s=%.2f runs=%ld prompt=%d new=%d "
           "ids=%d,%d,%d,%d,%d,%d,%d,%d base=%s core=%s\n",
           a->threads, GEN_NEW / (ms * 1e-3), runs, Tp, GEN_NEW, out[0], out[1], out[2], out[3],
           out[4], out[5], out[6], out[7], a->base, blas_core_name());
    llama_gen_free(&g);
    mllm_work_free(&mw);
    for (int e = 0; e < c.n_enc; e++)
        xfree(enc[e]);
    xfree(p), xfree(ids), xfree(x);
}

int main(int argc, char **argv) {
    static char base[512], data[512], dump[512];
    const char *dir = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    snprintf(base, sizeof base, "%s/base/mllm.h5", dir);
    if (access(base, R_OK) != 0) snprintf(base, sizeof base, "%s/base/mllm_tiny.h5", dir);
    snprintf(data, sizeof data, "%s/avfmnist_small.h5", dir);
    snprintf(dump, sizeof dump, "/tmp/bench_mllm.%d.h5", (int)getpid());
    Args a = {.base = base, .data = data, .dump = NULL, .threads = 1, .min_time = 0.5, .sgemm = 1};
    const char *model = "mllm";
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "model=", 6))
            model = argv[i] + 6;
        else if (!strncmp(argv[i], "threads=", 8))
            a.threads = atoi(argv[i] + 8);
        else if (!strncmp(argv[i], "min_time=", 9))
            a.min_time = atof(argv[i] + 9);
        else if (!strncmp(argv[i], "base=", 5))
            a.base = argv[i] + 5;
        else if (!strncmp(argv[i], "data=", 5))
            a.data = argv[i] + 5;
        else if (!strncmp(argv[i], "sgemm=", 6))
            a.sgemm = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "dump=", 5))
            a.dump = argv[i] + 5;
        else
            CHECK(0,
                  "usage: bench_mllm model=mllm|mllm_gen [threads=T] [min_time=S] [base=FILE] "
                  "[data=FILE] [dump=FILE] [sgemm=0|1] (not '%s')",
                  argv[i]);
    }
    CHECK(a.threads >= 1, "bench_mllm: threads=%d must be >= 1", a.threads);
    CHECK(!strcmp(model, "mllm") || !strcmp(model, "mllm_gen"),
          "bench_mllm: unknown model '%s' (mllm, mllm_gen)", model);
    blas_set_num_threads(a.threads);
    bench_clock_threads = a.threads;
    // the twin's file: written unless the caller names an existing one
    int own = !a.dump || access(a.dump, R_OK) != 0;
    if (!a.dump) a.dump = dump;
    if (own) {
        char b_arg[600], d_arg[600], o_arg[600], r_arg[32];
        snprintf(b_arg, sizeof b_arg, "--base=%s", a.base);
        snprintf(d_arg, sizeof d_arg, "--data=%s", a.data);
        snprintf(o_arg, sizeof o_arg, "--out=%s", a.dump);
        snprintf(r_arg, sizeof r_arg, "--rows=%d", BENCH_ROWS);
        char *dargv[] = {"mllm_dump", b_arg, d_arg, o_arg, r_arg, "--all-present", NULL};
        int saved = dup(1); // the dump's summary line is not a bench line
        CHECK(freopen("/dev/null", "w", stdout) != NULL, "bench_mllm: /dev/null");
        dump_main(6, dargv);
        fflush(stdout);
        dup2(saved, 1), close(saved);
    }
    if (!strcmp(model, "mllm"))
        bench_step(&a);
    else
        bench_gen(&a);
    if (own && a.dump == dump) unlink(dump);
    return 0;
}
