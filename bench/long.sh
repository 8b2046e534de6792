#!/bin/sh
# Long recordings through mslam_encode_pcm on the bundled model (chunks of 8 frames seeing 4 to
# their left, as the elements' streaming mode; 2 threads): time and peak memory for each length,
# one process per length, side by side, with what grows per minute of audio between the shortest
# and the longest. No peer: PyTorch's Conformer of the same size keeps T x T attention scores and
# does not fit an hour in this machine's memory.
#   bench/long.sh [minutes...]        (default: 1 10 60)
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MSLAM_BUILD_DIR:-build}
[ $# -gt 0 ] || set -- 1 10 60
./tests/install-deps.sh build
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/long_bench
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for minutes in "$@"; do
    "$build"/bench/long_bench --minutes "$minutes" | tee -a "$out"
done
awk '
  /^long_audio / { n++; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[n, kv[1]] = kv[2] } }
  END {
    if (n == 0) exit 1
    printf "%10s %10s %10s %12s\n", "minutes", "seconds", "rtf", "peak MB"
    for (k = 1; k <= n; k++)
      printf "%10s %10s %10s %12s\n", v[k, "minutes"], v[k, "seconds"], v[k, "rtf"], v[k, "peak_rss_mb"]
    if (n > 1 && v[n, "minutes"] != v[1, "minutes"])
      printf "between %s and %s minutes: %.1f MB and %.2f s per minute of audio\n", v[1, "minutes"], v[n, "minutes"],
        (v[n, "peak_rss_mb"] - v[1, "peak_rss_mb"]) / (v[n, "minutes"] - v[1, "minutes"]),
        (v[n, "seconds"] - v[1, "seconds"]) / (v[n, "minutes"] - v[1, "minutes"])
  }
' "$out"
