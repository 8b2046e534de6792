#!/bin/sh
# Session 41: language decisions (mslamlid) and final captions (mslamasr) on 30 s of noise alone,
# of the colours audiotestsrc makes (at two levels) and of white noise low-passed by
# audiocheblimit (rumble: 100, 200, 400 and 1000 Hz), with the bundled model and each element's
# defaults, for each plugin folder given. Every one of them is a mistake: no speech is there.
#   sh models/results/session41/noise-kinds.sh PLUGIN_DIR...      (about 2 minutes a folder)
# audiotestsrc draws other noise on each run: the counts move by a few from run to run.
# VOLUMES: the colours' volumes (default "0.01 0.1"); CUTOFFS: the low-passes' (default "100 200
# 400 1000"; empty: none); PROPS: more properties for both elements (session 43's quiet-noise.sh);
# MODEL: the model (default models/default.safetensors); NOISE_DIR: a folder the noise files are
# kept in, and taken from when there (the same noise for several runs; default: made anew).
set -eu
volumes=${VOLUMES:-0.01 0.1} cutoffs=${CUTOFFS-100 200 400 1000} props=${PROPS:-}
root=$(cd "$(dirname "$0")/../../.." && pwd)
model=${MODEL:-$root/models/default.safetensors}
if [ -n "${NOISE_DIR:-}" ]; then
  tmp=$NOISE_DIR
  mkdir -p "$tmp"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
caps=audio/x-raw,rate=16000,channels=1,format=S16LE
for wave in white-noise pink-noise red-noise blue-noise violet-noise; do
  for volume in $volumes; do
    [ -f "$tmp/$wave-$volume.wav" ] ||
      gst-launch-1.0 -q audiotestsrc wave=$wave volume=$volume num-buffers=470 ! $caps ! wavenc ! \
        filesink location="$tmp/$wave-$volume.wav"
  done
done
for cutoff in $cutoffs; do
  [ -f "$tmp/low-pass-$cutoff-Hz.wav" ] ||
    gst-launch-1.0 -q audiotestsrc wave=white-noise volume=0.5 num-buffers=470 ! audioconvert ! \
      audiocheblimit mode=low-pass cutoff=$cutoff poles=4 ! audioconvert ! $caps ! wavenc ! \
      filesink location="$tmp/low-pass-$cutoff-Hz.wav"
done
run() { # PLUGIN_DIR ELEMENT FILE: its bus messages
  GST_PLUGIN_PATH=$1 gst-launch-1.0 -m filesrc location="$3" ! wavparse ! audioconvert ! \
    "$2" model="$model" $props ! fakesink 2> /dev/null
}
for plugin in "$@"; do
  echo "## $plugin"
  all_lid=0 all_captions=0
  for f in "$tmp"/*.wav; do
    lid=$(run "$plugin" mslamlid "$f" | grep -c 'mslam-lid, language' || true)
    captions=$(run "$plugin" mslamasr "$f" | grep 'mslam-asr' | grep -c 'final=(boolean)true' || true)
    printf '%-22s %3d language decisions %3d captions\n' "$(basename "$f" .wav)" "$lid" "$captions"
    all_lid=$((all_lid + lid)) all_captions=$((all_captions + captions))
  done
  echo "in all: $all_lid language decisions, $all_captions captions"
done
