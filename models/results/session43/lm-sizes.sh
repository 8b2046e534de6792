#!/bin/sh
# Session 43: how small a transcripts' LM could be bundled with the default model, and what it
# gains. LMs of the bundled model's vocabulary from make-lms.sh's text (./corpus's and the text
# pairs' of lms/text-st, the test split held out) at orders 3-6 and heavier pruning (order 3 with every trigram pruned: a bigram LM), their file
# sizes, and the CER of every 5th test utterance (500; offline, CTC prefix beam 32) with each,
# against make-lms.sh's own LM (order 6, --prune 2).
#   sh models/results/session43/lm-sizes.sh OUT     (about 3 minutes; after models/make-lms.sh)
set -eu
out=${1:?usage: lm-sizes.sh OUT}
root=$(cd "$(dirname "$0")/../../.." && pwd)
trainer=${MSLAM_BUILD_DIR:-$root/build}/trainer/mslam-trainer
model=$root/models/default.safetensors corpus=$root/corpus
mkdir -p "$out"
head -1 "$corpus/manifest.tsv" > "$out/sub.tsv"
awk -F'\t' 'NR > 1 && $7 == "test"' "$corpus/manifest.tsv" | awk 'NR % 5 == 1' >> "$out/sub.tsv"
langs=$("$trainer" info "$model" | sed -n 's/^  languages    \(.*\) ([0-9]*)$/\1/p' | tr ' ' ,)
score() { # NAME LM: the mean CER line, greedy then beam + LM
  "$trainer" eval --model "$model" --data "$out/sub.tsv" --audio-dir "$corpus" --split test --modes offline \
    --tasks asr --ctc-beam 32 --lm "$2" --threads 2 > "$out/eval-$1.txt" 2>&1
  printf '%-12s %10s bytes  %s\n' "$1" "$(wc -c < "$2")" "$(grep '^mean' "$out/eval-$1.txt")"
}
for setting in "3 1000000" "3 2" "4 20" "5 50" "6 100"; do
  set -- $setting
  "$trainer" lm --model "$model" --text "$corpus/text.tsv" --text "$corpus/manifest.tsv" \
    --text "$root/lms/text-st/text.tsv" --langs "$langs" --holdout "$corpus/manifest.tsv" --order "$1" \
    --prune "$2" --out "$out/o$1p$2.safetensors" > /dev/null
  score "o$1p$2" "$out/o$1p$2.safetensors"
done
score make-lms "$root/lms/lm.safetensors"
