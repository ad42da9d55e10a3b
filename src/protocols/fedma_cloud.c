// fedma_cloud.c - Fed-MA's aggregation rules (fedma.h): every rule's new global projector from
// the round's updates, on rank 0, in party order; CRAA's SVD on the cloud (LAPACKE) or from the
// parties' ranks (ScaLAPACK), then OPM.
#include <math.h>
#include <string.h>

#include "agg/craa.h"
#include "agg/fednova.h"
#include "agg/opm.h"
#include "agg/scaffold.h"
#include "agg/ties.h"
#include "core/die.h"
#include "core/xalloc.h"
#include "protocols/fedma_impl.h"

int fedma_uses_fedopt(const Fedma *f) {
    return f->rule == FEDMA_FEDAVGM || f->rule == FEDMA_FEDADAM || f->rule == FEDMA_FEDYOGI;
}

int fedma_uses_opm(const Fedma *f) { return f->rule == FEDMA_CRAA && f->o.opm; }

void fedma_cloud_init(Fedma *f) {
    if (fedma_uses_fedopt(f)) {
        f->srv = xmalloc((2 * f->n + 1) * sizeof(float));
        f->ext->state_init(f->srv, f->n, &f->o);
    }
    if (fedma_uses_opm(f))
        for (int k = 0; k < f->n_mat; k++)
            opm_init(&f->opm[k], f->mat[k].d_out, f->opm_r[k]);
    for (int j = 0; j < FEDMA_SV_N; j++)
        f->sv[j] = NAN;
}

void fedma_cloud_free(Fedma *f) {
    xfree(f->srv);
    f->srv = NULL;
    for (int k = 0; k < FEDMA_MAX_MAT; k++)
        opm_free(&f->opm[k]);
}

static CraaReliability reliability(const Fedma *f) {
    if (f->rule == FEDMA_KNOTS) return CRAA_UNIFORM;
    const char *n = f->o.rel_name;
    return !strcmp(n, "sign")       ? CRAA_SIGN
           : !strcmp(n, "distance") ? CRAA_DISTANCE
           : !strcmp(n, "reported") ? CRAA_REPORTED
                                    : CRAA_AGREEMENT;
}

// The SVD of matrix k's stacked updates [Δ_1 | … | Δ_K] with its first r triplets into svd (u, s,
// vt owned by the caller's free). LAPACKE on rank 0 from the gathered updates, or pdsvd_cols from
// the hosted parties' own updates (collective). Rank 0 only gets a filled svd.
static void matrix_svd(Fedma *f, int k, const float *up, int rec, const int *arrived, int K, int r,
                       CraaSvd *svd) {
    const FedmaMat *m = &f->mat[k];
    const int d_out = m->d_out, d_in = m->d_in, N = K * d_in;
    const size_t blk = (size_t)d_out * d_in;
    memset(svd, 0, sizeof *svd);
    if (!f->svd_scalapack) {
        if (f->rank != 0) return;
        double *d = xmalloc(((size_t)K * blk + 1) * sizeof(double));
        for (int q = 0; q < K; q++)
            for (size_t j = 0; j < blk; j++)
                d[(size_t)q * blk + j] = up[(size_t)q * rec + (size_t)m->off + j];
        CraaSvd full;
        craa_svd_init(&full, d, K, d_out, d_in);
        xfree(d);
        // keep the first r triplets (the rest are not read)
        svd->d_out = d_out, svd->cols = N, svd->k = r;
        svd->u = xmalloc((size_t)d_out * r * sizeof(double));
        svd->s = xmalloc((size_t)r * sizeof(double));
        svd->vt = xmalloc((size_t)r * N * sizeof(double));
        for (int i = 0; i < d_out; i++)
            memcpy(svd->u + (size_t)i * r, full.u + (size_t)i * full.k, r * sizeof(double));
        memcpy(svd->s, full.s, r * sizeof(double));
        memcpy(svd->vt, full.vt, (size_t)r * N * sizeof(double));
        craa_svd_free(&full);
        return;
    }
    // the hosted arrived parties' blocks, back to back in party order, from this rank
    int before = 0, mine = 0;
    for (int q = 0; q < K; q++) {
        before += arrived[q] < f->first;
        mine += arrived[q] >= f->first && arrived[q] < f->first + f->count;
    }
    double *a = xmalloc(((size_t)mine * blk + 1) * sizeof(double));
    for (int q = 0, j = 0; q < K; q++) {
        int i = arrived[q] - f->first;
        if (i < 0 || i >= f->count) continue;
        const float *d = f->delta + (size_t)i * f->n + (size_t)m->off;
        for (size_t e = 0; e < blk; e++)
            a[(size_t)j * blk + e] = d[e];
        j++;
    }
    PdsvdCols cols = {.a = a, .col0 = before * d_in, .ncols = mine * d_in, .blk = d_in};
    if (f->rank == 0) {
        svd->d_out = d_out, svd->cols = N, svd->k = r;
        svd->u = xmalloc((size_t)d_out * r * sizeof(double));
        svd->s = xmalloc((size_t)r * sizeof(double));
        svd->vt = xmalloc((size_t)r * N * sizeof(double));
    }
    pdsvd_cols(f->grid, svd->s, svd->u, svd->vt, &cols, d_out, N, r, PDSVD_NB_DEFAULT, 0);
    xfree(a);
}

