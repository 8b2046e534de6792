#!/bin/sh
# Does translation from text pairs (--text-data) teach the decoder to translate speech?
# Two short continuations of a trained model, the same in everything but the text pairs:
#   A: speech only (CTC + LID + translation), B: the same plus --text-data CORPUS/text.tsv,
# then both scored on the test split (translation only, offline).
#   models/experiments/text-pairs.sh MODEL [CORPUS [OUT]]
#   STEPS=600 (each run), ITEMS=500 (test utterances scored), THREADS=2
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
model=$1
corpus=${2:-corpus}
out=${3:-exp-text-pairs}
steps=${STEPS:-600}
items=${ITEMS:-500}
threads=${THREADS:-2}
trainer=${MSLAM_BUILD_DIR:-$root/build}/trainer/mslam-trainer
mkdir -p "$out"
for run in speech text; do
  [ -f "$out/$run/model.safetensors" ] && continue
  more=""
  [ "$run" = text ] && more="--text-data $corpus/text.tsv"
  # shellcheck disable=SC2086 # $more is a list of words
  "$trainer" train --config "$root/models/default-train.conf" --init "$model" --data "$corpus/manifest.tsv" \
    --out "$out/$run" --threads "$threads" --steps "$steps" --lr 5e-4 --warmup 50 --schedule constant \
    --no-specaug --eq-prob 0.5 --warp-prob 0.5 --valid-every 0 --save-every "$steps" $more
done
for run in speech text; do
  "$trainer" eval --model "$out/$run/model.safetensors" --data "$corpus/manifest.tsv" --split test --modes offline \
    --tasks st --max-items "$items" --threads "$threads" --hyps "$out/$run/hyps.tsv" | tee "$out/$run/eval-st.txt"
done
