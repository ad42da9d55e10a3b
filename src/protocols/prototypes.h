// prototypes.h - per-class, per-modality prototypes (BoMM GPA, docs/methods.md §1.4).
//
// [I] reconstruction from BoMM's abstract; the prototypes themselves are FedProto-style [K]: the
// prototype of class c in modality m is the mean embedding of the class-c samples that have
// modality m. A party accumulates sums (double) and counts (int64) over its samples in sample
// order, so its sums do not depend on where it is hosted; comm/proto_reduce.h combines parties
// exactly. Pure and local; no MPI.
#pragma once

#include <stdint.h>

// sums (K, M, D) += Σ emb[i] and counts (K, M) += 1 over the rows i with mask[i·M + m] != 0, into
// class labels[i] and modality m. emb (N, D) row-major holds modality m's embeddings; labels (N);
// mask (N, M) with 1 = present, the party model's convention (NULL = every row present). Rows
// absent in modality m are skipped whatever their label. Accumulated in double, in row order.
// Local. CHECKs: pointers, N >= 0, D, K, M >= 1, m in [0, M), present rows' labels in [0, K) and
// finite embeddings.
void proto_accumulate(double *sums, int64_t *counts, const float *emb, const int *labels,
                      const uint8_t *mask, int N, int D, int K, int M, int m);