static void svd_free(CraaSvd *s) {
    xfree(s->u), xfree(s->s), xfree(s->vt);
    memset(s, 0, sizeof *s);
}

// CRAA (and KnOTS) on every projector matrix: dx (n), preset to the weighted mean, gets U_r C* on
// the matrices' entries. Collective (the SVD).
static void craa_round(Fedma *f, float *dx, const float *up, int rec, const int *arrived,
                       const double *w, int K) {
    f->orth = fedma_uses_opm(f) ? 0 : NAN;
    for (int k = 0; k < f->n_mat; k++) {
        const FedmaMat *m = &f->mat[k];
        const int d_out = m->d_out, d_in = m->d_in, kmax = d_out < K * d_in ? d_out : K * d_in;
        const int r = fedma_uses_opm(f) || !f->o.full_rank ? f->opm_r[k] : kmax;
        CHECK(r <= kmax,
              "--fedcmp.rank=%d: %s's stacked updates (%d x %d, %d parties) have %d singular "
              "values",
              r, m->name, d_out, K * d_in, K, kmax);
        CraaSvd svd;
        matrix_svd(f, k, up, rec, arrived, K, r, &svd);
        if (f->rank != 0) continue;
        double *rep = xmalloc(((size_t)K + 1) * sizeof(double));
        for (int q = 0; q < K; q++)
            rep[q] = up[(size_t)q * rec + rec - 2];
        CraaOpts co = {.rel = reliability(f),
                       .rank = r,
                       .temp = f->o.temp,
                       .eps = f->o.eps,
                       .per_row = f->o.per_row};
        double *cstar = xmalloc((size_t)r * d_in * sizeof(double));
        double *u = xmalloc((size_t)d_out * r * sizeof(double));
        double *dw = xmalloc((size_t)d_out * d_in * sizeof(double));
        craa_aggregate(NULL, cstar, NULL, &svd, w, rep, &co, K, d_in);
        craa_basis(u, &svd, r);
        if (fedma_uses_opm(f)) {
            OpmOpts oo = {.beta = f->o.beta,
                          .gamma = f->o.gamma,
                          .align = f->o.opm_align,
                          .retract = f->o.opm_retract};
            double e = opm_step(&f->opm[k], &oo, u, d_out, r, cstar, d_in, NULL);
            if (e > f->orth) f->orth = e;
        }
        craa_apply(dw, u, cstar, d_out, r, d_in);
        for (size_t j = 0; j < (size_t)d_out * d_in; j++)
            dx[m->off + (int64_t)j] = (float)dw[j];
        if (k == 0)
            for (int j = 0; j < FEDMA_SV_N; j++)
                f->sv[j] = j < r ? svd.s[j] : NAN;
        xfree(rep), xfree(cstar), xfree(u), xfree(dw);
        svd_free(&svd);
    }
}

