// test_rdp.c - the RDP accountant (privacy/rdp.h): the closed form at q = 1, the integer and
// fractional series against each other, monotonicity, the definition by numerical integration,
// and the ε published by TensorFlow Privacy and Opacus, reproduced to their printed precision
// (docs/privacy.md, "The accountant", lists them with their sources).
#include <check.h>
#include <math.h>
#include <stddef.h>

#include "helpers.h"
#include "privacy/rdp.h"

// log(A_α) by the two series: the fractional one adds terms whose logs are O(z0²/σ²) (up to ~10³
// here) and cancel, so it keeps ~1e-16 × 10³ absolute; measured at most 1.4e-13.
#define TOL_SERIES 1e-12 /* absolute for |log A| <= 1, relative beyond */
// Simpson's rule, h = 1e-3 on [-40, 60], against the series: measured <= 1.2e-10 relative.
#define TOL_INTEGRAL 1e-8
// TensorFlow Privacy's own tests compare with assertAlmostEqual (7 places); scipy's log_ndtr and
// binom against our libm leave ~1e-13, so this is both tighter than theirs and met with margin.
#define TOL_PUBLISHED_ABS 1e-9
// ε of millions (TF's Test2, σ = 0.1): the two published versions differ by 2.7e-12 relative.
#define TOL_PUBLISHED_REL 1e-11

// ---- helpers ----

// ε over an order list of any length: the minimum over chunks of <= RDP_MAX_ORDERS orders, each
// its own accountant (a minimum over a union is the minimum of the minima), so that a published
// tool's whole order list is used as it was, not a subset.
static double eps_over(const double *orders, int n, double q, double sigma, long steps,
                       double delta, int classic, double *best_order) {
    double best = INFINITY;
    *best_order = NAN;
    for (int s = 0; s < n; s += RDP_MAX_ORDERS) {
        int m = n - s < RDP_MAX_ORDERS ? n - s : RDP_MAX_ORDERS;
        RdpAccountant a;
        rdp_init_orders(&a, orders + s, m);
        rdp_compose(&a, q, sigma, steps);
        double o, e = classic ? rdp_epsilon_classic(&a, delta, &o) : rdp_epsilon(&a, delta, &o);
        if (e < best) best = e, *best_order = o;
    }
    return best;
}

// TensorFlow Privacy's compute_dp_sgd_privacy orders (72):
// [1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5, 4., 4.5] + range(5, 64) + [128, 256, 512].
static int tf_sgd_orders(double *o) {
    static const double head[] = {1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5};
    int n = 0;
    for (size_t k = 0; k < sizeof head / sizeof *head; k++)
        o[n++] = head[k];
    for (int v = 5; v < 64; v++)
        o[n++] = v;
    o[n++] = 128, o[n++] = 256, o[n++] = 512;
    return n;
}

// The orders of TF Privacy's MNIST tutorial and Opacus' RDPAccountant.DEFAULT_ALPHAS (151):
// [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)).
static int tenth_orders(double *o) {
    int n = 0;
    for (int x = 1; x < 100; x++)
        o[n++] = 1 + x / 10.0;
    for (int v = 12; v < 64; v++)
        o[n++] = v;
    return n;
}

// ---- (1) closed forms ----

START_TEST(test_q_one_is_the_gaussian_closed_form_exactly) {
    RdpAccountant a;
    rdp_init(&a);
    const double sigmas[] = {0.3, 1.0, 1.1, 4.530877117};
    for (size_t s = 0; s < sizeof sigmas / sizeof *sigmas; s++)
        for (int k = 0; k < a.n; k++) {
            double al = a.order[k], sg = sigmas[s];
            ck_assert_double_eq(rdp_subsampled_gaussian(1.0, sg, al), al / (2 * sg * sg));
        }
    // Composition is addition: 7 rounds at q = 1 are 7 × the closed form.
    rdp_compose(&a, 1.0, 2.0, 7);
    for (int k = 0; k < a.n; k++)
        ck_assert_double_eq(a.rdp[k], 7 * (a.order[k] / 8.0));
}
END_TEST

