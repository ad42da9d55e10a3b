// holdout.h - which rows of a dataset file a run trains on, validates on and tests on.
//
// Files have a train and a test split (dsfile.h). The validation rows are carved out of the train
// split first (later carve-outs take from what remains): whole entities, chosen by a keyed hash of
// the entity id against the fraction, so the carve depends only on the file and the fraction (not
// on the run's seeds, the row order or the parties), and no entity is in both training and
// validation. A row's role:
//
//   HOLDOUT_TRAIN       train split, entity not carved           (--max-train caps: the first N)
//   HOLDOUT_VALIDATION  train split, entity carved for validation (--max-test caps: the first N)
//   HOLDOUT_TEST        test split                               (--max-test caps: the first N)
//   HOLDOUT_PUBLIC      train split, not validation, entity carved as public data that no party
//                       holds (a pre-trained base model learns from it: make base-model)
//
// The public carve uses its own keyed hash, so it takes public_fraction of the entities that are
// not validation; with public_fraction 0 (the default) there is none and the roles are as before.
#pragma once
#include <stdint.h>

#include "data/dataset.h"

typedef enum {
    HOLDOUT_TRAIN = 0,
    HOLDOUT_VALIDATION = 1,
    HOLDOUT_TEST = 2,
    HOLDOUT_PUBLIC = 3
} HoldoutRole;

// The carve-outs' sizes: shares of the train split's entities, each in [0, 1).
typedef struct {
    double val;    // validation (--val-fraction)
    double public; // public, of the entities that are not validation (--public-fraction)
} HoldoutFractions;

// "train", "validation", "test", "public".
const char *holdout_role_name(HoldoutRole role);
// The file split a role's rows index: DS_TRAIN for train and validation, DS_TEST for test.
DsSplit holdout_split(HoldoutRole role);
// 1 when the entity belongs to validation at val_fraction (in [0, 1)). Local, pure.
int holdout_is_validation(int64_t entity, double val_fraction);
// The role of a train-split row of that entity. Local, pure.
HoldoutRole holdout_train_role(int64_t entity, HoldoutFractions f);
// The ascending row indices (into holdout_split(role)) of role at fractions f, the first cap of
// them (cap <= 0: all), into *rows (malloc'd, the caller frees; non-NULL even when empty).
// Returns their count. CHECKs both fractions in [0, 1). Local.
int64_t holdout_rows(const Dataset *ds, HoldoutRole role, HoldoutFractions f, int64_t cap,
                     int64_t **rows);
