// loss.c - losses and their gradients (see loss.h): softmax cross-entropy, softmax, MSE, L1,
// distillation KL, cosine similarity, InfoNCE, 1-D Haar DWT and its high-band L1 (CD-CCA).
// Dimension legend (docs/conventions.md §6): N rows, V classes, D features, L signal length, J DWT
// levels. Loss sums and log-sum-exps are in double (docs/conventions.md §8); gradients are float.
#include "nn/loss.h"

#include <math.h>

#include "core/die.h"
#include "core/nanguard.h"
#include "tensor/blas.h"

#define NORM_EPS 1e-8 // cosine / InfoNCE norm floor (PyTorch's cosine_similarity eps)

// ---- softmax and cross-entropy ----

// Row max and log Σ exp(x - max), in double.
static void row_lse(const float *x, int V, double *mx, double *lse) {
    double m = -INFINITY;
    for (int v = 0; v < V; v++)
        m = fmax(m, (double)x[v]);
    double s = 0;
    for (int v = 0; v < V; v++)
        s += exp((double)x[v] - m);
    *mx = m;
    // cppcheck-suppress invalidFunctionArg ; s >= 1: the max term contributes exp(0)
    *lse = log(s);
}

void softmax_forward(float *out, const float *inp, int N, int V) {
    CHECK(N >= 0 && V > 0, "bad shape N=%d V=%d", N, V);
    CHECK_PTR(out);
    CHECK_PTR(inp);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * V;
        float *o = out + (size_t)n * V; // may alias x: each element is read before it is written
        double mx, lse;
        row_lse(x, V, &mx, &lse);
        for (int v = 0; v < V; v++)
            o[v] = (float)exp((double)x[v] - mx - lse);
    }
    NANGUARD(__func__, "out", out, (size_t)N * V);
}

// Validates targets and weights of the counted rows and returns Σ w over them. fn names the caller.
static double ce_weight_sum(const char *fn, const int *targets, const float *weights,
                            int ignore_index, int N, int V) {
    double wsum = 0;
    for (int n = 0; n < N; n++) {
        if (targets[n] == ignore_index) continue;
        CHECK(targets[n] >= 0 && targets[n] < V,
              "%s: targets[%d] = %d outside [0, %d) and not ignore_index %d", fn, n, targets[n], V,
              ignore_index);
        if (weights) {
            CHECK(isfinite(weights[n]) && weights[n] >= 0,
                  "%s: weights[%d] = %g is not finite >= 0", fn, n, (double)weights[n]);
            wsum += weights[n];
        } else {
            wsum += 1;
        }
    }
    return wsum;
}

double softmax_ce_forward(float *probs, const float *logits, const int *targets,
                          const float *weights, int ignore_index, int N, int V) {
    CHECK(N >= 0 && V > 0, "bad shape N=%d V=%d", N, V);
    CHECK_PTR(probs);
    CHECK_PTR(logits);
    CHECK_PTR(targets);
    double wsum = ce_weight_sum(__func__, targets, weights, ignore_index, N, V);
    double loss = 0;
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        double mx, lse;
        row_lse(x, V, &mx, &lse);
        for (int v = 0; v < V; v++)
            probs[(size_t)n * V + v] = (float)exp((double)x[v] - mx - lse);
        if (targets[n] == ignore_index) continue;
        double w = weights ? (double)weights[n] : 1.0;
        // -log p[y] from the logits, not from the rounded probability (no log(0) = inf).
        if (w != 0) loss += w * (lse - ((double)x[targets[n]] - mx));
    }
    NANGUARD(__func__, "probs", probs, (size_t)N * V);
    return wsum > 0 ? loss / wsum : 0.0;
}