START_TEST(test_no_sampling_no_loss_and_no_noise_no_privacy) {
    RdpAccountant a;
    rdp_init(&a);
    ck_assert_double_eq(rdp_subsampled_gaussian(0.0, 1.0, 2.5), 0.0);
    rdp_compose(&a, 0.0, 1.0, 1000);
    double o;
    ck_assert_double_eq(rdp_epsilon(&a, 1e-5, &o), 0.0);
    // sigma = 0: every order +inf, ε = +inf, no best order.
    ck_assert(isinf(rdp_subsampled_gaussian(0.5, 0.0, 2.0)));
    rdp_compose(&a, 0.5, 0.0, 1);
    ck_assert(isinf(rdp_epsilon(&a, 1e-5, &o)) && isnan(o));
    ck_assert(isinf(rdp_epsilon_classic(&a, 1e-5, &o)) && isnan(o));
    // steps = 0 adds nothing, even to an accountant at +inf (no 0 × inf = NaN).
    RdpAccountant b;
    rdp_init(&b);
    rdp_compose(&b, 0.5, 0.0, 0);
    for (int k = 0; k < b.n; k++)
        ck_assert_double_eq(b.rdp[k], 0.0);
}
END_TEST

// ---- (2) the two series ----

START_TEST(test_integer_series_equals_fractional_series_at_integer_orders) {
    const double qs[] = {1e-4, 0.01, 0.1, 0.5, 0.9};
    const double sigmas[] = {0.5, 1, 2, 10};
    const int alphas[] = {2, 3, 5, 10, 32, 64, 256};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
        for (size_t j = 0; j < sizeof sigmas / sizeof *sigmas; j++)
            for (size_t k = 0; k < sizeof alphas / sizeof *alphas; k++) {
                double q = qs[i], s = sigmas[j];
                int al = alphas[k];
                double li = rdp_log_a_int(q, s, al), lf = rdp_log_a_frac(q, s, al);
                ck_assert_msg(isfinite(li) && li >= 0, "log A = %g at q=%g sigma=%g alpha=%d", li,
                              q, s, al);
                ck_assert_msg(fabs(li - lf) <= TOL_SERIES * fmax(1.0, fabs(li)),
                              "q=%g sigma=%g alpha=%d: integer series %.17g, fractional %.17g", q,
                              s, al, li, lf);
            }
    // And the fractional series is continuous across an integer order.
    double at = rdp_log_a_int(0.05, 1.3, 7);
    double below = rdp_log_a_frac(0.05, 1.3, 7 - 1e-7), above = rdp_log_a_frac(0.05, 1.3, 7 + 1e-7);
    ck_assert(below < at && at < above);
    ck_assert_msg(above - below <= 1e-5 * at, "jump %g across alpha = 7", above - below);
}
END_TEST

// ---- (3) monotone in q, sigma, steps ----

