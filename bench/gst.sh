#!/bin/sh
# The GStreamer elements on English speech next to pocketsphinx's element (Debian's
# gstreamer1.0-pocketsphinx with pocketsphinx-en-us) on the same audio in the same run:
# real-time factor of each element and of the three in one pipeline, WER of mslamasr and
# pocketsphinx, and the latency from the end of the words to the final caption at a live
# source's pace. Pinned to 2 cores. A trained model comes from --model, $MSLAM_MODEL, the
# bundled models/default.safetensors or the installed default; without one a stand-in of the
# default model's size is used (see bench/gst_bench.c).
#   bench/gst.sh [gst_bench options, e.g. --model FILE --sentences 12]
#   (installs packages.txt's build, test and reference packages first, as tests/run.sh does;
#   MSLAM_BUILD_DIR picks the build folder, default build, as the other bench scripts)
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./tests/install-deps.sh build test reference
build=${MSLAM_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/gst_bench plugin/libgstmslam.so
case $build in /*) ;; *) build=$root/$build ;; esac
export GST_PLUGIN_PATH="$build/plugin"
export GST_REGISTRY="$build/bench/gst-registry.bin"
cores=""
[ "$(nproc)" -gt 2 ] && cores="taskset -c 0,1"
$cores "$build/bench/gst_bench" "$@"
