// optim.c - see optim.h. The AdamW update is one element function shared by the vector bodies
// (AVX-512, else AVX) and their scalar tail (and by adamw_step_ref), written with separate
// multiplies and adds in the same order as the vector code: with -std=c11 GCC does not contract
// a*b+c into an FMA, so every path rounds identically and the result does not depend on n % 16 or
// on the build's -march.
#include "nn/optim.h"

#include <math.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/die.h"

// Segments inside [0, n_params) and pairwise disjoint; segs == NULL means the whole buffer.
static void check_segments(const char *fn, size_t n_params, const ParamSegment *segs, int n_segs) {
    CHECK(n_segs >= 0, "%s: n_segs = %d < 0", fn, n_segs);
    CHECK(segs != NULL || n_segs == 0, "%s: segs is NULL with n_segs = %d", fn, n_segs);
    for (int i = 0; i < n_segs; i++) {
        CHECK(segs[i].offset <= n_params && segs[i].n <= n_params - segs[i].offset,
              "%s: segment %d [%zu, %zu) outside the buffer [0, %zu)", fn, i, segs[i].offset,
              segs[i].offset + segs[i].n, n_params);
        for (int j = 0; j < i; j++) {
            size_t lo = segs[i].offset > segs[j].offset ? segs[i].offset : segs[j].offset;
            size_t hi_i = segs[i].offset + segs[i].n, hi_j = segs[j].offset + segs[j].n;
            size_t hi = hi_i < hi_j ? hi_i : hi_j;
            CHECK(lo >= hi, "%s: segments %d [%zu, %zu) and %d [%zu, %zu) overlap", fn, j,
                  segs[j].offset, hi_j, i, segs[i].offset, hi_i);
        }
    }
}

// The k-th range to update: the whole buffer when segs is NULL.
static int n_ranges(const ParamSegment *segs, int n_segs) { return segs ? n_segs : 1; }
static ParamSegment range_at(const ParamSegment *segs, int k, size_t n_params) {
    return segs ? segs[k] : (ParamSegment){0, n_params};
}

// ---- SGD ----

void sgd_step(float *params, const float *grads, float *vel, size_t n_params,
              const ParamSegment *segs, int n_segs, const SgdConfig *c) {
    CHECK_PTR(c);
    CHECK(params && grads && vel, "sgd_step: NULL buffer (params=%p grads=%p vel=%p)",
          (void *)params, (const void *)grads, (void *)vel);
    CHECK(isfinite(c->lr) && c->lr >= 0 && c->momentum >= 0 && c->momentum < 1 &&
              c->weight_decay >= 0,
          "sgd_step: bad config lr=%g momentum=%g weight_decay=%g", c->lr, c->momentum,
          c->weight_decay);
    check_segments(__func__, n_params, segs, n_segs);
    const float lr = c->lr, mu = c->momentum, wd = c->weight_decay;
    for (int k = 0; k < n_ranges(segs, n_segs); k++) {
        ParamSegment r = range_at(segs, k, n_params);
        float *p = params + r.offset, *b = vel + r.offset;
        const float *g = grads + r.offset;
        for (size_t i = 0; i < r.n; i++) {
            float gi = g[i] + wd * p[i];
            b[i] = mu * b[i] + gi;
            p[i] -= lr * (c->nesterov ? gi + mu * b[i] : b[i]);
        }
    }
}

// ---- AdamW ----

// Per-step scalars, computed once in double (bias corrections of powers close to 1).
typedef struct AdamScalars {
    float b1, omb1, b2, omb2, decay, step, bc2_sqrt, eps;
} AdamScalars;

static AdamScalars adam_scalars(const char *fn, const AdamWConfig *c, long t) {
    CHECK(t >= 1, "%s: step t = %ld, expected >= 1 (1-based)", fn, t);
    CHECK(isfinite(c->lr) && c->lr >= 0 && c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 &&
              c->beta2 < 1 && c->eps > 0 && c->weight_decay >= 0,
          "%s: bad config lr=%g beta1=%g beta2=%g eps=%g weight_decay=%g", fn, c->lr, c->beta1,
          c->beta2, c->eps, c->weight_decay);
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    return (AdamScalars){.b1 = c->beta1,
                         .omb1 = 1.0f - c->beta1,
                         .b2 = c->beta2,
                         .omb2 = 1.0f - c->beta2,
                         .decay = (float)(1.0 - (double)c->lr * c->weight_decay),
                         .step = (float)(c->lr / bc1),
                         .bc2_sqrt = (float)sqrt(bc2),
                         .eps = c->eps};
}

