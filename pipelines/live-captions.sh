#!/bin/sh
# Live captions from the default audio input, drawn over a test video.
#
#   gst-launch-1.0 -e autoaudiosrc ! audioconvert ! audioresample ! \
#       mslamasr max-duration=3000 ! queue ! overlay.text_sink \
#     videotestsrc is-live=true ! video/x-raw,width=1280,height=720 ! \
#       queue max-size-time=10000000000 max-size-buffers=0 max-size-bytes=0 ! \
#       textoverlay name=overlay valignment=bottom font-desc="Sans 28" ! videoconvert ! \
#       autovideosink
#
# A caption goes out when it ends (a pause or max-duration), stamped with the time its speech
# started, so textoverlay holds each video frame until it knows the text for that time (GAP
# events let it through while nobody speaks). mslamasr says so in its latency (max-duration plus
# a chunk less a frame and the 45-ms look-ahead: 3.325 s here, plus the source's own), which
# textoverlay passes on, so the sink shows the video that much late, the queue absorbing the
# wait, and every caption appears on the frames it belongs to. For captions as soon as possible,
# read the mslam-asr messages instead (partial results; see mslam-captions --live).
#
# Usage: pipelines/live-captions.sh [mslamasr properties]
# (a quiet microphone, whose captions come out cut short or not at all: voice-threshold=-75)
# MSLAM_AUDIO_SRC, MSLAM_VIDEO_SRC and MSLAM_VIDEO_SINK replace the source and sink elements
# (the tests run it with audiotestsrc, a finite videotestsrc and fakesink); without a display,
# MSLAM_VIDEO_SINK is needed.
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
audio_src=${MSLAM_AUDIO_SRC:-autoaudiosrc}
video_src=${MSLAM_VIDEO_SRC:-videotestsrc is-live=true}
video_sink=${MSLAM_VIDEO_SINK:-autovideosink}
# autovideosink without a display crashes (GStreamer's video sinks, not mslam): say so instead
if [ -z "${MSLAM_VIDEO_SINK:-}" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "live-captions.sh: no display (neither DISPLAY nor WAYLAND_DISPLAY is set) to show the video on;" \
    "run it on a desktop, or name a sink in MSLAM_VIDEO_SINK (e.g. \"fakesink sync=true\", or" \
    "\"vp8enc deadline=1 ! webmmux ! filesink location=live.webm\")" >&2
  exit 1
fi
# autoaudiosrc with no sound card and no sound server fails with its last backend's error
# (OpenAL's "ALC error: Invalid Value"): say where audio can come from instead (it goes on, as a
# source this does not see, JACK say, may be there)
runtime=${XDG_RUNTIME_DIR:-/nonexistent}
if [ -z "${MSLAM_AUDIO_SRC:-}" ] && [ ! -e /dev/snd ] && [ -z "${PULSE_SERVER:-}" ] &&
  [ ! -S "$runtime/pulse/native" ] && [ ! -S "$runtime/pipewire-0" ]; then
  echo "live-captions.sh: no sound card (/dev/snd) and no sound server (PulseAudio, PipeWire) seen, so" \
    "autoaudiosrc may find no microphone: MSLAM_AUDIO_SRC names another source (e.g." \
    "\"pulsesrc server=HOST\", or \"filesrc location=talk.wav ! decodebin\" to caption a file live)" >&2
fi
# shellcheck disable=SC2086 # the element descriptions are split on purpose
exec gst-launch-1.0 -q -e $audio_src ! audioconvert ! audioresample ! \
    mslamasr max-duration=3000 "$@" ! queue ! overlay.text_sink \
  $video_src ! video/x-raw,width=1280,height=720 ! \
    queue max-size-time=10000000000 max-size-buffers=0 max-size-bytes=0 ! \
    textoverlay name=overlay valignment=bottom font-desc="Sans 28" ! videoconvert ! \
    $video_sink
