// rdp.h - the Rényi-DP accountant of client-level DP-FedAvg: the Poisson-subsampled Gaussian
// mechanism, composed over rounds, converted to (ε, δ).
//
// What it analyses: each round includes every party independently with probability q (Poisson
// sampling) and adds N(0, σ²C²) to the sum of the included parties' updates, each clipped to L2
// norm C; σ is the noise multiplier. Neighbouring datasets differ by one party's presence
// (add/remove adjacency). The RDP of one round at order α is
//   rdp(α) = log(A_α) / (α − 1),   A_α = E_{z~μ0} [((1 − q) + q·μ1(z)/μ0(z))^α],
// μ0 = N(0, σ²), μ1 = N(1, σ²) (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the
// Sampled Gaussian Mechanism", arXiv:1908.10530, §3.3): the binomial series for integer α, the
// two-sided series with erfc factors for fractional α, both summed in log space. RDP composes by
// addition. (ε, δ) comes from the improved conversion (Balle et al. 2020, arXiv:1905.09982,
// Thm 21; Canonne, Kamath & Steinke 2020, arXiv:2004.00010, Prop. 12), or, for comparison with
// older published numbers, the classic one (Mironov 2017, arXiv:1702.07476, Prop. 3).
//
// It does not analyse fixed-size sampling without replacement (a different bound, not this
// one), nor heterogeneous rounds other than by calling rdp_compose once per (q, σ).
// docs/privacy.md ("The accountant") lists the published values it reproduces.
//
// Everything here is Local, pure and allocation-free; no MPI.
#pragma once

#define RDP_MAX_ORDERS 64

// The orders α (> 1) and the RDP accumulated at each. Transparent: a caller may set its own
// orders with rdp_init_orders; rdp[k] belongs to order[k].
typedef struct {
    int n;                        // orders in use, 1..RDP_MAX_ORDERS
    double order[RDP_MAX_ORDERS]; // (n) each > 1 and finite
    double rdp[RDP_MAX_ORDERS];   // (n) accumulated RDP at order[k], >= 0, may be +inf
} RdpAccountant;

// = the default 64 orders, every rdp 0: 1.1 … 1.9 by 0.1 with 1.25 and 1.75 (11), 2 … 4.75 by
// 0.25 (12), the integers 5 … 40 (36), then 48, 64, 128, 256, 512. Fine below 5, where the
// optimum lies for ε of a few units; they contain every order of TensorFlow Privacy's
// compute_dp_sgd_privacy list up to 40.
void rdp_init(RdpAccountant *a);

// = the n given orders (copied), every rdp 0. CHECKs 1 <= n <= RDP_MAX_ORDERS and each order
// finite and > 1, naming the index and value.
void rdp_init_orders(RdpAccountant *a, const double *orders, int n);

// One round's RDP at order alpha: 0 when q == 0, alpha/(2σ²) exactly when q == 1, +inf when
// sigma == 0 (no noise) and q > 0, else log(A_alpha)/(alpha − 1) from the integer series
// (integral alpha) or the fractional series. +inf also when the fractional series has not
// converged after 100000 terms (conservative: that order then drops out of the minimum).
// CHECKs q in [0, 1], sigma >= 0, alpha finite and > 1, naming the value.
double rdp_subsampled_gaussian(double q, double sigma, double alpha);

// += steps × rdp_subsampled_gaussian(q, sigma, order[k]) at every order. steps == 0 adds
// nothing. CHECKs the arguments as above, steps >= 0, and the accountant's n and orders.
void rdp_compose(RdpAccountant *a, double q, double sigma, long steps);

// ε for the target delta by the improved conversion, minimised over the orders:
//   ε(α) = rdp(α) + log((α − 1)/α) − (log δ + log α)/(α − 1),
// with ε(α) = 0 where δ² > 1 − exp(−rdp(α)) (the KL bound δ <= sqrt(1 − e^{−KL}), as in
// Google's dp_accounting), and the result clamped at 0. Returns +inf when every order's RDP is
// +inf. best_order (may be NULL) = the minimising order (the first on ties), NAN when ε is +inf.
// CHECKs delta in (0, 1), naming the value.
double rdp_epsilon(const RdpAccountant *a, double delta, double *best_order);

// The same with the classic conversion ε(α) = rdp(α) + log(1/δ)/(α − 1); never smaller than
// rdp_epsilon's. For comparison with numbers published before the improved conversion.
double rdp_epsilon_classic(const RdpAccountant *a, double delta, double *best_order);

// log(A_alpha) by the integer series Σ_{i=0..α} C(α,i) (1−q)^{α−i} q^i exp((i²−i)/(2σ²)).
// 0 < q < 1, sigma > 0, alpha >= 2 (CHECKed). Public so that tests compare the two series.
double rdp_log_a_int(double q, double sigma, int alpha);

// log(A_alpha) by the fractional-order series (Mironov et al. 2019 §3.3), valid for any real
// alpha > 1, integral ones included (then the series ends at i = α). +inf when not converged
// after 100000 terms. CHECKs as rdp_log_a_int.
double rdp_log_a_frac(double q, double sigma, double alpha);
