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
#pragma once
#include <stdint.h>

#include "data/dataset.h"

typedef enum { HOLDOUT_TRAIN = 0, HOLDOUT_VALIDATION = 1, HOLDOUT_TEST = 2 } HoldoutRole;

// "train", "validation", "test".
const char *holdout_role_name(HoldoutRole role);
// The file split a role's rows index: DS_TRAIN for train and validation, DS_TEST for test.
DsSplit holdout_split(HoldoutRole role);
// 1 when the entity belongs to validation at val_fraction (in [0, 1)). Local, pure.
int holdout_is_validation(int64_t entity, double val_fraction);
// The ascending row indices (into holdout_split(role)) of role at val_fraction, the first cap of
// them (cap <= 0: all), into *rows (malloc'd, the caller frees; non-NULL even when empty).
// Returns their count. CHECKs val_fraction in [0, 1). Local.
int64_t holdout_rows(const Dataset *ds, HoldoutRole role, double val_fraction, int64_t cap,
                     int64_t **rows);
