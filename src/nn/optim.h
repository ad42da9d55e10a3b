// optim.h - optimisers on a flat parameter buffer restricted to trainable segments
// (docs/conventions.md §8): SGD with momentum, AdamW (decoupled weight decay), global-norm
// clipping, cosine schedule with linear warm-up. Norms are summed in double.
#pragma once

#include <stddef.h>

// A trainable range [offset, offset + n) of the flat buffer.
typedef struct ParamSegment {
    size_t offset, n;
} ParamSegment;

// segs == NULL (n_segs 0) means the whole buffer [0, n_params); segs != NULL with n_segs 0 means
// nothing is trainable (a no-op). Segments are CHECKed to lie inside [0, n_params) and not to
// overlap; elements outside every segment are never read or written.

typedef struct SgdConfig {
    float lr, momentum, weight_decay; // weight decay added to the gradient (PyTorch SGD)
    int nesterov;
} SgdConfig;
// PyTorch semantics: g = grad + wd·p; vel = momentum·vel + g (vel starts at 0);
// p -= lr · (nesterov ? g + momentum·vel : vel). vel (n_params) is the optimizer state. Local.
void sgd_step(float *params, const float *grads, float *vel, size_t n_params,
              const ParamSegment *segs, int n_segs, const SgdConfig *c);

typedef struct AdamWConfig {
    float lr, beta1, beta2, eps, weight_decay;
} AdamWConfig;
// PyTorch AdamW: p -= lr·wd·p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
// p -= lr · (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). t is the 1-based step count. Local.
void adamw_step(float *params, const float *grads, float *m, float *v, size_t n_params,
                const ParamSegment *segs, int n_segs, const AdamWConfig *c, long t);
// The scalar twin of adamw_step (no AVX-512 body): bit-identical results, used as the test oracle.
void adamw_step_ref(float *params, const float *grads, float *m, float *v, size_t n_params,
                    const ParamSegment *segs, int n_segs, const AdamWConfig *c, long t);

// sqrt(Σ g²) over the segments, in double. Local.
double grad_global_norm(const float *grads, size_t n_params, const ParamSegment *segs, int n_segs);
// Scales the segments' gradients by max_norm / norm when norm > max_norm; returns the norm before
// clipping (PyTorch clip_grad_norm_, without its +1e-6). A NaN norm leaves the gradients as they
// are. CHECKs max_norm > 0. Local.
double clip_grad_global_norm(float *grads, size_t n_params, const ParamSegment *segs, int n_segs,
                             double max_norm);
// Learning rate at 0-based step: linear warm-up from lr_max/warmup to lr_max over `warmup` steps,
// then cosine decay to lr_min at step `total`, lr_min after. Local.
float lr_cosine_warmup(long step, long warmup, long total, float lr_max, float lr_min);
