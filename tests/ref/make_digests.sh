#!/bin/sh
# make_digests.sh - rewrites tests/ref/digests.txt: the final-parameter digest of every method on
# the method contract test's fixed config (tests/test_method_contract.c), for each OpenBLAS core
# type given (default: the four the file has carried), with OPENBLAS_CORETYPE forcing the kernels.
#
#   tests/ref/make_digests.sh [build/bin] [CORE...]     (from the repository root; ~2 min)
#
# Run it only when a change is meant to move results, and say which and why in the commit.
set -eu
bin=$(cd "${1:-build/bin}" && pwd); [ $# -gt 0 ] && shift
cores=${*:-Zen Haswell Sandybridge Nehalem}
root=$(pwd)
work=$(mktemp -d /tmp/mmc_digests.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin/build_synmm" --out "$work/syn.h5" --train 800 --test 200 >/dev/null
extra() { # method_extra() of the contract test
    case $1 in
    bomm) echo "--bomm.mm-width=32 --bomm.mm-layers=1 --bomm.upload=64 --bomm.warmup=1" ;;
    fedmkt) echo "--fedmkt.upload=64" ;;
    esac
}
methods=$(ls "$root"/src/methods/*.c | sed 's|.*/||; s|\.c$||' | grep -v '^registry$')
out="$work/digests.txt"
sed -n "/^# core method digest$/q; p" "$root/tests/ref/digests.txt" >"$out"
echo "# core method digest" >>"$out"
for core in $cores; do
    for m in $methods; do
        dir="$work/$core-$m"
        (cd "$work" && OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=1 \
            mpirun --oversubscribe -np 2 -x OPENBLAS_CORETYPE "$bin/mmcollab" --data=syn.h5 \
            --out="$dir" --parties=4 --rounds=2 --width=16 --batch-size=16 \
            --scenario=bomm-hybrid --method="$m" $(extra "$m") >"$dir.log" 2>&1) ||
            { echo "$core $m failed:"; tail -5 "$dir.log"; exit 1; }
        d=$(/usr/bin/python3 "$root/tests/params_digest.py" "$dir/ckpt/round_000002.h5" |
            sed -n 's/^digest //p')
        echo "$core $m $d" | tee -a "$out"
    done
done
mv "$out" "$root/tests/ref/digests.txt"