START_TEST(test_monotone_in_q_sigma_and_steps) {
    const double orders[] = {1.1, 1.5, 2, 2.5, 4, 7.5, 16, 64};
    for (size_t k = 0; k < sizeof orders / sizeof *orders; k++) {
        double al = orders[k], prev = 0;
        for (double q = 0.001; q <= 1.0; q *= 1.7) { // more sampling, more loss
            double r = rdp_subsampled_gaussian(q, 1.2, al);
            ck_assert_msg(r > prev, "alpha=%g: rdp(q=%g) = %g <= %g", al, q, r, prev);
            prev = r;
        }
        prev = INFINITY;
        for (double s = 0.4; s <= 20; s *= 1.5) { // more noise, less loss
            double r = rdp_subsampled_gaussian(0.05, s, al);
            ck_assert_msg(r < prev, "alpha=%g: rdp(sigma=%g) = %g >= %g", al, s, r, prev);
            prev = r;
        }
    }
    // ε grows with the rounds, under both conversions, and the classic one is never smaller.
    RdpAccountant a;
    rdp_init(&a);
    double prev = 0, prev_classic = 0, o;
    for (int round = 1; round <= 200; round++) {
        rdp_compose(&a, 0.1, 1.0, 1);
        double e = rdp_epsilon(&a, 1e-5, &o), c = rdp_epsilon_classic(&a, 1e-5, &o);
        ck_assert_msg(e > prev && c > prev_classic,
                      "round %d: eps %g (was %g), classic %g (was %g)", round, e, prev, c,
                      prev_classic);
        ck_assert_double_le(e, c);
        prev = e, prev_classic = c;
    }
    // Composing 200 rounds one at a time equals one call with steps = 200 (addition).
    RdpAccountant b;
    rdp_init(&b);
    rdp_compose(&b, 0.1, 1.0, 200);
    for (int k = 0; k < a.n; k++)
        ck_assert_double_eq_tol(a.rdp[k], b.rdp[k], 1e-12 * b.rdp[k]);
}
END_TEST

// ---- (4) published values ----

// TensorFlow Privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py
// (github.com/tensorflow/privacy, commit 2cd46dbb995dfee13162f4e4a7b40c1940c9c6f0 and later):
// compute_dp_sgd_privacy(n, batch_size, noise_multiplier, epochs, delta) = (eps, order) with
// q = batch/n, steps = ceil(epochs·n/batch), the 72 orders above, and dp_accounting's
// RdpAccountant, whose conversion is the improved one (Canonne et al. Prop. 12).
//   Test0 60000, 150, 1.3, 15, 1e-5  -> 0.7242234026109595, 19
//   Test1 100000, 100, 1.0, 30, 1e-7 -> 1.4154988495444842 (…845 in another version), 13
//   Test2 1e8, 1024, 0.1, 10, 1e-7   -> 5907982.3113978775 (…31138195 in another), 1.25
// The same test before the improved conversion (rdp_accountant.get_privacy_spent, classic):
//   0.941870567 @ 19, 1.70928734 @ 13, 5907984.81339406 @ 1.25.
static const struct {
    double n, batch, sigma, epochs, delta;
    double eps, eps_classic;
    double half_digit; // half a unit of eps_classic's last printed digit
    double order;
} TF_SGD[] = {
    {60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 0.941870567, 5e-10, 19},
    {100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 1.70928734, 5e-9, 13},
    {1e8, 1024, 0.1, 10, 1e-7, 5907982.3113978775, 5907984.81339406, 5e-9, 1.25},
};

START_TEST(test_tf_privacy_compute_dp_sgd_privacy) {
    double orders[80];
    int n = tf_sgd_orders(orders);
    for (size_t t = 0; t < sizeof TF_SGD / sizeof *TF_SGD; t++) {
        double q = TF_SGD[t].batch / TF_SGD[t].n, o;
        long steps = (long)ceil(TF_SGD[t].epochs * TF_SGD[t].n / TF_SGD[t].batch);
        double tol = fmax(TOL_PUBLISHED_ABS, TOL_PUBLISHED_REL * TF_SGD[t].eps);
        double e = eps_over(orders, n, q, TF_SGD[t].sigma, steps, TF_SGD[t].delta, 0, &o);
        ck_assert_msg(fabs(e - TF_SGD[t].eps) <= tol, "Test%zu: eps %.16g, published %.16g", t, e,
                      TF_SGD[t].eps);
        ck_assert_double_eq(o, TF_SGD[t].order);
        // Classic: to the printed digit (Test2's last digits are float noise: relative there).
        tol = fmax(TF_SGD[t].half_digit, TOL_PUBLISHED_REL * TF_SGD[t].eps_classic);
        e = eps_over(orders, n, q, TF_SGD[t].sigma, steps, TF_SGD[t].delta, 1, &o);
        ck_assert_msg(fabs(e - TF_SGD[t].eps_classic) <= tol,
                      "Test%zu classic: eps %.16g, published %.16g", t, e, TF_SGD[t].eps_classic);
        ck_assert_double_eq(o, TF_SGD[t].order);
    }
}
END_TEST

