// landsat.c - Landsat Satellite from r-cran-mlbench to the dataset format (landsat.h). R only
// exports the data frame to CSV; parsing and writing are here, so the file depends on the data
// only.
#include "data/landsat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "data/dsfile.h"

const char *const LANDSAT_CLASS_NAMES[LANDSAT_CLASSES] = {
    "red soil",       "cotton crop",        "grey soil",
    "damp grey soil", "vegetation stubble", "very damp grey soil",
};

int landsat_export_csv(const char *csv_path, char *version, int cap) {
    CHECK_PTR(csv_path);
    CHECK_PTR(version);
    CHECK(cap > 1, "cap=%d", cap);
    CHECK(strchr(csv_path, '\'') == NULL && strchr(csv_path, '"') == NULL,
          "path %s must not contain quotes", csv_path);
    char cmd[1024], ver_path[600];
    snprintf(ver_path, sizeof ver_path, "%s.version", csv_path);
    int len = snprintf(cmd, sizeof cmd,
                       "Rscript --vanilla -e 'suppressMessages(library(mlbench)); data(Satellite); "
                       "write.csv(Satellite, \"%s\", row.names=FALSE); "
                       "cat(as.character(packageVersion(\"mlbench\")), file=\"%s\")' >/dev/null",
                       csv_path, ver_path);
    CHECK(len > 0 && len < (int)sizeof cmd, "path %s too long", csv_path);
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(ver_path, "r");
    if (!f) return -1;
    if (!fgets(version, cap, f)) version[0] = '\0';
    fclose(f);
    remove(ver_path);
    version[strcspn(version, "\r\n")] = '\0';
    return 0;
}

void landsat_read_csv(LandsatData *d, const char *csv_path) {
    CHECK_PTR(d);
    CHECK_PTR(csv_path);
    memset(d, 0, sizeof *d);
    FILE *f = fopen(csv_path, "r");
    CHECK(f != NULL, "cannot open %s", csv_path);
    d->visible = xmalloc((size_t)LANDSAT_N * LANDSAT_PIXELS * 2);
    d->nir = xmalloc((size_t)LANDSAT_N * LANDSAT_PIXELS * 2);
    d->label = xmalloc((size_t)LANDSAT_N * sizeof *d->label);
    char line[1024];
    CHECK(fgets(line, sizeof line, f) && !strncmp(line, "\"x.1\"", 5),
          "%s: line 1 is not the header \"x.1\",...", csv_path);
    int64_t n = 0;
    while (fgets(line, sizeof line, f)) {
        CHECK(n < LANDSAT_N, "%s: more than %d rows", csv_path, LANDSAT_N);
        char *p = line;
        for (int j = 0; j < LANDSAT_PIXELS * LANDSAT_BANDS; j++) {
            char *end;
            long v = strtol(p, &end, 10);
            CHECK(end != p && *end == ',' && v >= 0 && v <= 255,
                  "%s:%lld: column %d is not an integer in [0,255] followed by ','", csv_path,
                  (long long)n + 2, j + 1);
            p = end + 1;
            // x.(4*pixel + band): bands 0,1 visible (green, red), 2,3 near-infrared
            int px = j / LANDSAT_BANDS, band = j % LANDSAT_BANDS;
            uint8_t *dst = band < 2 ? d->visible : d->nir;
            dst[(n * LANDSAT_PIXELS + px) * 2 + band % 2] = (uint8_t)v;
        }
        p[strcspn(p, "\r\n")] = '\0';
        size_t l = strlen(p);
        CHECK(l >= 2 && p[0] == '"' && p[l - 1] == '"', "%s:%lld: class %s not quoted", csv_path,
              (long long)n + 2, p);
        p[l - 1] = '\0';
        int c = -1;
        for (int k = 0; k < LANDSAT_CLASSES; k++)
            if (!strcmp(p + 1, LANDSAT_CLASS_NAMES[k])) c = k;
        CHECK(c >= 0, "%s:%lld: unknown class \"%s\"", csv_path, (long long)n + 2, p + 1);
        d->label[n++] = c;
    }
    fclose(f);
    CHECK(n == LANDSAT_N, "%s: %lld rows, expected %d", csv_path, (long long)n, LANDSAT_N);
    d->n = n;
}

void landsat_free(LandsatData *d) {
    if (!d) return;
    free(d->visible);
    free(d->nir);
    free(d->label);
    memset(d, 0, sizeof *d);
}

int64_t landsat_write(const LandsatData *d, const char *path) {
    CHECK_PTR(d);
    CHECK_PTR(path);
    CHECK(d->n == LANDSAT_N, "n=%lld, expected %d", (long long)d->n, LANDSAT_N);
    char version[96];
    snprintf(version, sizeof version, "mlbench %s", d->version[0] ? d->version : "unknown");
    DsSpec spec = {.name = "landsat",
                   .version = version,
                   .source =
                       "Debian r-cran-mlbench data(Satellite) (UCI Statlog Landsat Satellite)",
                   .licence = "GPL-2 (mlbench packaging of the UCI data)",
                   .builder = "build_landsat",
                   .seed = 0,
                   .n_classes = LANDSAT_CLASSES,
                   .class_names = LANDSAT_CLASS_NAMES,
                   .n_modalities = 2,
                   .n = {LANDSAT_N_TRAIN, LANDSAT_N - LANDSAT_N_TRAIN}};
    spec.modalities[0] = (DsModality){"visible", "vector", DS_U8, 2, {LANDSAT_PIXELS, 2}, 0, 0};
    spec.modalities[1] = (DsModality){"nir", "vector", DS_U8, 2, {LANDSAT_PIXELS, 2}, 0, 0};
    int64_t *entity = xmalloc((size_t)d->n * sizeof *entity);
    for (int64_t i = 0; i < d->n; i++)
        entity[i] = i;
    DsWriter *w = dsfile_create(path, &spec);
    for (int split = 0; split < 2; split++) {
        int64_t from = split ? LANDSAT_N_TRAIN : 0, row = LANDSAT_PIXELS * 2;
        DsRows r = {.n = spec.n[split],
                    .label = d->label + from,
                    .entity = entity + from,
                    .data = {d->visible + from * row, d->nir + from * row}};
        dsfile_append(w, split ? DS_TEST : DS_TRAIN, &r);
    }
    dsfile_close(w);
    free(entity);
    struct stat st;
    CHECK(stat(path, &st) == 0, "%s missing after close", path);
    return (int64_t)st.st_size;
}
