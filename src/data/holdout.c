// holdout.c - the validation carve-out of the train split (holdout.h).
#include "data/holdout.h"

#include <math.h>

#include "core/die.h"
#include "core/rng.h"
#include "core/xalloc.h"

// The hash's key: fixed, so every run of a file carves the same rows ("valid" in ASCII).
static const uint32_t CARVE_KEY[2] = {0x696c6176u, 0x64u};
static const uint32_t PUBLIC_KEY[2] = {0x6c627570u, 0x6369u}; // "public"

// A uniform double in [0, 1) from the entity id under key.
static double entity_uniform(int64_t entity, const uint32_t key[2]) {
    uint64_t e = (uint64_t)entity;
    uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), 0, RNG_PARTITION}, out[4];
    philox4x32_10(out, ctr, key);
    return ldexp((double)(((uint64_t)out[0] << 21) ^ (out[1] >> 11)), -53);
}

const char *holdout_role_name(HoldoutRole role) {
    static const char *const names[] = {"train", "validation", "test", "public"};
    return names[role];
}

DsSplit holdout_split(HoldoutRole role) { return role == HOLDOUT_TEST ? DS_TEST : DS_TRAIN; }

int holdout_is_validation(int64_t entity, double val_fraction) {
    return entity_uniform(entity, CARVE_KEY) < val_fraction;
}

HoldoutRole holdout_train_role(int64_t entity, HoldoutFractions f) {
    if (holdout_is_validation(entity, f.val)) return HOLDOUT_VALIDATION;
    return entity_uniform(entity, PUBLIC_KEY) < f.public ? HOLDOUT_PUBLIC : HOLDOUT_TRAIN;
}

int64_t holdout_rows(const Dataset *ds, HoldoutRole role, HoldoutFractions f, int64_t cap,
                     int64_t **rows) {
    CHECK(f.val >= 0 && f.val < 1, "validation fraction %g outside [0, 1)", f.val);
    CHECK(f.public >= 0 && f.public < 1, "public fraction %g outside [0, 1)", f.public);
    DsSplit split = holdout_split(role);
    int64_t n = dataset_n(ds, split), kept = 0;
    int64_t *idx = xmalloc((size_t)n * sizeof *idx + 1);
    if (role == HOLDOUT_TEST) {
        for (int64_t i = 0; i < n; i++)
            idx[kept++] = i;
    } else {
        int64_t *entity = xmalloc((size_t)n * sizeof *entity + 1);
        dataset_read_entities(ds, split, 0, n, entity);
        for (int64_t i = 0; i < n; i++)
            if (holdout_train_role(entity[i], f) == role) idx[kept++] = i;
        xfree(entity);
    }
    if (cap > 0 && cap < kept) kept = cap;
    *rows = idx;
    return kept;
}
