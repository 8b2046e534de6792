#!/bin/sh
# Session 30: session 29's fine-tune of the bundled model with the extra en/de/fr utterances
# weighted (`--data-weight 1 --data-weight 0.25`: each epoch takes every row of ./corpus and a
# quarter of the extra ones, the next quarter the next epoch), at session 29's peak rate (OUT
# s30/ft) or at a quarter of it (LR=5e-5, OUT s30/ft-lr5e-5); then exported to F16 and scored as
# the bundled model was (session 29's evals.sh, about 25 minutes).
#   sh models/results/session29/extra-corpus.sh s30/corpus-edf      # 2 minutes
#   sh models/results/session30/finetune.sh [OUT] [LR]                # 30 minutes on 2 cores, then the scores
set -eu
out=${1:-s30/ft} lr=${2:-2e-4}
sh models/results/session29/finetune.sh "$out" s30/corpus-edf/train-clean.tsv --data-weight 1 --data-weight 0.25 \
  --lr "$lr"
build/trainer/mslam-trainer export --checkpoint "$out/model.safetensors" --out "$out/default-f16.safetensors" --dtype f16
sh models/results/session29/evals.sh "$out/default-f16.safetensors" "$out-eval"
python3 models/results/session30/compare.py models/results/session29/eval-bundled/eval-test.json "$out-eval/eval-test.json"
