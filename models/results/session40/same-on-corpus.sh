#!/bin/sh
# Session 40: whether two builds of the plugin give the same captions (mslamasr) and language
# decisions (mslamlid) on every 25th utterance of ./corpus's test split (100 files, all languages,
# augmented with noise and reverberation as the corpus is), on the bundled model.
#   sh models/results/session40/same-on-corpus.sh PLUGIN_DIR_A PLUGIN_DIR_B
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
out() { # PLUGIN_DIR ELEMENT FILE: the captions, or the decisions, on one line
  if [ "$2" = mslamasr ]; then
    GST_PLUGIN_PATH=$1 gst-launch-1.0 -q filesrc location="$root/corpus/$3" ! decodebin ! audioconvert ! \
      audioresample ! mslamasr model="$root/models/default.safetensors" ! fdsink 2> /dev/null
  else
    GST_PLUGIN_PATH=$1 gst-launch-1.0 -m filesrc location="$root/corpus/$3" ! decodebin ! audioconvert ! \
      audioresample ! mslamlid model="$root/models/default.safetensors" ! fakesink 2> /dev/null |
      grep -o 'mslam-lid, language=(string)[^,]*, confidence=(double)[0-9.]*'
  fi | tr '\n' '|'
}
n=0 differ=0
for f in $(awk -F'\t' '$7 == "test" { print $1 }' "$root/corpus/manifest.tsv" | awk 'NR % 25 == 1' | head -100); do
  for element in mslamasr mslamlid; do
    a=$(out "$1" $element "$f") b=$(out "$2" $element "$f")
    [ "$a" = "$b" ] || { differ=$((differ + 1)); echo "$f ($element): [$a] [$b]"; }
  done
  n=$((n + 1))
done
echo "$differ of $n files x 2 elements differ"
