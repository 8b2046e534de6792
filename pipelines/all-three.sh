#!/bin/sh
# Captions, English translation and language identification of one file through one tee: the
# three elements load the model once between them (the weights are shared). The queues hold 80 s
# of audio, so that each branch runs at its own pace: mslamasr and mslamtranslate work in bursts,
# at a caption's end, at most max-duration (60 s at most) and a chunk (10.24 s) after its audio,
# while mslamlid passes audio at once; without a bound the slowest branch's would hold the rest
# of the file. (The caption sinks preroll on the GAP of no duration that starts a timeline.)
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
# Usage: pipelines/all-three.sh IN OUT [PROPERTY=VALUE...]   (writes OUT-captions.srt and
# OUT-english.srt: lines of 42 characters, at most 2 a subtitle, as the other subtitle scripts).
# A property goes to each of the three elements that has it (model=, device=, languages=,
# n-threads=, latency= to all; beam-size= to mslamasr and mslamtranslate; interval= to mslamlid),
# or with asr., translate. or lid. before it to that one alone, e.g.
#   pipelines/all-three.sh talk.wav talk languages=fr,de asr.lm=LM.safetensors lid.interval=2000
set -eu
usage="usage: $0 IN OUT [PROPERTY=VALUE, or asr.|translate.|lid.PROPERTY=VALUE, ...]   (writes OUT-captions.srt and OUT-english.srt)"
. "$(dirname "$0")/file-common.sh"
file_args 2 "$@"
# shellcheck disable=SC2034 # read by the eval below
in=$1 out=$2
shift 2
# each element's properties, as words quoted for the eval below (values may hold spaces)
quoted() { printf " '%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
asr="" translate="" lid=""
# element's property names, one a line (gst-inspect-1.0's), asked once the first unprefixed
# property comes
properties_of() {
  gst-inspect-1.0 "$1" 2>/dev/null | sed -n '/^Element Properties:/,$s/^  \([a-z][a-z0-9-]*\) *: .*/\1/p'
}
inspected=""
# (GLib reads n_threads as n-threads; the name is no pattern)
has_property() { printf '%s\n' "$1" | grep -qxF -e "$(printf '%s' "$2" | tr _ -)"; }
for property in "$@"; do
  case $property in *?=*) name=${property%%=*} ;; *) name="" ;; esac
  case $name in
    asr.?*) asr="$asr$(quoted "${property#asr.}")" ;;
    translate.?*) translate="$translate$(quoted "${property#translate.}")" ;;
    lid.?*) lid="$lid$(quoted "${property#lid.}")" ;;
    "" | *.*)
      echo "$0: $property: not PROPERTY=VALUE, with asr., translate., lid. or nothing before it" >&2
      echo "$usage" >&2
      exit 2 ;;
    *)
      if [ -z "$inspected" ]; then
        asr_properties=$(properties_of mslamasr) translate_properties=$(properties_of mslamtranslate)
        lid_properties=$(properties_of mslamlid)
        [ -n "$asr_properties" ] && [ -n "$translate_properties" ] && [ -n "$lid_properties" ] || {
          echo "$0: gst-inspect-1.0 does not find the mslam elements: install the plugin, or set" \
            "GST_PLUGIN_PATH to a build's plugin folder (e.g. build/plugin)" >&2
          exit 1
        }
        inspected=1
      fi
      to=""
      has_property "$asr_properties" "$name" && asr="$asr$(quoted "$property")" to=1
      has_property "$translate_properties" "$name" && translate="$translate$(quoted "$property")" to=1
      has_property "$lid_properties" "$name" && lid="$lid$(quoted "$property")" to=1
      [ -n "$to" ] || {
        echo "$0: $property: none of mslamasr, mslamtranslate and mslamlid has a property $name" \
          "(gst-inspect-1.0 ELEMENT lists them)" >&2
        exit 2
      } ;;
  esac
done
q="max-size-buffers=0 max-size-bytes=0 max-size-time=80000000000"
eval "run_to \"\$out-captions.srt\" \"\$out-english.srt\" -- \
  gst-launch-1.0 -m -e filesrc location=\"\$(gst_quoted \"\$in\")\" ! decodebin ! audioconvert ! audioresample ! tee name=t \
  t. ! queue $q ! mslamasr line-length=42 max-lines=2 $asr ! srtenc ! filesink buffer-mode=line location=\"\$(gst_quoted \"\$out-captions.srt.part\")\" \
  t. ! queue $q ! mslamtranslate line-length=42 max-lines=2 $translate ! srtenc ! filesink buffer-mode=line location=\"\$(gst_quoted \"\$out-english.srt.part\")\" \
  t. ! queue $q ! mslamlid $lid ! fakesink"
