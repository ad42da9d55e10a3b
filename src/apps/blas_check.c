// blas_check.c - does OpenBLAS compute right with the kernels it loaded? For scripts/blas_core.sh.
//
//   OPENBLAS_CORETYPE=SkylakeX build/bin/blas_check
//
// OpenBLAS picks its kernels once, when the library loads, from the CPU or from OPENBLAS_CORETYPE,
// and some builds pick kernels that are wrong or illegal on some CPUs. So a core type is tried in a
// process of its own: this one runs cblas_sgemm and cblas_dgemm, the two BLAS calls mmcollab makes,
// on Philox-random matrices over the shapes that reach OpenBLAS's different code paths (its small-
// matrix kernels, edge tiles of odd sizes, every transpose, alpha/beta cases, padded leading
// dimensions, a product of a few hundred in each dimension) and compares each element with a triple
// loop in double. Prints one line
//   blas_check core=<kernels loaded> cases=<n> worst=<largest err / bound> ok|FAIL
// and exits 0 when every element is within its bound, 1 otherwise; an illegal instruction kills it
// with SIGILL, which the wrapper reads as a failure too. The bound per element is
// 4·eps·(K+2)·(|alpha|·Σ_k|a_ik·b_kj| + |beta·c_ij|): the worst case of any summation order, so an
// honest kernel never trips it and a wrong one (a dropped tile, a stale register) does by orders
// of magnitude. Serial, about 0.3 s.
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "tensor/blas.h"

typedef struct {
    int M, N, K;
} Shape;

// Small kernels (M·N·K up to ~10⁵ on SkylakeX), odd edge tiles, and one product of a few hundred
// rows and columns.
static const Shape SHAPES[] = {{1, 1, 1},      {2, 3, 5},      {7, 9, 13},    {16, 16, 16},
                               {17, 33, 9},    {31, 64, 65},   {64, 10, 128}, {100, 100, 100},
                               {129, 65, 257}, {160, 130, 260}};
static const double ALPHAS[] = {1.0, -0.75};
static const double BETAS[] = {0.0, 1.0, 0.5};

// The largest err/bound over the elements of one product (c0: C before the call, read when beta !=
// 0).
static double check_one(int dbl, int ta, int tb, Shape s, double alpha, double beta, int pad,
                        Rng *rng) {
    int M = s.M, N = s.N, K = s.K;
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *af = xmalloc(na * sizeof(float)), *bf = xmalloc(nb * sizeof(float));
    float *cf = xmalloc(nc * sizeof(float)), *c0 = xmalloc(nc * sizeof(float));
    rng_fill_uniform(rng, af, na, -1, 1);
    rng_fill_uniform(rng, bf, nb, -1, 1);
    rng_fill_uniform(rng, c0, nc, -1, 1);
    double *ad = NULL, *bd = NULL, *cd = NULL;
    if (dbl) {
        ad = xmalloc(na * sizeof(double));
        bd = xmalloc(nb * sizeof(double));
        cd = xmalloc(nc * sizeof(double));
        for (size_t i = 0; i < na; i++)
            ad[i] = af[i];
        for (size_t i = 0; i < nb; i++)
            bd[i] = bf[i];
        for (size_t i = 0; i < nc; i++)
            cd[i] = c0[i];
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, alpha, ad, lda, bd, ldb, beta, cd, ldc);
    } else {
        for (size_t i = 0; i < nc; i++)
            cf[i] = c0[i];
        sgemm_rm(ta, tb, M, N, K, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
    }
    double eps = dbl ? DBL_EPSILON : FLT_EPSILON, worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? af[(size_t)k * lda + i] : af[(size_t)i * lda + k];
                double b = tb ? bf[(size_t)j * ldb + k] : bf[(size_t)k * ldb + j];
                acc += a * b;
                mag += fabs(a * b);
            }
            size_t at = (size_t)i * ldc + j;
            double c_in = c0[at];
            double want = alpha * acc + (beta == 0 ? 0 : beta * c_in);
            double got = dbl ? cd[at] : cf[at];
            double bound = 4 * eps * (K + 2) * (fabs(alpha) * mag + fabs(beta * c_in)) + DBL_MIN;
            double r = fabs(got - want) / bound;
            if (!(r <= worst)) worst = r; // NaN counts as the worst
        }
    free(af), free(bf), free(cf), free(c0), free(ad), free(bd), free(cd);
    return worst;
}

int main(void) {
    Rng rng;
    rng_init(&rng, 20261207, 0, 0, 0);
    int cases = 0;
    double worst = 0;
    for (int dbl = 0; dbl < 2; dbl++)
        for (size_t s = 0; s < sizeof SHAPES / sizeof *SHAPES; s++)
            for (int t = 0; t < 4; t++)
                for (size_t a = 0; a < sizeof ALPHAS / sizeof *ALPHAS; a++)
                    for (size_t b = 0; b < sizeof BETAS / sizeof *BETAS; b++) {
                        int pad = (int)((s + t + b) % 3); // 0-2 extra columns per row
                        double r = check_one(dbl, t & 1, t >> 1, SHAPES[s], ALPHAS[a], BETAS[b],
                                             pad, &rng);
                        if (!(r <= worst)) worst = r;
                        cases++;
                    }
    int ok = worst <= 1.0;
    printf("blas_check core=%s cases=%d worst=%.3g %s\n", blas_core_name(), cases, worst,
           ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
