#!/bin/sh
# Session 45 (not kept): corpus-ko and corpus-yue, built by make-corpus.sh (EXTRA_LANGS=ko,yue),
# then session 45's bundled model fine-tuned 1500 steps with them (1.5 each) beside ./corpus, corpus-en and
# corpus-fr (1 each; 40 minutes), its LMs, and its scores (eval-langs.sh, evals.sh: 40 minutes)
#   sh models/results/session45/koyue/koyue.sh DIR     (after models/make-corpus.sh and models/make-lms.sh)
set -eu
dir=$1
mkdir -p "$dir/langs"
T=build/trainer/mslam-trainer
# (ST_LANGS=: ./corpus-st is not needed here; ./corpus is resumed as built, in seconds)
ST_LANGS='' EXTRA_LANGS=ko,yue models/make-corpus.sh
out=$dir/ft-koyue
"$T" train --config models/default-train.conf --valid corpus/manifest.tsv --out "$out" \
    --threads 2 --init models/default.safetensors --data corpus/manifest.tsv --data corpus-en/manifest.tsv \
    --data corpus-fr/manifest.tsv --data corpus-ko/manifest.tsv --data corpus-yue/manifest.tsv \
    --data-weight 1 --data-weight 1 --data-weight 1 --data-weight 1.5 --data-weight 1.5 \
    --task multi --no-specaug --eq-prob 0.5 --warp-prob 0.5 --decoder-layers 4 --batch-size 8 \
    --st-weight 0 --text-data lms/text-st/text.tsv --text-max-chars 120 --text-batch 64 \
    --valid-every 0 --steps 1500 --lr 1e-4 --warmup 50 --seed 16 --save-every 250 \
    --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
"$T" export --checkpoint "$out/model.safetensors" --out "$out/f16.safetensors" --dtype f16
models/make-lms.sh "$out/f16.safetensors" corpus "$dir/lms-koyue"
sh models/results/session45/eval-langs.sh "$out/f16.safetensors" "$dir/lms-koyue/lm.safetensors" "$dir/langs/koyue" ko yue
sh models/results/session45/eval-langs.sh models/default.safetensors lms/lm.safetensors "$dir/langs/base" ko yue
LMS="$dir/lms-koyue" sh models/results/session29/evals.sh "$out/f16.safetensors" "$dir/evals-koyue"
