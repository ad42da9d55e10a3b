// mllm_file.h - the base-model file of the tiny multimodal LLM (data/base/mllm.h5, written by
// build/bin/base_model, read by --model=mllm):
//
//   /                  attributes: format "mmcollab-mllm-1", config (the MllmConfig as key=value
//                      lines, LoRA fields excluded: a base model has no adapter), and the build's
//                      provenance (data file and digest, corpus digest, val/public fractions,
//                      commit, per-stage seconds and figures) written by the builder
//   /tokenizer         uint8 (n): the byte-level BPE (data/bpe.h bpe_save)
//   /weights/<stage>/<tensor name>   float32 datasets, one per named tensor of that stage, in the
//                      shapes of the model contract; stages "lm" (text pre-training: lm/*),
//                      "encoders" (enc_*), "aligned" (projectors after alignment) and "final"
//                      (every tensor after instruction tuning)
//   /curves/<stage>/<series>         float64 (n): training curves
//
// A teacher file (CD-CCA's cloud model, base_model --size=teacher) has the same layout and, at the
// root, role "teacher" and student_sha256 (the hex SHA-256 of the student file it was built from,
// as sha256sum prints it); its tokenizer and encoders are the student's, bit-exact. A student file
// has no role attribute (older files stay valid).
//
// Every reader validates before it trusts: the format string, a config that parses and passes
// mllm_init's checks, each tensor's shape against the model's. Errors name the file and what is
// wrong. Local.
#pragma once
#include <hdf5.h>
#include <stddef.h>

#include "data/bpe.h"
#include "models/mllm.h"
#include "models/model.h"

#define MLLM_FILE_FORMAT "mmcollab-mllm-1"

// config as "key=value\n" lines into buf (cap); returns 0, -1 when it does not fit.
int mllm_config_text(const MllmConfig *c, char *buf, size_t cap);
// Parses such text into c (LoRA fields left as they were). Returns 0, or -1 with a message naming
// the key.
int mllm_config_parse(MllmConfig *c, const char *text, char *err, size_t cap);

// Writing (the builder): a new file at path (truncated), its format and config attributes.
hid_t mllm_file_create(const char *path, const MllmConfig *c);
void mllm_file_write_tokenizer(hid_t f, const Bpe *b);
// The tensors of model whose names start with one of the comma-separated prefixes ("" = every
// tensor except LoRA's) from params, under /weights/<stage>.
void mllm_file_write_stage(hid_t f, const char *stage, const Model *model, const float *params,
                           const char *prefixes);
void mllm_file_write_curve(hid_t f, const char *stage, const char *series, const double *v, int n);

// Reading. Each returns 0, or -1 with a message naming path and the problem.
int mllm_file_read_config(const char *path, MllmConfig *c, char *err, size_t cap);
int mllm_file_read_tokenizer(const char *path, Bpe *b, char *err, size_t cap);
// Every tensor stored under /weights/<stage> into params at the model's offsets (its shape must
// equal the model's); with require_all, every non-LoRA tensor of the model must be there. LoRA
// tensors are never read: a model's adapters are its own (their rank comes from its options).
int mllm_file_read_stage(const char *path, const char *stage, const Model *model, float *params,
                         int require_all, char *err, size_t cap);
// A double attribute of the root (NAN when absent).
double mllm_file_attr_f64(const char *path, const char *name);
// A string attribute of the root into out (cap): 0, or -1 when the file or the attribute is
// missing, not a string, or longer than cap - 1 (out then "").
int mllm_file_attr_str(const char *path, const char *name, char *out, size_t cap);

// 0 when teacher is a teacher file (role "teacher") whose student_sha256 equals the SHA-256 of the
// file student, and whose tokenizer (its bytes) and encoder config (names, ViT shapes, pixel
// shuffle; not the projectors' width) equal student's. Else -1 with a message in err naming both
// files and what differs: not a teacher, built from another student, tokenizer differs, encoder
// config differs, or a file that cannot be read. Local; allocates only the two tokenizers.
int mllm_file_check_teacher(const char *teacher, const char *student, char *err, size_t cap);
