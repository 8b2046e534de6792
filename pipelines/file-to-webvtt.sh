#!/bin/sh
# Captions an audio or video file into WebVTT subtitles (for HTML5 <track>).
#
#   gst-launch-1.0 -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! \
#       mslamasr ! webvttenc ! filesink location=OUT.vtt
#
# Usage: pipelines/file-to-webvtt.sh IN OUT.vtt [mslamasr properties]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 IN OUT.vtt [mslamasr properties]" >&2; exit 2; }
in=$1 out=$2
shift 2
exec gst-launch-1.0 -q -e filesrc location="$in" ! decodebin ! audioconvert ! audioresample ! \
    mslamasr "$@" ! webvttenc ! filesink location="$out"
