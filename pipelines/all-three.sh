#!/bin/sh
# Captions, English translation and language identification of one file through one tee: the
# three elements load the model once between them (the weights are shared).
#
#   gst-launch-1.0 -m -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! tee name=t \
#     t. ! queue ! mslamasr ! srtenc ! filesink location=OUT-captions.srt \
#     t. ! queue ! mslamtranslate ! srtenc ! filesink location=OUT-english.srt \
#     t. ! queue ! mslamlid ! fakesink
#
# Usage: pipelines/all-three.sh IN OUT   (writes OUT-captions.srt and OUT-english.srt)
set -eu
[ $# -eq 2 ] || { echo "usage: $0 IN OUT" >&2; exit 2; }
in=$1 out=$2
exec gst-launch-1.0 -m -e filesrc location="$in" ! decodebin ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! mslamasr ! srtenc ! filesink location="$out-captions.srt" \
  t. ! queue ! mslamtranslate ! srtenc ! filesink location="$out-english.srt" \
  t. ! queue ! mslamlid ! fakesink
