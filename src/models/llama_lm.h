// llama_lm.h - the LLaMA-style decoder of the tiny multimodal LLM (issue 12): Hugging Face's
// LlamaForCausalLM at toy size, with LoRA on the four attention projections and a KV cache for
// generation. Built from nn/llama.h (RMSNorm, RoPE, SwiGLU), nn/causal_attention.h, nn/lora.h,
// nn/embedding.h and tensor/blas.h; one flat parameter layout, one forward, one backward (llm.c
// style, no autograd).
//
//   input x (B, T, D): the caller's embeddings (token rows from llama_embed and, at image/audio
//   slots, projector outputs). Per layer l of L:
//     h   = RMSNorm(x) · attn_norm[l]
//     q,k,v = h·W{q,k,v}ᵀ + (α/r)·(drop(h)·A{q,k,v}ᵀ)·B{q,k,v}ᵀ      (no biases; PEFT LoRA)
//     q,k = RoPE(q), RoPE(k)   rotate-half, θ, positions 0..T-1
//     att = causal attention, H heads of hd = D/H, scale 1/sqrt(hd)
//     x   = x + att·Woᵀ + (α/r)·(drop(att)·Aoᵀ)·Boᵀ
//     h2  = RMSNorm(x) · mlp_norm[l]
//     x   = x + (silu(h2·W1ᵀ) ⊙ (h2·W3ᵀ))·W2ᵀ
//   hid = RMSNorm(x) · norm;   logits = hid · headᵀ, head = tok_emb (tied) or its own (V, D).
//   RMSNorm eps RMSNORM_EPS (1e-5). drop: LoRA dropout on the adapter's input only, an independent
//   mask per layer and adapter; none at evaluation.
//
// Not here: the tokenizer, the projectors of image/audio features, the loss (the caller gathers
// the rows it scores and runs nn/loss.h on llama_head_forward's logits), optimisers.
// Sources: Touvron et al. 2023 (LLaMA) and Hugging Face transformers' modeling_llama.py for the
// block; Hu et al. 2021 and PEFT for LoRA (scale α/r, dropout on the adapter input, B = 0 at
// init); [I] reconstruction of the flat layout.
// Conventions (docs/conventions.md): row-major float32; forwards write (=), backwards ACCUMULATE
// (+=) into gradients (zero them first), a NULL gradient means "not needed"; no allocation after
// the *_init functions; every function is Local and CHECKs its arguments (messages name values).
#pragma once
#include <stddef.h>

#include "core/rng.h"
#include "models/model.h"
#include "nn/causal_attention.h"

// The adapters, in buffer order (lora_a[LLAMA_Q] ...).
enum { LLAMA_Q = 0, LLAMA_K = 1, LLAMA_V = 2, LLAMA_O = 3, LLAMA_N_ADAPTERS = 4 };

typedef struct {
    int V, D, L, H, F; // vocabulary, width, layers, heads (D % H == 0, D/H even), MLP hidden
    int Tmax;          // longest sequence (work and generation caches are at most this long)
    int r;             // LoRA rank >= 1
    float alpha;       // LoRA scale numerator: the adapters add (alpha / r)·B·A
    float lora_p;      // LoRA dropout probability in [0, 1)
    int tied;          // 1: logits use tok_emb (no head tensor); 0: a separate head (V, D)
    double theta;      // RoPE base (ROPE_THETA = 10000 for LLaMA), > 1
} LlamaConfig;

// Offsets (absolute, in floats, into the caller's flat buffer) of every tensor. Layer-stacked
// tensors hold layer l at off + l · (floats per layer). Transparent (docs/conventions.md §3).
typedef struct {
    LlamaConfig c;
    size_t base, n_params; // the LM occupies [base, base + n_params)
    size_t tok_emb;        // (V, D)
    size_t attn_norm;      // (L, D)
    size_t wq, wk, wv, wo; // (L, D, D) each
    size_t mlp_norm;       // (L, D)
    size_t w1, w3;         // (L, F, D): gate, up
    size_t w2;             // (L, D, F): down
    size_t norm;           // (D)
    size_t head;           // (V, D); tied: = tok_emb (no tensor of its own)
    size_t lora_a[4];      // (L, r, D) per adapter LLAMA_Q..LLAMA_O
    size_t lora_b[4];      // (L, D, r)
} LlamaLM;

