// bench_mm_large.c - one training step of BoMM's cloud models, as the cloud runs them
// (src/protocols/bomm_large.c, bomm_gen.c), for `make bench` (issue 17 item 2):
//
//   bench_mm_large [model=mm_large|generator] [threads=T] [min_time=S] [sgemm=0|1] [B=n]
//   → `bench model=<m> threads=<t> ms_per_step=<x> gflops=<g> sgemm_share=<s>` and a `#` line with
//     the shapes, parameter count, mean step time and sgemm time.
//
// mm_large: the MM-LM at BoMM's defaults (bomm.mm-width 256, mm-layers 4, mm-heads 4, mm-tokens 1)
// over 3 dense modalities of width 64 (the parties' --width): T = 3 tokens, 3.2 M parameters, one
// batch of --batch-size 32 rows (~25 % of modalities missing, every row keeps one). One step =
// zeroing the gradients, model_loss_backward (forward, CE, backward), global-norm clipping at 5
// (--clip) and AdamW over every parameter.
// generator: one completion generator (D 64, bomm.gen-hidden 128), a batch of B = 64 rows of which
// the first 32 carry DPO pairs (the reference forward runs on them): zeroing the gradients,
// gen_mixed_step (λ 0.5), clipping, AdamW.
//
// sgemm_share (gemm_share.h): the time plain sgemm_rm calls take for every matrix product of the
// step at its shapes (attention's per (row, head)), over the step's time. The step and the GEMM
// pass alternate in one loop and each keeps its best time, so both see the same machine load;
// ms_per_step is the best step, gflops the step's GEMM flops over it. Times are gemm_share.h's
// clock: at threads=1 the thread's CPU time (robust on a shared machine), else wall-clock.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/timer.h"
#include "core/xalloc.h"
#include "gemm_share.h"
#include "models/generator.h"
#include "models/mm_large.h"
#include "nn/optim.h"
#include "tensor/blas.h"

typedef struct {
    const char *model;
    int threads, B, sgemm;
    double min_time;
} Args;

// One step of the model under test; the bench's state behind ctx.
typedef double (*StepFn)(void *ctx);

typedef struct {
    double best_ms, mean_ms, gemm_ms, flops;
    long steps;
    double loss0, loss1;
} Timing;

// Alternates one step and one GEMM pass until min_time has passed (and at least 5 of each).
static Timing time_step(StepFn step, void *ctx, const GemmList *gl, const Args *a) {
    Timing t = {.best_ms = 1e30, .gemm_ms = 1e30, .flops = gemm_flops(gl)};
    GemmBufs gb;
    gemm_bufs_init(&gb, gl);
    for (int i = 0; i < 3; i++) // warm-up: first touch, OpenBLAS buffers
        t.loss0 = step(ctx);
    if (a->sgemm) gemm_pass_ms(gl, &gb);
    double sum = 0, t_end = timer_now_ms() + a->min_time * 1e3;
    do {
        double t0 = bench_clock_ms();
        t.loss1 = step(ctx);
        double ms = bench_clock_ms() - t0;
        sum += ms, t.steps++;
        t.best_ms = ms < t.best_ms ? ms : t.best_ms;
        if (a->sgemm) {
            double g = gemm_pass_ms(gl, &gb);
            t.gemm_ms = g < t.gemm_ms ? g : t.gemm_ms;
        }
    } while (t.steps < 5 || timer_now_ms() < t_end);
    t.mean_ms = sum / t.steps;
    if (!a->sgemm) t.gemm_ms = 0;
    gemm_bufs_free(&gb);
    return t;
}

