#!/bin/sh
# Session 43: the demo's five sentences (espeak-ng, as pipelines/demo.sh speaks them) as made and
# 30 and 40 dB quieter, captioned by pipelines/file-to-srt.sh with the energy rule's voice-threshold
# at -55 (the default), -70, -75, -80 and -90 dBFS; one line per sentence and level.
#   sh models/results/session43/quiet-demo.sh OUT     (about 2 minutes)
# The model: $MSLAM_MODEL, else models/default.safetensors; the plugin: $GST_PLUGIN_PATH, else build/plugin.
set -eu
out=${1:?usage: quiet-demo.sh OUT}
root=$(cd "$(dirname "$0")/../../.." && pwd)
export MSLAM_MODEL="${MSLAM_MODEL:-$root/models/default.safetensors}"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$root/build/plugin}"
# demo.sh's list: "lang|voice|sentence" lines
sentences=$(sed -n "/<<'EOF'/,/^EOF\$/p" "$root/pipelines/demo.sh" | sed '1d;$d')
[ -n "$sentences" ] || { echo "quiet-demo.sh: no sentences found in pipelines/demo.sh" >&2; exit 1; }
mkdir -p "$out"
# (the list on descriptor 3: the loop's commands keep their standard input)
while IFS='|' read -r lang voice text <&3; do
  espeak-ng -v "$voice" -w "$out/$lang.wav" "$text"
  for db in 0 30 40; do
    sox "$out/$lang.wav" -e float -b 32 "$out/$lang-$db.wav" vol "-${db}dB"
    line="$lang -$db dB"
    for threshold in -55 -70 -75 -80 -90; do
      "$root/pipelines/file-to-srt.sh" "$out/$lang-$db.wav" "$out/$lang-$db$threshold.srt" \
        voice-threshold=$threshold > /dev/null
      line="$line | $threshold: $(grep -v -e '^[0-9]*$' -e '-->' "$out/$lang-$db$threshold.srt" | tr '\n' ' ')"
    done
    echo "$line"
  done
done 3<<SENTENCES
$sentences
SENTENCES
