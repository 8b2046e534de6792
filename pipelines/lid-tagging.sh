#!/bin/sh
# Tags an audio file with the language spoken: mslamlid passes the audio through and sends a
# language-code tag downstream, which the Matroska muxer writes as the track's language. The
# muxer writes the track header, language included, when the first audio reaches it, and the
# first decisions come once a second of speech is heard, on little of it and often unsure:
# hold-audio keeps the audio back until a decision is at least tag-confidence (0.5) sure, or the
# file ends (then its most probable language; at most 30 s of audio is held: a file whose speech
# starts later, or that has too little speech to decide on, a word or two, is tagged "und",
# undetermined, where no tag would read as English).
#
#   gst-launch-1.0 -m -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! \
#       mslamlid hold-audio=30000 tag-confidence=0.5 ! audioconvert ! flacenc ! matroskamux ! \
#       filesink location=OUT.mka
#
# Usage: pipelines/lid-tagging.sh IN OUT.mka [mslamlid properties, e.g. languages=en,fr,de]
# The mslam-lid messages (-m) show each decision;
#   gst-launch-1.0 -t filesrc location=OUT.mka ! matroskademux ! fakesink
# shows the track's language (a Matroska track without one reads as English).
set -eu
usage="usage: $0 IN OUT.mka [mslamlid properties]"
. "$(dirname "$0")/file-common.sh"
file_args 2 "$@"
in=$1 out=$2
shift 2
run_to "$out" -- gst-launch-1.0 -m -e filesrc location="$(gst_quoted "$in")" ! decodebin ! audioconvert ! audioresample ! \
    mslamlid hold-audio=30000 tag-confidence=0.5 "$@" ! audioconvert ! flacenc ! matroskamux ! filesink location="$(gst_quoted "$out.part")"
