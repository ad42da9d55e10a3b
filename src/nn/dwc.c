// dwc.c - one tensor's compressed weight downlink: threshold, top-ρ selection, block quantisation
// (see dwc.h).
#include "nn/dwc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/order.h"

static void check_opts(const DwcOpts *o) {
    CHECK_PTR(o);
    CHECK(o->tau_rel >= 0 && isfinite(o->tau_rel), "tau_rel = %g: a ratio >= 0", o->tau_rel);
    CHECK(o->rho > 0 && o->rho <= 1, "rho = %g: the share of entries sent, in (0, 1]", o->rho);
    CHECK(o->block >= 1, "block = %d", o->block);
    CHECK(o->fmt == QUANT_INT8 || o->fmt == QUANT_INT4 || o->fmt == QUANT_NF4, "format %d",
          (int)o->fmt);
}

size_t dwc_entries(size_t n, double rho) {
    CHECK(rho > 0 && rho <= 1, "rho = %g: the share of entries sent, in (0, 1]", rho);
    if (rho == 1) return n;
    size_t k = (size_t)ceil(rho * (double)n);
    return k < n ? k : n;
}

size_t dwc_bytes(const DwcOpts *o, size_t n, size_t k, int send) {
    check_opts(o);
    CHECK(k <= n, "k = %zu of n = %zu", k, n);
    if (!send) return 0;
    return (o->rho < 1 ? k * sizeof(uint32_t) : 0) + quant_bytes(o->fmt, k, o->block);
}

size_t dwc_work_doubles(size_t n) { return n; }
size_t dwc_work_floats(size_t n) { return n; }
size_t dwc_work_u32(size_t n) { return 2 * n; }

static int ascending(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void dwc_encode(DwcMsg *m, const DwcOpts *o, const float *delta, const float *theta, size_t n,
                double *key, float *work, uint32_t *uwork) {
    check_opts(o);
    CHECK(m && delta && theta && key && work && uwork, "NULL buffer");
    CHECK(n <= UINT32_MAX, "n = %zu entries: indices are uint32", n);
    double dd = 0, tt = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(isfinite(delta[i]) && isfinite(theta[i]), "delta[%zu] = %g, theta[%zu] = %g", i,
              (double)delta[i], i, (double)theta[i]);
        dd += (double)delta[i] * delta[i];
        tt += (double)theta[i] * theta[i];
    }
    m->ratio = dd == 0 ? 0 : tt == 0 ? INFINITY : sqrt(dd / tt);
    m->send = dd > 0 && m->ratio >= o->tau_rel;
    m->k = 0;
    if (!m->send) return;
    m->k = dwc_entries(n, o->rho);
    const float *vals = delta;
    if (o->rho < 1) {
        CHECK(m->idx, "rho = %g < 1 needs the message's index buffer", o->rho);
        for (size_t i = 0; i < n; i++)
            key[i] = fabsf(delta[i]);
        order_desc(uwork, uwork + n, key, n);
        memcpy(m->idx, uwork, m->k * sizeof *m->idx);
        qsort(m->idx, m->k, sizeof *m->idx, ascending);
        for (size_t j = 0; j < m->k; j++)
            work[j] = delta[m->idx[j]];
        vals = work;
    }
    quant_encode(o->fmt, vals, m->k, o->block, m->codes, m->scales);
}

void dwc_apply(float *theta, const DwcMsg *m, const DwcOpts *o, size_t n, float *work) {
    check_opts(o);
    CHECK(theta && m && work, "NULL buffer");
    if (!m->send) return;
    CHECK(m->k <= n, "message of %zu entries for a tensor of %zu", m->k, n);
    quant_decode(o->fmt, m->codes, m->scales, m->k, o->block, work);
    if (o->rho == 1) {
        CHECK(m->k == n, "a dense message of %zu entries for a tensor of %zu", m->k, n);
        for (size_t i = 0; i < n; i++)
            theta[i] += work[i];
        return;
    }
    for (size_t j = 0; j < m->k; j++) {
        CHECK(m->idx[j] < n && (j == 0 || m->idx[j] > m->idx[j - 1]),
              "index %zu = %u: outside the tensor or not ascending", j, m->idx[j]);
        theta[m->idx[j]] += work[j];
    }
}