void softmax_ce_backward(float *dlogits, const float *probs, const int *targets,
                         const float *weights, int ignore_index, int N, int V, double dloss) {
    CHECK(N >= 0 && V > 0, "bad shape N=%d V=%d", N, V);
    CHECK_PTR(probs);
    CHECK_PTR(targets);
    if (dlogits == NULL) return;
    double wsum = ce_weight_sum(__func__, targets, weights, ignore_index, N, V);
    if (wsum == 0) return;
    for (int n = 0; n < N; n++) {
        if (targets[n] == ignore_index) continue;
        float c = (float)(dloss * (weights ? (double)weights[n] : 1.0) / wsum);
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        for (int v = 0; v < V; v++)
            d[v] += c * p[v];
        d[targets[n]] -= c;
    }
    NANGUARD(__func__, "dlogits", dlogits, (size_t)N * V);
}

// ---- MSE and L1 ----

double mse_forward(const float *pred, const float *target, size_t n) {
    CHECK(n > 0, "n = 0 values");
    CHECK_PTR(pred);
    CHECK_PTR(target);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return s / (double)n;
}

void mse_backward(float *dpred, const float *pred, const float *target, size_t n, double dloss) {
    CHECK(n > 0, "n = 0 values");
    CHECK_PTR(pred);
    CHECK_PTR(target);
    if (dpred == NULL) return;
    const float c = (float)(2.0 * dloss / (double)n);
    for (size_t i = 0; i < n; i++)
        dpred[i] += c * (pred[i] - target[i]);
    NANGUARD(__func__, "dpred", dpred, n);
}

double l1_forward(const float *pred, const float *target, size_t n) {
    CHECK(n > 0, "n = 0 values");
    CHECK_PTR(pred);
    CHECK_PTR(target);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)pred[i] - target[i]);
    return s / (double)n;
}

void l1_backward(float *dpred, const float *pred, const float *target, size_t n, double dloss) {
    CHECK(n > 0, "n = 0 values");
    CHECK_PTR(pred);
    CHECK_PTR(target);
    if (dpred == NULL) return;
    const float c = (float)(dloss / (double)n);
    for (size_t i = 0; i < n; i++)
        dpred[i] += pred[i] > target[i] ? c : pred[i] < target[i] ? -c : 0.0f;
    NANGUARD(__func__, "dpred", dpred, n);
}

// ---- distillation KL ----

double kl_div_forward(float *p_cache, float *q_cache, const float *student, const float *teacher,
                      float Tt, int N, int V) {
    CHECK(N > 0 && V > 0, "bad shape N=%d V=%d", N, V);
    CHECK(isfinite(Tt) && Tt > 0, "temperature Tt = %g must be finite > 0", (double)Tt);
    CHECK_PTR(p_cache);
    CHECK_PTR(q_cache);
    CHECK_PTR(student);
    CHECK_PTR(teacher);
    double kl = 0;
    for (int n = 0; n < N; n++) {
        const float *s = student + (size_t)n * V, *t = teacher + (size_t)n * V;
        // log-softmax of x/Tt in double: max and log Σ exp over the scaled logits.
        double ms = -INFINITY, mt = -INFINITY, ss = 0, st = 0;
        for (int v = 0; v < V; v++)
            ms = fmax(ms, s[v] / (double)Tt), mt = fmax(mt, t[v] / (double)Tt);
        for (int v = 0; v < V; v++)
            ss += exp(s[v] / (double)Tt - ms), st += exp(t[v] / (double)Tt - mt);
        // cppcheck-suppress invalidFunctionArg ; ss, st >= 1: each max term contributes exp(0)
        double ls = log(ss), lt = log(st);
        for (int v = 0; v < V; v++) {
            double logq = s[v] / (double)Tt - ms - ls, logp = t[v] / (double)Tt - mt - lt;
            double p = exp(logp);
            p_cache[(size_t)n * V + v] = (float)p;
            q_cache[(size_t)n * V + v] = (float)exp(logq);
            kl += p * (logp - logq); // p log p -> 0 as p -> 0: exp(logp) underflows to an exact 0
        }
    }
    NANGUARD(__func__, "p_cache", p_cache, (size_t)N * V);
    NANGUARD(__func__, "q_cache", q_cache, (size_t)N * V);
    return (double)Tt * Tt * kl / N;
}

