#!/bin/sh
# Session 43: what a lowered voice-threshold costs on quiet noise. Session 41's noise-kinds.sh
# (language decisions and final captions on 30 s of noise alone, bundled model) on audiotestsrc's
# five colours at volumes 0.001 and 0.0003 (white noise: about -65 and -75 dBFS), at each
# voice-threshold given. Every decision and caption is a mistake: no speech is there.
#   sh models/results/session43/quiet-noise.sh THRESHOLD...     (about 2 minutes a threshold)
# The plugin: $GST_PLUGIN_PATH, else build/plugin; MODEL and NOISE_DIR pass on to noise-kinds.sh.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
for threshold in "$@"; do
  echo "## voice-threshold=$threshold"
  VOLUMES="0.001 0.0003" CUTOFFS="" PROPS="voice-threshold=$threshold" \
    sh "$root/models/results/session41/noise-kinds.sh" "${GST_PLUGIN_PATH:-$root/build/plugin}"
done
