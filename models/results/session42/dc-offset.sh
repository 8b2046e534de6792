#!/bin/sh
# Session 42: a DC offset taken off each frame. Scores the bundled model on ./corpus's test split as made and at 0.9
# of its level with an offset of 0.05 (sox vol 0.9 dcshift 0.05, 32-bit float WAV, no dither),
# with two mslam-trainer builds (before and after), beam 32 + LM, LID on the first 4 s.
#   sh models/results/session42/dc-offset.sh OLD_TRAINER NEW_TRAINER OUT     (about 20 minutes)
# Figures: README, "The model" (OUT/{old,new}{,-dc}.txt).
set -eu
old=$1 new=$2 out=$3
root=$(cd "$(dirname "$0")/../../.." && pwd)
corpus=$root/corpus
mkdir -p "$out/audio"
head -1 "$corpus/manifest.tsv" > "$out/manifest.tsv"
awk -F'\t' 'NR > 1 && $7 == "test"' "$corpus/manifest.tsv" | while IFS="$(printf '\t')" read -r path rest; do
  name=$(echo "$path" | tr / _)
  name=${name%.*}.wav
  [ -f "$out/audio/$name" ] || sox -D "$corpus/$path" -e float -b 32 "$out/audio/$name" vol 0.9 dcshift 0.05
  printf 'audio/%s\t%s\n' "$name" "$rest" >> "$out/manifest.tsv"
done
for which in old new; do
  trainer=$old
  [ "$which" = new ] && trainer=$new
  for data in "$corpus/manifest.tsv" "$out/manifest.tsv"; do
    suffix=""
    [ "$data" = "$out/manifest.tsv" ] && suffix=-dc
    "$trainer" eval --model "$root/models/default.safetensors" --data "$data" --tasks asr,lid --ctc-beam 32 \
      --lm "$root/lms/lm.safetensors" --lid-seconds 4 > "$out/$which$suffix.txt" 2>&1
  done
done
grep -H -E '^mean|LID accuracy' "$out"/*.txt
