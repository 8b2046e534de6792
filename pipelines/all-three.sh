#!/bin/sh
# Captions, English translation and language identification of one file through one tee: the
# three elements load the model once between them (the weights are shared). The queues hold 80 s
# of audio: a sink prerolls on its branch's first buffer, which for mslamasr and mslamtranslate is
# a caption that comes out only when its speech ends, at most max-duration (60 s at most) and a
# chunk (10.24 s) after its audio, while mslamlid passes audio at once; with queues of the default
# second the first branch to preroll would fill its queue and stop the tee before the others had
# their first caption, and without a bound the slowest branch's would hold the rest of the file.
# mslamtranslate reads what the model's decoder was trained on (input=auto): for the bundled
# model, whose decoder learnt from text pairs, the CTC transcript, which it translates far better
# than the speech (README, "What the decoder reads").
#
#   q="max-size-buffers=0 max-size-bytes=0 max-size-time=80000000000"
#   gst-launch-1.0 -m -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! tee name=t \
#     t. ! queue $q ! mslamasr line-length=42 max-lines=2 ! srtenc ! filesink location=OUT-captions.srt \
#     t. ! queue $q ! mslamtranslate line-length=42 max-lines=2 ! srtenc ! filesink location=OUT-english.srt \
#     t. ! queue $q ! mslamlid ! fakesink
#
# Usage: pipelines/all-three.sh IN OUT   (writes OUT-captions.srt and OUT-english.srt: lines of 42
# characters, at most 2 a subtitle, as the other subtitle scripts)
set -eu
usage="usage: $0 IN OUT   (writes OUT-captions.srt and OUT-english.srt)"
. "$(dirname "$0")/file-common.sh"
file_args 2 "$@"
[ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
in=$1 out=$2
q="max-size-buffers=0 max-size-bytes=0 max-size-time=80000000000"
# shellcheck disable=SC2086 # $q is a list of properties
run_to "$out-captions.srt" "$out-english.srt" -- \
  gst-launch-1.0 -m -e filesrc location="$in" ! decodebin ! audioconvert ! audioresample ! tee name=t \
  t. ! queue $q ! mslamasr line-length=42 max-lines=2 ! srtenc ! filesink location="$out-captions.srt.part" \
  t. ! queue $q ! mslamtranslate line-length=42 max-lines=2 ! srtenc ! filesink location="$out-english.srt.part" \
  t. ! queue $q ! mslamlid ! fakesink
