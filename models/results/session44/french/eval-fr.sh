#!/bin/sh
# Session 44: French and English (./corpus and corpus-fr, corpus-en test splits) and the whole test
# split of MODEL with LM (make-lms.sh for its vocabulary), offline, beam 32 + LM, LID on 4 s.
#   sh models/results/session44/french/eval-fr.sh MODEL OUT LM
set -eu
model=$1 out=$2 LM=$3
T=build/trainer/mslam-trainer
mkdir -p "$out"
for l in fr en; do
  awk -F '\t' -v l=$l 'NR == 1 || $2 == l' corpus/manifest.tsv > "$out/manifest-$l.tsv"
  "$T" eval --model "$model" --data "$out/manifest-$l.tsv" --audio-dir corpus --split test --threads 2 --tasks asr,lid \
    --modes offline --lid-seconds 4 --ctc-beam 32 --lm "$LM" > "$out/$l-corpus.txt"
  "$T" eval --model "$model" --data corpus-$l/manifest.tsv --split test --threads 2 --tasks asr,lid \
    --modes offline --lid-seconds 4 --ctc-beam 32 --lm "$LM" > "$out/$l-corpus-$l.txt"
done
"$T" eval --model "$model" --data corpus/manifest.tsv --split test --threads 2 --lid-seconds 4 \
  --ctc-beam 32 --lm "$LM" --json "$out/eval-test.json" > "$out/eval-test.txt"
grep -h -E "^(fr|en) |^mean|LID acc" "$out"/*.txt
