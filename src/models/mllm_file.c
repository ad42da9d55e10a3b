// mllm_file.c - the base-model file (see mllm_file.h).
#include "models/mllm_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/die.h"
#include "core/sha256.h"
#include "core/xalloc.h"
#include "io/runfile.h"

// ---- config text ----

// One table drives both directions: the key and the int field it names.
typedef struct {
    char key[32];
    int *field;
} CfgKey;

static int config_keys(MllmConfig *c, CfgKey *k) {
    int n = 0;
#define K(name, f) snprintf(k[n].key, sizeof k[n].key, "%s", name), k[n++].field = &(f)
    K("n_enc", c->n_enc);
    for (int e = 0; e < MLLM_MAX_ENC; e++) {
        MllmEncConfig *ec = &c->enc[e];
        char p[32];
#define KE(name, f) snprintf(p, sizeof p, "enc%d.%s", e, name), K(p, f)
        KE("C", ec->vit.C);
        KE("H", ec->vit.H);
        KE("W", ec->vit.W);
        KE("Ph", ec->vit.Ph);
        KE("Pw", ec->vit.Pw);
        KE("D", ec->vit.D);
        KE("L", ec->vit.L);
        KE("heads", ec->vit.heads);
        KE("sh", ec->sh);
        KE("sw", ec->sw);
        KE("Dp", ec->Dp);
#undef KE
    }
    K("lm.V", c->lm.V);
    K("lm.D", c->lm.D);
    K("lm.L", c->lm.L);
    K("lm.H", c->lm.H);
    K("lm.F", c->lm.F);
    K("lm.Tmax", c->lm.Tmax);
    K("lm.tied", c->lm.tied);
#undef K
    return n;
}

int mllm_config_text(const MllmConfig *c, char *buf, size_t cap) {
    MllmConfig copy = *c;
    CfgKey k[64];
    int n = config_keys(&copy, k);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (!strncmp(k[i].key, "enc", 3) && k[i].key[3] - '0' >= c->n_enc) continue;
        int w = snprintf(buf + used, cap - used, "%s=%d\n", k[i].key, *k[i].field);
        if (w < 0 || (size_t)w >= cap - used) return -1;
        used += (size_t)w;
    }
    for (int e = 0; e < c->n_enc; e++) {
        int w = snprintf(buf + used, cap - used, "enc%d.name=%s\n", e, c->enc[e].name);
        if (w < 0 || (size_t)w >= cap - used) return -1;
        used += (size_t)w;
    }
    int w = snprintf(buf + used, cap - used, "lm.theta=%.17g\n", c->lm.theta);
    return w < 0 || (size_t)w >= cap - used ? -1 : 0;
}

int mllm_config_parse(MllmConfig *c, const char *text, char *err, size_t cap) {
    CfgKey k[64];
    int n = config_keys(c, k);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char kv[128];
        if (len >= sizeof kv) {
            snprintf(err, cap, "config line of %zu bytes", len);
            return -1;
        }
        memcpy(kv, line, len), kv[len] = 0;
        line += len + (end != NULL);
        if (!len) continue;
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, cap, "config line '%s' has no '='", kv);
            return -1;
        }
        *eq = 0;
        const char *val = eq + 1;
        int e;
        char tail;
        if (sscanf(kv, "enc%d.nam%c", &e, &tail) == 2 && strstr(kv, ".name")) {
            if (e < 0 || e >= MLLM_MAX_ENC || strlen(val) >= MLLM_NAME_MAX) {
                snprintf(err, cap, "config key %s=%s out of range", kv, val);
                return -1;
            }
            snprintf(c->enc[e].name, MLLM_NAME_MAX, "%s", val);
            continue;
        }
        if (!strcmp(kv, "lm.theta")) {
            c->lm.theta = strtod(val, NULL);
            continue;
        }
        int i = 0;
        while (i < n && strcmp(k[i].key, kv))
            i++;
        char *stop;
        long v = strtol(val, &stop, 10);
        if (i == n || *stop || stop == val || v < 0 || v > 1 << 24) {
            snprintf(err, cap,
                     i == n ? "unknown config key '%s'" : "config key %s=%s is not a size", kv,
                     val);
            return -1;
        }
        *k[i].field = (int)v;
    }
    return 0;
}

// ---- writing ----

hid_t mllm_file_create(const char *path, const MllmConfig *c) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0, "%s: cannot create the base-model file", path);
    char text[4096];
    CHECK(mllm_config_text(c, text, sizeof text) == 0, "mllm config text too long");
    h5_attr_str(f, "format", MLLM_FILE_FORMAT);
    h5_attr_str(f, "config", text);
    return f;
}

