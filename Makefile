# mmcollab - the one build entry (docs/conventions.md §14).
#
#   make deps       install the Debian packages the build needs (apt-get; idempotent, ~0.1 s when present)
#   make / all      build the library and the apps in build/bin/
#   make test       serial Check suites          make test-mpi   MPI suites at -np 2 and -np 3
#   make check      test + test-mpi + test-analysis + test-slurm (SLURM_CHECK=0 skips Slurm)
#   make test-analysis   analysis/*.py on tiny runs (tests/analysis/; installs the analysis packages)
#   make bench      layer training steps vs PyTorch, sgemm
#   make bench-parties   100 / 1,000 / 10,000 / 100,000 parties, 1 cloud + 1 host: s/round, peak RSS per rank
#   make bench-secagg    one secure-aggregation round (10 members, 318,410 parameters) against the plain reduce
#   make bench-reduce    exact int64 aggregation against a float MPI_Reduce/MPI_Allreduce, 1e3-1e7 parameters, -np 2 4 8
#   make bench-svd       the CRAA SVD: LAPACKE on the cloud against ScaLAPACK pdsvd_cols, -np 2 and 4
#   make asan       check under AddressSanitizer/UBSan (build-asan/)
#   make fuzz       libFuzzer over the config, option, dataset and checkpoint readers (clang,
#                   build-fuzz/), FUZZ_S seconds each; corpus and crashes in tests/fuzz/ (docs/fuzzing.md)
#   make debug      -O0 -g3 build (build-debug/)  make clean
#   make lint       cppcheck                      make format / format-check   clang-format
#   make data       build every dataset into data/ (AV-FashionMNIST full and subsets, SynMM, Landsat, Memes)
#   make run        the main job: fedavg, 1 cloud + 4 parties on AV-FashionMNIST -> runs/demo (+ PNG)
#   make bomm-table the BoMM table without Slurm: jobs/bomm/sweep.txt -> runs/bomm/, jobs/bomm/RESULTS.md
#                   (BOMM_J runs at a time, BOMM_NP ranks each, BOMM_MANIFEST, BOMM_RESULTS)
#   make fedmllm-table  the FedMLLM table without Slurm: jobs/fedmllm/sweep.txt -> runs/fedmllm/,
#                   jobs/fedmllm/RESULTS.md (FEDMLLM_J runs at a time, FEDMLLM_NP ranks each)
#   make fedmllm-table-quick  its quick version (1 seed, 4 settings): jobs/fedmllm/quick/RESULTS.md
#   make security-table  attack/defence table, secure aggregation cost, stragglers, DP curve:
#                   jobs/security/sweep.txt -> runs/security/, jobs/security/RESULTS.md
#   make cdcca-table  CD-CCA's table (issue 15): jobs/cdcca/sweep.txt -> runs/cdcca/, jobs/cdcca/RESULTS.md
#                   (CDCCA_J runs at a time, 3 ranks each; CDCCA_MANIFEST, CDCCA_RESULTS)
#   make fedcmp-table Fed-CMP's table (issue 16): jobs/fedcmp/sweep.txt -> runs/fedcmp/, jobs/fedcmp/RESULTS.md
#                   (FEDCMP_J runs at a time, 3 ranks each; FEDCMP_MANIFEST, FEDCMP_RESULTS)
#   make tuning     the validation sweeps behind the defaults: jobs/sweeps/{bomm_validation,fedprox_mu,fedmllm_lr}.md
#   make calibrate  per-dataset validation accuracy of each modality alone and fused
#   make slurm-up / slurm-down   start / stop the one-machine Slurm (slurm/local/; installs slurm-wlm)
#   make test-slurm              end-to-end jobs under that Slurm (tests/slurm/test_smoke.sh, test_pipeline_slurm.sh)
#   make scaling    the scaling study on that Slurm with 4 emulated nodes (3-5 min): fedavg, bomm, fedmllm on
#                   1, 2, 4 nodes, strong and weak; TCP ping-pong; the fitted model projected to 1,024 nodes
#                   -> runs/scaling/, jobs/scaling/RESULTS.md + PNGs, docs/scaling_projection.png (docs/scaling.md)
#
# Overrides: CC, OPTFLAGS, BUILD, MPIRUN, NP_LIST, and per library <LIB>_CFLAGS / <LIB>_LIBS
# (MPI is through the mpicc wrapper; HDF5, OPENBLAS, LAPACKE, SCALAPACK, CHECK); NO_SCALAPACK=1.

.DEFAULT_GOAL := all
SHELL := /bin/bash
PUBLIC_GOALS := all test test-mpi test-analysis check bench bench-parties bench-secagg bench-reduce bench-svd asan debug lint format \
                format-check data run calibrate bomm-table fedmllm-table fedmllm-table-quick security-table cdcca-table fedcmp-table \
                tuning base-model base-model-teacher fuzz

# The outer make installs dependencies first, then re-enters with the libraries detectable:
# pkg-config cannot find what is not installed yet, and detection happens when make parses.
ifndef MMC_INNER

$(PUBLIC_GOALS): deps
	@$(MAKE) --no-print-directory MMC_INNER=1 $@

deps:
	@scripts/deps.sh build data

bench: bench-deps
bench-deps:
	@scripts/deps.sh bench

fuzz: fuzz-deps
fuzz-deps:
	@scripts/deps.sh fuzz

# analysis/ (and make run's curves) runs on Debian's python3-h5py and python3-matplotlib.
test test-analysis check asan run bomm-table fedmllm-table fedmllm-table-quick security-table cdcca-table fedcmp-table tuning: \
    analysis-deps
analysis-deps: deps
	@scripts/deps.sh analysis

clean:
	rm -rf build build-asan build-debug build-fuzz

# The one-machine Slurm (munge, slurmctld, slurmd on 127.0.0.1); slurm/README.md.
slurm-up:
	@slurm/local/start.sh
slurm-down:
	@slurm/local/stop.sh
test-slurm: deps
	@scripts/deps.sh slurm
	@$(MAKE) --no-print-directory MMC_INNER=1 $@
