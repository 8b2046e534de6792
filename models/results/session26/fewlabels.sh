#!/bin/sh
# Session 26: session 25's fine-tuning protocol (session25/tune.sh: the default model's
# architecture, CTC on the first LABELS transcribed train utterances of each of en de fr es it pt,
# 600 steps of 8, greedy dev CER of those languages) at 20 utterances a language, from session 25's
# encoders (OUT25: its pretrain.sh's folder, default s25). Two fine-tunings at a time, a thread
# each, ~6 minutes a pair on the 2 cores. Run from the repository root after models/make-corpus.sh:
#   MSLAM_BUILD_DIR=build-dev sh models/results/session26/fewlabels.sh [OUT [OUT25]]
set -eu
out=${1:-s26} pt=${2:-s25}
tune() { LABELS=20 sh "$(dirname "$0")/../session25/tune.sh" "$out" "$@"; }
tune - scratch-20 # --seed 1, the default
tune - scratch-20-seed2 --seed 2
for seed in 1 2; do
  # BEST-RQ's subsampler and speech layers under fresh shared layers and text embedding
  tune "$pt/rq/model.safetensors" "rq4000-reinit-20-seed$seed" --vocab data --reinit shared_layers. --reinit text. \
    --seed "$seed"
done
# BEST-RQ's encoder with only its top three shared layers fresh
for seed in 1 2; do
  tune "$pt/rq/model.safetensors" "rq4000-reinit-top3-20-seed$seed" --vocab data --reinit shared_layers.3. \
    --reinit shared_layers.4. --reinit shared_layers.5. --reinit text. --seed "$seed"
done
# one seed each: the whole BEST-RQ encoder, the random encoder (step 0), and session 25's
# splice.py model (its speech layers under the random model's shared layers)
tune "$pt/rq/model.safetensors" rq4000-20 --vocab data
tune "$pt/random/model.safetensors" random-20 --vocab data
tune "$pt/rq4000-speech-only.safetensors" rq4000-speech-only-20 --vocab data
tune "$pt/rq4000-speech-only.safetensors" rq4000-speech-only-20-seed2 --vocab data --seed 2
# BEST-RQ of 6000 steps (README: the pre-training command, into $out/rq6000), its speech layers
if [ -f "$out/rq6000/model.safetensors" ]; then
  for seed in 1 2; do
    tune "$out/rq6000/model.safetensors" "rq6000-reinit-20-seed$seed" --vocab data --reinit shared_layers. \
      --reinit text. --seed "$seed"
  done
fi
