#!/bin/sh
# Captions an audio or video file into WebVTT subtitles (for HTML5 <track>).
#
#   gst-launch-1.0 -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! \
#       mslamasr line-length=42 max-lines=2 ! webvttenc ! filesink location=OUT.vtt
#
# Usage: pipelines/file-to-webvtt.sh IN OUT.vtt [mslamasr properties, e.g. languages=en latency=640,
#        or languages=fr lm=LM.safetensors for a character LM from `mslam-trainer lm`]
# The model is $MSLAM_MODEL, else the installed default (or pass model=FILE).
set -eu
usage="usage: $0 IN OUT.vtt [mslamasr properties]"
. "$(dirname "$0")/file-common.sh"
file_args 2 "$@"
in=$1 out=$2
shift 2
# webvttenc writes the header with its first cue: no speech (or Ctrl-C before it), no header, and
# a WebVTT file needs one
vtt_header() { [ -s "$1" ] || printf 'WEBVTT\n\n' > "$1"; }
part_hook=vtt_header
run_to "$out" -- gst-launch-1.0 -q -e filesrc location="$(gst_quoted "$in")" ! decodebin ! audioconvert ! audioresample ! \
    mslamasr line-length=42 max-lines=2 "$@" ! webvttenc ! filesink buffer-mode=line location="$(gst_quoted "$out.part")"
