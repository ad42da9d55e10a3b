// opm.c - orthogonality-preserved momentum on one matrix's shared basis (see opm.h).
#include "agg/opm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "tensor/linalg.h"

static void check_basis_shape(int d, int r) {
    CHECK(r >= 1, "--fedcmp.rank = %d: the basis needs r >= 1 columns", r);
    CHECK(d >= r, "--fedcmp.rank = %d exceeds the basis's %d rows", r, d);
}

static void check_finite(const double *x, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        CHECK(isfinite(x[i]), "%s[%zu] = %g: not finite", what, i, x[i]);
}

static double frob(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

static double frob_diff(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

void opm_init(OpmState *st, int d, int r) {
    CHECK_PTR(st);
    check_basis_shape(d, r);
    const size_t n = (size_t)d * r;
    *st = (OpmState){.d = d,
                     .r = r,
                     .rounds = 0,
                     .u_prev = xcalloc(n, sizeof(double)),
                     .mom = xcalloc(n, sizeof(double))};
}

void opm_free(OpmState *st) {
    if (!st) return;
    xfree(st->u_prev), xfree(st->mom);
    *st = (OpmState){0};
}

void opm_check_opts(const OpmOpts *o) {
    CHECK_PTR(o);
    CHECK(o->beta >= 0 && o->beta < 1, "--fedcmp.beta = %g: the momentum factor must be in [0, 1)",
          o->beta);
    CHECK(o->gamma >= 0 && isfinite(o->gamma),
          "--fedcmp.gamma = %g: the momentum step must be >= 0 and finite", o->gamma);
    CHECK(o->align == 0 || o->align == 1, "align = %d: 0 or 1", o->align);
    CHECK(o->retract == 0 || o->retract == 1, "retract = %d: 0 or 1", o->retract);
}

double opm_orth_error(const double *u, int d, int r) {
    CHECK_PTR(u);
    check_basis_shape(d, r);
    double *g = xmalloc((size_t)r * r * sizeof *g);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, r, d, 1.0, u, r, u, r, 0.0, g, r);
    double err = 0;
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) {
            const double e = fabs(g[(size_t)i * r + j] - (i == j ? 1.0 : 0.0));
            // NaN propagates: a NaN entry must not read as "orthonormal".
            if (!(e <= err)) err = e;
        }
    xfree(g);
    return err;
}

void opm_tangent_project(double *out, const double *u, const double *z, int d, int r) {
    CHECK(out && u && z, "NULL buffer (out=%p u=%p z=%p)", (void *)out, (const void *)u,
          (const void *)z);
    check_basis_shape(d, r);
    double *a = xmalloc((size_t)r * r * sizeof *a), *s = xmalloc((size_t)r * r * sizeof *s);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, r, d, 1.0, u, r, z, r, 0.0, a, r);
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
            s[(size_t)i * r + j] = 0.5 * (a[(size_t)i * r + j] + a[(size_t)j * r + i]);
    // a (uᵀz) is read before out is written, so out may alias z.
    if (out != z) memcpy(out, z, (size_t)d * r * sizeof *out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, r, r, -1.0, u, r, s, r, 1.0, out, r);
    xfree(a), xfree(s);
}

void opm_align(double *rot, double *u, double *c, int c_cols, const double *u_prev, int d, int r) {
    CHECK(u && u_prev, "NULL buffer (u=%p u_prev=%p)", (void *)u, (const void *)u_prev);
    check_basis_shape(d, r);
    CHECK(c_cols >= 0 && (c || c_cols == 0), "c = %p with c_cols = %d", (void *)c, c_cols);
    double *R = rot ? rot : xmalloc((size_t)r * r * sizeof *R);
    linalg_procrustes(R, u, u_prev, d, r);
    double *tmp = xmalloc((size_t)d * r * sizeof *tmp);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, r, r, 1.0, u, r, R, r, 0.0, tmp, r);
    memcpy(u, tmp, (size_t)d * r * sizeof *u);
    xfree(tmp);
    if (c && c_cols > 0) {
        double *ct = xmalloc((size_t)r * c_cols * sizeof *ct);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, c_cols, r, 1.0, R, r, c, c_cols,
                    0.0, ct, c_cols);
        memcpy(c, ct, (size_t)r * c_cols * sizeof *c);
        xfree(ct);
    }
    if (!rot) xfree(R);
}

void opm_retract(double *q, const double *a, int d, int r) {
    CHECK(q && a, "NULL buffer (q=%p a=%p)", (void *)q, (const void *)a);
    check_basis_shape(d, r);
    double *R = xmalloc((size_t)r * r * sizeof *R);
    linalg_qr_thin(q, R, a, d, r);
    for (int i = 0; i < r; i++)
        CHECK(R[(size_t)i * r + i] > 0,
              "retraction: R[%d][%d] = %g, the stepped basis is rank-deficient", i, i,
              R[(size_t)i * r + i]);
    xfree(R);
}

double opm_step(OpmState *st, const OpmOpts *o, double *u, int d, int r, double *c, int c_cols,
                OpmStepInfo *info) {
    opm_check_opts(o);
    CHECK(st && st->u_prev && st->mom, "OPM state not initialised (opm_init)");
    CHECK_PTR(u);
    check_basis_shape(d, r);
    CHECK(r == st->r,
          "--fedcmp.rank = %d this round but the OPM state holds a rank-%d basis: the "
          "rank cannot change across rounds",
          r, st->r);
    CHECK(d == st->d, "a basis of %d rows for an OPM state of %d rows", d, st->d);
    CHECK(c_cols >= 0 && (c || c_cols == 0), "c = %p with c_cols = %d", (void *)c, c_cols);
    const size_t n = (size_t)d * r;
    check_finite(u, n, "u");
    if (c) check_finite(c, (size_t)r * c_cols, "c");
    OpmStepInfo in = {0};
    if (st->rounds == 0) {
        memcpy(st->u_prev, u, n * sizeof *u);
        memset(st->mom, 0, n * sizeof *st->mom);
        st->rounds = 1;
        in.orth_err = opm_orth_error(u, d, r);
        if (info) *info = in;
        return in.orth_err;
    }
    check_finite(st->u_prev, n, "u_prev");
    check_finite(st->mom, n, "mom");
    in.dist_before = frob_diff(u, st->u_prev, n);
    if (o->align) opm_align(NULL, u, c, c_cols, st->u_prev, d, r);
    in.dist_after = frob_diff(u, st->u_prev, n);

    // M_t = Proj_{U_t}(β M_{t−1} + (1 − β)(U_t − U_{t−1})): one projection of the sum, as Proj is
    // linear.
    double *z = xmalloc(n * sizeof *z);
    for (size_t i = 0; i < n; i++)
        z[i] = o->beta * st->mom[i] + (1 - o->beta) * (u[i] - st->u_prev[i]);
    opm_tangent_project(st->mom, u, z, d, r);
    memcpy(st->u_prev, u, n * sizeof *u);
    in.mom_norm = frob(st->mom, n);

    int moved = 0;
    for (size_t i = 0; i < n; i++) {
        z[i] = u[i] + o->gamma * st->mom[i];
        moved |= z[i] != u[i];
    }
    // A zero step retracts to U itself; QR would return it only up to rounding.
    if (moved) {
        if (o->retract)
            opm_retract(u, z, d, r);
        else
            memcpy(u, z, n * sizeof *u);
    }
    xfree(z);
    st->rounds++;
    in.orth_err = opm_orth_error(u, d, r);
    if (info) *info = in;
    return in.orth_err;
}
