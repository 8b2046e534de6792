#!/bin/sh
# The translation memory next to the decoder on the same sentences in the same run: load time,
# resident size, median time per sentence of a lookup and of the decoder's translation, and how
# many sentences the memory answers. Needs models/make-corpus.sh then models/make-lms.sh.
#   bench/tm.sh [MODEL [LMS [SENTENCES]]]   (defaults: the bundled model, ./lms, 200 test pairs)
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MSLAM_BUILD_DIR:-build}
model=${1:-models/default.safetensors}
lms=${2:-lms}
sentences=${3:-200}
[ -f "$lms/translation-memory.safetensors" ] ||
  { echo "bench/tm.sh: no $lms/translation-memory.safetensors; build it with models/make-lms.sh" >&2; exit 1; }
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/tm_bench
exec taskset -c 0,1 "$build"/bench/tm_bench --model "$model" --memory "$lms/translation-memory.safetensors" \
  --data "$lms/text-st/text.tsv" --split test --sentences "$sentences" --threads 2
