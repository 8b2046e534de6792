#!/bin/sh
# English subtitles for speech in another language (speech translation).
#
#   gst-launch-1.0 -e filesrc location=IN ! decodebin ! audioconvert ! audioresample ! \
#       mslamtranslate line-length=42 max-lines=2 ! srtenc ! filesink location=OUT.srt
#
# Usage: pipelines/translate-subtitles.sh IN OUT.srt [mslamtranslate properties, e.g. languages=fr,de
#        lm=LM.safetensors translation-lm=TLM.safetensors for the LMs of `mslam-trainer lm`,
#        translation-memory=TM.safetensors for the memory of `mslam-trainer tm`; models/make-lms.sh
#        builds all three]
# The mslam-translation messages (source language and text) show with -m in the gst-launch-1.0
# line above; pipelines/all-three.sh prints them next to the captions and language decisions.
set -eu
usage="usage: $0 IN OUT.srt [mslamtranslate properties]"
. "$(dirname "$0")/file-common.sh"
file_args 2 "$@"
in=$1 out=$2
shift 2
run_to "$out" -- gst-launch-1.0 -q -e filesrc location="$(gst_quoted "$in")" ! decodebin ! audioconvert ! audioresample ! \
    mslamtranslate line-length=42 max-lines=2 "$@" ! srtenc ! filesink buffer-mode=line location="$(gst_quoted "$out.part")"