// One element; the vector bodies below perform exactly these operations in this order.
static inline void adam_elem(float *p, float g, float *m, float *v, const AdamScalars *s) {
    float mi = s->b1 * *m + s->omb1 * g;
    float vi = s->b2 * *v + s->omb2 * (g * g);
    float denom = sqrtf(vi) / s->bc2_sqrt + s->eps;
    *m = mi, *v = vi;
    *p = *p * s->decay - s->step * (mi / denom);
}

static void adam_range_scalar(float *p, const float *g, float *m, float *v, size_t n,
                              const AdamScalars *s) {
    for (size_t i = 0; i < n; i++)
        adam_elem(&p[i], g[i], &m[i], &v[i], s);
}

static void adam_range(float *p, const float *g, float *m, float *v, size_t n,
                       const AdamScalars *s) {
    size_t i = 0;
#ifdef __AVX512F__
    const __m512 b1 = _mm512_set1_ps(s->b1), omb1 = _mm512_set1_ps(s->omb1);
    const __m512 b2 = _mm512_set1_ps(s->b2), omb2 = _mm512_set1_ps(s->omb2);
    const __m512 decay = _mm512_set1_ps(s->decay), step = _mm512_set1_ps(s->step);
    const __m512 bc2s = _mm512_set1_ps(s->bc2_sqrt), eps = _mm512_set1_ps(s->eps);
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i);
        __m512 mi =
            _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(omb1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                  _mm512_mul_ps(omb2, _mm512_mul_ps(gi, gi)));
        __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2s), eps);
        __m512 pi = _mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(p + i), decay),
                                  _mm512_mul_ps(step, _mm512_div_ps(mi, denom)));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        _mm512_storeu_ps(p + i, pi);
    }
#elif defined(__AVX__)
    // The same body on 8 lanes (AVX2 machines such as Zen 2/3: the scalar loop does not vectorise,
    // sqrtf being a libm call there, and took a fifth of the MM-LM's step).
    const __m256 b1 = _mm256_set1_ps(s->b1), omb1 = _mm256_set1_ps(s->omb1);
    const __m256 b2 = _mm256_set1_ps(s->b2), omb2 = _mm256_set1_ps(s->omb2);
    const __m256 decay = _mm256_set1_ps(s->decay), step = _mm256_set1_ps(s->step);
    const __m256 bc2s = _mm256_set1_ps(s->bc2_sqrt), eps = _mm256_set1_ps(s->eps);
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi =
            _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(omb1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(omb2, _mm256_mul_ps(gi, gi)));
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2s), eps);
        __m256 pi = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i), decay),
                                  _mm256_mul_ps(step, _mm256_div_ps(mi, denom)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        _mm256_storeu_ps(p + i, pi);
    }
#endif
    adam_range_scalar(p + i, g + i, m + i, v + i, n - i, s);
}

static void adamw_check(const char *fn, const float *params, const float *grads, const float *m,
                        const float *v, const AdamWConfig *c) {
    CHECK(c != NULL, "%s: config is NULL", fn);
    CHECK(params && grads && m && v, "%s: NULL buffer (params=%p grads=%p m=%p v=%p)", fn,
          (const void *)params, (const void *)grads, (const void *)m, (const void *)v);
}

void adamw_step(float *params, const float *grads, float *m, float *v, size_t n_params,
                const ParamSegment *segs, int n_segs, const AdamWConfig *c, long t) {
    adamw_check(__func__, params, grads, m, v, c);
    check_segments(__func__, n_params, segs, n_segs);
    AdamScalars s = adam_scalars(__func__, c, t);
    for (int k = 0; k < n_ranges(segs, n_segs); k++) {
        ParamSegment r = range_at(segs, k, n_params);
        adam_range(params + r.offset, grads + r.offset, m + r.offset, v + r.offset, r.n, &s);
    }
}