static void write_dataset(hid_t loc, const char *name, hid_t type, int ndim, const hsize_t *dims,
                          const void *data) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(lcpl);
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t sp = H5Screate_simple(ndim, dims, NULL);
    H5_CHECK(sp);
    hid_t d = H5Dcreate2(loc, name, type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(d);
    H5_CHECK(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d), H5Sclose(sp), H5Pclose(lcpl);
}

void mllm_file_write_tokenizer(hid_t f, const Bpe *b) {
    size_t n = bpe_save(b, NULL, 0);
    uint8_t *buf = xmalloc(n);
    bpe_save(b, buf, n);
    hsize_t dims[1] = {n};
    write_dataset(f, "tokenizer", H5T_NATIVE_UINT8, 1, dims, buf);
    xfree(buf);
}

static int is_lora(const char *name) { return strstr(name, "/lora_") != NULL; }

// 1 when name starts with one of the comma-separated prefixes ("" = every tensor but LoRA's).
static int selected(const char *name, const char *prefixes) {
    if (!prefixes[0]) return !is_lora(name);
    for (const char *p = prefixes; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len && !strncmp(name, p, len)) return 1;
        p += len + (comma != NULL);
    }
    return 0;
}

void mllm_file_write_stage(hid_t f, const char *stage, const Model *model, const float *params,
                           const char *prefixes) {
    for (int t = 0; t < model->n_tensors; t++) {
        const ModelTensor *mt = &model->tensor[t];
        if (!selected(mt->name, prefixes)) continue;
        char path[256];
        snprintf(path, sizeof path, "weights/%s/%s", stage, mt->name);
        hsize_t dims[4];
        for (int d = 0; d < mt->ndim; d++)
            dims[d] = (hsize_t)mt->shape[d];
        write_dataset(f, path, H5T_NATIVE_FLOAT, mt->ndim, dims, params + mt->off);
    }
}

void mllm_file_write_curve(hid_t f, const char *stage, const char *series, const double *v, int n) {
    char path[256];
    snprintf(path, sizeof path, "curves/%s/%s", stage, series);
    hsize_t dims[1] = {(hsize_t)n};
    write_dataset(f, path, H5T_NATIVE_DOUBLE, 1, dims, n ? v : (const double[1]){0});
}

// ---- reading ----

// Opens path read-only after checking it is a regular file; HDF5's own error stack silenced.
static hid_t open_file(const char *path, char *err, size_t cap) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, cap, "%s: no such base-model file (build it with make base-model)", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) snprintf(err, cap, "%s: cannot be opened as an HDF5 file", path);
    return f;
}

// The root's string attribute name into a malloc'd string, or NULL.
static char *read_attr_str(hid_t f, const char *name) {
    if (H5Aexists(f, name) <= 0) return NULL;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
    char *out = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &s) >= 0 && s) out = xstrdup(s);
            if (s) H5free_memory(s);
            H5Tclose(mt);
        } else { // fixed size (io/runfile.h h5_attr_str), bounded before allocating
            size_t size = H5Tget_size(t);
            if (size > 0 && size < (1u << 20)) {
                out = xcalloc(size + 1, 1);
                if (H5Aread(a, t, out) < 0) xfree(out), out = NULL;
            }
        }
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return out;
}

#define SILENT(stmt)                                                                               \
    do {                                                                                           \
        H5E_auto2_t fn_;                                                                           \
        void *data_;                                                                               \
        H5Eget_auto2(H5E_DEFAULT, &fn_, &data_);                                                   \
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);                                                     \
        stmt;                                                                                      \
        H5Eset_auto2(H5E_DEFAULT, fn_, data_);                                                     \
    } while (0)

static int read_config(const char *path, MllmConfig *c, char *err, size_t cap) {
    hid_t f = open_file(path, err, cap);
    if (f < 0) return -1;
    char *fmt = read_attr_str(f, "format"), *text = read_attr_str(f, "config");
    H5Fclose(f);
    int rc = -1;
    char why[256];
    if (!fmt || strcmp(fmt, MLLM_FILE_FORMAT))
        snprintf(err, cap, "%s: format '%s', expected '%s'", path, fmt ? fmt : "(none)",
                 MLLM_FILE_FORMAT);
    else if (!text)
        snprintf(err, cap, "%s: no config attribute", path);
    else if (mllm_config_parse(c, text, why, sizeof why) != 0)
        snprintf(err, cap, "%s: %s", path, why);
    else
        rc = 0;
    xfree(fmt), xfree(text);
    return rc;
}

int mllm_file_read_config(const char *path, MllmConfig *c, char *err, size_t cap) {
    int rc;
    SILENT(rc = read_config(path, c, err, cap));
    return rc;
}