// The accountant's default orders contain Test0's and Test1's optimal orders (19, 13), so the
// run's ε equals TF Privacy's there too; Test2's optimum (1.25) is beaten by our 1.1 and 1.2.
START_TEST(test_default_orders_reproduce_tf_privacy) {
    for (size_t t = 0; t < 2; t++) {
        RdpAccountant a;
        rdp_init(&a);
        rdp_compose(&a, TF_SGD[t].batch / TF_SGD[t].n, TF_SGD[t].sigma,
                    (long)ceil(TF_SGD[t].epochs * TF_SGD[t].n / TF_SGD[t].batch));
        double o, e = rdp_epsilon(&a, TF_SGD[t].delta, &o);
        ck_assert_msg(fabs(e - TF_SGD[t].eps) <= TOL_PUBLISHED_ABS, "Test%zu: %.16g vs %.16g", t, e,
                      TF_SGD[t].eps);
        ck_assert_double_eq(o, TF_SGD[t].order);
    }
}
END_TEST

// TensorFlow Privacy's MNIST tutorial, tutorials/README.md ("Expected Output" and "Select
// Parameters", github.com/tensorflow/privacy, e.g. commit 047e1eef0e446daf41a9adbb712c546ebbd38c12)
// with tutorials/mnist_dpsgd_tutorial.py's compute_epsilon: q = 256/60000, steps =
// epochs·(60000 // 256), δ = 1e-5, the 151 tenth orders, classic conversion (rdp_accountant of
// 2018-19). Printed with %.2f:
//   σ 1.12, 60 epochs -> 2.92; σ 1.2, 10 epochs -> 1.20; σ 1.12 after 1 epoch -> 1.00, after 2 ->
//   1.04. (The table's σ 0.6, 30 epochs -> 9.74 is not reproduced: 9.7469 here, optimum 2.9;
//   docs/privacy.md.)
START_TEST(test_tf_privacy_mnist_tutorial) {
    static const struct {
        double sigma;
        int epochs;
        double eps;
    } rows[] = {{1.12, 60, 2.92}, {1.2, 10, 1.20}, {1.12, 1, 1.00}, {1.12, 2, 1.04}};
    double orders[160], o;
    int n = tenth_orders(orders);
    for (size_t t = 0; t < sizeof rows / sizeof *rows; t++) {
        long steps = (long)rows[t].epochs * (60000 / 256);
        double e = eps_over(orders, n, 256 / 60000.0, rows[t].sigma, steps, 1e-5, 1, &o);
        ck_assert_msg(fabs(e - rows[t].eps) <= 0.005, "sigma %g, %d epochs: eps %.4f, printed %.2f",
                      rows[t].sigma, rows[t].epochs, e, rows[t].eps);
        // The improved conversion is tighter: its ε is the smaller.
        ck_assert_double_lt(eps_over(orders, n, 256 / 60000.0, rows[t].sigma, steps, 1e-5, 0, &o),
                            e);
    }
}
END_TEST

