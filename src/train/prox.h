// prox.h - a proximal term toward the round's global model that any method's local training can
// carry (--prox): FedProx's μ/2 ‖w − w_global‖² (Li et al. 2020) and FedMLLM's layer-selective
// ("adaptive") variant, which regularises only the middle layers of the language model so the
// first and last ones adapt to a party's modality mix (FedMLLM §3.5: `CPMTrainerReg`).
//
//   loss += (μ/2) · μ_w · Σ_{selected floats in scope} (w − w_global)²
//   all:       scope = every float of the trainable selection
//   adaptive:  scope = the slices l ∈ [s, L − 1 − s] of selected tensors stacked over the language
//              model's L layers (ModelTensor.layers); tensors outside the layers (a projector) are
//              free, as in FedMLLM's code, whose regex needs a layer index.
#pragma once
#include <stddef.h>

#include "models/model.h"
#include "train/local.h"

typedef enum { PROX_OFF = 0, PROX_ALL = 1, PROX_ADAPTIVE = 2 } ProxMode;

// The term as runs of the flat parameter buffer, each with its coefficient μ·μ_w. Owned.
typedef struct {
    int n_runs;
    struct ProxRun {
        size_t off, n;
    } * run;
    float coef;
} ProxTerm;

// "off", "all", "adaptive" → mode, or -1.
int prox_mode_parse(const char *name);
// Builds the term for the selection of m. Returns 0, or -1 with a message (adaptive on a model
// without layer-stacked trainable tensors, or s so large that no layer is regularised). Local.
int prox_build(ProxTerm *p, const Model *m, const Selection *sel, ProxMode mode, double mu,
               double weight, int free_layers, char *err, size_t cap);
void prox_free(ProxTerm *p); // safe on a zeroed term
// grads += coef · (params − global) on the term's runs. Local.
void prox_apply(const ProxTerm *p, float *grads, const float *params, const float *global);
// The squared distance term's value (μ/2)·μ_w·Σ(w − w_g)² (for logs and tests). Local.
double prox_value(const ProxTerm *p, const float *params, const float *global);

// PartyHooks that run inner's hooks and add the term's gradient after inner's grad. The struct
// owns nothing; it must outlive the training call. inner may be NULL.
typedef struct {
    PartyHooks hooks;
    const PartyHooks *inner;
    const ProxTerm *term;
    const float *global;
} ProxHooks;
const PartyHooks *prox_hooks(ProxHooks *h, const PartyHooks *inner, const ProxTerm *term,
                             const float *global);
