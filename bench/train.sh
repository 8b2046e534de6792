#!/bin/sh
# Training step on Conformer-S (batch 8 x 10 s, forward + backward + AdamW, 2 threads): mslam's
# whole encoder (subsampler included) next to torchaudio's Conformer layers under the same
# subsampler with PyTorch's AdamW, measured in the same run. Prints both rates in audio-seconds per second and their ratio.
# With a dropout probability P > 0, both train with it (mslam: train --dropout's residual
# dropout; torchaudio: its modules' dropout), and mslam also runs without, for its cost.
#   bench/train.sh [threads] [runs] [P]
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MSLAM_BUILD_DIR:-build}
threads=${1:-2}
runs=${2:-5}
dropout=${3:-0}
./tests/install-deps.sh build test reference
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/train_bench
. bench/measured.sh
measured "$build"/bench/train_bench --threads "$threads" --runs "$runs" --dropout "$dropout" --profile
if awk -v p="$dropout" 'BEGIN { exit !(p + 0 != 0) }'; then # "0.0" is no dropout too
  measured "$build"/bench/train_bench --threads "$threads" --runs "$runs" --dropout 0
fi
on_mslam_kernels measured /usr/bin/python3 bench/torch_conformer.py --threads "$threads" --runs "$runs" \
  --dropout "$dropout" --train --subsampler 144
awk -v p="$dropout" '
  function field(name,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] } return 0 }
  /^mslam_train / { if (field("dropout") == p) ours = field("audio_s_per_s"); else without = field("audio_s_per_s") }
  /^torch_conformer_train / { theirs = field("audio_s_per_s") }
  END {
    if (ours > 0 && theirs > 0) printf "training throughput, same run: mslam %.1f audio-s/s, PyTorch %.1f audio-s/s: %.2fx\n", ours, theirs, ours / theirs
    if (without > 0 && ours > 0) printf "mslam with dropout %s: %.1f audio-s/s, without: %.1f: it costs %.1f %%\n", p, ours, without, 100 * (without / ours - 1)
  }
' "$out"