scaling: analysis-deps
	@scripts/deps.sh slurm
	@$(MAKE) --no-print-directory MMC_INNER=1 $@

.PHONY: $(PUBLIC_GOALS) deps bench-deps fuzz-deps analysis-deps clean slurm-up slurm-down test-slurm scaling

else # ------------------------------------------------------------------------------ inner make

ifeq ($(origin CC),default)
CC := mpicc
endif
BUILD ?= build
DATA ?= data
# A data file and its digest file (<file>.sha256, written by its builder): make's targets for it.
sealed = $(1) $(1).sha256
OPTFLAGS ?= -O2 -march=native
WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror=implicit-function-declaration
CFLAGS ?= -std=c11 -g $(OPTFLAGS) $(WARNFLAGS)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Isrc -I$(BUILD)/gen -MMD -MP
SAN_FLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer,)
MPIRUN ?= mpirun --oversubscribe
NP_LIST ?= 2 3
TEST_TIMEOUT ?= 600
# V=1 shows full command lines.
Q := $(if $(V),,@)

# ---- detection checklist ----
pc_has = $(shell pkg-config --exists $(1) && echo yes)
MPI_VERSION := $(shell $(CC) --showme:version 2>/dev/null | sed -n 's/.*Open MPI \([0-9.]*\).*/\1/p')
ifeq ($(MPI_VERSION),)
$(error ✗ MPI C wrapper '$(CC)' not found: apt-get install openmpi-bin libopenmpi-dev (or run make deps))
endif
$(info ✓ Open MPI $(MPI_VERSION) ($(CC)))

HDF5_PC := $(firstword $(foreach p,hdf5-openmpi hdf5-mpi,$(if $(call pc_has,$(p)),$(p))))
ifeq ($(HDF5_PC)$(HDF5_LIBS),)
$(error ✗ parallel HDF5 not found: apt-get install libhdf5-openmpi-dev (or set HDF5_CFLAGS/HDF5_LIBS))
endif
HDF5_CFLAGS ?= $(shell pkg-config --cflags $(HDF5_PC))
HDF5_LIBS ?= $(shell pkg-config --libs $(HDF5_PC)) -lhdf5_hl
$(info ✓ HDF5 $(shell pkg-config --modversion $(HDF5_PC)) parallel ($(HDF5_PC)))

ifeq ($(call pc_has,openblas)$(OPENBLAS_LIBS),)
$(error ✗ OpenBLAS not found: apt-get install libopenblas-dev)
endif
OPENBLAS_CFLAGS ?= $(shell pkg-config --cflags openblas)
OPENBLAS_LIBS ?= $(shell pkg-config --libs openblas)
$(info ✓ OpenBLAS $(shell pkg-config --modversion openblas) (pkg-config openblas))

