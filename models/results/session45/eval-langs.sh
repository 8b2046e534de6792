#!/bin/sh
# Session 45: test CER and LID of MODEL with LM (offline, CTC prefix beam 32 + LM, LID on the first
# 4 s) for each LANG on ./corpus's 50 test utterances of it and on corpus-LANG's 500 (held-out
# voices and sentences): OUT-LANG-corpus.txt and OUT-LANG-corpus-LANG.txt (about 3 minutes a
# language on 2 cores). Session 44's eval-en.sh for any of make-corpus.sh's EXTRA_LANGS.
#   sh models/results/session45/eval-langs.sh MODEL LM OUT LANG...
set -eu
model=$1 lm=$2 out=$3
shift 3
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
one=$(mktemp)
trap 'rm -f "$one"' EXIT
for lang in "$@"; do
  awk -F '\t' -v lang="$lang" 'NR == 1 || $2 == lang' corpus/manifest.tsv > "$one"
  for d in "$one:corpus" "corpus-$lang/manifest.tsv:corpus-$lang"; do
    "$T" eval --model "$model" --data "${d%%:*}" --audio-dir "${d#*:}" --split test --threads 2 --tasks asr,lid \
      --modes offline --lid-seconds 4 --ctc-beam 32 --lm "$lm" > "$out-$lang-${d#*:}.txt"
    printf '%s: ' "${d#*:}"
    grep -E "^$lang |^LID accuracy" "$out-$lang-${d#*:}.txt" | tr "\n" " "; echo
  done
done
