#!/bin/sh
# Session 29: scores MODEL on ./corpus's dev and test splits as the bundled model's were (session 11-13:
# CTC prefix beam 32 with the corpus LM, LID on the first 4 s; translation from es it pt ca ro through
# the cascade with the translation LM, and through the translation memory), into OUT.
#   [LMS=lms] sh models/results/session29/evals.sh MODEL OUT     (about 25 minutes on 2 cores)
# LMS: the folder of models/make-lms.sh's LMs and memory for MODEL's vocabulary (session 42's
# model has its own: models/make-lms.sh MODEL corpus DIR).
set -eu
model=$1 out=$2
lms=${LMS:-lms}
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
mkdir -p "$out"
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' corpus/manifest.tsv > "$out/manifest-st-langs.tsv"
$T eval --model "$model" --data corpus/manifest.tsv --split test --threads 2 --lid-seconds 4 \
  --ctc-beam 32 --lm "$lms"/lm.safetensors --json "$out/eval-test.json" > "$out/eval-test.txt"
$T eval --model "$model" --data corpus/manifest.tsv --split dev --threads 2 --lid-seconds 4 \
  --ctc-beam 32 --lm "$lms"/lm.safetensors --tasks asr,lid --modes offline --json "$out/eval-dev.json" > "$out/eval-dev.txt"
$T eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir corpus --split test \
  --threads 2 --tasks st --modes offline --ctc-beam 32 --lm "$lms"/lm.safetensors \
  --translation-lm "$lms"/translation-lm.safetensors --json "$out/eval-test-st5-tlm.json" > "$out/eval-test-st5-tlm.txt"
$T eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir corpus --split test \
  --threads 2 --tasks st --modes offline --ctc-beam 32 --lm "$lms"/lm.safetensors \
  --translation-lm "$lms"/translation-lm.safetensors --translation-memory "$lms"/translation-memory.safetensors \
  --json "$out/eval-test-st5-memory.json" > "$out/eval-test-st5-memory.txt"
python3 models/results/session4/best10.py "$out/eval-dev.json" "$out/eval-test.json" > "$out/best10.txt"
