#!/bin/sh
# Session 44: stage 13 of BUNDLED=1 models/train-default.sh, run alone: session 43's bundled model
# fine-tuned 1500 steps with models/make-corpus.sh's English corpus (corpus-en: 4000 train
# utterances, each taken 1.5 times an epoch, beside ./corpus's 20,000: a quarter of the
# utterances English) (about 40 minutes on 2 cores, after models/make-corpus.sh and make-lms.sh).
#   git show 86cad13:models/default.safetensors > S43.safetensors     # session 43's model
#   sh models/results/session44/ft-en.sh S43.safetensors OUT           # OUT/f16.safetensors
set -eu
init=$1 out=$2
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
"$T" train --config models/default-train.conf --valid corpus/manifest.tsv --out "$out" \
  --threads 2 --init "$init" --data corpus/manifest.tsv --data corpus-en/manifest.tsv --data-weight 1 --data-weight 1.5 \
  --task multi --no-specaug --eq-prob 0.5 --warp-prob 0.5 --decoder-layers 4 --batch-size 8 \
  --st-weight 0 --text-data lms/text-st/text.tsv --text-max-chars 120 --text-batch 64 \
  --valid-every 0 --steps 1500 --lr 1e-4 --warmup 50 --seed 14 --save-every 250 \
  --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
"$T" export --checkpoint "$out/model.safetensors" --out "$out/f16.safetensors" --dtype f16
