#!/bin/sh
# Session 43: the fine-tune with noise alone (stage 12 of BUNDLED=1 models/train-default.sh) and
# its control, each 400 steps from session 42's bundled model with seed 13, the control without
# --noise-prob (about 10 minutes each on 2 cores, after models/make-corpus.sh and make-lms.sh).
#   git show 5d838ad:models/default.safetensors > S42.safetensors     # session 42's model
#   sh models/results/session43/noise-ft/ft.sh S42.safetensors OUT    # OUT/noise, OUT/control
set -eu
init=$1 out=$2
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
run() { # DIR OPTIONS...
  dir=$1
  shift
  "$T" train --config models/default-train.conf --valid corpus/manifest.tsv --out "$dir" \
    --threads 2 --init "$init" --data corpus/manifest.tsv --audio-dir corpus \
    --task multi --no-specaug --eq-prob 0.5 --warp-prob 0.5 --decoder-layers 4 --batch-size 8 \
    --st-weight 0 --text-data lms/text-st/text.tsv --text-max-chars 120 --text-batch 64 \
    --valid-every 0 --steps 400 --lr 1e-4 --warmup 50 --seed 13 --save-every 200 \
    --gain-prob 0.5 --gain-db 40 "$@"
  "$T" export --checkpoint "$dir/model.safetensors" --out "$dir/f16.safetensors" --dtype f16
}
run "$out/noise" --noise-prob 0.15
run "$out/control"
