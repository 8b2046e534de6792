#!/bin/sh
# Session 36: what max-duration cuts cost mslamasr on continuous speech. Twelve paragraphs of four
# of ./corpus's test sentences of language LANG (en) each, spoken by espeak-ng without pauses between the
# sentences; the captions at max-duration 60 s (no cut), 1.5, 2 and 3 s, joined, scored against
# the paragraph by CER with spaces and punctuation left out (cer.py).
#   [LANG_CODE=de] sh models/results/session36/cuts/cuts.sh PLUGIN_DIR OUT      (about a minute on 2 cores)
# PLUGIN_DIR: a build's plugin folder (build/plugin); the figures in ../README.md compare the
# checkout of session 36 with the same build with primed-second-pass.diff or
# context-second-pass.diff applied (git apply); the latter landed in session 37.
set -eu
plugin=$1 out=$2 lang=${LANG_CODE:-en}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
mkdir -p "$out"
awk -F'\t' -v lang="$lang" 'NR > 1 && $2 == lang && $7 == "test" { print $3 }' "$root/corpus/manifest.tsv" | head -48 > "$out/sentences.txt"
: > "$out/ref.txt"
i=0
while [ $i -lt 12 ]; do
  text=$(sed -n "$((i * 4 + 1)),$((i * 4 + 4))p" "$out/sentences.txt" | tr '\n' ' ')
  printf '%s\n' "$text" >> "$out/ref.txt"
  espeak-ng -v "$lang" -w "$out/p$i.wav" "$text"
  i=$((i + 1))
done
for md in 60000 1500 2000 3000; do
  : > "$out/hyp-$md.txt"
  i=0
  while [ $i -lt 12 ]; do
    GST_PLUGIN_PATH=$plugin MSLAM_MODEL="$root/models/default.safetensors" gst-launch-1.0 -q \
      filesrc location="$out/p$i.wav" ! decodebin ! audioconvert ! audioresample ! \
      mslamasr max-duration=$md ! filesink location="$out/captions.txt"
    { tr '\n' ' ' < "$out/captions.txt"; echo; } >> "$out/hyp-$md.txt"
    i=$((i + 1))
  done
done
python3 "$here/cer.py" "$out"
