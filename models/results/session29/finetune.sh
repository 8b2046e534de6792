#!/bin/sh
# Session 29: the bundled model (session 11's) fine-tuned as its stage 10 was (joint: 8 utterances
# a step, CTC and LID with the equaliser and warp, and 64 text pairs through the text path; the
# whole model), on ./corpus and 3000 more train utterances of each of en de fr
# (extra-corpus.sh's train-clean.tsv), at the same peak rate, 1500 steps; the vocabulary is kept
# (--min-char-count leaves out the characters the bundled model lacks, so its LMs still fit).
#   sh models/results/session29/finetune.sh [OUT] [EXTRA] [more train options]    (about 65 minutes on 2 cores)
# (session 30 passes --data-weight 1 --data-weight 0.25 as more options)
set -eu
out=${1:-s29/ft}
extra=${2:-s29/corpus-edf/train-clean.tsv}
[ $# -ge 2 ] && shift 2 || set --
resume=""
ls "$out"/ckpt-*.safetensors >/dev/null 2>&1 && resume="--resume"
# shellcheck disable=SC2086 # $resume is empty or one word
exec build/trainer/mslam-trainer train --config models/default-train.conf --valid corpus/manifest.tsv \
  --out "$out" --threads 2 $resume --init models/default.safetensors \
  --data corpus/manifest.tsv --data "$extra" \
  --task multi --no-specaug --eq-prob 0.5 --warp-prob 0.5 --decoder-layers 4 --batch-size 8 --st-weight 0 \
  --text-data lms/text-st/text.tsv --text-max-chars 120 --text-batch 64 --valid-every 0 \
  --steps 1500 --lr 2e-4 --warmup 50 --seed 29 --save-every 250 --min-char-count 1000000000 "$@"
