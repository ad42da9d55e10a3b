// rdp.c - the RDP accountant of the Poisson-subsampled Gaussian mechanism (contract in rdp.h).
//
// Sources: Mironov, Talwar & Zhang 2019 (arXiv:1908.10530) §3.3 for A_α, both series; Balle et
// al. 2020 (arXiv:1905.09982) Thm 21 and Canonne, Kamath & Steinke 2020 (arXiv:2004.00010)
// Prop. 12 for the improved conversion; Mironov 2017 (arXiv:1702.07476) Prop. 3 for the classic
// one. Written from the papers; the termination rule of the fractional series and the KL bound
// in the conversion follow Google's dp_accounting (rdp_privacy_accountant.py).
#include "privacy/rdp.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "core/die.h"

// The fractional series converges like |C(α, i)| ~ i^(−α−1) once past z0; orders near 1 with
// z0 near 0 are the slow case. Past this many terms the order is given up (+inf, conservative).
#define FRAC_MAX_TERMS 100000L
// A term this far (in log) below the running total no longer changes the sum in double.
#define FRAC_TAIL_LOG 30.0

// log(e^x + e^y), exact at −inf.
static double log_add(double x, double y) {
    double hi = x > y ? x : y, lo = x > y ? y : x;
    if (lo == -INFINITY || hi == INFINITY) return hi;
    return hi + log1p(exp(lo - hi));
}

// A signed number kept as sign and log magnitude (lg = −inf is zero): the fractional series'
// coefficients C(α, i) change sign past i = ⌈α⌉, and its terms span hundreds of orders of
// magnitude, so it is summed in log space with the sign beside.
typedef struct {
    double lg;
    int neg;
} LogSum;

static void logsum_add(LogSum *s, double t, int neg) {
    if (t == -INFINITY) return;
    if (s->lg == -INFINITY) {
        s->lg = t, s->neg = neg;
    } else if (neg == s->neg) {
        s->lg = log_add(s->lg, t);
    } else if (t < s->lg) {
        s->lg += log1p(-exp(t - s->lg));
    } else if (t > s->lg) {
        s->lg = t + log1p(-exp(s->lg - t)), s->neg = neg;
    } else {
        s->lg = -INFINITY, s->neg = 0;
    }
}

// log(erfc(x)). erfc underflows near x = 26.5; beyond 25 the asymptotic series
// erfc(x) = e^{−x²}/(x√π) (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶) + 105/(16x⁸) − …) is exact to
// ~1e-13 relative after these terms.
static double log_erfc(double x) {
    if (x < 25.0) return log(erfc(x));
    double u = 1.0 / (x * x);
    double corr = -0.5 * u + 0.75 * u * u - 1.875 * u * u * u + 6.5625 * u * u * u * u;
    return -x * x - log(x) - 0.5 * log(M_PI) + log1p(corr);
}

static void check_q_sigma(double q, double sigma, const char *who) {
    CHECK(q > 0 && q < 1, "%s: q = %g must be in (0, 1) (0 and 1 are closed forms)", who, q);
    CHECK(sigma > 0 && isfinite(sigma), "%s: sigma = %g must be finite and > 0", who, sigma);
}

double rdp_log_a_int(double q, double sigma, int alpha) {
    check_q_sigma(q, sigma, "rdp_log_a_int");
    CHECK(alpha >= 2, "rdp_log_a_int: alpha = %d must be >= 2", alpha);
    double lq = log(q), l1q = log1p(-q), s2 = 2 * sigma * sigma, lg_a = lgamma(alpha + 1.0);
    double acc = -INFINITY;
    for (int i = 0; i <= alpha; i++) {
        double lc = lg_a - lgamma(i + 1.0) - lgamma(alpha - i + 1.0);
        double di = i;
        acc = log_add(acc, lc + di * lq + (alpha - di) * l1q + (di * di - di) / s2);
    }
    return acc;
}

// A_α split at z0 = σ² log(1/q − 1) + 1/2, where μ1/μ0 crosses (1 − q)/q: below z0 the ratio
// (1 − q) + q μ1/μ0 is expanded in powers of q μ1/μ0 (a0), above it in powers of (1 − q) (a1),
// both binomial series that converge for real α; the Gaussian integral of each term over its
// half line is the erfc factor.
double rdp_log_a_frac(double q, double sigma, double alpha) {
    check_q_sigma(q, sigma, "rdp_log_a_frac");
    CHECK(isfinite(alpha) && alpha > 1, "rdp_log_a_frac: alpha = %g must be finite and > 1", alpha);
    double lq = log(q), l1q = log1p(-q), s2 = 2 * sigma * sigma, rt = sqrt(2.0) * sigma;
    double z0 = sigma * sigma * (l1q - lq) + 0.5;
    LogSum a0 = {-INFINITY, 0}, a1 = {-INFINITY, 0};
    double lc = 0; // log|C(α, i)|
    int cneg = 0;  // sign of C(α, i)
    double last0 = -INFINITY, last1 = -INFINITY;
    int converged = 0;
    for (long i = 0; i < FRAC_MAX_TERMS && !converged; i++) {
        double di = (double)i, j = alpha - di;
        double s0 =
            lc + di * lq + j * l1q + (di * di - di) / s2 + log(0.5) + log_erfc((di - z0) / rt);
        double s1 = lc + j * lq + di * l1q + (j * j - j) / s2 + log(0.5) + log_erfc((z0 - j) / rt);
        logsum_add(&a0, s0, cneg);
        logsum_add(&a1, s1, cneg);
        if (j == 0) { // integral α: C(α, i) = 0 for every i > α
            converged = 1;
            break;
        }
        // Stop once both terms shrink and sit far below the total: past the binomial hump
        // they only decrease (dp_accounting's rule).
        double total = log_add(a0.lg, a1.lg);
        converged = s0 < last0 && s1 < last1 && fmax(s0, s1) < total - FRAC_TAIL_LOG;
        last0 = s0, last1 = s1;
        lc += log(fabs(j)) - log(di + 1); // C(α, i+1) = C(α, i)·(α − i)/(i + 1)
        if (j < 0) cneg = !cneg;
    }
    // Both halves are integrals of positive functions: a negative partial sum means the
    // alternating tail cancelled beyond double precision. Either way the order is unusable,
    // and +inf only removes it from the minimum.
    if (!converged || a0.neg || a1.neg) return INFINITY;
    return log_add(a0.lg, a1.lg);
}

