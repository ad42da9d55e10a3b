// craa.c - canonical reliability-aware aggregation of one matrix after its SVD (see craa.h).
#include "agg/craa.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "tensor/linalg.h"

static const char *const NAMES[CRAA_RELIABILITY_COUNT] = {"uniform", "agreement", "sign",
                                                          "distance", "reported"};

const char *craa_reliability_name(CraaReliability rel) {
    return (int)rel >= 0 && (int)rel < CRAA_RELIABILITY_COUNT ? NAMES[rel] : "?";
}

static void check_finite(const double *x, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        CHECK(isfinite(x[i]), "%s[%zu] = %g: not finite", what, i, x[i]);
}

static void check_shape(int K, int d_out, int d_in) {
    CHECK(K >= 1 && d_out >= 1 && d_in >= 1, "K = %d parties, d_out = %d, d_in = %d: all >= 1", K,
          d_out, d_in);
    CHECK((long long)K * d_in <= INT_MAX, "K·d_in = %lld columns exceeds INT_MAX (LAPACK's int)",
          (long long)K * d_in);
}

void craa_stack(double *m, const double *delta, int K, int d_out, int d_in) {
    CHECK(m && delta, "NULL buffer (m=%p delta=%p)", (void *)m, (const void *)delta);
    check_shape(K, d_out, d_in);
    const size_t cols = (size_t)K * d_in;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < d_out; i++)
            memcpy(m + (size_t)i * cols + (size_t)k * d_in, delta + ((size_t)k * d_out + i) * d_in,
                   (size_t)d_in * sizeof *m);
}

void craa_svd_init(CraaSvd *svd, const double *delta, int K, int d_out, int d_in) {
    CHECK(svd && delta, "NULL argument (svd=%p delta=%p)", (void *)svd, (const void *)delta);
    check_shape(K, d_out, d_in);
    const int cols = K * d_in, k = d_out < cols ? d_out : cols;
    check_finite(delta, (size_t)K * d_out * d_in, "delta");
    double *m = xmalloc((size_t)d_out * cols * sizeof *m);
    craa_stack(m, delta, K, d_out, d_in);
    *svd = (CraaSvd){.d_out = d_out,
                     .cols = cols,
                     .k = k,
                     .u = xmalloc((size_t)d_out * k * sizeof(double)),
                     .s = xmalloc((size_t)k * sizeof(double)),
                     .vt = xmalloc((size_t)k * cols * sizeof(double))};
    linalg_svd_thin(svd->u, svd->s, svd->vt, m, d_out, cols);
    xfree(m);
}

void craa_svd_free(CraaSvd *svd) {
    if (!svd) return;
    xfree(svd->u), xfree(svd->s), xfree(svd->vt);
    *svd = (CraaSvd){0};
}

void craa_check_opts(const CraaOpts *o, int kmax) {
    CHECK_PTR(o);
    CHECK((int)o->rel >= 0 && (int)o->rel < CRAA_RELIABILITY_COUNT,
          "--fedcmp.reliability = %d: one of " CRAA_RELIABILITY_NAMES, (int)o->rel);
    CHECK(o->rank >= 1, "--fedcmp.rank = %d: the rank of the truncated SVD must be >= 1", o->rank);
    CHECK(kmax <= 0 || o->rank <= kmax,
          "--fedcmp.rank = %d exceeds the %d singular triplets of the matrix (at most min(d_out, "
          "K·d_in))",
          o->rank, kmax);
    CHECK(o->temp > 0 && isfinite(o->temp),
          "--fedcmp.temp = %g: the softmax temperature must be > 0 and finite", o->temp);
    CHECK(o->eps > 0 && isfinite(o->eps), "--fedcmp.eps = %g: the distance floor must be > 0",
          o->eps);
    CHECK(o->per_row == 0 || o->per_row == 1, "per_row = %d: 0 or 1", o->per_row);
}

static void check_svd(const CraaSvd *svd) {
    CHECK_PTR(svd);
    CHECK(svd->u && svd->s && svd->vt, "svd has a NULL array (u=%p s=%p vt=%p)", (void *)svd->u,
          (void *)svd->s, (void *)svd->vt);
    CHECK(svd->d_out >= 1 && svd->cols >= 1 && svd->k >= 1 &&
              svd->k <= (svd->d_out < svd->cols ? svd->d_out : svd->cols),
          "svd of a (%d, %d) matrix holding k = %d triplets", svd->d_out, svd->cols, svd->k);
    for (int i = 0; i < svd->k; i++)
        CHECK(isfinite(svd->s[i]) && svd->s[i] >= 0 && (i == 0 || svd->s[i] <= svd->s[i - 1]),
              "singular value s[%d] = %g: not finite, negative or not descending", i, svd->s[i]);
    check_finite(svd->u, (size_t)svd->d_out * svd->k, "svd->u");
    check_finite(svd->vt, (size_t)svd->k * svd->cols, "svd->vt");
}

