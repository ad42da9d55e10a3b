// dwc.h - CD-CCA's compressed weight downlink (DWC) for one tensor: the cloud sends a tensor's
// change Δ = new − the device's copy only when it matters (‖Δ‖ / ‖θ‖ >= τ_rel), optionally only its
// ρ share of largest entries, quantised to 4 (or 8) bits per block with absmax scales (nn/quant.h);
// the device adds the decoded Δ. Encoding and applying are separate so the bytes between them are
// what a deployment sends.
// Row-major float32; norms in double; no function here allocates (scratch from the caller); every
// function CHECKs its arguments. All Local.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nn/quant.h"

typedef struct {
    double tau_rel;  // send when ‖Δ‖ / ‖θ‖ >= tau_rel (>= 0; 0 = always when Δ != 0)
    double rho;      // share of entries sent, the largest |Δ| first: (0, 1] (1 = all, no indices)
    QuantFormat fmt; // the values' format (QUANT_NF4 or QUANT_INT4: 4 bits; QUANT_INT8)
    int block;       // entries per absmax scale (QUANT_BLOCK_DEFAULT = 64)
} DwcOpts;

// One tensor's message. idx (k, ascending) only when rho < 1; codes and scales as quant_encode's
// of the k selected values in index order. Buffers are the caller's, sized by dwc_capacity.
typedef struct {
    int send;       // 0: nothing is sent for this tensor
    double ratio;   // ‖Δ‖ / ‖θ‖ (Inf when θ = 0 and Δ != 0; 0 when Δ = 0)
    size_t k;       // entries sent
    uint32_t *idx;  // (k) their positions, when rho < 1
    uint8_t *codes; // quant_code_bytes(fmt, k)
    float *scales;  // quant_n_blocks(k, block)
} DwcMsg;

// The entries a tensor of n sends at rho: ceil(rho · n) (n when rho = 1). CHECKs rho in (0, 1].
size_t dwc_entries(size_t n, double rho);
// Bytes of a message with k entries of n: k indices as uint32 when rho < 1, the codes and the
// scales; 0 when nothing is sent (send = 0). What a deployment would send for the tensor.
size_t dwc_bytes(const DwcOpts *o, size_t n, size_t k, int send);
// Scratch dwc_encode needs for n entries: doubles (the magnitudes), floats (the chosen values),
// uint32s (their order, core/order.h).
size_t dwc_work_doubles(size_t n);
size_t dwc_work_floats(size_t n);
size_t dwc_work_u32(size_t n);

// m from delta (n) and the device's current theta (n): the decision, the selected indices (ties
// to the lower index), the quantised values. m's buffers hold dwc_entries(n, rho) entries. key,
// work and uwork as above. CHECKs the options and that delta and theta are finite.
void dwc_encode(DwcMsg *m, const DwcOpts *o, const float *delta, const float *theta, size_t n,
                double *key, float *work, uint32_t *uwork);
// theta (n) += the decoded Δ of m (nothing when m->send = 0). work holds m->k floats.
void dwc_apply(float *theta, const DwcMsg *m, const DwcOpts *o, size_t n, float *work);
