// align.h - prototype-guided cross-modal alignment test (BoMM GPA, docs/methods.md §1.4).
//
// [I] reconstruction from BoMM's abstract, not the authors' algorithm. An embedding e of modality m
// gets a similarity distribution over the K classes, q_c = softmax_c(cos(e, P[c][m]) / τ), using
// the global prototypes P (K, M, D) from protocols/prototypes.h. Two embeddings of different
// modalities are "potentially aligned" when JS(q_a, q_b) < δ, argmax q_a == argmax q_b and both
// maxima exceed κ; the shared argmax is the pair's pseudo-label. Everything is in double; no MPI,
// local.
#pragma once

#include <stdint.h>

typedef struct {
    double tau;   // softmax temperature, > 0 (methods.md suggests 0.1)
    double delta; // Jensen–Shannon threshold in nats, >= 0 (0.05–0.1); the test is JS < delta
    double kappa; // confidence threshold in [0, 1] (0.6–0.8); the test is max q > kappa
} AlignParams;

// CHECKs tau > 0, delta >= 0 and kappa in [0, 1], naming the bad field and its value. Local.
void align_params_check(const AlignParams *ap);

// q (K) = softmax_c(cos(e, P[c][m]) / tau), written, over the classes with valid[c·M + m] != 0
// (valid (K, M) may be NULL = all); other classes get q_c = 0. e (D); protos (K, M, D) row-major.
// A zero-norm e or prototype has cosine 0. Local. CHECKs: pointers, dimensions, m in [0, M), tau >
// 0, finite e, at least one valid class in modality m.
void align_similarity(double *q, const float *e, const double *protos, const uint8_t *valid, int K,
                      int M, int D, int m, double tau);

// Jensen–Shannon divergence in nats, 0.5·KL(p‖r) + 0.5·KL(q‖r) with r = (p + q)/2, 0·ln 0 = 0; in
// [0, ln 2]. p, q (K) are distributions: CHECKs entries finite and >= 0 and sums within 1e-6 of 1.
// Local.
double align_jsd(const double *p, const double *q, int K);

typedef struct {
    int aligned;       // 1 when all three conditions hold
    int label;         // the pseudo-label: argmax q_a (ties: lowest class); -1 unless aligned
    double jsd;        // JS(q_a, q_b) in nats (always filled)
    double confidence; // min(max q_a, max q_b) (always filled)
    double
        weight; // soft weight of the pseudo pair, exp(-jsd / delta) in (1/e, 1]; 0 unless aligned
} AlignVerdict;

// The alignment test on two similarity distributions qa, qb (K). Returns v->aligned. Local.
// CHECKs: pointers, the params (align_params_check), the distributions (as align_jsd).
int align_test(AlignVerdict *v, const double *qa, const double *qb, int K, const AlignParams *ap);

typedef struct {
    int a, b;          // row indices into emb_a and emb_b
    int label;         // pseudo-label
    double jsd;        // JS(q_a, q_b)
    double confidence; // as AlignVerdict
    double weight;     // as AlignVerdict
} AlignPair;

// Matched pairs between emb_a (Na, D) of modality ma and emb_b (Nb, D) of modality mb, by iterated
// mutual best matches: among the pairs that pass align_test, repeatedly the pair with the
// smallest (JS, a, b) whose rows are both still unmatched (it is a mutual best match among them),
// until none is left. With many near-identical candidates of one class this pairs up to
// min(count_a, count_b) of them, where a single round of mutual best matches keeps about one per
// class. At most min(Na, Nb) pairs are written to pairs (caller storage of that capacity), in
// increasing a. Returns the count. Time O(Na·Nb·K), scratch O((Na + Nb)·K + passing pairs)
// allocated here. Local. CHECKs: pointers, Na, Nb >= 0, ma, mb in [0, M), params, as
// align_similarity.
int align_match(AlignPair *pairs, const float *emb_a, int Na, int ma, const float *emb_b, int Nb,
                int mb, const double *protos, const uint8_t *valid, int K, int M, int D,
                const AlignParams *ap);