void fedma_aggregate(Fedma *f, const float *up, int rec, const int *arrived, const double *w, int K,
                     const RoundInfo *r) {
    const size_t n = f->n;
    float *dx = NULL;
    if (f->rank == 0) {
        // the diagnostics: sign conflicts between the updates; the weighted mean (every rule's
        // start, FedAvg's result)
        double *all = xmalloc(((size_t)K * n + 1) * sizeof(double));
        for (int q = 0; q < K; q++)
            for (size_t j = 0; j < n; j++)
                all[(size_t)q * n + j] = up[(size_t)q * rec + j];
        f->conflict = craa_sign_conflict_rate(all, K, n);
        xfree(all);
        dx = xmalloc((n + 1) * sizeof(float));
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (int q = 0; q < K; q++)
                s += w[q] * up[(size_t)q * rec + j];
            dx[j] = (float)s;
        }
        for (int j = 0; j < FEDMA_SV_N; j++)
            f->sv[j] = NAN;
        f->orth = NAN;
    }
    if (f->rule == FEDMA_CRAA || f->rule == FEDMA_KNOTS) craa_round(f, dx, up, rec, arrived, w, K);
    if (f->rank != 0) return;
    if (fedma_uses_fedopt(f)) { // FedOpt from the weighted mean model
        float *mean = xmalloc((n + 1) * sizeof(float));
        for (size_t j = 0; j < n; j++)
            mean[j] = f->x[j] + dx[j];
        f->ext->server_step(f->rule, f->x, f->srv, mean, n, &f->o, r->round);
        xfree(mean);
    } else if (f->rule == FEDMA_SCAFFOLD) { // uniform (the paper): x += mean Δy, c += Σ Δc / N
        float *dy = xmalloc(((size_t)K * n + 1) * sizeof(float));
        float *dc = xmalloc(((size_t)K * n + 1) * sizeof(float));
        for (int q = 0; q < K; q++) {
            memcpy(dy + (size_t)q * n, up + (size_t)q * rec, n * sizeof(float));
            memcpy(dc + (size_t)q * n, up + (size_t)q * rec + n, n * sizeof(float));
        }
        scaffold_server_update(f->x, f->c_srv, dy, dc, NULL, 0, 1.0, K, f->P, n);
        xfree(dy), xfree(dc);
    } else if (f->rule == FEDMA_FEDNOVA) { // normalised by each party's ‖a‖₁ (its step count)
        float *d = xmalloc(((size_t)K * n + 1) * sizeof(float));
        float *y = xmalloc((n + 1) * sizeof(float));
        double *a = xmalloc(((size_t)K + 1) * sizeof(double));
        for (int q = 0; q < K; q++) {
            const float *dq = up + (size_t)q * rec;
            for (size_t j = 0; j < n; j++)
                y[j] = f->x[j] + dq[j];
            a[q] = fednova_norm_a((int)up[(size_t)q * rec + rec - 1], f->o.momentum);
            fednova_normalise(d + (size_t)q * n, f->x, y, a[q], n);
        }
        fednova_server_update(f->x, d, a, w, K, n);
        xfree(d), xfree(y), xfree(a);
    } else if (f->rule == FEDMA_TIES) {
        float *delta = xmalloc(((size_t)K * n + 1) * sizeof(float));
        float *m = xmalloc((n + 1) * sizeof(float));
        for (int q = 0; q < K; q++)
            memcpy(delta + (size_t)q * n, up + (size_t)q * rec, n * sizeof(float));
        TiesOpts to = {.k = f->o.ties_k, .lambda = TIES_LAMBDA_DEFAULT};
        ties_merge(m, delta, K, n, &to);
        for (size_t j = 0; j < n; j++)
            f->x[j] += m[j];
        xfree(delta), xfree(m);
    } else {
        for (size_t j = 0; j < n; j++)
            f->x[j] += dx[j];
    }
    xfree(dx);
}