// Activations of one forward for batches of up to Bmax sequences of up to Tmax tokens, kept for
// the backward; one arena carved at init (owned; llama_work_free). Per-layer buffers hold L slabs
// of Bmax·Tmax rows; a call with (B, T) uses the first B·T rows of each slab, contiguous.
typedef struct {
    int Bmax, Tmax, B, T; // B, T: the last forward's
    int dropped;          // 1 when the last forward drew LoRA dropout masks
    float *hid;           // (Bmax, Tmax, D) output of the last forward: the final RMSNorm
    float *x;      // (L+1, Bmax·Tmax, D) residual stream: x[0] the input, x[l+1] layer l out
    float *xmid;   // (L, Bmax·Tmax, D) residual after attention
    float *h, *h2; // (L, Bmax·Tmax, D) attention / MLP RMSNorm outputs
    float *rstd1, *rstd2; // (L, Bmax·Tmax)
    float *rstdf;         // (Bmax·Tmax) the final RMSNorm's
    float *qkv;           // (L, Bmax·Tmax, 3D) projections, q and k rotated
    float *att;           // (L, Bmax, H, Tmax, Tmax) attention probabilities
    float *atty;          // (L, Bmax·Tmax, D) attention output before Wo
    float *g, *u, *s;     // (L, Bmax·Tmax, F) gate, up, silu(gate)·up
    float *la;            // (L, 4, Bmax·Tmax, r) adapter bottlenecks drop(inp)·Aᵀ
    float *lx, *lmask;    // (L, 4, Bmax·Tmax, D) dropped adapter inputs and masks; NULL if p == 0
    float *cos_t, *sin_t, *nsin_t; // (Tmax, hd/2) RoPE table of positions 0..Tmax-1, and −sin
    // backward scratch
    float *dx, *dh;      // (Bmax·Tmax, D)
    float *dqkv;         // (Bmax·Tmax, 3D)
    float *dg, *du, *ds; // (Bmax·Tmax, F)
    float *dla;          // (Bmax·Tmax, r)
    float *dlx;          // (Bmax·Tmax, D) the dropped input's gradient; NULL if p == 0
    float *att_work;     // causal_attention_workspace_size(Bmax, Tmax, D, H)
    float *arena;
} LlamaWork;

// KV-cached generation for up to Bmax sequences that advance together (one position for all).
// Owned buffers (llama_gen_free); forward scratch comes from an embedded LlamaWork (prefill).
typedef struct {
    int Bmax, Tmax;
    int B;              // sequences of the current generation (set by prefill or the first step)
    int pos;            // next position to write: tokens 0..pos-1 are cached
    KvCache *cache;     // (L) one per layer
    LlamaWork work;     // prefill's full forward
    float *x, *h;       // (Bmax, D) residual stream and RMSNorm output of one step
    float *qkv;         // (Bmax, 3D)
    float *atty;        // (Bmax, D)
    float *g, *u, *s;   // (Bmax, F)
    float *la;          // (Bmax, r)
    float *rstd;        // (Bmax)
    float *cos1, *sin1; // (hd/2) RoPE angles of position pos
    float *hid, *xnew;  // (Bmax, D) llama_generate's last hidden row and next input
    float *logits;      // (V) llama_generate's
    float *step_work;   // causal_attention_step_workspace_size floats
    float *kv;          // (L, 2, kv_cache_floats) the caches' keys and values
    float *arena;
} LlamaGen;

// Computes the layout of the LM at float offset base of the caller's buffer (lm->n_params floats
// from base). CHECKs V, D, L, H, F, Tmax, r >= 1; D % H == 0 and D/H even (RoPE pairs); alpha
// finite; lora_p in [0, 1); tied 0 or 1; theta > 1. Local.
void llama_init(LlamaLM *lm, const LlamaConfig *c, size_t base);
// Appends the named tensors prefix + tok_emb, attn_norm, wq, wk, wv, wo, mlp_norm, w1, w3, w2,
// norm, head (untied only), lora_q_a, lora_q_b, lora_k_a, ..., lora_o_b (shapes as LlamaLM's
// fields) to m in buffer order; only the LoRA tensors are trainable by default. The tensors
// already in m must end at lm->base (model_add_tensor CHECKs it). Local.
void llama_add_tensors(const LlamaLM *lm, Model *m, const char *prefix);
// Draws every tensor from rng in buffer order: tok_emb, wq, wk, wv, w1, w3, head N(0, 0.02); wo,
// w2 N(0, 0.02/sqrt(2L)); norms 1; LoRA A U(±1/sqrt(D)) (PyTorch's kaiming_uniform(a=√5)); LoRA B
// 0, so a fresh adapter changes nothing. Writes params[base, base + n_params). Local.
void llama_init_params(const LlamaLM *lm, float *params, Rng *rng);

// Allocates w for batches of up to Bmax sequences of up to Tmax tokens (CHECKs Bmax >= 1,
// 1 <= Tmax <= c.Tmax); llama_work_free is safe on a zeroed or freed w and leaves it zeroed.
void llama_work_init(LlamaWork *w, const LlamaLM *lm, int Bmax, int Tmax);
void llama_work_free(LlamaWork *w);