// Opacus, opacus/tests/accountants_test.py test_rdp_accountant (github.com/pytorch/opacus,
// commit 2f4b54640c031948c4264d56b6f101baf5676490): σ 1.5, sample rate 0.04, steps int(90/0.04)
// = 2250, δ = 1e-5, DEFAULT_ALPHAS (the 151 tenth orders), improved conversion (Balle et al.
// Thm 21, opacus/accountants/analysis/rdp.py) -> 7.32911117143.
// And the docstring example of opacus/accountants/analysis/rdp.py: (q 1e-5, σ 1, 10 steps) then
// (q 1e-4, σ 3, 4 steps), orders 2..32, δ = 1e-5 -> (0.336, 23).
START_TEST(test_opacus_rdp_accountant) {
    double orders[160], o;
    int n = tenth_orders(orders);
    double e = eps_over(orders, n, 0.04, 1.5, 2250, 1e-5, 0, &o);
    ck_assert_msg(fabs(e - 7.32911117143) <= TOL_PUBLISHED_ABS, "eps %.12f", e);

    RdpAccountant a;
    double ints[31];
    for (int k = 0; k < 31; k++)
        ints[k] = 2 + k;
    rdp_init_orders(&a, ints, 31);
    rdp_compose(&a, 1e-5, 1.0, 10);
    rdp_compose(&a, 1e-4, 3.0, 4);
    e = rdp_epsilon(&a, 1e-5, &o);
    ck_assert_msg(fabs(e - 0.336) <= 5e-4, "eps %.6f", e);
    ck_assert_double_eq(o, 23);
}
END_TEST

// TensorFlow Privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py: the RDP itself
// (compared there with assertAlmostEqual places=5 / delta=1e-5, the tolerance used here), and
// the improved conversion of a constant RDP (pure DP) on orders 2..32 -> 1.32783806176 at 32.
START_TEST(test_tf_privacy_rdp_values) {
    ck_assert_double_eq_tol(10 * rdp_subsampled_gaussian(0.1, 2, 5), 0.07737, 5e-6);
    static const double orders[] = {1.5, 2.5, 5, 50, 100};
    static const double rdp50[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
    for (int k = 0; k < 5; k++)
        ck_assert_msg(fabs(50 * rdp_subsampled_gaussian(0.01, 2.5, orders[k]) - rdp50[k]) <= 1e-5,
                      "order %g: %.8f vs %.8f", orders[k],
                      50 * rdp_subsampled_gaussian(0.01, 2.5, orders[k]), rdp50[k]);
    RdpAccountant a;
    double ints[31], o;
    for (int k = 0; k < 31; k++)
        ints[k] = 2 + k;
    rdp_init_orders(&a, ints, 31);
    for (int k = 0; k < 31; k++)
        a.rdp[k] = 1.1;
    ck_assert_double_eq_tol(rdp_epsilon(&a, 1e-5, &o), 1.32783806176, 5e-12);
    ck_assert_double_eq(o, 32);
}
END_TEST

// ---- (5) the definition, by numerical integration ----

// ∫ N(x; 0, σ²) · r(x)^p dx with r = μ/μ0 = (1 − q) + q exp((2x − 1)/(2σ²)), Simpson's rule:
// p = α gives E_μ0[(μ/μ0)^α] (D_α(μ‖μ0)), p = 1 − α gives ∫ μ0^α μ^(1−α) (D_α(μ0‖μ)).
static double mixture_integral(double q, double sigma, double p) {
    const double lo = -40, hi = 60;
    const long n = 100000; // h = 1e-3, even
    double h = (hi - lo) / n, sum = 0;
    for (long i = 0; i <= n; i++) {
        double x = lo + i * h;
        double mu0 = exp(-x * x / (2 * sigma * sigma)) / (sigma * sqrt(2 * M_PI));
        double r = (1 - q) + q * exp((2 * x - 1) / (2 * sigma * sigma));
        double w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
        sum += w * mu0 * pow(r, p);
    }
    return sum * h / 3;
}

START_TEST(test_series_equal_the_renyi_divergence_by_integration) {
    static const double cases[][3] = {
        {0.2, 1.5, 3.5}, {0.2, 1.5, 6}, {0.01, 0.8, 2.5}, {0.5, 2.0, 1.3}}; // q, sigma, alpha
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        double q = cases[t][0], s = cases[t][1], al = cases[t][2];
        double fwd = log(mixture_integral(q, s, al)) / (al - 1);     // D_α(μ‖μ0)
        double bwd = log(mixture_integral(q, s, 1 - al)) / (al - 1); // D_α(μ0‖μ)
        double worse = fmax(fwd, bwd), r = rdp_subsampled_gaussian(q, s, al);
        ck_assert_msg(fabs(worse - r) <= TOL_INTEGRAL * r,
                      "q=%g sigma=%g alpha=%g: integral %.15g, series %.15g", q, s, al, worse, r);
        // Mironov et al. 2019 Thm 5: for α >= 1 the mixture-first direction is the worse one.
        ck_assert_msg(bwd < fwd, "alpha=%g: D(mu0||mu) = %g >= D(mu||mu0) = %g", al, bwd, fwd);
    }
}
END_TEST