void kl_div_backward(float *dstudent, const float *p_cache, const float *q_cache, float Tt, int N,
                     int V, double dloss) {
    CHECK(N > 0 && V > 0, "bad shape N=%d V=%d", N, V);
    CHECK(isfinite(Tt) && Tt > 0, "temperature Tt = %g must be finite > 0", (double)Tt);
    CHECK_PTR(p_cache);
    CHECK_PTR(q_cache);
    if (dstudent == NULL) return;
    const float c = (float)(dloss * Tt / N);
    for (size_t i = 0; i < (size_t)N * V; i++)
        dstudent[i] += c * (q_cache[i] - p_cache[i]);
    NANGUARD(__func__, "dstudent", dstudent, (size_t)N * V);
}

// ---- cosine similarity ----

// ⟨x, y⟩, ⟨x, x⟩, ⟨y, y⟩ in double: forward and backward both need them (backward recomputes).
static void dots(const float *x, const float *y, int D, double *ab, double *aa, double *bb) {
    double xy = 0, xx = 0, yy = 0;
    for (int i = 0; i < D; i++)
        xy += (double)x[i] * y[i], xx += (double)x[i] * x[i], yy += (double)y[i] * y[i];
    *ab = xy, *aa = xx, *bb = yy;
}

void cosine_forward(float *cos, const float *a, const float *b, int N, int D) {
    CHECK(N >= 0 && D > 0, "bad shape N=%d D=%d", N, D);
    CHECK_PTR(cos);
    CHECK_PTR(a);
    CHECK_PTR(b);
    for (int n = 0; n < N; n++) {
        const float *x = a + (size_t)n * D, *y = b + (size_t)n * D;
        double ab, aa, bb;
        dots(x, y, D, &ab, &aa, &bb);
        cos[n] = (float)(ab / (fmax(sqrt(aa), NORM_EPS) * fmax(sqrt(bb), NORM_EPS)));
    }
    NANGUARD(__func__, "cos", cos, N);
}

void cosine_backward(float *da, float *db, const float *dcos, const float *a, const float *b, int N,
                     int D) {
    CHECK(N >= 0 && D > 0, "bad shape N=%d D=%d", N, D);
    CHECK_PTR(dcos);
    CHECK_PTR(a);
    CHECK_PTR(b);
    for (int n = 0; n < N; n++) {
        const float *x = a + (size_t)n * D, *y = b + (size_t)n * D;
        double ab, aa, bb;
        dots(x, y, D, &ab, &aa, &bb);
        double na = sqrt(aa), nb = sqrt(bb);
        double ea = fmax(na, NORM_EPS), eb = fmax(nb, NORM_EPS);
        double g = dcos[n] / (ea * eb);
        // ∂cos/∂a = b/(|a||b|) - cos · a/|a|²; the second term vanishes where the eps floor holds
        // |a| constant.
        double ca = na > NORM_EPS ? g * ab / (na * na) : 0.0;
        double cb = nb > NORM_EPS ? g * ab / (nb * nb) : 0.0;
        if (da)
            for (int i = 0; i < D; i++)
                da[(size_t)n * D + i] += (float)(g * y[i] - ca * x[i]);
        if (db)
            for (int i = 0; i < D; i++)
                db[(size_t)n * D + i] += (float)(g * x[i] - cb * y[i]);
    }
    if (da) NANGUARD(__func__, "da", da, (size_t)N * D);
    if (db) NANGUARD(__func__, "db", db, (size_t)N * D);
}

// ---- InfoNCE ----

// Workspace layout: â (N, D), b̂ (N, D), |a| (N), |b| (N), dâ (N, D), db̂ (N, D), G (N, N).
size_t infonce_workspace_size(int N, int D) {
    CHECK(N > 0 && D > 0, "bad shape N=%d D=%d", N, D);
    return (size_t)4 * N * D + 2 * (size_t)N + (size_t)N * N;
}

