// embedding.h - token embedding lookup and the mean embedding-bag (a bag of words).
// Dimension legend (docs/conventions.md §6): B batch, T tokens, C in-channels/features, OC
// out-channels, H heads, D model width, V vocabulary/classes, N rows (= B or B*T), r low-rank rank.
// Conventions: row-major float32; outputs first; forward writes (=) its outputs; backward
// ACCUMULATES
// (+=) into every gradient (zero them first); a NULL gradient pointer means "not needed"; no
// function here allocates; every forward/backward CHECKs its shapes and pointers and ends with
// NANGUARD.
#pragma once

// out (N, D) = table (V, D)[ids (N)]. CHECKs 0 <= id < V, naming the position. Local.
void embedding_forward(float *out, const int *ids, const float *table, int N, int V, int D);
// dtable (V, D) += scatter of dout (N, D). Local.
void embedding_backward(float *dtable, const float *dout, const int *ids, int N, int V, int D);
// out (B, D) = mean over the valid tokens of ids (B, T) of table rows. Tokens < 0 are padding or
// missing and are skipped; a row with no valid token gives zeros. Ids >= V are a CHECK failure.
// Local.
void embedding_bag_mean_forward(float *out, const int *ids, const float *table, int B, int T, int V,
                                int D);
// dtable (V, D) += dout (B, D) / count spread over each row's valid tokens. Local.
void embedding_bag_mean_backward(float *dtable, const float *dout, const int *ids, int B, int T,
                                 int V, int D);
