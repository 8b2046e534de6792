#!/bin/sh
# Long recordings through mslam_encode_pcm on the bundled model (2 threads), one process per
# length so that each peak memory is its own:
#  - chunked: chunks of 8 frames seeing 4 to their left, as the elements stream;
#  - full context, next to PyTorch's Conformer of the same size in the same run (torchaudio,
#    12 layers, d 144, 4 heads, FFN 576, kernel 15, mslam's subsampler of 64 channels before
#    them; batch 1, inference mode, on the OpenBLAS kernels mslam ran on), for lengths up to
#    TORCH_MAX_MINUTES (default 10): its attention keeps T x T scores per head, 3.6 GB a layer
#    at 10 minutes, so an hour does not fit this machine's memory.
#   bench/long.sh [minutes...]        (default: 1 10 60)
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MSLAM_BUILD_DIR:-build}
torch_max=${TORCH_MAX_MINUTES:-10}
[ $# -gt 0 ] || set -- 1 10 60
./tests/install-deps.sh build test reference
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/long_bench
. bench/measured.sh
for minutes in "$@"; do
    measured "$build"/bench/long_bench --minutes "$minutes"
    if awk -v m="$minutes" -v max="$torch_max" 'BEGIN { exit !(m <= max) }'; then
        measured "$build"/bench/long_bench --minutes "$minutes" --chunk 0 --left -1
        frames=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 * 25 }')
        on_mslam_kernels measured /usr/bin/python3 bench/torch_conformer.py --threads 2 --batch 1 --frames "$frames" \
            --layers 12 --kernel 15 --subsampler 64 --warmup 0 --runs 1
    fi
done
# long_audio lines are mslam's (chunk 0: full context), torch_conformer_s lines PyTorch's
awk '
  /^long_audio |^torch_conformer_s / {
    n++; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[n, kv[1]] = kv[2] }
    if ($1 == "torch_conformer_s") { k[n] = "torch"; v[n, "minutes"] = v[n, "audio_s"] / 60; v[n, "seconds"] = v[n, "median_s"] }
    else k[n] = v[n, "chunk"] == 0 ? "full" : "chunked"
  }
  END {
    printf "%-8s %8s %10s %12s\n", "", "minutes", "seconds", "peak MB"
    for (r = 1; r <= n; r++) {
      printf "%-8s %8s %10s %12s\n", k[r], v[r, "minutes"], v[r, "seconds"], v[r, "peak_rss_mb"]
      if (k[r] == "chunked") { c[++nc] = r }
    }
    if (nc > 1 && v[c[nc], "minutes"] != v[c[1], "minutes"])
      printf "chunked, between %s and %s minutes: %.1f MB and %.2f s per minute of audio\n", v[c[1], "minutes"],
        v[c[nc], "minutes"], (v[c[nc], "peak_rss_mb"] - v[c[1], "peak_rss_mb"]) / (v[c[nc], "minutes"] - v[c[1], "minutes"]),
        (v[c[nc], "seconds"] - v[c[1], "seconds"]) / (v[c[nc], "minutes"] - v[c[1], "minutes"])
  }
' "$out"