void adamw_step_ref(float *params, const float *grads, float *m, float *v, size_t n_params,
                    const ParamSegment *segs, int n_segs, const AdamWConfig *c, long t) {
    adamw_check(__func__, params, grads, m, v, c);
    check_segments(__func__, n_params, segs, n_segs);
    AdamScalars s = adam_scalars(__func__, c, t);
    for (int k = 0; k < n_ranges(segs, n_segs); k++) {
        ParamSegment r = range_at(segs, k, n_params);
        adam_range_scalar(params + r.offset, grads + r.offset, m + r.offset, v + r.offset, r.n, &s);
    }
}

// ---- gradient norm and clipping ----

// Σ g² in double over 8 interleaved partial sums (lane l takes the elements i ≡ l mod 8), folded
// in lane order: the order, hence the result, is the same on every target. A single running sum
// does not vectorise (the reassociation would change the result) and took 5 % of the MM-LM's step;
// two 4-double accumulators keep GCC's code in registers (an 8-double vector went through memory).
typedef double vdouble4 __attribute__((vector_size(32)));
typedef float vfloat4 __attribute__((vector_size(16)));
static double sum_squares(const float *g, size_t n) {
    vdouble4 lo = {0}, hi = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vfloat4 a, b;
        memcpy(&a, g + i, sizeof a);
        memcpy(&b, g + i + 4, sizeof b);
        vdouble4 da = __builtin_convertvector(a, vdouble4),
                 db = __builtin_convertvector(b, vdouble4);
        lo += da * da, hi += db * db;
    }
    double part[8];
    memcpy(part, &lo, sizeof lo);
    memcpy(part + 4, &hi, sizeof hi);
    for (size_t l = 0; i < n; i++, l++) // the tail joins lanes 0.. in order
        part[l] += (double)g[i] * g[i];
    double ss = 0;
    for (int l = 0; l < 8; l++)
        ss += part[l];
    return ss;
}

double grad_global_norm(const float *grads, size_t n_params, const ParamSegment *segs, int n_segs) {
    CHECK_PTR(grads);
    check_segments(__func__, n_params, segs, n_segs);
    double ss = 0;
    for (int k = 0; k < n_ranges(segs, n_segs); k++) {
        ParamSegment r = range_at(segs, k, n_params);
        ss += sum_squares(grads + r.offset, r.n);
    }
    return sqrt(ss);
}

double clip_grad_global_norm(float *grads, size_t n_params, const ParamSegment *segs, int n_segs,
                             double max_norm) {
    CHECK(max_norm > 0 && isfinite(max_norm), "clip_grad_global_norm: max_norm = %g, expected > 0",
          max_norm);
    double norm = grad_global_norm(grads, n_params, segs, n_segs);
    // A NaN norm fails the comparison: gradients are left as they are for NANGUARD to report.
    if (norm > max_norm) {
        float scale = (float)(max_norm / norm);
        for (int k = 0; k < n_ranges(segs, n_segs); k++) {
            ParamSegment r = range_at(segs, k, n_params);
            for (size_t i = 0; i < r.n; i++)
                grads[r.offset + i] *= scale;
        }
    }
    return norm;
}

// ---- schedule ----

float lr_cosine_warmup(long step, long warmup, long total, float lr_max, float lr_min) {
    CHECK(step >= 0 && warmup >= 0 && total >= warmup,
          "lr_cosine_warmup: step=%ld warmup=%ld total=%ld (need step >= 0, 0 <= warmup <= total)",
          step, warmup, total);
    CHECK(lr_min >= 0 && lr_max >= lr_min, "lr_cosine_warmup: lr_max=%g lr_min=%g", lr_max, lr_min);
    if (step < warmup) return (float)((double)lr_max * (double)(step + 1) / (double)warmup);
    if (step >= total) return lr_min;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    return (float)(lr_min + 0.5 * ((double)lr_max - lr_min) * (1.0 + cos(M_PI * progress)));
}