ifeq ($(call pc_has,lapacke)$(LAPACKE_LIBS),)
$(error ✗ LAPACKE not found (Debian's OpenBLAS ships none): apt-get install liblapacke-dev)
endif
LAPACKE_CFLAGS ?= $(shell pkg-config --cflags lapacke)
LAPACKE_LIBS ?= $(shell pkg-config --libs lapacke)
$(info ✓ LAPACKE $(shell pkg-config --modversion lapacke) (pkg-config lapacke))

ifndef NO_SCALAPACK
ifneq ($(call pc_has,scalapack-openmpi)$(SCALAPACK_LIBS),)
SCALAPACK_LIBS ?= $(shell pkg-config --libs scalapack-openmpi)
SCALAPACK_DEF := -DHAVE_SCALAPACK=1
$(info ✓ ScaLAPACK $(shell pkg-config --modversion scalapack-openmpi) (pkg-config scalapack-openmpi))
else
$(info ✗ ScaLAPACK not found → building without pdgesvd (apt-get install libscalapack-openmpi-dev, or set SCALAPACK_LIBS=…))
endif
else
$(info ✗ ScaLAPACK disabled (NO_SCALAPACK=1) → building without pdgesvd)
endif

CHECK_FOUND := $(call pc_has,check)
ifneq ($(CHECK_FOUND)$(CHECK_LIBS),)
CHECK_CFLAGS ?= $(shell pkg-config --cflags check)
CHECK_LIBS ?= $(shell pkg-config --libs check)
$(info ✓ Check $(shell pkg-config --modversion check) (pkg-config check))
else
$(info ✗ Check not found → no test runners (apt-get install check))
endif

# Secure aggregation (--secagg): X25519 key agreement, ChaCha20 mask streams, AEAD for the shares.
ifeq ($(call pc_has,libsodium)$(SODIUM_LIBS),)
$(error ✗ libsodium not found: apt-get install libsodium-dev (or run make deps))
endif
SODIUM_CFLAGS ?= $(shell pkg-config --cflags libsodium)
SODIUM_LIBS ?= $(shell pkg-config --libs libsodium)
$(info ✓ libsodium $(shell pkg-config --modversion libsodium) (pkg-config libsodium))

# Dataset builders: zlib reads the gzip'd IDX files, libespeak-ng speaks the class names.
ifeq ($(call pc_has,zlib)$(ZLIB_LIBS),)
$(error ✗ zlib not found: apt-get install zlib1g-dev (or run scripts/deps.sh data))
endif
ZLIB_LIBS ?= $(shell pkg-config --libs zlib)
$(info ✓ zlib $(shell pkg-config --modversion zlib) (pkg-config zlib))
ifneq ($(call pc_has,espeak-ng)$(ESPEAK_LIBS),)
ESPEAK_CFLAGS ?= $(shell pkg-config --cflags espeak-ng)
ESPEAK_LIBS ?= $(shell pkg-config --libs espeak-ng)
ESPEAK_DEF := -DHAVE_ESPEAK=1
$(info ✓ espeak-ng $(shell pkg-config --modversion espeak-ng) (pkg-config espeak-ng))
else
$(info ✗ espeak-ng not found → no AV-FashionMNIST audio (apt-get install libespeak-ng-dev))
endif

CPPFLAGS += $(HDF5_CFLAGS) $(OPENBLAS_CFLAGS) $(LAPACKE_CFLAGS) $(SCALAPACK_DEF) $(ESPEAK_CFLAGS) \
            $(ESPEAK_DEF) $(SODIUM_CFLAGS)
LDLIBS := $(SCALAPACK_LIBS) $(LAPACKE_LIBS) $(HDF5_LIBS) $(OPENBLAS_LIBS) $(ESPEAK_LIBS) \
          $(ZLIB_LIBS) $(SODIUM_LIBS) -lm

# ---- sources ----
LIB_SRC := $(filter-out src/apps/%,$(wildcard src/*/*.c))
# The method registry: every src/methods/<name>.c but registry.c exports method_<name>.
METHOD_NAMES := $(sort $(filter-out registry,$(patsubst src/methods/%.c,%,$(wildcard src/methods/*.c))))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/methods.o $(BUILD)/gen/version.o
LIB := $(BUILD)/libmmcollab.a
APP_SRC := $(wildcard src/apps/*.c)
APPS := $(APP_SRC:src/apps/%.c=$(BUILD)/bin/%)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/helpers.o $(BUILD)/tests/run_tests.o \
            $(BUILD)/gen/suites.o
MPI_TEST_SRC := $(wildcard tests/mpi/test_*.c)
MPI_TEST_OBJ := $(MPI_TEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/mpi/run_mpi_tests.o \
                $(BUILD)/tests/helpers.o $(BUILD)/gen/mpi_suites.o
PROBE_SRC := $(wildcard tests/probes/*.c)
PROBES := $(PROBE_SRC:tests/probes/%.c=$(BUILD)/bin/%)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCHES := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bin/%)
# Fuzz harnesses tests/fuzz/fuzz_<name>.c; the other files there but replay.c are their helpers.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_HELPER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(FUZZ_SRC) tests/fuzz/replay.c,\
                   $(wildcard tests/fuzz/*.c)))
REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/bin/replay_%)
FUZZERS := $(FUZZ_NAMES:%=$(BUILD)/bin/fuzz_%)

all: $(LIB) $(APPS)

# Flags are saved so that a change of compiler or flags rebuilds everything (the redis idea).
FLAGS_NOW := $(CC)$(if $(OMPI_CC), OMPI_CC=$(OMPI_CC)) $(CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $(LDLIBS)
$(BUILD)/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: CPPFLAGS += $(CHECK_CFLAGS) -Itests
# nn/ kernels are elementwise loops written for the vectoriser; GCC 12's -O2 cost model
# ("very-cheap") refuses any loop that needs a remainder or an alias check, i.e. all of them.
$(BUILD)/src/nn/%.o: CFLAGS += -ftree-vectorize

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@$(if $(Q),echo '  AR      $@')
	$(Q)ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/src/apps/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bin/%: $(BUILD)/tests/probes/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# The PMPI byte counter, preloaded into the ranks by test_mpi_count.c, and the probe it counts
# (tests/pmpi/). Neither links the project library, nor carries SAN_FLAGS: an ASan program refuses
# to start when another library is preloaded ahead of its runtime.
$(BUILD)/lib/libmpicount.so: tests/pmpi/mpi_count.c $(BUILD)/.flags
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -fPIC -shared $< -o $@
# The PMPI send-side capture, preloaded into the ranks by test_audit.c (same build as the counter).
$(BUILD)/lib/libmpiaudit.so: tests/pmpi/mpi_audit.c $(BUILD)/.flags
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -fPIC -shared $< -o $@
# A cblas_sgemm that spoils one element, preloaded by test_blas.c into blas_check (the self-check
# must catch a wrong kernel). Built like the counter above.
$(BUILD)/lib/libbadsgemm.so: tests/preload/bad_sgemm.c $(BUILD)/.flags
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -fPIC -shared $< -ldl -o $@
$(BUILD)/bin/count_probe: tests/pmpi/count_probe.c $(BUILD)/.flags
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) $< $(HDF5_LIBS) -o $@

$(BUILD)/bin/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# Each harness with a plain main (tests/fuzz/replay.c): make test replays the corpus and the fixed
# crashes through them (tests/test_fuzz_replay.c), under ASan too with make asan.
$(REPLAYS): $(BUILD)/bin/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o \
            $(FUZZ_HELPER_OBJ) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@
# With libFuzzer's main: only in make fuzz's build, whose SAN has fuzzer-no-link.
$(FUZZERS): $(BUILD)/bin/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_HELPER_OBJ) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(subst fuzzer-no-link,fuzzer,$(SAN_FLAGS)) $^ $(LDLIBS) -o $@

# ---- generated suite tables: a test file tests/test_X.c defines Suite *X_suite(void) ----
# Written only when the list changes, so adding a test file is the only edit needed.
define gen_suites
	@mkdir -p $(@D)
	@{ echo '// generated by the Makefile from $(1): do not edit'; \
	   echo '#include <check.h>'; \
	   for s in $(2); do echo "Suite *$${s}_suite(void);"; done; \
	   echo 'Suite *(*const $(3)[])(void) = {'; \
	   for s in $(2); do echo "    $${s}_suite,"; done; \
	   echo '    0};'; } > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
endef
$(BUILD)/gen/suites.c: FORCE
	$(call gen_suites,tests/test_*.c,$(patsubst tests/test_%.c,%,$(TEST_SRC)),TEST_SUITES)
$(BUILD)/gen/mpi_suites.c: FORCE
	$(call gen_suites,tests/mpi/test_*.c,$(patsubst tests/mpi/test_%.c,%,$(MPI_TEST_SRC)),MPI_TEST_SUITES)
$(BUILD)/gen/methods.c: FORCE
	@mkdir -p $(@D)
	@{ echo '// generated by the Makefile from src/methods/*.c: do not edit'; \
	   echo '#include "methods/method.h"'; \
	   for m in $(METHOD_NAMES); do echo "extern const Method method_$$m;"; done; \
	   echo 'const Method *const method_registry[] = {'; \
	   for m in $(METHOD_NAMES); do echo "    &method_$$m,"; done; \
	   echo '    0};'; \
	   echo 'const int method_count = $(words $(METHOD_NAMES));'; } > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
# The build's provenance recorded in run files (io/runfile.h /meta): the git revision (describe
# string and full commit), whether the tree differs from it and a digest of how (`git diff HEAD`,
# then every untracked, non-ignored file's name and content: a symlink's target), and the compiler
# and flags. Regenerated on every make, rewritten only when something changed, so builds stay
# incremental.
GIT_UNTRACKED_DUMP := git ls-files -z --others --exclude-standard | while IFS= read -r -d '' f; do \
  printf '%s\0' "$$f"; if [ -L "$$f" ]; then readlink "$$f"; elif [ -f "$$f" ]; then cat "$$f"; fi; done
BUILD_FLAGS_C := $(subst ",\",$(subst \,\\,$(strip $(CC) $(CFLAGS) $(SAN_FLAGS) $(CPPFLAGS))))
$(BUILD)/gen/version.c: FORCE
	@mkdir -p $(@D)
	@commit=$$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown); dirty=0; diff=""; \
	if [ "$$commit" != unknown ] && [ -n "$$(git status --porcelain 2>/dev/null)" ]; then \
	  dirty=1; diff=$$({ git diff HEAD --binary; $(GIT_UNTRACKED_DUMP); } | sha256sum | cut -c1-64); fi; \
	{ echo '// generated by the Makefile: do not edit'; \
	  echo "const char mmc_git_version[] = \"$$(git describe --always --dirty --tags 2>/dev/null || echo unknown)\";"; \
	  echo "const char mmc_git_commit[] = \"$$commit\";"; \
	  echo "const int mmc_git_dirty = $$dirty;"; \
	  echo "const char mmc_git_diff_sha256[] = \"$$diff\";"; \
	  echo 'const char mmc_build_flags[] = "$(BUILD_FLAGS_C)";'; } > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/.flags
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(BUILD)/bin/run_tests: $(TEST_OBJ) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(CHECK_LIBS) $(LDLIBS) -o $@
$(BUILD)/bin/run_mpi_tests: $(MPI_TEST_OBJ) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(CHECK_LIBS) $(LDLIBS) -o $@

# ---- test targets ----
# Open MPI refuses root without these; set here only, for the test and bench recipes. OPENBLAS_CORETYPE
# is left as the machine's environment sets it (some hosts preset it because older OpenBLAS builds
# compute wrong results or crash on their CPUs): the tests and the data run under it.
MPI_ENV := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
           OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
           OPENBLAS_NUM_THREADS=1
# make run, the benches and the tables may use a faster core type: OpenBLAS 0.3.21 takes AVX-512 CPUs
# it does not know for AVX2 ones (about half speed, tests/bench/RESULTS.md). scripts/blas_core.sh
# tries SkylakeX there (MMC_BLAS_CANDIDATES=... names others) under build/bin/blas_check, sgemm and
# dgemm against a triple loop in a process of its own, uses it only when that passes, and prints the
# core type used. Prefix a recipe's command with it (after MPI_ENV).
BLAS_CORE := scripts/blas_core.sh $(BUILD)/bin/blas_check --
# Under ASan, Open MPI's dlclose()d components leave leaks in unnamed modules that no suppression
# can match, so leak detection is off wherever MPI is initialised (the MPI suites, the probes).
MPI_SAN_ENV := $(if $(SAN),ASAN_OPTIONS=detect_leaks=0,)

test: $(BUILD)/bin/run_tests $(APPS) $(PROBES) $(BUILD)/lib/libmpicount.so $(BUILD)/bin/count_probe \
      $(BUILD)/lib/libbadsgemm.so \
      $(BUILD)/lib/libmpiaudit.so \
      $(REPLAYS) $(foreach f,avfmnist_ci landsat memes_ci base/mllm_tiny base/mllm_tiny-teacher,$(call sealed,$(DATA)/$(f).h5))
	$(MPI_ENV) $(MPI_SAN_ENV) MMC_BIN_DIR=$(BUILD)/bin MMC_LIB_DIR=$(BUILD)/lib MMC_DATA_DIR=$(DATA) \
	  $(BUILD)/bin/run_tests

test-mpi: $(BUILD)/bin/run_mpi_tests
	@set -e; for np in $(NP_LIST); do \
	  echo "== MPI suites, -np $$np"; \
	  $(MPI_ENV) $(MPI_SAN_ENV) timeout --kill-after=10 $(TEST_TIMEOUT) $(MPIRUN) -np $$np $(BUILD)/bin/run_mpi_tests; \
	done

# The analysis scripts on real run files from this build's binaries (~30 s, most of it mpirun).
# CD-CCA's table runs on the tiny base model and its teacher.
test-analysis: $(BUILD)/bin/mmcollab $(BUILD)/bin/build_synmm \
    $(foreach f,avfmnist_ci base/mllm_tiny base/mllm_tiny-teacher,$(call sealed,$(DATA)/$(f).h5))
	$(MPI_ENV) $(MPI_SAN_ENV) MPIRUN='$(MPIRUN)' MMC_DATA_DIR=$(DATA) timeout --kill-after=10 $(TEST_TIMEOUT) \
	  tests/analysis/test_analysis.sh $(BUILD)/bin

# The Slurm tests are part of check (~1.5 min; root): SLURM_CHECK=0 leaves them out; sanitizer builds do.
SLURM_CHECK ?= $(if $(SAN),0,1)
check: test test-mpi test-analysis $(if $(filter 1,$(SLURM_CHECK)),test-slurm)

# ---- datasets (datasets/README.md) ----
# Each file is built once; delete it to rebuild. The builders print their time and size. Each
# builder also writes the file's digest file <file>.sha256 (io/seal.h), which every reader checks
# before HDF5 opens the file: the pair is one grouped target, and prerequisites name both
# ($(call sealed,...)), so a file without its digest file (an older build) is rebuilt.
AVFM_ARGS :=
$(call sealed,$(DATA)/avfmnist.h5) &: | $(BUILD)/bin/build_avfmnist
	@mkdir -p $(@D)
	$(MPI_ENV) $(MPIRUN) -np 2 $(BUILD)/bin/build_avfmnist --out=$(DATA)/avfmnist.h5 $(AVFM_ARGS)
# The built-in default data (mmcollab --data, make run): the first 10,000 / 2,000 samples.
$(call sealed,$(DATA)/avfmnist_small.h5) &: | $(BUILD)/bin/build_avfmnist
	@mkdir -p $(@D)
	$(MPI_ENV) $(MPIRUN) -np 2 $(BUILD)/bin/build_avfmnist --subset=10000 --test-subset=2000 \
	  --out=$(DATA)/avfmnist_small.h5
# The CI subset the tests read: 2,000 / 500.
$(call sealed,$(DATA)/avfmnist_ci.h5) &: | $(BUILD)/bin/build_avfmnist
	@mkdir -p $(@D)
	$(MPI_ENV) $(MPIRUN) -np 2 $(BUILD)/bin/build_avfmnist --subset=2000 --test-subset=500 \
	  --out=$(DATA)/avfmnist_ci.h5
$(call sealed,$(DATA)/synmm.h5) &: | $(BUILD)/bin/build_synmm
	@mkdir -p $(@D)
	$(BUILD)/bin/build_synmm --out $(DATA)/synmm.h5
$(call sealed,$(DATA)/landsat.h5) &: | $(BUILD)/bin/build_landsat
	@mkdir -p $(@D)
	$(BUILD)/bin/build_landsat --out=$(DATA)/landsat.h5
# Memes: the images, entities and split of an AV-FashionMNIST file with generated texts and labels.
$(call sealed,$(DATA)/memes.h5) &: | $(BUILD)/bin/build_memes $(call sealed,$(DATA)/avfmnist_small.h5)
	$(BUILD)/bin/build_memes --from=$(DATA)/avfmnist_small.h5 --out=$(DATA)/memes.h5
$(call sealed,$(DATA)/memes_ci.h5) &: | $(BUILD)/bin/build_memes $(call sealed,$(DATA)/avfmnist_ci.h5)
	$(BUILD)/bin/build_memes --from=$(DATA)/avfmnist_ci.h5 --out=$(DATA)/memes_ci.h5
# The tiny multimodal LLM's base models (src/apps/base_model.c): the full one for the FedMLLM table
# (make base-model: 10-15 min on 2 cores), a tiny one for the tests (seconds; rebuilt with the
# builder). base_model writes the digest file too.
BASE_MODEL_ARGS ?=
$(call sealed,$(DATA)/base/mllm.h5) &: | $(BUILD)/bin/base_model \
    $(call sealed,$(DATA)/avfmnist_small.h5) $(call sealed,$(DATA)/memes.h5)
	@mkdir -p $(@D)
	$(MPI_ENV) $(BUILD)/bin/base_model --size=full --data=$(DATA)/avfmnist_small.h5 \
	  --memes=$(DATA)/memes.h5 --out=$(DATA)/base/mllm.h5 $(BASE_MODEL_ARGS)
$(call sealed,$(DATA)/base/mllm_tiny.h5) &: $(BUILD)/bin/base_model | \
    $(call sealed,$(DATA)/avfmnist_ci.h5) $(call sealed,$(DATA)/memes_ci.h5)
	@mkdir -p $(@D)
	$(MPI_ENV) $(BUILD)/bin/base_model --size=tiny --data=$(DATA)/avfmnist_ci.h5 \
	  --memes=$(DATA)/memes_ci.h5 --eval-rows=200 --out=$(DATA)/base/mllm_tiny.h5 >/dev/null
base-model: $(BUILD)/bin/base_model $(call sealed,$(DATA)/avfmnist_small.h5) \
    $(call sealed,$(DATA)/memes.h5)
	rm -f $(call sealed,$(DATA)/base/mllm.h5)
	@$(MAKE) --no-print-directory MMC_INNER=1 $(DATA)/base/mllm.h5.sha256
# CD-CCA's teacher (docs/mllm.md "The teacher (CD-CCA)"): built from a student file, whose
# tokenizer and encoders it copies and whose SHA-256 it records, so it is rebuilt when its student
# is (a normal prerequisite). The full one takes about 15 min on 2 cores; the tiny one seconds.
BASE_MODEL_TEACHER_ARGS ?=
$(call sealed,$(DATA)/base/mllm-teacher.h5) &: $(call sealed,$(DATA)/base/mllm.h5) | \
    $(BUILD)/bin/base_model $(call sealed,$(DATA)/avfmnist_small.h5)
	@mkdir -p $(@D)
	$(MPI_ENV) $(BUILD)/bin/base_model --size=teacher --student=$(DATA)/base/mllm.h5 \
	  --data=$(DATA)/avfmnist_small.h5 --out=$(DATA)/base/mllm-teacher.h5 $(BASE_MODEL_TEACHER_ARGS)
$(call sealed,$(DATA)/base/mllm_tiny-teacher.h5) &: $(BUILD)/bin/base_model \
    $(call sealed,$(DATA)/base/mllm_tiny.h5) | $(call sealed,$(DATA)/avfmnist_ci.h5)
	@mkdir -p $(@D)
	$(MPI_ENV) $(BUILD)/bin/base_model --size=tiny-teacher --student=$(DATA)/base/mllm_tiny.h5 \
	  --data=$(DATA)/avfmnist_ci.h5 --eval-rows=200 --out=$(DATA)/base/mllm_tiny-teacher.h5 >/dev/null
base-model-teacher: $(BUILD)/bin/base_model $(call sealed,$(DATA)/base/mllm.h5) \
    $(call sealed,$(DATA)/avfmnist_small.h5)
	rm -f $(call sealed,$(DATA)/base/mllm-teacher.h5)
	@$(MAKE) --no-print-directory MMC_INNER=1 $(DATA)/base/mllm-teacher.h5.sha256
DATASETS := $(DATA)/avfmnist.h5 $(DATA)/avfmnist_small.h5 $(DATA)/avfmnist_ci.h5 $(DATA)/synmm.h5 \
            $(DATA)/landsat.h5 $(DATA)/memes.h5 $(DATA)/memes_ci.h5
data: $(foreach f,$(DATASETS),$(call sealed,$(f)))
	@echo "== datasets (make calibrate prints what each modality tells)"; ls -l $(DATASETS)

calibrate: $(BUILD)/bin/calibrate $(foreach f,avfmnist_small landsat synmm,$(call sealed,$(DATA)/$(f).h5))
	$(MPI_ENV) $(BUILD)/bin/calibrate --data=$(DATA)/avfmnist_small.h5,$(DATA)/landsat.h5,$(DATA)/synmm.h5

# ---- the main job ----
RUN_DIR ?= runs/demo
RUN_NP ?= 3
RUN_ARGS ?= --config=jobs/demo.cfg
run: $(APPS) $(call sealed,$(DATA)/avfmnist_small.h5)
	rm -rf $(RUN_DIR)
	$(MPI_ENV) $(BLAS_CORE) $(MPIRUN) -np $(RUN_NP) $(BUILD)/bin/mmcollab $(RUN_ARGS) --out=$(RUN_DIR)
	/usr/bin/python3 analysis/curves.py $(RUN_DIR) -o $(RUN_DIR)/curves.png
	@echo "== $(RUN_DIR): run.h5, metrics.csv, ckpt/, curves.png"

# ---- the BoMM table (issue 5) without Slurm ----
# Runs every unfinished line of the manifest (analysis/run_manifest.sh: resumes, skips finished runs),
# then the table and curves from exactly the manifest's run directories. Under Slurm instead:
# slurm/submit_sweep.sh jobs/bomm/sweep.txt --throttle 8 --results jobs/bomm/RESULTS.md -n 5
BOMM_MANIFEST ?= jobs/bomm/sweep.txt
BOMM_RESULTS ?= jobs/bomm/RESULTS.md
BOMM_J ?= 1
BOMM_NP ?= 3
bomm-table: $(APPS) $(foreach f,avfmnist_small landsat,$(call sealed,$(DATA)/$(f).h5))
	$(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN) --bind-to none' analysis/run_manifest.sh $(BOMM_MANIFEST) -j $(BOMM_J) -n $(BOMM_NP) \
	  --bin $(BUILD)/bin
	/usr/bin/python3 analysis/bomm_table.py $$(analysis/run_manifest.sh $(BOMM_MANIFEST) --list) \
	  --md $(BOMM_RESULTS) --csv $(BOMM_RESULTS:.md=.csv) --curves $(dir $(BOMM_RESULTS))curves >/dev/null
	/usr/bin/python3 analysis/readme_figures.py --bomm $(BOMM_RESULTS:.md=.csv)
	@echo "== $(BOMM_RESULTS), $(BOMM_RESULTS:.md=.csv), $(dir $(BOMM_RESULTS))curves/, README.md's figures"

# ---- the FedMLLM table (issue 12) without Slurm ----
# As bomm-table: every unfinished line of the manifest, then the table from exactly its run
# directories. Lines that fail (a method or option the binary lacks yet) are named by the runner
# and by the table ("no runs"); the table is written anyway and make then fails with the runner's
# status. Under Slurm: slurm/submit_sweep.sh jobs/fedmllm/sweep.txt --throttle 8 -n 3, then this
# goal (nothing left to run) or analysis/fedmllm_table.py --manifest ... --md ... by hand.
FEDMLLM_J ?= 2
# One rank a run: a second one would only idle-poll as the cloud (results do not depend on -np).
FEDMLLM_NP ?= 1
fedmllm-table fedmllm-table-quick: FEDMLLM_MANIFEST ?= $(if $(filter %-quick,$@),jobs/fedmllm/sweep_quick.txt,jobs/fedmllm/sweep.txt)
fedmllm-table fedmllm-table-quick: FEDMLLM_RESULTS ?= $(if $(filter %-quick,$@),jobs/fedmllm/quick/RESULTS.md,jobs/fedmllm/RESULTS.md)
fedmllm-table fedmllm-table-quick: $(APPS) \
    $(foreach f,avfmnist_small memes base/mllm,$(call sealed,$(DATA)/$(f).h5))
	rc=0; $(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN) --bind-to none' analysis/run_manifest.sh $(FEDMLLM_MANIFEST) \
	  -j $(FEDMLLM_J) -n $(FEDMLLM_NP) --bin $(BUILD)/bin || rc=$$?; \
	mkdir -p $(dir $(FEDMLLM_RESULTS)) && \
	/usr/bin/python3 analysis/fedmllm_table.py --manifest $(FEDMLLM_MANIFEST) --md $(FEDMLLM_RESULTS) >/dev/null && \
	echo "== $(FEDMLLM_RESULTS), $(FEDMLLM_RESULTS:.md=.csv), RUNS.sha256 and curves/ next to it" && exit $$rc

# ---- the security tables (issue 14) without Slurm ----
# As bomm-table: every unfinished line of jobs/security/sweep.txt, then the attack table, the
# secure-aggregation cost, the straggler table and the DP utility curve from exactly its runs.
SECURITY_MANIFEST ?= jobs/security/sweep.txt
SECURITY_RESULTS ?= jobs/security/RESULTS.md
SECURITY_J ?= 2
security-table: $(APPS) $(foreach f,avfmnist_small landsat base/mllm,$(call sealed,$(DATA)/$(f).h5))
	rc=0; $(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN) --bind-to none' analysis/run_manifest.sh $(SECURITY_MANIFEST) \
	  -j $(SECURITY_J) -n 3 --bin $(BUILD)/bin || rc=$$?; \
	/usr/bin/python3 analysis/security_table.py --manifest $(SECURITY_MANIFEST) --md $(SECURITY_RESULTS) \
	  >/dev/null && echo "== $(SECURITY_RESULTS), its CSV and dp_curve.png next to it" && exit $$rc

# ---- CD-CCA's table (issue 15) without Slurm ----
# As security-table: every unfinished line of jobs/cdcca/sweep.txt (jobs/cdcca/gen_sweep.py: the
# methods and the ablations, 3 seeds), then the table, the per-stage accuracy, the paper comparison
# and stages.png from exactly its runs. Under Slurm: slurm/submit_sweep.sh jobs/cdcca/sweep.txt
# --throttle 8 -n 3, then this goal (nothing left to run).
CDCCA_MANIFEST ?= jobs/cdcca/sweep.txt
CDCCA_RESULTS ?= jobs/cdcca/RESULTS.md
CDCCA_J ?= 2
cdcca-table: $(APPS) $(foreach f,avfmnist_small base/mllm base/mllm-teacher,$(call sealed,$(DATA)/$(f).h5))
	rc=0; $(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN) --bind-to none' analysis/run_manifest.sh $(CDCCA_MANIFEST) \
	  -j $(CDCCA_J) -n 3 --bin $(BUILD)/bin || rc=$$?; \
	/usr/bin/python3 analysis/cdcca_table.py --manifest $(CDCCA_MANIFEST) --md $(CDCCA_RESULTS) \
	  >/dev/null && echo "== $(CDCCA_RESULTS), its CSV, RUNS.sha256 and stages.png next to it" && exit $$rc

FEDCMP_MANIFEST ?= jobs/fedcmp/sweep.txt
FEDCMP_RESULTS ?= jobs/fedcmp/RESULTS.md
FEDCMP_J ?= 2
fedcmp-table: $(APPS) $(foreach f,avfmnist_small base/mllm,$(call sealed,$(DATA)/$(f).h5))
	rc=0; $(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN) --bind-to none' analysis/run_manifest.sh $(FEDCMP_MANIFEST) \
	  -j $(FEDCMP_J) -n 3 --bin $(BUILD)/bin || rc=$$?; \
	/usr/bin/python3 analysis/fedcmp_table.py --manifest $(FEDCMP_MANIFEST) --md $(FEDCMP_RESULTS) \
	  >/dev/null && echo "== $(FEDCMP_RESULTS), its CSV, RUNS.sha256 and spectrum.png next to it" && exit $$rc

# The validation sweeps behind the defaults (docs/methods.md §7): each manifest's runs, then its
# table next to it (jobs/sweeps/<name>.md).
TUNING := jobs/sweeps/bomm_validation.txt jobs/sweeps/fedprox_mu.txt jobs/sweeps/fedmllm_lr.txt
tuning: $(APPS) $(foreach f,avfmnist_small landsat memes base/mllm,$(call sealed,$(DATA)/$(f).h5))
	for m in $(TUNING); do \
	  $(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN) --bind-to none' analysis/run_manifest.sh $$m -j $(BOMM_J) -n 1 \
	    --bin $(BUILD)/bin || exit 1; \
	  /usr/bin/python3 analysis/sweep.py $$(analysis/run_manifest.sh $$m --list) --md $${m%.txt}.md \
	    >/dev/null || exit 1; \
	done

# Starts the local Slurm, submits real jobs, stops it again; the script times out every wait.
# On the overall timeout its trap cancels the jobs and stops the daemons (up to 15 s each).
SLURM_TEST_TIMEOUT ?= 420
# The daemons are one per machine: concurrent runs (other worktrees) take turns on a lock.
SLURM_LOCK ?= /run/lock/mmcollab-test-slurm.lock
test-slurm: $(BUILD)/bin/rank_probe $(BUILD)/bin/mmcollab $(BUILD)/bin/build_synmm \
    $(call sealed,$(DATA)/avfmnist_ci.h5)
	flock -w 900 $(SLURM_LOCK) sh -c '\
	  timeout --kill-after=60 $(SLURM_TEST_TIMEOUT) tests/slurm/test_smoke.sh $(BUILD)/bin && \
	  MMC_DATA_DIR=$(DATA) timeout --kill-after=60 $(SLURM_TEST_TIMEOUT) \
	    tests/slurm/test_pipeline_slurm.sh $(BUILD)/bin'

# The scaling study (jobs/scaling/run.sh, docs/scaling.md): the local Slurm with 4 emulated nodes, the
# ping-pong, 18 runs, the analysis and the model; under the test-slurm lock (it reconfigures the daemons).
# data/avfmnist_ci.h5 and data/base/mllm_tiny.h5 must exist (make test builds them); they are not
# prerequisites here, so that a relinked base_model does not rebuild the tiny base model under other runs.
SCALING_TIMEOUT ?= 900
scaling: $(BUILD)/bin/mmcollab $(BUILD)/bin/bench_pingpong $(BUILD)/bin/build_synmm
	flock -w 900 $(SLURM_LOCK) timeout --kill-after=60 $(SCALING_TIMEOUT) jobs/scaling/run.sh $(BUILD)/bin

asan:
	@$(MAKE) --no-print-directory MMC_INNER=1 BUILD=build-asan SAN=address,undefined \
	  OPTFLAGS='-O1' check

debug:
	@$(MAKE) --no-print-directory MMC_INNER=1 BUILD=build-debug OPTFLAGS='-O0 -g3' all

# ---- fuzzing (docs/fuzzing.md) ----
# clang through the MPI wrapper (OMPI_CC), the library with fuzzer-no-link plus ASan/UBSan, each
# harness run FUZZ_S seconds on tests/fuzz/corpus/<name>/ (with tests/fuzz/<name>.dict when there
# is one) in libFuzzer's fork mode (a crash, OOM
# or timeout is saved into tests/fuzz/crashes/<name>/ and the run goes on), then that corpus
# rewritten as the seeds (seed-*) plus the fewest inputs that cover every edge the corpus and the
# run's new inputs cover (edges only, not hit counts: tens of files). UBSan reports end the input
# like a crash.
FUZZ_S ?= 60
# -len_control=0: the structure-aware harnesses read a long stream of decisions; libFuzzer's default
# of growing inputs from a few bytes kept them on the first objects of a file for many minutes.
FUZZ_FLAGS ?= -timeout=25 -rss_limit_mb=2048 -max_len=4096 -len_control=0
# FUZZ_AVOID_<name>: the deviation classes a harness leaves out, those of its known crashes waiting
# for a fix in tests/fuzz/open/<name>/ (docs/fuzzing.md): without them, every run would rediscover
# them into crashes/ and stop make test; FUZZ_AVOID_<name>= puts a class back (after its fix).
FUZZ_AVOID_ckpt ?=
FUZZ_AVOID_dataset ?=
FUZZ_AVOID_config ?=
FUZZ_ENV := UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
fuzz:
	@command -v clang >/dev/null || { echo "✗ clang not found: apt-get install clang libclang-rt-14-dev (scripts/deps.sh fuzz)"; exit 1; }
	@OMPI_CC=clang $(MAKE) --no-print-directory MMC_INNER=1 BUILD=build-fuzz \
	  SAN=fuzzer-no-link,address,undefined OPTFLAGS='-O1' fuzz-run

fuzz-run: $(FUZZERS)
	@set -e; tmp=$$(mktemp -d /dev/shm/mmc-fuzz.XXXXXX 2>/dev/null || mktemp -d); \
	trap 'rm -rf "$$tmp"' EXIT; \
	$(foreach n,$(FUZZ_NAMES),avoid_$(n)='$(FUZZ_AVOID_$(n))';) \
	for n in $(FUZZ_NAMES); do \
	  eval "avoid=\$$avoid_$$n"; dict=; [ ! -f tests/fuzz/$$n.dict ] || dict=-dict=tests/fuzz/$$n.dict; \
	  corpus=tests/fuzz/corpus/$$n; crashes=tests/fuzz/crashes/$$n; work=$(BUILD)/fuzz/$$n; \
	  mkdir -p $$corpus $$crashes $$work/new; rm -f $$work/new/*; \
	  before=$$(ls $$corpus | wc -l); found=$$(ls $$crashes | wc -l); \
	  echo "== fuzz_$$n: $(FUZZ_S) s on $$corpus ($$before inputs)$${avoid:+, avoiding $$avoid}, log $$work/fuzz.log"; \
	  MMC_FUZZ_TMP=$$tmp MMC_FUZZ_AVOID=$$avoid $(FUZZ_ENV) $(BUILD)/bin/fuzz_$$n $(FUZZ_FLAGS) $$dict -max_total_time=$(FUZZ_S) \
	    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -close_fd_mask=3 \
	    -artifact_prefix=$$crashes/ $$work/new $$corpus > $$work/fuzz.log 2>&1 || true; \
	  min=$$tmp/min-$$n; mkdir -p $$min; cp $$corpus/seed-* $$min/ 2>/dev/null || true; \
	  if MMC_FUZZ_TMP=$$tmp $(FUZZ_ENV) $(BUILD)/bin/fuzz_$$n $(FUZZ_FLAGS) -merge=1 -use_counters=0 \
	       -close_fd_mask=3 $$min $$corpus $$work/new > $$work/merge.log 2>&1; then \
	    find $$corpus -maxdepth 1 -type f ! -name '.*' -delete; cp $$min/* $$corpus/; \
	  else echo "   merge failed (corpus left as it was): $$work/merge.log"; fi; \
	  scripts/fuzz_stats.sh $$work/fuzz.log $$corpus $$before $$crashes $$found; \
	done

# Benchmarks (not tests): tests/bench/run.sh runs the C programs and their PyTorch twins.
bench: $(BENCHES) $(BUILD)/bin/blas_check
	@tests/bench/run.sh $(BUILD)/bin

# Secure aggregation's cost against the plain int64 reduce (tests/bench/bench_secagg.c): one round's
# set-up, masking, gather and unmasking for 10 members at the party model's 318,410 parameters.
bench-secagg: $(BUILD)/bin/bench_secagg $(BUILD)/bin/blas_check
	$(MPI_ENV) $(BLAS_CORE) $(MPIRUN) -np 3 $(BUILD)/bin/bench_secagg

# Exact aggregation's cost (tests/bench/bench_reduce.c, docs/exact_reduce.md): a round's
# comm_acc_add + comm_acc_reduce to float against a float reduce of the same vectors, at 2, 4 and 8
# ranks (tests/bench/reduce_table.py puts runs side by side).
REDUCE_SIZES ?= 1000,10000,100000,1000000,10000000
REDUCE_NP ?= 2 4 8
bench-reduce: $(BUILD)/bin/bench_reduce
	@cut -d' ' -f1-3 /proc/loadavg | sed 's/^/load average /'
	$(Q)for np in $(REDUCE_NP); do \
	  $(MPI_ENV) $(MPIRUN) -np $$np $(BUILD)/bin/bench_reduce sizes=$(REDUCE_SIZES) || exit 1; done

# The LAPACKE / ScaLAPACK crossover of the CRAA SVD (tests/bench/bench_svd.c, docs/svd_paths.md).
SVD_SIZES ?= 32x512,64x1024,256x4096,512x8192,1024x16384
bench-svd: $(BUILD)/bin/bench_svd $(BUILD)/bin/blas_check
	$(MPI_ENV) $(BLAS_CORE) $(MPIRUN) -np 2 $(BUILD)/bin/bench_svd sizes=$(SVD_SIZES) reps=1
	$(MPI_ENV) $(BLAS_CORE) $(MPIRUN) -np 4 $(BUILD)/bin/bench_svd sizes=$(SVD_SIZES) reps=1

# Scale (issue 4 item 13): PARTIES, RANKS, ROUNDS, TRAIN, TEST, ROWS_PER_PARTY pass through.
bench-parties: $(BUILD)/bin/mmcollab $(BUILD)/bin/build_synmm $(BUILD)/bin/blas_check
	@$(MPI_ENV) $(BLAS_CORE) MPIRUN='$(MPIRUN)' WORK=$(BUILD)/bench/parties tests/bench/bench_parties.sh $(BUILD)/bin

lint:
	cppcheck --quiet --inline-suppr --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -Isrc src tests

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h tests/*.c tests/*.h tests/*/*.c tests/*/*.h)

format-check:
	clang-format --dry-run --Werror $(wildcard src/*/*.c src/*/*.h tests/*.c tests/*.h tests/*/*.c tests/*/*.h)

.PHONY: all test test-mpi test-analysis test-slurm scaling check asan debug bench bench-parties bench-secagg bench-reduce bench-svd lint format \
        format-check data run calibrate bomm-table fedmllm-table fedmllm-table-quick cdcca-table tuning fuzz \
        fuzz-run FORCE
FORCE:
# Keep intermediate objects (probe and bench .o files) so that nothing rebuilds twice.
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

endif