// The /tokenizer bytes of path into *buf (owned by the caller, xfree) and *n: 0, or -1 with err.
static int read_tokenizer_bytes(const char *path, uint8_t **buf, size_t *n_out, char *err,
                                size_t cap) {
    *buf = NULL, *n_out = 0;
    hid_t f = open_file(path, err, cap);
    if (f < 0) return -1;
    int rc = -1;
    hid_t d = H5Dopen2(f, "tokenizer", H5P_DEFAULT);
    if (d < 0) {
        snprintf(err, cap, "%s: no /tokenizer", path);
    } else {
        hid_t sp = H5Dget_space(d);
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        if (n <= 0 || n > (1 << 26)) {
            snprintf(err, cap, "%s: /tokenizer has %lld bytes", path, (long long)n);
        } else {
            *buf = xmalloc((size_t)n);
            if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) < 0) {
                snprintf(err, cap, "%s: /tokenizer unreadable", path);
                xfree(*buf), *buf = NULL;
            } else {
                *n_out = (size_t)n, rc = 0;
            }
        }
        H5Sclose(sp), H5Dclose(d);
    }
    H5Fclose(f);
    return rc;
}

static int read_tokenizer(const char *path, Bpe *b, char *err, size_t cap) {
    uint8_t *buf;
    size_t n;
    if (read_tokenizer_bytes(path, &buf, &n, err, cap) != 0) return -1;
    char why[256];
    int rc = 0;
    if (bpe_load(b, buf, n, why, sizeof why) != 0) {
        snprintf(err, cap, "%s: /tokenizer: %s", path, why);
        rc = -1;
    }
    xfree(buf);
    return rc;
}

int mllm_file_read_tokenizer(const char *path, Bpe *b, char *err, size_t cap) {
    int rc;
    SILENT(rc = read_tokenizer(path, b, err, cap));
    return rc;
}

static int read_stage(const char *path, const char *stage, const Model *model, float *params,
                      int require_all, char *err, size_t cap) {
    hid_t f = open_file(path, err, cap);
    if (f < 0) return -1;
    int rc = 0, found = 0;
    for (int t = 0; t < model->n_tensors && rc == 0; t++) {
        const ModelTensor *mt = &model->tensor[t];
        if (is_lora(mt->name)) continue; // a model's adapters are its own (rank from its options)
        char name[256];
        snprintf(name, sizeof name, "weights/%s/%s", stage, mt->name);
        if (H5Lexists(f, "weights", H5P_DEFAULT) <= 0 ||
            H5Lexists(f, name, H5P_DEFAULT) <= 0) { // intermediate groups checked one by one
            int exists = 1;
            char part[256];
            for (char *s = strchr(name, '/'); s && exists; s = strchr(s + 1, '/')) {
                snprintf(part, sizeof part, "%.*s", (int)(s - name), name);
                exists = H5Lexists(f, part, H5P_DEFAULT) > 0;
            }
            if (!exists || H5Lexists(f, name, H5P_DEFAULT) <= 0) {
                if (require_all && !is_lora(mt->name)) {
                    snprintf(err, cap, "%s: stage '%s' has no tensor %s", path, stage, mt->name);
                    rc = -1;
                }
                continue;
            }
        }
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t dims[4] = {0};
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        int same = nd == mt->ndim;
        if (same) H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int k = 0; same && k < nd; k++)
            same = dims[k] == (hsize_t)mt->shape[k];
        if (!same) {
            snprintf(err, cap,
                     "%s: tensor %s of stage '%s' has another shape than this model's (a base "
                     "model of another config?)",
                     path, mt->name, stage);
            rc = -1;
        } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, params + mt->off) <
                   0) {
            snprintf(err, cap, "%s: tensor %s of stage '%s' unreadable", path, mt->name, stage);
            rc = -1;
        } else {
            found++;
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    if (rc == 0 && !found) {
        snprintf(err, cap, "%s: no tensor of stage '%s'", path, stage);
        rc = -1;
    }
    H5Fclose(f);
    return rc;
}

int mllm_file_read_stage(const char *path, const char *stage, const Model *model, float *params,
                         int require_all, char *err, size_t cap) {
    int rc;
    SILENT(rc = read_stage(path, stage, model, params, require_all, err, cap));
    return rc;
}

double mllm_file_attr_f64(const char *path, const char *name) {
    double v = NAN;
    char err[256];
    SILENT({
        hid_t f = open_file(path, err, sizeof err);
        if (f >= 0) {
            if (H5Aexists(f, name) > 0) {
                hid_t a = H5Aopen(f, name, H5P_DEFAULT);
                if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) v = NAN;
                if (a >= 0) H5Aclose(a);
            }
            H5Fclose(f);
        }
    });
    return v;
}

static int attr_str(const char *path, const char *name, char *out, size_t cap) {
    char err[256];
    hid_t f = open_file(path, err, sizeof err);
    if (f < 0) return -1;
    char *v = read_attr_str(f, name);
    H5Fclose(f);
    int rc = v && strlen(v) < cap ? 0 : -1;
    if (rc == 0) memcpy(out, v, strlen(v) + 1);
    xfree(v);
    return rc;
}

