// ties.h - TIES-merging of K parties' updates (deltas) on a flat float vector: trim each update to
// its largest entries, elect one sign per entry, and average only the values that agree with it.
// Fed-CMP's merging baseline. docs/fedcmp_math.md.
//
// For K updates δ_1 … δ_K of n entries:
//   trim   δ̂_t keeps the m = ⌈k·n/100⌉ entries of δ_t largest in magnitude (1 <= m <= n), the
//          others set to 0. At the boundary, among equal magnitudes the lower index is kept (so
//          exactly m entries survive; −v and v tie).
//   elect  γ_j = sgn(Σ_t δ̂_t[j]), the sign of the sum of the trimmed values (the paper's "mass"
//          rule: one large value outvotes several small ones of the other sign).
//   merge  A_j = {t : δ̂_t[j] ≠ 0 and sgn(δ̂_t[j]) = γ_j};  out[j] = λ·(Σ_{t∈A_j} δ̂_t[j])/|A_j|,
//          and 0 when A_j is empty (every value trimmed, or γ_j = 0).
// The server then adds out to the global model.
//
// Choices where the paper is silent or its code differs ([I]):
// - m = ⌈k·n/100⌉ with exact index tie-breaking. The reference code keeps every entry whose
//   magnitude reaches the threshold (ties all survive) and, through an off-by-one in its
//   kthvalue call, int(k·n/100) + 1 entries.
// - γ_j = 0 (the trimmed values cancel exactly) merges to 0, as the paper's formula reads; the
//   reference code instead gives such entries the majority sign over the whole vector.
// - Order independence: each entry's K trimmed values are sorted by value before they are summed
//   (in double, with Neumaier's compensation, so a cancellation like 1e30 + 1 − 1e30 elects the
//   sign of the true sum), so the sign and the mean do not depend on the order of the parties, to
//   the bit.
// - Unweighted, as the paper (no n_k).
//
// Float arrays, double sums. All functions are Local (the cloud, rank 0); no MPI, no options, no
// logging. Scratch is allocated inside (once per round on the cloud).
//
// Errors: CHECKs pointers, sizes and finiteness. Option values name the option: k (--fedcmp.ties-k,
// in (0, 100]), λ (--fedcmp.ties-lambda, > 0 and finite); K >= 1 party updates.
//
// Sources: Yadav, Tam, Choshen, Raffel, Bansal, "TIES-Merging: Resolving Interference When Merging
// Models", NeurIPS 2023, §3 (trim, elect sign, disjoint merge) and their defaults (k = 20, λ = 1).
#pragma once

#include <stddef.h>

typedef struct TiesOpts {
    double k;      // percent of each update's entries kept, in (0, 100] (--fedcmp.ties-k, 20)
    double lambda; // scale of the merged update, > 0 (--fedcmp.ties-lambda, 1)
} TiesOpts;

#define TIES_K_DEFAULT 20.0
#define TIES_LAMBDA_DEFAULT 1.0

// CHECKs o, naming the keys: k in (0, 100] (--fedcmp.ties-k), lambda > 0 and finite
// (--fedcmp.ties-lambda).
void ties_check_opts(const TiesOpts *o);

// m = ⌈k·n/100⌉ clamped to [1, n]: the entries trim keeps of n (the product is taken a relative
// 1e-12 below its value first, so a k·n that is an integer up to rounding does not round up).
// CHECKs k in (0, 100] (--fedcmp.ties-k) and n >= 1.
size_t ties_keep_count(double k, size_t n);

// out (n) = in (n) trimmed to its m = ties_keep_count(k, n) entries largest in magnitude, the
// lower index winning ties, the rest 0. out may alias in. Returns m. CHECKs the pointers, k, and
// that in is finite.
size_t ties_trim(float *out, const float *in, size_t n, double k);

// out (n) = the TIES merge of delta (K, n), the parties' updates stacked (any order: the result is
// the same bits for every order of the parties). out must not overlap delta. CHECKs o, K >= 1, the
// pointers and finiteness.
void ties_merge(float *out, const float *delta, int K, size_t n, const TiesOpts *o);
