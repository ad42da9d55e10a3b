// build_landsat.c - builds the Landsat Satellite dataset file (landsat.h, datasets/README.md).
//   build/bin/build_landsat [--out=data/landsat.h5] [--csv=FILE]
// Without --csv, exports data(Satellite) from r-cran-mlbench with Rscript into a temporary CSV.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/timer.h"
#include "data/landsat.h"

int main(int argc, char **argv) {
    const char *out = "data/landsat.h5", *csv = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--out=", 6))
            out = argv[i] + 6;
        else if (!strncmp(argv[i], "--csv=", 6))
            csv = argv[i] + 6;
        else {
            fprintf(stderr, "usage: %s [--out=data/landsat.h5] [--csv=FILE]\n", argv[0]);
            return 2;
        }
    }
    double t0 = timer_now_ms();
    char dir[64] = "", tmp_csv[96], version[64] = "";
    if (!csv) {
        snprintf(dir, sizeof dir, "/tmp/landsat.XXXXXX");
        CHECK(mkdtemp(dir) != NULL, "build_landsat: mkdtemp %s failed", dir);
        snprintf(tmp_csv, sizeof tmp_csv, "%s/satellite.csv", dir);
        if (landsat_export_csv(tmp_csv, version, sizeof version) != 0) {
            fprintf(stderr, "build_landsat: Rscript could not export data(Satellite); "
                            "apt-get install r-base-core r-cran-mlbench (scripts/deps.sh data)\n");
            rmdir(dir);
            return 1;
        }
        csv = tmp_csv;
    }
    LandsatData d;
    landsat_read_csv(&d, csv);
    snprintf(d.version, sizeof d.version, "%s", version);
    if (dir[0]) {
        remove(tmp_csv);
        rmdir(dir);
    }
    int64_t bytes = landsat_write(&d, out);
    printf("landsat: %lld train + %lld test, 2 modalities (visible, nir: 9 pixels x 2 bands), "
           "%d classes -> %s, %.1f KB in %.2f s (mlbench %s)\n",
           (long long)LANDSAT_N_TRAIN, (long long)(LANDSAT_N - LANDSAT_N_TRAIN), LANDSAT_CLASSES,
           out, (double)bytes / 1024.0, (timer_now_ms() - t0) / 1000.0,
           version[0] ? version : "(from --csv)");
    landsat_free(&d);
    return 0;
}