// xn = x / max(|x|, eps) per row; nrm = |x|.
static void normalise_rows(float *xn, float *nrm, const float *x, int N, int D) {
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int i = 0; i < D; i++)
            s += (double)x[(size_t)n * D + i] * x[(size_t)n * D + i];
        double r = sqrt(s);
        nrm[n] = (float)r;
        double inv = 1.0 / fmax(r, NORM_EPS);
        for (int i = 0; i < D; i++)
            xn[(size_t)n * D + i] = (float)(x[(size_t)n * D + i] * inv);
    }
}

double infonce_forward(float *probs, const float *a, const float *b, float tau, int N, int D,
                       float *work) {
    CHECK(N > 0 && D > 0, "bad shape N=%d D=%d", N, D);
    CHECK(isfinite(tau) && tau > 0, "temperature tau = %g must be finite > 0", (double)tau);
    CHECK_PTR(probs);
    CHECK_PTR(a);
    CHECK_PTR(b);
    CHECK_PTR(work);
    float *an = work, *bn = an + (size_t)N * D, *na = bn + (size_t)N * D, *nb = na + N;
    normalise_rows(an, na, a, N, D);
    normalise_rows(bn, nb, b, N, D);
    sgemm_rm(0, 1, N, N, D, 1.0f / tau, an, D, bn, D, 0.0f, probs, N); // logits = â b̂ᵀ / tau
    double loss = 0;
    for (int n = 0; n < N; n++) {
        float *row = probs + (size_t)n * N;
        double mx, lse;
        row_lse(row, N, &mx, &lse);
        loss += lse - ((double)row[n] - mx);
        for (int m = 0; m < N; m++)
            row[m] = (float)exp((double)row[m] - mx - lse);
    }
    NANGUARD(__func__, "probs", probs, (size_t)N * N);
    return loss / N;
}

// Chain rule through x̂ = x / |x|: dx += (dx̂ - x̂ <x̂, dx̂>) / |x| (only dx̂ / eps under the floor).
static void normalise_rows_backward(float *dx, const float *dxn, const float *xn, const float *nrm,
                                    int N, int D) {
    for (int n = 0; n < N; n++) {
        const float *g = dxn + (size_t)n * D, *u = xn + (size_t)n * D;
        double r = nrm[n], proj = 0;
        if (r > NORM_EPS)
            for (int i = 0; i < D; i++)
                proj += (double)g[i] * u[i];
        double inv = 1.0 / fmax(r, NORM_EPS);
        for (int i = 0; i < D; i++)
            dx[(size_t)n * D + i] += (float)((g[i] - u[i] * proj) * inv);
    }
}

void infonce_backward(float *da, float *db, const float *probs, const float *a, const float *b,
                      float tau, int N, int D, double dloss, float *work) {
    CHECK(N > 0 && D > 0, "bad shape N=%d D=%d", N, D);
    CHECK(isfinite(tau) && tau > 0, "temperature tau = %g must be finite > 0", (double)tau);
    CHECK_PTR(probs);
    CHECK_PTR(a);
    CHECK_PTR(b);
    CHECK_PTR(work);
    if (!da && !db) return;
    float *an = work, *bn = an + (size_t)N * D, *na = bn + (size_t)N * D, *nb = na + N;
    float *dan = nb + N, *dbn = dan + (size_t)N * D, *G = dbn + (size_t)N * D;
    normalise_rows(an, na, a, N, D);
    normalise_rows(bn, nb, b, N, D);
    // G = ∂loss/∂logits = dloss (P - I) / N; logits = â b̂ᵀ / tau.
    for (int n = 0; n < N; n++)
        for (int m = 0; m < N; m++)
            G[(size_t)n * N + m] = (float)(dloss * (probs[(size_t)n * N + m] - (n == m)) / N);
    if (da) {
        sgemm_rm(0, 0, N, D, N, 1.0f / tau, G, N, bn, D, 0.0f, dan, D); // dâ = G b̂ / tau
        normalise_rows_backward(da, dan, an, na, N, D);
        NANGUARD(__func__, "da", da, (size_t)N * D);
    }
    if (db) {
        sgemm_rm(1, 0, N, D, N, 1.0f / tau, G, N, an, D, 0.0f, dbn, D); // db̂ = Gᵀ â / tau
        normalise_rows_backward(db, dbn, bn, nb, N, D);
        NANGUARD(__func__, "db", db, (size_t)N * D);
    }
}