// out (n, D) = tok_emb[ids (n)]. CHECKs every id in [0, V) (naming its position). Local.
void llama_embed(const LlamaLM *lm, const float *params, const int *ids, int n, float *out);
// grads[tok_emb] (V, D) += the scatter of dout (n, D) to rows ids. grads is the flat gradient
// buffer (same layout as params). Local.
void llama_embed_backward(const LlamaLM *lm, float *grads, const int *ids, int n,
                          const float *dout);

// x (B, T, D) -> w->hid (B, T, D), keeping the activations in w for llama_backward. drop: the
// RNG_DROPOUT stream of LoRA dropout (c.lora_p > 0: B·T·D words per layer and adapter, drawn
// layer by layer in the order q, k, v, o); NULL = no dropout (evaluation), as is c.lora_p == 0.
// CHECKs 1 <= B <= w->Bmax, 1 <= T <= w->Tmax, pointers. Local.
void llama_forward(const LlamaLM *lm, const float *params, const float *x, int B, int T,
                   LlamaWork *w, Rng *drop);
// logits (N, V) = rows (N, D) · headᵀ (rows: any rows gathered from w->hid, or a step's hid).
// Local.
void llama_head_forward(const LlamaLM *lm, const float *params, const float *rows, int N,
                        float *logits);
// Its backward from dlogits (N, V): drows (N, D) += dlogits · head (drows may be NULL);
// grads[head] (or grads[tok_emb] when tied) += dlogitsᵀ · rows, when grads (the flat gradient
// buffer) is not NULL. Local.
void llama_head_backward(const LlamaLM *lm, const float *params, float *grads, float *drows,
                         const float *dlogits, const float *rows, int N);
// Backward of the last llama_forward in w from dhid (B, T, D) = ∂loss/∂w->hid (same B, T):
// grads (flat) += the LoRA gradients (when grads is not NULL) and, when base_grads != 0, every
// base weight's (attn_norm, wq..wo, mlp_norm, w1, w3, w2, norm; not tok_emb/head: see
// llama_embed_backward and llama_head_backward); dx (B, T, D) += ∂loss/∂x when not NULL. With
// dropout in the forward the same masks are used. CHECKs a forward ran, pointers; base_grads
// without grads. Local.
void llama_backward(const LlamaLM *lm, const float *params, float *grads, int base_grads,
                    const float *dhid, float *dx, LlamaWork *w);

// Merges every adapter into its base weight (W += (α/r)·B·A, nn/lora.h lora_merge) and zeroes the
// B matrices: an evaluation forward then equals the unmerged one up to float rounding. Local.
void llama_lora_merge(const LlamaLM *lm, float *params);

// ---- generation with a KV cache ----

// Allocates g for up to Bmax sequences of up to Tmax positions (CHECKs 1 <= Tmax <= c.Tmax,
// Bmax >= 1) and sets pos = 0. llama_gen_free is safe on a zeroed or freed g and leaves it zeroed.
void llama_gen_init(LlamaGen *g, const LlamaLM *lm, int Bmax, int Tmax);
void llama_gen_free(LlamaGen *g);
// Forgets the cached tokens (pos = 0) so that llama_step starts a new generation. Local.
void llama_gen_reset(LlamaGen *g);
// Starts a generation: runs the full evaluation forward on the prompt x (B, T, D), fills every
// layer's cache with its keys and values at positions 0..T-1, sets pos = T, and writes hid_last
// (B, D) = the final hidden row of each sequence (position T-1). CHECKs 1 <= B <= Bmax,
// 1 <= T <= g->Tmax. No dropout. Local.
void llama_prefill(const LlamaLM *lm, const float *params, const float *x, int B, int T,
                   LlamaGen *g, float *hid_last);
// One token per sequence: x_new (B, D) at position g->pos, hid (B, D) = its final hidden row (as
// the full forward's row pos over the same sequences), then pos++. CHECKs pos < g->Tmax (the cache
// is full otherwise) and B equal to the prefill's (or 1..Bmax at pos 0). No dropout. Local.
void llama_step(const LlamaLM *lm, const float *params, const float *x_new, int B, LlamaGen *g,
                float *hid);
// One sequence (B = 1): prefill x_prompt (T, D), then up to max_new tokens, each chosen from the
// logits of the last hidden row, written to out_ids and fed back through llama_embed: greedy
// (argmax, the lowest id on ties) when temperature == 0, else sampled from softmax(logits /
// temperature) with one rng_uniform of rng per token. Stops after writing eos (eos < 0: never).
// Returns the number of ids written. CHECKs T >= 1, max_new >= 0, T + max_new - 1 <= g->Tmax,
// temperature >= 0 and finite, rng when temperature > 0, eos < V. Local.
int llama_generate(const LlamaLM *lm, const float *params, const float *x_prompt, int T,
                   int max_new, int eos, float temperature, Rng *rng, int *out_ids, LlamaGen *g);
