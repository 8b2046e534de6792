#!/bin/sh
# Session 42: how the level of the speech moves a model's scores. Every 10th utterance of
# ./corpus's test split (250) as made and 20, 30 and 40 dB quieter (sox vol, 32-bit float WAV, no
# dither), scored offline: CER greedy and with beam 32 + LM, LID on the first 4 s.
#   [LM=lms/lm.safetensors] sh models/results/session42/level.sh TRAINER MODEL OUT   (about 5 minutes)
# LM: the transcripts' LM for MODEL's vocabulary (models/make-lms.sh MODEL corpus DIR builds one).
set -eu
trainer=$1 model=$2 out=$3
root=$(cd "$(dirname "$0")/../../.." && pwd)
corpus=$root/corpus
lm=${LM:-$root/lms/lm.safetensors}
mkdir -p "$out"
for db in 0 20 30 40; do
  dir=$out/minus$db
  mkdir -p "$dir/audio"
  head -1 "$corpus/manifest.tsv" > "$dir/manifest.tsv"
  awk -F'\t' 'NR > 1 && $7 == "test"' "$corpus/manifest.tsv" | awk 'NR % 10 == 1' |
    while IFS="$(printf '\t')" read -r path rest; do
      name=$(echo "$path" | tr / _)
      name=${name%.*}.wav
      [ -f "$dir/audio/$name" ] || sox -D "$corpus/$path" -e float -b 32 "$dir/audio/$name" vol "-${db}dB"
      printf 'audio/%s\t%s\n' "$name" "$rest" >> "$dir/manifest.tsv"
    done
  "$trainer" eval --model "$model" --data "$dir/manifest.tsv" --modes offline --tasks asr,lid --ctc-beam 32 \
    --lm "$lm" --lid-seconds 4 > "$out/minus$db.txt" 2>&1
  printf '%s dB: %s\n' "-$db" "$(grep -E '^mean|LID accuracy' "$out/minus$db.txt" | tr -s ' ' | tr '\n' ' ')"
done
