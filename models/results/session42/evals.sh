#!/bin/sh
# Session 42: session 29's evals.sh (test and dev splits, translation from es it pt ca ro through
# the cascade and through the memory) with the LMs and memory of a directory, for a model whose
# vocabulary is not the bundled model's (models/make-lms.sh MODEL corpus LMS builds them).
#   sh models/results/session42/evals.sh TRAINER MODEL LMS OUT      (about 15 minutes on 2 cores)
set -eu
T=$1 model=$2 lms=$3 out=$4
mkdir -p "$out"
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' corpus/manifest.tsv > "$out/manifest-st-langs.tsv"
$T eval --model "$model" --data corpus/manifest.tsv --split test --threads 2 --lid-seconds 4 \
  --ctc-beam 32 --lm "$lms/lm.safetensors" --json "$out/eval-test.json" > "$out/eval-test.txt"
$T eval --model "$model" --data corpus/manifest.tsv --split dev --threads 2 --lid-seconds 4 \
  --ctc-beam 32 --lm "$lms/lm.safetensors" --tasks asr,lid --modes offline --json "$out/eval-dev.json" > "$out/eval-dev.txt"
$T eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir corpus --split test \
  --threads 2 --tasks st --modes offline --ctc-beam 32 --lm "$lms/lm.safetensors" \
  --translation-lm "$lms/translation-lm.safetensors" --json "$out/eval-test-st5-tlm.json" > "$out/eval-test-st5-tlm.txt"
$T eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir corpus --split test \
  --threads 2 --tasks st --modes offline --ctc-beam 32 --lm "$lms/lm.safetensors" \
  --translation-lm "$lms/translation-lm.safetensors" --translation-memory "$lms/translation-memory.safetensors" \
  --json "$out/eval-test-st5-memory.json" > "$out/eval-test-st5-memory.txt"
python3 models/results/session4/best10.py "$out/eval-dev.json" "$out/eval-test.json" > "$out/best10.txt"