void craa_basis(double *u_r, const CraaSvd *svd, int r) {
    CHECK(u_r && svd && svd->u, "NULL argument");
    CHECK(r >= 1 && r <= svd->k, "--fedcmp.rank = %d: outside [1, %d] (the triplets held)", r,
          svd->k);
    for (int i = 0; i < svd->d_out; i++)
        memcpy(u_r + (size_t)i * r, svd->u + (size_t)i * svd->k, (size_t)r * sizeof *u_r);
}

void craa_coefficients(double *c, const CraaSvd *svd, int K, int d_in, int r) {
    CHECK_PTR(c);
    check_svd(svd);
    check_shape(K, svd->d_out, d_in);
    CHECK((long long)K * d_in == svd->cols, "K = %d parties of d_in = %d for an SVD of %d columns",
          K, d_in, svd->cols);
    CHECK(r >= 1, "--fedcmp.rank = %d: the rank of the truncated SVD must be >= 1", r);
    CHECK(r <= svd->k,
          "--fedcmp.rank = %d exceeds the %d singular triplets of the (%d, %d) matrix (at most "
          "min(d_out, K·d_in))",
          r, svd->k, svd->d_out, svd->cols);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < r; i++) {
            const double *v = svd->vt + (size_t)i * svd->cols + (size_t)k * d_in;
            double *ck = c + ((size_t)k * r + i) * d_in;
            for (int j = 0; j < d_in; j++)
                ck[j] = svd->s[i] * v[j];
        }
}

// The consensus C̄ (r, d_in): the plain mean of the parties' coefficients, summed in party order.
static void consensus(double *cbar, const double *c, int K, size_t n) {
    memset(cbar, 0, n * sizeof *cbar);
    for (int k = 0; k < K; k++)
        for (size_t j = 0; j < n; j++)
            cbar[j] += c[(size_t)k * n + j];
    for (size_t j = 0; j < n; j++)
        cbar[j] /= K;
}

// The score of one block (a whole C_k, or one row of it) against the same block of C̄.
static double block_score(CraaReliability rel, const double *a, const double *b, size_t n,
                          double eps) {
    double ab = 0, aa = 0, bb = 0, dd = 0;
    for (size_t j = 0; j < n; j++) {
        ab += a[j] * b[j], aa += a[j] * a[j], bb += b[j] * b[j];
        dd += (a[j] - b[j]) * (a[j] - b[j]);
    }
    if (rel == CRAA_AGREEMENT) return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0;
    if (rel == CRAA_SIGN) return ab > 0 ? 1 : 0;
    CHECK(rel == CRAA_DISTANCE, "variant %d has no block score", (int)rel);
    return 1 / (eps + sqrt(dd));
}

void craa_scores(double *rho, const double *c, const double *reported, const CraaOpts *o, int K,
                 int r, int d_in) {
    craa_check_opts(o, 0);
    CHECK(rho && c, "NULL buffer (rho=%p c=%p)", (void *)rho, (const void *)c);
    CHECK(K >= 1 && r >= 1 && d_in >= 1, "K = %d, r = %d, d_in = %d: all >= 1", K, r, d_in);
    CHECK(o->rank == r, "--fedcmp.rank = %d but the coefficients have r = %d rows", o->rank, r);
    const size_t rows = o->per_row ? (size_t)r : 1, n = (size_t)r * d_in;
    check_finite(c, (size_t)K * n, "c");
    if (o->rel == CRAA_UNIFORM) {
        memset(rho, 0, (size_t)K * rows * sizeof *rho);
        return;
    }
    if (o->rel == CRAA_REPORTED) {
        CHECK(reported, "reliability 'reported' needs the parties' reported scores");
        check_finite(reported, (size_t)K, "reported");
        for (int k = 0; k < K; k++)
            for (size_t i = 0; i < rows; i++)
                rho[(size_t)k * rows + i] = reported[k];
        return;
    }
    double *cbar = xmalloc(n * sizeof *cbar);
    consensus(cbar, c, K, n);
    for (int k = 0; k < K; k++) {
        const double *ck = c + (size_t)k * n;
        if (o->per_row) {
            for (int i = 0; i < r; i++)
                rho[(size_t)k * r + i] = block_score(o->rel, ck + (size_t)i * d_in,
                                                     cbar + (size_t)i * d_in, (size_t)d_in, o->eps);
        } else if (o->rel == CRAA_SIGN) {
            // The party's share of rows (directions of U) that point the consensus's way.
            double agree = 0;
            for (int i = 0; i < r; i++)
                agree += block_score(CRAA_SIGN, ck + (size_t)i * d_in, cbar + (size_t)i * d_in,
                                     (size_t)d_in, o->eps);
            rho[k] = agree / r;
        } else {
            rho[k] = block_score(o->rel, ck, cbar, n, o->eps);
        }
    }
    xfree(cbar);
}

