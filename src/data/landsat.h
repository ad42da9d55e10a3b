// landsat.h - the Statlog Landsat Satellite dataset as two real sensor views (datasets/README.md).
//
// Source: Debian's r-cran-mlbench, data(Satellite): 6,435 3x3 pixel neighbourhoods of a Landsat MSS
// scene, 4 spectral bands per pixel (x.1..x.36, pixel-major: 4 bands of the top-left pixel first),
// class of the centre pixel. Bands 1-2 are visible (green, red), bands 3-4 near-infrared; the two
// modalities are "visible" uint8 (N, 9, 2) and "nir" uint8 (N, 9, 2), pixels in reading order.
// Both views are the same pixels (true instance pairing); entity = row number in mlbench (0-based).
// Split: the original UCI one, rows 0..4434 train (sat.trn), 4435..6434 test (sat.tst). No
// randomness: the file depends only on the package's data.
#pragma once

#include <stdint.h>

#define LANDSAT_N 6435
#define LANDSAT_N_TRAIN 4435
#define LANDSAT_CLASSES 6
#define LANDSAT_PIXELS 9
#define LANDSAT_BANDS 4

// Class names in label order (mlbench's factor levels).
extern const char *const LANDSAT_CLASS_NAMES[LANDSAT_CLASSES];

typedef struct LandsatData {
    int64_t n;
    uint8_t *visible; // (n, 9, 2) owned: bands 1-2 (green, red) per pixel
    uint8_t *nir;     // (n, 9, 2) owned: bands 3-4 (near-infrared) per pixel
    int32_t *label;   // (n) owned, in [0, LANDSAT_CLASSES)
    char version[64]; // mlbench package version as R reports it
} LandsatData;

// Runs Rscript to export data(Satellite) to csv_path (header, 36 integer columns, quoted class
// name) and writes the mlbench version to version (cap bytes). Returns 0, or -1 when Rscript or
// mlbench is missing (tier 3: the caller prints the apt-get hint). Local.
int landsat_export_csv(const char *csv_path, char *version, int cap);

// Reads that CSV into d (written; landsat_free). CHECKs: LANDSAT_N rows of 36 values in [0,255] and
// a known class name, naming the file and line. Local.
void landsat_read_csv(LandsatData *d, const char *csv_path);
void landsat_free(LandsatData *d);

// Writes d to path through dsfile.h (train = first LANDSAT_N_TRAIN rows). Returns bytes written.
// Local.
int64_t landsat_write(const LandsatData *d, const char *path);
