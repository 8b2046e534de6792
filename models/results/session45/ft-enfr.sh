#!/bin/sh
# Session 45: the session-44 bundled model (stage 13) fine-tuned with corpus-en and corpus-fr
# (4000 train utterances each, weight 1.5 each) beside ./corpus: stage 14 of BUNDLED=1
# models/train-default.sh, run by hand as session 44's ft-en.sh (36 minutes on 2 cores)
#   sh models/results/session45/ft-enfr.sh MODEL OUT
set -eu
init=$1 out=$2
T=build/trainer/mslam-trainer
"$T" train --config models/default-train.conf --valid corpus/manifest.tsv --out "$out" \
    --threads 2 --init "$init" --data corpus/manifest.tsv --data corpus-en/manifest.tsv --data corpus-fr/manifest.tsv \
    --data-weight 1 --data-weight 1.5 --data-weight 1.5 \
    --task multi --no-specaug --eq-prob 0.5 --warp-prob 0.5 --decoder-layers 4 --batch-size 8 \
    --st-weight 0 --text-data lms/text-st/text.tsv --text-max-chars 120 --text-batch 64 \
    --valid-every 0 --steps 1500 --lr 1e-4 --warmup 50 --seed 15 --save-every 250 \
    --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
"$T" export --checkpoint "$out/model.safetensors" --out "$out/f16.safetensors" --dtype f16
