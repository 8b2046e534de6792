#!/bin/sh
# session 17's seed-2 run stopped before its translation scores: the same evals as train-default.sh's tail
set -eu
out=s17/eq12-seed2
T=build/trainer/mslam-trainer
for langs in 5 49; do
  data=corpus/manifest.tsv
  [ $langs = 5 ] && data=$out/manifest-st-langs.tsv
  $T eval --model "$out/model.safetensors" --data "$data" --audio-dir corpus --split test --threads 2 \
    --tasks st --modes offline --ctc-beam 32 --lm "$out/lm.safetensors" \
    --translation-lm "$out/translation-lm.safetensors" \
    --translation-memory "$out/translation-memory.safetensors" --json "$out/eval-test-st$langs-memory.json" \
    > "$out/eval-test-st$langs-memory.txt"
done
$T eval --model "$out/model.safetensors" --data "$out/manifest-st-langs.tsv" --audio-dir corpus --split test \
  --threads 2 --tasks st --modes offline --ctc-beam 32 --lm "$out/lm.safetensors" \
  --translation-lm "$out/translation-lm.safetensors" --json "$out/eval-test-st5.json" > "$out/eval-test-st5.txt"
echo done
