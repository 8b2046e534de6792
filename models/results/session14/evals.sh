#!/bin/sh
# Session 14: what models/train-default.sh does not score itself, for the two-hour model OUT
# (default s14/two-hours-8000, from `STAGE3=0 STEPS=8000 models/train-default.sh corpus OUT`):
# the dev split (which chooses the 10 languages of the CER figure: best10.py), and translation
# from es it pt ca ro without the memory (the decoder from the speech), then the figures.
#   sh models/results/session14/evals.sh [OUT]      (about 6 minutes on 2 cores)
set -eu
out=${1:-s14/two-hours-8000}
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
$T eval --model "$out/model.safetensors" --data corpus/manifest.tsv --split dev --threads 2 --lid-seconds 4 \
  --ctc-beam 32 --lm "$out/lm.safetensors" --tasks asr,lid --json "$out/eval-dev.json" > "$out/eval-dev.txt"
$T eval --model "$out/model.safetensors" --data "$out/manifest-st-langs.tsv" --audio-dir corpus --split test \
  --threads 2 --tasks st --modes offline --ctc-beam 32 --lm "$out/lm.safetensors" \
  --translation-lm "$out/translation-lm.safetensors" --json "$out/eval-test-st5.json" > "$out/eval-test-st5.txt"
python3 models/results/session4/best10.py "$out/eval-dev.json" "$out/eval-test.json"
