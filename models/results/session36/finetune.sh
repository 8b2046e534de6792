#!/bin/sh
# Session 36: session 35's fine-tune (session 29's recipe, 1000 steps, seed 35) with its extra
# utterances made by the corpus builder's other voices instead (corpus.sh: the train split of en it
# cs fi spoken by nine Festival and flite voices, augmented as ./corpus is, 1594 utterances),
# weighted 2 as session 35's were. Scored against session 35's control (the same run with its
# extra utterances' weight 0) on the same held-out voices.
#   sh models/results/session36/finetune.sh [OUT]          (about 21 minutes on 2 cores)
set -eu
out=${1:-s36/ft}
sh models/results/session29/finetune.sh "$out" s36/mixed/train-other.tsv --data-weight 1 --data-weight 2 \
  --steps 1000 --seed 35
build/trainer/mslam-trainer export --checkpoint "$out/model.safetensors" --out "$out/default-f16.safetensors" --dtype f16