static void report(const Args *a, const Timing *t, const char *what) {
    printf("bench model=%s threads=%d ms_per_step=%.3f gflops=%.2f sgemm_share=%.2f\n", a->model,
           a->threads, t->best_ms, t->flops / t->best_ms * 1e-6, t->gemm_ms / t->best_ms);
    printf("# %s: %s steps=%ld mean_ms=%.3f sgemm_ms=%.3f gemm_gflop=%.4f loss=%.4f->%.4f core=%s "
           "load=",
           a->model, what, t->steps, t->mean_ms, t->gemm_ms, t->flops * 1e-9, t->loss0, t->loss1,
           blas_core_name());
    FILE *f = fopen("/proc/loadavg", "r");
    char buf[64] = "?";
    if (f) {
        if (!fgets(buf, sizeof buf, f)) strcpy(buf, "?");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("%.14s\n", buf);
    fflush(stdout);
}

static const AdamWConfig adamw = {
    .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-2f};
#define CLIP 5.0

// ---- mm_large ----

typedef struct {
    Model m;
    ModelWork w;
    ModelInput in;
    float *p, *g, *m1, *v1;
    int *labels;
    long t;
} MmBench;

static double mm_step(void *ctx) {
    MmBench *s = ctx;
    memset(s->g, 0, s->m.n_params * sizeof(float));
    double loss = model_loss_backward(&s->m, s->p, s->g, &s->in, &s->w, s->labels, NULL, NULL);
    clip_grad_global_norm(s->g, s->m.n_params, NULL, 0, CLIP);
    adamw_step(s->p, s->g, s->m1, s->v1, s->m.n_params, NULL, 0, &adamw, ++s->t);
    return loss;
}

// Every product of mm_forward + mm_backward (blocks.c, and attention.c's per (row, head) products
// unless dense_only).
static void mm_gemms(GemmList *l, const MmLarge *mm, int B, int dense_only) {
    const MmConfig *c = &mm->c;
    const int T = mm->T, D = c->D, L = c->L, H = c->H, hd = D / H, N = B * T, K = c->K;
    const int BH = dense_only ? 0 : B * H; // gemm_add skips a count of 0
    memset(l, 0, sizeof *l);
    for (int i = 0; i < c->n_mod; i++) {
        gemm_add(l, 0, 1, B, c->n_tok[i] * D, c->in_dim[i], 1); // encoder
        gemm_add(l, 1, 0, c->n_tok[i] * D, c->in_dim[i], B, 1); // its dW (no input gradient)
    }
    // forward per block: qkv, scores, P·V, projection, MLP
    gemm_add(l, 0, 1, N, 3 * D, D, L), gemm_add(l, 0, 1, T, T, hd, L * BH);
    gemm_add(l, 0, 0, T, hd, T, L * BH), gemm_add(l, 0, 1, N, D, D, L);
    gemm_add(l, 0, 1, N, 4 * D, D, L), gemm_add(l, 0, 1, N, D, 4 * D, L);
    gemm_add(l, 0, 1, B, K, D, 1); // head
    // backward: head, then per block each linear's dinp and dW, attention's dP, dV, dQ, dK
    gemm_add(l, 0, 0, B, D, K, 1), gemm_add(l, 1, 0, K, D, B, 1);
    gemm_add(l, 0, 0, N, 4 * D, D, L), gemm_add(l, 1, 0, D, 4 * D, N, L);
    gemm_add(l, 0, 0, N, D, 4 * D, L), gemm_add(l, 1, 0, 4 * D, D, N, L);
    gemm_add(l, 0, 0, N, D, D, L), gemm_add(l, 1, 0, D, D, N, L);
    gemm_add(l, 0, 1, T, T, hd, L * BH), gemm_add(l, 1, 0, T, hd, T, L * BH);
    gemm_add(l, 0, 0, T, hd, T, L * BH), gemm_add(l, 1, 0, T, hd, T, L * BH);
    gemm_add(l, 0, 0, N, D, 3 * D, L), gemm_add(l, 1, 0, 3 * D, D, N, L);
}

static void bench_mm(const Args *a) {
    const int B = a->B > 0 ? a->B : 32, M = 3, W = 64;
    MmConfig mc = {.n_mod = M, .D = 256, .L = 4, .H = 4, .K = 10};
    for (int i = 0; i < M; i++)
        mc.kind[i] = MODEL_DENSE, mc.in_dim[i] = W, mc.n_tok[i] = 1;
    MmBench s = {0};
    mm_large_create(&s.m, &mc, NULL);
    model_work_init(&s.m, &s.w, B);
    size_t n = s.m.n_params;
    s.p = xcalloc_aligned(n * sizeof(float)), s.g = xcalloc_aligned(n * sizeof(float));
    s.m1 = xcalloc_aligned(n * sizeof(float)), s.v1 = xcalloc_aligned(n * sizeof(float));
    Rng r;
    rng_init(&r, 1, 0, 0, RNG_TEST);
    model_init_params(&s.m, s.p, &r);
    float *x[3];
    for (int i = 0; i < M; i++) {
        x[i] = xmalloc((size_t)B * W * sizeof(float));
        rng_fill_normal(&r, x[i], (size_t)B * W, 0.f, 1.f);
        s.in.dense[i] = x[i];
    }
    uint8_t *mask = xmalloc((size_t)B * M);
    s.labels = xmalloc((size_t)B * sizeof(int));
    for (int b = 0; b < B; b++) {
        s.labels[b] = b % mc.K;
        int any = 0;
        for (int i = 0; i < M; i++)
            any += mask[b * M + i] = rng_below(&r, 4) != 0; // ~25 % missing
        if (!any) mask[b * M + (int)rng_below(&r, M)] = 1;
    }
    s.in.B = B, s.in.mask = mask;
    GemmList gl, dense;
    mm_gemms(&gl, s.m.impl, B, 0);
    mm_gemms(&dense, s.m.impl, B, 1);
    Timing t = time_step(mm_step, &s, &gl, a);
    CHECK(t.loss1 < t.loss0, "bench_mm_large: the loss did not fall (%.4f -> %.4f)", t.loss0,
          t.loss1);
    // The same share without attention's 6·L·B·H tiny (T, T, hd) products, whose per-call
    // overhead is most of their sgemm time at T = 3: the stricter figure.
    double dense_ms = 0;
    if (a->sgemm) {
        GemmBufs gb;
        gemm_bufs_init(&gb, &dense);
        dense_ms = 1e30;
        for (int i = 0; i < 2 * t.steps; i++) {
            double g = gemm_pass_ms(&dense, &gb);
            dense_ms = g < dense_ms ? g : dense_ms;
        }
        gemm_bufs_free(&gb);
    }
    char what[200];
    snprintf(what, sizeof what,
             "params=%zu D=%d L=%d H=%d T=%d B=%d sgemm_ms_dense=%.3f sgemm_share_dense=%.2f", n,
             mc.D, mc.L, mc.H, ((const MmLarge *)s.m.impl)->T, B, dense_ms, dense_ms / t.best_ms);
    report(a, &t, what);
    for (int i = 0; i < M; i++)
        xfree(x[i]);
    xfree(mask), xfree(s.labels), xfree(s.p), xfree(s.g), xfree(s.m1), xfree(s.v1);
    model_work_free(&s.m, &s.w);
    model_free(&s.m);
}

// ---- generator ----

typedef struct {
    Generator g;
    GenWork w;
    GenBatch in;
    GenLossCfg cfg;
    float *p, *ref, *gr, *m1, *v1;
    long t;
} GenBench;

static double gen_step(void *ctx) {
    GenBench *s = ctx;
    memset(s->gr, 0, s->g.n_params * sizeof(float));
    double loss = gen_mixed_step(&s->g, s->p, s->ref, s->gr, &s->in, &s->cfg, &s->w, NULL);
    clip_grad_global_norm(s->gr, s->g.n_params, NULL, 0, CLIP);
    adamw_step(s->p, s->gr, s->m1, s->v1, s->g.n_params, NULL, 0, &adamw, ++s->t);
    return loss;
}

// The reference forward on the P pair rows, the policy's forward and backward on all B.
static void gen_gemms(GemmList *l, const Generator *g, int B, int P) {
    const int D = g->c.D, H = g->c.H;
    memset(l, 0, sizeof *l);
    gemm_add(l, 0, 1, P, H, 2 * D, 1), gemm_add(l, 0, 1, P, D, H, 1);
    gemm_add(l, 0, 1, B, H, 2 * D, 1), gemm_add(l, 0, 1, B, D, H, 1);
    gemm_add(l, 0, 0, B, H, D, 1), gemm_add(l, 1, 0, D, H, B, 1);
    gemm_add(l, 1, 0, H, 2 * D, B, 1);
}

static void bench_gen(const Args *a) {
    const int B = a->B > 0 ? a->B : 64, P = B / 2, D = 64;
    GenBench s = {0};
    gen_init(&s.g, &(GenConfig){.D = D, .H = 128});
    gen_work_init(&s.w, &s.g, B);
    size_t n = s.g.n_params;
    s.p = xcalloc_aligned(n * sizeof(float)), s.ref = xcalloc_aligned(n * sizeof(float));
    s.gr = xcalloc_aligned(n * sizeof(float));
    s.m1 = xcalloc_aligned(n * sizeof(float)), s.v1 = xcalloc_aligned(n * sizeof(float));
    Rng r;
    rng_init(&r, 2, 0, 0, RNG_TEST);
    gen_init_params(&s.g, s.p, &r);
    memcpy(s.ref, s.p, n * sizeof(float));
    size_t bd = (size_t)B * D;
    float *buf = xmalloc(5 * bd * sizeof(float));
    rng_fill_normal(&r, buf, 5 * bd, 0.f, 1.f);
    uint8_t *has = xmalloc((size_t)B);
    for (int b = 0; b < B; b++)
        has[b] = rng_below(&r, 2);
    s.in = (GenBatch){.B = B,
                      .z_src = buf,
                      .proto = buf + bd,
                      .target = buf + 2 * bd,
                      .has_target = has,
                      .n_pair = P,
                      .z_w = buf + 3 * bd,
                      .z_l = buf + 4 * bd};
    s.cfg = (GenLossCfg){.lambda = 0.5f, .lambda_a = 0.1f, .beta = 0.1f, .sigma = 0.5f};
    GemmList gl;
    gen_gemms(&gl, &s.g, B, P);
    Timing t = time_step(gen_step, &s, &gl, a);
    char what[160];
    snprintf(what, sizeof what, "params=%zu D=%d H=%d B=%d pairs=%d", n, D, s.g.c.H, B, P);
    report(a, &t, what);
    xfree(buf), xfree(has), xfree(s.p), xfree(s.ref), xfree(s.gr), xfree(s.m1), xfree(s.v1);
    gen_work_free(&s.w);
}

int main(int argc, char **argv) {
    Args a = {.model = "mm_large", .threads = 1, .B = 0, .sgemm = 1, .min_time = 1.0};
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "model=", 6))
            a.model = argv[i] + 6;
        else if (!strncmp(argv[i], "threads=", 8))
            a.threads = atoi(argv[i] + 8);
        else if (!strncmp(argv[i], "min_time=", 9))
            a.min_time = atof(argv[i] + 9);
        else if (!strncmp(argv[i], "sgemm=", 6))
            a.sgemm = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "B=", 2))
            a.B = atoi(argv[i] + 2);
        else
            CHECK(0,
                  "usage: bench_mm_large [model=mm_large|generator] [threads=T] [min_time=S] "
                  "[sgemm=0|1] [B=n] (not '%s')",
                  argv[i]);
    }
    CHECK(a.threads >= 1 && a.B >= 0 && a.min_time >= 0,
          "bench_mm_large: threads=%d B=%d min_time=%g", a.threads, a.B, a.min_time);
    blas_set_num_threads(a.threads);
    bench_clock_threads = a.threads;
    if (!strcmp(a.model, "mm_large"))
        bench_mm(&a);
    else if (!strcmp(a.model, "generator"))
        bench_gen(&a);
    else
        CHECK(0, "bench_mm_large: unknown model '%s' (mm_large, generator)", a.model);
    return 0;
}
