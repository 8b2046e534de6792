#!/bin/sh
# Session 44: English test CER and LID (offline, CTC prefix beam 32 + LM, LID on the first 4 s) of
# MODEL on ./corpus's 50 English test utterances and corpus-en's 500 (held-out voices and
# sentences), OUT-corpus.txt and OUT-corpus-en.txt (about 3 minutes on 2 cores).
#   sh models/results/session44/eval-en.sh MODEL LM OUT
set -eu
model=$1 lm=$2 out=$3
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
en=$(mktemp)
trap 'rm -f "$en"' EXIT
awk -F '\t' 'NR == 1 || $2 == "en"' corpus/manifest.tsv > "$en"
for d in "$en:corpus" corpus-en/manifest.tsv:corpus-en; do
  "$T" eval --model "$model" --data "${d%%:*}" --audio-dir "${d#*:}" --split test --threads 2 --tasks asr,lid \
    --modes offline --lid-seconds 4 --ctc-beam 32 --lm "$lm" > "$out-${d#*:}.txt"
  grep -E "^en " "$out-${d#*:}.txt"
done
