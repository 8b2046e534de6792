#!/bin/sh
# Session 41: what the steady-sound rule measures on speech: every 10th utterance of ./corpus's
# test split (250 files, all 50 languages, espeak-ng with the corpus's noise and reverberation),
# through mslamasr and mslamlid with their defaults and with 1-s captions and windows
# (max-duration=1000, window=1000), read from the rule's GST_LOG lines (the mslam category).
# Prints, for each, how many captions or windows were judged, the least spread of their 50-ms
# energies (10th to 90th percentile, dB), how many were short (under 1.5 s of their own, judged
# with what was heard before) and the most their own loudest stood out, and how many the rule
# called steady (no caption, no decision: all of them mistakes, as all are speech). These are the
# energies as heard (the log's "50-ms energies" lines); with session 41's last change a sound is steady
# only where the energies of its samples' differences are too, so the count bounds the rule's.
#   sh models/results/session41/speech-spread.sh PLUGIN_DIR          (about 15 minutes on 2 cores)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
plugin=$1
files=$(awk -F'\t' '$7 == "test" { print $1 }' "$root/corpus/manifest.tsv" | awk 'NR % 10 == 1')
for element in mslamasr "mslamasr max-duration=1000" mslamlid "mslamlid window=1000"; do
  for f in $files; do
    # shellcheck disable=SC2086 # the element's properties are words of the pipeline
    GST_PLUGIN_PATH=$plugin GST_DEBUG=mslam:6 gst-launch-1.0 -q filesrc location="$root/corpus/$f" ! decodebin ! \
      audioconvert ! audioresample ! $element model="$root/models/default.safetensors" ! fakesink 2>&1 |
      sed -n 's/.*: [0-9]* blocks (\([0-9]*\) its own), 50-ms energies within \([0-9.]*\) dB, its loudest \(-*[0-9.]*\) dB over their 90th percentile: \(.*\)/\1 \2 \3 \4/p'
  done | awk -v element="$element" '
    { n++; if (n == 1 || $2 < least) least = $2; if ($1 < 150) { short++; if (short == 1 || $3 > most) most = $3 }
      if ($4 == "steady") steady++ }
    END { printf "%-28s %4d judged, spread from %.2f dB; %3d short, standing out by %.2f dB at most; %d steady\n",
          element, n, least, short, most, steady }'
done