// ---- bad arguments ----

static void bad_q(void *arg) {
    (void)arg;
    rdp_subsampled_gaussian(1.5, 1.0, 2.0);
}
static void bad_sigma(void *arg) {
    (void)arg;
    RdpAccountant a;
    rdp_init(&a);
    rdp_compose(&a, 0.1, -1.0, 3);
}
static void bad_steps(void *arg) {
    (void)arg;
    RdpAccountant a;
    rdp_init(&a);
    rdp_compose(&a, 0.1, 1.0, -2);
}
static void bad_delta(void *arg) {
    RdpAccountant a;
    rdp_init(&a);
    rdp_epsilon(&a, *(const double *)arg, NULL);
}
static void bad_delta_classic(void *arg) {
    RdpAccountant a;
    rdp_init(&a);
    rdp_epsilon_classic(&a, *(const double *)arg, NULL);
}
static void bad_order(void *arg) {
    (void)arg;
    const double orders[] = {2.0, 0.5};
    RdpAccountant a;
    rdp_init_orders(&a, orders, 2);
}
static void too_many_orders(void *arg) {
    (void)arg;
    double orders[RDP_MAX_ORDERS + 1];
    for (int k = 0; k <= RDP_MAX_ORDERS; k++)
        orders[k] = 2 + k;
    RdpAccountant a;
    rdp_init_orders(&a, orders, RDP_MAX_ORDERS + 1);
}

START_TEST(test_bad_arguments_die_naming_the_value) {
    expect_die(bad_q, NULL, "q = 1.5", "[0, 1]");
    expect_die(bad_sigma, NULL, "sigma = -1");
    expect_die(bad_steps, NULL, "steps = -2");
    const double zero = 0, one = 1, nan_ = NAN;
    expect_die(bad_delta, (void *)&zero, "delta = 0", "(0, 1)");
    expect_die(bad_delta, (void *)&one, "delta = 1", "(0, 1)");
    expect_die(bad_delta_classic, (void *)&nan_, "delta = nan");
    expect_die(bad_order, NULL, "order[1] = 0.5");
    expect_die(too_many_orders, NULL, "n = 65");
}
END_TEST

Suite *rdp_suite(void) {
    Suite *s = suite_create("rdp");
    TCase *tc = tcase_create("accountant");
    tcase_add_test(tc, test_q_one_is_the_gaussian_closed_form_exactly);
    tcase_add_test(tc, test_no_sampling_no_loss_and_no_noise_no_privacy);
    tcase_add_test(tc, test_integer_series_equals_fractional_series_at_integer_orders);
    tcase_add_test(tc, test_monotone_in_q_sigma_and_steps);
    tcase_add_test(tc, test_tf_privacy_compute_dp_sgd_privacy);
    tcase_add_test(tc, test_default_orders_reproduce_tf_privacy);
    tcase_add_test(tc, test_tf_privacy_mnist_tutorial);
    tcase_add_test(tc, test_opacus_rdp_accountant);
    tcase_add_test(tc, test_tf_privacy_rdp_values);
    tcase_add_test(tc, test_series_equal_the_renyi_divergence_by_integration);
    tcase_add_test(tc, test_bad_arguments_die_naming_the_value);
    suite_add_tcase(s, tc);
    return s;
}
