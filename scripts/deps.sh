#!/usr/bin/env bash
# deps.sh - install with apt-get what mmcollab builds and tests with (Debian 12).
# Idempotent: when every package is present it only checks (well under a second).
# Usage: scripts/deps.sh [GROUP...]   groups: build (default), bench, slurm, analysis, data, fuzz
set -euo pipefail

declare -A GROUP_PKGS=(
  [build]="build-essential openmpi-bin libopenmpi-dev libopenblas-dev liblapacke-dev
           libscalapack-openmpi-dev libhdf5-openmpi-dev hdf5-tools check pkg-config libsodium-dev"
  [bench]="python3-torch python3-numpy"
  # Slurm's mpi_pmix plugin dlopen()s the unversioned pmix2/lib/libpmix.so, which only -dev ships.
  [slurm]="slurm-wlm munge libpmix-dev"
  # make test / check install this group too: tests/test_mllm_torch.c runs the PyTorch twin
  # (apt-get install python3-torch: 1 min 16 s here, 195 packages, 754 MB installed).
  # tests/test_bleu.c compares data/bleu.h with NLTK's corpus_bleu (tests/nltk/bleu_nltk.py).
  [analysis]="python3-h5py python3-matplotlib python3-numpy python3-torch python3-nltk python3-pywt"
  # make fuzz: clang with libFuzzer and the sanitizer runtimes (docs/fuzzing.md).
  [fuzz]="clang libclang-rt-14-dev"
  [data]="dataset-fashion-mnist espeak-ng-data libespeak-ng-dev zlib1g-dev wordnet-base
          r-base-core r-cran-mlbench"
)

groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(build)
want=""
for g in "${groups[@]}"; do
  [ -n "${GROUP_PKGS[$g]+x}" ] || { echo "deps.sh: unknown group '$g' (build, bench, slurm, analysis, data, fuzz)" >&2; exit 2; }
  want="$want ${GROUP_PKGS[$g]}"
done

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps: ${groups[*]} present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Keep package postinst scripts from starting daemons (munge, slurm): we start them ourselves.
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d
  own_policy=1; trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Another make may be installing at the same time: wait for its dpkg lock instead of failing.
apt-get update -qq -o DPkg::Lock::Timeout=600
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends $missing >/dev/null
# OpenBLAS must provide libblas.so.3/liblapack.so.3 (the reference BLAS has priority 10).
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  cur=$(readlink -f "/etc/alternatives/$alt" 2>/dev/null || true)
  case "$cur" in *openblas*) ;; *) update-alternatives --auto "$alt" >/dev/null 2>&1 || true ;; esac
done
echo "deps: installed$missing"