int mllm_file_attr_str(const char *path, const char *name, char *out, size_t cap) {
    int rc;
    if (cap) out[0] = 0;
    SILENT(rc = attr_str(path, name, out, cap));
    return rc;
}

// The first difference of the encoders' configs (a and b) into why, or 0 when they are equal.
static int encoders_differ(const MllmConfig *a, const MllmConfig *b, char *why, size_t cap) {
    if (a->n_enc != b->n_enc) {
        snprintf(why, cap, "n_enc %d vs %d", a->n_enc, b->n_enc);
        return 1;
    }
    for (int e = 0; e < a->n_enc; e++) {
        const MllmEncConfig *x = &a->enc[e], *y = &b->enc[e];
        const int xv[] = {x->vit.C, x->vit.H, x->vit.W,     x->vit.Ph, x->vit.Pw,
                          x->vit.D, x->vit.L, x->vit.heads, x->sh,     x->sw};
        const int yv[] = {y->vit.C, y->vit.H, y->vit.W,     y->vit.Ph, y->vit.Pw,
                          y->vit.D, y->vit.L, y->vit.heads, y->sh,     y->sw};
        static const char *const key[] = {"C", "H", "W", "Ph", "Pw", "D", "L", "heads", "sh", "sw"};
        if (strcmp(x->name, y->name)) {
            snprintf(why, cap, "enc%d.name '%s' vs '%s'", e, x->name, y->name);
            return 1;
        }
        for (size_t k = 0; k < sizeof key / sizeof key[0]; k++)
            if (xv[k] != yv[k]) {
                snprintf(why, cap, "enc%d.%s %d vs %d", e, key[k], xv[k], yv[k]);
                return 1;
            }
    }
    return 0;
}

static int check_teacher(const char *teacher, const char *student, char *err, size_t cap) {
    MllmConfig tc, sc;
    memset(&tc, 0, sizeof tc), memset(&sc, 0, sizeof sc);
    char why[512];
    if (read_config(teacher, &tc, why, sizeof why) != 0) {
        snprintf(err, cap, "teacher %s (for student %s): %s", teacher, student, why);
        return -1;
    }
    if (read_config(student, &sc, why, sizeof why) != 0) {
        snprintf(err, cap, "student %s (for teacher %s): %s", student, teacher, why);
        return -1;
    }
    char role[64], want[SHA256_HEX_LEN + 1], have[SHA256_HEX_LEN + 1];
    if (mllm_file_attr_str(teacher, "role", role, sizeof role) != 0 || strcmp(role, "teacher")) {
        snprintf(err, cap, "%s is not a teacher file (role '%s', expected 'teacher'); student %s",
                 teacher, role, student);
        return -1;
    }
    if (mllm_file_attr_str(teacher, "student_sha256", want, sizeof want) != 0) {
        snprintf(err, cap, "teacher %s records no student_sha256 (student %s)", teacher, student);
        return -1;
    }
    if (sha256_file_hex(student, have) != 0) {
        snprintf(err, cap, "student %s (for teacher %s): cannot be read to hash it", student,
                 teacher);
        return -1;
    }
    if (strcmp(want, have)) {
        snprintf(err, cap,
                 "teacher %s was built from another student: its student_sha256 is %s, student %s "
                 "has SHA-256 %s",
                 teacher, want, student, have);
        return -1;
    }
    if (encoders_differ(&tc, &sc, why, sizeof why)) {
        snprintf(err, cap, "the encoder config of teacher %s differs from student %s's: %s",
                 teacher, student, why);
        return -1;
    }
    uint8_t *tb, *sb;
    size_t tn, sn;
    if (read_tokenizer_bytes(teacher, &tb, &tn, why, sizeof why) != 0) {
        snprintf(err, cap, "teacher %s (for student %s): %s", teacher, student, why);
        return -1;
    }
    if (read_tokenizer_bytes(student, &sb, &sn, why, sizeof why) != 0) {
        xfree(tb);
        snprintf(err, cap, "student %s (for teacher %s): %s", student, teacher, why);
        return -1;
    }
    int same = tn == sn && !memcmp(tb, sb, tn) && tc.lm.V == sc.lm.V;
    xfree(tb), xfree(sb);
    if (!same) {
        snprintf(err, cap,
                 "the tokenizer of teacher %s differs from student %s's (%zu vs %zu bytes, "
                 "lm.V %d vs %d)",
                 teacher, student, tn, sn, tc.lm.V, sc.lm.V);
        return -1;
    }
    return 0;
}

int mllm_file_check_teacher(const char *teacher, const char *student, char *err, size_t cap) {
    int rc;
    SILENT(rc = check_teacher(teacher, student, err, cap));
    return rc;
}
