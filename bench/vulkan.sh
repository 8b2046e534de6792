#!/bin/sh
# Encoder forward on Conformer-S: the Vulkan backend next to the CPU (OpenBLAS, the given
# threads), measured in the same run, both with encoder_bench.
#   bench/vulkan.sh [threads [batch [seconds]]]
# The Vulkan device is MSLAM_VULKAN_DEVICE's (an index or part of its name), else the first one
# (on a machine without a GPU, Mesa's lavapipe: a CPU implementation, slower than OpenBLAS).
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MSLAM_BUILD_DIR:-build}
threads=${1:-2}
batch=${2:-8}
seconds=${3:-10}
./tests/install-deps.sh build test
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/encoder_bench
. bench/measured.sh
common="--threads $threads --batch $batch --seconds $seconds"
# shellcheck disable=SC2086 # common holds several options
measured "$build"/bench/encoder_bench $common --device cpu
# shellcheck disable=SC2086
measured "$build"/bench/encoder_bench $common --device vulkan
awk '
  /^threads=/ { split($2, kv, "="); device = kv[2] }
  /^mslam_encoder / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "rtf") rtf[device] = kv[2] } }
  /^device: vulkan: / { sub(/^device: vulkan: /, ""); name = $0 }
  END { if (rtf["cpu"] > 0 && rtf["vulkan"] > 0)
          printf "Vulkan (%s) against the CPU, whole encoder, same run: %.3gx (rtf %.5f vs %.5f)\n",
                 name, rtf["cpu"] / rtf["vulkan"], rtf["vulkan"], rtf["cpu"] }
' "$out"