void craa_weights(double *w, const double *rho, const double *n, const CraaOpts *o, int K, int r) {
    craa_check_opts(o, 0);
    CHECK(w && n, "NULL buffer (w=%p n=%p)", (void *)w, (const void *)n);
    CHECK(K >= 1 && r >= 1, "K = %d, r = %d: both >= 1", K, r);
    for (int k = 0; k < K; k++)
        CHECK(n[k] > 0 && isfinite(n[k]), "n[%d] = %g: a party's weight must be > 0 and finite", k,
              n[k]);
    const int rows = o->per_row ? r : 1;
    if (o->rel != CRAA_UNIFORM) {
        CHECK_PTR(rho);
        check_finite(rho, (size_t)K * rows, "rho");
    }
    for (int i = 0; i < rows; i++) {
        // exp((ρ_k − max ρ)/T)·n_k: the shift cancels in the normalisation and keeps exp <= 1.
        double top = -INFINITY, sum = 0;
        for (int k = 0; k < K && o->rel != CRAA_UNIFORM; k++)
            if (rho[(size_t)k * rows + i] > top) top = rho[(size_t)k * rows + i];
        for (int k = 0; k < K; k++) {
            const double e =
                o->rel == CRAA_UNIFORM ? 1 : exp((rho[(size_t)k * rows + i] - top) / o->temp);
            w[(size_t)k * rows + i] = e * n[k];
            sum += e * n[k];
        }
        // The largest term is n_k·1 > 0, so sum > 0.
        for (int k = 0; k < K; k++)
            w[(size_t)k * rows + i] /= sum;
    }
}

void craa_fuse(double *cstar, const double *c, const double *w, int per_row, int K, int r,
               int d_in) {
    CHECK(cstar && c && w, "NULL buffer (cstar=%p c=%p w=%p)", (void *)cstar, (const void *)c,
          (const void *)w);
    CHECK(K >= 1 && r >= 1 && d_in >= 1, "K = %d, r = %d, d_in = %d: all >= 1", K, r, d_in);
    const size_t n = (size_t)r * d_in;
    memset(cstar, 0, n * sizeof *cstar);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < r; i++) {
            const double wk = per_row ? w[(size_t)k * r + i] : w[k];
            const double *ck = c + (size_t)k * n + (size_t)i * d_in;
            for (int j = 0; j < d_in; j++)
                cstar[(size_t)i * d_in + j] += wk * ck[j];
        }
}

void craa_apply(double *dw, const double *u, const double *cstar, int d_out, int r, int d_in) {
    CHECK(dw && u && cstar, "NULL buffer (dw=%p u=%p cstar=%p)", (void *)dw, (const void *)u,
          (const void *)cstar);
    CHECK(d_out >= 1 && r >= 1 && d_in >= 1, "d_out = %d, r = %d, d_in = %d: all >= 1", d_out, r,
          d_in);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d_out, d_in, r, 1.0, u, r, cstar, d_in,
                0.0, dw, d_in);
}

void craa_aggregate(double *dw, double *cstar, double *w, const CraaSvd *svd, const double *n,
                    const double *reported, const CraaOpts *o, int K, int d_in) {
    check_svd(svd);
    craa_check_opts(o, svd->k);
    const int r = o->rank, d_out = svd->d_out, rows = o->per_row ? r : 1;
    double *c = xmalloc((size_t)K * r * d_in * sizeof *c);
    double *rho = xmalloc((size_t)K * rows * sizeof *rho);
    double *ww = w ? w : xmalloc((size_t)K * rows * sizeof *ww);
    double *cs = cstar ? cstar : xmalloc((size_t)r * d_in * sizeof *cs);
    craa_coefficients(c, svd, K, d_in, r);
    craa_scores(rho, c, reported, o, K, r, d_in);
    craa_weights(ww, rho, n, o, K, r);
    craa_fuse(cs, c, ww, o->per_row, K, r, d_in);
    if (dw) {
        double *u = xmalloc((size_t)d_out * r * sizeof *u);
        craa_basis(u, svd, r);
        craa_apply(dw, u, cs, d_out, r, d_in);
        xfree(u);
    }
    if (!w) xfree(ww);
    if (!cstar) xfree(cs);
    xfree(c), xfree(rho);
}

double craa_sign_conflict_rate(const double *x, int K, size_t n) {
    CHECK(x || n == 0, "x is NULL");
    CHECK(K >= 1, "K = %d parties: >= 1", K);
    check_finite(x, (size_t)K * n, "x");
    size_t active = 0, conflict = 0;
    for (size_t j = 0; j < n; j++) {
        double sum = 0;
        int any = 0;
        for (int k = 0; k < K; k++)
            sum += x[(size_t)k * n + j], any |= x[(size_t)k * n + j] != 0;
        if (!any) continue;
        active++;
        const int elected = (sum > 0) - (sum < 0);
        for (int k = 0; k < K; k++) {
            const double v = x[(size_t)k * n + j];
            if (v != 0 && ((v > 0) - (v < 0)) != elected) {
                conflict++;
                break;
            }
        }
    }
    return active ? (double)conflict / (double)active : 0;
}
