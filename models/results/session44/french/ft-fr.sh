#!/bin/sh
# Session 44 (not kept): the session-44 bundled model fine-tuned with corpus-fr (4000 French train
# utterances, built as corpus-en with --langs fr; weight 1.5) beside ./corpus and corpus-en (0.5):
#   sh models/results/session44/french/ft-fr.sh MODEL OUT     (37 minutes on 2 cores)
set -eu
init=$1 out=$2
T=build/trainer/mslam-trainer
"$T" train --config models/default-train.conf --valid corpus/manifest.tsv --out "$out" \
    --threads 2 --init "$init" --data corpus/manifest.tsv --data corpus-en/manifest.tsv --data corpus-fr/manifest.tsv \
    --data-weight 1 --data-weight 0.5 --data-weight 1.5 \
    --task multi --no-specaug --eq-prob 0.5 --warp-prob 0.5 --decoder-layers 4 --batch-size 8 \
    --st-weight 0 --text-data lms/text-st/text.tsv --text-max-chars 120 --text-batch 64 \
    --valid-every 0 --steps 1500 --lr 1e-4 --warmup 50 --seed 15 --save-every 250 \
    --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
"$T" export --checkpoint "$out/model.safetensors" --out "$out/f16.safetensors" --dtype f16