double rdp_subsampled_gaussian(double q, double sigma, double alpha) {
    CHECK(q >= 0 && q <= 1, "rdp: sampling rate q = %g is outside [0, 1]", q);
    CHECK(sigma >= 0 && isfinite(sigma), "rdp: noise multiplier sigma = %g must be finite and >= 0",
          sigma);
    CHECK(isfinite(alpha) && alpha > 1, "rdp: order alpha = %g must be finite and > 1", alpha);
    if (q == 0) return 0;
    if (sigma == 0) return INFINITY;
    if (q == 1) return alpha / (2 * sigma * sigma);
    double la = (alpha == floor(alpha) && alpha <= INT_MAX) ? rdp_log_a_int(q, sigma, (int)alpha)
                                                            : rdp_log_a_frac(q, sigma, alpha);
    // A_α >= 1 (a Rényi divergence is >= 0): a negative log is rounding around 0.
    return fmax(0.0, la / (alpha - 1));
}

static void check_accountant(const RdpAccountant *a) {
    CHECK_PTR(a);
    CHECK(a->n >= 1 && a->n <= RDP_MAX_ORDERS, "rdp accountant: n = %d orders, expected 1..%d",
          a->n, RDP_MAX_ORDERS);
    for (int k = 0; k < a->n; k++)
        CHECK(isfinite(a->order[k]) && a->order[k] > 1,
              "rdp accountant: order[%d] = %g must be finite and > 1", k, a->order[k]);
}

void rdp_init_orders(RdpAccountant *a, const double *orders, int n) {
    CHECK_PTR(a);
    CHECK_PTR(orders);
    CHECK(n >= 1 && n <= RDP_MAX_ORDERS, "rdp_init_orders: n = %d orders, expected 1..%d", n,
          RDP_MAX_ORDERS);
    memset(a, 0, sizeof *a);
    a->n = n;
    memcpy(a->order, orders, (size_t)n * sizeof *orders);
    check_accountant(a);
}

void rdp_init(RdpAccountant *a) {
    static const double head[] = {1.1,  1.2, 1.25, 1.3, 1.4,  1.5, 1.6,  1.7, 1.75, 1.8, 1.9, 2,
                                  2.25, 2.5, 2.75, 3,   3.25, 3.5, 3.75, 4,   4.25, 4.5, 4.75};
    static const double tail[] = {48, 64, 128, 256, 512};
    double orders[RDP_MAX_ORDERS];
    int n = 0;
    for (size_t k = 0; k < sizeof head / sizeof *head; k++)
        orders[n++] = head[k];
    for (int v = 5; v <= 40; v++)
        orders[n++] = v;
    for (size_t k = 0; k < sizeof tail / sizeof *tail; k++)
        orders[n++] = tail[k];
    rdp_init_orders(a, orders, n);
}

void rdp_compose(RdpAccountant *a, double q, double sigma, long steps) {
    check_accountant(a);
    CHECK(steps >= 0, "rdp_compose: steps = %ld must be >= 0", steps);
    if (steps == 0) return; // 0 × inf would be NaN
    for (int k = 0; k < a->n; k++)
        a->rdp[k] += (double)steps * rdp_subsampled_gaussian(q, sigma, a->order[k]);
}

// The minimum of ε(α) over the orders; classic selects the conversion.
static double epsilon(const RdpAccountant *a, double delta, double *best_order, int classic) {
    check_accountant(a);
    CHECK(delta > 0 && delta < 1, "rdp: delta = %g is outside (0, 1)", delta);
    double best = INFINITY, best_alpha = NAN;
    for (int k = 0; k < a->n; k++) {
        double al = a->order[k], r = a->rdp[k], e;
        CHECK(r >= 0, "rdp accountant: rdp[%d] = %g at order %g is negative or NaN", k, r, al);
        if (isinf(r))
            e = INFINITY;
        else if (classic)
            e = r - log(delta) / (al - 1);
        else if (delta * delta + expm1(-r) > 0)
            e = 0; // δ >= sqrt(1 − e^{−rdp}) >= sqrt(1 − e^{−KL}) bounds the total variation
        else
            e = r + log1p(-1 / al) - (log(delta) + log(al)) / (al - 1);
        if (e < best) best = e, best_alpha = al;
    }
    if (best_order) *best_order = best_alpha;
    return best < 0 ? 0 : best;
}

double rdp_epsilon(const RdpAccountant *a, double delta, double *best_order) {
    return epsilon(a, delta, best_order, 0);
}

double rdp_epsilon_classic(const RdpAccountant *a, double delta, double *best_order) {
    return epsilon(a, delta, best_order, 1);
}