// ---- Haar DWT ----

static void haar_level(float *lo, float *hi, const float *x, int N, int L) {
    const int h = L / 2;
    const float r = (float)M_SQRT1_2;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < h; i++) {
            float x0 = x[(size_t)n * L + 2 * i], x1 = x[(size_t)n * L + 2 * i + 1];
            lo[(size_t)n * h + i] = (x0 + x1) * r;
            hi[(size_t)n * h + i] = (x0 - x1) * r;
        }
}

// The transform is orthonormal on the pairs, so the adjoint is the inverse on them; a dropped odd
// sample gets no gradient.
static void haar_level_backward(float *dx, const float *dlo, const float *dhi, int N, int L) {
    const int h = L / 2;
    const float r = (float)M_SQRT1_2;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < h; i++) {
            float gl = dlo ? dlo[(size_t)n * h + i] : 0.0f,
                  gh = dhi ? dhi[(size_t)n * h + i] : 0.0f;
            dx[(size_t)n * L + 2 * i] += (gl + gh) * r;
            dx[(size_t)n * L + 2 * i + 1] += (gl - gh) * r;
        }
}

void haar_dwt_forward(float *lo, float *hi, const float *x, int N, int L) {
    CHECK(N >= 0 && L >= 2, "bad shape N=%d L=%d (L >= 2)", N, L);
    CHECK_PTR(lo);
    CHECK_PTR(hi);
    CHECK_PTR(x);
    haar_level(lo, hi, x, N, L);
    NANGUARD(__func__, "lo", lo, (size_t)N * (L / 2));
    NANGUARD(__func__, "hi", hi, (size_t)N * (L / 2));
}

void haar_dwt_backward(float *dx, const float *dlo, const float *dhi, int N, int L) {
    CHECK(N >= 0 && L >= 2, "bad shape N=%d L=%d (L >= 2)", N, L);
    if (dx == NULL || (dlo == NULL && dhi == NULL)) return;
    haar_level_backward(dx, dlo, dhi, N, L);
    NANGUARD(__func__, "dx", dx, (size_t)N * L);
}

// ---- high-frequency L1 (CD-CCA) ----
// The DWT is linear, so hi_j(x) - hi_j(y) = hi_j(x - y): one transform of the difference e.
// Workspace layout: e (N, L), lo_1 .. lo_J of e (N, L_j each, L_j = L_{j-1}/2), one hi band
// (N, L_1), and two gradient buffers (N, L) used in turn by the backward.

static void check_hf(const char *fn, const float *x, const float *y, int N, int L, int J,
                     const float *work) {
    CHECK(N > 0 && L > 0 && J >= 1 && J < 31, "%s: bad shape N=%d L=%d J=%d", fn, N, L, J);
    CHECK(L >= (1 << J), "%s: L=%d < 2^J = %d: level %d would be empty", fn, L, 1 << J, J);
    CHECK(x && y && work, "%s: NULL buffer (x=%p y=%p work=%p)", fn, (const void *)x,
          (const void *)y, (const void *)work);
}

// Σ_j N·L_j over the lo bands.
static size_t lo_bands_size(int N, int L, int J) {
    size_t s = 0;
    for (int j = 1, Lj = L / 2; j <= J; j++, Lj /= 2)
        s += (size_t)N * Lj;
    return s;
}

size_t haar_hf_l1_workspace_size(int N, int L, int J) {
    CHECK(N > 0 && L > 0 && J >= 1 && J < 31 && L >= (1 << J), "bad shape N=%d L=%d J=%d", N, L, J);
    return 3 * (size_t)N * L + lo_bands_size(N, L, J) + (size_t)N * (L / 2);
}

