#!/bin/sh
# Session 35: the bundled model fine-tuned as session 29's (its stage 10's recipe: joint CTC, LID and
# text pairs, the whole model) on ./corpus plus 1500 utterances of other synthesizers than espeak-ng
# (other-synth.sh on the train split: 300 sentences by each of five Festival and flite voices of en,
# it, cs and fi), weighted 2 (each epoch takes them twice: 13 % of the utterances), 1000 steps.
#   (s35/synth-train.tsv: other-synth.sh run on the train split, see README.md)
#   sh models/results/session35/finetune.sh [OUT]          (about 45 minutes on 2 cores)
set -eu
out=${1:-s35/ft}
sh models/results/session29/finetune.sh "$out" s35/synth-train.tsv --data-weight 1 --data-weight 2 \
  --steps 1000 --seed 35
build/trainer/mslam-trainer export --checkpoint "$out/model.safetensors" --out "$out/default-f16.safetensors" --dtype f16
