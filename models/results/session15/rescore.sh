#!/bin/sh
# Session 15: session 14's two-hour model (IN, default s14/two-hours-8000: `STAGE3=0
# models/train-default.sh` on the corpus built from the installed catalogs) scored again on the
# corpus that models/make-corpus.sh now builds from the [corpus] packages alone (./corpus; only
# yue's utterances differ) with LMs and memory that models/make-lms.sh builds from those catalogs
# (OUT, default s15/two-hours-rescored), as train-default.sh and session 14's evals.sh score it.
#   sh models/results/session15/rescore.sh [IN [OUT]]       (about 20 minutes on 2 cores)
set -eu
in=${1:-s14/two-hours-8000}
out=${2:-s15/two-hours-rescored}
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
mkdir -p "$out"
model=$out/model.safetensors
cp "$in/model.safetensors" "$model"
models/make-lms.sh "$model" corpus "$out"
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' corpus/manifest.tsv > "$out/manifest-st-langs.tsv"
$T eval --model "$model" --data corpus/manifest.tsv --split test --threads 2 --lid-seconds 4 --ctc-beam 32 \
  --lm "$out/lm.safetensors" --json "$out/eval-test.json" > "$out/eval-test.txt"
$T eval --model "$model" --data corpus/manifest.tsv --split dev --threads 2 --lid-seconds 4 --ctc-beam 32 \
  --lm "$out/lm.safetensors" --tasks asr,lid --json "$out/eval-dev.json" > "$out/eval-dev.txt"
for langs in 5 49; do
  data=corpus/manifest.tsv
  [ $langs = 5 ] && data=$out/manifest-st-langs.tsv
  $T eval --model "$model" --data "$data" --audio-dir corpus --split test --threads 2 --tasks st --modes offline \
    --ctc-beam 32 --lm "$out/lm.safetensors" --translation-lm "$out/translation-lm.safetensors" \
    --translation-memory "$out/translation-memory.safetensors" --json "$out/eval-test-st$langs-memory.json" \
    > "$out/eval-test-st$langs-memory.txt"
done
python3 models/results/session4/best10.py "$out/eval-dev.json" "$out/eval-test.json"
