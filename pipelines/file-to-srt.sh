#!/bin/sh
# Captions an audio or video file into SubRip subtitles.
#
#   gst-launch-1.0 -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! \
#       mslamasr line-length=42 max-lines=2 ! srtenc ! filesink location=OUT.srt
#
# Usage: pipelines/file-to-srt.sh IN OUT.srt [mslamasr properties, e.g. languages=en latency=640,
#        or languages=fr lm=LM.safetensors for a character LM from `mslam-trainer lm`]
# The model is $MSLAM_MODEL, else the installed default (or pass model=FILE).
set -eu
usage="usage: $0 IN OUT.srt [mslamasr properties]"
. "$(dirname "$0")/file-common.sh"
file_args 2 "$@"
in=$1 out=$2
shift 2
run_to "$out" -- gst-launch-1.0 -q -e filesrc location="$(gst_quoted "$in")" ! decodebin ! audioconvert ! audioresample ! \
    mslamasr line-length=42 max-lines=2 "$@" ! srtenc ! filesink buffer-mode=line location="$(gst_quoted "$out.part")"