// Writes e and the lo bands into work and returns the loss.
static double hf_l1(const float *x, const float *y, int N, int L, int J, float *work) {
    float *e = work, *lo = e + (size_t)N * L;
    float *hi = lo + lo_bands_size(N, L, J);
    for (size_t i = 0; i < (size_t)N * L; i++)
        e[i] = x[i] - y[i];
    const float *in = e;
    double loss = 0;
    for (int j = 1, Lin = L; j <= J; j++, Lin /= 2) {
        const int Lj = Lin / 2;
        haar_level(lo, hi, in, N, Lin);
        double s = 0;
        for (size_t i = 0; i < (size_t)N * Lj; i++)
            s += fabs((double)hi[i]);
        loss += s / ((double)N * Lj);
        in = lo;
        lo += (size_t)N * Lj;
    }
    return loss;
}

double haar_hf_l1_forward(const float *x, const float *y, int N, int L, int J, float *work) {
    check_hf(__func__, x, y, N, L, J, work);
    return hf_l1(x, y, N, L, J, work);
}

void haar_hf_l1_backward(float *dx, float *dy, const float *x, const float *y, int N, int L, int J,
                         double dloss, float *work) {
    check_hf(__func__, x, y, N, L, J, work);
    if (!dx && !dy) return;
    hf_l1(x, y, N, L, J, work);
    const float *band[32]; // band[j] = lo_j, the input of level j + 1 (band[0] = e)
    int Ls[32];
    band[0] = work;
    Ls[0] = L;
    for (int j = 1; j <= J; j++) {
        Ls[j] = Ls[j - 1] / 2;
        band[j] = band[j - 1] + (size_t)N * Ls[j - 1];
    }
    float *dhi = work + (size_t)N * L + lo_bands_size(N, L, J);
    float *gcur = dhi + (size_t)N * (L / 2), *gnext = gcur + (size_t)N * L;
    // Walk back from level J: ∂/∂lo_J = 0, ∂/∂lo_{j-1} = adjoint_j(∂/∂lo_j, dhi_j) with
    // dhi_j = dloss · sign(hi_j) / (N L_j); sign(hi_j) is the sign of the pair difference.
    for (size_t i = 0; i < (size_t)N * Ls[J]; i++)
        gcur[i] = 0.0f;
    for (int j = J; j >= 1; j--) {
        const float *in = band[j - 1];
        const float c = (float)(dloss / ((double)N * Ls[j]));
        for (int n = 0; n < N; n++)
            for (int i = 0; i < Ls[j]; i++) {
                float a = in[(size_t)n * Ls[j - 1] + 2 * i],
                      b = in[(size_t)n * Ls[j - 1] + 2 * i + 1];
                dhi[(size_t)n * Ls[j] + i] = a > b ? c : a < b ? -c : 0.0f;
            }
        for (size_t i = 0; i < (size_t)N * Ls[j - 1]; i++)
            gnext[i] = 0.0f;
        haar_level_backward(gnext, gcur, dhi, N, Ls[j - 1]);
        float *t = gcur;
        gcur = gnext;
        gnext = t;
    }
    const size_t n_all = (size_t)N * L;
    if (dx) {
        for (size_t i = 0; i < n_all; i++)
            dx[i] += gcur[i];
        NANGUARD(__func__, "dx", dx, n_all);
    }
    if (dy) {
        for (size_t i = 0; i < n_all; i++)
            dy[i] -= gcur[i];
        NANGUARD(__func__, "dy", dy, n_all);
    }
}

long argmax_hits(const float *logits, const int *targets, int N, int V) {
    CHECK_PTR(logits);
    CHECK_PTR(targets);
    long hits = 0;
    for (int n = 0; n < N; n++) {
        const float *p = logits + (size_t)n * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (p[v] > p[best]) best = v;
        hits += best == targets[n];
    }
    return hits;
}
