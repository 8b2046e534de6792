#!/bin/sh
# Encoder forward on Conformer-S (batch 8 x 10 s, 2 threads): mslam next to cblas_sgemm's rate
# and torchaudio's Conformer of the same size, measured in the same run.
#   bench/encoder.sh [threads]
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MSLAM_BUILD_DIR:-build}
threads=${1:-2}
./tests/install-deps.sh build test reference
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/encoder_bench
. bench/measured.sh
measured "$build"/bench/encoder_bench --threads "$threads"
on_mslam_kernels measured /usr/bin/python3 bench/torch_conformer.py --threads "$threads"
awk '
  /^mslam_layers / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "rtf") ours = kv[2] } }
  /^torch_conformer_s / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "rtf") theirs = kv[2] } }
  END { if (ours > 0 && theirs > 0) printf "speedup over PyTorch (layers, same run): %.2fx (rtf %.5f vs %.5f)\n", theirs / ours, ours, theirs }
' "$out"
